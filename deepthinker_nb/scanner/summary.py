"""What one module's source says about its calls: read with ast, never imported.

For the environment index. Per function and method: the qualified names it calls, resolved
through the module's imports, imports inside the function, ``self.`` / ``cls.`` / ``super()``
and simple local aliases (``p = subprocess.Popen``); names passed as arguments
(``run_in_executor(None, os.system, cmd)``) count as calls. Per module: the names it binds to
other objects (``from ._posix import system``, ``system = Handler().system``), the modules it
star-imports and its ``__all__``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .tables import METHOD_SINKS

# Sinks that are dangerous whatever their arguments: a call to them is recorded even when the
# function passes none of its own values (``os.fork()``, ``socket.socket()``).
ARGLESS_SINKS = frozenset({"os.fork", "os.forkpty", "pty.fork", "posix.fork", "socket.socket",
                           "socket.socketpair", "socket.fromfd"})

_Name, _Attribute, _Call = ast.Name, ast.Attribute, ast.Call
# Node classes that hold nothing a summary needs below them.
_LEAVES = frozenset({ast.Constant, ast.Name, ast.Load, ast.Store, ast.Del, ast.Pass,
                     ast.Break, ast.Continue, ast.Global, ast.Nonlocal,
                     *(op for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
                       for op in base.__subclasses__())})
_SCALAR_FIELDS = frozenset({"ctx", "id", "attr", "arg", "name", "asname", "module", "level",
                            "is_async", "conversion", "kind", "type_comment", "tag", "rest",
                            "kwd_attrs", "names", "op", "ops", "type_ignores", "returns",
                            "type_params", "annotation", "decorator_list"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_BLOCKS = (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor,
           *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def _fields(cls: type) -> tuple[str, ...]:
    found = _CHILD_FIELDS.get(cls)
    if found is None:
        found = _CHILD_FIELDS[cls] = tuple(f for f in getattr(cls, "_fields", ())
                                             if f not in _SCALAR_FIELDS)
    return found


@dataclass
class ModuleSummary:
    """The call-relevant facts of one module (all names are fully qualified)."""

    name: str
    functions: dict[str, frozenset[str]]  # function or method -> what it calls
    classes: dict[str, tuple[str, ...]]  # class -> its bases
    aliases: dict[str, tuple[str, ...]]  # module or class attribute -> what it is bound to
    stars: tuple[str, ...]  # modules imported with ``from m import *``
    exports: tuple[str, ...] | None  # ``__all__`` when it is a literal


def summarise(name: str, is_package: bool, source: bytes | str) -> ModuleSummary | None:
    """The summary of module ``name`` from its source, or None when it does not parse."""
    try:
        tree = compile(source, name, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    return _Module(name, is_package).summarise(tree)


class _Module:
    __slots__ = ("bindings", "class_nodes", "classes", "exports", "name", "package", "pending",
                 "stars")

    def __init__(self, name: str, is_package: bool) -> None:
        self.name = name
        self.package = name if is_package else name.rpartition(".")[0]
        self.bindings: dict[str, set[str]] = {}  # module and class attributes -> targets
        self.classes: dict[str, tuple[str, ...]] = {}
        self.class_nodes: list[tuple[str, ast.ClassDef]] = []
        self.pending: list[tuple[str, ast.AST, str | None]] = []
        self.stars: list[str] = []
        self.exports: list[str] | None = None

    def summarise(self, tree: ast.Module) -> ModuleSummary:
        self._scope(tree.body, None)
        for qual, node in self.class_nodes:
            bases: set[str] = set()
            for base in node.bases:
                bases.update(self._quals(base, None, None, None))
            self.classes[qual] = tuple(sorted(bases))
        functions = {}
        for qual, node, cls in self.pending:
            try:
                functions[qual] = self._function(node, cls)
            except RecursionError:
                continue
        prefix = self.name + "."
        aliases = {}
        for key, targets in self.bindings.items():
            qual = key if "." in key else prefix + key
            targets = targets - {qual}
            if targets:
                aliases[qual] = tuple(sorted(targets))
        return ModuleSummary(self.name, functions, self.classes, aliases, tuple(self.stars),
                             tuple(self.exports) if self.exports is not None else None)

    # -- module and class scopes -----------------------------------------------------------
    def _bind(self, key: str, targets: set[str] | frozenset[str]) -> None:
        if targets:
            self.bindings.setdefault(key, set()).update(targets)

    def _from(self, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        base = self.package
        for _ in range(level - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{module}" if module else base

    def _scope(self, body: list[ast.stmt], cls: str | None) -> None:
        """Module or class body: definitions, imports and aliases (branches included)."""
        owner = cls or self.name
        for node in body:
            kind = node.__class__
            if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                qual = f"{owner}.{node.name}"  # type: ignore[attr-defined]
                self.pending.append((qual, node, cls))
                if cls is None:
                    self._bind(node.name, {qual})  # type: ignore[attr-defined]
            elif kind is ast.ClassDef:
                qual = f"{owner}.{node.name}"  # type: ignore[attr-defined]
                self.class_nodes.append((qual, node))  # type: ignore[arg-type]
                if cls is None:
                    self._bind(node.name, {qual})  # type: ignore[attr-defined]
                self._scope(node.body, qual)  # type: ignore[attr-defined]
            elif cls is None and kind is ast.Import:
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.asname:
                        self._bind(alias.asname, {alias.name})
                    else:
                        top = alias.name.partition(".")[0]
                        self._bind(top, {top})
            elif cls is None and kind is ast.ImportFrom:
                base = self._from(node.module, node.level)  # type: ignore[attr-defined]
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.name == "*":
                        self.stars.append(base)
                    else:
                        self._bind(alias.asname or alias.name, {f"{base}.{alias.name}"})
            elif kind is ast.Assign or kind is ast.AnnAssign or kind is ast.AugAssign:
                self._assign(node, cls)
            elif kind in _BLOCKS:
                for field in ("body", "orelse", "finalbody"):
                    self._scope(getattr(node, field, None) or [], cls)
                for handler in getattr(node, "handlers", ()):
                    self._scope(handler.body, cls)

    def _assign(self, node: ast.AST, cls: str | None) -> None:
        value = getattr(node, "value", None)
        targets = node.targets if node.__class__ is ast.Assign else [node.target]  # type: ignore
        for target in targets:
            if target.__class__ is not _Name:
                continue
            ident = target.id
            if ident == "__all__" and cls is None:
                names = [e.value for e in getattr(value, "elts", ())
                         if e.__class__ is ast.Constant and isinstance(e.value, str)]
                if node.__class__ is ast.AugAssign and self.exports is not None:
                    self.exports.extend(names)
                elif node.__class__ is not ast.AugAssign:
                    self.exports = names
                continue
            if value is not None and value.__class__ in (_Name, _Attribute, _Call):
                quals = self._quals(value, None, None, None)
                self._bind(ident if cls is None else f"{cls}.{ident}", quals)

    # -- functions ---------------------------------------------------------------------------
    def _function(self, node: ast.AST, cls: str | None) -> frozenset[str]:
        """What the function calls with values it was given (its arguments, ``self``, or
        locals computed from them); calls with nothing but constants and globals are left
        out, except of the sinks that are dangerous whatever their arguments (fork)."""
        args = node.args  # type: ignore[attr-defined]
        positional = [*args.posonlyargs, *args.args]
        selfname = None
        if cls is not None and positional and not any(
                d.__class__ is _Name and d.id == "staticmethod"
                for d in node.decorator_list):  # type: ignore[attr-defined]
            selfname = positional[0].arg
        tainted = {a.arg for a in (*positional, *args.kwonlyargs, args.vararg, args.kwarg)
                   if a is not None}
        local: dict[str, set[str]] = {}
        calls: list[ast.Call] = []
        aliases: list[tuple[str, ast.AST]] = []  # name = value, for callee resolution
        flows: list[tuple[ast.AST, ast.AST]] = []  # (target, value), for taint
        stack: list = list(node.body)  # type: ignore[attr-defined]
        fields = _CHILD_FIELDS
        leaves = _LEAVES
        while stack:
            n = stack.pop()
            kind = n.__class__
            if kind is _Call:
                calls.append(n)
            elif kind is ast.Import:
                for alias in n.names:
                    if alias.asname:
                        local.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        top = alias.name.partition(".")[0]
                        local.setdefault(top, set()).add(top)
                continue
            elif kind is ast.ImportFrom:
                base = self._from(n.module, n.level)
                for alias in n.names:
                    if alias.name != "*":
                        local.setdefault(alias.asname or alias.name, set()).add(
                            f"{base}.{alias.name}")
                continue
            elif kind is ast.Assign:
                targets = n.targets
                if len(targets) == 1 and targets[0].__class__ is _Name and (
                        n.value.__class__ in (_Name, _Attribute, _Call)):
                    aliases.append((targets[0].id, n.value))
                for target in targets:
                    flows.append((target, n.value))
            elif kind is ast.AugAssign or kind is ast.AnnAssign or kind is ast.NamedExpr:
                if n.value is not None:
                    flows.append((n.target, n.value))
            elif kind is ast.For or kind is ast.AsyncFor or kind is ast.comprehension:
                flows.append((n.target, n.iter))
            elif kind is ast.withitem:
                target = n.optional_vars
                if target is not None:
                    flows.append((target, n.context_expr))
                    if target.__class__ is _Name:
                        aliases.append((target.id, n.context_expr))
            for field in fields.get(kind) or _fields(kind):
                value = getattr(n, field)
                if value.__class__ is list:
                    for item in value:
                        if item is not None and item.__class__ not in leaves:
                            stack.append(item)
                elif value is not None and value.__class__ not in leaves:
                    stack.append(value)
        names: dict[ast.AST, frozenset[str]] = {}
        flows_done = False
        for _ in range(2):  # twice, so that ``a = b`` after ``b = os.system`` is followed
            for ident, value in aliases:
                quals = self._quals(value, local, cls, selfname)
                if quals:
                    local.setdefault(ident, set()).update(quals)
        callees: set[str] = set()
        for call in calls:
            func = call.func
            quals = self._quals(func, local, cls, selfname)
            handed: list[str] = []  # callables handed over: executor(None, os.system, cmd)
            for value in (*call.args, *(kw.value for kw in call.keywords)):
                if value.__class__ is _Name or value.__class__ is _Attribute:
                    handed.extend(self._quals(value, local, cls, selfname))
            method_sink = func.__class__ is _Attribute and func.attr in METHOD_SINKS
            if not quals and not handed and not method_sink:
                continue  # len(x), x.append(y): nothing the graph knows
            if not flows_done:  # the taint of locals, computed for the first call needing it
                flows_done = True
                for _ in range(2):  # twice: ``b = a`` before ``a = param`` in a loop body
                    for target, value in flows:
                        if not tainted.isdisjoint(_names(value, names)):
                            tainted.update(_names(target, names))
            if not _tainted(call, tainted, names):
                callees.update(q for q in quals if q in ARGLESS_SINKS)
                continue
            callees.update(quals)
            callees.update(handed)
            if method_sink:
                callees.add("*." + func.attr)  # type: ignore[attr-defined]
        return frozenset(callees)

    def _quals(self, node: ast.AST, local: dict[str, set[str]] | None, cls: str | None,
               selfname: str | None) -> set[str] | frozenset[str]:
        """Qualified names an expression may denote (``X().m`` counts as ``X.m``)."""
        chain: list[str] = []
        while node.__class__ is _Attribute:
            chain.append(node.attr)  # type: ignore[attr-defined]
            node = node.value  # type: ignore[attr-defined]
        kind = node.__class__
        if kind is _Name:
            ident = node.id  # type: ignore[attr-defined]
            if local is not None and ident in local:
                bases: set[str] | frozenset[str] | tuple[str, ...] = local[ident]
            elif ident == selfname and cls is not None:
                bases = (cls,)
            else:
                bases = self.bindings.get(ident, ())
        elif kind is _Call:
            func = node.func  # type: ignore[attr-defined]
            if func.__class__ is _Name and func.id == "super" and cls is not None:
                bases = self.classes.get(cls, ())
            else:
                bases = self._quals(func, local, cls, selfname)
        else:
            return frozenset()
        if not bases:
            return frozenset()
        if not chain:
            return set(bases)
        suffix = ".".join(reversed(chain))
        return {f"{b}.{suffix}" for b in bases}


def _tainted(call: ast.Call, tainted: set[str], memo: dict[ast.AST, frozenset[str]]) -> bool:
    """Whether a call is given one of the function's own values: as an argument, or as the
    receiver of a method (``self.run()``, ``proc.communicate()``)."""
    root = call.func
    while root.__class__ is _Attribute:
        root = root.value  # type: ignore[attr-defined]
    if root.__class__ is _Name and root.id in tainted:  # type: ignore[attr-defined]
        return True
    for value in (*call.args, *(kw.value for kw in call.keywords), root):
        if value.__class__ is _Name:
            if value.id in tainted:  # type: ignore[attr-defined]
                return True
        elif value.__class__ is not ast.Constant and not tainted.isdisjoint(
                _names(value, memo)):
            return True
    return False


def _names(node: ast.AST, memo: dict[ast.AST, frozenset[str]]) -> frozenset[str]:
    """The variable names an expression (or assignment target) mentions."""
    found = memo.get(node)
    if found is not None:
        return found
    if node.__class__ is _Name:
        found = frozenset((node.id,))  # type: ignore[attr-defined]
    else:
        out = set()
        stack = [node]
        while stack:
            n = stack.pop()
            kind = n.__class__
            if kind is _Name:
                out.add(n.id)
                continue
            for field in _CHILD_FIELDS.get(kind) or _fields(kind):
                value = getattr(n, field)
                if value.__class__ is list:
                    stack.extend(v for v in value if v is not None)
                elif value is not None:
                    stack.append(value)
        found = frozenset(out)
    memo[node] = found
    return found
