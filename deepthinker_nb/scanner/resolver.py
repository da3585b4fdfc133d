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

_EMPTY: frozenset[str] = frozenset()


def param_qual(name: str) -> str:
    return f"{PARAM_PREFIX}{name}>"


class SymbolTable:
    """What each local name may denote: qualified names and/or a folded constant."""

    def __init__(self, trusted_names: Iterable[str] = ()) -> None:
        self.quals: dict[str, frozenset[str]] = {}
        self.consts: dict[str, Folded] = {}
        self.star_modules: list[str] = []
        self.trusted = frozenset(trusted_names)
        self.conditional = 0  # > 0 inside branches, loops, try, function bodies

    def copy(self) -> SymbolTable:
        """An independent copy (for carrying bindings from one cell to the next)."""
        other = SymbolTable(self.trusted)
        other.quals = dict(self.quals)
        other.consts = dict(self.consts)
        other.star_modules = list(self.star_modules)
        return other

    def lookup_quals(self, name: str) -> frozenset[str]:
        found = self.quals.get(name)
        if found is not None:
            return found
        return self.default_quals(name)

    def default_quals(self, name: str) -> frozenset[str]:
        if name in self.trusted:
            return frozenset({param_qual(name)})
        if name in _KERNEL_NAMES:
            return frozenset({_KERNEL_NAMES[name]})
        if name in BUILTIN_NAMES:
            return frozenset({"builtins." + name})
        if name in IMPLICIT_MODULES:
            return frozenset({IMPLICIT_MODULES[name]})
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

    def __init__(self, table: SymbolTable) -> None:
        self.table = table
        self.folder = Folder(self.resolve, table.lookup_const)
        self._memo: dict[int, tuple[ast.AST, frozenset[str]]] = {}

    def fold_str(self, node: ast.AST | None) -> str | None:
        return self.folder.fold_str(node)

    def resolve(self, node: ast.AST) -> set[str]:
        """Possible qualified names of ``node`` (empty when unknown). Never raises.

        Results are memoised per node: the visitor asks about the same node from the node
        itself and from its parent, with the same bindings in force.
        """
        if node.__class__ is ast.Name:
            return self.table.lookup_quals(node.id)  # type: ignore[attr-defined,return-value]
        key = id(node)
        found = self._memo.get(key)
        if found is not None and found[0] is node:
            return found[1]  # type: ignore[return-value]
        try:
            result = frozenset(self._resolve(node, 0))
        except RecursionError:
            result = frozenset()
        self._memo[key] = (node, result)
        return result  # type: ignore[return-value]

    def _resolve(self, node: ast.AST, depth: int) -> set[str]:
        if depth > 40:
            return set()
        depth += 1
        if isinstance(node, ast.Name):
            return set(self.table.lookup_quals(node.id))
        if isinstance(node, ast.Attribute):
            return {f"{q}.{node.attr}" for q in self._resolve(node.value, depth)
                    if not q.startswith(PARAM_PREFIX)}
        if isinstance(node, ast.Subscript):
            key = self.fold_str(node.slice)
            if key is None:
                return set()
            out = set()
            for q in self._resolve(node.value, depth):
                if q == GLOBALS:
                    out |= self.table.lookup_quals(key)
                elif q == "builtins" or q == "sys.modules":
                    out.add(key if q == "sys.modules" else f"builtins.{key}")
                elif q.endswith(".__dict__"):
                    out.add(f"{q[: -len('.__dict__')]}.{key}")
                elif q == "IPython.get_ipython().user_ns":
                    out |= self.table.lookup_quals(key)
            return out
        if isinstance(node, ast.Call):
            return self._resolve_call(node, depth)
        if isinstance(node, ast.NamedExpr):
            return self._resolve(node.value, depth)
        if isinstance(node, ast.IfExp):
            return self._resolve(node.body, depth) | self._resolve(node.orelse, depth)
        if isinstance(node, ast.BoolOp):
            out: set[str] = set()
            for value in node.values:
                out |= self._resolve(value, depth)
            return out
        if isinstance(node, ast.Starred):
            return self._resolve(node.value, depth)
        return set()

    def _resolve_call(self, node: ast.Call, depth: int) -> set[str]:
        funcs = self._resolve(node.func, depth)
        args = node.args
        out: set[str] = set()
        for f in funcs:
            if f in ("builtins.getattr", "builtins.object.__getattribute__",
                     "builtins.type.__getattribute__") and len(args) >= 2:
                name = self.fold_str(args[1])
                if name is not None:
                    out |= {f"{q}.{name}" for q in self._resolve(args[0], depth)}
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
