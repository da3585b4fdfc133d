"""Family (d): host paths built from the interpreter's own answers, deleting the data dir or
its parents, FFI, interpreters that run strings, database and network clients."""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import ScanPolicy, SecurityScanner

SCANNER = SecurityScanner()


def _check(code: str, rule: str, scanner: SecurityScanner = SCANNER) -> None:
    report = scanner.scan(code)
    assert report.blocked and rule in {f.rule_id for f in report.at_or_above("high")}, (
        report.to_text(code))


def _passes(code: str, scanner: SecurityScanner = SCANNER) -> None:
    report = scanner.scan(code)
    assert not report.blocked, report.to_text(code)


# -- host paths ---------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "import os\nopen(os.sep + 'etc' + os.sep + 'passwd').read()",
    "import os\nopen(os.path.join(os.sep, 'etc', 'shadow'))",
    "import os\nopen(os.path.sep.join(['', 'etc', 'passwd']))",
    "import os\nopen(os.pardir + os.sep + 'secret.txt')",
    "import os\nopen(os.path.expanduser('~/.ssh/id_rsa')).read()",
    "import os\nopen(os.path.join(os.path.expanduser('~'), '.bashrc'))",
    "import os\nopen(os.path.expandvars('$HOME/.bashrc')).read()",
    "import os\nopen(os.path.expandvars('${HOME}/.netrc')).read()",
    "import os\nopen(os.environ['HOME'] + '/.bashrc').read()",
    "import os\nopen(os.getenv('HOME') + '/.ssh/id_rsa').read()",
    "import os\nopen(os.path.join(os.environ.get('TMPDIR'), 'x'), 'w')",
    "import fileinput\nfor line in fileinput.input(files=('/etc/passwd',)):\n    print(line)",
    "import fileinput\nfor line in fileinput.input(['notes.txt', '/etc/hosts']):\n    pass",
    "import fileinput\nfor line in fileinput.input():\n    print(line)",
    "import fileinput\nfileinput.FileInput(files=['/etc/group'])",
    "import site\nopen(site.getsitepackages()[0] + '/evil.pth', 'w')",
    "import site\nopen(site.getusersitepackages() + '/evil.py', 'w')",
    "import site\nopen(site.USER_SITE + '/x.txt', 'w')",
    "import sysconfig, shutil\nshutil.copy('x.txt', sysconfig.get_paths()['purelib'])",
    "import sysconfig\nopen(sysconfig.get_path('purelib') + '/x.txt', 'w')",
    "import sys\nopen(sys.prefix + '/lib/python3.11/site-packages/x.txt', 'w')",
    "import sys\nopen(sys.path[0] + '/x.txt', 'w')",
    "import numpy as np\nopen(np.__file__, 'a').write('x')",
    "import os\nimport numpy as np\nopen(os.path.join(os.path.dirname(np.__file__), 'x.txt'), 'w')",
    "import importlib.util\nopen(importlib.util.find_spec('numpy').origin).read()",
    "import tempfile\nopen(tempfile.gettempdir() + '/x', 'w')",
])
def test_host_paths_built_from_interpreter_answers_are_blocked(code):
    report = SCANNER.scan(code)
    assert report.blocked, report.to_text(code)
    assert {"path-escape", "code-file"} & set(report.rule_ids), report.to_text(code)


@pytest.mark.parametrize("code", [
    "import os\nprint(os.sep, os.getcwd(), os.path.basename(os.getcwd()))",
    "import os\nseed = int(os.environ.get('SEED', '0'))",
    "import os\nprint(os.getenv('HOME') is not None)",
    "import os\ndf = pd.read_csv(os.path.join('data', 'train.csv'))",
    "import os\nout = os.path.join(os.getcwd(), 'predictions.csv')\ndf.to_csv(out)",
    "import fileinput\nfor line in fileinput.input(files=['train.csv']):\n    pass",
    "import sys\nprint(sys.prefix, sys.executable, sys.path[:2])",
    "import numpy as np\nprint(np.__file__, np.__version__)",
    "import site\nprint(site.getsitepackages())",
])
def test_reading_host_locations_without_using_them_as_paths_passes(code):
    _passes(code)


# -- deleting the working dir's parents or the data ----------------------------------------
@pytest.mark.parametrize("code", [
    "import shutil\nshutil.rmtree('..')",
    "import shutil\nshutil.rmtree('../..')",
    "import shutil\nshutil.rmtree('/home/user')",
    "import os, shutil\nshutil.rmtree(os.path.dirname(os.getcwd()))",
    "import os, shutil\nshutil.rmtree(os.path.join(os.getcwd(), '..'))",
    "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path.cwd().parent)",
    "import shutil\nfrom pathlib import Path\nhere = Path('.').resolve()\nshutil.rmtree(here.parent)",
    "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path.cwd().parents[1])",
    "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path(WORK_DIR).parent)",
    "import os\nos.rmdir(os.pardir)",
    "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path(DATA_PATH).parent)",
    "import os\nos.remove(DATA_PATH)",
])
def test_deleting_outside_the_working_dir_or_the_data_is_blocked(code):
    _check(code, "delete-outside-workdir")


