"""The mirrored working dir and its sync point, without an engine: what crosses, what never does.

The "kernel" here is this process writing into the private dir (as root it writes as root; the
mirror reads those files the same way, the checks are on types, links and sizes).
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from deepthinker_nb.config.docker import MountError
from deepthinker_nb.kernel.docker import kernel_sync, mirror
from deepthinker_nb.kernel.docker.mirror import WorkdirMirror
from deepthinker_nb.kernel.docker.syncpoint import SyncPoint, install_extension

KERNEL_UID = 1000 if os.geteuid() == 0 else os.getuid()
KERNEL_GID = 1000 if os.geteuid() == 0 else os.getgid()


@pytest.fixture
def user(tmp_path: Path) -> Path:
    work = tmp_path / "user"
    (work / "sub").mkdir(parents=True)
    (work / "input.csv").write_text("a\n1\n")
    (work / "sub" / "notes.txt").write_text("n")
    os.chmod(work / "input.csv", 0o600)
    return work


@pytest.fixture
def mirrored(user: Path):
    m = WorkdirMirror.create(str(user), KERNEL_UID, KERNEL_GID, disk_limit=1024**2)
    yield m
    m.remove()
    assert not m.top.exists()


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_files_come_in_owned_by_the_kernel_and_results_go_out(user, mirrored):
    mine = mirrored.private
    assert listing(mine) == {"input.csv", "sub", "sub/notes.txt"}
    for path in (mine / "input.csv", mine / "sub"):
        assert (path.stat().st_uid, path.stat().st_gid) == (KERNEL_UID, KERNEL_GID)
    (mine / "result.csv").write_text("y\n1\n")
    (mine / "out" / "deep").mkdir(parents=True)
    (mine / "out" / "deep" / "x.txt").write_text("x")
    mirrored.reconcile()
    assert (user / "result.csv").read_text() == "y\n1\n"
    assert (user / "out" / "deep" / "x.txt").read_text() == "x"
    assert (user / "result.csv").stat().st_uid == os.geteuid()


def test_deletions_cross_only_for_files_unchanged_on_the_other_side(user, mirrored):
    mine = mirrored.private
    (mine / "sub" / "notes.txt").unlink()
    (mine / "input.csv").unlink()
    (user / "input.csv").write_text("changed by the host meanwhile")
    mirrored.reconcile()
    assert not (user / "sub" / "notes.txt").exists()  # the kernel removed it
    assert (user / "input.csv").read_text() == "changed by the host meanwhile"
    assert (mine / "input.csv").read_text() == "changed by the host meanwhile"
    (user / "input.csv").unlink()  # now the host removes it
    mirrored.reconcile()
    assert not (mine / "input.csv").exists()


def test_a_replaced_file_keeps_its_owner_and_mode(user, mirrored):
    before = os.stat(user / "input.csv")
    (mirrored.private / "input.csv").write_text("a\n2\n")
    mirrored.reconcile()
    after = os.stat(user / "input.csv")
    assert (user / "input.csv").read_text() == "a\n2\n"
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid, before.st_gid, before.st_mode)


def test_links_fifos_and_setuid_never_reach_the_user(tmp_path, user, mirrored):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("host only")
    os.symlink(outside, user / "link")  # the user's own symlink: kept, never written through
    mirrored.reconcile()
    mine = mirrored.private
    assert not os.path.lexists(mine / "link")
    os.symlink(secret, mine / "leak.txt")
    os.mkfifo(mine / "pipe")
    (mine / "link").mkdir()
    (mine / "link" / "x.txt").write_text("through the link?")
    (mine / "tool").write_text("#!/bin/sh\n")
    os.chmod(mine / "tool", 0o6777)
    (mine / "hard.txt").write_text("h")
    os.link(mine / "hard.txt", mine / "hard2.txt")
    mirrored.reconcile()  # returns: the FIFO is never opened
    assert not os.path.lexists(user / "leak.txt") and not os.path.lexists(user / "pipe")
    assert os.listdir(outside) == [] and os.path.islink(user / "link")
    assert stat.S_IMODE(os.stat(user / "tool").st_mode) == 0o755
    assert not os.path.lexists(user / "hard.txt")  # a hard link may be a file elsewhere
    assert secret.read_text() == "host only"


def test_a_file_past_the_copy_limit_is_skipped_whole(user, mirrored):
    mine = mirrored.private
    (mine / "big.bin").write_bytes(b"x" * (mirrored.copy_out_limit + 1))
    (mine / "small.txt").write_text("fits")
    mirrored.reconcile()
    assert not (user / "big.bin").exists()
    assert (user / "small.txt").read_text() == "fits"
    assert not [p for p in user.rglob("*") if p.name.startswith(mirror.TMP_PREFIX)]


def test_a_working_dir_too_large_to_mirror_is_a_mount_error(user, monkeypatch):
    monkeypatch.setattr(mirror, "COPY_IN_LIMIT", 2)
    before = set(mirror.orphans.mirror_base().glob(f"{mirror.orphans.MIRROR_PREFIX}*"))
    with pytest.raises(MountError, match="cannot be mirrored") as info:
        WorkdirMirror.create(str(user), KERNEL_UID, KERNEL_GID, disk_limit=1024)
    assert "\n" not in str(info.value)
    assert set(mirror.orphans.mirror_base().glob(f"{mirror.orphans.MIRROR_PREFIX}*")) == before


def test_the_kernel_waits_until_the_host_has_reconciled(tmp_path, monkeypatch):
    done = threading.Event()

    def handler() -> None:
        threading.Event().wait(0.2)  # a reconcile that takes a while
        done.set()

    point = SyncPoint(tmp_path, handler).start()
    try:
        assert install_extension(tmp_path).read_text() == Path(kernel_sync.__file__).read_text()
        monkeypatch.setattr(kernel_sync, "_path", str(point.path))
        kernel_sync.request_sync(None)
        assert done.is_set()  # the reply came only after the handler finished
    finally:
        point.stop()
    assert not point.running
    kernel_sync.request_sync(None)  # nobody listening: returns at once, the cell goes on
