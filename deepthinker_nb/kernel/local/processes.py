"""Finding and killing every process a kernel started, including ones that left its group."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from deepthinker_nb.kernel.proctree import children_of

TOKEN_ENV = "DEEPTHINKER_KERNEL_TOKEN"


def kill_group(pgid: int | None) -> None:
    """SIGKILL a process group; a group that is already gone is fine."""
    if not pgid or pgid <= 1 or pgid == os.getpgid(0):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pids_with_token(token: str) -> list[int]:
    """Processes whose environment carries ``token``: they descend from one kernel, even if
    they called setsid() to leave its process group."""
    needle = f"{TOKEN_ENV}={token}".encode()
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def sandboxed_kernel_pid(bwrap_pid: int) -> int | None:
    """The host pid of the command bubblewrap runs: bwrap -> its PID-namespace init -> command.

    The init's first child is the command; later children are orphans it adopted. Read from
    ``/proc/<pid>/task/<pid>/children`` (in creation order): a scan of the whole process table
    would cost the first cell of every kernel several milliseconds.
    """
    inits = children_of(bwrap_pid)
    if len(inits) != 1:
        return None
    kernels = children_of(inits[0])
    return kernels[0] if kernels else None


def kill_token_holders(token: str) -> int:
    killed = 0
    for pid in pids_with_token(token):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
    return killed