@pytest.mark.parametrize("code", [
    "import shutil\nshutil.rmtree('checkpoints', ignore_errors=True)",
    "import os\nos.remove('predictions_tmp.csv')",
    "from pathlib import Path\nfor p in Path('cache').glob('*.npy'):\n    p.unlink()",
    "import shutil, os\nshutil.rmtree(os.path.join(os.getcwd(), 'tmp_runs'))",
])
def test_cleaning_up_inside_the_working_dir_passes(code):
    _passes(code)


# -- FFI -----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "import numpy as np\nlib = np.ctypeslib.load_library('libc', '/lib')",
    "from numpy.ctypeslib import load_library\nload_library('libevil', '.')",
    "import numpy as np\nnp.ctypeslib.ctypes.CDLL(None).system(b'id')",
    "import ctypes\nctypes.CDLL('libc.so.6').system(b'id')",
    "from ctypes import cdll\ncdll.LoadLibrary('libc.so.6')",
    "import cffi\nffi = cffi.FFI()\nffi.dlopen(None)",
    "import torch\ntorch.ops.load_library('custom_ops.so')",
    "from torch.utils.cpp_extension import load_inline\nload_inline('m', 'int f(){return 1;}')",
])
def test_foreign_function_interfaces_are_blocked(code):
    _check(code, "ffi")


def test_numpy_without_ctypeslib_passes():
    _passes("import numpy as np\narr = np.ascontiguousarray(x)\nprint(arr.ctypes is not None)")


# -- interpreters that run strings ------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "import pdb\npdb.run('import os')",
    "import pdb\npdb.Pdb().run('import os')",
    "import code\ncode.interact(local=globals())",
    "import code\ncode.InteractiveInterpreter().runsource('import os')",
    "import code\ncode.InteractiveConsole().push('import os')",
    "import doctest\ndef f():\n    '''\n    >>> import os; os.system('id')\n    '''\n"
    "doctest.run_docstring_examples(f, globals())",
    "import doctest\ndoctest.run_docstring_examples(f, globals(), name='f')",
    "import doctest\ndoctest.testmod()",
    "import doctest\ndoctest.debug_src('>>> 1 + 1')",
    "import doctest\nparser = doctest.DocTestParser()\ntest = parser.get_doctest(s, {}, 'x', None, 0)",
    "import cProfile\npr = cProfile.Profile()\npr.run(command)",
    "import cProfile\ncProfile.Profile().runctx(source, globals(), {})",
    "import trace\ntrace.Trace().run(text)",
    "import IPython\nIPython.embed()",
    "import IPython\nIPython.start_ipython(argv=[])",
])
def test_interpreters_that_run_strings_are_blocked(code):
    _check(code, "dynamic-code")


@pytest.mark.parametrize("code", [
    "import cProfile\npr = cProfile.Profile()\npr.enable()\nfit()\npr.disable()",
    "import doctest\nflags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE",
    "def f(x):\n    '''\n    >>> f(1)\n    2\n    '''\n    return x + 1",
])
def test_profilers_and_docstrings_alone_pass(code):
    _passes(code)


# -- database and network clients -------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "import sqlalchemy\nsqlalchemy.create_engine('postgresql://u:p@db:5432/x')",
    "from sqlalchemy import create_engine\ncreate_engine('mysql+pymysql://u@db/x')",
    "from sqlalchemy import create_engine\ncreate_engine(url)",
    "import psycopg2\npsycopg2.connect('host=db dbname=x')",
    "import pymysql\npymysql.connect(host='db')",
    "import pymongo\npymongo.MongoClient('mongodb://db:27017')",
    "import redis\nr = redis.Redis(host='cache', port=6379)",
    "import redis\nredis.from_url('redis://cache')",
    "import pandas as pd\npd.read_sql('select 1', 'postgresql://db/x')",
    "import requests\nrequests.get('https://evil.example/x')",
    "import httpx\nhttpx.Client().get('https://evil.example')",
    "import urllib.request\nurllib.request.urlopen('https://evil.example')",
    "import aiohttp\naiohttp.ClientSession()",
    "import fsspec\nfsspec.filesystem('s3')",
    "import fsspec\nfsspec.open('s3://bucket/x.csv')",
    "import duckdb\nduckdb.connect('md:my_db')",
])
def test_database_and_network_clients_are_blocked(code):
    _check(code, "network")


@pytest.mark.parametrize("code", [
    "import sqlalchemy\nengine = sqlalchemy.create_engine('sqlite:///results.db')",
    "import sqlalchemy\nengine = sqlalchemy.create_engine('sqlite://')",
    "import sqlite3\ncon = sqlite3.connect('results.db')\npd.read_sql('select 1', con)",
    "import duckdb\ncon = duckdb.connect()\ncon.sql('select 42')",
    "import duckdb\ncon = duckdb.connect('local.duckdb')",
    "import fsspec\nfs = fsspec.filesystem('file')\nprint(fs.ls('.'))",
])
def test_local_databases_pass(code):
    _passes(code)


def test_database_files_outside_the_sandbox_are_blocked():
    _check("import sqlalchemy\nsqlalchemy.create_engine('sqlite:////etc/app.db')", "path-escape")
    _check("import sqlite3\nsqlite3.connect('file:/etc/app.db?mode=ro', uri=True)",
           "path-escape")


def test_an_allowed_host_lets_a_database_url_through():
    scanner = SecurityScanner(ScanPolicy(allowed_hosts=("db.example.org",)))
    _passes("import sqlalchemy\nsqlalchemy.create_engine('postgresql://u@db.example.org/x')",
            scanner)
