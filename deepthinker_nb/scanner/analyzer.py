"""The AST visitor: one pass over a cell that tracks aliases and applies every rule.

Bindings are recorded as the visitor meets them (imports, assignments, ``with ... as``), so a
use is judged with what the cell had bound before it. Calls are judged from their arguments
(``eval("1+1")`` passes, ``eval(text)`` does not); dangerous callables referenced anywhere
else (stored in a list, passed to ``map``, used as a decorator) are flagged on sight.
"""

from __future__ import annotations

import _string
import ast
import posixpath
import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import ipython as ipy
from .findings import Finding
from .folding import FOLDABLE_METHODS, Folded
from .hostpaths import HOST_ATTRIBUTES, SPEC_ATTRIBUTES
from .paths import CHECKPOINT_OK, classify, code_file
from .policy import ScanPolicy
from .resolver import (
    CLASS_PREFIX,
    FUNCTION_PREFIX,
    GLOBALS,
    PARAM_PREFIX,
    Resolver,
    SymbolTable,
    param_qual,
)
from .rules import RULES
from .severity import Severity
from .tables import (
    CHAR_PREFIX,
    CONSTANT_PREFIXES,
    DATASET_DOWNLOADS,
    EXACT,
    EXEMPT,
    IMPORT_FLAG,
    METHOD_SINKS,
    MODULE_ALIASES,
    PREFIX,
    REROOT_MODULES,
    SENSITIVE_MODULES,
    SHELL_CLASSES,
    SHELL_SETTINGS,
    TAMPER_ATTRS,
    TAMPER_READ_OK,
    VALUE_TRACKED_MODULES,
    Danger,
)

SHELL = "IPython.get_ipython()"
C, H, M, L, INFO = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW,
                    Severity.INFO)

# Methods that take a file path or URL as their first argument, whatever object they are called
# on (pandas readers and writers, savefig, model.save ...). Generic names whose arguments are not
# paths (str.replace, Path.write_text, df.rename, Path.glob) are deliberately absent: module
# functions such as os.rename or shutil.copy are checked through their qualified names instead.
IO_METHODS = frozenset({
    "read_csv", "read_table", "read_excel", "read_json", "read_parquet", "read_feather",
    "read_hdf", "read_html", "read_xml", "read_fwf", "read_orc", "read_sas", "read_spss",
    "read_stata", "read_pickle", "to_csv", "to_excel", "to_json", "to_parquet", "to_feather",
    "to_hdf", "to_html", "to_latex", "to_markdown", "to_pickle", "to_xml", "to_stata",
    "savefig", "imread", "imsave", "imwrite", "save", "savez", "savez_compressed", "savetxt",
    "load", "load_model", "save_model", "save_weights", "load_weights", "dump", "open",
    "loadtxt", "genfromtxt", "fromfile", "tofile", "load_workbook", "read_file", "to_file",
    "write_image", "write_html", "to_netcdf", "open_dataset", "from_file", "urlopen",
    "urlretrieve", "read_sql", "read_sql_query", "read_sql_table", "to_sql",
})
# Of those, the ones whose later arguments are not paths: only arg 0 / path keywords count.
_FIRST_ARG_ONLY = frozenset({"open", "load", "dump", "save", "read_excel", "read_csv",
                             "read_json", "read_parquet", "read_table", "savefig", "to_csv",
                             "to_parquet", "to_json", "to_excel", "imread", "load_model",
                             "loadtxt", "genfromtxt", "read_html", "read_pickle", "to_pickle"})
_PATH_KWARGS = frozenset({"path", "filepath", "filepath_or_buffer", "path_or_buf", "fname",
                          "filename", "file", "dst", "src", "root", "dir", "target",
                          "extract_dir", "io", "path_or_buffer", "buf", "url", "urlpath",
                          "save_path", "cache_dir", "data_home", "base_dir", "root_dir",
                          "output_file", "logdir", "log_dir", "filepath_or_url"})
_WRITES = frozenset({"to_csv", "to_excel", "to_json", "to_parquet", "to_feather", "to_hdf",
                     "to_pickle", "savefig", "save", "savez", "savez_compressed", "savetxt",
                     "dump", "tofile", "save_model", "save_weights", "write_text",
                     "write_bytes"})
_DATA_PARAMS = frozenset({"DATA_PATH", "TRAIN_PATH", "TEST_FEATURES_PATH"})
_AT_OBJECT = re.compile(r"@\s*[A-Za-z_]\w*\s*[.(\[]")
_FORMATTER = string.Formatter()
# Dunders a format string may show: a class and its descriptive names.
_FORMAT_SAFE_DUNDERS = frozenset({"__class__", "__name__", "__qualname__", "__doc__",
                                  "__module__"})
_SCRIPT_HTML = re.compile(r"<\s*script|javascript:|\son\w+\s*=", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d]\w*")
_DESER_LOADS = frozenset({"pickle.loads", "dill.loads", "cloudpickle.loads", "marshal.loads",
                          "pickle._loads", "jsonpickle.decode"})
_EVAL_CODE_ARG = {
    "builtins.eval": ("source", 0), "builtins.exec": ("source", 0),
    "builtins.compile": ("source", 0), "timeit.timeit": ("stmt", 0),
    "timeit.repeat": ("stmt", 0), "timeit.Timer": ("stmt", 0), "cProfile.run": ("statement", 0),
    "cProfile.runctx": ("statement", 0), "profile.run": ("statement", 0),
    "profile.runctx": ("statement", 0), "IPython.get_ipython().run_cell": ("raw_cell", 0),
    "IPython.get_ipython().ex": ("cmd", 0), "IPython.get_ipython().ev": ("expr", 0),
}
_ATTR_CALLS = frozenset({"builtins.getattr", "builtins.setattr", "builtins.delattr",
                         "builtins.hasattr", "builtins.object.__getattribute__"})
# Calls whose result the resolver can name (getattr(os, "system") is os.system).
_RESOLVING_CALLS = frozenset({
    "builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__",
    "builtins.__import__", "importlib.import_module", "importlib.__import__", "builtins.vars",
    "builtins.globals", "builtins.locals", "functools.partial", "functools.partialmethod",
})
# Method names _check_method looks at; other method calls skip it.
# Path methods that create or fill a file (for the code-file rule): the receiver is the file,
# except for rename/replace, whose argument is the new name.
_PATH_WRITE_METHODS = frozenset({"write_text", "write_bytes", "touch", "open", "rename",
                                 "replace", "symlink_to", "hardlink_to"})
_CHECKED_METHODS = IO_METHODS | _PATH_WRITE_METHODS | {
    "query", "eval", "extractall", "extract", "unlink", "rmdir", "rmtree", "link_to", "home",
    "expanduser", "join", "setDaemon", "format", "format_map", "vformat"}
# Writers of model checkpoints, which may use PyTorch's .pth extension.
_SAVERS = frozenset({"save", "save_model", "save_weights", "to_pickle", "dump", "savez",
                     "savez_compressed"})
# Copies and renames: their second argument is the file created.
_COPIES = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "os.rename",
                     "os.replace", "os.renames", "os.link", "os.symlink"})
# Callees whose format string is their first argument (not their receiver).
_FORMAT_FUNCTIONS = frozenset({"builtins.str.format", "builtins.str.format_map",
                               "string.Formatter().format", "string.Formatter().vformat"})
# datasets.load_dataset builders that read the notebook's own files, not the hub.
_LOCAL_DATASET_BUILDERS = frozenset({"csv", "json", "parquet", "text", "arrow", "pandas",
                                     "imagefolder", "audiofolder", "videofolder", "webdataset",
                                     "sql", "generator", "xml"})
_DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet", ".txt", ".arrow", ".tsv")
_CWD_CALLS = frozenset({"os.getcwd", "os.getcwdb", "pathlib.Path.cwd", "pathlib.PosixPath.cwd"})
_LOCAL_FS_PROTOCOLS = frozenset({"file", "local", "memory"})
_SAFE_YAML_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader")
_CHAIN_LINKS = frozenset({ast.Attribute, ast.Name})
# Values whose path prefixes a variable keeps (text_vars): paths built at run time, lists.
_TEXT_VALUES = frozenset({ast.JoinedStr, ast.BinOp, ast.List, ast.Tuple, ast.Set, ast.Call})
# Calls that iterate over their argument's values (for p in sorted([...])).
_ITER_WRAPPERS = frozenset({"builtins.sorted", "builtins.list", "builtins.tuple", "builtins.set",
                            "builtins.frozenset", "builtins.reversed", "builtins.iter",
                            "builtins.enumerate"})
_MAX_CHOICES = 32  # values of a variable judged one by one; more are not followed
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


def _ordered(quals: set[str] | frozenset[str]) -> Iterable[str]:
    """The meanings of a name in a fixed order: which finding is kept when two have the same
    severity must not depend on the process's string hashing."""
    return quals if len(quals) < 2 else sorted(quals)


