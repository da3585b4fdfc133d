"""The installed environment as the environment index sees it: module files, fingerprint, walk.

Nothing is imported. Module files are found by walking the standard library, the site-packages
directories and the project directories their ``.pth`` files name (editable installs); each
file is read as bytes, and only files that can matter are parsed with ast (summary.py):

1. files holding a seed token (``subprocess``, ``os.system(``, ``socket(`` ...);
2. then, a few rounds: files of the same top-level package that mention a module in which a
   function was marked in the round before (``from .launcher import *``, ``from
   ._process_posix import system``).

The walk stops at a time budget; an index built in less time than that is complete.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import os
import site
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from .reach import CallGraph, Hit, exported_names, marked_functions
from .sinks import SEED_MODULES, SEED_ROOTS, SEED_TOKENS, seed_danger, seed_digest
from .summary import ModuleSummary, summarise

FORMAT = 1
DEPTH = 4  # levels of calls between a marked function and its sink
DEFAULT_BUDGET_S = 30.0
MAX_FILE_BYTES = 1_000_000  # larger modules are generated tables, not helpers
_SKIP_DIRS = frozenset({"__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo",
                        "lib2to3", "ensurepip", "site-packages", "dist-packages", "lib-dynload",
                        "pydoc_data", "benchmarks", "docs", "examples"})


@dataclass(frozen=True)
class ModuleFile:
    name: str
    path: str
    is_package: bool

    @property
    def top(self) -> str:
        return self.name.partition(".")[0]


@dataclass
class WalkResult:
    """The marked names, whether the walk finished within its budget, and what it cost."""

    hits: dict[str, Hit]
    complete: bool
    stats: dict[str, float] = field(default_factory=dict)


def site_dirs() -> list[str]:
    """site-packages directories the kernel's interpreter imports from (user site included)."""
    dirs: list[str] = []
    paths = sysconfig.get_paths()
    candidates = [paths.get("purelib", ""), paths.get("platlib", "")]
    try:
        candidates += site.getsitepackages()
    except AttributeError:  # pragma: no cover - old virtualenv's site module
        pass
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    for d in candidates:
        if d and os.path.isdir(d) and os.path.realpath(d) not in map(os.path.realpath, dirs):
            dirs.append(d)
    return dirs


def _pth_dirs(sites: Iterable[str]) -> list[str]:
    """Project directories named by .pth files (editable installs)."""
    out: list[str] = []
    for d in sites:
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(d, name), encoding="utf-8", errors="replace") as fh:
                    lines = fh.read().splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                path = line if os.path.isabs(line) else os.path.join(d, line)
                if os.path.isdir(path) and path not in out:
                    out.append(path)
    return out


def search_roots() -> list[tuple[str, bool]]:
    """(directory, packages only) in import order: stdlib, site dirs, editable projects."""
    stdlib = sysconfig.get_paths()["stdlib"]
    sites = site_dirs()
    roots = [(stdlib, False)] + [(d, False) for d in sites]
    roots += [(d, True) for d in _pth_dirs(sites) if d not in sites]
    return roots


def module_files(roots: Iterable[tuple[str, bool]]) -> list[ModuleFile]:
    """Every importable module file under the roots; the first root wins a module name."""
    seen: set[str] = set()
    out: list[ModuleFile] = []
    for root, packages_only in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            parts = [] if rel == "." else rel.split(os.sep)
            if packages_only and parts and "__init__.py" not in filenames:
                dirnames[:] = []
                continue
            dirnames[:] = sorted(d for d in dirnames
                                 if d not in _SKIP_DIRS and d.isidentifier()
                                 and (not packages_only or parts or os.path.isfile(
                                     os.path.join(dirpath, d, "__init__.py"))))
            if packages_only and not parts:
                continue
            for fname in sorted(filenames):
                if not fname.endswith(".py"):
                    continue
                stem = fname[:-3]
                if not stem.isidentifier():
                    continue
                is_package = stem == "__init__"
                if is_package and not parts:
                    continue
                name = ".".join(parts if is_package else [*parts, stem])
                if name in seen:
                    continue
                seen.add(name)
                out.append(ModuleFile(name, os.path.join(dirpath, fname), is_package))
    return out


