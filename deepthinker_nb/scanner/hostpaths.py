"""What host locations fold to: placeholders the path rules recognise as outside the sandbox.

``open(site.getsitepackages()[0] + "/evil.pth", "w")`` or ``os.path.join(os.environ["HOME"],
".ssh")`` build a host path from the interpreter's own answers. The folder (folding.py) replaces
those answers with placeholders: the home directory becomes ``~`` and every other host
location an absolute path naming where it came from (``/${site-packages}``), so that
paths.classify reports them like literal absolute or home paths. The real values are never
looked up: a static scan must not depend on the machine that runs it.
"""

from __future__ import annotations

import string
from collections.abc import Mapping


def _place(name: str) -> str:
    return "/${" + name + "}"


# Environment variables that hold host paths (read with os.environ[...], os.getenv, expandvars).
# Other variables do not fold: their value is unknown, and a default is not their value.
HOST_ENV: Mapping[str, str] = {
    "HOME": "~", "USERPROFILE": "~", "PYTHONUSERBASE": "~/.local", "IPYTHONDIR": "~/.ipython",
    "XDG_CONFIG_HOME": "~/.config", "XDG_CACHE_HOME": "~/.cache",
    "XDG_DATA_HOME": "~/.local/share", "JUPYTER_CONFIG_DIR": "~/.jupyter",
    "APPDATA": "~/AppData/Roaming", "LOCALAPPDATA": "~/AppData/Local",
    **{name: _place(name) for name in (
        "TMPDIR", "TEMP", "TMP", "OLDPWD", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME",
        "PYTHONPATH", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "XDG_RUNTIME_DIR",
        "SYSTEMROOT", "PROGRAMDATA")},
}

_SYSCONFIG_KEYS = ("stdlib", "platstdlib", "purelib", "platlib", "include", "platinclude",
                   "scripts", "data")

# Attributes of modules whose value is a host location (or a constant used to build one).
HOST_ATTRIBUTES: Mapping[str, object] = {
    "os.sep": "/", "os.path.sep": "/", "posixpath.sep": "/", "os.pardir": "..",
    "os.path.pardir": "..", "posixpath.pardir": "..", "os.curdir": ".", "os.path.curdir": ".",
    "os.extsep": ".", "os.path.extsep": ".", "os.linesep": "\n",
    "os.environ": HOST_ENV, "os.environb": HOST_ENV,
    "sys.prefix": _place("sys.prefix"), "sys.exec_prefix": _place("sys.exec_prefix"),
    "sys.base_prefix": _place("sys.base_prefix"),
    "sys.base_exec_prefix": _place("sys.base_exec_prefix"),
    "sys.executable": _place("sys.executable"), "sys.platlibdir": "lib",
    "site.USER_SITE": "~/.local/lib/site-packages", "site.USER_BASE": "~/.local",
    "site.PREFIXES": [_place("sys.prefix")],
    "sys.path": [_place("sys.path")] * 16,  # any entry: sys.path[0], sys.path[-1]
    # string constants are used to spell names letter by letter
    **{f"string.{name}": getattr(string, name) for name in (
        "ascii_lowercase", "ascii_uppercase", "ascii_letters", "digits", "hexdigits",
        "octdigits", "punctuation", "whitespace", "printable")},
}

# Functions whose result is a host location, by qualified name.
HOST_CALLS: Mapping[str, object] = {
    "site.getsitepackages": [_place("site-packages")],
    "site.getusersitepackages": "~/.local/lib/site-packages",
    "site.getuserbase": "~/.local",
    "sysconfig.get_paths": {key: _place(key) for key in _SYSCONFIG_KEYS},
    "sysconfig.get_path": None,  # by key: see host_call()
    "distutils.sysconfig.get_python_lib": _place("site-packages"),
    "sysconfig.get_python_lib": _place("site-packages"),
    "tempfile.gettempdir": _place("tempdir"), "tempfile.gettempdirb": _place("tempdir"),
    "pathlib.Path.home": "~",
    "sklearn.datasets.get_data_home": "~/scikit_learn_data",
    "inspect.getfile": _place("module") + "/__init__.py",
    "inspect.getsourcefile": _place("module") + "/__init__.py",
    "inspect.getabsfile": _place("module") + "/__init__.py",
}


def host_call(qual: str, args: list[object]) -> object:
    """The placeholder result of a host-location call, or None when it has none."""
    if qual == "sysconfig.get_path":
        return _place(str(args[0])) if args and str(args[0]) in _SYSCONFIG_KEYS else None
    if qual == "os.path.expanduser":
        return args[0] if args and isinstance(args[0], str) else None
    return HOST_CALLS.get(qual)


def module_file(module: str, attr: str) -> object:
    """``np.__file__`` / ``np.__path__`` (and ``find_spec(name).origin`` /
    ``.submodule_search_locations``): where a module's source lies on the host."""
    if attr in ("__file__", "origin"):
        return _place(module) + "/__init__.py"
    return [_place(module)]


SPEC_ATTRIBUTES = ("origin", "submodule_search_locations")


def expandvars(text: str) -> str:
    """``os.path.expandvars`` with the host variables replaced by their placeholders."""
    out = text
    for name in sorted(HOST_ENV, key=len, reverse=True):  # $HOMEPATH is not $HOME + PATH
        value = HOST_ENV[name]
        out = out.replace("${" + name + "}", value).replace("$" + name, value)
    return out