def _leaf(self: Analyzer, node: ast.AST) -> None:
    """Visitor for nodes with nothing to check and no children worth visiting."""


# Node class -> unbound visitor function (``_leaf`` for leaves).
_DISPATCH: dict[type, Callable[..., None]] = {
    ast.Constant: _leaf, ast.Load: _leaf, ast.Store: _leaf, ast.Del: _leaf, ast.Pass: _leaf,
    ast.Break: _leaf, ast.Continue: _leaf, ast.Global: _leaf, ast.Nonlocal: _leaf,
    # operators (the op/ops of BinOp, UnaryOp, BoolOp, Compare, AugAssign) have no fields
    **{op: _leaf for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
       for op in base.__subclasses__()},
}

# Fields that never hold a child worth visiting (names, flags, expression contexts).
_SCALAR_FIELDS = frozenset({"ctx", "id", "attr", "arg", "name", "asname", "module", "level",
                            "is_async", "conversion", "kind", "type_comment", "tag", "rest",
                            "kwd_attrs"})
# Node class -> the fields generic_visit walks (filled on first sight of a class).
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that can hold child nodes."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _SCALAR_FIELDS)
    return fields


_MODULE_DICT = Danger("interpreter-tampering", H, "exposes every function of a sensitive module "
                      "as a dictionary")


@dataclass
class CellState:
    """What earlier cells of the same notebook bound (aliases, constants) and wrote (files)."""

    table: SymbolTable
    written: set[str]


class TooDeep(Exception):
    """The AST is nested deeper than the policy allows; the scanner fails closed."""


# How the analyzer asks the scanner to scan an embedded payload (decoded or magic body):
# scan(text, payload depth, ipython) -> findings.
PayloadScan = Callable[[str, int, bool], list[Finding]]


