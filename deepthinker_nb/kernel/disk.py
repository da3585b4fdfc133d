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
MIN_INTERVAL = 0.02
"""Seconds between two measures at the least: a cell writing 2 GB/s overshoots by ~40 MB."""
WALK_SHARE = 0.05
"""At most this share of one core goes to measuring, however large the folder."""
MAX_WRITE_RATE = 4 * 1024**3
"""Bytes a second a kernel could write at most, for deciding whether a cell that just ended
could have passed the budget since the last measure (``due``)."""
RESTART_SLACK = 1 << 20
"""What a kernel restarted over its budget may add (IPython's history, caches) before it is
stopped again: without it, the new kernel's own start would stop it."""
MAX_DEPTH = 256
"""Directories nested deeper than this cannot be measured, so they count as over budget."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Unmeasurable(Exception):
    """A kernel made part of its dirs impossible to measure (too deep, unreadable)."""


def disk_usage(
    roots: Iterable[Path], pids: Iterable[int] = (), opaque: set[tuple[int, int]] | None = None,
    *, collect: bool = False,
) -> int:
    """Bytes allocated under ``roots`` and in files ``pids`` hold open after deleting them.

    No symlink is followed and no mount crossed; each inode counts once. The walk goes from
    directory handle to directory handle, so no path grows too long to open. A directory nested
    deeper than ``MAX_DEPTH`` or unreadable raises ``Unmeasurable`` (a kernel could hide
    gigabytes there), unless it is in ``opaque``: the ones that were so before the kernel
    started, which a baseline measure (``collect=True``) adds there instead of raising.
    """
    walk = _Walk(opaque if opaque is not None else set(), collect)
    for root in roots:
        try:
            fd = os.open(root, _DIR_FLAGS)
        except OSError:
            continue  # not there (yet), or not a directory: nothing of the kernel's
        try:
            walk.where, walk.device = str(root), os.fstat(fd).st_dev
            walk.dir(fd, 0)
        finally:
            os.close(fd)
    return walk.total + _deleted_open_files(pids, walk.seen)


class _Walk:
    """One measure: what it has counted, and what to do with a directory it cannot enter."""

    def __init__(self, opaque: set[tuple[int, int]], collect: bool) -> None:
        self.opaque, self.collect = opaque, collect
        self.seen: set[tuple[int, int]] = set()
        self.total, self.device, self.where = 0, 0, ""

    def closed(self, dir_fd: int, why: str) -> None:
        """A directory the walk cannot enter: known from the baseline, or a reason to stop."""
        info = os.fstat(dir_fd)
        key = (info.st_dev, info.st_ino)
        if self.collect:
            self.opaque.add(key)
        elif key not in self.opaque:
            raise Unmeasurable(f"{why} in {self.where}")

    def dir(self, dir_fd: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.closed(dir_fd, f"directories nested deeper than {MAX_DEPTH} levels")
            return
        try:
            entries = list(os.scandir(dir_fd))
        except PermissionError:
            self.closed(dir_fd, "an unreadable directory")
            return
        except OSError:
            return  # removed while we looked
        subdirs = []
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode) and info.st_dev == self.device:
                subdirs.append(entry.name)
        for name in subdirs:
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except PermissionError:  # no search permission: O_PATH still gives a handle
                fd = os.open(name, _DIR_FLAGS | os.O_PATH, dir_fd=dir_fd)
                try:
                    self.closed(fd, "an unreadable directory")
                finally:
                    os.close(fd)
                continue
            except OSError:
                continue
            try:
                self.dir(fd, depth + 1)
            finally:
                os.close(fd)


def _deleted_open_files(pids: Iterable[int], seen: set[tuple[int, int]]) -> int:
    """Space of files the processes still hold open after unlinking them: no walk sees it."""
    total = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            key = (info.st_dev, info.st_ino)
            if info.st_nlink == 0 and stat.S_ISREG(info.st_mode) and key not in seen:
                seen.add(key)
                total += info.st_blocks * 512
    return total


class DiskBudget:
    """Watch ``roots`` and call ``on_exceeded`` once when they grow by more than ``limit``."""

    def __init__(
        self,
        roots: Iterable[Path],
        limit: int,
        on_exceeded: Callable[[], None],
        *,
        pids: Callable[[], Iterable[int]] = tuple,
        min_interval: float = MIN_INTERVAL,
        counted_whole: Iterable[Path] = (),
    ) -> None:
        """``counted_whole``: roots (among ``roots``) whose content counts from zero, not from
        what was there at start - the kernel's log, which the file-size cap stops exactly at
        the budget, must be able to reach it."""
        self.roots = tuple(Path(r) for r in roots)
        self.limit = int(limit)
        self.on_exceeded = on_exceeded
        self.pids = pids
        """The kernel's processes (host pids): files they deleted but hold open count too."""
        self.min_interval = min_interval
        self.opaque: set[tuple[int, int]] = set()  # what was unmeasurable before the kernel ran
        self.baseline = disk_usage(self.roots, opaque=self.opaque, collect=True)
        whole = tuple(Path(r) for r in counted_whole)
        if whole:
            self.baseline -= disk_usage(whole, opaque=self.opaque)
        self.why_unmeasurable: str | None = None
        self._measured = (time.monotonic(), 0)  # (when, growth) of the latest measure
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
        if not self.exceeded:
            return None
        if self.why_unmeasurable:
            return f"disk limit ({self.label}) cannot be checked: {self.why_unmeasurable}"
        return f"disk limit ({self.label}) reached"

    def growth(self) -> int:
        """What the kernel added since it started; past any limit when it cannot be measured."""
        try:
            return disk_usage(self.roots, self.pids(), self.opaque) - self.baseline
        except Unmeasurable as exc:
            self.why_unmeasurable = str(exc)
            return 1 << 62

    def rearm(self) -> None:
        """After the kernel was restarted: it may use what is there, and not grow past it."""
        self.why_unmeasurable = None
        growth = self.growth()
        with self._lock:
            # still unmeasurable: the budget stands as it was, and the next check stops it
            self.ceiling = self.limit if self.why_unmeasurable else max(
                self.limit, growth + RESTART_SLACK)
            self.exceeded = False

    def check(self) -> bool:
        """Measure once; True (and the callback called, once) when the budget is passed."""
        return self._judge(self.growth())

    def due(self) -> bool:
        """Could the kernel have passed its budget since the latest measure? Asked when a cell
        ends, so that a cell which wrote past the budget between two polls fails itself (and
        a quiet one costs no walk)."""
        when, growth = self._measured
        return (time.monotonic() - when) * MAX_WRITE_RATE >= self.ceiling - growth

    def _judge(self, growth: int) -> bool:
        self._measured = (time.monotonic(), growth)
        with self._lock:
            self.peak_growth = max(self.peak_growth, growth)
            self.ceiling = max(self.limit, min(self.ceiling, growth + RESTART_SLACK))
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
            growth = self.growth()
            # Only the walk is paid for: timing the callback too (a container kill takes ~0.5 s)
            # put the watcher to sleep for 10 s right when a restarted kernel starts writing.
            # CPU time, not wall time: waiting for the GIL in a busy host is not a cost.
            wait = max(self.min_interval, (time.thread_time() - cpu) / WALK_SHARE,
                       time.monotonic() - wall)
            self._judge(growth)
            self._stop.wait(wait)
