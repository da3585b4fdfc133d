"""File-system checks: paths that leave the sandbox, deletions, code files, deserialization.

Each check judges a call (or a method call) from the path values pathflow.py reads out of its
arguments, and records the files the cell writes (``visitor.written``): loading a pickle the
cell wrote itself is fine, loading one from elsewhere is not.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from .astnodes import call_arg, keyword_value
from .pathflow import derives_from_param, is_path_value, path_problem, path_tail
from .paths import CHECKPOINT_OK, classify, code_file
from .severity import Severity
from .tables import Danger

if TYPE_CHECKING:
    from .visitor import CellVisitor

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

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
# Path methods that create or fill a file (for the code-file rule): the receiver is the file,
# except for rename/replace, whose argument is the new name.
PATH_WRITE_METHODS = frozenset({"write_text", "write_bytes", "touch", "open", "rename",
                                "replace", "symlink_to", "hardlink_to"})
# Of IO_METHODS, the ones whose later arguments are not paths: only arg 0 / path keywords count.
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
# Writers of model checkpoints, which may use PyTorch's .pth extension.
_SAVERS = frozenset({"save", "save_model", "save_weights", "to_pickle", "dump", "savez",
                     "savez_compressed"})
# Copies and renames: their second argument is the file created.
_COPIES = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "os.rename",
                     "os.replace", "os.renames", "os.link", "os.symlink"})
_DESER_LOADS = frozenset({"pickle.loads", "dill.loads", "cloudpickle.loads", "marshal.loads",
                          "pickle._loads", "jsonpickle.decode"})
_SAFE_YAML_LOADERS = ("SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader")


def path_args(node: ast.Call, first_only: bool) -> list[ast.AST]:
    """The arguments of a call that may be paths: positional (or only the first) and path
    keywords."""
    args = [a for a in node.args if not isinstance(a, ast.Starred)]
    if first_only:
        args = args[:1]
    args += [kw.value for kw in node.keywords if kw.arg in _PATH_KWARGS]
    return args


def check_io_paths(visitor: CellVisitor, node: ast.Call, name: str) -> None:
    """``df.to_csv(path)``, ``np.save(path)``, ``model.load(path)``: a method of any receiver
    whose first argument is a path; writes are recorded, and code files refused."""
    args = path_args(node, name in _FIRST_ARG_ONLY)
    if name in ("dump", "save") and len(node.args) >= 2:
        args = [node.args[1], *args] if name == "dump" else args
    for arg in args:
        problem = path_problem(visitor, arg)
        if problem:
            visitor.report(arg, "path-escape", H, f"{name}() accesses {problem}")
        elif name in _WRITES and derives_from_param(visitor, arg, data_only=True):
            visitor.report(arg, "path-escape", H, f"{name}() overwrites the dataset, which is "
                           "read-only")
        elif name in _WRITES:
            text = visitor.fold_str(arg)
            if text:
                visitor.written.add(text)
                if "." in text:
                    check_code_file(visitor, arg, f"{name}()", arg, name in _SAVERS, text)
            else:
                check_code_file(visitor, arg, f"{name}()", arg, name in _SAVERS)


def check_code_file(visitor: CellVisitor, node: ast.AST, how: str, target: ast.AST | None,
                    checkpoint: bool = False, text: str | None = None) -> None:
    """Writing a file that holds code: a later import, %run or interpreter would run it
    without the scanner having read it (``text``: the target, when already folded)."""
    if text is None:
        text = path_tail(visitor, target)
    what = code_file(text) if text else None
    if what is None or (checkpoint and text.strip().lower().endswith(  # type: ignore
            CHECKPOINT_OK)):
        return
    visitor.report(node, "code-file", H, f"{how} writes {text[:60]!r}, {what}")  # type: ignore


def check_path(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """open, os.*, shutil.copy, pathlib.Path, np.save ...: every path argument must stay in
    the sandbox; files opened for writing are recorded, and code files refused."""
    name = canon.rsplit(".", 1)[-1]
    first_only = canon in ("builtins.open", "io.open", "codecs.open", "os.open",
                           "tarfile.open", "zipfile.ZipFile", "sqlite3.connect",
                           "gzip.open", "bz2.open", "lzma.open", "h5py.File", "io.FileIO")
    args = path_args(node, first_only)
    if canon in ("joblib.dump", "torch.save") and len(node.args) >= 2:
        args = [node.args[1], *[kw.value for kw in node.keywords if kw.arg in
                                ("filename", "f")]]
    elif canon in ("numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt"):
        args = args[:1]
    for arg in args:
        problem = path_problem(visitor, arg)
        if problem:
            visitor.report(arg, "path-escape", H, f"{name}() accesses {problem}")
    if first_only and node.args:
        mode = visitor.fold_str(node.args[1]) if len(node.args) > 1 else None
        for kw in node.keywords:
            if kw.arg == "mode":
                mode = visitor.fold_str(kw.value)
        if canon == "os.open" or (mode and any(c in mode for c in "wax+")):
            check_code_file(visitor, node, f"{name}()", node.args[0])
        if mode and any(c in mode for c in "wax+"):
            path = visitor.fold_str(node.args[0])
            if path:
                visitor.written.add(path)
            elif derives_from_param(visitor, node.args[0], data_only=True):
                visitor.report(node, "path-escape", H, f"{name}() opens the dataset for writing; "
                               "it is read-only")
    elif canon in ("joblib.dump", "torch.save") and len(node.args) >= 2:
        path = visitor.fold_str(node.args[1])
        if path:
            visitor.written.add(path)
        check_code_file(visitor, node, f"{canon}()", node.args[1], checkpoint=True)
    elif canon in _COPIES and len(node.args) >= 2:
        check_code_file(visitor, node, f"{canon}()", node.args[1])
    elif canon == "numpy.savetxt" and node.args:
        check_code_file(visitor, node, f"{canon}()", node.args[0])
    elif canon.startswith("numpy.save") and node.args:
        path = visitor.fold_str(node.args[0])
        if path:
            visitor.written.add(path)
            visitor.written.add(path + ".npy")


def check_delete(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """os.remove, shutil.rmtree, shutil.move ...: what is deleted must be the notebook's own."""
    target = call_arg(node, "path", 0) or call_arg(node, "src", 0)
    if target is None:
        return
    problem = path_problem(visitor, target)
    if problem:
        visitor.report(node, "delete-outside-workdir", C, f"{canon}() deletes {problem}")
    elif derives_from_param(visitor, target, data_only=True):
        visitor.report(node, "delete-outside-workdir", H, f"{canon}() deletes the dataset")
    elif canon == "shutil.rmtree" and visitor.fold_str(target) is None:
        visitor.report(node, "delete-outside-workdir", M,
                       "shutil.rmtree() of a directory computed at run time")
    if canon == "shutil.move" and len(node.args) > 1:
        check_code_file(visitor, node, "shutil.move()", node.args[1])
        problem = path_problem(visitor, node.args[1])
        if problem:
            visitor.report(node, "path-escape", H, f"shutil.move() writes to {problem}")


