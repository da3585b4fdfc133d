"""Checks of what a cell reaches beyond files and code: network services, public datasets,
threads that outlive it, environment variables.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from .astnodes import call_arg, keyword_value
from .file_checks import path_args
from .pathflow import path_problem
from .paths import classify
from .severity import Severity
from .tables import DATASET_DOWNLOADS, Danger

if TYPE_CHECKING:
    from .visitor import CellVisitor

H, M, L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

# Environment variables that change which programs, libraries or imports run next.
DANGEROUS_ENV = re.compile(
    r"^(PATH|LD_\w*|DYLD_\w*|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PYTHONINSPECT|PYTHONUSERBASE|"
    r"PYTHONSAFEPATH|PYTHONEXECUTABLE|PYTHONBREAKPOINT|PYTHONPLATLIBDIR|HOME|SHELL|BASH_ENV|ENV|"
    r"\w*_PROXY|NO_PROXY|BROWSER|EDITOR|VISUAL|PAGER|IPYTHONDIR|JUPYTER_\w*|SSL_CERT_\w*|"
    r"REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|GIT_\w*|PIP_\w*|CONDA_\w*|PERL5OPT|PERL5LIB|RUBYOPT|"
    r"NODE_OPTIONS|TMPDIR|TEMP|TMP|KERNEL_\w*|MPLCONFIGDIR|XDG_\w*|SUDO_\w*)$",
    re.IGNORECASE,
)
# datasets.load_dataset builders that read the notebook's own files, not the hub.
_LOCAL_DATASET_BUILDERS = frozenset({"csv", "json", "parquet", "text", "arrow", "pandas",
                                     "imagefolder", "audiofolder", "videofolder", "webdataset",
                                     "sql", "generator", "xml"})
_DATA_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet", ".txt", ".arrow", ".tsv")
_LOCAL_FS_PROTOCOLS = frozenset({"file", "local", "memory"})


def check_dataset(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """A public dataset loader, unless datasets.load_dataset reads the notebook's own files
    with a generic builder (csv, json, parquet ...)."""
    if canon.startswith("datasets.load_dataset"):
        builder = visitor.fold_str(call_arg(node, "path", 0))
        if builder is not None and (builder in _LOCAL_DATASET_BUILDERS or builder.startswith(
                (".", "/", "~")) or builder.endswith(_DATA_SUFFIXES)):
            for arg in path_args(node, first_only=False):
                problem = path_problem(visitor, arg)
                if problem:
                    visitor.report(arg, "path-escape", H, f"{canon}() reads {problem}")
            for kw in node.keywords:  # data_files="train.csv" or a list of files
                if kw.arg in ("data_files", "data_dir"):
                    problem = path_problem(visitor, kw.value)
                    if problem:
                        visitor.report(kw.value, "path-escape", H, f"{canon}() reads {problem}")
            return  # a generic builder reading the notebook's own files
    report_public_dataset(visitor, node, canon)


def report_public_dataset(visitor: CellVisitor, node: ast.AST, canon: str) -> None:
    """A public dataset loader: refused in a workflow's coder cells, reported otherwise;
    a download is a network finding too."""
    if canon.startswith(DATASET_DOWNLOADS):
        visitor.report(node, "network", H, f"{canon}() downloads a public dataset from the "
                       "network")
    if visitor.policy.refuse_public_datasets:
        visitor.report(node, "public-dataset", H, f"{canon}() loads a public dataset: here "
                       "the model must learn only from the data it was given (TRAIN_PATH, "
                       "DATA_PATH), and a public copy of the dataset can reveal the test "
                       "labels")
    else:
        visitor.report(node, "public-dataset", L, f"{canon}() loads a public dataset")


def check_db_url(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """sqlalchemy.create_engine("postgresql://...") reaches a server; "sqlite:///x.db"
    and "sqlite://" (memory) stay in the working directory."""
    arg = call_arg(node, "url", 0) or call_arg(node, "database", 0) or (
        call_arg(node, "protocol", 0))
    text = visitor.fold_str(arg) if arg is not None else None
    if canon == "fsspec.filesystem":
        if text not in _LOCAL_FS_PROTOCOLS:
            visitor.report(node, "network", H, f"{canon}({text!r}) opens a file system that "
                           "may be remote" if text else f"{canon}() with a protocol computed "
                           "at run time")
        return
    if canon == "duckdb.connect":
        if text is None and arg is None:
            return  # in memory
        if text is not None and text.startswith(("md:", "motherduck:")):
            visitor.report(node, "network", H, f"{canon}({text[:40]!r}) connects to a remote "
                           "database")
            return
        problem = path_problem(visitor, arg) if arg is not None else None
        if problem:
            visitor.report(node, "path-escape", H, f"{canon}() opens {problem}")
        return
    if text is None:
        visitor.report(node, "network", H, f"{canon}() with a database URL computed at run "
                       "time may reach a server")
        return
    problem = classify(text, visitor.policy)
    if problem is not None and problem.kind == "network":
        visitor.report(node, "network", H, f"{canon}() connects to {problem.reason}")
    elif problem is not None:
        visitor.report(node, "path-escape", H, f"{canon}() opens {problem.reason}")
    elif "://" not in text:
        visitor.report(node, "network", H, f"{canon}({text[:40]!r}) is not a database URL "
                       "the scanner can check")


def check_thread(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """threading.Thread/Timer: a daemon thread is reported now; every thread is recorded for
    check_unjoined_threads at the end of the cell."""
    present, value = keyword_value(node, "daemon")
    if present and value is not False and value is not None:
        visitor.report(node, "detached-thread", H,
                       f"{canon}(daemon=...) starts a detached daemon thread")
    visitor.threads.append(node)


def check_set_daemon(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                      quals: set[str]) -> None:
    """``thread.setDaemon(True)``: the old spelling of ``daemon=True``."""
    visitor.report(node, "detached-thread", H, "makes a thread a daemon (detached)")


def check_unjoined_threads(visitor: CellVisitor) -> None:
    """Run at the end of a cell: a thread started and never joined keeps running after it."""
    if visitor.threads and not visitor.joined:
        visitor.report(visitor.threads[0], "detached-thread", H,
                       "a thread is started but never joined in this cell; it would keep "
                       "running after the cell ends")


def check_env_call(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """os.putenv, os.environ.update/setdefault/pop/clear: each variable set is judged by name."""
    if canon in ("os.putenv", "os.environ.setdefault", "os.environ.__setitem__"):
        check_env_write(visitor, node, visitor.fold_str(node.args[0]) if node.args else None)
    elif canon.endswith(".update"):
        keys: list[str | None] = [kw.arg for kw in node.keywords]
        for arg in node.args:
            if isinstance(arg, ast.Dict):
                keys += [visitor.fold_str(k) if k is not None else None for k in arg.keys]
            else:
                keys.append(None)
        for key in keys:
            check_env_write(visitor, node, key)
    else:
        visitor.report(node, "env-magic", L, f"{canon}() removes environment variables")


def check_env_write(visitor: CellVisitor, node: ast.AST, key: str | None) -> None:
    """Setting environment variable ``key`` (None: computed): %env, os.environ[...] = and
    os.putenv share the env-magic rule."""
    if key is None:
        visitor.report(node, "env-magic", H, "sets an environment variable whose name is "
                       "computed at run time")
    elif DANGEROUS_ENV.match(key):
        visitor.report(node, "env-magic", H, f"sets the environment variable {key}, which "
                       "changes what programs and imports run")
    else:
        visitor.report(node, "env-magic", M, f"sets the environment variable {key}")
