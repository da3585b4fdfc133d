"""IPython magics: which kind each magic is, and the check that judges a call to one.

After IPython's transform (ipython.py) every magic is a call, ``run_line_magic(name, line)`` or
``run_cell_magic(name, line, body)``; the visitor hands those calls here (checks.CALL_CHECKS).
A magic is judged by its kind: shell escapes, code runners, installers, file writers ...;
unknown magics are reported, since an alias or extension may run anything.
"""

from __future__ import annotations

import ast
import re
import shlex
from typing import TYPE_CHECKING

from .paths import classify, code_file
from .runtime_checks import check_env_write
from .severity import Severity
from .tables import Danger

if TYPE_CHECKING:
    from .visitor import CellVisitor

C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

# Magics that run a shell or another interpreter (line or cell form); IPython's default aliases
# (ls, cat, rm, ...) are shell commands too.
SHELL_MAGICS = frozenset({
    "system", "sx", "sc", "bash", "sh", "script", "perl", "ruby", "python", "python2",
    "python3", "pypy", "zsh", "fish", "powershell", "cmd", "!", "alias", "unalias",
    "cat", "cp", "mv", "rm", "rmdir", "mkdir", "ls", "ll", "lf", "lk", "lx", "ldir", "less",
    "more", "man", "clear", "rehashx", "killbgscripts", "rep",
})
# Magics whose argument (line form) or body (cell form) is Python the magic executes.
CODE_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture", "memit", "mprun",
                         "lprun"})
RUN_MAGICS = frozenset({"run", "rerun", "macro", "edit", "ed", "recall", "r"})
LOAD_MAGICS = frozenset({"load", "loadpy"})
INSTALL_MAGICS = frozenset({"pip", "conda", "mamba", "micromamba", "uv"})
INSTALL_READONLY = frozenset({"list", "show", "freeze", "--version", "-V", "help", "info",
                              "search", "config", "check", "env", "-h", "--help"})
ENV_MAGICS = frozenset({"env", "set_env"})
WRITE_MAGICS = frozenset({"writefile", "file", "save", "logstart", "notebook"})
DIR_MAGICS = frozenset({"cd", "pushd", "bookmark"})
FRONTEND_MAGICS = frozenset({"javascript", "js", "html", "svg"})
NETWORK_MAGICS = frozenset({"pastebin"})
EXTENSION_MAGICS = frozenset({"load_ext", "reload_ext"})
SAFE_EXTENSIONS = frozenset({"autoreload", "memory_profiler", "line_profiler", "sql",
                             "tensorboard", "watermark", "nb_black", "lab_black"})
# Harmless magics: display, introspection, namespace housekeeping.
SAFE_MAGICS = frozenset({
    "matplotlib", "pylab", "precision", "who", "whos", "who_ls", "pinfo", "pinfo2", "pdef",
    "pdoc", "psource", "psearch", "pfile", "history", "hist", "lsmagic", "magic", "quickref",
    "page", "pprint", "colors", "xmode", "tb", "pwd", "reset", "reset_selective", "xdel",
    "autoreload", "aimport", "doctest_mode", "automagic", "autocall", "autoawait", "dirs",
    "dhist", "popd", "markdown", "latex", "unload_ext", "logoff", "logon", "logstate",
    "logstop", "store", "gui", "connect_info", "qtconsole", "code_wrap", "config",
    "alias_magic", "autosave", "load_ext",
})
# %config targets a cell may change.
SAFE_CONFIG_PREFIXES = ("InlineBackend.", "IPCompleter.",
                        "ZMQInteractiveShell.ast_node_interactivity",
                        "InteractiveShell.ast_node_interactivity")

def split_args(line: str) -> list[str]:
    """shlex-split a magic's argument line; fall back to whitespace on bad quoting."""
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


_OPT_WITH_VALUE = {
    "time": set(),
    "timeit": {"-n", "-r", "-p"},
    "prun": {"-l", "-s", "-T", "-D"},
    "memit": {"-r", "-i", "-t"},
    "lprun": {"-f", "-m", "-D", "-T"},
    "mprun": {"-f", "-T"},
    "debug": {"--breakpoint", "-b"},
    "capture": set(),
}


