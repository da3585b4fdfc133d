"""Family (a): process spawning and shell access through any installed package.

The environment index walks installed modules (parsed, never imported) and marks every function
that hands its own values to a process or socket sink, a few calls deep. These tests build it on
a small package written here (so that every case is known) and check the real environment's
well-known helpers, with look-alikes that must stay allowed.
"""

from __future__ import annotations

import importlib.metadata
import json
import textwrap
from pathlib import Path

import pytest

from deepthinker_nb.scanner import SecurityScanner, envcache, envindex, environment
from deepthinker_nb.scanner.envindex import EnvIndex, default_index
from deepthinker_nb.scanner.summary import summarise

FAKE_PACKAGE = {
    "evilpkg/__init__.py": """
        from .helpers import run_it
        from .launch import *
        from .helpers import run_it as go
    """,
    "evilpkg/helpers.py": """
        import subprocess

        def _inner(cmd):
            return subprocess.Popen(cmd, shell=True)

        def run_it(cmd):
            return _inner(cmd)

        def probe():
            # a fixed command: a cell cannot choose what it runs
            return subprocess.run(["lscpu"], capture_output=True)

        def fork_worker():
            import os
            return os.fork()
    """,
    "evilpkg/launch.py": """
        from .helpers import run_it
        __all__ = ["start"]

        def start(argv):
            return run_it(argv)

        def also_public(argv):
            return run_it(argv)
    """,
    "evilpkg/shell.py": """
        class Runner:
            def __init__(self, cmd):
                self.cmd = cmd
                self._go()

            def _go(self):
                import os
                os.system(self.cmd)

        class Sub(Runner):
            pass

        class Handler:
            def system(self, cmd):
                import pexpect
                return pexpect.run(cmd)

        runner = Runner
        system = Handler().system
        instance = Handler()
    """,
    "evilpkg/deep.py": """
        import subprocess

        def l1(c):
            return subprocess.call(c)

        def l2(c):
            return l1(c)

        def l3(c):
            return l2(c)

        def l4(c):
            return l3(c)

        def l5(c):
            return l4(c)
    """,
    "evilpkg/net.py": """
        import socket

        def connect(host):
            s = socket.socket()
            s.connect((host, 80))
            return s

        async def spawn(loop, proto, cmd):
            return await loop.subprocess_shell(proto, cmd)
    """,
    "evilpkg/mathx.py": """
        def add(a, b):
            return a + b

        def call_twice(f, x):
            return f(f(x))
    """,
}


@pytest.fixture(autouse=True)
def no_environment_copy(tmp_path_factory, monkeypatch):
    """The environment's own copy of the index (left by ``--install``, as the bootstrap does)
    must not stand in for what each test builds or caches."""
    shared = tmp_path_factory.mktemp("no-shared-copy")
    monkeypatch.setattr(envcache, "shared_path", lambda key: shared / f"envindex-{key}.json")


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for rel, text in FAKE_PACKAGE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def fake_index(fake_root) -> EnvIndex:
    return EnvIndex.build([(str(fake_root), False)], key="fake")


# -- the walk on a package written here -----------------------------------------------------
@pytest.mark.parametrize("name, sink, level", [
    ("evilpkg.helpers.run_it", "subprocess.Popen", 2),
    ("evilpkg.launch.start", "subprocess.Popen", 3),
    ("evilpkg.launch.also_public", "subprocess.Popen", 3),
    ("evilpkg.helpers.fork_worker", "os.fork", 1),
    ("evilpkg.shell.Runner", "os.system", 2),
    ("evilpkg.shell.Handler.system", "pexpect.run", 1),
    ("evilpkg.deep.l4", "subprocess.call", 4),
    ("evilpkg.net.connect", "socket.socket", 1),
    ("evilpkg.net.spawn", "*.subprocess_shell", 1),
])
def test_functions_that_hand_their_arguments_to_a_sink_are_marked(fake_index, name, sink,
                                                                   level):
    assert fake_index.entries[name][:2] == (sink, level)


