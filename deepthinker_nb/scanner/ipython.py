"""IPython syntax: turn a cell into the Python the kernel will really run, and classify magics.

IPython rewrites ``!cmd``, ``%magic`` and ``%%cell`` syntax into ordinary calls
(``get_ipython().system(...)``, ``run_line_magic(name, args)``, ``run_cell_magic(name, line,
body)``) before compiling. Scanning the transformed code means the scanner sees exactly what the
kernel executes, and IPython syntax becomes calls the analyzer can reason about.
"""

from __future__ import annotations

import re
import shlex
import threading

_local = threading.local()

# A cell needs IPython's transformer only if some line starts with an escape (!, %, ?), ends with
# ? (help), or looks like a pasted prompt. Everything else is plain Python and skips the
# (comparatively slow) transformer.
_HINT = re.compile(r"^[ \t]*(?:[!%?]|>>>|In \[)|\?[ \t]*$|^[^#'\"\n]*=[ \t]*[!%]",
                   re.MULTILINE)


def needs_transform(code: str) -> bool:
    """True when ``code`` may contain IPython syntax (cheap substring, then regex pre-check)."""
    if "!" not in code and "%" not in code and "?" not in code and ">>>" not in code and (
            "In [" not in code):
        return False
    return _HINT.search(code) is not None


def _manager():
    manager = getattr(_local, "manager", None)
    if manager is None:
        from IPython.core.inputtransformer2 import TransformerManager

        manager = TransformerManager()
        _local.manager = manager
    return manager


def transform(code: str) -> str:
    """The Python IPython would compile for ``code`` (one cached manager per thread).

    Same result as ``TransformerManager.transform_cell``, run step by step: when the line
    transforms turn the cell into a single ``run_cell_magic(...)`` call, the token transforms
    (which re-tokenize the whole, possibly long, line) cannot change it and are skipped. The
    token-transform loop is IPython's, except that a round which provably finds nothing
    (``_tokens_idle``) is not run: that is usually the last one, which re-tokenizes the
    rewritten cell only to find that nothing is left to rewrite.
    """
    manager = _manager()
    try:
        steps = manager.cleanup_transforms + manager.line_transforms
        one_token_transform = manager.do_one_token_transform
        from IPython.core.inputtransformer2 import TRANSFORM_LOOP_LIMIT, EscapedCommand
    except (AttributeError, ImportError):  # pragma: no cover - a future IPython
        return manager.transform_cell(code)
    cell = code if code.endswith("\n") else code + "\n"
    lines = cell.splitlines(keepends=True)
    for step in steps:
        lines = step(lines)
    if len(lines) == 1 and lines[0].startswith(_CELL_MAGIC_CALL) and lines[0].endswith(")\n"):
        return lines[0]
    rounds = TRANSFORM_LOOP_LIMIT
    if len(lines) == 1 and lines[0][:1] in ("!", "%") and "=" not in lines[0] and (
            "?" not in lines[0]):
        # A one-line "!cmd" or "%magic": its first token is that "!" or "%" (with no "=" it
        # cannot be "!=" or "%="), so EscapedCommand at (1, 0) is the only transformer the
        # first round could find: the others need a "?" or an "=". Apply it untokenized.
        lines = EscapedCommand((1, 0)).transform(lines)
        rounds -= 1
    for _ in range(rounds):
        if _tokens_idle(lines):
            return "".join(lines)
        changed, lines = one_token_transform(lines)
        if not changed:
            return "".join(lines)
    raise RuntimeError("Input transformation still changing after "
                       f"{TRANSFORM_LOOP_LIMIT} iterations. Aborting.")


# A line (physical, or after a newline inside one) that starts with an IPython escape.
_ESCAPE_AT_LINE_START = re.compile(r"^[ \t\f]*[!?%,;/]", re.MULTILINE)


def _tokens_idle(lines: list[str]) -> bool:
    """True when IPython's token transformers provably find nothing in ``lines``.

    Each transformer needs a one-character token that is in the text: ``?`` (help),
    ``%`` or ``!`` after a top-level ``=`` (magic and system assignments), or an escape
    (``! ? % , ; /``) as the first token of a logical line, which begins a line of
    ``lines`` or follows a newline. Tokenizing can also raise IndentationError, which
    needs an indented line; cells with one are left to IPython.
    """
    text = "".join(lines)
    if "?" in text or ("=" in text and ("%" in text or "!" in text)):
        return False
    for line in lines:
        if line[:1] in (" ", "\t", "\f") or _ESCAPE_AT_LINE_START.search(line):
            return False
    return True


_CELL_MAGIC_CALL = "get_ipython().run_cell_magic("


# -- magic classification ------------------------------------------------------------------

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

DANGEROUS_ENV = re.compile(
    r"^(PATH|LD_\w*|DYLD_\w*|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PYTHONINSPECT|PYTHONUSERBASE|"
    r"PYTHONSAFEPATH|PYTHONEXECUTABLE|PYTHONBREAKPOINT|PYTHONPLATLIBDIR|HOME|SHELL|BASH_ENV|ENV|"
    r"\w*_PROXY|NO_PROXY|BROWSER|EDITOR|VISUAL|PAGER|IPYTHONDIR|JUPYTER_\w*|SSL_CERT_\w*|"
    r"REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|GIT_\w*|PIP_\w*|CONDA_\w*|PERL5OPT|PERL5LIB|RUBYOPT|"
    r"NODE_OPTIONS|TMPDIR|TEMP|TMP|KERNEL_\w*|MPLCONFIGDIR|XDG_\w*|SUDO_\w*)$",
    re.IGNORECASE,
)


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
