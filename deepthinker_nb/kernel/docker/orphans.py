"""Labels that tie a container to the process that owns it, and removal of orphans.

A container is an orphan when its owner process (pid + start time, on this host) is gone: the
host was SIGKILLed, crashed, or lost power. The first Docker kernel a process starts, and
``deepthinker-nb gc``, remove orphans and their socket / temporary working dirs / mirrors (what a
mirrored kernel wrote after its last finished cell is lost with its host process).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

LABEL_OWNER = "deepthinker-nb.owner-pid"
LABEL_OWNER_START = "deepthinker-nb.owner-start"
LABEL_HOST = "deepthinker-nb.host"
LABEL_SESSION = "deepthinker-nb.session"
LABEL_KERNEL = "deepthinker-nb.kernel-id"
LABEL_SOCKDIR = "deepthinker-nb.sockdir"
LABEL_TMPWORK = "deepthinker-nb.tmp-workdir"
LABEL_MIRROR = "deepthinker-nb.mirror"
SOCKDIR_PREFIX = "dtk-"
MIRROR_PREFIX = "dtk-mirror-"
OWNER_FILE = "owner.json"


def _start_time(pid: int) -> str:
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def owner_labels(session: str, kernel_id: str) -> dict[str, str]:
    pid = os.getpid()
    return {
        LABEL_OWNER: str(pid),
        LABEL_OWNER_START: _start_time(pid),
        LABEL_HOST: socket.gethostname(),
        LABEL_SESSION: session,
        LABEL_KERNEL: kernel_id,
    }


def owner_alive(pid: str | int, start: str | None) -> bool:
    """True when ``pid`` runs and (if known) started at ``start``: pid reuse is not life."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if not psutil.pid_exists(pid):
        return False
    return not start or _start_time(pid) in ("", start)


def _safe_rmtree(path: str | None, *, prefix: str) -> None:
    """Remove a dir we created (its name carries our prefix); refuse anything else."""
    if path and Path(path).name.startswith(prefix):
        shutil.rmtree(path, ignore_errors=True)


def _write_owner(path: Path) -> None:
    pid = os.getpid()
    (path / OWNER_FILE).write_text(json.dumps({"pid": pid, "start": _start_time(pid)}))


def make_sockdir() -> Path:
    """A short, private per-kernel dir (Unix socket paths must stay under 107 bytes)."""
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    path = Path(tempfile.mkdtemp(prefix=SOCKDIR_PREFIX, dir=base))
    _write_owner(path)
    return path


def mirror_base() -> Path:
    """Where mirrors live: ``/var/tmp`` (on disk; ``/tmp`` is often RAM), else the temp dir."""
    var_tmp = Path("/var/tmp")
    if var_tmp.is_dir() and os.access(var_tmp, os.W_OK | os.X_OK):
        return var_tmp
    return Path(tempfile.gettempdir())


def make_mirror_dir() -> Path:
    """A private (0700) dir for one kernel's mirror, with an owner file beside its content."""
    path = Path(tempfile.mkdtemp(prefix=MIRROR_PREFIX, dir=mirror_base()))
    _write_owner(path)
    return path


def remove_mirror_dir(path: str | Path | None) -> None:
    _safe_rmtree(str(path) if path else None, prefix=MIRROR_PREFIX)


def remove_sockdir(path: str | Path | None) -> None:
    _safe_rmtree(str(path) if path else None, prefix=SOCKDIR_PREFIX)


def remove_tmp_workdir(path: str | Path | None) -> None:
    _safe_rmtree(str(path) if path else None, prefix="dtk-work-")


@dataclass
class GcReport:
    containers: list[str]
    dirs: list[str]

    @property
    def count(self) -> int:
        return len(self.containers) + len(self.dirs)


def find_orphans(client) -> list:
    """Containers labelled by us, on this host, whose owner process is gone."""
    host = socket.gethostname()
    orphans = []
    for c in client.containers.list(all=True, filters={"label": LABEL_OWNER}):
        labels = c.labels or {}
        if labels.get(LABEL_HOST, host) != host:
            continue  # another machine sharing the engine owns it: its pids mean nothing here
        if not owner_alive(labels.get(LABEL_OWNER), labels.get(LABEL_OWNER_START)):
            orphans.append(c)
    return orphans


def _stale_dirs(base: Path, prefix: str) -> list[Path]:
    stale = []
    for path in base.glob(f"{prefix}*"):
        try:
            owner = json.loads((path / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if not owner_alive(owner.get("pid"), owner.get("start")):
            stale.append(path)
    return stale


def gc(client) -> GcReport:
    """Remove orphaned containers, then their socket / temporary working dirs and mirrors."""
    report = GcReport([], [])
    for c in find_orphans(client):
        labels = c.labels or {}
        with contextlib.suppress(Exception):
            c.remove(force=True)
            report.containers.append(c.name)
        for key, remove in ((LABEL_SOCKDIR, remove_sockdir), (LABEL_TMPWORK, remove_tmp_workdir),
                            (LABEL_MIRROR, remove_mirror_dir)):
            path = labels.get(key)
            if path and Path(path).exists():
                remove(path)
                report.dirs.append(path)
    for base, prefix, remove in ((Path("/tmp"), SOCKDIR_PREFIX, remove_sockdir),
                                 (mirror_base(), MIRROR_PREFIX, remove_mirror_dir)):
        for path in _stale_dirs(base, prefix):
            remove(path)
            report.dirs.append(str(path))
    return report