class Analyzer:
    """Applies the rules to one parsed cell; ``run(tree)`` returns the findings.

    A visitor like ast.NodeVisitor (``visit``/``generic_visit``/``visit_<Class>``), with slots:
    one is built per cell, so construction and attribute access are on the hot path.
    """

    __slots__ = ("_alias_pos", "_cache", "_choice", "_choice_n", "_class_body", "_depth",
                 "_found", "_handled", "_max_depth", "_returns", "_safe", "collect_ids",
                 "env_lookup", "file_vars",
                 "fold", "fold_str", "identifiers", "joined", "line_base", "path_vars",
                 "payload_depth", "policy", "resolve", "resolver", "scan_payload",
                 "table", "text_vars", "threads", "written")

    def __init__(self, policy: ScanPolicy, scan_payload: PayloadScan, payload_depth: int,
                 danger_cache: dict[str, tuple[Danger | None, str, str | None]],
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
        self._cache = danger_cache
        self._safe: set[str] = danger_cache.setdefault(("safe",), set())  # type: ignore
        self._found: dict[tuple[str, int], Finding] = {}
        self._handled: set[ast.AST] = set()  # nodes already judged
        self._alias_pos: set[ast.AST] = set()  # values bound to a plain name
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
        self._choice = 0  # which of a variable's text_vars values _path_text takes
        self._choice_n = 0  # the most values a variable _path_text went through had
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
        try:
            self.visit(tree)
        finally:
            self.resolver.close()
        if self.threads and not self.joined:
            self.report(self.threads[0], "detached-thread", H,
                        "a thread is started but never joined in this cell; it would keep "
                        "running after the cell ends")
        return list(self._found.values())

    def check_lookalikes(self, raw: str) -> list[Finding]:
        """Identifiers written with characters that NFKC folds to something else."""
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
            if norm == word or norm not in self.identifiers:
                continue
            line = raw.count("\n", 0, match.start()) + 1
            severity = H if norm.isascii() else L
            out.append(Finding("unicode-lookalike", severity,
                               f"identifier {word!r} is a Unicode look-alike of {norm!r} "
                               "(Python folds identifiers with NFKC)", line, 0))
        return out

    # -- reporting ----------------------------------------------------------------------
    def report(self, node: ast.AST | None, rule: str, severity: Severity, message: str) -> None:
        line = getattr(node, "lineno", 1) or 1
        col = getattr(node, "col_offset", 0) or 0
        self._add(rule, severity, message, line, col)

    def _add(self, rule: str, severity: Severity, message: str, line: int, col: int) -> None:
        """Keep the worst finding per (rule, line). Snippets are added by the scanner, once."""
        key = (rule, line)
        old = self._found.get(key)
        if old is None or severity.value > old.severity.value:
            self._found[key] = Finding(rule, severity, message, line, col)

    def _payload(self, node: ast.AST, text: str, what: str, ipython: bool,
                 body_line_base: int | None = None) -> int:
        """Scan an embedded payload; its findings are reported at ``node`` (or body lines)."""
        if self.payload_depth + 1 > self.policy.max_payload_depth:
            self.report(node, "encoded-payload", C,
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
            method = _DISPATCH[cls] = getattr(Analyzer, "visit_" + cls.__name__,
                                              Analyzer.generic_visit)
        if method is not _leaf:
            self._depth = depth
            method(self, node)
            self._depth = depth - 1

    def generic_visit(self, node: ast.AST) -> None:
        """Like ast.NodeVisitor.generic_visit, over the fields that can hold child nodes."""
        for field in _CHILD_FIELDS.get(node.__class__) or _child_fields(node.__class__):
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

    def _visit_list(self, nodes: list) -> None:
        for n in nodes:
            if isinstance(n, ast.AST):
                self.visit(n)

    def _conditional(self, nodes: list) -> None:
        self.table.conditional += 1
        try:
            self._visit_list(nodes)
        finally:
            self.table.conditional -= 1

    # -- danger lookup ------------------------------------------------------------------
    def danger(self, qual: str) -> tuple[Danger | None, str, str | None]:
        """(danger, canonical name, library internal it went through) for a qualified name."""
        cached = self._cache.get(qual)
        if cached is not None:
            return cached
        result = self._danger(qual)
        if len(self._cache) < 50_000:
            self._cache[qual] = result
        return result

    def _danger(self, qual: str) -> tuple[Danger | None, str, str | None]:
        if not qual or qual[0] == "<":
            return None, qual, None
        parts = qual.split(".")
        parts[0] = MODULE_ALIASES.get(parts[0], parts[0])
        via = None
        for i in range(len(parts) - 1, 0, -1):
            name = parts[i]
            if name in REROOT_MODULES and parts[0] != name and "()" not in parts[i - 1]:
                if parts[0] == "builtins" and name in ("__builtins__", "builtins"):
                    continue
                via = ".".join(parts[: i + 1])
                parts = ["builtins" if name == "__builtins__" else
                         MODULE_ALIASES.get(name, name), *parts[i + 1:]]
                break
        canon = ".".join(parts)
        for k in range(len(parts), 0, -1):
            if ".".join(parts[:k]) in EXEMPT:
                return None, canon, via
        if self.policy.module_allowed(canon):
            return None, canon, via
        denied = self.policy.module_denied(canon)
        if denied:
            return Danger("denied-module", H, f"uses {denied}, denied by the policy"), canon, via
        found = EXACT.get(canon)
        if found is not None:
            return found, canon, via
        if "__dict__" in parts[1:]:
            owner = ".".join(parts[: parts.index("__dict__")])
            if owner in SENSITIVE_MODULES or MODULE_ALIASES.get(owner, owner) in REROOT_MODULES:
                return _MODULE_DICT, canon, via
        for k in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:k])
            found = EXACT.get(prefix)
            if found is not None and found.check is None:
                return found, canon, via  # walking into a dangerous object (sys.modules.get)
            found = PREFIX.get(prefix)
            if found is not None:
                if prefix in CONSTANT_PREFIXES and parts[-1].isupper():
                    return None, canon, via  # signal.SIGTERM etc. are constants
                return found, canon, via
        for prefix, found in CHAR_PREFIX:
            if canon.startswith(prefix):
                return found, canon, via
        if self.env_lookup is not None and "." in canon:
            found = self.env_lookup(canon)
            if found is not None:
                return found, canon, via
        return None, canon, via

    def check_ref(self, node: ast.AST, quals: set[str] | frozenset[str]) -> None:
        """Flag a dangerous callable or object referenced outside a call."""
        if not quals or quals <= self._safe:
            return
        for q in _ordered(quals):
            danger, canon, via = self.danger(q)
            if via:
                self.report(node, "interpreter-tampering", H,
                            f"reaches {canon.split('.')[0]} through library internals ({via})")
            if danger is None:
                if via is None and len(self._safe) < 50_000:
                    self._safe.add(q)
                continue
            if danger.check:
                if danger.check == "dataset" and node not in self._alias_pos:
                    self._dataset_finding(node, canon)  # [load_iris, load_wine]
                    continue
                if node in self._alias_pos or danger.rule in ("path-escape",
                                                                   "delete-outside-workdir"):
                    continue
                if danger.check in ("path", "np_load", "extract", "thread", "env_call"):
                    continue
                self.report(node, danger.rule, danger.severity,
                            f"{canon} ({danger.what}) is used as a value, so its arguments "
                            "cannot be checked")
            else:
                self.report(node, danger.rule, danger.severity, f"{canon} {danger.what}")

    # -- names, attributes, subscripts ---------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if self.collect_ids:
            self.identifiers.add(name)
        if name == "__builtins__":
            self.report(node, "interpreter-tampering", H, "uses __builtins__ directly")
        if node.ctx.__class__ is ast.Load and node not in self._handled:
            quals = self.table.lookup_quals(name)
            if quals:
                if not quals <= self._safe:
                    self.check_ref(node, quals)
                if node not in self._alias_pos and not quals.isdisjoint(
                        VALUE_TRACKED_MODULES):
                    module = sorted(quals & VALUE_TRACKED_MODULES)[0]
                    self.report(node, "dynamic-attribute", H,
                                f"module {module} is stored or passed as a value, so its later "
                                "uses cannot be followed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if self.collect_ids:
            self.identifiers.add(attr)
        if attr in TAMPER_ATTRS and attr not in TAMPER_READ_OK:
            self.report(node, "interpreter-tampering", H, f"accesses {attr}, a way out of the "
                        "object model used by sandbox escapes")
        if attr in METHOD_SINKS:  # whatever the receiver: loop.subprocess_shell(...)
            sink = METHOD_SINKS[attr]
            self.report(node, sink.rule, sink.severity, f"{attr}() {sink.what}")
        if node.ctx.__class__ is ast.Load:
            if node not in self._handled:
                self.check_ref(node, self.resolve(node))
        else:
            self._check_store_target(node)
        if node.value.__class__ in _CHAIN_LINKS:
            # The whole chain was judged above; its prefixes are module paths, not uses.
            self._handled.add(node.value)
        self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div) and isinstance(node.right, (ast.Constant, ast.JoinedStr,
                                                                    ast.Name)):
            text = self.fold_str(node.right)
            if text and not text.replace(".", "", 1).isdigit():
                problem = classify(text, self.policy)
                if problem is not None and problem.kind == "escape":
                    self.report(node, "path-escape", H, f"path join '/ {text[:60]}' leads to "
                                f"{problem.reason}")
        self.visit(node.left)
        self.visit(node.right)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = None
        index = node.slice
        if index.__class__ is ast.Constant:
            if index.value.__class__ is str:  # type: ignore[attr-defined]
                key = index.value  # type: ignore[attr-defined]
        elif index.__class__ is not ast.Slice:
            key = self.fold_str(index)
        if key is not None and (key in ("__builtins__", "__import__") or (
                key in TAMPER_ATTRS and key not in TAMPER_READ_OK)):
            self.report(node, "interpreter-tampering", H, f"looks up {key!r} by name")
        if node.ctx.__class__ is ast.Load:
            if key is not None and node not in self._handled:
                self.check_ref(node, self.resolve(node))
        else:
            self._check_store_subscript(node, key)
        self.visit(node.value)
        self.visit(node.slice)

    def _check_store_target(self, node: ast.Attribute) -> None:
        """Assigning or deleting attributes of modules is monkeypatching the interpreter."""
        if node.attr == "daemon":
            self.report(node, "detached-thread", H, "makes a thread a daemon (detached)")
            return
        # Every meaning is judged (the worst finding per line is kept): ``m`` bound to ``os``
        # in one branch and to ``json`` in the other is a patch of ``os``.
        for q in _ordered(self.resolve(node.value)):
            if q == SHELL and node.attr not in SHELL_SETTINGS:
                self.report(node, "interpreter-tampering", H,
                            f"replaces {q}.{node.attr} (the IPython shell's machinery)")
                continue
            if q.startswith("<") or "()" in q:
                continue
            root = MODULE_ALIASES.get(q.split(".")[0], q.split(".")[0])
            target = f"{q}.{node.attr}"
            if target in ("sys.stdout", "sys.stderr", "sys.stdin", "sys.argv"):
                self.report(node, "interpreter-tampering", M, f"replaces {target}")
            elif q in SHELL_CLASSES and node.attr in SHELL_SETTINGS:
                continue  # InteractiveShell.ast_node_interactivity = "all": a display setting
            elif root in SENSITIVE_MODULES or root in REROOT_MODULES or q.startswith("IPython"):
                self.report(node, "interpreter-tampering", H,
                            f"replaces {target} (monkeypatching a sensitive module)")
            elif q.count(".") < 1 and not q.startswith("pandas.options"):
                self.report(node, "interpreter-tampering", M,
                            f"replaces {target} (monkeypatching a library)")

    def _check_store_subscript(self, node: ast.Subscript, key: str | None) -> None:
        for q in _ordered(self.resolve(node.value)):
            if q in ("os.environ", "os.environb"):
                self._env_write(node, key)
            elif q in ("sys.modules", "builtins", "builtins.__dict__", "sys.__dict__") or (
                    q.endswith(".__dict__")):
                self.report(node, "interpreter-tampering", H, f"writes into {q}")
            elif q == GLOBALS and (key is None or key in self.table.quals
                                   or key.startswith("__")
                                   or key in ("eval", "exec", "open", "compile", "getattr")):
                self.report(node, "interpreter-tampering", M,
                            "writes into globals() with a computed or sensitive name")

    def _env_write(self, node: ast.AST, key: str | None) -> None:
        if key is None:
            self.report(node, "env-magic", H, "sets an environment variable whose name is "
                        "computed at run time")
        elif ipy.DANGEROUS_ENV.match(key):
            self.report(node, "env-magic", H, f"sets the environment variable {key}, which "
                        "changes what programs and imports run")
        else:
            self.report(node, "env-magic", M, f"sets the environment variable {key}")

    # -- bindings -----------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            self._flag_import(node, name)
            if alias.asname:
                self.table.bind(alias.asname, {name})
            else:
                top = name.split(".")[0]
                self.table.bind(top, {top})

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return  # relative imports: the cell's own package, nothing to resolve
        self._flag_import(node, module)
        for alias in node.names:
            if alias.name == "*":
                self.table.star_modules.append(module)
                continue
            qual = f"{module}.{alias.name}"
            self._flag_import(node, qual, submodule=True)
            if self._is_plain_danger(qual) and qual not in SHELL_CLASSES:
                # the shell's class is judged where it is used: only its settings pass
                self.check_ref(node, {qual})
            self.table.bind(alias.asname or alias.name, {qual})

    def _is_plain_danger(self, qual: str) -> bool:
        danger, _, via = self.danger(qual)
        return via is not None or (danger is not None and danger.check is None)

    def _flag_import(self, node: ast.AST, module: str, submodule: bool = False) -> None:
        key = ("import", module, submodule)
        if self._cache.get(key) is False:  # type: ignore[call-overload]
            return  # known harmless import (pandas, numpy, ...): the common case
        if not self._import_findings(node, module, submodule):
            self._cache[key] = False  # type: ignore[index]

    def _import_findings(self, node: ast.AST, module: str, submodule: bool) -> bool:
        danger = IMPORT_FLAG.get(module)
        canon = module
        if danger is None and not submodule:
            parts = module.split(".")
            for k in range(len(parts) - 1, 0, -1):
                danger = IMPORT_FLAG.get(".".join(parts[:k]))
                if danger:
                    break
        denied = self.policy.module_denied(module)
        if denied:
            self.report(node, "denied-module", H, f"imports {module}, denied by the policy")
            return True
        if danger is not None and not self.policy.module_allowed(module):
            # ``what`` is a verb phrase in the third person ("starts a subprocess"), or says
            # itself what the import does ("imports the builtins module").
            what = danger.what
            self.report(node, danger.rule, danger.severity, what if what.startswith("imports ")
                        else f"imports {canon}, which {what}")
            return True
        return False

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        targets = node.targets
        # Only a plain ``name = value`` outside a class body is an alias the table can follow;
        # ``self.m = os``, ``A.m = os`` or ``m = os`` in a class body are not.
        if value.__class__ in _ALIAS_VALUES and not self._class_body and (
                targets[0].__class__ is ast.Name if len(targets) == 1
                else all(t.__class__ is ast.Name for t in targets)):
            self._alias_pos.add(value)
        self.visit(value)
        quals = self.resolve(value)
        const = self._fold_const(value)
        for target in targets:
            self._bind_target(target, value, quals, const)
            self.visit(target)

    def _fold_const(self, value: ast.AST) -> Folded | None:
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
                self._alias_pos.add(node.value)
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
        self._alias_pos.add(node.value)
        self.visit(node.value)
        self._bind_target(node.target, node.value, self.resolve(node.value),
                          self._fold_const(node.value))

    def _bind_target(self, target: ast.AST, value: ast.AST | None, quals: set[str],
                     const: Folded | None) -> None:
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
        elif (cls is ast.BinOp or cls is ast.JoinedStr) and self._derives_from_param(value):
            self.path_vars[name] = value

    def _track_text_var(self, name: str, value: ast.AST) -> None:
        """Remember what the path held in ``name`` may start with (text_vars)."""
        cls = value.__class__
        if cls is ast.List or cls is ast.Tuple or cls is ast.Set:
            texts = self._elements_texts(value.elts)  # type: ignore[attr-defined]
        elif cls is ast.Call and not (
                value.func.__class__ is ast.Attribute  # type: ignore[attr-defined]
                and value.func.attr == "format"):  # type: ignore[attr-defined]
            texts = ()  # pathlib and os.path.join calls are followed as path_vars
        else:
            texts = self._path_texts(value)
        old = self.text_vars.get(name) if self.table.conditional else None
        if old:  # a binding in a branch or a loop adds a meaning
            texts = (*old, *(t for t in texts if t not in old))[:_MAX_CHOICES]
        if texts:
            self.text_vars[name] = texts
        elif self.text_vars:
            self.text_vars.pop(name, None)

    def _elements_texts(self, elts: list) -> tuple[str, ...]:
        out: list[str] = []
        for elt in elts[:_MAX_CHOICES]:
            if elt.__class__ is ast.Starred:
                elt = elt.value
                texts = self._iter_texts(elt)
            else:
                texts = self._path_texts(elt)
            out += [t for t in texts if t not in out]
        return tuple(out[:_MAX_CHOICES])

    def _iter_texts(self, node: ast.AST, depth: int = 0) -> tuple[str, ...]:
        """The path prefixes of what iterating ``node`` gives: a list, tuple or set literal,
        a variable holding one (constant or not), sorted(...)/list(...)/enumerate(...) of one."""
        cls = node.__class__
        if cls is ast.List or cls is ast.Tuple or cls is ast.Set:
            return self._elements_texts(node.elts)  # type: ignore[attr-defined]
        if cls is ast.Name:
            texts = self.text_vars.get(node.id)  # type: ignore[attr-defined]
            if texts:
                return texts
        elif cls is ast.Call and depth < 4 and len(node.args) >= 1 and (  # type: ignore
                _ITER_WRAPPERS & self.resolve(node.func)):  # type: ignore[attr-defined]
            return self._iter_texts(node.args[0], depth + 1)  # type: ignore[attr-defined]
        if cls is ast.Name or cls is ast.Attribute:
            folded = self.fold(node)
            if folded is not None and isinstance(folded.value, (list, tuple)):
                return tuple(v for v in folded.value[:_MAX_CHOICES] if isinstance(v, str))
        return ()

    def _bind_loop(self, target: ast.AST, iterable: ast.AST) -> None:
        """``for p in ['/proc/1/environ', ...]``: p may be any of the list's paths."""
        if target.__class__ is ast.Tuple and iterable.__class__ is ast.Call and len(
                target.elts) == 2 and "builtins.enumerate" in self.resolve(  # type: ignore
                    iterable.func):  # type: ignore[attr-defined]
            target = target.elts[1]  # type: ignore[attr-defined]  # for i, p in enumerate(..)
        if target.__class__ is not ast.Name:
            return
        texts = self._iter_texts(iterable)
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
        self._handled.add(func)
        checked_path = False
        cache = self._cache
        for q in _ordered(quals):
            danger, canon, via = cache.get(q) or self.danger(q)
            if via:
                self.report(node, "interpreter-tampering", H,
                            f"reaches {canon.split('.')[0]} through library internals ({via})")
            if danger is None:
                continue
            if danger.check:
                checked_path = checked_path or danger.check in ("path", "delete", "deser",
                                                                "np_load", "torch_load")
                getattr(self, "_check_" + danger.check)(node, canon, danger)
            else:
                self.report(node, danger.rule, danger.severity, f"{canon} {danger.what}")
        if quals and not quals.isdisjoint(_ATTR_CALLS):
            self._check_getattr(node, quals)
            if node.args:
                self._handled.add(node.args[0])  # judged by _check_getattr
        if func.__class__ is ast.Attribute and func.attr in _CHECKED_METHODS:
            self._check_method(node, func, quals, checked_path)
        for kw in node.keywords:
            if kw.arg == "download" and not (isinstance(kw.value, ast.Constant)
                                             and not kw.value.value):
                self.report(node, "network", H, "download=... fetches data from the network")
        if (func.__class__ is ast.Call or not quals.isdisjoint(_RESOLVING_CALLS)) and (
                node not in self._handled):
            own = {q for q in self.resolve(node) if not q.endswith("()")}
            if own:
                self.check_ref(node, own)
        param = None
        if "builtins.map" in quals and len(node.args) >= 2:
            param = self._check_map(node)
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

    def _check_map(self, node: ast.Call) -> tuple[str, tuple[str, ...] | None] | None:
        """``map(open, ['/etc/passwd'])``: the function is called on each path of the list.
        For ``map(lambda p: open(p), [...])`` the parameter takes the list's paths while the
        lambda is visited; returns (parameter, what it held before) to restore."""
        fn = node.args[0]
        texts = self._iter_texts(node.args[1])
        if not texts:
            return None
        if fn.__class__ is ast.Lambda:
            params = fn.args.posonlyargs + fn.args.args  # type: ignore[attr-defined]
            if not params:
                return None
            name = params[0].arg
            saved = name, self.text_vars.get(name)
            self.text_vars[name] = texts
            return saved
        for q in _ordered(self.resolve(fn)):
            danger, canon, _ = self.danger(q)
            if danger is None or danger.check not in ("path", "delete"):
                continue
            for text in texts:
                arg = ast.copy_location(ast.Constant(text), node.args[1])
                call = ast.copy_location(ast.Call(func=fn, args=[arg], keywords=[]), node)
                getattr(self, "_check_" + danger.check)(call, canon, danger)
        return None

    def _check_method(self, node: ast.Call, func: ast.Attribute, quals: set[str],
                      checked_path: bool) -> None:
        # Only called for names in _CHECKED_METHODS: a new branch here needs its name there.
        name = func.attr
        if name in IO_METHODS and not checked_path:
            self._check_paths(node, name)
        if name in ("query", "eval") and (node.args or node.keywords):
            if not any(q.startswith("builtins.") for q in quals):
                self._check_pandas_eval(node, name, None)
        elif name in ("extractall", "extract") and not any(
                "tarfile" in q for q in quals):
            self._check_extract(node, name, None)
        elif name in ("unlink", "rmdir", "rmtree"):
            problem = self._path_problem(func.value)
            if problem:
                self.report(node, "delete-outside-workdir", C,
                            f"{name}() deletes {problem}")
            elif self._derives_from_param(func.value, data_only=True):
                self.report(node, "delete-outside-workdir", H, f"{name}() deletes the dataset")
        elif name in ("symlink_to", "hardlink_to", "link_to"):
            self.report(node, "path-escape", H, f"{name}() creates a link, which can point "
                        "outside the working directory")
        elif name in ("home", "expanduser") and not node.args:
            self.report(node, "path-escape", H, f"{name}() resolves the home directory")
        elif name == "join":
            if not node.args or (len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                                 and isinstance(node.args[0].value, (int, float))):
                self.joined = True
        elif name == "setDaemon":
            self.report(node, "detached-thread", H, "makes a thread a daemon (detached)")
        elif name in ("format", "format_map", "vformat"):
            self._check_format(node, func, quals)
        if name in _PATH_WRITE_METHODS and self._is_path(func.value, quals):
            if name in ("rename", "replace"):  # the argument is the new file
                self._refuse_code_file(node, f"{name}()", node.args[0] if node.args else None)
                return
            if name == "open":
                mode = self.fold_str(self._code_arg(node, "mode", 0)) or "r"
                if not any(c in mode for c in "wax+"):
                    return
            self._refuse_code_file(node, f"{name}()", func.value)

    def _is_path(self, receiver: ast.AST, quals: set[str]) -> bool:
        """Whether a method's receiver is a pathlib path (Path(...), a variable bound to one,
        Path(...) / "x")."""
        if any(q.startswith("pathlib.") for q in quals):
            return True
        if receiver.__class__ is ast.Name:
            return receiver.id in self.path_vars  # type: ignore[attr-defined]
        return receiver.__class__ is ast.BinOp  # Path(d) / "x.py"

    def _check_format(self, node: ast.Call, func: ast.Attribute, quals: set[str]) -> None:
        """``"{0.__globals__}".format(f)`` walks its arguments' attributes at run time."""
        if quals & _FORMAT_FUNCTIONS:
            template = self.fold_str(node.args[0]) if node.args else None
        else:
            template = self.fold_str(func.value)
        if not template or "{" not in template:
            return
        walked = _format_walks(template)
        if walked is None:
            self.report(node, "interpreter-tampering", M,
                        "a malformed format string whose fields cannot be checked")
        elif walked:
            self.report(node, "interpreter-tampering", H,
                        f"format string {template[:60]!r} walks its arguments to {walked}, "
                        "a way out of the object model")

    def visit_keyword(self, node: ast.keyword) -> None:
        self.visit(node.value)

    # -- call checks (named by Danger.check) --------------------------------------------
    def _code_arg(self, node: ast.Call, key: str, index: int) -> ast.AST | None:
        for kw in node.keywords:
            if kw.arg == key:
                return kw.value
        if len(node.args) > index:
            return node.args[index]
        return None

    def _check_eval(self, node: ast.Call, canon: str, danger: Danger) -> None:
        short = canon.replace("IPython.get_ipython()", "get_ipython()").removeprefix(
            "builtins.")
        if canon.endswith("run_line_magic"):
            self._magic(node, cell=False)
            return
        if canon.endswith("run_cell_magic"):
            self._magic(node, cell=True)
            return
        if canon.endswith(".magic"):
            text = self.fold_str(node.args[0]) if node.args else None
            if text is None:
                self.report(node, "dynamic-code", C, "get_ipython().magic() with a computed "
                            "argument")
            else:
                self._payload(node, "%" + text.lstrip("%"), "magic", ipython=True)
            return
        key, index = _EVAL_CODE_ARG.get(canon, ("source", 0))
        arg = self._code_arg(node, key, index)
        codes = [arg]
        if canon.startswith("timeit."):
            codes.append(self._code_arg(node, "setup", 1))
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
                folded = self.fold(code)
                if folded is None or not isinstance(folded.value, (str, bytes)):
                    continue  # a callable: timeit(lambda: ..., number=3)
            folded = self.fold(code)
            if folded is None or not isinstance(folded.value, (str, bytes)):
                self.report(node, "dynamic-code", C,
                            f"{short}() runs code computed at run time, which cannot be checked")
                continue
            text = folded.value
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            if folded.encoded:
                self.report(node, "encoded-payload", C,
                            f"{short}() runs a payload decoded from an encoded constant")
            found = self._payload(node, text, f"in {short}() payload", ipython)
            if not found and not folded.encoded:
                self.report(node, "dynamic-code", L, f"{short}() of a constant string")

    def _check_pandas_eval(self, node: ast.Call, canon: str, danger: Danger | None) -> None:
        expr = self._code_arg(node, "expr", 0)
        if expr is None:
            return
        text = self.fold_str(expr)
        if text is None:
            if isinstance(expr, ast.JoinedStr):
                text = "".join(str(v.value) for v in expr.values if isinstance(v, ast.Constant))
            elif isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Mod)):
                self.report(node, "pandas-eval-injection", L,
                            f"{canon}() of an expression assembled at run time")
                return
            else:
                return  # a variable or a non-string argument (model.eval(X, y))
        if "__" in text:
            self.report(node, "pandas-eval-injection", H,
                        f"{canon}() expression reaches dunder attributes")
        elif _AT_OBJECT.search(text):
            self.report(node, "pandas-eval-injection", H,
                        f"{canon}() expression calls or walks a Python object through @")
        elif "@" in text:
            self.report(node, "pandas-eval-injection", M,
                        f"{canon}() expression reads a local variable through @")

    def _is_cwd(self, node: ast.AST, depth: int = 0) -> bool:
        """Whether an expression is the working directory itself: os.getcwd(), Path.cwd(),
        Path("."), Path(".").resolve(), WORK_DIR, or a variable bound to one of them."""
        if depth > 6:
            return False
        cls = node.__class__
        if cls is ast.Name:
            if node.id in self.path_vars:  # type: ignore[attr-defined]
                return self._is_cwd(self.path_vars[node.id], depth + 1)  # type: ignore
            return param_qual("WORK_DIR") in self.table.lookup_quals(node.id)  # type: ignore
        text = self.fold_str(node)
        if text is not None:
            return text.strip() in (".", "./", "")
        if cls is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            quals = self.resolve(func)
            if quals & _CWD_CALLS:
                return True
            if any(q.startswith("pathlib.") and q.count(".") == 1 for q in quals):
                args = node.args  # type: ignore[attr-defined]
                return not args or self._is_cwd(args[0], depth + 1)
            if func.__class__ is ast.Attribute and func.attr in ("resolve", "absolute"):
                return self._is_cwd(func.value, depth + 1)
            if quals & {"os.path.abspath", "os.path.realpath"} and node.args:  # type: ignore
                return self._is_cwd(node.args[0], depth + 1)  # type: ignore[attr-defined]
        return False

    def _path_text(self, arg: ast.AST, depth: int = 0) -> str | None:
        """The path ``arg`` names, or a constant prefix of it (enough to tell an escape)."""
        text = self.fold_str(arg)
        if text is not None:
            return text
        if depth > 8:
            return None
        depth += 1
        # the parent of the working directory: os.path.dirname(os.getcwd()), Path.cwd().parent
        cls = arg.__class__
        if cls is ast.Attribute and arg.attr == "parent" and self._is_cwd(arg.value):  # type: ignore
            return ".."
        if cls is ast.Subscript and arg.value.__class__ is ast.Attribute and (  # type: ignore
                arg.value.attr == "parents" and self._is_cwd(arg.value.value)):  # type: ignore
            return ".."
        if cls is ast.Call and arg.args and self._is_cwd(arg.args[0]):  # type: ignore
            quals = self.resolve(arg.func)  # type: ignore[attr-defined]
            if quals & {"os.path.dirname", "posixpath.dirname"}:
                return ".."
            if quals & {"os.path.join", "posixpath.join"}:  # join(os.getcwd(), "..")
                rest = [self.fold_str(a) for a in arg.args[1:]]  # type: ignore[attr-defined]
                if rest and all(r is not None for r in rest):
                    return posixpath.join(".", *rest)  # type: ignore[arg-type]
        if cls is ast.JoinedStr:
            return self._fstring_prefix(arg, depth)  # type: ignore[arg-type]
        if cls is ast.BinOp:
            op = arg.op.__class__  # type: ignore[attr-defined]
            if op is ast.Add or op is ast.Div:
                return self._path_text(arg.left, depth)  # type: ignore[attr-defined]
            if op is ast.Mod:  # "/proc/%d/environ" % pid
                left = self.fold_str(arg.left)  # type: ignore[attr-defined]
                return left.partition("%")[0] or None if left else None
            return None
        if cls is ast.Call:
            func = arg.func  # type: ignore[attr-defined]
            if func.__class__ is ast.Attribute and func.attr == "format":
                template = self.fold_str(func.value)  # "/proc/{}/environ".format(pid)
                return template.partition("{")[0] or None if template else None
            if arg.args:  # type: ignore[attr-defined]
                quals = self.resolve(func)
                if any(q.startswith(("pathlib.", "os.path.join", "os.path.abspath",
                                     "os.path.expanduser")) for q in quals):
                    return self._path_text(arg.args[0], depth)  # type: ignore[attr-defined]
            return None
        if cls is ast.Name:
            name = arg.id  # type: ignore[attr-defined]
            if name in self.path_vars:
                return self._path_text(self.path_vars[name], depth)
            texts = self.text_vars.get(name)
            if texts:
                n = len(texts)
                if n > self._choice_n:
                    self._choice_n = n
                return texts[self._choice if self._choice < n else n - 1]
        return None

    def _fstring_prefix(self, node: ast.JoinedStr, depth: int) -> str | None:
        """The constant start of an f-string: its literal pieces and the fields that fold,
        up to the first unknown field (a prefix of the first field's path counts too)."""
        out: list[str] = []
        for i, piece in enumerate(node.values):
            if piece.__class__ is ast.Constant:
                out.append(str(piece.value))  # type: ignore[attr-defined]
                continue
            if piece.conversion == -1 and piece.format_spec is None:  # type: ignore
                text = self.fold_str(piece.value)  # type: ignore[attr-defined]
                if text is not None:
                    out.append(text)
                    continue
                if i == 0:  # f"{base}/{name}": base's prefix is the whole path's
                    text = self._path_text(piece.value, depth)  # type: ignore[attr-defined]
                    if text:
                        out.append(text)
            break
        return "".join(out) or None

    def _path_texts(self, arg: ast.AST) -> tuple[str, ...]:
        """Every path ``arg`` may name (or start with): one per value of the variables from
        a list it goes through (``for p in [...]``), zipped, at most _MAX_CHOICES."""
        saved = self._choice, self._choice_n
        self._choice = self._choice_n = 0
        try:
            text = self._path_text(arg)
            out = [text] if text is not None else []
            for k in range(1, min(self._choice_n, _MAX_CHOICES)):
                self._choice = k
                text = self._path_text(arg)
                if text is not None and text not in out:
                    out.append(text)
            return tuple(out)
        finally:
            self._choice, self._choice_n = saved

    def _path_problem(self, arg: ast.AST) -> str | None:
        """A reason why this path argument leaves the sandbox (network URLs are reported)."""
        if arg.__class__ is ast.List or arg.__class__ is ast.Tuple:  # files=("a", "/etc/x")
            for elt in arg.elts:  # type: ignore[attr-defined]
                problem = self._path_problem(elt)
                if problem:
                    return problem
            return None
        for text in self._path_texts(arg):
            problem = classify(text, self.policy)
            if problem is None:
                continue
            if problem.kind == "network":
                self.report(arg, "network", H,
                            f"reads or writes {problem.reason} over the network")
                continue
            return problem.reason
        return None

    def _path_args(self, node: ast.Call, first_only: bool) -> list[ast.AST]:
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        if first_only:
            args = args[:1]
        args += [kw.value for kw in node.keywords if kw.arg in _PATH_KWARGS]
        return args

    def _check_paths(self, node: ast.Call, name: str) -> None:
        args = self._path_args(node, name in _FIRST_ARG_ONLY)
        if name in ("dump", "save") and len(node.args) >= 2:
            args = [node.args[1], *args] if name == "dump" else args
        for arg in args:
            problem = self._path_problem(arg)
            if problem:
                self.report(arg, "path-escape", H, f"{name}() accesses {problem}")
            elif name in _WRITES and self._derives_from_param(arg, data_only=True):
                self.report(arg, "path-escape", H, f"{name}() overwrites the dataset, which is "
                            "read-only")
            elif name in _WRITES:
                text = self.fold_str(arg)
                if text:
                    self.written.add(text)
                    if "." in text:
                        self._refuse_code_file(arg, f"{name}()", arg, name in _SAVERS, text)
                else:
                    self._refuse_code_file(arg, f"{name}()", arg, name in _SAVERS)

    def _path_tail(self, node: ast.AST | None, depth: int = 0) -> str | None:
        """The last constant piece of a path expression, enough to tell its extension:
        ``f"{name}.py"``, ``Path(WORK_DIR) / "x.py"``, ``os.path.join(d, "x.py")``."""
        if node is None or depth > 8:
            return None
        text = self.fold_str(node)
        if text is not None:
            return text
        cls = node.__class__
        if cls is ast.JoinedStr:
            last = node.values[-1] if node.values else None  # type: ignore[attr-defined]
            return last.value if last.__class__ is ast.Constant else None  # type: ignore
        if cls is ast.BinOp and node.op.__class__ in (ast.Add, ast.Div):  # type: ignore
            return self._path_tail(node.right, depth + 1)  # type: ignore[attr-defined]
        if cls is ast.Name and node.id in self.path_vars:  # type: ignore[attr-defined]
            return self._path_tail(self.path_vars[node.id], depth + 1)  # type: ignore
        if cls is ast.Call and node.args:  # type: ignore[attr-defined]
            func = node.func  # type: ignore[attr-defined]
            if func.__class__ is ast.Attribute and func.attr in ("with_suffix", "with_name"):
                return self._path_tail(node.args[0], depth + 1)  # type: ignore[attr-defined]
            if any(q.startswith(("pathlib.", "os.path.join", "posixpath.join"))
                   for q in self.resolve(func)):
                return self._path_tail(node.args[-1], depth + 1)  # type: ignore
        return None

    def _refuse_code_file(self, node: ast.AST, how: str, target: ast.AST | None,
                          checkpoint: bool = False, text: str | None = None) -> None:
        """Writing a file that holds code: a later import, %run or interpreter would run it
        without the scanner having read it (``text``: the target, when already folded)."""
        if text is None:
            text = self._path_tail(target)
        what = code_file(text) if text else None
        if what is None or (checkpoint and text.strip().lower().endswith(  # type: ignore
                CHECKPOINT_OK)):
            return
        self.report(node, "code-file", H, f"{how} writes {text[:60]!r}, {what}")  # type: ignore

    def _check_path(self, node: ast.Call, canon: str, danger: Danger) -> None:
        name = canon.rsplit(".", 1)[-1]
        first_only = canon in ("builtins.open", "io.open", "codecs.open", "os.open",
                               "tarfile.open", "zipfile.ZipFile", "sqlite3.connect",
                               "gzip.open", "bz2.open", "lzma.open", "h5py.File", "io.FileIO")
        args = self._path_args(node, first_only)
        if canon in ("joblib.dump", "torch.save") and len(node.args) >= 2:
            args = [node.args[1], *[kw.value for kw in node.keywords if kw.arg in
                                    ("filename", "f")]]
        elif canon in ("numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt"):
            args = args[:1]
        for arg in args:
            problem = self._path_problem(arg)
            if problem:
                self.report(arg, "path-escape", H, f"{name}() accesses {problem}")
        if first_only and node.args:
            mode = self.fold_str(node.args[1]) if len(node.args) > 1 else None
            for kw in node.keywords:
                if kw.arg == "mode":
                    mode = self.fold_str(kw.value)
            if canon == "os.open" or (mode and any(c in mode for c in "wax+")):
                self._refuse_code_file(node, f"{name}()", node.args[0])
            if mode and any(c in mode for c in "wax+"):
                path = self.fold_str(node.args[0])
                if path:
                    self.written.add(path)
                elif self._derives_from_param(node.args[0], data_only=True):
                    self.report(node, "path-escape", H, f"{name}() opens the dataset for writing; "
                                "it is read-only")
        elif canon in ("joblib.dump", "torch.save") and len(node.args) >= 2:
            path = self.fold_str(node.args[1])
            if path:
                self.written.add(path)
            self._refuse_code_file(node, f"{canon}()", node.args[1], checkpoint=True)
        elif canon in _COPIES and len(node.args) >= 2:
            self._refuse_code_file(node, f"{canon}()", node.args[1])
        elif canon == "numpy.savetxt" and node.args:
            self._refuse_code_file(node, f"{canon}()", node.args[0])
        elif canon.startswith("numpy.save") and node.args:
            path = self.fold_str(node.args[0])
            if path:
                self.written.add(path)
                self.written.add(path + ".npy")

    def _derives_from_param(self, node: ast.AST, data_only: bool = False) -> bool:
        names = _DATA_PARAMS if data_only else self.table.trusted
        stack = [node]  # a depth-first ast.walk: only the Name nodes matter, not their order
        while stack:
            sub = stack.pop()
            cls = sub.__class__
            if cls is ast.Name:
                for q in self.table.lookup_quals(sub.id):  # type: ignore[attr-defined]
                    if q.startswith(PARAM_PREFIX) and q[len(PARAM_PREFIX):-1] in names:
                        return True
                continue
            for field in _child_fields(cls):
                value = getattr(sub, field, None)
                if value.__class__ is list:
                    stack += [v for v in value if isinstance(v, ast.AST)]
                elif isinstance(value, ast.AST):
                    stack.append(value)
        return False

    def _check_delete(self, node: ast.Call, canon: str, danger: Danger) -> None:
        target = self._code_arg(node, "path", 0) or self._code_arg(node, "src", 0)
        if target is None:
            return
        problem = self._path_problem(target)
        if problem:
            self.report(node, "delete-outside-workdir", C, f"{canon}() deletes {problem}")
        elif self._derives_from_param(target, data_only=True):
            self.report(node, "delete-outside-workdir", H, f"{canon}() deletes the dataset")
        elif canon == "shutil.rmtree" and self.fold_str(target) is None:
            self.report(node, "delete-outside-workdir", M,
                        "shutil.rmtree() of a directory computed at run time")
        if canon == "shutil.move" and len(node.args) > 1:
            self._refuse_code_file(node, "shutil.move()", node.args[1])
            problem = self._path_problem(node.args[1])
            if problem:
                self.report(node, "path-escape", H, f"shutil.move() writes to {problem}")

    def _load_source(self, arg: ast.AST | None) -> tuple[str | None, bool]:
        """(constant path, known) of what a load call reads; file objects are followed."""
        if arg is None:
            return None, False
        if isinstance(arg, ast.Name) and arg.id in self.file_vars:
            return self.file_vars[arg.id][0], True
        if isinstance(arg, ast.Call):
            quals = self.resolve(arg.func)
            if quals & {"builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open"}:
                return (self.fold_str(arg.args[0]) if arg.args else None), True
        return self.fold_str(arg), True

    def _check_deser(self, node: ast.Call, canon: str, danger: Danger) -> None:
        if canon in _DESER_LOADS:
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Call) and any(
                    q.endswith(("dumps", "dump")) for q in self.resolve(arg.func)):
                return  # round trip in memory: pickle.loads(pickle.dumps(x))
            folded = self.fold(arg) if arg is not None else None
            what = "a constant payload" if folded is not None else "bytes of unknown origin"
            self.report(node, "unsafe-deserialization", H, f"{canon}() unpickles {what}")
            return
        first = node.args[0] if node.args else self._code_arg(
            node, "filepath_or_buffer", 99) or self._code_arg(node, "filename", 99) or \
            self._code_arg(node, "f", 99) or self._code_arg(node, "file", 99)
        path, _ = self._load_source(first)
        if path is not None:
            problem = classify(path, self.policy)
            if problem is not None:
                self.report(node, "network" if problem.kind == "network" else
                            "unsafe-deserialization", H,
                            f"{canon}() deserializes {problem.reason}")
                return
            if path in self.written or path.rstrip("/") in self.written:
                return
            self.report(node, "unsafe-deserialization", M,
                        f"{canon}() deserializes {path!r}, which this cell did not write")
            return
        self.report(node, "unsafe-deserialization", H,
                    f"{canon}() deserializes data of unknown origin (pickle runs code)")

    def _kw_const(self, node: ast.Call, name: str) -> tuple[bool, object]:
        for kw in node.keywords:
            if kw.arg == name:
                if isinstance(kw.value, ast.Constant):
                    return True, kw.value.value
                return True, kw.value
        return False, None

    def _check_np_load(self, node: ast.Call, canon: str, danger: Danger) -> None:
        self._check_path(node, canon, danger)
        present, value = self._kw_const(node, "allow_pickle")
        if present and value is not False:
            path, _ = self._load_source(node.args[0] if node.args else None)
            if path is not None and path in self.written:
                return
            self.report(node, "unsafe-deserialization", H,
                        "numpy.load(allow_pickle=True) unpickles object arrays, which runs code")

    def _check_torch_load(self, node: ast.Call, canon: str, danger: Danger) -> None:
        self._check_path(node, canon, danger)
        present, value = self._kw_const(node, "weights_only")
        if present and value is True:
            return
        self._check_deser(node, canon, danger)

    def _check_yaml_load(self, node: ast.Call, canon: str, danger: Danger) -> None:
        present, value = self._kw_const(node, "Loader")
        if not present and len(node.args) > 1:
            present, value = True, node.args[1]
        if present and isinstance(value, ast.AST):
            names = {q.rsplit(".", 1)[-1] for q in self.resolve(value)}
            if isinstance(value, ast.Attribute):
                names.add(value.attr)
            if names and names <= set(_SAFE_YAML_LOADERS):
                return  # safe whichever loader the name was bound to
        if canon.startswith("yaml.full_load"):
            self.report(node, "unsafe-deserialization", M, f"{canon}() (FullLoader) can build "
                        "arbitrary Python objects in old PyYAML versions")
            return
        self.report(node, "unsafe-deserialization", H,
                    f"{canon}() without a safe Loader can construct arbitrary objects")

    def _check_dyn_import(self, node: ast.Call, canon: str, danger: Danger) -> None:
        if canon == "importlib.reload":
            modules = self.resolve(node.args[0]) if node.args else frozenset()
            sensitive = [q for q in modules if q.split(".")[0] in SENSITIVE_MODULES]
            self.report(node, "interpreter-tampering", H if sensitive or not modules else M,
                        f"importlib.reload() re-executes {'/'.join(sorted(modules)) or 'a module'}")
            return
        arg = self._code_arg(node, "name", 0)
        name = self.fold_str(arg) if arg is not None else None
        if canon == "builtins.__import__":
            self.report(node, "interpreter-tampering", H,
                        "__import__() imports modules behind the import statement's back")
        if name is None:
            self.report(node, "interpreter-tampering", H,
                        f"{canon}() imports a module whose name is computed at run time")
            return
        self._flag_import(node, name)
        if canon != "builtins.__import__":
            self.report(node, "interpreter-tampering", M,
                        f"{canon}({name!r}) imports a module dynamically")

    def _check_sys_path(self, node: ast.Call, canon: str, danger: Danger) -> None:
        entries = list(node.args[-1:]) if canon != "sys.path.extend" else []
        if canon == "sys.path.extend" and node.args and isinstance(node.args[0],
                                                                   (ast.List, ast.Tuple)):
            entries = list(node.args[0].elts)
        for entry in entries or [None]:
            text = self.fold_str(entry) if entry is not None else None
            if text is None:
                self.report(node, "interpreter-tampering", H,
                            f"{canon}() adds an import directory computed at run time")
            elif classify(text, self.policy) is not None:
                self.report(node, "interpreter-tampering", H,
                            f"{canon}() imports code from {text[:60]!r}, outside the sandbox")
            elif self._read_only_dir(text):
                self.report(node, "interpreter-tampering", M,
                            f"{canon}() imports code from the read-only data directory")
            else:
                self.report(node, "code-file", H,
                            f"{canon}() imports code from {text[:60]!r}, a directory the "
                            "notebook can write: code written there would run unscanned")

    def _read_only_dir(self, text: str) -> bool:
        """Whether a directory is one of the policy's data dirs (read-only to kernels)."""
        norm = posixpath.normpath(text.replace("\\", "/"))
        return any(norm == d or norm.startswith(d.rstrip("/") + "/")
                   for d in (posixpath.normpath(x) for x in self.policy.data_dirs))

    def _check_dataset(self, node: ast.Call, canon: str, danger: Danger) -> None:
        if canon.startswith("datasets.load_dataset"):
            builder = self.fold_str(self._code_arg(node, "path", 0))
            if builder is not None and (builder in _LOCAL_DATASET_BUILDERS or builder.startswith(
                    (".", "/", "~")) or builder.endswith(_DATA_SUFFIXES)):
                for arg in self._path_args(node, first_only=False):
                    problem = self._path_problem(arg)
                    if problem:
                        self.report(arg, "path-escape", H, f"{canon}() reads {problem}")
                for kw in node.keywords:  # data_files="train.csv" or a list of files
                    if kw.arg in ("data_files", "data_dir"):
                        problem = self._path_problem(kw.value)
                        if problem:
                            self.report(kw.value, "path-escape", H, f"{canon}() reads {problem}")
                return  # a generic builder reading the notebook's own files
        self._dataset_finding(node, canon)

    def _dataset_finding(self, node: ast.AST, canon: str) -> None:
        """A public dataset loader: refused in a workflow's coder cells, reported otherwise;
        a download is a network finding too."""
        if canon.startswith(DATASET_DOWNLOADS):
            self.report(node, "network", H, f"{canon}() downloads a public dataset from the "
                        "network")
        if self.policy.refuse_public_datasets:
            self.report(node, "public-dataset", H, f"{canon}() loads a public dataset: here "
                        "the model must learn only from the data it was given (TRAIN_PATH, "
                        "DATA_PATH), and a public copy of the dataset can reveal the test "
                        "labels")
        else:
            self.report(node, "public-dataset", L, f"{canon}() loads a public dataset")

    def _check_fileinput(self, node: ast.Call, canon: str, danger: Danger) -> None:
        files = self._code_arg(node, "files", 0)
        if files is None:
            self.report(node, "path-escape", H, f"{canon}() without files reads the files "
                        "named on the kernel's command line (its connection file)")
            return
        problem = self._path_problem(files)
        if problem:
            self.report(node, "path-escape", H, f"{canon}() reads {problem}")
        present, inplace = self._kw_const(node, "inplace")
        if present and inplace:
            targets = files.elts if isinstance(files, (ast.List, ast.Tuple)) else [files]
            for target in targets:
                self._refuse_code_file(node, f"{canon}(inplace=True)", target)

    def _check_db_url(self, node: ast.Call, canon: str, danger: Danger) -> None:
        """sqlalchemy.create_engine("postgresql://...") reaches a server; "sqlite:///x.db"
        and "sqlite://" (memory) stay in the working directory."""
        arg = self._code_arg(node, "url", 0) or self._code_arg(node, "database", 0) or (
            self._code_arg(node, "protocol", 0))
        text = self.fold_str(arg) if arg is not None else None
        if canon == "fsspec.filesystem":
            if text not in _LOCAL_FS_PROTOCOLS:
                self.report(node, "network", H, f"{canon}({text!r}) opens a file system that "
                            "may be remote" if text else f"{canon}() with a protocol computed "
                            "at run time")
            return
        if canon == "duckdb.connect":
            if text is None and arg is None:
                return  # in memory
            if text is not None and text.startswith(("md:", "motherduck:")):
                self.report(node, "network", H, f"{canon}({text[:40]!r}) connects to a remote "
                            "database")
                return
            problem = self._path_problem(arg) if arg is not None else None
            if problem:
                self.report(node, "path-escape", H, f"{canon}() opens {problem}")
            return
        if text is None:
            self.report(node, "network", H, f"{canon}() with a database URL computed at run "
                        "time may reach a server")
            return
        problem = classify(text, self.policy)
        if problem is not None and problem.kind == "network":
            self.report(node, "network", H, f"{canon}() connects to {problem.reason}")
        elif problem is not None:
            self.report(node, "path-escape", H, f"{canon}() opens {problem.reason}")
        elif "://" not in text:
            self.report(node, "network", H, f"{canon}({text[:40]!r}) is not a database URL "
                        "the scanner can check")

    def _check_thread(self, node: ast.Call, canon: str, danger: Danger) -> None:
        present, value = self._kw_const(node, "daemon")
        if present and value is not False and value is not None:
            self.report(node, "detached-thread", H,
                        f"{canon}(daemon=...) starts a detached daemon thread")
        self.threads.append(node)

    def _check_extract(self, node: ast.Call, canon: str | None, danger: Danger | None) -> None:
        present, _ = self._kw_const(node, "filter")
        name = canon or "extractall"
        for arg in self._path_args(node, first_only=canon != "shutil.unpack_archive"):
            problem = self._path_problem(arg)
            if problem:
                self.report(node, "path-escape", H, f"{name}() extracts to {problem}")
        if present:
            return
        if canon is not None and ("tarfile" in canon or canon == "shutil.unpack_archive"):
            self.report(node, "path-escape", H,
                        f"{name}() without filter='data' lets archive members escape with "
                        "'..', absolute names or links")

    def _check_env_call(self, node: ast.Call, canon: str, danger: Danger) -> None:
        if canon in ("os.putenv", "os.environ.setdefault", "os.environ.__setitem__"):
            self._env_write(node, self.fold_str(node.args[0]) if node.args else None)
        elif canon.endswith(".update"):
            keys: list[str | None] = [kw.arg for kw in node.keywords]
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    keys += [self.fold_str(k) if k is not None else None for k in arg.keys]
                else:
                    keys.append(None)
            for key in keys:
                self._env_write(node, key)
        else:
            self.report(node, "env-magic", L, f"{canon}() removes environment variables")

    def _check_getattr(self, node: ast.Call, quals: set[str]) -> None:
        if len(node.args) < 2:
            return
        folded = self.fold(node.args[1])
        name = folded.value if folded is not None else None
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        receivers = self.resolve(node.args[0])
        if not isinstance(name, str):
            sensitive = {q for q in receivers if q in SENSITIVE_MODULES or
                         q.split(".")[0] in ("builtins", "os", "sys", "subprocess")}
            if sensitive:
                self.report(node, "dynamic-attribute", H,
                            f"{'/'.join(sorted(quals))[9:]}() on {sorted(sensitive)[0]} with a "
                            "name computed at run time")
            return
        if folded is not None and folded.encoded:
            self.report(node, "encoded-payload", C,
                        f"attribute name {name!r} is decoded from an encoded constant")
        if (name in TAMPER_ATTRS and name not in TAMPER_READ_OK) or name in ("__builtins__",
                                                                               "__dict__"):
            self.report(node, "interpreter-tampering", H, f"looks up {name!r} by name")
        if quals & {"builtins.setattr", "builtins.delattr"}:
            for q in _ordered(receivers):  # every meaning; the worst finding is kept
                if q == SHELL and name not in SHELL_SETTINGS:
                    self.report(node, "interpreter-tampering", H,
                                f"setattr/delattr on the IPython shell ({name})")
                    continue
                if q.startswith("<") or "()" in q or (q in SHELL_CLASSES
                                                      and name in SHELL_SETTINGS):
                    continue
                root = MODULE_ALIASES.get(q.split(".")[0], q.split(".")[0])
                sev = H if (root in SENSITIVE_MODULES or root in REROOT_MODULES
                            or root == "IPython") else M
                self.report(node, "interpreter-tampering", sev,
                            f"setattr/delattr on module {q} (monkeypatching)")

    # -- IPython magics -----------------------------------------------------------------
    def _magic(self, node: ast.Call, cell: bool) -> None:
        args = node.args
        name = self.fold_str(args[0]) if args else None
        line = self.fold_str(args[1]) if len(args) > 1 else ""
        body = self.fold_str(args[2]) if len(args) > 2 else None
        if name is None or line is None or (cell and body is None):
            self.report(node, "dynamic-code", C,
                        "run_line_magic/run_cell_magic with arguments computed at run time")
            return
        name = name.strip().lstrip("%")
        pct = "%%" if cell else "%"
        shown = f"{pct}{name} {line}".strip()[:80]
        body_base = self.line_base if (cell and self.line_base) else None
        if name in ipy.SHELL_MAGICS:
            self.report(node, "ipython-shell-magic", C, f"{shown} runs a shell command")
        elif name in ipy.CODE_MAGICS:
            code = ipy.code_of_line_magic(name, line)
            if code.strip():
                self._payload(node, code, f"code of {pct}{name}", True,
                              body_line_base=getattr(node, "lineno", 1) - 1)
            if cell and body:
                self._payload(node, body, f"body of %%{name}", True,
                              body_line_base=body_base if body_base is not None else
                              getattr(node, "lineno", 1) - 1)
        elif name in ipy.RUN_MAGICS:
            sev = H if name in ("run", "rerun", "macro") else M
            self.report(node, "ipython-run-load", sev,
                        f"{shown} executes code the scanner did not read")
        elif name in ipy.LOAD_MAGICS:
            tokens = [t for t in ipy.split_args(line) if not t.startswith("-")]
            target = tokens[-1] if tokens else ""
            problem = classify(target, self.policy)
            if problem and problem.kind == "network":
                self.report(node, "network", H, f"{shown} loads code from {problem.reason}")
            elif problem:
                self.report(node, "path-escape", H, f"{shown} reads {problem.reason}")
            else:
                self.report(node, "ipython-run-load", M,
                            f"{shown} loads code from a file into the next cell")
        elif name in ipy.INSTALL_MAGICS:
            tokens = ipy.split_args(line)
            sub = tokens[0] if tokens else ""
            if sub in ipy.INSTALL_READONLY or not sub:
                self.report(node, "package-install", L, f"{shown} queries the package manager")
            else:
                self.report(node, "package-install", H, f"{shown} changes installed packages")
        elif name in ipy.ENV_MAGICS:
            assignment = ipy.env_assignment(line)
            if assignment is None or (not assignment[1] and name == "env"):
                self.report(node, "env-magic", L, f"{shown} reads the environment")
            else:
                self._env_write(node, assignment[0])
        elif name in ipy.WRITE_MAGICS:
            tokens = [t for t in ipy.split_args(line) if not t.startswith("-")]
            if tokens:
                problem = classify(tokens[0], self.policy)
                if problem:
                    self.report(node, "path-escape" if problem.kind == "escape" else "network",
                                H, f"{shown} writes to {problem.reason}")
                what = code_file(tokens[0])
                if what is not None:
                    self.report(node, "code-file", H, f"{pct}{name} writes {tokens[0][:60]!r}, "
                                f"{what}")
        elif name in ipy.DIR_MAGICS:
            tokens = ipy.split_args(line)
            target = tokens[-1] if tokens else ""
            problem = classify(target, self.policy) if target else None
            if not target or target == "-" or target.startswith("-"):
                self.report(node, "path-escape", H,
                            f"{shown} changes to the home, previous or a bookmarked directory")
            elif problem:
                self.report(node, "path-escape", H, f"{shown} changes to {problem.reason}")
            elif name == "bookmark":
                self.report(node, "path-escape", M, f"{shown} stores a directory bookmark")
            else:
                self.report(node, "path-escape", L, f"{shown} changes the working directory")
        elif name in ipy.FRONTEND_MAGICS:
            content = (body or "") + " " + line
            if name in ("javascript", "js"):
                self.report(node, "frontend-code", H,
                            f"{pct}{name} runs JavaScript in the researcher's browser")
            elif _SCRIPT_HTML.search(content):
                self.report(node, "frontend-code", H,
                            f"{pct}{name} output contains script that runs in the browser")
        elif name in ipy.NETWORK_MAGICS:
            self.report(node, "network", H, f"{shown} uploads code to a paste service")
        elif name in ipy.EXTENSION_MAGICS:
            ext = line.strip()
            if ext not in ipy.SAFE_EXTENSIONS:
                self.report(node, "unknown-magic", M, f"{shown} loads an IPython extension")
        elif name == "config":
            text = line.strip()
            if text and not text.startswith(ipy.SAFE_CONFIG_PREFIXES) and "=" in text:
                self.report(node, "interpreter-tampering", M, f"{shown} changes IPython "
                            "configuration")
        elif name == "alias_magic":
            tokens = [t.lstrip("%") for t in ipy.split_args(line) if not t.startswith("-")]
            target = tokens[1] if len(tokens) > 1 else ""
            if (target in ipy.SHELL_MAGICS or target in ipy.RUN_MAGICS
                    or target in ipy.INSTALL_MAGICS or target not in ipy.SAFE_MAGICS):
                self.report(node, "ipython-shell-magic", H,
                            f"{shown} aliases a magic that runs code or commands")
        elif name == "store":
            if ">" in line:
                target = line.split(">")[-1].strip()
                problem = classify(target, self.policy)
                if problem:
                    self.report(node, "path-escape", H, f"{shown} writes to {problem.reason}")
            elif "-r" in ipy.split_args(line):
                self.report(node, "unknown-magic", L, f"{shown} restores stored variables")
        elif name in ipy.SAFE_MAGICS:
            pass
        else:
            self.report(node, "unknown-magic", M,
                        f"{pct}{name} is not a magic the scanner knows; it may run anything")


assert set(r for r in RULES) >= {"shell-command", "dynamic-code", "unknown-magic"}
