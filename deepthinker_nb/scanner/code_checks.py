"""Checks of code the scanner cannot read and of the interpreter's integrity: eval/exec and
their payloads, imports, getattr with computed names, format-string walks, monkeypatching,
pandas expressions, look-alike identifiers.
"""

from __future__ import annotations

import _string
import ast
import posixpath
import re
import string
import unicodedata
from typing import TYPE_CHECKING

from .astnodes import call_arg
from .dangers import ordered_quals
from .findings import Finding
from .paths import classify
from .policy import ScanPolicy
from .resolver import GLOBALS
from .runtime_checks import check_env_write
from .severity import Severity
from .tables import (
    IMPORT_FLAG,
    MODULE_ALIASES,
    REROOT_MODULES,
    SENSITIVE_MODULES,
    SHELL_CLASSES,
    SHELL_SETTINGS,
    TAMPER_ATTRS,
    TAMPER_READ_OK,
    Danger,
)

if TYPE_CHECKING:
    from .visitor import CellVisitor

C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
SHELL = "IPython.get_ipython()"

_AT_OBJECT = re.compile(r"@\s*[A-Za-z_]\w*\s*[.(\[]")
_FORMATTER = string.Formatter()
# Dunders a format string may show: a class and its descriptive names.
_FORMAT_SAFE_DUNDERS = frozenset({"__class__", "__name__", "__qualname__", "__doc__",
                                  "__module__"})
# Callees whose format string is their first argument (not their receiver).
_FORMAT_FUNCTIONS = frozenset({"builtins.str.format", "builtins.str.format_map",
                               "string.Formatter().format", "string.Formatter().vformat"})
_WORD = re.compile(r"[^\W\d]\w*")
_EVAL_CODE_ARG = {
    "builtins.eval": ("source", 0), "builtins.exec": ("source", 0),
    "builtins.compile": ("source", 0), "timeit.timeit": ("stmt", 0),
    "timeit.repeat": ("stmt", 0), "timeit.Timer": ("stmt", 0), "cProfile.run": ("statement", 0),
    "cProfile.runctx": ("statement", 0), "profile.run": ("statement", 0),
    "profile.runctx": ("statement", 0), "IPython.get_ipython().run_cell": ("raw_cell", 0),
    "IPython.get_ipython().ex": ("cmd", 0), "IPython.get_ipython().ev": ("expr", 0),
}


def check_eval(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """eval/exec/compile, timeit, the profilers and IPython's run_cell: a constant string is
    scanned as a payload (decoded first when encoded); computed code cannot be checked."""
    short = canon.replace("IPython.get_ipython()", "get_ipython()").removeprefix(
        "builtins.")
    if canon.endswith(".magic"):
        text = visitor.fold_str(node.args[0]) if node.args else None
        if text is None:
            visitor.report(node, "dynamic-code", C, "get_ipython().magic() with a computed "
                           "argument")
        else:
            visitor.report_payload(node, "%" + text.lstrip("%"), "magic", ipython=True)
        return
    key, index = _EVAL_CODE_ARG.get(canon, ("source", 0))
    arg = call_arg(node, key, index)
    codes = [arg]
    if canon.startswith("timeit."):
        codes.append(call_arg(node, "setup", 1))
    ipython = canon.startswith("IPython")
    for code in codes:
        if code is None:
            continue
        # timeit also takes a callable (timeit.timeit(f)); the profilers, pdb and the
        # interpreters take only source text.
        if isinstance(code, ast.Lambda) or (canon.startswith("timeit.")
                                            and not isinstance(code, (ast.Constant,
                                                                      ast.JoinedStr,
                                                                      ast.BinOp,
                                                                      ast.Call))):
            folded = visitor.fold(code)
            if folded is None or not isinstance(folded.value, (str, bytes)):
                continue  # a callable: timeit(lambda: ..., number=3)
        folded = visitor.fold(code)
        if folded is None or not isinstance(folded.value, (str, bytes)):
            visitor.report(node, "dynamic-code", C,
                           f"{short}() runs code computed at run time, which cannot be checked")
            continue
        text = folded.value
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if folded.encoded:
            visitor.report(node, "encoded-payload", C,
                           f"{short}() runs a payload decoded from an encoded constant")
        found = visitor.report_payload(node, text, f"in {short}() payload", ipython)
        if not found and not folded.encoded:
            visitor.report(node, "dynamic-code", L, f"{short}() of a constant string")


def check_pandas_eval(visitor: CellVisitor, node: ast.Call, canon: str,
                      danger: Danger | None) -> None:
    """pandas.eval / DataFrame.query strings: ``@obj.attr``, ``@f()`` and dunders reach
    arbitrary Python objects."""
    expr = call_arg(node, "expr", 0)
    if expr is None:
        return
    text = visitor.fold_str(expr)
    if text is None:
        if isinstance(expr, ast.JoinedStr):
            text = "".join(str(v.value) for v in expr.values if isinstance(v, ast.Constant))
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
            visitor.report(node, "pandas-eval-injection", L,
                           f"{canon}() of an expression assembled at run time")
            return
        else:
            return  # a variable or a non-string argument (model.eval(X, y))
    if "__" in text:
        visitor.report(node, "pandas-eval-injection", H,
                       f"{canon}() expression reaches dunder attributes")
    elif _AT_OBJECT.search(text):
        visitor.report(node, "pandas-eval-injection", H,
                       f"{canon}() expression calls or walks a Python object through @")
    elif "@" in text:
        visitor.report(node, "pandas-eval-injection", M,
                       f"{canon}() expression reads a local variable through @")


def check_query_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                        quals: set[str]) -> None:
    """``df.query(expr)`` / ``df.eval(expr)``, but not the builtin eval."""
    if (node.args or node.keywords) and not any(q.startswith("builtins.") for q in quals):
        check_pandas_eval(visitor, node, func.attr, None)


