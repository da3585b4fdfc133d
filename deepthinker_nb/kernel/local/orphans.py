"""Temp dirs of local kernels whose host process died without cleaning up.

Every dir a local session or provisioner creates is named ``dtnb-<kind>-<owner pid>-...``; a
dir whose owner pid is gone is an orphan. Batch workers name their scratch run dirs the same
way (``dtnb-batch-<worker pid>-...``: a run dir on its way back to a client that shares no
storage), so a worker killed mid-run leaves nothing this sweep does not find. A crashed host
cannot clean up after itself, so the next process to start a kernel (or ``deepthinker-nb gc``)
does.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"^dtnb-(?:work|state|session|batch)-(\d+)-")


def temp_prefix(kind: str) -> str:
    """``mkdtemp`` prefix that records this process as the owner."""
    return f"dtnb-{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_dirs(root: Path | None = None) -> list[Path]:
    base = Path(root or tempfile.gettempdir())
    found = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            found.append(entry)
    return found


def remove_orphaned_dirs(root: Path | None = None) -> list[Path]:
    removed = []
    for path in orphaned_dirs(root):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed
