"""The AST visitor: one pass over a cell that tracks what its names and paths mean.

Bindings are recorded as the visitor meets them (imports, assignments, ``with ... as``, loops),
so a use is judged with what the cell had bound before it: ``import os as o`` then ``o.system``
is os.system, ``for p in ["/etc/passwd"]: open(p)`` opens /etc/passwd. The visitor judges
nothing itself; at each node it hands what it knows to the checks (checks.py).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from .astnodes import CHILD_FIELDS, child_fields
from .checks import (
    check_attribute,
    check_call,
    check_import,
    check_imported_name,
    check_name,
    check_subscript,
    check_unjoined_threads,
)
from .dangers import DangerLookup, danger_of
from .file_checks import check_path_join
from .findings import Finding
from .folding import FOLDABLE_METHODS, Folded
from .hostpaths import HOST_ATTRIBUTES, SPEC_ATTRIBUTES
from .pathflow import MAX_CHOICES, derives_from_param, elements_texts, iter_texts, path_texts
from .policy import ScanPolicy
from .resolver import CLASS_PREFIX, FUNCTION_PREFIX, Resolver, SymbolTable
from .severity import Severity
from .tables import Danger

_CHAIN_LINKS = frozenset({ast.Attribute, ast.Name})
# Values whose path prefixes a variable keeps (text_vars): paths built at run time, lists.
_TEXT_VALUES = frozenset({ast.JoinedStr, ast.BinOp, ast.List, ast.Tuple, ast.Set, ast.Call})
# Values that ``name = value`` can make an alias of (``run = os.system``).
_ALIAS_VALUES = frozenset({ast.Name, ast.Attribute, ast.Subscript, ast.Call})
_OPEN_CALLS = frozenset({"builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open"})
_FOLDABLE_VALUES = frozenset({ast.JoinedStr, ast.BinOp, ast.Call, ast.List, ast.Tuple,
                              ast.Subscript, ast.ListComp, ast.GeneratorExp})
# Attribute names whose value the folder may know (os.sep, string.ascii_lowercase, sys.prefix).
_CONST_ATTRS = frozenset(q.rpartition(".")[2] for q in HOST_ATTRIBUTES) | {
    "__file__", "__path__", *SPEC_ATTRIBUTES}
_FOLDABLE_ROOTS = frozenset({"builtins", "base64", "binascii", "codecs", "zlib", "bz2", "lzma",
                             "gzip", "functools", "operator"})


def _leaf(self: CellVisitor, node: ast.AST) -> None:
    """Visitor for nodes with nothing to check and no children worth visiting."""


# Node class -> unbound visitor function (``_leaf`` for leaves).
_DISPATCH: dict[type, Callable[..., None]] = {
    ast.Constant: _leaf, ast.Load: _leaf, ast.Store: _leaf, ast.Del: _leaf, ast.Pass: _leaf,
    ast.Break: _leaf, ast.Continue: _leaf, ast.Global: _leaf, ast.Nonlocal: _leaf,
    # operators (the op/ops of BinOp, UnaryOp, BoolOp, Compare, AugAssign) have no fields
    **{op: _leaf for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
       for op in base.__subclasses__()},
}


@dataclass
class CellState:
    """What earlier cells of the same notebook bound (aliases, constants) and wrote (files)."""

    table: SymbolTable
    written: set[str]


class TooDeep(Exception):
    """The AST is nested deeper than the policy allows; the scanner fails closed."""


# How the visitor asks the scanner to scan an embedded payload (decoded or magic body):
# scan(text, payload depth, ipython) -> findings.
PayloadScan = Callable[[str, int, bool], list[Finding]]


class CellVisitor:
    """Walks one parsed cell, tracks what its names and paths mean, and has the checks judge
    each node; ``run(tree)`` returns the findings.

    A visitor like ast.NodeVisitor (``visit``/``generic_visit``/``visit_<Class>``), with slots:
    one is built per cell, so construction and attribute access are on the hot path.
    """

    __slots__ = ("_class_body", "_depth", "_found", "_max_depth", "_returns", "alias_values",
                 "cache", "collect_ids", "env_lookup", "file_vars", "fold", "fold_str",
                 "identifiers", "joined", "judged", "line_base", "path_choice", "path_choices",
                 "path_vars", "payload_depth", "policy", "resolve", "resolver", "safe_names",
                 "scan_payload", "table", "text_vars", "threads", "written")

    def __init__(self, policy: ScanPolicy, scan_payload: PayloadScan, payload_depth: int,
                 danger_cache: dict[str, DangerLookup],
                 line_base: int = 0, state: CellState | None = None,
                 env_lookup: Callable[[str], Danger | None] | None = None) -> None:
        self.policy = policy
        self.env_lookup = env_lookup  # names the environment index marked (envindex.py)
        self.scan_payload = scan_payload
        self.payload_depth = payload_depth
        self.table = state.table.copy() if state else SymbolTable(policy.trusted_set)
        self.resolver = Resolver(self.table)
        self.fold_str = self.resolver.folder.fold_str
        self.fold = self.resolver.folder.fold
        self.resolve = self.resolver.resolve
        self.cache = danger_cache
        self.safe_names: set[str] = danger_cache.setdefault(("safe",), set())  # type: ignore
        self._found: dict[tuple[str, int], Finding] = {}
        self.judged: set[ast.AST] = set()  # nodes already judged
        self.alias_values: set[ast.AST] = set()  # values bound to a plain name
        self._depth = 0
        self._max_depth = policy.max_ast_depth
        self.identifiers: set[str] = set()
        self.written: set[str] = set(state.written) if state else set()
        self.file_vars: dict[str, tuple[str | None, str]] = {}
        self.path_vars: dict[str, ast.AST] = {}
        # What a variable's path may start with, when it is built at run time from a constant
        # start (path = f"/proc/{pid}/cwd/" + rel) or takes its values from a list (for p in
        # [...]): one constant prefix per possible value, enough to tell an escape.
        self.text_vars: dict[str, tuple[str, ...]] = {}
        self.path_choice = 0  # which of a variable's text_vars values path_text takes
        self.path_choices = 0  # the most values a variable path_text went through had
        self.threads: list[ast.AST] = []
        self.joined = False
        self.line_base = line_base  # for cell magics: raw line of the %% line
        self._class_body: str | None = None  # the class whose body is being visited
        self._returns: list[set[str]] = []  # per enclosing function: what it may return
        # Identifiers are only needed for the look-alike check, i.e. for non-ASCII cells.
        self.collect_ids = True

    # -- entry points -------------------------------------------------------------------
    def state(self) -> CellState:
        """The bindings and written files to carry into the next cell."""
        return CellState(self.table.copy(), set(self.written))

    def run(self, tree: ast.AST) -> list[Finding]:
        """Visit the cell; its findings, the worst per rule and line, in the order found."""
        try:
            self.visit(tree)
        finally:
            self.resolver.close()
        check_unjoined_threads(self)
        return list(self._found.values())

    # -- reporting ----------------------------------------------------------------------
    def report(self, node: ast.AST | None, rule: str, severity: Severity, message: str) -> None:
        """Report a finding at ``node``'s position."""
        line = getattr(node, "lineno", 1) or 1
        col = getattr(node, "col_offset", 0) or 0
        self._add(rule, severity, message, line, col)

    def _add(self, rule: str, severity: Severity, message: str, line: int, col: int) -> None:
        """Keep the worst finding per (rule, line). Snippets are added by the scanner, once."""
        key = (rule, line)
        old = self._found.get(key)
        if old is None or severity.value > old.severity.value:
            self._found[key] = Finding(rule, severity, message, line, col)

    def report_payload(self, node: ast.AST, text: str, what: str, ipython: bool,
                       body_line_base: int | None = None) -> int:
        """Scan an embedded payload (decoded string, magic body); its findings are reported
        at ``node``, or at their own lines under ``body_line_base``. Returns how many."""
        if self.payload_depth + 1 > self.policy.max_payload_depth:
            self.report(node, "encoded-payload", Severity.CRITICAL,
                        f"{what} nests payloads deeper than {self.policy.max_payload_depth} "
                        "levels")
            return 1
        inner = self.scan_payload(text, self.payload_depth + 1, ipython)
        line = getattr(node, "lineno", 1)
        for f in inner:
            if body_line_base is not None:
                target = body_line_base + f.line
                msg = f.message
            else:
                target = line
                msg = f"{what} (payload line {f.line}): {f.message}"
            self._add(f.rule_id, f.severity, msg, target,
                      f.col if body_line_base is not None else getattr(node, "col_offset", 0))
        return len(inner)

    # -- traversal ----------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        # No try/finally: any exception aborts the whole analysis, so the depth need not be
        # restored, and this is the hottest function of the scanner.
        depth = self._depth + 1
        if depth > self._max_depth:
            raise TooDeep
        cls = node.__class__
        if cls is ast.Name:  # the most common node; it visits no children, so no depth to set
            self.visit_Name(node)  # type: ignore[arg-type]
            return
        try:
            method = _DISPATCH[cls]
        except KeyError:
            method = _DISPATCH[cls] = getattr(CellVisitor, "visit_" + cls.__name__,
                                              CellVisitor.generic_visit)
        if method is not _leaf:
            self._depth = depth
            method(self, node)
            self._depth = depth - 1

    def generic_visit(self, node: ast.AST) -> None:
        """Like ast.NodeVisitor.generic_visit, over the fields that can hold child nodes."""
        for field in CHILD_FIELDS.get(node.__class__) or child_fields(node.__class__):
            value = getattr(node, field, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    # Module and Expr are the most common nodes without checks of their own: no field loop.
    def visit_Module(self, node: ast.Module) -> None:
        for stmt in node.body:
            self.visit(stmt)
        for ignore in node.type_ignores:
            self.visit(ignore)

    def visit_Expr(self, node: ast.Expr) -> None:
        self.visit(node.value)

    def _visit_list(self, nodes: list[ast.AST]) -> None:
        for n in nodes:
            if isinstance(n, ast.AST):
                self.visit(n)

    def _conditional(self, nodes: list[ast.AST]) -> None:
        """Visit a branch, loop or handler body: its bindings add meanings to a name."""
        self.table.conditional += 1
        try:
            self._visit_list(nodes)
        finally:
            self.table.conditional -= 1

    # -- danger lookup ------------------------------------------------------------------
    def danger(self, qual: str) -> DangerLookup:
        """(danger, canonical name, library internal it went through) for a qualified name,
        cached across the scanner's cells (dangers.py)."""
        cached = self.cache.get(qual)
        if cached is not None:
            return cached
        result = danger_of(qual, self.policy, self.env_lookup)
        if len(self.cache) < 50_000:
            self.cache[qual] = result
        return result

    # -- names, attributes, subscripts ---------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if self.collect_ids:
            self.identifiers.add(node.id)
        check_name(self, node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self.collect_ids:
            self.identifiers.add(node.attr)
        check_attribute(self, node)
        if node.value.__class__ in _CHAIN_LINKS:
            # The whole chain was judged above; its prefixes are module paths, not uses.
            self.judged.add(node.value)
        self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        check_path_join(self, node)
        self.visit(node.left)
        self.visit(node.right)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        check_subscript(self, node)
        self.visit(node.value)
        self.visit(node.slice)

    # -- bindings -----------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            check_import(self, node, name)
            if alias.asname:
                self.table.bind(alias.asname, {name})
            else:
                top = name.split(".")[0]
                self.table.bind(top, {top})

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return  # relative imports: the cell's own package, nothing to resolve
        check_import(self, node, module)
        for alias in node.names:
            if alias.name == "*":
                self.table.star_modules.append(module)
                continue
            qual = f"{module}.{alias.name}"
            check_import(self, node, qual, submodule=True)
            check_imported_name(self, node, qual)
            self.table.bind(alias.asname or alias.name, {qual})

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        targets = node.targets
        # Only a plain ``name = value`` outside a class body is an alias the table can follow;
        # ``self.m = os``, ``A.m = os`` or ``m = os`` in a class body are not.
        if value.__class__ in _ALIAS_VALUES and not self._class_body and (
                targets[0].__class__ is ast.Name if len(targets) == 1
                else all(t.__class__ is ast.Name for t in targets)):
            self.alias_values.add(value)
        self.visit(value)
        quals = self.resolve(value)
        const = self._fold_const(value)
        for target in targets:
            self._bind_target(target, value, quals, const)
            self.visit(target)

    def _fold_const(self, value: ast.AST) -> Folded | None:
        """The constant a name is bound to, when the folder can tell it cheaply."""
        cls = value.__class__
        if cls is ast.Constant:
            v = value.value  # type: ignore[attr-defined]
            return Folded(v) if isinstance(v, (str, bytes, int)) else None
        if cls is ast.Attribute:
            # os.sep, string.ascii_lowercase, A.name (a class-body constant of the cell)
            base = value.value  # type: ignore[attr-defined]
            if value.attr not in _CONST_ATTRS and not (  # type: ignore[attr-defined]
                    base.__class__ is ast.Name and any(q.startswith(CLASS_PREFIX)
                                                       for q in self.table.lookup_quals(base.id))):
                return None
            folded = self.fold(value)
            return folded if folded is not None and isinstance(
                folded.value, (str, bytes, list, int)) else None
        if cls is ast.Lambda or cls is ast.Dict or cls is ast.Compare:
            return None
        if cls is ast.Name:
            return self.table.lookup_const(value.id)  # type: ignore[attr-defined]
        if cls is ast.Call:
            func = value.func  # type: ignore[attr-defined]
            quals = self.resolve(func)
            if quals and not any(q.partition(".")[0] in _FOLDABLE_ROOTS
                                 or q.startswith(FUNCTION_PREFIX) for q in quals):
                return None  # pd.read_csv(...), model.fit(...): not a constant
            if not quals and func.__class__ is ast.Attribute and func.attr not in FOLDABLE_METHODS:
                return None  # df.drop(...): the folder would give up at once
        if cls in _FOLDABLE_VALUES:
            folded = self.fold(value)
            if folded is not None and isinstance(folded.value, (str, bytes, list, int)):
                return folded
        return None

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            if isinstance(node.value, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                self.alias_values.add(node.value)
            self.visit(node.value)
            self._bind_target(node.target, node.value, self.resolve(node.value),
                              self._fold_const(node.value))
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            combined = ast.BinOp(left=ast.Name(id=node.target.id, ctx=ast.Load()), op=node.op,
                                 right=node.value)
            self.table.bind(node.target.id, (), self.fold(combined))
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.alias_values.add(node.value)
        self.visit(node.value)
        self._bind_target(node.target, node.value, self.resolve(node.value),
                          self._fold_const(node.value))

    def _bind_target(self, target: ast.AST, value: ast.AST | None, quals: set[str],
                     const: Folded | None) -> None:
        """Bind an assignment target (names, tuples, starred) to what the value means."""
        if target.__class__ is ast.Name:
            name = target.id  # type: ignore[attr-defined]
            if value.__class__ is ast.Lambda:  # k = lambda: "os": a function of the cell
                quals = {self._function(name, value, value.body)}  # type: ignore[attr-defined]
            self.table.bind(name, quals, const)
            if self._class_body:  # also reachable as Class.name
                self.table.bind(f"{self._class_body}.{name}", quals, const)
            self._track_file_var(name, value)
            if const is None and value.__class__ in _TEXT_VALUES:
                self._track_text_var(name, value)  # type: ignore[arg-type]
            elif self.text_vars and not self.table.conditional:
                self.text_vars.pop(name, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = getattr(value, "elts", None)
            if isinstance(value, (ast.Tuple, ast.List)) and elts is not None and len(
                    elts) == len(target.elts):
                for t, v in zip(target.elts, elts, strict=True):
                    self._bind_target(t, v, self.resolve(v), self._fold_const(v))
            else:
                for t in target.elts:
                    self._bind_target(t, None, set(), None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None, set(), None)

    def _track_file_var(self, name: str, value: ast.AST | None) -> None:
        """Remember a file object's path and mode (file_vars) or a path value (path_vars)."""
        if self.file_vars:
            self.file_vars.pop(name, None)
        if self.path_vars:
            self.path_vars.pop(name, None)
        cls = value.__class__
        if cls is ast.Call:
            quals = self.resolve(value.func)  # type: ignore[union-attr]
            if not quals:
                return  # model.fit(...) and other methods of local variables
            if not quals.isdisjoint(_OPEN_CALLS):
                path = self.fold_str(value.args[0]) if value.args else None
                mode = self.fold_str(value.args[1]) if len(value.args) > 1 else None
                for kw in value.keywords:
                    if kw.arg == "mode":
                        mode = self.fold_str(kw.value)
                self.file_vars[name] = (path, mode or "r")
            elif any(q.startswith("pathlib.") for q in quals) or (
                    isinstance(value.func, ast.Attribute) and value.func.attr == "join"
                    and quals and all(q.startswith("os.path") for q in quals)):
                self.path_vars[name] = value
        elif (cls is ast.BinOp or cls is ast.JoinedStr) and derives_from_param(self, value):
            self.path_vars[name] = value

    def _track_text_var(self, name: str, value: ast.AST) -> None:
        """Remember what the path held in ``name`` may start with (text_vars)."""
        cls = value.__class__
        if cls is ast.List or cls is ast.Tuple or cls is ast.Set:
            texts = elements_texts(self, value.elts)  # type: ignore[attr-defined]
        elif cls is ast.Call and not (
                value.func.__class__ is ast.Attribute  # type: ignore[attr-defined]
                and value.func.attr == "format"):  # type: ignore[attr-defined]
            texts = ()  # pathlib and os.path.join calls are followed as path_vars
        else:
            texts = path_texts(self, value)
        old = self.text_vars.get(name) if self.table.conditional else None
        if old:  # a binding in a branch or a loop adds a meaning
            texts = (*old, *(t for t in texts if t not in old))[:MAX_CHOICES]
        if texts:
            self.text_vars[name] = texts
        elif self.text_vars:
            self.text_vars.pop(name, None)

    def _bind_loop(self, target: ast.AST, iterable: ast.AST) -> None:
        """``for p in ['/proc/1/environ', ...]``: p may be any of the list's paths."""
        if target.__class__ is ast.Tuple and iterable.__class__ is ast.Call and len(
                target.elts) == 2 and "builtins.enumerate" in self.resolve(  # type: ignore
                    iterable.func):  # type: ignore[attr-defined]
            target = target.elts[1]  # type: ignore[attr-defined]  # for i, p in enumerate(..)
        if target.__class__ is not ast.Name:
            return
        texts = iter_texts(self, iterable)
        if texts:
            self.text_vars[target.id] = texts  # type: ignore[attr-defined]

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        quals: set[str] = set()
        if isinstance(node.iter, (ast.List, ast.Tuple, ast.Set)):
            for elt in node.iter.elts:
                quals |= self.resolve(elt)
        self.table.conditional += 1
        try:
            self._bind_target(node.target, None, quals, None)
            self._bind_loop(node.target, node.iter)
            self._visit_list(node.body)
            self._visit_list(node.orelse)
        finally:
            self.table.conditional -= 1

    def _visit_comprehension(self, node: ast.AST, results: tuple[str, ...]) -> None:
        """Generators first (their targets bound like a for loop's), then the result: the
        names a comprehension binds are its own, so the cell's are restored after it."""
        saved: list[tuple[str, tuple[str, ...] | None]] = []
        self.table.conditional += 1
        try:
            for gen in node.generators:  # type: ignore[attr-defined]
                self.visit(gen.iter)
                quals: set[str] = set()
                if isinstance(gen.iter, (ast.List, ast.Tuple, ast.Set)):
                    for elt in gen.iter.elts:
                        quals |= self.resolve(elt)
                for sub in ast.walk(gen.target):
                    if sub.__class__ is ast.Name:
                        saved.append((sub.id, self.text_vars.get(sub.id)))  # type: ignore
                self._bind_target(gen.target, None, quals, None)
                self._bind_loop(gen.target, gen.iter)
                self.visit(gen.target)
                self._visit_list(gen.ifs)
            for field in results:
                self.visit(getattr(node, field))
        finally:
            self.table.conditional -= 1
            for name, texts in reversed(saved):
                if texts is None:
                    self.text_vars.pop(name, None)
                else:
                    self.text_vars[name] = texts

    def visit_ListComp(self, node: ast.AST) -> None:
        self._visit_comprehension(node, ("elt",))

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.AST) -> None:
        self._visit_comprehension(node, ("key", "value"))

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind_target(item.optional_vars, item.context_expr,
                                  self.resolve(item.context_expr), None)
        self._visit_list(node.body)

    visit_AsyncWith = visit_With

    def visit_If(self, node: ast.AST) -> None:
        self.visit(node.test)  # type: ignore[attr-defined]
        self._conditional(node.body)  # type: ignore[attr-defined]
        self._conditional(node.orelse)  # type: ignore[attr-defined]

    visit_While = visit_If

    def visit_Try(self, node: ast.AST) -> None:
        self._conditional(node.body)  # type: ignore[attr-defined]
        for handler in node.handlers:  # type: ignore[attr-defined]
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self.table.bind(handler.name)
            self._conditional(handler.body)
        self._conditional(node.orelse)  # type: ignore[attr-defined]
        self._conditional(node.finalbody)  # type: ignore[attr-defined]

    visit_TryStar = visit_Try

    def visit_Match(self, node: ast.AST) -> None:
        self.visit(node.subject)  # type: ignore[attr-defined]
        for case in node.cases:  # type: ignore[attr-defined]
            if case.guard is not None:
                self.visit(case.guard)
            self._conditional(case.body)

    def _function(self, name: str, node: ast.AST, expr: ast.AST | None) -> str:
        """Register a function or lambda of the cell; its "<fn:...>" name. A one-expression
        body (``return expr``, a lambda) is kept so that the folder can call it."""
        qual = f"{FUNCTION_PREFIX}{name}@{node.lineno}:{node.col_offset}>"  # type: ignore
        args: ast.arguments = node.args  # type: ignore[attr-defined]
        if expr is not None and not (args.vararg or args.kwarg or args.kwonlyargs
                                     or args.defaults):
            self.table.functions[qual] = (
                tuple(a.arg for a in (*args.posonlyargs, *args.args)), expr)
        if node.__class__ is ast.Lambda:
            self.table.returns[qual] = frozenset(self.resolve(expr))  # type: ignore[arg-type]
        return qual

    def visit_FunctionDef(self, node: ast.AST) -> None:
        if self.collect_ids:
            self.identifiers.add(node.name)  # type: ignore[attr-defined]
        self._visit_list(node.decorator_list)  # type: ignore[attr-defined]
        args: ast.arguments = node.args  # type: ignore[attr-defined]
        self._visit_list(args.defaults)
        self._visit_list([d for d in args.kw_defaults if d is not None])
        body = [s for s in node.body if not (  # type: ignore[attr-defined]
            s.__class__ is ast.Expr and s.value.__class__ is ast.Constant)]  # docstrings
        expr = body[0].value if len(body) == 1 and body[0].__class__ is ast.Return else None
        qual = self._function(node.name, node, expr)  # type: ignore[attr-defined]
        self.table.bind(node.name, {qual})  # type: ignore[attr-defined]
        if self._class_body:  # a method: Class.name
            self.table.bind(f"{self._class_body}.{node.name}", {qual})  # type: ignore
        self.table.conditional += 1
        outer, self._class_body = self._class_body, None
        self._returns.append(set())
        try:
            for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg,
                      args.kwarg):
                if a is not None:
                    if self.collect_ids:
                        self.identifiers.add(a.arg)
                    self.table.bind(a.arg)
            self._visit_list(node.body)  # type: ignore[attr-defined]
        finally:
            self.table.conditional -= 1
            self._class_body = outer
            self.table.returns[qual] = frozenset(self._returns.pop())

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            if self._returns:
                self._returns[-1].update(self.resolve(node.value))
            self.visit(node.value)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_list(node.args.defaults)
        self.table.conditional += 1
        try:
            for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                self.table.bind(a.arg)
            self.visit(node.body)
        finally:
            self.table.conditional -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.collect_ids:
            self.identifiers.add(node.name)
        self._visit_list(node.decorator_list)
        self._visit_list(node.bases)
        self._visit_list(node.keywords)
        outer, self._class_body = self._class_body, node.name
        try:
            self._visit_list(node.body)
        finally:
            self._class_body = outer
        self.table.bind(node.name, {f"{CLASS_PREFIX}{node.name}>"})

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.visit(target)

    # -- calls --------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        quals = self.resolve(func)
        self.judged.add(func)
        check_call(self, node, quals)
        if func.__class__ is ast.Attribute and func.attr == "join":
            self._track_join(node)
        param = None
        if "builtins.map" in quals and len(node.args) >= 2:
            param = self._bind_map_parameter(node)
        self.visit(func)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw)
        if param is not None:  # the lambda's parameter is its own
            if param[1] is None:
                self.text_vars.pop(param[0], None)
            else:
                self.text_vars[param[0]] = param[1]

    def _track_join(self, node: ast.Call) -> None:
        """``t.join()`` (or ``t.join(timeout)``) joins the cell's threads, as far as the
        detached-thread check can tell (``",".join(parts)`` has a non-number argument)."""
        if not node.args or (len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                             and isinstance(node.args[0].value, (int, float))):
            self.joined = True

    def _bind_map_parameter(self, node: ast.Call) -> tuple[str, tuple[str, ...] | None] | None:
        """``map(lambda p: open(p), [...])``: the parameter takes the list's paths while the
        lambda is visited; returns (parameter, what it held before) to restore."""
        fn = node.args[0]
        if fn.__class__ is not ast.Lambda:
            return None
        texts = iter_texts(self, node.args[1])
        if not texts:
            return None
        params = fn.args.posonlyargs + fn.args.args  # type: ignore[attr-defined]
        if not params:
            return None
        name = params[0].arg
        saved = name, self.text_vars.get(name)
        self.text_vars[name] = texts
        return saved

    def visit_keyword(self, node: ast.keyword) -> None:
        self.visit(node.value)
