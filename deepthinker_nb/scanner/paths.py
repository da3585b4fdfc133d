"""Classify path-like strings against the policy: working dir, data dirs, URLs, escapes, and
files that hold code (``.py``, ``.pth``, ``.so``)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .policy import ScanPolicy

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)")
_FILE_DATABASES = frozenset({"sqlite", "duckdb"})  # URLs naming a local file
_WINDOWS_ABS = re.compile(r"^[A-Za-z]:[\\/]")
_NETWORK_SCHEMES = frozenset({
    "http", "https", "ftp", "ftps", "sftp", "s3", "s3a", "s3n", "gs", "gcs", "az", "abfs",
    "abfss", "wasb", "wasbs", "hdfs", "webhdfs", "ws", "wss", "ssh", "scp", "smb", "git",
    "git+https", "git+ssh", "github", "hf", "dbfs", "oss", "r2", "adl", "jdbc", "postgresql",
    "mysql", "mongodb", "redis", "tcp", "udp", "zmq",
})


@dataclass(frozen=True)
class PathProblem:
    """Why a path is not allowed: ``kind`` is "network" or "escape"; ``reason`` is a noun
    phrase naming the path ("absolute path '/etc'"), which messages put after a verb
    ("open() accesses ...", "%%writefile writes to ...")."""

    kind: str
    reason: str


def classify(path: str, policy: ScanPolicy) -> PathProblem | None:
    """None when ``path`` stays in the working/data dirs; otherwise what is wrong with it."""
    text = path.strip()
    if not text:
        return None
    match = _URL.match(text) if "://" in text else None
    if match:
        scheme, host = match.group(1).lower(), match.group(2)
        if scheme == "file":
            return PathProblem("escape", f"file:// URL {text[:80]!r}")
        if scheme.partition("+")[0] in _FILE_DATABASES:  # sqlite:///rel.db, sqlite:////abs.db
            path = text[match.end():].lstrip("/") if not host else ""
            if text[match.end():].startswith("//"):
                path = "/" + path
            return classify(path.split("?", 1)[0], policy) if path else None
        if scheme in _NETWORK_SCHEMES or scheme.startswith(("http", "git")):
            host = host.rsplit("@", 1)[-1]
            if policy.host_allowed(host):
                return None
            return PathProblem("network", f"URL {text[:80]!r}")
        return PathProblem("network", f"URL with scheme {scheme!r}")
    if text[:5].lower() == "file:" and not match:  # sqlite3 URIs: file:/etc/x?mode=ro
        return classify(text[5:].split("?", 1)[0], policy) or (
            PathProblem("escape", f"file: URI {text[:80]!r}") if text[5:6] == "/" else None)
    if text.startswith("~"):
        return PathProblem("escape", f"home-directory path {text[:80]!r}")
    if text.startswith("\\\\") or text.startswith("//"):
        return PathProblem("network", f"network share {text[:80]!r}")
    unix = text.replace("\\", "/")
    if unix.startswith("/") or _WINDOWS_ABS.match(text):
        norm = posixpath.normpath(unix)
        if policy.path_allowed(norm):
            return None
        return PathProblem("escape", f"absolute path {text[:80]!r}")
    if ".." not in unix:
        return None  # a relative path that cannot climb out ("data/train.csv")
    norm = posixpath.normpath(unix)
    if norm == ".." or norm.startswith("../"):
        return PathProblem("escape", f"path {text[:80]!r} outside the working directory")
    return None


# File name endings that make a file code: imported, run by %run, loaded as a library or, for
# .pth, executed when the interpreter starts (from a site dir).
_CODE_FILES = (
    (".pth", "a .pth file, whose import lines run when an interpreter starts"),
    (".so", "a shared library, which an import loads as native code"),
    (".pyd", "a shared library, which an import loads as native code"),
    (".dylib", "a shared library, which an import loads as native code"),
    (".dll", "a shared library, which an import loads as native code"),
    (".pyc", "compiled Python, which an import runs"),
    (".pyo", "compiled Python, which an import runs"),
    (".pyx", "Cython source, which pyximport compiles and runs"),
    (".py", "Python source, which an import or %run would execute unscanned"),
    (".pyw", "Python source, which an import or %run would execute unscanned"),
    (".ipy", "IPython source, which %run would execute unscanned"),
)
CHECKPOINT_OK = (".pth",)  # PyTorch's checkpoint extension, fine for model savers


_CODE_BY_SUFFIX = dict(_CODE_FILES)


def code_file(path: str) -> str | None:
    """What kind of code a file of this name holds (a noun phrase), or None for data."""
    stem, dot, suffix = path.rpartition(".")
    if not dot:
        return None
    what = _CODE_BY_SUFFIX.get("." + suffix.strip().lower())
    if what is None or not stem.rpartition("/")[2]:
        return None  # data, or a bare ".py" with no name
    return what