def code_of_line_magic(name: str, line: str) -> str:
    """The Python a code magic (``%time``, ``%timeit -n1 expr`` ...) will execute."""
    rest = line.lstrip()
    takes_value = _OPT_WITH_VALUE.get(name, set())
    while rest.startswith("-"):
        head, _, tail = rest.partition(" ")
        opt = head[:2]
        rest = tail.lstrip()
        if (opt in takes_value and len(head) == 2 and not head.startswith("--")) or (
                head.startswith("--") and head in takes_value):
            _, _, rest = rest.partition(" ")
            rest = rest.lstrip()
    return rest


def env_assignment(line: str) -> tuple[str, bool] | None:
    """For ``%env NAME=value`` / ``%env NAME value`` / ``%set_env ...`` return (NAME, sets)."""
    text = line.strip()
    if not text:
        return None
    if "=" in text.split(" ", 1)[0] or ("=" in text and " " not in text.split("=", 1)[0]):
        name = text.split("=", 1)[0].strip()
        return name, True
    parts = text.split(None, 1)
    if len(parts) == 2:
        return parts[0], True
    return parts[0], False


_SCRIPT_HTML = re.compile(r"<\s*script|javascript:|\son\w+\s*=", re.IGNORECASE)
# Every rule _check_magic may report (besides those of the code it scans as a payload).
MAGIC_RULES = frozenset({
    "dynamic-code", "ipython-shell-magic", "ipython-run-load", "network", "path-escape",
    "package-install", "env-magic", "code-file", "frontend-code", "unknown-magic",
    "interpreter-tampering", "encoded-payload",
})


