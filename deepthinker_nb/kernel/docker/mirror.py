"""A private working dir for a kernel that may not write into the user's, kept in step with it.

When the host is root and the working dir is root's (see :mod:`.ownership`), letting the kernel
write there would take a chown, chmod or ACL that outlives the session. Instead the kernel
works in a dir we create and own (``/var/tmp/dtk-mirror-*/work``, owned by the kernel's uid),
mounted at the working dir's path, so paths mean the same inside and out. The host reconciles
the two dirs: the user's files are copied in before the kernel starts, and before and after
every cell (the kernel asks, see :mod:`.syncpoint`) and when the kernel stops, what changed on
either side since the last reconcile is carried to the other.

What reaches the user's dir is written by the host process, so it belongs to the host user;
new files get the kernel's mode bits without setuid, setgid, group or other write (``& 0o755``).
A file is written beside its target and renamed over it, so nobody reads half a file and a
failed copy leaves the old one; a replaced file keeps its owner and mode. The user's dir itself
is never chowned or chmodded.

The mirror is written by untrusted code and read by root, so:

* no symlink is followed on either side: paths are walked one component at a time from a dir
  descriptor with ``O_NOFOLLOW``; kernel files are read with :func:`deepthinker_nb.untrusted.
  open_untrusted` (regular files with one link only); symlinks, FIFOs, sockets and devices are
  never copied, and other file systems are not entered;
* it is bounded: at most :data:`MAX_ENTRIES` entries per side and :data:`MAX_DEPTH` levels; one
  reconcile copies at most ``copy_out_limit`` bytes out of the mirror (what the user's dir held,
  plus the disk budget) and :data:`COPY_IN_LIMIT` bytes in; a file that does not fit is skipped
  whole, never cut;
* a deletion is carried over only for a file the other side still holds unchanged since the last
  reconcile, and not at all when a side was too large to list in full, so nothing the mirror
  never copied (a symlink, a file over the cap) is ever deleted.

A file changed on both sides since the last reconcile ends as the kernel's version: as in a
shared dir, where the kernel would have written last.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deepthinker_nb.config.docker import MountError
from deepthinker_nb.config.limits import format_size
from deepthinker_nb.kernel.docker import orphans
from deepthinker_nb.untrusted import UntrustedFileError, open_untrusted, unlink_untrusted

log = logging.getLogger("deepthinker_nb.docker")

COPY_IN_LIMIT = 2 * 1024**3
"""The most a working dir may hold to be mirrored, and the most one reconcile copies in."""
MAX_ENTRIES = 100_000
"""Entries listed per side per reconcile; a larger tree is reconciled without deletions."""
MAX_DEPTH = 64
CHUNK = 1024 * 1024
TMP_PREFIX = ".dtk-sync-"

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC

Sig = tuple[int, int, int, int]
"""What says a file changed: inode, size, mtime, ctime (ctime cannot be set back by a user)."""


def _sig(st: os.stat_result) -> Sig:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Skip(Exception):
    """This one entry cannot be carried over safely; the reconcile goes on without it."""


@dataclass
class Tree:
    """One side's regular files (their lstat) and dirs, by path relative to the side's root."""

    root: Path
    private: bool = False
    """The kernel's side (written by untrusted code)."""
    files: dict[str, os.stat_result] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    complete: bool = True

    @property
    def size(self) -> int:
        return sum(st.st_size for st in self.files.values())

    def sig(self, rel: str) -> Sig | None:
        st = self.files.get(rel)
        return None if st is None else _sig(st)


def scan(root: Path, *, private: bool = False) -> Tree:
    """List ``root`` without following symlinks or entering other file systems."""
    tree = Tree(root, private)
    try:
        fd = os.open(root, _DIR)
    except OSError:
        tree.complete = False
        return tree
    try:
        _scan_dir(fd, "", os.fstat(fd).st_dev, 0, tree)
    finally:
        os.close(fd)
    return tree


def _scan_dir(fd: int, prefix: str, dev: int, depth: int, tree: Tree) -> None:
    try:
        entries = list(os.scandir(fd))
    except OSError:
        tree.complete = False
        return
    for entry in entries:
        if len(tree.files) + len(tree.dirs) >= MAX_ENTRIES:
            tree.complete = False
            return
        if entry.name.startswith(TMP_PREFIX):
            continue  # a copy of ours under way (or left by a crash)
        rel = prefix + entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            tree.complete = False
            continue
        if stat.S_ISREG(st.st_mode):
            tree.files[rel] = st
        elif stat.S_ISDIR(st.st_mode) and st.st_dev == dev:
            if depth + 1 >= MAX_DEPTH:
                tree.complete = False
                continue
            try:
                sub = os.open(entry.name, _DIR, dir_fd=fd)
            except OSError:  # replaced by a symlink since it was listed
                tree.complete = False
                continue
            tree.dirs.add(rel)
            try:
                _scan_dir(sub, rel + "/", dev, depth + 1, tree)
            finally:
                os.close(sub)


