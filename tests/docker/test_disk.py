"""The disk budget: a cell writing past ``DockerConfig.disk_limit`` fails with the disk reason;
the RAM-backed dirs inside the container are size-limited tmpfs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.kernel.disk import disk_usage

pytestmark = pytest.mark.docker

MiB = 1024**2
WRITE_256M = """
chunk = b"x" * (1 << 20)
with open("big.bin", "wb") as f:
    for _ in range(256):
        f.write(chunk)
"""
WRITE_10M = """
import os
with open("{name}", "wb") as f:
    f.write(os.urandom(10 << 20))
"""


def working_dir(tmp_path: Path, owner: int) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    if os.geteuid() == 0:
        os.chown(work, owner, owner)
    return work


@pytest.mark.parametrize("owner", [0, 1234], ids=["mirrored", "direct"])
def test_a_cell_writing_past_the_disk_limit_fails_with_the_reason(docker_engine, tmp_path,
                                                                    owner):
    if owner == 0 and os.geteuid() != 0:
        pytest.skip("only a root host mirrors a working dir")
    work = working_dir(tmp_path, owner)
    config = DockerConfig(disk_limit="64m")
    with KernelSession(backend="docker", config=config, workdir=work, scan=False) as session:
        fine = session.execute(textwrap.dedent(WRITE_10M.format(name="ten.bin")), timeout=60)
        assert fine.status == "ok", (fine.error, fine.death_reason)

        result = session.execute(textwrap.dedent(WRITE_256M), timeout=120)
        assert result.status in ("died", "error"), result.status
        message = f"{result.death_reason} {result.error}"
        assert "disk limit (64m) reached" in message, message
        # what the cell wanted (256 MiB) did not land; the budget's polling lets some through
        assert disk_usage([work]) < 64 * MiB + 128 * MiB

        again = session.execute(textwrap.dedent(
            "import os\nos.remove('big.bin') if os.path.exists('big.bin') else None\n"
            + WRITE_10M.format(name="again.bin")), timeout=60)
        assert again.status == "ok", (again.error, again.death_reason)

        # the restarted kernel is watched as closely as the first one
        second = session.execute(textwrap.dedent(WRITE_256M), timeout=120)
        assert "disk limit (64m) reached" in f"{second.death_reason}", second.status
        assert disk_usage([work]) < 64 * MiB + 128 * MiB
    assert (work / "ten.bin").stat().st_size == (work / "again.bin").stat().st_size == 10 * MiB


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root host mirrors a working dir")
def test_a_mirrored_cell_that_ends_past_the_budget_never_reports_ok(docker_engine, tmp_path):
    """posix_fallocate takes 256 MiB in microseconds, between two polls of the watcher; the
    mirror's end-of-cell checkpoint measures before the reply may leave."""
    work = working_dir(tmp_path, 0)
    config = DockerConfig(disk_limit="64m")
    with KernelSession(backend="docker", config=config, workdir=work, scan=False) as session:
        result = session.execute(textwrap.dedent("""
            import os
            for i in range(8):
                fd = os.open(f"fill-{i}.bin", os.O_WRONLY | os.O_CREAT, 0o600)
                os.posix_fallocate(fd, 0, 32 << 20)
                os.close(fd)
        """), timeout=60)
        assert result.status == "died", result.status
        assert result.death_reason == "disk limit (64m) reached"
    assert disk_usage([work]) < 65 * MiB  # the copy-out cap: the dir's content + the budget


def test_tmp_and_dev_shm_are_size_limited_tmpfs(docker_engine, tmp_path):
    config = DockerConfig(tmpfs_size="32m")
    with KernelSession(backend="docker", config=config, workdir=tmp_path, scan=False) as session:
        result = session.execute(textwrap.dedent("""
            import os
            for path in ("/tmp", "/dev/shm"):
                st = os.statvfs(path)
                kind = [l.split()[2] for l in open("/proc/self/mounts") if l.split()[1] == path]
                print(path, kind[0], st.f_blocks * st.f_frsize)
        """))
    assert result.status == "ok", result.error
    sizes = {line.split()[0]: (line.split()[1], int(line.split()[2]))
             for line in result.stdout.splitlines()}
    assert sizes == {"/tmp": ("tmpfs", 32 * MiB), "/dev/shm": ("tmpfs", 64 * MiB)}