def _load_source(visitor: CellVisitor, arg: ast.AST | None) -> tuple[str | None, bool]:
    """(constant path, known) of what a load call reads; file objects are followed."""
    if arg is None:
        return None, False
    if isinstance(arg, ast.Name) and arg.id in visitor.file_vars:
        return visitor.file_vars[arg.id][0], True
    if isinstance(arg, ast.Call):
        quals = visitor.resolve(arg.func)
        if quals & {"builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open"}:
            return (visitor.fold_str(arg.args[0]) if arg.args else None), True
    return visitor.fold_str(arg), True


def check_deser(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """pickle, joblib, dill, shelve ... run code while loading: only files the cell wrote pass."""
    if canon in _DESER_LOADS:
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.Call) and any(
                q.endswith(("dumps", "dump")) for q in visitor.resolve(arg.func)):
            return  # round trip in memory: pickle.loads(pickle.dumps(x))
        folded = visitor.fold(arg) if arg is not None else None
        what = "a constant payload" if folded is not None else "bytes of unknown origin"
        visitor.report(node, "unsafe-deserialization", H, f"{canon}() unpickles {what}")
        return
    first = node.args[0] if node.args else call_arg(
        node, "filepath_or_buffer", 99) or call_arg(node, "filename", 99) or \
        call_arg(node, "f", 99) or call_arg(node, "file", 99)
    path, _ = _load_source(visitor, first)
    if path is not None:
        problem = classify(path, visitor.policy)
        if problem is not None:
            visitor.report(node, "network" if problem.kind == "network" else
                           "unsafe-deserialization", H,
                           f"{canon}() deserializes {problem.reason}")
            return
        if path in visitor.written or path.rstrip("/") in visitor.written:
            return
        visitor.report(node, "unsafe-deserialization", M,
                       f"{canon}() deserializes {path!r}, which this cell did not write")
        return
    visitor.report(node, "unsafe-deserialization", H,
                   f"{canon}() deserializes data of unknown origin (pickle runs code)")


