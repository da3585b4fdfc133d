"""Host access to paths a kernel can write: no links followed, regular files only, bounded size.

Kernels write predictions, plots and working files into directories that the host reads later
(a run's ``work/``, a session's working dir). Code in the kernel can leave there a symlink or a
hard link to a host file (the host would read that file and might echo it into feedback or a
report), a symlinked parent directory (same, one level up), a FIFO (the host's read would block
forever), a device such as ``/dev/zero`` or a sparse or growing file (the read would not end).
Every host-side read, directory creation, chmod or removal of such a path goes through here.

Errors are one line naming the path and what was wrong; they never quote the file's content.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from deepthinker_nb.errors import DeepThinkerError

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Default cap on what one untrusted read may return."""

Problem = Literal["missing", "symlink", "not_regular", "hard_link", "too_large", "outside_root",
                  "invalid"]
StrPath = str | os.PathLike[str]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# O_NONBLOCK: should a FIFO replace the file between the check and the open, the open returns
# at once instead of waiting for a writer (reads of regular files ignore the flag).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UntrustedFileError(DeepThinkerError):
    """The host refused a path a kernel could have written; ``kind`` says why, the message is
    one line with the path and the reason (never the file's content)."""

    def __init__(self, path: StrPath, kind: Problem, reason: str) -> None:
        self.path = os.fspath(path)
        self.kind: Problem = kind
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def open_untrusted(path: StrPath, *, root: StrPath | None = None,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> io.BufferedReader:
    """A binary file object over ``path`` once it is known to be a regular file with one link
    and at most ``max_bytes`` bytes; reading past ``max_bytes`` (a growing file) raises.

    With ``root`` (a directory the host trusts, such as a run's ``work/``), ``path`` must lie
    under it and no directory between them may be a symlink; without it only the last component
    is checked. The file object has no ``fileno()``, so every read goes through the cap.
    """
    with _parent_dir(path, root, create=False) as (parent, name):
        try:
            # Checked before opening, so a FIFO or a device is never opened at all; the fstat
            # after opening is the check that counts.
            _require_regular(path, os.stat(name, dir_fd=parent, follow_symlinks=False))
            fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _os_error(path, exc) from None
    try:
        info = os.fstat(fd)
        _require_regular(path, info)
        if info.st_nlink > 1:
            raise UntrustedFileError(
                path, "hard_link", f"a hard link ({info.st_nlink} links to the same file, which "
                "may be a file elsewhere)")
        if info.st_size > max_bytes:
            raise UntrustedFileError(path, "too_large",
                                     f"too large ({info.st_size} bytes > {max_bytes})")
        raw = _CappedReader(io.FileIO(fd, "rb", closefd=True), path, max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(raw)


def read_untrusted_bytes(path: StrPath, *, root: StrPath | None = None,
                         max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The content of ``path``, read as :func:`open_untrusted` allows."""
    with open_untrusted(path, root=root, max_bytes=max_bytes) as handle:
        return handle.read()


def read_untrusted_text(path: StrPath, *, root: StrPath | None = None,
                        max_bytes: int = DEFAULT_MAX_BYTES, encoding: str = "utf-8") -> str:
    """The text of ``path`` (see :func:`open_untrusted`); undecodable bytes are an error that
    does not quote them."""
    data = read_untrusted_bytes(path, root=root, max_bytes=max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UntrustedFileError(path, "invalid", f"not valid {encoding} text "
                                 f"(at byte {exc.start})") from None


def make_untrusted_dir(path: StrPath, *, root: StrPath) -> Path:
    """Create ``path`` and its missing parents under ``root`` without following any symlink
    (a kernel may have planted one where a directory is expected). Returns ``path``."""
    with _parent_dir(path, root, create=True) as (parent, name):
        os.close(_open_dir(path, parent, name, create=True))
    return Path(path)


def unlink_untrusted(path: StrPath, *, root: StrPath) -> bool:
    """Remove the entry ``path`` under ``root`` (a symlink is removed, never its target).
    False when there was nothing to remove."""
    try:
        with _parent_dir(path, root, create=False) as (parent, name):
            try:
                os.unlink(name, dir_fd=parent)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise _os_error(path, exc) from None
    except UntrustedFileError as exc:
        if exc.kind == "missing":
            return False
        raise
    return True


# -- internals ---------------------------------------------------------------------------------
class _CappedReader(io.RawIOBase):
    """Raw reads of an open file that raise once more than ``max_bytes`` have come through."""

    def __init__(self, raw: io.FileIO, path: StrPath, max_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self._path = path
        self._left = max_bytes
        self._max = max_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:
        count = self._raw.readinto(buffer) or 0
        self._left -= count
        if self._left < 0:
            raise UntrustedFileError(self._path, "too_large",
                                     f"too large (grew past {self._max} bytes while being read)")
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def _parent_dir(path: StrPath, root: StrPath | None, *, create: bool) -> Iterator[tuple[int, str]]:
    """A descriptor of the directory that holds ``path`` and the entry's name in it, reached
    from ``root`` one component at a time without following symlinks."""
    target = os.path.abspath(path)
    if root is None:
        parent, name = os.path.split(target)
        try:
            fd = os.open(parent or "/", _DIR_FLAGS)
        except OSError as exc:
            raise _os_error(path, exc) from None
        parts: list[str] = []
    else:
        base = os.path.abspath(root)
        relative = os.path.relpath(target, base)
        if relative == os.curdir or relative.split(os.sep)[0] == os.pardir:
            raise UntrustedFileError(path, "outside_root", f"not inside {base}")
        *parts, name = relative.split(os.sep)
        try:
            fd = os.open(base, _DIR_FLAGS)
        except OSError as exc:
            raise _os_error(path, exc) from None
    try:
        for part in parts:
            next_fd = _open_dir(path, fd, part, create=create)
            os.close(fd)
            fd = next_fd
        yield fd, name
    finally:
        os.close(fd)


def _open_dir(path: StrPath, parent: int, name: str, *, create: bool) -> int:
    if create:
        try:
            os.mkdir(name, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _os_error(path, exc) from None
    try:
        return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except OSError:
                raise _os_error(path, exc) from None
            if stat.S_ISLNK(info.st_mode):
                raise UntrustedFileError(
                    path, "symlink", f"directory {name!r} on its path is a symlink (links are "
                    "not followed)") from None
            raise UntrustedFileError(path, "not_regular",
                                     f"{name!r} on its path is not a directory") from None
        raise _os_error(path, exc) from None


def _require_regular(path: StrPath, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise UntrustedFileError(path, "symlink", "a symlink (links are not followed)")
    if not stat.S_ISREG(mode):
        raise UntrustedFileError(path, "not_regular", f"not a regular file ({_kind(mode)})")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "an unknown file type"


def _os_error(path: StrPath, exc: OSError) -> UntrustedFileError:
    if exc.errno == errno.ENOENT:
        return UntrustedFileError(path, "missing", "missing")
    if exc.errno == errno.ELOOP:
        return UntrustedFileError(path, "symlink", "a symlink (links are not followed)")
    if exc.errno in (errno.ENOTDIR, errno.EISDIR):
        return UntrustedFileError(path, "not_regular", "not a regular file")
    return UntrustedFileError(path, "invalid", f"cannot be opened ({os.strerror(exc.errno or 0)})")


__all__ = [
    "DEFAULT_MAX_BYTES",
    "StrPath",
    "UntrustedFileError",
    "make_untrusted_dir",
    "open_untrusted",
    "read_untrusted_bytes",
    "read_untrusted_text",
    "unlink_untrusted",
]
