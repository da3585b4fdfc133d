"""The local sandbox: clean environment, own working dir, rlimits, output caps, no stragglers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from deepthinker_nb import AsyncKernelSession, KernelSession, LocalConfig, ResourceLimits
from deepthinker_nb.kernel.proctree import descendants


def test_host_secrets_are_not_visible_in_the_kernel(session):
    assert os.environ["MY_API_TOKEN"]
    result = session.execute("import os; sorted(os.environ)")
    assert "MY_API_TOKEN" not in result.result.text
    assert session.execute("import os; os.environ.get('MY_API_TOKEN')").result is None


def test_home_is_private_to_the_kernel_and_not_in_the_working_dir(session):
    """HOME lies in the sandbox's own /tmp: usable, gone with the kernel, nothing of it left
    in the working dir (a user's folder when the kernel works there)."""
    home = session.execute(
        "import os, pathlib; p = pathlib.Path(os.environ['HOME']); (p / 'probe').write_text('x');"
        " str(p)").result.text.strip("'")
    assert not home.startswith(str(session.workdir)) and home.startswith("/tmp/")
    assert not (session.workdir / ".home").exists()
    assert not Path(home, "probe").exists(), "the kernel's /tmp is not the host's"


def test_allowlisted_variables_pass_and_explicit_env_is_set(monkeypatch):
    monkeypatch.setenv("LC_TESTING", "kept")
    config = LocalConfig(env={"MY_SETTING": "on"})
    with KernelSession(scan=False, config=config) as s:
        value = s.execute("import os; (os.environ.get('LC_TESTING'), os.environ['MY_SETTING'])")
        assert value.result.text == "('kept', 'on')"


@pytest.mark.parametrize(
    ("field", "value", "rlimit"),
    [
        ("memory", "2g", "RLIMIT_AS"),
        ("cpu_seconds", 99, "RLIMIT_CPU"),
        ("open_files", 77, "RLIMIT_NOFILE"),
        ("processes", 55, "RLIMIT_NPROC"),
        ("file_size", "3m", "RLIMIT_FSIZE"),
    ],
)
def test_each_rlimit_is_applied_to_the_kernel(field, value, rlimit):
    limits = ResourceLimits(**{field: value})
    with KernelSession(scan=False, config=LocalConfig(limits=limits)) as s:
        soft = s.execute(f"import resource; resource.getrlimit(resource.{rlimit})[0]")
        assert int(soft.result.text) == getattr(limits, field)


def test_open_files_limit_is_enforced():
    config = LocalConfig(limits=ResourceLimits(open_files=64))
    with KernelSession(scan=False, config=config) as s:
        result = s.execute("handles = [open(f'f{i}', 'w') for i in range(200)]")
        assert result.status == "error" and result.error.ename == "OSError"
        assert "Too many open files" in result.error.evalue


def test_file_size_limit_is_enforced():
    config = LocalConfig(limits=ResourceLimits(file_size="1m"))
    with KernelSession(scan=False, config=config) as s:
        result = s.execute("open('big.bin', 'wb').write(b'0' * (2 * 1024 * 1024))")
        assert result.status == "error"
        assert "File too large" in result.error.evalue


def test_huge_print_is_capped_with_a_marker_and_host_memory_stays_flat():
    host = psutil.Process()
    with KernelSession(scan=False, output_limit=1024 * 1024) as s:
        s.execute("1")
        before = host.memory_info().rss
        result = s.execute("print('x' * 10**8)", timeout=120)
        grown = host.memory_info().rss - before
    assert result.status == "ok"
    assert result.stdout_truncated
    assert len(result.stdout) < 1024 * 1024 + 200
    assert result.dropped_bytes["stdout"] >= 10**8 - 1024 * 1024
    assert "more characters of stdout dropped" in result.stdout
    assert grown < 100 * 1024 * 1024, f"host grew by {grown / 1e6:.0f} MB"


def test_a_million_prints_are_capped(session):
    host = psutil.Process()
    before = host.memory_info().rss
    result = session.execute("for i in range(10**6): print(i)", timeout=180)
    assert result.status == "ok"
    assert result.stdout_truncated and result.stdout.startswith("0\n1\n2\n")
    assert host.memory_info().rss - before < 100 * 1024 * 1024


def test_children_and_setsid_grandchildren_die_with_the_kernel(procs):
    session = KernelSession(scan=False).start()
    code = textwrap.dedent(
        """
        import subprocess, os
        child = subprocess.Popen(['sleep', '300'])
        escaped = subprocess.Popen(['sleep', '301'], start_new_session=True)
        """
    )
    assert session.execute(code).success
    below = descendants(session.kernel_manager.provisioner.pid)
    pids = [p for p in below if psutil.Process(p).cmdline() in (["sleep", "300"],
                                                                 ["sleep", "301"])]
    assert len(pids) == 2
    assert all(psutil.pid_exists(p) for p in pids)
    session.shutdown()
    assert procs.wait_gone(pids) == []


def test_children_die_when_the_host_process_is_killed(tmp_path, procs):
    script = tmp_path / "host.py"
    pid_file = tmp_path / "pids"
    script.write_text(textwrap.dedent(f"""
        import time
        import psutil
        from deepthinker_nb import KernelSession
        s = KernelSession(scan=False).start()
        s.execute("import subprocess; p = subprocess.Popen(['sleep', '302'])")
        kernel = psutil.Process(s.kernel_pid)
        pids = [kernel.pid, *(c.pid for c in kernel.children(recursive=True))]
        open({str(pid_file)!r}, 'w').write(repr(pids))
        time.sleep(300)
    """))
    host = subprocess.Popen([sys.executable, str(script)])
    try:
        for _ in range(300):
            if pid_file.exists() and pid_file.read_text():
                break
            import time
            time.sleep(0.1)
        pids = list(eval(pid_file.read_text()))
    finally:
        host.kill()
        host.wait()
    assert procs.wait_gone(pids, timeout=15) == []


async def test_fifty_sessions_leave_no_kernel_or_child_behind(procs):
    before = {p.pid for p in procs.launcher_processes()}

    async def one(i: int) -> None:
        s = await AsyncKernelSession(scan=False).start()
        if i % 5 == 0:
            await s.execute("import subprocess; subprocess.Popen(['sleep', '303'])")
        if i % 7 == 0:  # killed under the session's feet
            os.kill(s.kernel_pid, 9)
        await s.shutdown()

    for batch in range(10):  # 5 at a time: the machine has 2 cores
        await asyncio.gather(*(one(batch * 5 + i) for i in range(5)))
    leftover = [p.pid for p in procs.launcher_processes() if p.pid not in before]
    assert procs.wait_gone(leftover) == []


def test_temp_dirs_of_a_killed_host_are_removed_by_the_next_start(tmp_path):
    from deepthinker_nb.kernel.local.orphans import orphaned_dirs, remove_orphaned_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"dtnb-session-{dead.pid}-abc"
    (stale / "sub").mkdir(parents=True)
    mine = tmp_path / f"dtnb-session-{os.getpid()}-abc"
    mine.mkdir()
    assert orphaned_dirs(tmp_path) == [stale]
    assert remove_orphaned_dirs(tmp_path) == [stale]
    assert not stale.exists() and mine.exists()


def _jail_probe(session, outside, data_file):
    return {
        "read_outside": session.execute(f"open({str(outside)!r}).read()").status,
        "write_outside": session.execute(f"open({str(outside) + '.new'!r}, 'w')").status,
        "read_data": session.execute(f"open({str(data_file)!r}).read()").status,
        "write_workdir": session.execute("open('result.txt', 'w').write('ok')").status,
        "libraries": session.execute("import pandas, sklearn, matplotlib; 1").status,
    }


def test_file_system_jail_confines_reads_and_writes(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("host secret")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    with KernelSession(scan=False, workdir=tmp_path / "work", data_dirs=[data]) as s:
        probe = _jail_probe(s, outside, data / "train.csv")
        write_data = s.execute(f"open({str(data / 'x.csv')!r}, 'w')").status
    # A write "outside" lands in the sandbox's private /tmp at most; the host never sees it.
    probe.pop("write_outside")
    assert probe == {"read_outside": "error", "read_data": "ok", "write_workdir": "ok",
                     "libraries": "ok"}
    assert write_data == "error", "data dirs are read-only"
    assert not (tmp_path / "secret.txt.new").exists()


def test_isolation_can_be_turned_off(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("host secret")
    config = LocalConfig(isolation="none")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "work") as s:
        assert s.execute(f"open({str(outside)!r}).read()").result.text == "'host secret'"


def test_landlock_isolation_starts_where_landlock_exists(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("host secret")
    config = LocalConfig(isolation="landlock")
    with KernelSession(scan=False, config=config, workdir=tmp_path / "work") as s:
        result = s.execute(f"open({str(outside)!r}).read()")
        assert result.status == "error" and result.error.ename == "PermissionError"