def check_np_load(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """numpy.load: a path like open's, and unpickling only with allow_pickle=True."""
    check_path(visitor, node, canon, danger)
    present, value = keyword_value(node, "allow_pickle")
    if present and value is not False:
        path, _ = _load_source(visitor, node.args[0] if node.args else None)
        if path is not None and path in visitor.written:
            return
        visitor.report(node, "unsafe-deserialization", H,
                       "numpy.load(allow_pickle=True) unpickles object arrays, which runs code")


def check_torch_load(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """torch.load: a path like open's, and unpickling unless weights_only=True."""
    check_path(visitor, node, canon, danger)
    present, value = keyword_value(node, "weights_only")
    if present and value is True:
        return
    check_deser(visitor, node, canon, danger)


def check_yaml_load(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """yaml.load without a safe Loader builds arbitrary objects."""
    present, value = keyword_value(node, "Loader")
    if not present and len(node.args) > 1:
        present, value = True, node.args[1]
    if present and isinstance(value, ast.AST):
        names = {q.rsplit(".", 1)[-1] for q in visitor.resolve(value)}
        if isinstance(value, ast.Attribute):
            names.add(value.attr)
        if names and names <= set(_SAFE_YAML_LOADERS):
            return  # safe whichever loader the name was bound to
    if canon.startswith("yaml.full_load"):
        visitor.report(node, "unsafe-deserialization", M, f"{canon}() (FullLoader) can build "
                       "arbitrary Python objects in old PyYAML versions")
        return
    visitor.report(node, "unsafe-deserialization", H,
                   f"{canon}() without a safe Loader can construct arbitrary objects")


def check_extract(visitor: CellVisitor, node: ast.Call, canon: str | None,
                  danger: Danger | None) -> None:
    """Extracting an archive: where to, and tar members escaping without filter='data'
    (``canon`` is the method name when the archive's type is unknown)."""
    present, _ = keyword_value(node, "filter")
    name = canon or "extractall"
    for arg in path_args(node, first_only=canon != "shutil.unpack_archive"):
        problem = path_problem(visitor, arg)
        if problem:
            visitor.report(node, "path-escape", H, f"{name}() extracts to {problem}")
    if present:
        return
    if canon is not None and ("tarfile" in canon or canon == "shutil.unpack_archive"):
        visitor.report(node, "path-escape", H,
                       f"{name}() without filter='data' lets archive members escape with "
                       "'..', absolute names or links")


def check_fileinput(visitor: CellVisitor, node: ast.Call, canon: str, danger: Danger) -> None:
    """fileinput without files reads the kernel's command line (its connection file)."""
    files = call_arg(node, "files", 0)
    if files is None:
        visitor.report(node, "path-escape", H, f"{canon}() without files reads the files "
                       "named on the kernel's command line (its connection file)")
        return
    problem = path_problem(visitor, files)
    if problem:
        visitor.report(node, "path-escape", H, f"{canon}() reads {problem}")
    present, inplace = keyword_value(node, "inplace")
    if present and inplace:
        targets = files.elts if isinstance(files, (ast.List, ast.Tuple)) else [files]
        for target in targets:
            check_code_file(visitor, node, f"{canon}(inplace=True)", target)


def check_path_join(visitor: CellVisitor, node: ast.BinOp) -> None:
    """``base / "../../etc"``: a pathlib join to a constant that leaves the sandbox."""
    if isinstance(node.op, ast.Div) and isinstance(node.right, (ast.Constant, ast.JoinedStr,
                                                                ast.Name)):
        text = visitor.fold_str(node.right)
        if text and not text.replace(".", "", 1).isdigit():
            problem = classify(text, visitor.policy)
            if problem is not None and problem.kind == "escape":
                visitor.report(node, "path-escape", H, f"path join '/ {text[:60]}' leads to "
                               f"{problem.reason}")


# -- method calls on any receiver (checks.METHOD_CHECKS) -------------------------------------
def check_extract_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                         quals: set[str]) -> None:
    """``archive.extractall(path)`` of an archive not known to be a tarfile (which is judged by
    name): where it extracts to."""
    if not any("tarfile" in q for q in quals):
        check_extract(visitor, node, func.attr, None)


def check_delete_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                        quals: set[str]) -> None:
    """``path.unlink()``, ``path.rmdir()``: the receiver is what is deleted."""
    problem = path_problem(visitor, func.value)
    if problem:
        visitor.report(node, "delete-outside-workdir", C, f"{func.attr}() deletes {problem}")
    elif derives_from_param(visitor, func.value, data_only=True):
        visitor.report(node, "delete-outside-workdir", H, f"{func.attr}() deletes the dataset")


def check_link_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                      quals: set[str]) -> None:
    """``path.symlink_to(target)``: a link can point anywhere."""
    visitor.report(node, "path-escape", H, f"{func.attr}() creates a link, which can point "
                   "outside the working directory")


def check_home_method(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                      quals: set[str]) -> None:
    """``Path.home()``, ``p.expanduser()``: the home directory is outside the sandbox."""
    if not node.args:
        visitor.report(node, "path-escape", H, f"{func.attr}() resolves the home directory")


def check_path_write(visitor: CellVisitor, node: ast.Call, func: ast.Attribute,
                     quals: set[str]) -> None:
    """``Path("x.py").write_text(...)``, ``p.rename("x.py")``: a pathlib method that creates a
    file holding code."""
    name = func.attr
    if name not in PATH_WRITE_METHODS or not is_path_value(visitor, func.value, quals):
        return
    if name in ("rename", "replace"):  # the argument is the new file
        check_code_file(visitor, node, f"{name}()", node.args[0] if node.args else None)
        return
    if name == "open":
        mode = visitor.fold_str(call_arg(node, "mode", 0)) or "r"
        if not any(c in mode for c in "wax+"):
            return
    check_code_file(visitor, node, f"{name}()", func.value)
