"""Which functions reach a sink: the call graph of module summaries, walked back from the seeds.

A function that calls a seed (``subprocess.Popen``, ``os.system``, ``loop.subprocess_exec``
...) is at level 1; one that calls a level-``k`` function, or instantiates a class whose
``__init__`` / ``__new__`` is at level ``k``, is at level ``k + 1``, up to ``depth``. Calls are
followed through re-exports (``from ._posix import system``), star imports, module-level
aliases (``system = Handler().system``) and inheritance. ``exported_names`` then names every
way to reach a marked function: its definition, the names that re-export it, and
``Class.method`` for methods inherited by subclasses.

Only calls whose last name component is the name of something already marked are resolved,
so a level costs a set intersection per function, not a resolution per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .summary import ModuleSummary

_MAX_RESOLVE_DEPTH = 12
_CONSTRUCTORS = ("__init__", "__new__")


def _last(qual: str) -> str:
    return qual.rpartition(".")[2]


@dataclass(frozen=True)
class Hit:
    """How a name reaches a sink: the sink, the level, and the next hop (empty when direct)."""

    sink: str
    level: int
    via: str


class CallGraph:
    """The merged summaries of many modules, with name resolution across them."""

    def __init__(self, summaries: Iterable[ModuleSummary] = ()) -> None:
        self.functions: dict[str, frozenset[str]] = {}
        self.names: dict[str, frozenset[str]] = {}  # function -> last components of callees
        self.classes: dict[str, tuple[str, ...]] = {}
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.stars: dict[str, tuple[str, ...]] = {}
        self.exports: dict[str, tuple[str, ...] | None] = {}
        self.renames: dict[str, set[str]] = {}  # target name -> alias names that differ
        self.modules: dict[str, str] = {}  # function or class -> its module
        self._memo: dict[str, tuple[str, ...]] = {}
        self._methods: dict[tuple[str, str], str | None] = {}
        self.add(summaries)

    def add(self, summaries: Iterable[ModuleSummary]) -> None:
        """Merge more modules (resolution caches are dropped)."""
        for s in summaries:
            self.functions.update(s.functions)
            for func, callees in s.functions.items():
                self.names[func] = frozenset(_last(c) for c in callees)
            self.classes.update(s.classes)
            for name in (*s.functions, *s.classes):
                self.modules[name] = s.name
            self.aliases.update(s.aliases)
            for alias, targets in s.aliases.items():
                name = _last(alias)
                for target in targets:
                    if _last(target) != name:
                        self.renames.setdefault(_last(target), set()).add(name)
            if s.stars:
                self.stars[s.name] = s.stars
            self.exports[s.name] = s.exports
        self._memo.clear()
        self._methods.clear()

    def module_of(self, qual: str) -> str | None:
        """The module defining a function or class of the graph."""
        return self.modules.get(qual)

    def is_node(self, qual: str) -> bool:
        return qual in self.functions or qual in self.classes

    def targets(self, qual: str, depth: int = 0) -> tuple[str, ...]:
        """What ``qual`` denotes: functions and classes of the graph, or names outside it."""
        found = self._memo.get(qual)
        if found is not None:
            return found
        if depth > _MAX_RESOLVE_DEPTH:
            return (qual,)
        self._memo[qual] = (qual,)  # a cycle of aliases resolves to the name itself
        found = self._memo[qual] = tuple(sorted(self._targets(qual, depth + 1)))
        return found

    def _targets(self, qual: str, depth: int) -> set[str]:
        if qual in self.functions or qual in self.classes:
            return {qual}
        bound = self.aliases.get(qual)
        if bound:
            out: set[str] = set()
            for target in bound:
                out.update(self.targets(target, depth))
            return out
        prefix, _, last = qual.rpartition(".")
        if not prefix:
            return {qual}
        out = set()
        for owner in self.targets(prefix, depth):
            if owner in self.classes:
                method = self.method(owner, last)
                out.add(method if method is not None else f"{owner}.{last}")
                continue
            candidate = f"{owner}.{last}"
            if candidate == qual:
                out.add(qual)
            elif owner not in self.functions:
                out.update(self.targets(candidate, depth))
            for star in self.stars.get(owner, ()):
                if self.exported(star, last):
                    out.update(t for t in self.targets(f"{star}.{last}", depth)
                               if self.is_node(t))
        return out or {qual}

    def exported(self, module: str, name: str) -> bool:
        """Whether ``from module import *`` binds ``name``."""
        names = self.exports.get(module)
        return name in names if names is not None else not name.startswith("_")

    def method(self, cls: str, name: str) -> str | None:
        """``cls.name``, or that of the first base (depth-first, left to right) defining it."""
        key = (cls, name)
        if key in self._methods:
            return self._methods[key]
        self._methods[key] = None
        found = None
        for current in self.mro(cls):
            candidate = f"{current}.{name}"
            if candidate in self.functions or candidate in self.classes or (
                    candidate in self.aliases):
                found = candidate
                break
        self._methods[key] = found
        return found

    def mro(self, cls: str) -> list[str]:
        """The class and its bases known to the graph, depth-first, left to right."""
        order, seen, todo = [], set(), [cls]
        while todo:
            current = todo.pop(0)
            if current in seen:
                continue
            seen.add(current)
            order.append(current)
            todo[:0] = [t for b in self.classes.get(current, ()) for t in self.targets(b)
                        if t in self.classes]
        return order


def marked_functions(graph: CallGraph, seed: Callable[[str], object | None],
                     seed_roots: frozenset[str], depth: int) -> dict[str, Hit]:
    """Functions, methods and classes reaching a seed within ``depth`` calls."""
    memo: dict[str, bool] = {}

    def is_seed(qual: str) -> bool:
        found = memo.get(qual)
        if found is None:
            found = memo[qual] = seed(qual) is not None
        return found

    # Names under which a seed is re-exported (``from .compat import Popen``).
    seed_aliases = {_last(alias) for alias, targets in graph.aliases.items()
                    if any(t.partition(".")[0] in seed_roots and is_seed(t) for t in targets)}
    hits: dict[str, Hit] = {}
    for func in sorted(graph.functions):
        for callee in sorted(graph.functions[func]):
            if callee.partition(".")[0] in seed_roots and is_seed(callee):
                hits[func] = Hit(callee, 1, "")
                break
            if _last(callee) in seed_aliases:
                sink = next((t for t in graph.targets(callee)
                             if not graph.is_node(t) and is_seed(t)), None)
                if sink is not None:
                    hits[func] = Hit(sink, 1, "")
                    break
    constructed = _constructed_by(graph)
    frontier = sorted(hits)
    for level in range(2, depth + 2):
        for name in list(frontier):  # calling a class runs its reached constructor
            for cls in constructed.get(name, ()):
                if cls not in hits:
                    hits[cls] = Hit(hits[name].sink, hits[name].level, name)
                    frontier.append(cls)
        if level > depth or not frontier:
            break
        wanted = set(frontier)
        names = {_last(n) for n in frontier}
        for name in list(names):
            names |= graph.renames.get(name, set())
        new: dict[str, Hit] = {}
        for func in sorted(graph.functions):
            if func in hits or graph.names[func].isdisjoint(names):
                continue
            for callee in sorted(graph.functions[func]):
                if _last(callee) not in names:
                    continue
                target = next((t for t in graph.targets(callee) if t in wanted), None)
                if target is not None:
                    new[func] = Hit(hits[target].sink, level, target)
                    break
        hits.update(new)
        frontier = sorted(new)
    return hits


def exported_names(graph: CallGraph, hits: dict[str, Hit]) -> dict[str, Hit]:
    """``hits`` plus inherited methods (``Sub.m``), re-exports and class aliases."""
    out = dict(hits)
    _add_inherited(graph, out)
    _add_aliases(graph, out)
    return out


def _constructed_by(graph: CallGraph) -> dict[str, list[str]]:
    """Constructor method -> the classes whose instantiation runs it."""
    out: dict[str, list[str]] = {}
    for cls in sorted(graph.classes):
        for method in _CONSTRUCTORS:
            found = graph.method(cls, method)
            if found is not None:
                out.setdefault(found, []).append(cls)
    return out


def _add_inherited(graph: CallGraph, hits: dict[str, Hit]) -> None:
    """``Sub.m`` for every class whose method ``m`` is a reached method of a base."""
    reached_by_class: dict[str, list[str]] = {}
    for name in hits:
        owner = name.rpartition(".")[0]
        if owner in graph.classes:
            reached_by_class.setdefault(owner, []).append(name)
    if not reached_by_class:
        return
    for cls in sorted(graph.classes):
        if not graph.classes[cls]:
            continue
        for base in graph.mro(cls)[1:]:
            for name in reached_by_class.get(base, ()):
                key = f"{cls}.{_last(name)}"
                if key not in hits and graph.method(cls, _last(name)) == name:
                    hits[key] = Hit(hits[name].sink, hits[name].level, name)


def _add_aliases(graph: CallGraph, hits: dict[str, Hit]) -> None:
    """Re-exports, star re-exports and class aliases of reached names."""
    by_owner: dict[str, list[str]] = {}
    for name in hits:
        by_owner.setdefault(name.rpartition(".")[0], []).append(name)
    for _ in range(4):  # aliases of aliases, a few levels
        names = {_last(n) for n in hits} | {_last(o) for o in by_owner}
        added: dict[str, Hit] = {}
        for alias in sorted(graph.aliases):
            if alias in hits or all(_last(t) not in names for t in graph.aliases[alias]):
                continue
            for target in graph.targets(alias):
                if target in hits:
                    added[alias] = Hit(hits[target].sink, hits[target].level, target)
                    break
                if target in graph.classes:  # Alias.method for the class's reached methods
                    for name in by_owner.get(target, ()):
                        key = f"{alias}.{_last(name)}"
                        if key not in hits:
                            added[key] = Hit(hits[name].sink, hits[name].level, name)
        for module, stars in sorted(graph.stars.items()):
            for star in stars:
                for name in by_owner.get(star, ()):
                    key = f"{module}.{_last(name)}"
                    if key not in hits and key not in added and graph.exported(star, _last(name)):
                        added[key] = Hit(hits[name].sink, hits[name].level, name)
        if not added:
            break
        hits.update(added)
        for name in added:
            by_owner.setdefault(name.rpartition(".")[0], []).append(name)
