"""The seed sinks of the environment index, chosen from the hand-written tables.

The environment index (envindex.py) marks every installed function that reaches one of these
calls. The seeds are the process and shell entries of tables.py (os.system, os.exec*, os.spawn*,
posix_spawn, pty.spawn, subprocess, pexpect ...), forking, and the calls that open a raw socket
connection. HTTP clients and dataset readers are not seeds: readers such as ``pandas.read_csv``
reach ``urlopen`` only for URL arguments, which the checks judge at the call site.
"""

from __future__ import annotations

import hashlib

from .severity import Severity
from .tables import CHAR_PREFIX, EXACT, EXEMPT, METHOD_SINKS, MODULE_ALIASES, PREFIX, Danger

# Rules whose hand-written entries are all seeds.
SEED_RULES = frozenset({"shell-command", "subprocess"})
# Entries of other rules that are seeds too: forking, and calls that open a socket.
EXTRA_SEEDS = frozenset({
    "os.fork", "os.forkpty", "pty.fork",
    "socket.socket", "socket.create_connection", "socket.create_server", "socket.socketpair",
    "socket.fromfd", "socket.SocketType", "ssl.wrap_socket", "asyncio.open_connection",
    "asyncio.open_unix_connection", "asyncio.start_server", "asyncio.start_unix_server",
})
# Substrings of a module's source without which it cannot call a seed directly: modules with
# none of them are not parsed in the first round of the walk.
# Most frequent first, so that a module with one stops the search early.
SEED_TOKENS: tuple[bytes, ...] = (
    b"subprocess", b"socket(", b"Popen", b"os.system", b"fork(", b"popen(", b"spawnv",
    b"create_connection", b"pexpect", b"spawnl", b"posix_spawn", b"execv", b"execl",
    b"import system", b"unix_connection", b"open_connection", b"forkpty", b"import pty",
    b"from pty", b"create_server", b"ptyprocess", b"plumbum", b"import sh\n",
)
# Modules that are seeds as a whole: walking their own source adds nothing.
SEED_MODULES = frozenset(name for name, d in PREFIX.items()
                         if d.rule in SEED_RULES and "." not in name) | {"socket", "pty"}


def _seed_entries() -> dict[str, Danger]:
    out = {name: d for name, d in EXACT.items() if d.rule in SEED_RULES}
    for name in EXTRA_SEEDS:
        danger = EXACT.get(name) or PREFIX.get(name.split(".")[0])
        out[name] = danger if danger is not None else Danger(
            "process-spawn", Severity.HIGH, "creates a new process")
    return out


_SEEDS = _seed_entries()
_SEED_PREFIXES = {name: d for name, d in PREFIX.items() if d.rule in SEED_RULES}
_SEED_CHAR_PREFIXES = tuple((p, d) for p, d in CHAR_PREFIX if d.rule in SEED_RULES)
# First components a seed can start with (module aliases such as posix included), and "*" for
# methods of any receiver: other names need no seed lookup.
SEED_ROOTS = frozenset(
    {name.partition(".")[0] for name in (*_SEEDS, *_SEED_PREFIXES)}
    | {p.partition(".")[0] for p, _ in _SEED_CHAR_PREFIXES}
    | {alias for alias, module in MODULE_ALIASES.items()
       if module in {name.partition(".")[0] for name in (*_SEEDS, *_SEED_PREFIXES)}}
    | {"*"})


# Names under a seed module that start nothing.
_NOT_SINKS = frozenset({"list2cmdline", "CompletedProcess", "which"})
_SEED_ROOT_MODULES = frozenset(r for r in SEED_ROOTS if r not in MODULE_ALIASES)


def seed_danger(qual: str) -> Danger | None:
    """The Danger of a seed sink, or None. ``*.name`` stands for a method of any receiver."""
    if qual[:2] == "*.":
        return METHOD_SINKS.get(qual[2:])
    parts = qual.split(".")
    first = MODULE_ALIASES.get(parts[0], parts[0])
    if first != parts[0]:
        parts[0] = first
        qual = ".".join(parts)
    found = _SEEDS.get(qual)
    if found is not None:
        return found
    if first not in _SEED_ROOT_MODULES:
        return None
    last = parts[-1]
    if len(parts) < 2 or last in _NOT_SINKS or last[:1] == "_" or last.isupper() or (
            last.endswith(("Error", "Exception", "Warning", "Expired"))):
        return None  # a module itself, a constant, an exception class or a private helper
    for k in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:k])
        if prefix in EXEMPT:
            return None
        found = _SEED_PREFIXES.get(prefix)
        if found is not None:
            return found
    for prefix, found in _SEED_CHAR_PREFIXES:
        if qual.startswith(prefix):
            return found
    return None


def seed_digest() -> str:
    """A hash of the seeds and tokens: a cached index built from other seeds is stale."""
    h = hashlib.sha256()
    for name in sorted(_SEEDS):
        h.update(f"{name}:{_SEEDS[name].rule}\n".encode())
    for name in sorted(_SEED_PREFIXES):
        h.update(f"prefix {name}\n".encode())
    for name in sorted(METHOD_SINKS):
        h.update(f"method {name}\n".encode())
    for token in SEED_TOKENS:
        h.update(token + b"\n")
    return h.hexdigest()[:16]
