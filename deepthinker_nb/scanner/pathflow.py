"""Path values: what a path expression may name, following the visitor's tracked variables.

Checks need the path behind ``open(f"/proc/{pid}/environ")``, ``Path.cwd().parent / x`` or
``for p in paths: open(p)``; the visitor records what variables may hold (``path_vars``,
``text_vars``) and these functions read a path out of an expression with them. A constant
prefix is enough to tell an escape, so unknown tails are dropped rather than guessed.
"""

from __future__ import annotations

import ast
import posixpath
from typing import TYPE_CHECKING

from .astnodes import child_fields
from .paths import classify
from .resolver import PARAM_PREFIX, param_qual
from .severity import Severity

if TYPE_CHECKING:
    from .visitor import CellVisitor

MAX_CHOICES = 32  # values of a variable judged one by one; more are not followed
# Trusted parameters that name the dataset, which is read-only.
_DATA_PARAMS = frozenset({"DATA_PATH", "TRAIN_PATH", "TEST_FEATURES_PATH"})
_CWD_CALLS = frozenset({"os.getcwd", "os.getcwdb", "pathlib.Path.cwd", "pathlib.PosixPath.cwd"})
# Calls that iterate over their argument's values (for p in sorted([...])).
_ITER_WRAPPERS = frozenset({"builtins.sorted", "builtins.list", "builtins.tuple", "builtins.set",
                            "builtins.frozenset", "builtins.reversed", "builtins.iter",
                            "builtins.enumerate"})


def is_cwd(visitor: CellVisitor, node: ast.AST, depth: int = 0) -> bool:
    """Whether an expression is the working directory itself: os.getcwd(), Path.cwd(),
    Path("."), Path(".").resolve(), WORK_DIR, or a variable bound to one of them."""
    if depth > 6:
        return False
    cls = node.__class__
    if cls is ast.Name:
        if node.id in visitor.path_vars:  # type: ignore[attr-defined]
            return is_cwd(visitor, visitor.path_vars[node.id], depth + 1)  # type: ignore
        return param_qual("WORK_DIR") in visitor.table.lookup_quals(node.id)  # type: ignore
    text = visitor.fold_str(node)
    if text is not None:
        return text.strip() in (".", "./", "")
    if cls is ast.Call:
        func = node.func  # type: ignore[attr-defined]
        quals = visitor.resolve(func)
        if quals & _CWD_CALLS:
            return True
        if any(q.startswith("pathlib.") and q.count(".") == 1 for q in quals):
            args = node.args  # type: ignore[attr-defined]
            return not args or is_cwd(visitor, args[0], depth + 1)
        if func.__class__ is ast.Attribute and func.attr in ("resolve", "absolute"):
            return is_cwd(visitor, func.value, depth + 1)
        if quals & {"os.path.abspath", "os.path.realpath"} and node.args:  # type: ignore
            return is_cwd(visitor, node.args[0], depth + 1)  # type: ignore[attr-defined]
    return False


