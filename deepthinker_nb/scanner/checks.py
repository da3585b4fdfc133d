"""The check tables: which check judges what, and which rules each one reports.

The visitor (visitor.py) walks a cell and tracks what names and paths mean; every finding comes
from a check. Calls to names whose Danger (tables.py) carries a ``check`` key are judged by
CALL_CHECKS[key], methods of any receiver by METHOD_CHECKS[name]; the visitor's own hooks are
NODE_CHECKS. The checks themselves live by subject in code_checks.py, file_checks.py,
runtime_checks.py and magics.py; this module holds the tables, the hooks that dispatch through
them, and their validation against the rule catalogue (rules.py), run when it is imported: a
check naming an unknown rule, a Danger naming an unknown check, or a catalogue rule that nothing
produces raises CheckTableError.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .code_checks import (
    check_dyn_import,
    check_eval,
    check_format,
    check_getattr,
    check_import,
    check_lookalikes,
    check_pandas_eval,
    check_query_method,
    check_store_attribute,
    check_store_subscript,
    check_sys_path,
    is_plain_danger,
)
from .dangers import ordered_quals
from .file_checks import (
    IO_METHODS,
    PATH_WRITE_METHODS,
    check_delete,
    check_delete_method,
    check_deser,
    check_extract,
    check_extract_method,
    check_fileinput,
    check_home_method,
    check_io_paths,
    check_link_method,
    check_np_load,
    check_path,
    check_path_join,
    check_path_write,
    check_torch_load,
    check_yaml_load,
)
from .magics import MAGIC_RULES, check_cell_magic, check_line_magic
from .pathflow import iter_texts
from .rules import RULES, Rule
from .runtime_checks import (
    check_dataset,
    check_db_url,
    check_env_call,
    check_set_daemon,
    check_thread,
    check_unjoined_threads,
    report_public_dataset,
)
from .severity import Severity
from .tables import (
    CHAR_PREFIX,
    EXACT,
    IMPORT_FLAG,
    METHOD_SINKS,
    PREFIX,
    SHELL_CLASSES,
    TAMPER_ATTRS,
    TAMPER_READ_OK,
    VALUE_TRACKED_MODULES,
    Danger,
)

if TYPE_CHECKING:
    from .visitor import CellVisitor

H = Severity.HIGH

_ATTR_CALLS = frozenset({"builtins.getattr", "builtins.setattr", "builtins.delattr",
                         "builtins.hasattr", "builtins.object.__getattribute__"})
# Calls whose result the resolver can name (getattr(os, "system") is os.system).
_RESOLVING_CALLS = frozenset({
    "builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__",
    "builtins.__import__", "importlib.import_module", "importlib.__import__", "builtins.vars",
    "builtins.globals", "builtins.locals", "functools.partial", "functools.partialmethod",
})


# -- the visitor's hooks (NODE_CHECKS) --------------------------------------------------------
def check_name(visitor: CellVisitor, node: ast.Name) -> None:
    """A name: ``__builtins__`` itself, a dangerous callable it denotes (``f = os.system``
    is flagged where os.system is named), a sensitive module stored or passed as a value."""
    name = node.id
    if name == "__builtins__":
        visitor.report(node, "interpreter-tampering", H, "uses __builtins__ directly")
    if node.ctx.__class__ is ast.Load and node not in visitor.judged:
        quals = visitor.table.lookup_quals(name)
        if quals:
            if not quals <= visitor.safe_names:
                _check_reference(visitor, node, quals)
            if node not in visitor.alias_values and not quals.isdisjoint(
                    VALUE_TRACKED_MODULES):
                module = sorted(quals & VALUE_TRACKED_MODULES)[0]
                visitor.report(node, "dynamic-attribute", H,
                               f"module {module} is stored or passed as a value, so its later "
                               "uses cannot be followed")


def check_attribute(visitor: CellVisitor, node: ast.Attribute) -> None:
    """An attribute: escape attributes (``__globals__``, ``__subclasses__`` ...), sinks whatever
    the receiver (``loop.subprocess_shell``), the dangerous object a chain names, and stores
    into modules (monkeypatching)."""
    attr = node.attr
    if attr in TAMPER_ATTRS and attr not in TAMPER_READ_OK:
        visitor.report(node, "interpreter-tampering", H, f"accesses {attr}, a way out of the "
                       "object model used by sandbox escapes")
    if attr in METHOD_SINKS:  # whatever the receiver: loop.subprocess_shell(...)
        sink = METHOD_SINKS[attr]
        visitor.report(node, sink.rule, sink.severity, f"{attr}() {sink.what}")
    if node.ctx.__class__ is ast.Load:
        if node not in visitor.judged:
            _check_reference(visitor, node, visitor.resolve(node))
    else:
        check_store_attribute(visitor, node)


def check_subscript(visitor: CellVisitor, node: ast.Subscript) -> None:
    """A subscript: an escape looked up by name (``x["__builtins__"]``), the dangerous object
    it names (``vars(os)["system"]``), and writes into os.environ, sys.modules, globals()."""
    key = None
    index = node.slice
    if index.__class__ is ast.Constant:
        if index.value.__class__ is str:  # type: ignore[attr-defined]
            key = index.value  # type: ignore[attr-defined]
    elif index.__class__ is not ast.Slice:
        key = visitor.fold_str(index)
    if key is not None and (key in ("__builtins__", "__import__") or (
            key in TAMPER_ATTRS and key not in TAMPER_READ_OK)):
        visitor.report(node, "interpreter-tampering", H, f"looks up {key!r} by name")
    if node.ctx.__class__ is ast.Load:
        if key is not None and node not in visitor.judged:
            _check_reference(visitor, node, visitor.resolve(node))
    else:
        check_store_subscript(visitor, node, key)


def _check_reference(visitor: CellVisitor, node: ast.AST,
                     quals: set[str] | frozenset[str]) -> None:
    """A dangerous callable or object referenced outside a call (stored, passed, imported):
    flagged on sight, unless its check says passing it around is harmless."""
    if not quals or quals <= visitor.safe_names:
        return
    for q in ordered_quals(quals):
        danger, canon, via = visitor.danger(q)
        if via:
            visitor.report(node, "interpreter-tampering", H,
                           f"reaches {canon.split('.')[0]} through library internals ({via})")
        if danger is None:
            if via is None and len(visitor.safe_names) < 50_000:
                visitor.safe_names.add(q)
            continue
        if danger.check:
            check = CALL_CHECKS[danger.check]
            if check.on_reference is not None and node not in visitor.alias_values:
                check.on_reference(visitor, node, canon)  # [load_iris, load_wine]
                continue
            if node in visitor.alias_values or danger.rule in ("path-escape",
                                                               "delete-outside-workdir"):
                continue
            if check.harmless_as_value:
                continue
            visitor.report(node, danger.rule, danger.severity,
                           f"{canon} ({danger.what}) is used as a value, so its arguments "
                           "cannot be checked")
        else:
            visitor.report(node, danger.rule, danger.severity, f"{canon} {danger.what}")


def check_imported_name(visitor: CellVisitor, node: ast.ImportFrom, qual: str) -> None:
    """``from os import system``: a name dangerous in itself is flagged at its import."""
    if is_plain_danger(visitor, qual) and qual not in SHELL_CLASSES:
        # the shell's class is judged where it is used: only its settings pass
        _check_reference(visitor, node, {qual})


def check_call(visitor: CellVisitor, node: ast.Call, quals: set[str]) -> None:
    """A call: each meaning of the callee by its Danger (judged by CALL_CHECKS[danger.check]
    when it has a check key, flagged otherwise), getattr-like calls, methods of any receiver,
    ``download=...``, the object a resolvable call returns, and ``map(f, paths)``."""
    func = node.func
    checked_path = False
    cache = visitor.cache
    for q in ordered_quals(quals):
        danger, canon, via = cache.get(q) or visitor.danger(q)
        if via:
            visitor.report(node, "interpreter-tampering", H,
                           f"reaches {canon.split('.')[0]} through library internals ({via})")
        if danger is None:
            continue
        if danger.check:
            check = CALL_CHECKS[danger.check]
            checked_path = checked_path or check.judges_paths
            check.judge(visitor, node, canon, danger)
        else:
            visitor.report(node, danger.rule, danger.severity, f"{canon} {danger.what}")
    if quals and not quals.isdisjoint(_ATTR_CALLS):
        check_getattr(visitor, node, quals)
        if node.args:
            visitor.judged.add(node.args[0])  # judged by check_getattr
    if func.__class__ is ast.Attribute and func.attr in _CHECKED_METHODS:
        _check_method(visitor, node, func, quals, checked_path)  # type: ignore[arg-type]
    for kw in node.keywords:
        if kw.arg == "download" and not (isinstance(kw.value, ast.Constant)
                                         and not kw.value.value):
            visitor.report(node, "network", H, "download=... fetches data from the network")
    if (func.__class__ is ast.Call or not quals.isdisjoint(_RESOLVING_CALLS)) and (
            node not in visitor.judged):
        own = {q for q in visitor.resolve(node) if not q.endswith("()")}
        if own:
            _check_reference(visitor, node, own)
    if "builtins.map" in quals and len(node.args) >= 2:
        _check_map(visitor, node)


def _check_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute, quals: set[str],
                  checked_path: bool) -> None:
    """A method of any receiver: path arguments of I/O methods (unless a call check judged
    them), METHOD_CHECKS[name], and pathlib methods that write a code file."""
    name = func.attr
    if name in IO_METHODS and not checked_path:
        check_io_paths(visitor, node, name)
    check = METHOD_CHECKS.get(name)
    if check is not None:
        check.judge(visitor, node, func, quals)
    check_path_write(visitor, node, func, quals)


def _check_map(visitor: CellVisitor, node: ast.Call) -> None:
    """``map(open, ['/etc/passwd'])``: the function is called on each path of the list, so
    each call is judged as written out (``map(lambda p: ...)`` is left to the visitor, which
    binds the lambda's parameter to the paths)."""
    fn = node.args[0]
    if fn.__class__ is ast.Lambda:
        return
    texts = iter_texts(visitor, node.args[1])
    if not texts:
        return
    for q in ordered_quals(visitor.resolve(fn)):
        danger, canon, _ = visitor.danger(q)
        if danger is None or danger.check is None:
            continue
        check = CALL_CHECKS[danger.check]
        if not check.per_path:
            continue
        for text in texts:
            arg = ast.copy_location(ast.Constant(text), node.args[1])
            call = ast.copy_location(ast.Call(func=fn, args=[arg], keywords=[]), node)
            check.judge(visitor, call, canon, danger)


# -- the tables ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """A check and every rule it may report (itself or through the helpers it calls)."""

    judge: Callable[..., object]
    rules: frozenset[str]


@dataclass(frozen=True)
class CallCheck(Check):
    """A check of calls to the names whose Danger names it (``Danger(..., check=key)``)."""

    judges_paths: bool = False  # judges the call's paths itself: no generic I/O-method check
    harmless_as_value: bool = False  # passing the function around (a callback) is fine
    per_path: bool = False  # map(f, paths) is judged as f(path) for each path
    relays_payload: bool = False  # reports the findings of code it scans, whatever their rule
    # judges a reference outside a call; None: reported as a value whose arguments are unknown
    on_reference: Callable[[CellVisitor, ast.AST, str], None] | None = None


class CheckTableError(RuntimeError):
    """The check tables disagree with the rule catalogue or with the Danger tables."""


def _rules(*ids: str) -> frozenset[str]:
    return frozenset(ids)


# The dangerous names of tables.py, flagged wherever they appear, by the rule each one names.
TABLE_DANGERS: tuple[Danger, ...] = (*EXACT.values(), *PREFIX.values(),
                                     *(danger for _, danger in CHAR_PREFIX),
                                     *IMPORT_FLAG.values(), *METHOD_SINKS.values())
# What a name's Danger can be: a table entry, or a module the policy denies (dangers.py).
# The environment index's entries take the rules of the table entries they reach (sinks.py).
DANGER_RULES = frozenset(d.rule for d in TABLE_DANGERS) | {"denied-module"}
# _check_reference: the Danger's rule, reaching a module through library internals, datasets.
_REFERENCE_RULES = DANGER_RULES | {"interpreter-tampering", "public-dataset", "network"}
_IMPORT_RULES = frozenset(d.rule for d in IMPORT_FLAG.values()) | {"denied-module"}
_PATH_RULES = _rules("path-escape", "code-file", "network")  # network: a URL as the path

CALL_CHECKS: dict[str, CallCheck] = {
    "eval": CallCheck(check_eval, _rules("dynamic-code", "encoded-payload"),
                      relays_payload=True),
    "line_magic": CallCheck(check_line_magic, MAGIC_RULES, relays_payload=True),
    "cell_magic": CallCheck(check_cell_magic, MAGIC_RULES, relays_payload=True),
    "pandas_eval": CallCheck(check_pandas_eval, _rules("pandas-eval-injection")),
    "path": CallCheck(check_path, _PATH_RULES, judges_paths=True, harmless_as_value=True,
                      per_path=True),
    "delete": CallCheck(check_delete, _PATH_RULES | {"delete-outside-workdir"},
                        judges_paths=True, per_path=True),
    "deser": CallCheck(check_deser, _rules("unsafe-deserialization", "network"),
                       judges_paths=True),
    "np_load": CallCheck(check_np_load, _PATH_RULES | {"unsafe-deserialization"},
                         judges_paths=True, harmless_as_value=True),
    "torch_load": CallCheck(check_torch_load, _PATH_RULES | {"unsafe-deserialization"},
                            judges_paths=True),
    "yaml_load": CallCheck(check_yaml_load, _rules("unsafe-deserialization")),
    "dyn_import": CallCheck(check_dyn_import, _IMPORT_RULES | {"interpreter-tampering"}),
    "sys_path": CallCheck(check_sys_path, _rules("interpreter-tampering", "code-file")),
    "dataset": CallCheck(check_dataset, _rules("public-dataset", "network", "path-escape"),
                         on_reference=report_public_dataset),
    "fileinput": CallCheck(check_fileinput, _PATH_RULES),
    "db_url": CallCheck(check_db_url, _rules("network", "path-escape")),
    "thread": CallCheck(check_thread, _rules("detached-thread"), harmless_as_value=True),
    "extract": CallCheck(check_extract, _rules("path-escape", "network"),
                         harmless_as_value=True),
    "env_call": CallCheck(check_env_call, _rules("env-magic"), harmless_as_value=True),
}

_QUERY = Check(check_query_method, _rules("pandas-eval-injection"))
_EXTRACT = Check(check_extract_method, _rules("path-escape", "network"))
_DELETE = Check(check_delete_method, _rules("delete-outside-workdir", "network"))
_LINK = Check(check_link_method, _rules("path-escape"))
_HOME = Check(check_home_method, _rules("path-escape"))
_FORMAT = Check(check_format, _rules("interpreter-tampering"))
METHOD_CHECKS: dict[str, Check] = {
    "query": _QUERY, "eval": _QUERY,
    "extractall": _EXTRACT, "extract": _EXTRACT,
    "unlink": _DELETE, "rmdir": _DELETE, "rmtree": _DELETE,
    "symlink_to": _LINK, "hardlink_to": _LINK, "link_to": _LINK,
    "home": _HOME, "expanduser": _HOME,
    "setDaemon": Check(check_set_daemon, _rules("detached-thread")),
    "format": _FORMAT, "format_map": _FORMAT, "vformat": _FORMAT,
}
# Method names _check_method looks at; other method calls skip it.
_CHECKED_METHODS = IO_METHODS | PATH_WRITE_METHODS | METHOD_CHECKS.keys()

# The visitor's hooks (and the scanner's, for look-alikes), called by name.
NODE_CHECKS: dict[str, Check] = {
    "name": Check(check_name, _REFERENCE_RULES | {"dynamic-attribute"}),
    "attribute": Check(check_attribute, _REFERENCE_RULES | {"detached-thread"}),
    "subscript": Check(check_subscript, _REFERENCE_RULES | {"env-magic"}),
    "path-join": Check(check_path_join, _rules("path-escape")),
    "import": Check(check_import, _IMPORT_RULES),
    "imported-name": Check(check_imported_name, _REFERENCE_RULES),
    "call": Check(check_call, _REFERENCE_RULES | _PATH_RULES | {"dynamic-attribute",
                                                               "encoded-payload"}),
    "unjoined-threads": Check(check_unjoined_threads, _rules("detached-thread")),
    "lookalikes": Check(check_lookalikes, _rules("unicode-lookalike")),
}

# Rules no check reports: the scanner's own verdicts on a cell it cannot analyse.
PRODUCED_ELSEWHERE: dict[str, str] = {
    "syntax-error": "scanner.py, for a cell that does not parse",
    "scanner-error": "scanner.py, for an internal failure or a cell nested too deep",
}


def validate_check_tables(catalogue: Mapping[str, Rule],
                          tables: Mapping[str, Mapping[str, Check]],
                          dangers: Iterable[Danger], call_checks: Mapping[str, CallCheck],
                          produced_elsewhere: Mapping[str, str]) -> None:
    """Raise CheckTableError unless every check names catalogue rules only, every Danger's
    check key is in ``call_checks`` (whose check reports that Danger's rule), every check key
    is used, and every catalogue rule is produced by some check or by ``produced_elsewhere``."""
    problems: list[str] = []
    produced: set[str] = set(produced_elsewhere)
    for table, checks in tables.items():
        for key, check in checks.items():
            unknown = check.rules - catalogue.keys()
            if unknown:
                problems.append(f"{table}[{key!r}] names rules not in the catalogue: "
                                f"{sorted(unknown)}")
            if not check.rules:
                problems.append(f"{table}[{key!r}] names no rule")
            produced |= check.rules
    used: set[str] = set()
    for danger in dangers:
        if danger.rule not in catalogue:
            problems.append(f"tables.py: {danger} names a rule not in the catalogue")
        if danger.check is None:
            continue
        used.add(danger.check)
        check = call_checks.get(danger.check)
        if check is None:
            problems.append(f"tables.py: {danger} names a check CALL_CHECKS does not have")
        elif danger.rule not in check.rules:
            problems.append(f"tables.py: {danger} has a rule its check does not report")
    problems += [f"CALL_CHECKS[{key!r}] is named by no Danger of tables.py"
                 for key in sorted(call_checks.keys() - used)]
    problems += [f"PRODUCED_ELSEWHERE names {rule!r}, which is not in the catalogue"
                 for rule in sorted(produced_elsewhere.keys() - catalogue.keys())]
    missing = catalogue.keys() - produced
    if missing:
        problems.append(f"rules of the catalogue that no check produces: {sorted(missing)} "
                        "(add a check, or name their producer in PRODUCED_ELSEWHERE)")
    if problems:
        raise CheckTableError("the scanner's check tables do not match the rule catalogue "
                              "(scanner/rules.py):\n  " + "\n  ".join(problems))


validate_check_tables(RULES, {"CALL_CHECKS": CALL_CHECKS, "METHOD_CHECKS": METHOD_CHECKS,
                              "NODE_CHECKS": NODE_CHECKS}, TABLE_DANGERS, CALL_CHECKS,
                      PRODUCED_ELSEWHERE)
