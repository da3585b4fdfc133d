"""Alias and import tracking: which qualified name (``os.system``) a local expression denotes.

A cell can hide a dangerous function behind ``import os as o``, ``from os import system as s``,
``f = o.system``, ``getattr(o, "sys" + "tem")``, ``__builtins__["eval"]``, ``sys.modules["os"]``
or ``operator.attrgetter("system")(o)``. The resolver follows all of these statically.

The table is flow-insensitive where that is the safe choice: a binding made inside a branch,
loop, ``try`` or function body is *added* to the possible meanings of a name instead of replacing
them, so ``if False: exec = print`` cannot hide the builtin ``exec``.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

from .folding import Folded, Folder

BUILTIN_NAMES = frozenset(dir(builtins)) | {"__builtins__", "get_ipython", "display"}
# Names an IPython kernel puts into the user namespace.
_KERNEL_NAMES = {"get_ipython": "IPython.get_ipython", "display": "IPython.display.display",
                 "__builtins__": "builtins"}
# Names that denote a module even when this cell did not import it: notebooks import in one cell
# and use in the next, so ``os.system("x")`` in a cell without ``import os`` is still os.system.
# Only modules whose import is allowed are listed (a blocked ``import subprocess`` never ran),
# and no module whose name is a common variable name in data science (signal, code, io, types).
IMPLICIT_MODULES: dict[str, str] = {
    name: name for name in (
        "os", "sys", "shutil", "pickle", "importlib", "posix", "marshal", "base64", "codecs",
        "zlib", "binascii", "operator", "functools", "inspect", "gc", "runpy", "timeit",
        "tempfile", "sqlite3", "dill", "cloudpickle", "joblib", "yaml", "urllib", "threading",
        "multiprocessing", "tarfile", "zipfile", "pathlib", "pandas", "numpy", "torch",
        "seaborn", "sklearn", "asyncio", "concurrent", "shelve", "codeop", "pdb", "cProfile",
        "faulthandler", "pkgutil", "zipimport", "nltk", "IPython",
    )
}
IMPLICIT_MODULES.update({"pd": "pandas", "np": "numpy", "plt": "matplotlib.pyplot",
                         "sns": "seaborn", "tf": "tensorflow", "Path": "pathlib.Path"})
PARAM_PREFIX = "<param:"
GLOBALS = "<globals>"
CLASS_PREFIX = "<class:"  # a class defined in the cell: "<class:A>", an instance "<class:A>()"
FUNCTION_PREFIX = "<fn:"  # a function or lambda of the cell: "<fn:name@line:col>"

_EMPTY: frozenset[str] = frozenset()
# Callees whose result _resolve_call can name (any other call ``f(...)`` resolves to "f()").
_SPECIAL_CALLS = frozenset({
    "builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__",
    "builtins.__import__", "importlib.import_module", "importlib.__import__", "builtins.vars",
    "builtins.globals", "builtins.locals", "functools.partial", "functools.partialmethod",
    "builtins.type",
})


def param_qual(name: str) -> str:
    return f"{PARAM_PREFIX}{name}>"


# What an unbound name denotes, by precedence: implicit modules < builtins < kernel names.
_STATIC_DEFAULTS: dict[str, frozenset[str]] = {
    **{name: frozenset({qual}) for name, qual in IMPLICIT_MODULES.items()},
    **{name: frozenset({"builtins." + name}) for name in BUILTIN_NAMES},
    **{name: frozenset({qual}) for name, qual in _KERNEL_NAMES.items()},
}
_DEFAULTS_BY_TRUSTED: dict[frozenset[str], dict[str, frozenset[str]]] = {}


def _defaults_for(trusted: frozenset[str]) -> dict[str, frozenset[str]]:
    """The unbound-name table for a policy's trusted names (which take precedence), built
    once per set of trusted names instead of once per cell."""
    found = _DEFAULTS_BY_TRUSTED.get(trusted)
    if found is None:
        found = {**_STATIC_DEFAULTS, **{n: frozenset({param_qual(n)}) for n in trusted}}
        if len(_DEFAULTS_BY_TRUSTED) < 64:
            _DEFAULTS_BY_TRUSTED[trusted] = found
    return found


class SymbolTable:
    """What each local name may denote: qualified names and/or a folded constant."""

    __slots__ = ("_defaults", "conditional", "consts", "functions", "quals", "returns",
                 "star_modules", "trusted")

    def __init__(self, trusted_names: Iterable[str] = ()) -> None:
        self.quals: dict[str, frozenset[str]] = {}
        self.consts: dict[str, Folded] = {}
        self.star_modules: list[str] = []
        # Functions and lambdas of the cell, by their "<fn:...>" name: what they may return,
        # and (for one-expression bodies) their parameters and returned expression.
        self.returns: dict[str, frozenset[str]] = {}
        self.functions: dict[str, tuple[tuple[str, ...], ast.AST]] = {}
        self.trusted = frozenset(trusted_names)
        self._defaults = _defaults_for(self.trusted)
        self.conditional = 0  # > 0 inside branches, loops, try, function bodies

    def copy(self) -> SymbolTable:
        """An independent copy (for carrying bindings from one cell to the next)."""
        other = SymbolTable(self.trusted)
        other.quals = dict(self.quals)
        other.consts = dict(self.consts)
        other.star_modules = list(self.star_modules)
        other.returns = dict(self.returns)
        other.functions = dict(self.functions)
        return other

    def lookup_function(self, qual: str) -> tuple[tuple[str, ...], ast.AST] | None:
        return self.functions.get(qual)

    def member(self, qual: str, attr: str) -> frozenset[str]:
        """What ``Class.attr`` denotes for a class of the cell (``qual`` "<class:A>" or an
        instance of it, "<class:A>()"): its class-body binding, if any."""
        return self.quals.get(f"{qual[len(CLASS_PREFIX):].partition('>')[0]}.{attr}", _EMPTY)

    def lookup_quals(self, name: str) -> frozenset[str]:
        found = self.quals.get(name)
        if found is not None:
            return found
        found = self._defaults.get(name)
        if found is not None:
            return found
        if self.star_modules:
            return frozenset(f"{m}.{name}" for m in self.star_modules)
        return _EMPTY

    def lookup_const(self, name: str) -> Folded | None:
        return self.consts.get(name)

    def bind(self, name: str, quals: Iterable[str] = (), const: Folded | None = None) -> None:
        new = frozenset(quals)
        if self.conditional:
            # Union with every meaning the name had before (including the builtin/default one).
            self.quals[name] = self.lookup_quals(name) | new
            old = self.consts.get(name)
            if old is not None and (const is None or const.value != old.value):
                self.consts.pop(name, None)
            elif const is not None and old is None and name not in self.quals:
                self.consts[name] = const
            return
        self.quals[name] = new
        if const is None:
            self.consts.pop(name, None)
        else:
            self.consts[name] = const


class Resolver:
    """Turns expressions into sets of qualified names using a SymbolTable and a Folder."""

    __slots__ = ("_memo", "folder", "table")

    def __init__(self, table: SymbolTable) -> None:
        self.table = table
        self.folder = Folder(self.resolve, table.lookup_const, table.lookup_function)
        self._memo: dict[ast.AST, frozenset[str]] = {}

    def fold_str(self, node: ast.AST | None) -> str | None:
        return self.folder.fold_str(node)

    def close(self) -> None:
        """Break the resolver <-> folder reference cycle and drop the memo, so that the
        cell's tree is freed right away instead of by the cyclic garbage collector."""
        self._memo.clear()
        self.folder.close()

    def resolve(self, node: ast.AST) -> set[str]:
        """Possible qualified names of ``node`` (empty when unknown). Never raises.

        Results are memoised per node: the visitor asks about the same node from the node
        itself and from its parent, with the same bindings in force.
        """
        if node.__class__ is ast.Name:
            return self.table.lookup_quals(node.id)  # type: ignore[attr-defined,return-value]
        found = self._memo.get(node)  # nodes hash by identity
        if found is not None:
            return found  # type: ignore[return-value]
        try:
            result = frozenset(self._resolve(node, 0))
        except RecursionError:
            result = _EMPTY
        self._memo[node] = result
        return result  # type: ignore[return-value]

    def _resolve(self, node: ast.AST, depth: int) -> set[str] | frozenset[str]:
        # The result may be the table's own frozenset: callers must not mutate it.
        if depth > 40:
            return _EMPTY
        depth += 1
        cls = node.__class__
        if cls is ast.Name:
            return self.table.lookup_quals(node.id)  # type: ignore[attr-defined]
        if cls is ast.Attribute:
            value = node.value  # type: ignore[attr-defined]
            if value.__class__ is ast.Name:  # pd.read_csv: the Name branch above, inlined
                base = _EMPTY if depth > 40 else self.table.lookup_quals(value.id)
            else:
                base = self._resolve(value, depth)
            if not base:
                return _EMPTY  # df.groupby(...).mean: a local variable, the common case
            attr = node.attr  # type: ignore[attr-defined]
            if len(base) == 1:  # the common case, without a comprehension
                (q,) = base
                if q[0] == "<":
                    return self._member(q, attr)
                return {f"{q}.{attr}"}
            out = set()
            for q in base:
                if q[0] == "<":
                    out |= self._member(q, attr)
                else:
                    out.add(f"{q}.{attr}")
            return out
        if cls is ast.Call:
            return self._resolve_call(node, depth)  # type: ignore[arg-type]
        if cls is ast.Subscript:
            bases = self._resolve(node.value, depth)  # type: ignore[attr-defined]
            if not bases:
                return _EMPTY  # df["col"]: nothing to look up
            key = self.fold_str(node.slice)  # type: ignore[attr-defined]
            if key is None:
                return _EMPTY
            out = set()
            for q in bases:
                if q == GLOBALS:
                    out |= self.table.lookup_quals(key)
                elif q == "builtins" or q == "sys.modules":
                    out.add(key if q == "sys.modules" else f"builtins.{key}")
                elif q.endswith(".__dict__"):
                    out.add(f"{q[: -len('.__dict__')]}.{key}")
                elif q == "IPython.get_ipython().user_ns":
                    out |= self.table.lookup_quals(key)
            return out
        if cls is ast.NamedExpr:
            return self._resolve(node.value, depth)
        if cls is ast.IfExp:
            return self._resolve(node.body, depth) | self._resolve(node.orelse, depth)
        if cls is ast.BoolOp:
            out = set()
            for value in node.values:
                out |= self._resolve(value, depth)
            return out
        if cls is ast.Starred:
            return self._resolve(node.value, depth)
        return _EMPTY

    def _passed_through(self, func: str, node: ast.Call, depth: int) -> set[str]:
        """What a one-expression function returns when that is (an attribute chain of) one of
        its parameters: ``f(pd.io.common).os`` with ``def f(x): return x``."""
        found = self.table.functions.get(func)
        if found is None:
            return set()
        params, expr = found
        chain: list[str] = []
        while expr.__class__ is ast.Attribute:
            chain.append(expr.attr)  # type: ignore[attr-defined]
            expr = expr.value  # type: ignore[attr-defined]
        if expr.__class__ is not ast.Name or expr.id not in params:  # type: ignore[attr-defined]
            return set()
        index = params.index(expr.id)  # type: ignore[attr-defined]
        if index >= len(node.args):
            return set()
        suffix = "".join("." + a for a in reversed(chain))
        return {q + suffix for q in self._resolve(node.args[index], depth) if q[0] != "<"}

    def _member(self, qual: str, attr: str) -> frozenset[str]:
        """An attribute of a placeholder: a class member, or nothing (parameters, globals)."""
        if qual.startswith(CLASS_PREFIX):
            return self.table.member(qual, attr)
        return _EMPTY

    def _resolve_call(self, node: ast.Call, depth: int) -> set[str] | frozenset[str]:
        funcs = self._resolve(node.func, depth)
        args = node.args
        if not funcs and node.func.__class__ is not ast.Call:
            return _EMPTY  # model.fit(X, y): a method of a local variable
        out: set[str] = set()
        for f in funcs:
            if f[0] == "<" and f.startswith(FUNCTION_PREFIX):
                out |= self.table.returns.get(f, _EMPTY)  # def f(): return os.system
                out |= self._passed_through(f, node, depth)  # def f(x): return x.os
            elif f not in _SPECIAL_CALLS:
                out.add(f + "()")
            elif f in ("builtins.getattr", "builtins.object.__getattribute__",
                     "builtins.type.__getattribute__") and len(args) >= 2:
                name = self.fold_str(args[1])
                if name is not None:
                    for q in self._resolve(args[0], depth):
                        if q[0] == "<":
                            out |= self._member(q, name)
                        else:
                            out.add(f"{q}.{name}")
            elif f in ("builtins.__import__", "importlib.import_module",
                       "importlib.__import__") and args:
                name = self.fold_str(args[0])
                if name:
                    pkg = self.fold_str(args[1]) if len(args) > 1 and f != "builtins.__import__" \
                        else None
                    if name.startswith(".") and pkg:
                        name = pkg + name
                    out.add(name)
            elif f in ("builtins.vars",) and args:
                out |= {f"{q}.__dict__" for q in self._resolve(args[0], depth)}
            elif f in ("builtins.globals", "builtins.locals", "builtins.vars"):
                out.add(GLOBALS)
            elif f in ("functools.partial", "functools.partialmethod") and args:
                out |= self._resolve(args[0], depth)
            elif f in ("builtins.type",) and len(args) == 1:
                out.add("<type>")
            else:
                out.add(f + "()")
        # operator.attrgetter("a.b")(obj) / operator.methodcaller("name", ...)(obj)
        if isinstance(node.func, ast.Call) and args:
            inner = self._resolve(node.func.func, depth)
            if inner & {"operator.attrgetter", "operator.methodcaller"} and node.func.args:
                name = self.fold_str(node.func.args[0])
                if name:
                    out |= {f"{q}.{name}" for q in self._resolve(args[0], depth)}
        return out
