"""A disk budget for the space a kernel can write, enforced from the host.

A runaway or hostile cell can write gigabytes a second into its working dir. rlimits cap single
files only, and a size-limited mount of a user's folder needs privileges we must not assume, so
each provisioner runs a ``DiskBudget``: a host thread that measures what the kernel added to its
writable dirs and kills the kernel the moment the total passes the budget. The cell then fails
with "disk limit (2g) reached", as an out-of-memory kill fails with the memory limit.

The measure is the allocated size (``st_blocks``, so sparse files count for what they hold),
taken without following symlinks or crossing into other file systems, each hard-linked inode
once. Only growth counts: a session started in a folder that already holds 10 GB may still write
its full budget. A kernel restarted while over budget may run and delete files, but not grow any
further. The poll interval stretches with the cost of a walk (the CPU it took, and never less
than its duration), so a large folder does not cost a core; stopping the kernel is not part of
that cost.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from deepthinker_nb.config.limits import format_size

log = logging.getLogger("deepthinker_nb.kernel")

DEFAULT_DISK_LIMIT = "2g"
MIN_INTERVAL = 0.1
"""Seconds between two measures at the least: a cell writing 1 GB/s overshoots by ~100 MB."""
WALK_SHARE = 0.05
"""At most this share of one core goes to measuring, however large the folder."""


def disk_usage(roots: Iterable[Path]) -> int:
    """Bytes allocated under ``roots``: no symlink followed, no mount crossed, inodes once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in roots:
        try:
            top = os.lstat(root)
        except OSError:
            continue
        if not stat.S_ISDIR(top.st_mode):
            continue
        stack = [str(root)]
        while stack:
            path = stack.pop()
            try:
                entries = os.scandir(path)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    key = (info.st_dev, info.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                    total += info.st_blocks * 512
                    if stat.S_ISDIR(info.st_mode) and info.st_dev == top.st_dev:
                        stack.append(entry.path)
    return total


class DiskBudget:
    """Watch ``roots`` and call ``on_exceeded`` once when they grow by more than ``limit``."""

    def __init__(
        self,
        roots: Iterable[Path],
        limit: int,
        on_exceeded: Callable[[], None],
        *,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        self.roots = tuple(Path(r) for r in roots)
        self.limit = int(limit)
        self.on_exceeded = on_exceeded
        self.min_interval = min_interval
        self.baseline = disk_usage(self.roots)
        self.ceiling = self.limit
        self.peak_growth = 0
        self.exceeded = False
        self._lock = threading.Lock()  # check() in the watcher thread, rearm() in the caller's
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def label(self) -> str:
        return format_size(self.limit)

    def reason(self) -> str | None:
        """``disk limit (2g) reached`` once the budget was passed, else None."""
        return f"disk limit ({self.label}) reached" if self.exceeded else None

    def rearm(self) -> None:
        """After the kernel was restarted: it may use what is there, and not grow past it."""
        growth = disk_usage(self.roots) - self.baseline
        with self._lock:
            self.ceiling = max(self.limit, growth)
            self.exceeded = False

    def check(self) -> bool:
        """Measure once; True (and the callback called, once) when the budget is passed."""
        return self._judge(disk_usage(self.roots) - self.baseline)

    def _judge(self, growth: int) -> bool:
        with self._lock:
            self.peak_growth = max(self.peak_growth, growth)
            self.ceiling = max(self.limit, min(self.ceiling, growth))
            newly = growth > self.ceiling and not self.exceeded
            if newly:
                self.exceeded = True
        if newly:
            log.warning("kernel stopped: %s (%s written)", self.reason(), format_size(growth))
            try:
                self.on_exceeded()
            except Exception:  # the watcher must not die with the callback
                log.exception("stopping the kernel at its disk limit failed")
        return self.exceeded

    def start(self) -> DiskBudget:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="deepthinker-disk-budget", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            wall, cpu = time.monotonic(), time.thread_time()
            growth = disk_usage(self.roots) - self.baseline
            # Only the walk is paid for: timing the callback too (a container kill takes ~0.5 s)
            # put the watcher to sleep for 10 s right when a restarted kernel starts writing.
            # CPU time, not wall time: waiting for the GIL in a busy host is not a cost.
            wait = max(self.min_interval, (time.thread_time() - cpu) / WALK_SHARE,
                       time.monotonic() - wall)
            self._judge(growth)
            self._stop.wait(wait)
