"""Precompiled lookup tables: which qualified names are dangerous, under which rule, and how.

Entries with a ``check`` are judged at the call site from their arguments (``eval("1+1")`` is
fine, ``eval(text)`` is not); the others are flagged wherever they are referenced, because
passing ``os.system`` around is as bad as calling it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .severity import Severity

C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


@dataclass(frozen=True)
class Danger:
    rule: str
    severity: Severity
    what: str
    check: str | None = None  # key of the check judging a call from its arguments
    # (checks.CALL_CHECKS; an unknown key fails the import of checks.py)


# First components that are other names of the same module.
MODULE_ALIASES = {
    "posix": "os", "nt": "os", "_posixsubprocess": "subprocess", "cPickle": "pickle",
    "_pickle": "pickle", "__builtin__": "builtins", "_io": "io", "_signal": "signal",
    "_socket": "socket", "_thread": "_thread", "thread": "_thread", "sklearn": "sklearn",
    "urllib2": "urllib2", "pathlib2": "pathlib", "_winapi": "_winapi", "_frozen_importlib":
    "importlib", "_frozen_importlib_external": "importlib", "_imp": "importlib", "imp":
    "importlib", "_operator": "operator", "_codecs": "codecs", "_functools": "functools",
}

_SHELL = Danger("shell-command", C, "runs a shell command")
_SPAWN = Danger("shell-command", C, "replaces or spawns a process running another program")
_SUB = Danger("subprocess", C, "starts a subprocess")
_NET = Danger("network", H, "opens a network connection")
_DOWNLOAD = Danger("network", H, "downloads data from the network")
_FFI = Danger("ffi", C, "calls C code through a foreign function interface")
_TAMPER = Danger("interpreter-tampering", H, "tampers with the interpreter")
_FRAME = Danger("interpreter-tampering", H, "walks interpreter frames or objects")
_PROC = Danger("process-spawn", H, "creates a new process")
_SIG = Danger("signal-rlimit", H, "changes signals, kills processes or changes resource limits")
_PATH = Danger("path-escape", H, "accesses the file system", check="path")
_DELETE = Danger("delete-outside-workdir", C, "deletes files", check="delete")
_EVAL = Danger("dynamic-code", C, "executes dynamically built code", check="eval")
_CODEOBJ = Danger("dynamic-code", C, "builds or runs a code object")
_DESER = Danger("unsafe-deserialization", H, "deserializes data that can run code",
                check="deser")
_IPY_SHELL = Danger("ipython-shell-magic", C, "runs a shell command through IPython")

EXACT: dict[str, Danger] = {}


def _add(danger: Danger, *names: str) -> None:
    for name in names:
        EXACT[name] = danger


_add(_SHELL, "os.system", "os.popen", "os.popen2", "os.popen3", "os.popen4", "platform.popen",
     "commands.getoutput", "commands.getstatusoutput", "pty.spawn", "os.startfile",
     "IPython.utils.process.system", "IPython.utils.process.getoutput",
     "distutils.spawn.spawn", "IPython.utils._process_posix.system")
_add(_SPAWN, *(f"os.{n}" for n in (
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl",
    "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn",
    "posix_spawnp")))
_add(_SUB, "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
     "asyncio.subprocess", "asyncio.base_events.BaseEventLoop.subprocess_exec")
_add(_NET, "asyncio.open_connection", "asyncio.start_server", "asyncio.open_unix_connection",
     "asyncio.start_unix_server", "ssl.wrap_socket", "ssl.create_connection",
     "urllib.urlopen", "urllib.urlretrieve", "pandas.read_gbq", "pandas.io.gbq.read_gbq",
     "nltk.download", "torch.hub.load",
     "torch.hub.download_url_to_file", "tensorflow.keras.utils.get_file",
     "keras.utils.get_file", "tf.keras.utils.get_file", "pandas_datareader.DataReader")
_KERNEL = Danger("subprocess", C, "starts a kernel or runs a notebook: a process whose code "
                 "the scanner never reads")
_add(_KERNEL, "IPython.embed_kernel", "IPython.start_kernel", "ipykernel.embed.embed_kernel",
     "nbconvert.preprocessors.ExecutePreprocessor",
     "nbconvert.preprocessors.execute.ExecutePreprocessor")
_add(_PROC, "os.fork", "os.forkpty", "pty.fork", "os.setsid", "os.setpgrp", "os.daemon",
     "concurrent.futures.ProcessPoolExecutor", "_thread.start_new_thread", "_thread.start_new",
     "concurrent.futures.process.ProcessPoolExecutor")
_add(_SIG, "os.kill", "os.killpg", "os.nice", "os.setpriority", "os.abort", "os._exit",
     "resource.setrlimit", "resource.prlimit", "faulthandler.register",
     "faulthandler.dump_traceback_later",
     "os.pidfd_open", "os.pidfd_send_signal", "threading.excepthook")
# The whole family that changes the process's user or group identity (a way to root when a
# sandbox leaves a capability or a setuid helper behind): refused whatever the arguments.
_add(Danger("signal-rlimit", H, "changes the process's user or group ids (privileges)"),
     *(f"os.{n}" for n in (
         "setuid", "setgid", "seteuid", "setegid", "setreuid", "setregid", "setresuid",
         "setresgid", "setfsuid", "setfsgid", "setgroups", "initgroups")))
_add(_TAMPER, "sys.modules", "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache",
     "sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.displayhook", "sys.excepthook",
     "sys.breakpointhook", "sys.unraisablehook", "sys.__dict__", "sys.setdlopenflags",
     "sys.remote_exec", "threading.settrace", "threading.setprofile", "builtins.__import__",
     "builtins.__dict__", "builtins.__loader__", "builtins.__spec__", "builtins.breakpoint",
     "site.main", "gc.get_referrers", "gc.get_referents", "gc.get_objects",
     "builtins.__build_class__", "IPython.get_ipython().user_ns",
     "IPython.get_ipython().user_global_ns", "IPython.get_ipython().kernel",
     "IPython.get_ipython().input_transformers_post",
     "IPython.get_ipython().input_transformers_cleanup", "IPython.get_ipython().ast_transformers",
     "IPython.get_ipython().events", "IPython.get_ipython().magics_manager",
     "IPython.get_ipython().register_magic_function", "IPython.get_ipython().define_macro",
     "IPython.get_ipython().alias_manager", "IPython.get_ipython().set_custom_exc",
     "IPython.get_ipython().set_next_input", "IPython.get_ipython().register_magics",
     "IPython.get_ipython().displayhook", "IPython.get_ipython().run_line_magic.__globals__",
     # what the in-kernel scanner (kernel_guard) hangs on: IPython's input transformation
     "IPython.get_ipython().input_transformer_manager", "IPython.get_ipython().transform_cell",
     "IPython.get_ipython().transform_ast", "IPython.get_ipython().prefilter_manager",
     "IPython.get_ipython().compile")
_add(_FRAME, "sys._getframe", "sys._current_frames", "sys._current_exceptions",
     "inspect.currentframe", "inspect.stack", "inspect.getouterframes",
     "inspect.getinnerframes", "inspect.trace", "traceback.walk_stack", "traceback.walk_tb",
     "inspect.getmembers_static")
_add(_CODEOBJ, "types.CodeType", "types.FunctionType", "types.LambdaType",
     "code.interact", "code.InteractiveConsole", "code.InteractiveInterpreter",
     "codeop.compile_command",
     "codeop.Compile", "codeop.CommandCompiler", "runpy.run_path", "runpy.run_module",
     "runpy._run_module_as_main", "builtins.execfile", "pdb.run", "pdb.runeval", "pdb.runcall",
     "importlib.util.spec_from_file_location", "importlib.machinery.SourceFileLoader",
     "IPython.get_ipython().run_code", "IPython.get_ipython().safe_execfile",
     "IPython.get_ipython().safe_execfile_ipy", "IPython.get_ipython().safe_run_module",
     "IPython.get_ipython().run_ast_nodes", "IPython.get_ipython().runcode",
     "IPython.get_ipython().runsource", "IPython.get_ipython().run_cell_async")
_add(_IPY_SHELL, "IPython.get_ipython().system", "IPython.get_ipython().getoutput",
     "IPython.get_ipython().system_raw", "IPython.get_ipython().system_piped",
     "IPython.get_ipython().run_cell_magic.__self__")
_add(Danger("dynamic-code", C, "runs code given as a string", check="eval"),
     "builtins.eval", "builtins.exec", "builtins.compile", "timeit.timeit", "timeit.repeat",
     "timeit.Timer", "cProfile.run", "cProfile.runctx", "profile.run", "profile.runctx",
     "IPython.get_ipython().run_cell", "IPython.get_ipython().ex", "IPython.get_ipython().ev",
     "IPython.get_ipython().magic")
# What IPython turns %magic and %%magic syntax into: judged by the magic's kind (magics.py).
_add(Danger("dynamic-code", C, "runs code given as a string", check="line_magic"),
     "IPython.get_ipython().run_line_magic")
_add(Danger("dynamic-code", C, "runs code given as a string", check="cell_magic"),
     "IPython.get_ipython().run_cell_magic")
_add(Danger("pandas-eval-injection", H, "evaluates an expression string", check="pandas_eval"),
     "pandas.eval")
_add(_DESER, "pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "dill.loads",
     "cloudpickle.load", "cloudpickle.loads", "joblib.load", "shelve.open", "marshal.load",
     "marshal.loads", "pandas.read_pickle", "jsonpickle.decode", "yaml.unsafe_load",
     "yaml.unsafe_load_all", "sklearn.externals.joblib.load", "skops.io.load",
     "keras.models.load_model", "tensorflow.keras.models.load_model", "pickle._loads",
     "pickle._load", "dill.Unpickler", "torch.serialization.load", "numpy.lib.npyio.load")
_add(Danger("unsafe-deserialization", H, "loads data with pickle enabled", check="np_load"),
     "numpy.load")
_add(Danger("unsafe-deserialization", H, "torch.load unpickles unless weights_only=True",
            check="torch_load"), "torch.load")
_add(Danger("unsafe-deserialization", H, "yaml.load without a safe Loader runs code",
            check="yaml_load"), "yaml.load", "yaml.load_all", "yaml.full_load",
     "yaml.full_load_all")
_add(Danger("interpreter-tampering", H, "imports a module dynamically", check="dyn_import"),
     "importlib.import_module", "importlib.__import__", "builtins.__import__",
     "importlib.reload", "pkgutil.get_loader", "pkgutil.find_loader", "zipimport.zipimporter")
_add(Danger("interpreter-tampering", H, "changes where imports come from", check="sys_path"),
     "sys.path.insert", "sys.path.append", "sys.path.extend", "site.addsitedir")
_add(Danger("detached-thread", H, "starts a thread", check="thread"),
     "threading.Thread", "threading.Timer")
_add(Danger("path-escape", H, "creates a symbolic or hard link, which can point anywhere"),
     "os.symlink", "os.link", "os.chroot", "os.fchdir", "os.mkfifo", "os.mknod")
_add(Danger("path-escape", H, "returns the home directory"), "pathlib.Path.home",
     "os.path.expanduser.__call__", "pathlib.Path.expanduser.__call__")
_add(Danger("path-escape", H, "extracts an archive", check="extract"),
     "shutil.unpack_archive", "tarfile.open().extractall", "tarfile.open().extract",
     "tarfile.TarFile().extractall", "tarfile.TarFile().extract")
_add(Danger("env-magic", H, "changes the process environment", check="env_call"),
     "os.putenv", "os.unsetenv", "os.environ.update", "os.environ.setdefault",
     "os.environ.pop", "os.environ.clear", "os.environ.__setitem__", "os.environb.update")
_add(Danger("network", H, "uploads code to a paste service"), "IPython.core.magics.code.pastebin")
_add(_PATH, "builtins.open", "io.open", "io.FileIO", "codecs.open", "os.open", "os.chdir",
     "os.listdir", "os.scandir", "os.walk", "os.fwalk", "os.stat", "os.lstat", "os.access",
     "os.readlink", "os.chmod", "os.chown", "os.lchown", "os.utime",
     "os.makedirs", "os.mkdir", "os.rename", "os.replace", "os.renames", "os.path.join",
     "os.path.exists", "os.path.isfile", "os.path.isdir", "os.path.getsize", "os.path.abspath",
     "os.path.realpath", "os.path.expanduser", "os.path.getmtime", "os.path.islink",
     "os.path.lexists", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
     "shutil.copymode", "shutil.copystat", "shutil.chown", "shutil.make_archive",
     "shutil.disk_usage", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath",
     "pathlib.WindowsPath", "pathlib.PurePosixPath", "glob.glob", "glob.iglob",
     "tarfile.open", "tarfile.TarFile", "zipfile.ZipFile", "gzip.open", "bz2.open", "lzma.open",
     "sqlite3.connect", "linecache.getline", "linecache.getlines", "fsspec.open",
     "fsspec.open_files", "pyarrow.fs.FileSystem.from_uri",
     "h5py.File", "PIL.Image.open", "cv2.imread", "cv2.imwrite", "numpy.loadtxt",
     "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.save", "numpy.savez",
     "numpy.savez_compressed", "numpy.savetxt", "joblib.dump", "torch.save", "tempfile.mkdtemp",
     "io.open_code", "os.path.getatime", "os.path.getctime", "os.path.samefile",
     "os.statvfs", "os.chflags", "os.lchmod", "mmap.mmap")
_add(_DELETE, "os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree",
     "shutil.move", "os.truncate")

_add(Danger("path-escape", H, "reads the files named on the command line", check="fileinput"),
     "fileinput.input", "fileinput.FileInput")
_add(Danger("network", H, "connects to a database", check="db_url"),
     "sqlalchemy.create_engine", "sqlalchemy.engine.create_engine",
     "sqlalchemy.create_async_engine", "sqlalchemy.ext.asyncio.create_async_engine",
     "sqlalchemy.engine_from_config", "sqlalchemy.create_mock_engine", "duckdb.connect",
     "fsspec.filesystem")
# Interactive interpreters and debuggers that run code given as a string.
_add(Danger("dynamic-code", C, "runs code given as a string", check="eval"),
     "pdb.Pdb().run", "pdb.Pdb().runeval", "pdb.Pdb().runctx", "bdb.Bdb().run",
     "bdb.Bdb().runeval", "bdb.Bdb().runctx", "trace.Trace().run", "trace.Trace().runctx",
     "cProfile.Profile().run", "cProfile.Profile().runctx", "profile.Profile().run",
     "profile.Profile().runctx", "code.InteractiveInterpreter().runsource",
     "code.InteractiveConsole().push")
_add(Danger("dynamic-code", C, "starts an interactive interpreter that runs code the scanner "
            "does not read"),
     "IPython.embed", "IPython.start_ipython", "IPython.terminal.embed.embed",
     "IPython.terminal.embed.InteractiveShellEmbed", "IPython.InteractiveShell",
     "IPython.core.interactiveshell.InteractiveShell", "pdb.Pdb", "bdb.Bdb",
     "code.InteractiveConsole", "code.InteractiveInterpreter")

# Loaders of public datasets (family "public-dataset"): a workflow's coder could look up the
# test labels in a public copy of its dataset. Judged by runtime_checks.check_dataset, which
# also reports the download of those in DATASET_DOWNLOADS.
_DATASET = Danger("public-dataset", L, "loads a public dataset", check="dataset")
_add(_DATASET, "seaborn.load_dataset", "seaborn.get_dataset_names", "datasets.load_dataset",
     "datasets.load_dataset_builder", "palmerpenguins.load_penguins",
     "palmerpenguins.load_penguins_raw", "ucimlrepo.fetch_ucirepo", "pmlb.fetch_data",
     "pycaret.datasets.get_data", "imblearn.datasets.fetch_datasets")
_add(Danger("delete-outside-workdir", C, "deletes scikit-learn's dataset cache in the home "
            "directory"), "sklearn.datasets.clear_data_home")
DATASET_MODULES = ("statsmodels.datasets", "statsmodels.api.datasets", "openml",
                   "tensorflow_datasets", "keras.datasets", "tensorflow.keras.datasets",
                   "torchvision.datasets", "torchtext.datasets", "torchaudio.datasets",
                   "plotly.data", "plotly.express.data", "vega_datasets", "pydataset",
                   "catboost.datasets", "shap.datasets", "yellowbrick.datasets",
                   "mlxtend.data", "sktime.datasets", "kagglehub")
# Loaders that fetch from the network (their calls are network findings too).
DATASET_DOWNLOADS = ("sklearn.datasets.fetch_", "seaborn.", "datasets.load_dataset", "openml.",
                     "tensorflow_datasets.", "keras.datasets.", "tensorflow.keras.datasets.",
                     "ucimlrepo.", "pmlb.", "pycaret.", "imblearn.", "catboost.", "shap.",
                     "yellowbrick.", "kagglehub.", "vega_datasets.", "torchtext.datasets.",
                     "statsmodels.datasets.get_rdataset", "statsmodels.api.datasets.get_rdataset",
                     "torchvision.datasets.utils.download")
# Loaders of the user's own files that live next to the public datasets.
DATASET_LOOKALIKES = frozenset({
    "sklearn.datasets.load_files", "sklearn.datasets.load_svmlight_file",
    "sklearn.datasets.load_svmlight_files", "sklearn.datasets.load_sample_image",
    "sklearn.datasets.load_sample_images", "torchvision.datasets.ImageFolder",
    "torchvision.datasets.DatasetFolder", "torchvision.datasets.VisionDataset",
    "torchvision.datasets.folder", "datasets.load_from_disk",
})

# Methods that start a process or open a connection whatever they are called on: those of the
# asyncio event loop (``asyncio.get_event_loop().subprocess_shell(...)``,
# ``loop.create_unix_connection(...)``), whose receiver is rarely a name the resolver can follow.
_LOOP_SUB = Danger("subprocess", C, "starts a subprocess through an event loop")
_LOOP_NET = Danger("network", H, "opens a network connection through an event loop")
METHOD_SINKS: dict[str, Danger] = {
    **{name: _LOOP_SUB for name in ("subprocess_exec", "subprocess_shell")},
    **{name: _LOOP_NET for name in (
        "create_connection", "create_unix_connection", "create_server", "create_unix_server",
        "create_datagram_endpoint", "sock_connect", "connect_accepted_socket",
        "open_connection", "open_unix_connection", "start_unix_server")},
}

# Any attribute under these prefixes is dangerous (component-wise prefix match).
PREFIX: dict[str, Danger] = {}
for _name in ("subprocess", "pexpect", "sh", "plumbum", "sarge", "envoy", "delegator",
              "asyncio.subprocess", "ptyprocess"):
    PREFIX[_name] = _SUB
for _name in ("socket", "socketserver", "urllib.request", "urllib2", "urllib3", "http.client",
              "http.server", "httplib", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
              "poplib", "imaplib", "nntplib", "telnetlib", "xmlrpc", "websocket", "websockets",
              "paramiko", "pycurl", "tornado.httpclient", "twisted.internet", "webbrowser",
              "wget", "gdown", "huggingface_hub", "kaggle", "yfinance",
              "pandas_datareader", "boto3", "botocore", "google.cloud", "azure.storage",
              "asyncssh", "fabric", "zmq", "grpc", "smbclient", "pysftp", "s3fs", "gcsfs",

              "ssl.SSLSocket", "multiprocessing.connection", "multiprocessing.managers"):
    PREFIX[_name] = _NET
for _name in ("jupyter_client", "papermill", "nbclient", "ipykernel.kernelapp", "ipyparallel",
              "jupyter_server", "notebook.app"):
    PREFIX[_name] = _KERNEL
for _name in ("ctypes", "_ctypes", "cffi", "ffi", "_cffi_backend", "numpy.ctypeslib",
              "llvmlite.binding", "torch.ops.load_library", "torch.classes.load_library",
              "torch.utils.cpp_extension", "tensorflow.load_op_library",
              "tensorflow.load_library", "cython.inline", "Cython.Build.Inline",
              "pyximport", "scipy.LowLevelCallable"):
    PREFIX[_name] = _FFI
_add(_FFI, "torch.ops.load_library", "torch.classes.load_library", "tensorflow.load_op_library",
     "tensorflow.load_library", "cython.inline", "scipy.LowLevelCallable")
# Database drivers and network clients: any use connects to a server.
_DB = Danger("network", H, "connects to a database or another network service")
for _name in ("psycopg2", "psycopg", "asyncpg", "pymysql", "MySQLdb", "mysql.connector",
              "pymongo", "motor", "redis", "elasticsearch", "opensearchpy", "cassandra",
              "clickhouse_driver", "clickhouse_connect", "snowflake.connector", "cx_Oracle",
              "oracledb", "pyodbc", "pymssql", "neo4j", "influxdb_client", "kafka",
              "confluent_kafka", "pika", "paho.mqtt", "nats", "ldap3", "httplib2", "selenium",
              "playwright", "scrapy", "mechanize", "treq", "grequests", "requests_html",
              "pyarrow.flight", "pyarrow.fs.S3FileSystem", "pyarrow.fs.GcsFileSystem",
              "pyarrow.fs.HadoopFileSystem", "smart_open", "ray.util.client", "debugpy"):
    PREFIX[_name] = _DB
_add(_DB, "pyarrow.fs.S3FileSystem", "pyarrow.fs.GcsFileSystem", "pyarrow.fs.HadoopFileSystem")
# Runners of examples written in docstrings and strings (doctest.ELLIPSIS is a constant).
PREFIX["doctest"] = Danger("dynamic-code", C, "runs examples written in docstrings or "
                           "strings, code the scanner does not read")
for _name in ("multiprocessing", "billiard", "ray", "pathos", "torch.multiprocessing"):
    PREFIX[_name] = _PROC
for _name in DATASET_MODULES:
    PREFIX[_name] = _DATASET
PREFIX["signal"] = _SIG
PREFIX["deepthinker_nb"] = Danger("interpreter-tampering", H,
                                  "reaches deepthinker-nb's own machinery inside the kernel")
PREFIX["importlib"] = Danger("interpreter-tampering", H, "uses the import machinery")
PREFIX["builtins.__import__"] = EXACT["builtins.__import__"]

# Prefixes under which UPPER_CASE names are constants, not dangers (signal.SIGTERM,
# doctest.ELLIPSIS).
CONSTANT_PREFIXES = frozenset({"signal", "doctest"})

# Character prefixes (not component-wise).
CHAR_PREFIX: tuple[tuple[str, Danger], ...] = (
    ("torchvision.datasets.utils.download", _DOWNLOAD),
    ("sklearn.datasets.fetch_", _DATASET),
    ("sklearn.datasets.load_", _DATASET),
    ("os.exec", _SPAWN),
    ("os.spawn", _SPAWN),
)

# Settings of the IPython shell a notebook may change: every other attribute the shell has is
# machinery (the in-kernel scanner hangs on its input transformation).
SHELL_SETTINGS = frozenset({"ast_node_interactivity", "colors"})
# The shell's class: importing it and reading or setting one of SHELL_SETTINGS on it
# (``InteractiveShell.ast_node_interactivity = "all"``) is a display setting; calling it, its
# ``instance()`` or any other attribute, or passing it around, stays refused (EXACT above).
SHELL_CLASSES = frozenset({"IPython.core.interactiveshell.InteractiveShell",
                           "IPython.InteractiveShell"})

# Never dangerous although under a dangerous prefix.
EXEMPT = frozenset({
    *(f"{cls}.{setting}" for cls in SHELL_CLASSES for setting in SHELL_SETTINGS),
    "multiprocessing.cpu_count", "multiprocessing.current_process",
    "importlib.metadata", "importlib.metadata.version", "importlib.metadata.versions",
    "importlib.metadata.PackageNotFoundError", "importlib.util.find_spec",
    "importlib.resources", "importlib.invalidate_caches", "importlib.metadata.distribution",
    "importlib.metadata.packages_distributions", "importlib.metadata.metadata",
    "socket.gethostname", *DATASET_LOOKALIKES,
})

# Importing these modules is itself a finding (no legitimate notebook use under this policy).
IMPORT_FLAG: dict[str, Danger] = {
    "subprocess": _SUB, "pexpect": _SUB, "sh": _SUB, "plumbum": _SUB, "ptyprocess": _SUB,
    "pty": _SHELL, "commands": _SHELL,
    "socket": _NET, "socketserver": _NET, "requests": _NET, "httpx": _NET, "urllib3": _NET,
    "aiohttp": _NET, "http.client": _NET, "http.server": _NET, "urllib.request": _NET,
    "urllib2": _NET, "httplib": _NET, "ftplib": _NET, "telnetlib": _NET, "smtplib": _NET,
    "poplib": _NET, "imaplib": _NET, "nntplib": _NET, "paramiko": _NET, "pycurl": _NET,
    "websocket": _NET, "websockets": _NET, "webbrowser": _NET, "wget": _NET,
    "ctypes": _FFI, "_ctypes": _FFI, "cffi": _FFI,
    "builtins": Danger("interpreter-tampering", H, "imports the builtins module"),
    "__builtin__": Danger("interpreter-tampering", H, "imports the builtins module"),
    "_thread": _PROC, "marshal": Danger("unsafe-deserialization", M, "imports marshal"),
    "deepthinker_nb": PREFIX["deepthinker_nb"],
}
# Modules whose attributes must never be computed at run time (getattr with unknown name).
SENSITIVE_MODULES = frozenset({
    "os", "sys", "builtins", "subprocess", "socket", "ctypes", "importlib", "shutil", "pty",
    "signal", "pickle", "marshal", "io", "posix", "nt", "codecs", "operator", "types", "gc",
    "inspect", "IPython.get_ipython()", "<globals>", "multiprocessing", "threading", "pathlib",
    "runpy", "code", "_thread", "pathlib.Path", "resource",
})
# Module names that, appearing inside a library's attribute chain, expose that module
# (pd.io.common.os). Names that libraries also use for their own submodules (scipy.signal,
# pandas.io.pickle, torch.multiprocessing) are not listed; those are matched by name instead.
REROOT_MODULES = frozenset({
    "os", "sys", "subprocess", "builtins", "__builtins__", "socket", "ctypes", "importlib",
    "shutil", "posix", "nt", "pty", "marshal", "_os", "pickle",
})
# Module objects that must not be stored or passed around: attribute uses through a list, a
# dict or a class attribute could not be followed.
VALUE_TRACKED_MODULES = frozenset({
    "os", "sys", "builtins", "subprocess", "shutil", "importlib", "ctypes", "socket", "pty",
    "posix", "nt", "marshal", "pickle", "io", "codecs", "operator", "types", "runpy",
})
# Attribute names that lead out of the Python object model's front door.
TAMPER_ATTRS = frozenset({
    "__subclasses__", "__mro__", "__bases__", "__base__", "__globals__", "__builtins__",
    "__code__", "__closure__", "__self__", "__loader__", "__spec__", "__import__", "__reduce__",
    "__reduce_ex__", "__getattribute__", "__init_subclass__", "__set_name__", "__dictoffset__",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next",
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "co_code",
    "func_globals", "mro", "_getframe", "__func__", "__wrapped__", "__objclass__",
})
# Of those, attribute names that are harmless to *define* (``def __reduce__``) or that appear
# in ordinary code when read.
TAMPER_READ_OK = frozenset({"__func__", "__wrapped__", "__reduce__", "__reduce_ex__",
                            "__init_subclass__", "__set_name__", "mro"})