def path_text(visitor: CellVisitor, arg: ast.AST, depth: int = 0) -> str | None:
    """The path ``arg`` names, or a constant prefix of it (enough to tell an escape)."""
    text = visitor.fold_str(arg)
    if text is not None:
        return text
    if depth > 8:
        return None
    depth += 1
    # the parent of the working directory: os.path.dirname(os.getcwd()), Path.cwd().parent
    cls = arg.__class__
    if cls is ast.Attribute and arg.attr == "parent" and is_cwd(visitor, arg.value):  # type: ignore
        return ".."
    if cls is ast.Subscript and arg.value.__class__ is ast.Attribute and (  # type: ignore
            arg.value.attr == "parents" and is_cwd(visitor, arg.value.value)):  # type: ignore
        return ".."
    if cls is ast.Call and arg.args and is_cwd(visitor, arg.args[0]):  # type: ignore
        quals = visitor.resolve(arg.func)  # type: ignore[attr-defined]
        if quals & {"os.path.dirname", "posixpath.dirname"}:
            return ".."
        if quals & {"os.path.join", "posixpath.join"}:  # join(os.getcwd(), "..")
            rest = [visitor.fold_str(a) for a in arg.args[1:]]  # type: ignore[attr-defined]
            if rest and all(r is not None for r in rest):
                return posixpath.join(".", *rest)  # type: ignore[arg-type]
    if cls is ast.JoinedStr:
        return _fstring_prefix(visitor, arg, depth)  # type: ignore[arg-type]
    if cls is ast.BinOp:
        op = arg.op.__class__  # type: ignore[attr-defined]
        if op is ast.Add or op is ast.Div:
            return path_text(visitor, arg.left, depth)  # type: ignore[attr-defined]
        if op is ast.Mod:  # "/proc/%d/environ" % pid
            left = visitor.fold_str(arg.left)  # type: ignore[attr-defined]
            return left.partition("%")[0] or None if left else None
        return None
    if cls is ast.Call:
        func = arg.func  # type: ignore[attr-defined]
        if func.__class__ is ast.Attribute and func.attr == "format":
            template = visitor.fold_str(func.value)  # "/proc/{}/environ".format(pid)
            return template.partition("{")[0] or None if template else None
        if arg.args:  # type: ignore[attr-defined]
            quals = visitor.resolve(func)
            if any(q.startswith(("pathlib.", "os.path.join", "os.path.abspath",
                                 "os.path.expanduser")) for q in quals):
                return path_text(visitor, arg.args[0], depth)  # type: ignore[attr-defined]
        return None
    if cls is ast.Name:
        name = arg.id  # type: ignore[attr-defined]
        if name in visitor.path_vars:
            return path_text(visitor, visitor.path_vars[name], depth)
        texts = visitor.text_vars.get(name)
        if texts:
            n = len(texts)
            if n > visitor.path_choices:
                visitor.path_choices = n
            return texts[visitor.path_choice if visitor.path_choice < n else n - 1]
    return None


def _fstring_prefix(visitor: CellVisitor, node: ast.JoinedStr, depth: int) -> str | None:
    """The constant start of an f-string: its literal pieces and the fields that fold,
    up to the first unknown field (a prefix of the first field's path counts too)."""
    out: list[str] = []
    for i, piece in enumerate(node.values):
        if piece.__class__ is ast.Constant:
            out.append(str(piece.value))  # type: ignore[attr-defined]
            continue
        if piece.conversion == -1 and piece.format_spec is None:  # type: ignore
            text = visitor.fold_str(piece.value)  # type: ignore[attr-defined]
            if text is not None:
                out.append(text)
                continue
            if i == 0:  # f"{base}/{name}": base's prefix is the whole path's
                text = path_text(visitor, piece.value, depth)  # type: ignore[attr-defined]
                if text:
                    out.append(text)
        break
    return "".join(out) or None


def path_texts(visitor: CellVisitor, arg: ast.AST) -> tuple[str, ...]:
    """Every path ``arg`` may name (or start with): one per value of the variables from
    a list it goes through (``for p in [...]``), zipped, at most MAX_CHOICES."""
    saved = visitor.path_choice, visitor.path_choices
    visitor.path_choice = visitor.path_choices = 0
    try:
        text = path_text(visitor, arg)
        out = [text] if text is not None else []
        for k in range(1, min(visitor.path_choices, MAX_CHOICES)):
            visitor.path_choice = k
            text = path_text(visitor, arg)
            if text is not None and text not in out:
                out.append(text)
        return tuple(out)
    finally:
        visitor.path_choice, visitor.path_choices = saved


def path_problem(visitor: CellVisitor, arg: ast.AST) -> str | None:
    """A reason why this path argument leaves the sandbox (network URLs are reported)."""
    if arg.__class__ is ast.List or arg.__class__ is ast.Tuple:  # files=("a", "/etc/x")
        for elt in arg.elts:  # type: ignore[attr-defined]
            problem = path_problem(visitor, elt)
            if problem:
                return problem
        return None
    for text in path_texts(visitor, arg):
        problem = classify(text, visitor.policy)
        if problem is None:
            continue
        if problem.kind == "network":
            visitor.report(arg, "network", Severity.HIGH,
                           f"reads or writes {problem.reason} over the network")
            continue
        return problem.reason
    return None


