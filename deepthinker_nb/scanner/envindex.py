"""The environment index: which installed functions start processes or open sockets.

Built once per environment by walking the installed modules' source (environment.py; nothing
is imported), stored in the user cache dir keyed by the environment's fingerprint
(envcache.py), and consulted by the scanner (dangers.py) for names the hand-written tables do
not know: ``IPython.utils.process.getoutput``, ``jupyter_client.launch_kernel``,
``setuptools._distutils.spawn.spawn``, ``multiprocessing.popen_fork.Popen`` ...

The first scan in a new environment builds the index (a few seconds); later processes load it
from the cache in milliseconds. ``python -m deepthinker_nb.scanner.envindex`` builds it ahead
of time (for an install or bootstrap step) and shows what it holds.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import envcache
from .environment import DEFAULT_BUDGET_S, FORMAT, fingerprint, search_roots, walk
from .sinks import seed_danger
from .tables import Danger

INDEX_FILE_ENV = "DEEPTHINKER_NB_ENV_INDEX"
"""A prebuilt index file to read (never written), e.g. the host's, handed to a kernel."""


def _shown_sink(sink: str) -> str:
    return f"the event-loop method {sink[2:]}()" if sink.startswith("*.") else sink


class EnvIndex:
    """Names marked by the environment walk, each with the sink it reaches."""

    def __init__(self, entries: Mapping[str, Sequence[Any]], complete: bool = True,
                 key: str = "", stats: Mapping[str, float] | None = None) -> None:
        self.entries: dict[str, tuple[str, int, str]] = {
            name: (str(e[0]), int(e[1]), str(e[2])) for name, e in entries.items()
            if isinstance(e, (list, tuple)) and len(e) == 3}
        self.complete = complete
        self.key = key
        self.stats = dict(stats or {})
        self._tops = frozenset(name.partition(".")[0] for name in self.entries)
        self._dangers: dict[str, Danger | None] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, qual: str) -> Danger | None:
        """The Danger of a qualified name (``Class().method`` counts as ``Class.method``)."""
        if qual.partition(".")[0] not in self._tops:
            return None
        name = qual.replace("()", "") if "()" in qual else qual
        if name in self._dangers:
            return self._dangers[name]
        danger = None
        entry = self.entries.get(name)
        if entry is not None:
            sink, _, via = entry
            seed = seed_danger(sink)
            if seed is not None:
                what = f"{seed.what}: it reaches {_shown_sink(sink)}"
                if via and via != name:
                    what += f" through {via}"
                danger = Danger(seed.rule, seed.severity, what)
        self._dangers[name] = danger
        return danger

    # -- storage ---------------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        return {"format": FORMAT, "key": self.key, "complete": self.complete,
                "stats": self.stats,
                "entries": {n: list(e) for n, e in sorted(self.entries.items())}}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> EnvIndex:
        return cls(payload.get("entries") or {}, bool(payload.get("complete", False)),
                   str(payload.get("key", "")), payload.get("stats") or {})

    @classmethod
    def build(cls, roots: Iterable[tuple[str, bool]] | None = None,
              budget_s: float = DEFAULT_BUDGET_S, key: str = "") -> EnvIndex:
        """Walk the environment (or the given roots) now."""
        result = walk(roots, budget_s)
        entries = {name: (hit.sink, hit.level, hit.via) for name, hit in result.hits.items()}
        return cls(entries, result.complete, key, result.stats)


def load_or_build(budget_s: float = DEFAULT_BUDGET_S, rebuild: bool = False) -> EnvIndex:
    """The index of the running environment: from the cache, or built and then cached (kept
    in memory only when the cache dir cannot be written)."""
    roots = search_roots()
    key = fingerprint(roots)
    payload = None
    if not rebuild:
        payload = envcache.load_file(os.environ.get(INDEX_FILE_ENV, ""), key) or (
            envcache.load(key))
    if payload is not None:
        return EnvIndex.from_payload(payload)
    try:
        index = EnvIndex.build(roots, budget_s, key)
    except Exception:  # a bug in the walk must not block every cell: the tables still apply
        return EnvIndex({}, complete=False, key=key)  # not cached: the next process retries
    envcache.store(key, index.to_payload())
    return index


def cached_index() -> EnvIndex:
    """The index of the running environment if a process already built it (the file named by
    ``$DEEPTHINKER_NB_ENV_INDEX``, the user's cache or the environment's copy left by
    ``--install``), without walking; otherwise an empty index marked incomplete. For scanners
    that must not spend seconds on their first cell (the guard inside a kernel, behind a
    client that scanned the cell with the full index)."""
    try:
        key = fingerprint(search_roots())
    except Exception:  # an unreadable environment: no index, the tables still apply
        return EnvIndex({}, complete=False)
    payload = envcache.load_file(os.environ.get(INDEX_FILE_ENV, ""), key) or envcache.load(key)
    if payload is not None:
        return EnvIndex.from_payload(payload)
    return EnvIndex({}, complete=False, key=key)


_lock = threading.Lock()
_default: EnvIndex | None = None


def default_index() -> EnvIndex:
    """The process-wide index of the running environment: read from the file named by
    ``$DEEPTHINKER_NB_ENV_INDEX`` or from the cache, or built on first use."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = load_or_build()
    return _default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deepthinker_nb.scanner.envindex",
        description="Build (or show) the scanner's index of installed functions that start "
                    "processes or open sockets.")
    parser.add_argument("--rebuild", action="store_true", help="walk again, ignoring the cache")
    parser.add_argument("--install", action="store_true",
                        help="also leave a copy in the environment's prefix, where its kernels "
                             "(another HOME, another user) read it")
    parser.add_argument("names", nargs="*", help="qualified names to look up")
    args = parser.parse_args(argv)
    index = load_or_build(rebuild=args.rebuild)
    where = envcache.index_path(index.key)
    print(f"environment index {index.key}: {len(index)} names, "
          f"{'complete' if index.complete else 'INCOMPLETE (time budget reached)'}, "
          f"stored at {where if where.exists() else '(memory only)'}")
    if args.install:
        shared = envcache.store(index.key, index.to_payload(), shared=True)
        print(f"environment copy: {shared or 'not written (the prefix is read-only)'}")
        if shared is None:
            return 1
    if index.stats:
        print("walk: " + ", ".join(f"{k}={v:g}" for k, v in sorted(index.stats.items())))
    for name in args.names:
        danger = index.lookup(name)
        print(f"{name}: {f'{danger.rule} ({danger.severity}): {danger.what}' if danger else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