@pytest.mark.parametrize("name", [
    "evilpkg.run_it",  # re-exported by the package
    "evilpkg.go",  # re-exported under another name
    "evilpkg.start",  # star re-export, listed in __all__
    "evilpkg.shell.Sub",  # inherits the constructor
    "evilpkg.shell.runner",  # a module-level alias of the class
    "evilpkg.shell.system",  # a bound method of an instance (``system = Handler().system``)
])
def test_every_name_that_reaches_a_marked_function_is_marked(fake_index, name):
    assert name in fake_index.entries


@pytest.mark.parametrize("name", [
    "evilpkg.helpers.probe",  # runs a fixed command
    "evilpkg.deep.l5",  # five calls away: beyond the depth
    "evilpkg.mathx.add",
    "evilpkg.mathx.call_twice",
    "evilpkg.also_public",  # not in launch.__all__, so ``import *`` does not bind it
    "evilpkg.shell.instance",  # an instance: referencing it calls nothing
])
def test_look_alikes_are_not_marked(fake_index, name):
    assert name not in fake_index.entries


def test_the_scanner_blocks_cells_calling_marked_helpers(fake_index):
    scanner = SecurityScanner(env_index=fake_index)
    cases = {
        "from evilpkg.launch import start\nstart(['id'])": "subprocess",
        "import evilpkg\nevilpkg.go('id')": "subprocess",
        "import evilpkg.shell as sh\nsh.Sub('id')": "shell-command",
        "from evilpkg import shell\nshell.Handler().system('id')": "subprocess",
        "import evilpkg.net\nevilpkg.net.connect('10.0.0.1')": "network",
        "from evilpkg.helpers import run_it\nrunners = [run_it]": "subprocess",
    }
    for code, rule in cases.items():
        report = scanner.scan(code)
        assert report.blocked and rule in report.rule_ids, report.to_text(code)
    message = scanner.scan("from evilpkg.launch import start\nstart(['id'])").findings[0].message
    assert message == ("evilpkg.launch.start starts a subprocess: it reaches subprocess.Popen "
                       "through evilpkg.helpers.run_it")


def test_the_scanner_leaves_unmarked_functions_of_the_same_package_alone(fake_index):
    scanner = SecurityScanner(env_index=fake_index)
    for code in ("import evilpkg.mathx as m\nm.add(1, 2)",
                 "from evilpkg.helpers import probe\nprobe()",
                 "import evilpkg.deep\nevilpkg.deep.l5"):
        assert not scanner.scan(code).findings, code


def test_summaries_resolve_relative_imports_self_and_local_aliases():
    source = textwrap.dedent("""
        from . import sibling
        from ..up import helper as h

        class A(sibling.Base):
            def m(self, cmd):
                run = h
                run(cmd)
                self.n(cmd)
                super().m(cmd)

            def n(self, cmd):
                return cmd
    """)
    summary = summarise("pkg.sub.mod", False, source)
    assert summary.classes["pkg.sub.mod.A"] == ("pkg.sub.sibling.Base",)
    assert summary.functions["pkg.sub.mod.A.m"] >= {"pkg.up.helper", "pkg.sub.mod.A.n",
                                                    "pkg.sub.sibling.Base.m"}
    assert summary.aliases["pkg.sub.mod.h"] == ("pkg.up.helper",)
    assert summarise("broken", False, "def f(:\n") is None


def test_the_walk_stops_at_its_time_budget(fake_root):
    result = environment.walk([(str(fake_root), False)], budget_s=0.0)
    assert not result.complete


def test_the_index_round_trips_through_its_json_payload(fake_index):
    again = EnvIndex.from_payload(json.loads(json.dumps(fake_index.to_payload())))
    assert again.entries == fake_index.entries and again.key == "fake" and again.complete


# -- the cache ---------------------------------------------------------------------------
def test_the_index_is_cached_under_xdg_cache_home_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(envindex.INDEX_FILE_ENV, raising=False)
    built = []

    def build(roots, budget_s, key):
        built.append(key)
        return EnvIndex({"x.run": ("subprocess.run", 1, "")}, key=key)

    monkeypatch.setattr(EnvIndex, "build", staticmethod(build))
    first = envindex.load_or_build()
    second = envindex.load_or_build()
    assert len(built) == 1, "the second process must read the cache, not walk again"
    assert second.entries == first.entries
    assert envcache.index_path(first.key).parent == tmp_path / "deepthinker-nb"
    assert envcache.index_path(first.key).exists()