MakeDir = Callable[[int, str, str], None]
"""``make(parent_fd, name, rel)``: create the missing dir ``rel`` as ``name`` in ``parent_fd``."""


@contextmanager
def _parent(root: Path, rel: str, *, create: MakeDir | None = None) -> Iterator[tuple[int, str]]:
    """Descriptor of the dir holding ``rel`` under ``root``, and the entry's name, reached
    without following a symlink; ``create`` makes a missing dir on the way."""
    *parts, name = rel.split("/")
    fd = os.open(root, _DIR)
    try:
        for i, part in enumerate(parts):
            try:
                nxt = os.open(part, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if create is None:
                    raise _Skip(f"{part!r} is missing") from None
                create(fd, part, "/".join(parts[: i + 1]))
                nxt = os.open(part, _DIR, dir_fd=fd)
            except OSError as exc:  # ELOOP / ENOTDIR: a symlink or a file where a dir should be
                raise _Skip(f"{part!r} is not a dir ({os.strerror(exc.errno or 0)})") from None
            os.close(fd)
            fd = nxt
        yield fd, name
    finally:
        os.close(fd)


def _replace(parent: int, name: str, fill: Callable[[int], None], *, mode: int,
             owner: tuple[int, int] | None, times: tuple[int, int]) -> Sig:
    """Write ``name`` in ``parent`` through a temporary file renamed over it, so a reader never
    sees half a file and a failed copy leaves the old one. A file it replaces keeps its owner
    and mode; a new one gets ``mode`` (and ``owner`` when given). Returns the new signature."""
    try:
        old: os.stat_result | None = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise _Skip("is not a regular file on the other side")
    tmp = f"{TMP_PREFIX}{os.urandom(6).hex()}"
    fd = os.open(tmp, _WRITE | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=parent)
    try:
        fill(fd)
        if old is not None:
            owner, mode = (old.st_uid, old.st_gid), stat.S_IMODE(old.st_mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        os.utime(fd, ns=times)
        os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        return _sig(os.fstat(fd))  # after the rename, which changes the ctime
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=parent)
        raise
    finally:
        os.close(fd)


class WorkdirMirror:
    """The private copy of ``host`` that a kernel running as ``uid:gid`` works in."""

    def __init__(self, host: str, top: Path, uid: int, gid: int, copy_out_limit: int) -> None:
        self.host = Path(host)
        self.top = top
        self.private = top / "work"
        self.uid, self.gid = uid, gid
        self.copy_out_limit = copy_out_limit
        self._state: dict[str, tuple[Sig | None, Sig | None]] = {}  # rel -> (host, mirror)
        self._dirs: set[str] = set()  # dirs on both sides after the last reconcile
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def create(cls, host: str, uid: int, gid: int, disk_limit: int) -> WorkdirMirror:
        """Make the private dir and copy ``host`` in; a :class:`MountError` if it is too big."""
        held = scan(Path(host))
        if held.size > COPY_IN_LIMIT or not held.complete:
            what = format_size(held.size) if held.complete else f"over {MAX_ENTRIES} entries"
            raise MountError(
                f"working dir {host!r} ({what}) cannot be mirrored for the kernel (at most "
                f"{format_size(COPY_IN_LIMIT)}, {MAX_ENTRIES} entries): the kernel may not write "
                "into it, and its owner and mode are never changed; give a dir owned by a "
                "non-root user (the kernel then runs as that user), or pass large inputs as "
                "data_dirs (mounted read-only, not copied)"
            )
        top = orphans.make_mirror_dir()
        try:
            os.mkdir(top / "work", 0o700)
            os.chown(top / "work", uid, gid)
            mirror = cls(host, top, uid, gid, copy_out_limit=held.size + disk_limit)
            mirror.reconcile()
        except BaseException:
            orphans.remove_mirror_dir(top)
            raise
        return mirror

    def remove(self) -> None:
        orphans.remove_mirror_dir(self.top)

    # -- reconcile -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Carry what changed since the last call across, in both directions (see module doc)."""
        with self._lock:
            host, mine = scan(self.host), scan(self.private, private=True)
            deletions = host.complete and mine.complete
            budget = {"in": COPY_IN_LIMIT, "out": self.copy_out_limit}
            for rel in sorted(set(host.files) | set(mine.files) | set(self._state)):
                try:
                    self._reconcile_file(rel, host, mine, deletions, budget)
                except (_Skip, UntrustedFileError, OSError) as exc:
                    self._warn(rel, str(exc))
            self._reconcile_dirs(host, mine, deletions)

    def _reconcile_file(self, rel: str, host: Tree, mine: Tree, deletions: bool,
                        budget: dict[str, int]) -> None:
        h, m = host.sig(rel), mine.sig(rel)
        h0, m0 = self._state.get(rel, (None, None))
        kernel_changed, host_changed = m != m0, h != h0
        if kernel_changed and m is not None:
            if m[1] > budget["out"]:
                self._state[rel] = (h0, m)  # not retried until it changes again
                raise _Skip(f"{format_size(m[1])} would pass this reconcile's copy limit")
            copied = self._copy_out(rel, mine.files[rel], host, budget["out"])
            budget["out"] -= m[1]
            self._state[rel] = (copied, m)
        elif kernel_changed and not host_changed:  # the kernel deleted it
            if h is not None and deletions:
                with _parent(self.host, rel) as (parent, name):
                    if _sig(os.stat(name, dir_fd=parent, follow_symlinks=False)) == h:
                        os.unlink(name, dir_fd=parent)
            self._state.pop(rel, None)
        elif host_changed and h is not None:
            if h[1] > budget["in"]:
                raise _Skip(f"{format_size(h[1])} would pass this reconcile's copy limit")
            budget["in"] -= h[1]
            self._state[rel] = (h, self._copy_in(rel, mine))
        elif host_changed:  # the host deleted it
            if m is not None and deletions:
                unlink_untrusted(self.private / rel, root=self.private)
            self._state.pop(rel, None)

    def _reconcile_dirs(self, host: Tree, mine: Tree, deletions: bool) -> None:
        """A dir one side removed goes on the other if empty; a dir one side made is made on
        the other. ``host`` and ``mine`` include the dirs the file copies made."""
        if deletions:
            for rel in sorted(host.dirs ^ mine.dirs, key=lambda d: d.count("/"), reverse=True):
                if rel not in self._dirs:  # deepest first, so emptied parents can go too
                    continue
                tree = mine if rel in mine.dirs else host
                with self._ignoring(rel), _parent(tree.root, rel) as (parent, name):
                    os.rmdir(name, dir_fd=parent)  # only when empty: what is left in it stays
                    tree.dirs.discard(rel)
        for rel in sorted(host.dirs ^ mine.dirs, key=lambda d: d.count("/")):  # parents first
            tree = host if rel in mine.dirs else mine
            make = self._mkdir_for(tree)
            with self._ignoring(rel), _parent(tree.root, rel, create=make) as (parent, name):
                make(parent, name, rel)
        self._dirs = host.dirs & mine.dirs

    # -- copies --------------------------------------------------------------------------------

    def _mkdir_for(self, tree: Tree) -> MakeDir:
        """How a missing dir is made on ``tree``'s side (and noted there); the kernel's dirs
        are given to the kernel's uid."""
        def make(parent: int, name: str, rel: str) -> None:
            try:
                os.mkdir(name, 0o700 if tree.private else 0o755, dir_fd=parent)
            except FileExistsError:
                return
            if tree.private:
                os.chown(name, self.uid, self.gid, dir_fd=parent, follow_symlinks=False)
            tree.dirs.add(rel)
        return make

    def _copy_out(self, rel: str, st: os.stat_result, host: Tree, limit: int) -> Sig:
        """Kernel -> user: read as untrusted (a file past ``limit`` bytes is refused whole),
        written by this process into the user's dir."""
        with open_untrusted(self.private / rel, root=self.private, max_bytes=limit) as src, \
                _parent(self.host, rel, create=self._mkdir_for(host)) as (parent, name):
            return _replace(parent, name, lambda fd: _pour(src.read, fd, limit + 1),
                            mode=st.st_mode & 0o755, owner=None,
                            times=(st.st_atime_ns, st.st_mtime_ns))

    def _copy_in(self, rel: str, mine: Tree) -> Sig:
        """User -> kernel: a new copy belongs to the kernel's uid so it can change it."""
        with _parent(self.host, rel) as (parent, name):
            src = os.open(name, _READ, dir_fd=parent)
        try:
            st = os.fstat(src)
            if not stat.S_ISREG(st.st_mode):
                raise _Skip("is not a regular file")
            with _parent(self.private, rel, create=self._mkdir_for(mine)) as (parent, name):
                return _replace(parent, name, lambda fd: _pour(lambda n: os.read(src, n), fd,
                                                                st.st_size),
                                mode=(st.st_mode & 0o755) | 0o600, owner=(self.uid, self.gid),
                                times=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(src)

    @contextmanager
    def _ignoring(self, rel: str) -> Iterator[None]:
        try:
            yield
        except (_Skip, OSError) as exc:
            if not isinstance(exc, OSError) or exc.errno not in (errno.ENOTEMPTY, errno.EEXIST,
                                                                 errno.ENOENT):
                self._warn(rel, str(exc))

    def _warn(self, rel: str, why: str) -> None:
        key = f"{rel}\0{why}"
        if key not in self._warned:
            self._warned.add(key)
            log.warning("working dir %s: %s not carried over: %s", self.host, rel, why)


def _pour(read: Callable[[int], bytes], fd: int, limit: int) -> None:
    """Copy what ``read`` gives, at most ``limit`` bytes, into the new file ``fd``."""
    written = 0
    while written < limit and (chunk := read(min(CHUNK, limit - written))):
        view = memoryview(chunk)
        while view:
            n = os.write(fd, view)
            view = view[n:]
            written += n