def check_dyn_import(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """importlib.import_module, __import__, importlib.reload: the module named must pass the
    import check, and a computed name cannot be checked."""
    if canon == "importlib.reload":
        modules = visitor.resolve(node.args[0]) if node.args else frozenset()
        sensitive = [q for q in modules if q.split(".")[0] in SENSITIVE_MODULES]
        visitor.report(node, "interpreter-tampering", H if sensitive or not modules else M,
                       f"importlib.reload() re-executes {'/'.join(sorted(modules)) or 'a module'}")
        return
    arg = call_arg(node, "name", 0)
    name = visitor.fold_str(arg) if arg is not None else None
    if canon == "builtins.__import__":
        visitor.report(node, "interpreter-tampering", H,
                       "__import__() imports modules behind the import statement's back")
    if name is None:
        visitor.report(node, "interpreter-tampering", H,
                       f"{canon}() imports a module whose name is computed at run time")
        return
    check_import(visitor, node, name)
    if canon != "builtins.__import__":
        visitor.report(node, "interpreter-tampering", M,
                       f"{canon}({name!r}) imports a module dynamically")


def check_import(visitor: CellVisitor, node: ast.AST, module: str,
                 submodule: bool = False) -> None:
    """Importing a module that is a finding in itself (subprocess, socket, ctypes ...) or that
    the policy denies; harmless imports are cached as such."""
    key = ("import", module, submodule)
    if visitor.cache.get(key) is False:  # type: ignore[call-overload]
        return  # known harmless import (pandas, numpy, ...): the common case
    if not _import_findings(visitor, node, module, submodule):
        visitor.cache[key] = False  # type: ignore[index]


def _import_findings(visitor: CellVisitor, node: ast.AST, module: str, submodule: bool) -> bool:
    """Report what importing ``module`` is; False when that is nothing."""
    danger = IMPORT_FLAG.get(module)
    canon = module
    if danger is None and not submodule:
        parts = module.split(".")
        for k in range(len(parts) - 1, 0, -1):
            danger = IMPORT_FLAG.get(".".join(parts[:k]))
            if danger:
                break
    denied = visitor.policy.module_denied(module)
    if denied:
        visitor.report(node, "denied-module", H, f"imports {module}, denied by the policy")
        return True
    if danger is not None and not visitor.policy.module_allowed(module):
        # ``what`` is a verb phrase in the third person ("starts a subprocess"), or says
        # itself what the import does ("imports the builtins module").
        what = danger.what
        visitor.report(node, danger.rule, danger.severity, what if what.startswith("imports ")
                       else f"imports {canon}, which {what}")
        return True
    return False


def is_plain_danger(visitor: CellVisitor, qual: str) -> bool:
    """Whether a name is flagged wherever it appears (its Danger has no call check), or
    reaches a module through library internals."""
    danger, _, via = visitor.danger(qual)
    return via is not None or (danger is not None and danger.check is None)


def check_sys_path(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """sys.path.insert/append/extend, site.addsitedir: code imported from a directory the
    notebook can write would run unscanned."""
    entries = list(node.args[-1:]) if canon != "sys.path.extend" else []
    if canon == "sys.path.extend" and node.args and isinstance(node.args[0],
                                                               (ast.List, ast.Tuple)):
        entries = list(node.args[0].elts)
    for entry in entries or [None]:
        text = visitor.fold_str(entry) if entry is not None else None
        if text is None:
            visitor.report(node, "interpreter-tampering", H,
                           f"{canon}() adds an import directory computed at run time")
        elif classify(text, visitor.policy) is not None:
            visitor.report(node, "interpreter-tampering", H,
                           f"{canon}() imports code from {text[:60]!r}, outside the sandbox")
        elif _read_only_dir(visitor.policy, text):
            visitor.report(node, "interpreter-tampering", M,
                           f"{canon}() imports code from the read-only data directory")
        else:
            visitor.report(node, "code-file", H,
                           f"{canon}() imports code from {text[:60]!r}, a directory the "
                           "notebook can write: code written there would run unscanned")


def _read_only_dir(policy: ScanPolicy, text: str) -> bool:
    """Whether a directory is one of the policy's data dirs (read-only to kernels)."""
    norm = posixpath.normpath(text.replace("\\", "/"))
    return any(norm == d or norm.startswith(d.rstrip("/") + "/")
               for d in (posixpath.normpath(x) for x in policy.data_dirs))


def check_getattr(visitor: CellVisitor, node: ast.Call, quals: set[str]) -> None:
    """getattr/setattr/delattr/hasattr: the name folded (``getattr(os, "sys" + "tem")`` is
    resolved elsewhere); a computed name on a sensitive module, an escape attribute, or
    monkeypatching through setattr."""
    if len(node.args) < 2:
        return
    folded = visitor.fold(node.args[1])
    name = folded.value if folded is not None else None
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    receivers = visitor.resolve(node.args[0])
    if not isinstance(name, str):
        sensitive = {q for q in receivers if q in SENSITIVE_MODULES or
                     q.split(".")[0] in ("builtins", "os", "sys", "subprocess")}
        if sensitive:
            visitor.report(node, "dynamic-attribute", H,
                           f"{'/'.join(sorted(quals))[9:]}() on {sorted(sensitive)[0]} with a "
                           "name computed at run time")
        return
    if folded is not None and folded.encoded:
        visitor.report(node, "encoded-payload", C,
                       f"attribute name {name!r} is decoded from an encoded constant")
    if (name in TAMPER_ATTRS and name not in TAMPER_READ_OK) or name in ("__builtins__",
                                                                           "__dict__"):
        visitor.report(node, "interpreter-tampering", H, f"looks up {name!r} by name")
    if quals & {"builtins.setattr", "builtins.delattr"}:
        for q in ordered_quals(receivers):  # every meaning; the worst finding is kept
            if q == SHELL and name not in SHELL_SETTINGS:
                visitor.report(node, "interpreter-tampering", H,
                               f"setattr/delattr on the IPython shell ({name})")
                continue
            if q.startswith("<") or "()" in q or (q in SHELL_CLASSES
                                                  and name in SHELL_SETTINGS):
                continue
            root = MODULE_ALIASES.get(q.split(".")[0], q.split(".")[0])
            sev = H if (root in SENSITIVE_MODULES or root in REROOT_MODULES
                        or root == "IPython") else M
            visitor.report(node, "interpreter-tampering", sev,
                           f"setattr/delattr on module {q} (monkeypatching)")


def check_format(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                 quals: set[str]) -> None:
    """``"{0.__globals__}".format(f)`` walks its arguments' attributes at run time."""
    if quals & _FORMAT_FUNCTIONS:
        template = visitor.fold_str(node.args[0]) if node.args else None
    else:
        template = visitor.fold_str(func.value)
    if not template or "{" not in template:
        return
    walked = _format_walks(template)
    if walked is None:
        visitor.report(node, "interpreter-tampering", M,
                       "a malformed format string whose fields cannot be checked")
    elif walked:
        visitor.report(node, "interpreter-tampering", H,
                       f"format string {template[:60]!r} walks its arguments to {walked}, "
                       "a way out of the object model")


def _format_walks(template: str, depth: int = 0) -> str | None:
    """The first escape attribute a format string's fields reach (``{0.__init__.__globals__}``,
    ``{0[__builtins__]}``, nested in a format spec too): any dunder but ``__class__`` and the
    descriptive ones (``{0.__class__.__name__}`` is a class name); "" when none; None when
    the string does not parse as a format string."""
    try:
        for _, field, spec, _ in _FORMATTER.parse(template):
            if field:
                _, rest = _string.formatter_field_name_split(field)
                keys = [k for _, k in rest if isinstance(k, str)]
                escape = [k for k in keys if k in TAMPER_ATTRS and k not in TAMPER_READ_OK]
                dunder = [k for k in keys if k.startswith("__") and k not in _FORMAT_SAFE_DUNDERS]
                if escape or dunder:
                    return (escape or dunder)[0]
            if spec and "{" in spec and depth < 3:
                found = _format_walks(spec, depth + 1)
                if found != "":
                    return found
    except (ValueError, TypeError):
        return None
    return ""


def check_store_attribute(visitor: CellVisitor, node: ast.Attribute) -> None:
    """Assigning or deleting attributes of modules is monkeypatching the interpreter."""
    if node.attr == "daemon":
        visitor.report(node, "detached-thread", H, "makes a thread a daemon (detached)")
        return
    # Every meaning is judged (the worst finding per line is kept): ``m`` bound to ``os``
    # in one branch and to ``json`` in the other is a patch of ``os``.
    for q in ordered_quals(visitor.resolve(node.value)):
        if q == SHELL and node.attr not in SHELL_SETTINGS:
            visitor.report(node, "interpreter-tampering", H,
                           f"replaces {q}.{node.attr} (the IPython shell's machinery)")
            continue
        if q.startswith("<") or "()" in q:
            continue
        root = MODULE_ALIASES.get(q.split(".")[0], q.split(".")[0])
        target = f"{q}.{node.attr}"
        if target in ("sys.stdout", "sys.stderr", "sys.stdin", "sys.argv"):
            visitor.report(node, "interpreter-tampering", M, f"replaces {target}")
        elif q in SHELL_CLASSES and node.attr in SHELL_SETTINGS:
            continue  # InteractiveShell.ast_node_interactivity = "all": a display setting
        elif root in SENSITIVE_MODULES or root in REROOT_MODULES or q.startswith("IPython"):
            visitor.report(node, "interpreter-tampering", H,
                           f"replaces {target} (monkeypatching a sensitive module)")
        elif q.count(".") < 1 and not q.startswith("pandas.options"):
            visitor.report(node, "interpreter-tampering", M,
                           f"replaces {target} (monkeypatching a library)")


def check_store_subscript(visitor: CellVisitor, node: ast.Subscript, key: str | None) -> None:
    """Writing into os.environ, sys.modules, a module's __dict__ or globals()."""
    for q in ordered_quals(visitor.resolve(node.value)):
        if q in ("os.environ", "os.environb"):
            check_env_write(visitor, node, key)
        elif q in ("sys.modules", "builtins", "builtins.__dict__", "sys.__dict__") or (
                q.endswith(".__dict__")):
            visitor.report(node, "interpreter-tampering", H, f"writes into {q}")
        elif q == GLOBALS and (key is None or key in visitor.table.quals
                               or key.startswith("__")
                               or key in ("eval", "exec", "open", "compile", "getattr")):
            visitor.report(node, "interpreter-tampering", M,
                           "writes into globals() with a computed or sensitive name")


def check_lookalikes(raw: str, identifiers: set[str]) -> list[Finding]:
    """Identifiers written with characters that NFKC folds to something else (run by the
    scanner on the raw cell, with the identifiers the visitor collected)."""
    out: list[Finding] = []
    if raw.isascii():
        return out
    seen: set[str] = set()
    for match in _WORD.finditer(raw):
        word = match.group(0)
        if word.isascii() or word in seen:
            continue
        seen.add(word)
        norm = unicodedata.normalize("NFKC", word)
        if norm == word or norm not in identifiers:
            continue
        line = raw.count("\n", 0, match.start()) + 1
        severity = H if norm.isascii() else L
        out.append(Finding("unicode-lookalike", severity,
                           f"identifier {word!r} is a Unicode look-alike of {norm!r} "
                           "(Python folds identifiers with NFKC)", line, 0))
    return out