def test_an_unwritable_cache_dir_falls_back_to_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv(envindex.INDEX_FILE_ENV, raising=False)
    monkeypatch.setattr(EnvIndex, "build", staticmethod(
        lambda roots, budget_s, key: EnvIndex({"x.run": ("subprocess.run", 1, "")}, key=key)))
    index = envindex.load_or_build()
    assert index.lookup("x.run") is not None
    assert envcache.store(index.key, index.to_payload()) is None


def test_a_cache_file_for_another_environment_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    envcache.store("other", {"key": "other", "entries": {}})
    path = envcache.index_path("other")
    assert envcache.load_file(str(path), "mine") is None
    assert envcache.load_file(str(path), "other") is not None
    path.write_text("{not json")
    assert envcache.load("other") is None


def test_the_key_changes_with_the_package_list(fake_root, tmp_path):
    base = environment.fingerprint([(str(fake_root), False)])
    dist = tmp_path / "extra-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra\nVersion: 1.0\n")
    assert environment.fingerprint([(str(fake_root), False), (str(tmp_path), False)]) != base
    assert environment.fingerprint([(str(fake_root), False)]) == base


def test_a_kernel_side_scanner_never_walks(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(envindex.INDEX_FILE_ENV, raising=False)

    def no_walk(*args, **kwargs):
        raise AssertionError("cached_index() must not walk the environment")

    monkeypatch.setattr(environment, "walk", no_walk)
    monkeypatch.setattr(envindex, "walk", no_walk)
    empty = envindex.cached_index()
    assert len(empty) == 0 and not empty.complete
    given = tmp_path / "host-index.json"
    given.write_text(json.dumps({"key": empty.key, "entries": {"x.run": ["os.system", 1, ""]}}))
    monkeypatch.setenv(envindex.INDEX_FILE_ENV, str(given))
    assert envindex.cached_index().lookup("x.run").rule == "shell-command"


# -- the real environment ------------------------------------------------------------------
def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


REAL_HELPERS = [
    ("ipython", "IPython.utils.process.system"),
    ("ipython", "IPython.utils.process.getoutput"),
    ("ipython", "IPython.utils._process_posix.system"),
    ("ipython", "IPython.lib.editorhooks.install_editor"),
    ("setuptools", "setuptools._distutils.spawn.spawn"),
    ("matplotlib", "matplotlib.testing.subprocess_run_for_testing"),
    ("matplotlib", "matplotlib.texmanager.TexManager.make_dvi"),
    (None, "asyncio.create_subprocess_exec"),
    (None, "asyncio.create_subprocess_shell"),
    (None, "asyncio.open_connection"),
    (None, "asyncio.open_unix_connection"),
    (None, "multiprocessing.popen_fork.Popen"),
    (None, "pydoc.pipepager"),
]
REAL_LOOK_ALIKES = [
    (None, "platform.system"),
    (None, "platform.platform"),
    ("joblib", "joblib.cpu_count"),
    ("matplotlib", "matplotlib.font_manager.findSystemFonts"),
    ("matplotlib", "matplotlib.pyplot.savefig"),
    ("numpy", "numpy.show_runtime"),
    ("pandas", "pandas.read_csv"),
    ("scikit-learn", "sklearn.model_selection.cross_val_score"),
]


@pytest.mark.parametrize("dist, name", REAL_HELPERS, ids=lambda v: v or "stdlib")
def test_installed_helpers_that_start_processes_are_marked(dist, name):
    if dist is not None and not _installed(dist):
        pytest.skip(f"{dist} is not installed")
    index = default_index()
    assert index.complete, index.stats
    assert index.lookup(name) is not None, name


@pytest.mark.parametrize("dist, name", REAL_LOOK_ALIKES, ids=lambda v: v or "stdlib")
def test_installed_functions_running_fixed_probes_or_nothing_are_not_marked(dist, name):
    if dist is not None and not _installed(dist):
        pytest.skip(f"{dist} is not installed")
    assert default_index().lookup(name) is None, default_index().entries.get(name)


@pytest.mark.parametrize("code", [
    "from IPython.utils.process import getoutput\ngetoutput('id')",
    "import IPython.utils._process_posix as p\np.system('id')",
    "from jupyter_client.launcher import launch_kernel\nlaunch_kernel(['sh', '-c', 'id'])",
    "from setuptools._distutils.spawn import spawn\nspawn(['id'])",
    "from matplotlib.testing import subprocess_run_for_testing as r\nr(['id'])",
    "from multiprocessing.popen_fork import Popen\nPopen(obj)",
    "import asyncio\nasyncio.run(asyncio.create_subprocess_shell('id'))",
])
def test_cells_using_installed_helpers_are_blocked(code):
    report = SecurityScanner().scan(code)
    assert report.blocked, report.to_text(code)


@pytest.mark.parametrize("code, rule", [
    ("import asyncio\nasyncio.get_event_loop().subprocess_shell(asyncio.SubprocessProtocol, "
     "'id')", "subprocess"),
    ("import asyncio\nloop = asyncio.new_event_loop()\nloop.subprocess_exec(P, 'sh')",
     "subprocess"),
    ("async def f(loop):\n    await loop.create_unix_connection(P, '/var/run/docker.sock')",
     "network"),
    ("import asyncio\nloop = asyncio.get_running_loop()\nloop.create_connection(P, 'h', 80)",
     "network"),
    ("import asyncio\nasyncio.open_unix_connection('/run/x.sock')", "network"),
    ("import asyncio\nasyncio.open_connection('example.com', 80)", "network"),
    ("f = loop.create_server\nf(P, port=8080)", "network"),
])
def test_event_loop_methods_are_blocked_whatever_the_receiver(code, rule):
    report = SecurityScanner().scan(code)
    assert report.blocked and rule in report.rule_ids, report.to_text(code)


@pytest.mark.parametrize("code", [
    "import asyncio\nloop = asyncio.new_event_loop()\nloop.run_until_complete(main())",
    "import asyncio\nasyncio.run(asyncio.sleep(0))",
    "import platform\nprint(platform.system(), platform.python_version())",
    "import joblib\nn_jobs = joblib.cpu_count()",
    "import matplotlib.font_manager as fm\nfonts = fm.findSystemFonts()",
])
def test_ordinary_uses_of_the_same_libraries_pass(code):
    report = SecurityScanner().scan(code)
    assert not report.blocked, report.to_text(code)


def test_install_leaves_a_readable_copy_that_kernels_of_the_environment_find(tmp_path,
                                                                           monkeypatch, capsys):
    user, shared = tmp_path / "user", tmp_path / "prefix" / "share" / "deepthinker-nb"
    monkeypatch.setenv("XDG_CACHE_HOME", str(user))
    monkeypatch.delenv(envindex.INDEX_FILE_ENV, raising=False)
    monkeypatch.setattr(envcache, "shared_path", lambda key: shared / f"envindex-{key}.json")
    monkeypatch.setattr(EnvIndex, "build", staticmethod(
        lambda roots, budget_s, key: EnvIndex({"x.run": ("os.system", 1, "")}, key=key)))
    assert envindex.main(["--install", "x.run"]) == 0
    assert "x.run: shell-command" in capsys.readouterr().out
    (copy,) = shared.glob("envindex-*.json")
    assert copy.stat().st_mode & 0o777 == 0o644
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "kernel-home"))  # a kernel's HOME
    assert envindex.cached_index().lookup("x.run") is not None


def test_a_failing_walk_leaves_the_tables_in_charge_and_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(envindex.INDEX_FILE_ENV, raising=False)

    def broken(roots, budget_s, key):
        raise RuntimeError("a bug in the walk")

    monkeypatch.setattr(EnvIndex, "build", staticmethod(broken))
    index = envindex.load_or_build()
    assert len(index) == 0 and not index.complete
    assert not list(tmp_path.rglob("envindex-*.json"))
    scanner = SecurityScanner(env_index=index)
    assert scanner.scan("import os\nos.system('id')").blocked
    assert not scanner.scan("import pandas as pd\npd.read_csv(DATA_PATH)").blocked