def path_tail(visitor: CellVisitor, node: ast.AST | None, depth: int = 0) -> str | None:
    """The last constant piece of a path expression, enough to tell its extension:
    ``f"{name}.py"``, ``Path(WORK_DIR) / "x.py"``, ``os.path.join(d, "x.py")``."""
    if node is None or depth > 8:
        return None
    text = visitor.fold_str(node)
    if text is not None:
        return text
    cls = node.__class__
    if cls is ast.JoinedStr:
        last = node.values[-1] if node.values else None  # type: ignore[attr-defined]
        return last.value if last.__class__ is ast.Constant else None  # type: ignore
    if cls is ast.BinOp and node.op.__class__ in (ast.Add, ast.Div):  # type: ignore
        return path_tail(visitor, node.right, depth + 1)  # type: ignore[attr-defined]
    if cls is ast.Name and node.id in visitor.path_vars:  # type: ignore[attr-defined]
        return path_tail(visitor, visitor.path_vars[node.id], depth + 1)  # type: ignore
    if cls is ast.Call and node.args:  # type: ignore[attr-defined]
        func = node.func  # type: ignore[attr-defined]
        if func.__class__ is ast.Attribute and func.attr in ("with_suffix", "with_name"):
            return path_tail(visitor, node.args[0], depth + 1)  # type: ignore[attr-defined]
        if any(q.startswith(("pathlib.", "os.path.join", "posixpath.join"))
               for q in visitor.resolve(func)):
            return path_tail(visitor, node.args[-1], depth + 1)  # type: ignore
    return None


def derives_from_param(visitor: CellVisitor, node: ast.AST, data_only: bool = False) -> bool:
    """Whether ``node`` uses a trusted parameter (``data_only``: one naming the dataset)."""
    names = _DATA_PARAMS if data_only else visitor.table.trusted
    stack = [node]  # a depth-first ast.walk: only the Name nodes matter, not their order
    while stack:
        sub = stack.pop()
        cls = sub.__class__
        if cls is ast.Name:
            for q in visitor.table.lookup_quals(sub.id):  # type: ignore[attr-defined]
                if q.startswith(PARAM_PREFIX) and q[len(PARAM_PREFIX):-1] in names:
                    return True
            continue
        for field in child_fields(cls):
            value = getattr(sub, field, None)
            if value.__class__ is list:
                stack += [v for v in value if isinstance(v, ast.AST)]
            elif isinstance(value, ast.AST):
                stack.append(value)
    return False


def elements_texts(visitor: CellVisitor, elts: list[ast.expr]) -> tuple[str, ...]:
    """The path prefixes of a list literal's elements (``*rest`` spread), at most MAX_CHOICES."""
    out: list[str] = []
    for elt in elts[:MAX_CHOICES]:
        if elt.__class__ is ast.Starred:
            elt = elt.value
            texts = iter_texts(visitor, elt)
        else:
            texts = path_texts(visitor, elt)
        out += [t for t in texts if t not in out]
    return tuple(out[:MAX_CHOICES])


def iter_texts(visitor: CellVisitor, node: ast.AST, depth: int = 0) -> tuple[str, ...]:
    """The path prefixes of what iterating ``node`` gives: a list, tuple or set literal,
    a variable holding one (constant or not), sorted(...)/list(...)/enumerate(...) of one."""
    cls = node.__class__
    if cls is ast.List or cls is ast.Tuple or cls is ast.Set:
        return elements_texts(visitor, node.elts)  # type: ignore[attr-defined]
    if cls is ast.Name:
        texts = visitor.text_vars.get(node.id)  # type: ignore[attr-defined]
        if texts:
            return texts
    elif cls is ast.Call and depth < 4 and len(node.args) >= 1 and (  # type: ignore
            _ITER_WRAPPERS & visitor.resolve(node.func)):  # type: ignore[attr-defined]
        return iter_texts(visitor, node.args[0], depth + 1)  # type: ignore[attr-defined]
    if cls is ast.Name or cls is ast.Attribute:
        folded = visitor.fold(node)
        if folded is not None and isinstance(folded.value, (list, tuple)):
            return tuple(v for v in folded.value[:MAX_CHOICES] if isinstance(v, str))
    return ()


def is_path_value(visitor: CellVisitor, receiver: ast.AST, quals: set[str]) -> bool:
    """Whether a method's receiver is a pathlib path (Path(...), a variable bound to one,
    Path(...) / "x")."""
    if any(q.startswith("pathlib.") for q in quals):
        return True
    if receiver.__class__ is ast.Name:
        return receiver.id in visitor.path_vars  # type: ignore[attr-defined]
    return receiver.__class__ is ast.BinOp  # Path(d) / "x.py"