def fingerprint(roots: Iterable[tuple[str, bool]] | None = None) -> str:
    """A hash of the environment: interpreter, package list (name + version), search roots
    and the seeds. A change to any of them makes a new index."""
    roots = list(roots) if roots is not None else search_roots()
    h = hashlib.sha256()
    h.update(f"format {FORMAT} depth {DEPTH} seeds {seed_digest()}\n".encode())
    h.update(f"{sys.implementation.cache_tag} {sys.version}\n".encode())
    for root, packages_only in roots:
        h.update(f"root {root} {packages_only}\n".encode())
    dirs = [r for r, _ in roots]
    packages = set()
    for dist in importlib.metadata.distributions(path=dirs):
        try:
            name, version = dist.metadata["Name"] or "", dist.version
        except Exception:  # a broken METADATA file
            name, version = "", ""
        packages.add(f"{str(name).lower().replace('_', '-')}=={version}")
    for entry in sorted(packages):
        h.update(entry.encode() + b"\n")
    return h.hexdigest()[:32]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def walk(roots: Iterable[tuple[str, bool]] | None = None,
         budget_s: float = DEFAULT_BUDGET_S) -> WalkResult:
    """Summarise the modules that can reach a seed and mark what reaches one."""
    started = time.monotonic()
    deadline = started + budget_s
    files = module_files(search_roots() if roots is None else roots)
    graph = CallGraph()
    parsed: set[str] = set()
    complete = True
    stats = {"modules": float(len(files))}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived nodes: the cyclic collector would triple the time
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = []
            for mf in files:
                if time.monotonic() > deadline:
                    complete = False
                    break
                if mf.top in SEED_MODULES:
                    continue
                data = _read(mf.path)
                if data is not None and any(t in data for t in SEED_TOKENS):
                    batch += _parse(mf, data, parsed)
            graph.add(batch)
            stats["seed_round_s"] = round(time.monotonic() - started, 3)
            hits = marked_functions(graph, seed_danger, SEED_ROOTS, DEPTH)
            expanded: set[str] = set()
            for _ in range(DEPTH - 1):
                if not complete:
                    break
                wanted = _expansion_tokens(graph, hits, expanded)
                batch = []
                for mf in files:
                    pairs = wanted.get(mf.top)
                    if not pairs or mf.name in parsed:
                        continue
                    if time.monotonic() > deadline:
                        complete = False
                        break
                    data = _read(mf.path)
                    if data is not None and any(
                            module in data and any(n in data for n in names)
                            for module, names in pairs):
                        batch += _parse(mf, data, parsed)
                if not batch:
                    break
                graph.add(batch)
                hits = marked_functions(graph, seed_danger, SEED_ROOTS, DEPTH)
            hits = exported_names(graph, hits)
    finally:
        if gc_was_enabled:
            gc.enable()
    stats.update({"parsed": float(len(parsed)), "marked": float(len(hits)),
                  "seconds": round(time.monotonic() - started, 3)})
    return WalkResult(hits, complete, stats)


def _expansion_tokens(graph: CallGraph, hits: dict[str, Hit],
                      expanded: set[str]) -> dict[str, list[tuple[bytes, list[bytes]]]]:
    """Per top-level package: (module name, marked names) pairs that a module calling into a
    newly marked module must both mention (in its import and at the call)."""
    by_module: dict[str, set[str]] = {}
    for name in hits:
        module = graph.module_of(name)
        if module is not None and module not in expanded:
            by_module.setdefault(module, set()).add(name[len(module) + 1:].partition(".")[0])
    expanded.update(by_module)
    out: dict[str, list[tuple[bytes, list[bytes]]]] = {}
    for module in sorted(by_module):
        top, _, rest = module.partition(".")
        token = (rest.rpartition(".")[2] or top).encode()
        out.setdefault(top, []).append((token, sorted(n.encode() for n in by_module[module])))
    return out


def _parse(mf: ModuleFile, data: bytes, parsed: set[str]) -> list[ModuleSummary]:
    parsed.add(mf.name)
    try:
        summary = summarise(mf.name, mf.is_package, data)
    except Exception:  # an odd module must not stop the walk
        return []
    return [summary] if summary is not None else []
