"""Local kernels live in Linux namespaces of their own (bubblewrap), and say so when they cannot.

The escape probes of tests/security try to get out; these tests state what the sandbox is:
who the kernel is, what it sees, what it may reach, and what happens at its limits.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest

from deepthinker_nb import KernelSession, LocalConfig
from deepthinker_nb.kernel.disk import disk_usage
from deepthinker_nb.kernel.local import sandbox
from deepthinker_nb.kernel.local.sandbox import SandboxUnavailableError


@pytest.fixture
def no_bubblewrap(monkeypatch):
    sandbox.check_bubblewrap.cache_clear()
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    yield
    sandbox.check_bubblewrap.cache_clear()


def test_without_bubblewrap_a_kernel_does_not_start_and_the_error_says_how_to_fix(no_bubblewrap):
    session = KernelSession(scan=False)
    with pytest.raises(SandboxUnavailableError) as caught:
        session.start()
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install bubblewrap" in message
    assert "docker" in message and "isolation='landlock'" in message
    assert not session.started, "no silent fallback to an unsandboxed kernel"


def test_opting_out_to_landlock_is_explicit_and_logged(no_bubblewrap, caplog):
    with caplog.at_level(logging.WARNING, logger="deepthinker_nb.kernel"), \
            KernelSession(scan=False, config=LocalConfig(isolation="landlock")) as s:
        assert s.execute("1 + 1").result.text == "2"
    assert any("isolation='landlock'" in r.getMessage() for r in caplog.records)


def test_the_kernel_is_an_unprivileged_user_without_capabilities(session):
    who = session.execute(
        "import os\n"
        "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
        "(os.getuid(), os.geteuid(), os.getgid(), caps[0])"
    )
    assert who.result.text == "(1000, 1000, 1000, '0000000000000000')"


def test_the_kernel_sees_only_its_own_processes(session):
    listing = session.execute(
        "import os\n"
        "[open(f'/proc/{p}/cmdline','rb').read().split(b'\\0')[0].decode()\n"
        " for p in os.listdir('/proc') if p.isdigit()]"
    )
    seen = eval(listing.result.text)
    assert len(seen) <= 4, seen  # bubblewrap's init, the kernel, the cell's own helpers
    assert not any("pytest" in cmd for cmd in seen)


def test_the_host_tmp_and_home_are_not_there(session, tmp_path):
    marker = tmp_path / "host-file"
    marker.write_text("host")
    probe = session.execute(
        "import os\n"
        f"(os.path.exists({str(marker)!r}), os.path.exists('/root/.bashrc'),"
        " os.path.exists('/var/run'), os.path.exists('/etc/shadow'),"
        " 'pytest-of-root' in os.listdir('/tmp'))"
    )
    assert probe.result.text == "(False, False, False, False, False)"


def test_the_private_tmp_has_a_size(tmp_path):
    config = LocalConfig(tmpfs_size="16m")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "w") as s:
        result = s.execute("open('/tmp/big', 'wb').write(b'x' * 32 * 1024 * 1024)")
    assert result.status == "error" and "No space left" in result.error.evalue


@pytest.fixture
def listener(host_listener):
    return host_listener(socket.AF_INET, ("127.0.0.1", 0))


CONNECT = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); print('connected')\n"
    "except OSError as exc:\n"
    "    print('refused', exc)\n"
)


def test_no_network_by_default(session, listener):
    result = session.execute(CONNECT.format(port=listener.address[1]))
    assert result.stdout.startswith("refused")
    assert listener.hits == []


def test_trusted_code_may_keep_the_host_network(listener, tmp_path):
    config = LocalConfig(network_disabled=False)
    with KernelSession(scan=False, config=config, workdir=tmp_path / "w") as s:
        result = s.execute(CONNECT.format(port=listener.address[1]))
    assert result.stdout.startswith("connected")
    deadline = time.monotonic() + 5  # the server's thread accepts on its own time
    while not listener.hits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.hits


WRITE_MANY = (
    "import os\n"
    "chunk = os.urandom(1024 * 1024)\n"
    "for i in range({count}):\n"
    "    with open(f'part-{{i}}.bin', 'wb') as f:\n"
    "        f.write(chunk)\n"
    "print('wrote everything')\n"
)


def test_the_disk_budget_stops_a_kernel_that_writes_past_it(tmp_path):
    work = tmp_path / "w"
    config = LocalConfig(disk_limit="32m")
    with KernelSession(scan=False, config=config, workdir=work) as s:
        result = s.execute(WRITE_MANY.format(count=1024), timeout=120)
        assert result.status == "died"
        assert "disk limit (32m) reached" in result.death_reason
        assert "wrote everything" not in result.stdout
        assert disk_usage([work]) < 1024 * 1024**2, "the 1 GiB the cell wanted was not written"
        after = s.execute("1 + 1")
        assert after.result.text == "2", "a restarted kernel may go on, but not grow further"
        again = s.execute(WRITE_MANY.replace("part-", "more-").format(count=64), timeout=120)
        assert again.status == "died" and "disk limit" in again.death_reason


def test_one_file_cannot_be_larger_than_the_disk_budget(tmp_path):
    config = LocalConfig(disk_limit="8m")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "w") as s:
        result = s.execute("open('big.bin', 'wb').write(b'x' * 16 * 1024 * 1024)")
    assert (tmp_path / "w" / "big.bin").stat().st_size <= 8 * 1024 * 1024
    # The kernel refuses the write itself ("File too large"), unless the budget's watcher,
    # which also counts the kernel's own files, stopped it first.
    assert (result.status == "error" and "File too large" in result.error.evalue) or (
        result.status == "died" and "disk limit (8m) reached" in result.death_reason)


def test_the_budget_counts_what_the_kernel_adds_not_what_was_there(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "existing.bin").write_bytes(b"\1" * 24 * 1024 * 1024)
    config = LocalConfig(disk_limit="16m")
    with KernelSession(scan=False, config=config, workdir=work) as s:
        result = s.execute(WRITE_MANY.format(count=4))
    assert result.status == "ok" and "wrote everything" in result.stdout


def test_a_kernel_cannot_read_other_kernels_connection_files(session):
    with KernelSession(scan=False) as other:
        other_file = other.kernel_manager.connection_file
        probe = session.execute(f"open({other_file!r}).read()")
    assert probe.status == "error" and probe.error.ename in ("FileNotFoundError",
                                                              "PermissionError")


def test_fallocate_is_no_shortcut_past_the_disk_budget(tmp_path):
    """One fallocate call could reserve gigabytes between two measures: inside the sandbox it
    fails as on a file system without it, and posix_fallocate falls back to paced writes."""
    config = LocalConfig(disk_limit="64m")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "w") as s:
        raw = s.execute(
            "import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "fd = os.open('reserved', os.O_CREAT | os.O_WRONLY)\n"
            "(libc.fallocate(fd, 0, 0, 10 << 20), ctypes.get_errno())"
        )
        assert raw.result.text == "(-1, 95)"  # EOPNOTSUPP
        burst = s.execute(
            "import os\n"
            "for i in range(64):\n"
            "    fd = os.open(f'part-{i}', os.O_CREAT | os.O_WRONLY)\n"
            "    os.posix_fallocate(fd, 0, 48 << 20)\n"
            "    os.close(fd)\n"
            "print('reserved everything')\n", timeout=120)
    assert burst.status == "died" and "disk limit (64m) reached" in burst.death_reason
    assert disk_usage([tmp_path / "w"]) < 64 * 48 << 20


def test_what_the_kernel_writes_to_its_raw_stdout_counts_against_the_budget(tmp_path):
    """os.write(1, ...) bypasses ipykernel and lands in the host's kernel log."""
    config = LocalConfig(disk_limit="32m")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "w") as s:
        log = s.kernel_manager.provisioner._state_dir / "kernel.log"
        result = s.execute(
            "import os\n"
            "chunk = b'x' * (1 << 20)\n"
            "for _ in range(1024):\n"
            "    os.write(1, chunk)\n"
            "print('flooded')\n", timeout=120)
        assert log.stat().st_size <= 32 << 20
    assert "flooded" not in result.stdout
    # Stopped by the budget, or by the file-size cap on the log itself (the budget's size).
    assert (result.status == "died" and "disk limit (32m) reached" in result.death_reason) or (
        result.status == "error" and "File too large" in result.error.evalue)