def check_line_magic(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """``get_ipython().run_line_magic(name, line)``: ``%name line``."""
    _check_magic(visitor, node, cell=False)


def check_cell_magic(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """``get_ipython().run_cell_magic(name, line, body)``: a ``%%name line`` cell."""
    _check_magic(visitor, node, cell=True)


def _check_magic(visitor: CellVisitor, node: ast.Call, cell: bool) -> None:
    """Judge ``run_line_magic(name, line)`` / ``run_cell_magic(name, line, body)`` by the
    magic's kind; code magics (``%time``, ``%%capture``) have their code scanned as a payload."""
    args = node.args
    name = visitor.fold_str(args[0]) if args else None
    line = visitor.fold_str(args[1]) if len(args) > 1 else ""
    body = visitor.fold_str(args[2]) if len(args) > 2 else None
    if name is None or line is None or (cell and body is None):
        visitor.report(node, "dynamic-code", C,
                       "run_line_magic/run_cell_magic with arguments computed at run time")
        return
    name = name.strip().lstrip("%")
    pct = "%%" if cell else "%"
    shown = f"{pct}{name} {line}".strip()[:80]
    body_base = visitor.line_base if (cell and visitor.line_base) else None
    if name in SHELL_MAGICS:
        visitor.report(node, "ipython-shell-magic", C, f"{shown} runs a shell command")
    elif name in CODE_MAGICS:
        code = code_of_line_magic(name, line)
        if code.strip():
            visitor.report_payload(node, code, f"code of {pct}{name}", True,
                                   body_line_base=getattr(node, "lineno", 1) - 1)
        if cell and body:
            visitor.report_payload(node, body, f"body of %%{name}", True,
                                   body_line_base=body_base if body_base is not None else
                                   getattr(node, "lineno", 1) - 1)
    elif name in RUN_MAGICS:
        sev = H if name in ("run", "rerun", "macro") else M
        visitor.report(node, "ipython-run-load", sev,
                       f"{shown} executes code the scanner did not read")
    elif name in LOAD_MAGICS:
        tokens = [t for t in split_args(line) if not t.startswith("-")]
        target = tokens[-1] if tokens else ""
        problem = classify(target, visitor.policy)
        if problem and problem.kind == "network":
            visitor.report(node, "network", H, f"{shown} loads code from {problem.reason}")
        elif problem:
            visitor.report(node, "path-escape", H, f"{shown} reads {problem.reason}")
        else:
            visitor.report(node, "ipython-run-load", M,
                           f"{shown} loads code from a file into the next cell")
    elif name in INSTALL_MAGICS:
        tokens = split_args(line)
        sub = tokens[0] if tokens else ""
        if sub in INSTALL_READONLY or not sub:
            visitor.report(node, "package-install", L, f"{shown} queries the package manager")
        else:
            visitor.report(node, "package-install", H, f"{shown} changes installed packages")
    elif name in ENV_MAGICS:
        assignment = env_assignment(line)
        if assignment is None or (not assignment[1] and name == "env"):
            visitor.report(node, "env-magic", L, f"{shown} reads the environment")
        else:
            check_env_write(visitor, node, assignment[0])
    elif name in WRITE_MAGICS:
        tokens = [t for t in split_args(line) if not t.startswith("-")]
        if tokens:
            problem = classify(tokens[0], visitor.policy)
            if problem:
                visitor.report(node, "path-escape" if problem.kind == "escape" else "network",
                               H, f"{shown} writes to {problem.reason}")
            what = code_file(tokens[0])
            if what is not None:
                visitor.report(node, "code-file", H, f"{pct}{name} writes {tokens[0][:60]!r}, "
                               f"{what}")
    elif name in DIR_MAGICS:
        tokens = split_args(line)
        target = tokens[-1] if tokens else ""
        problem = classify(target, visitor.policy) if target else None
        if not target or target == "-" or target.startswith("-"):
            visitor.report(node, "path-escape", H,
                           f"{shown} changes to the home, previous or a bookmarked directory")
        elif problem:
            visitor.report(node, "path-escape", H, f"{shown} changes to {problem.reason}")
        elif name == "bookmark":
            visitor.report(node, "path-escape", M, f"{shown} stores a directory bookmark")
        else:
            visitor.report(node, "path-escape", L, f"{shown} changes the working directory")
    elif name in FRONTEND_MAGICS:
        content = (body or "") + " " + line
        if name in ("javascript", "js"):
            visitor.report(node, "frontend-code", H,
                           f"{pct}{name} runs JavaScript in the researcher's browser")
        elif _SCRIPT_HTML.search(content):
            visitor.report(node, "frontend-code", H,
                           f"{pct}{name} output contains script that runs in the browser")
    elif name in NETWORK_MAGICS:
        visitor.report(node, "network", H, f"{shown} uploads code to a paste service")
    elif name in EXTENSION_MAGICS:
        ext = line.strip()
        if ext not in SAFE_EXTENSIONS:
            visitor.report(node, "unknown-magic", M, f"{shown} loads an IPython extension")
    elif name == "config":
        text = line.strip()
        if text and not text.startswith(SAFE_CONFIG_PREFIXES) and "=" in text:
            visitor.report(node, "interpreter-tampering", M, f"{shown} changes IPython "
                           "configuration")
    elif name == "alias_magic":
        tokens = [t.lstrip("%") for t in split_args(line) if not t.startswith("-")]
        target = tokens[1] if len(tokens) > 1 else ""
        if (target in SHELL_MAGICS or target in RUN_MAGICS
                or target in INSTALL_MAGICS or target not in SAFE_MAGICS):
            visitor.report(node, "ipython-shell-magic", H,
                           f"{shown} aliases a magic that runs code or commands")
    elif name == "store":
        if ">" in line:
            target = line.split(">")[-1].strip()
            problem = classify(target, visitor.policy)
            if problem:
                visitor.report(node, "path-escape", H, f"{shown} writes to {problem.reason}")
        elif "-r" in split_args(line):
            visitor.report(node, "unknown-magic", L, f"{shown} restores stored variables")
    elif name in SAFE_MAGICS:
        pass
    else:
        visitor.report(node, "unknown-magic", M,
                       f"{pct}{name} is not a magic the scanner knows; it may run anything")
