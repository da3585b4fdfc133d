"""Families closed from the escape suite's scanner gaps (tests/security/test_escapes.py)."""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import SecurityScanner

SCANNER = SecurityScanner()

BLOCKED = {
    "loop-literal": "for p in ['/proc/1/environ']:\n    open(p).read()",
    "loop-variable": "paths = ['a.csv', '/etc/passwd']\nfor p in paths:\n    open(p)",
    "loop-tuple-set": "for p in {'/etc/hosts'}:\n    open(p)",
    "loop-nested-join": "import os\nfor n in ['1', '2']:\n    open(os.path.join('/proc', n))",
    "loop-var-built": "for pid in ['1', 'self']:\n    path = '/proc/' + pid + '/environ'\n"
                      "    open(path)",
    "listcomp": "[open(p).read() for p in ('/etc/passwd',)]",
    "setcomp-read-text": "from pathlib import Path\n{Path(p).read_text() for p in ['/etc/x']}",
    "map-open": "list(map(open, ['/etc/passwd']))",
    "map-lambda": "list(map(lambda p: open(p).read(), ['/etc/passwd']))",
    "fstring-plus": "import os\nrel = 'x'\npath = f'/proc/{os.getppid()}/cwd/' + rel\n"
                    "open(path)",
    "fstring-write": "import os\npath = f'/proc/{os.getppid()}/cwd/' + 'n'\nopen(path, 'w')",
    "percent": "import os\npath = '/proc/%d/environ' % os.getppid()\nopen(path)",
    "format": "import os\npath = '/proc/{}/environ'.format(os.getppid())\nopen(path)",
    "prefix-var": "import os\nbase = '/etc'\npath = f'{base}/{os.getenv(\"N\")}'\nopen(path)",
    "join-prefix": "import os\npath = os.path.join('/home', input())\nopen(path)",
    "home-prefix": "import os\npath = os.path.expanduser('~') + '/' + input()\nopen(path)",
    "setresuid": "import os\nos.setresuid(0, 0, 0)",
    "setresgid": "import os\nos.setresgid(0, 0, 0)",
    "setfsuid": "import os\nos.setfsuid(0)",
    "setfsgid": "from os import setfsgid\nsetfsgid(0)",
    "initgroups": "import os\nos.initgroups('root', 0)",
    "shell-instance": "from IPython.core.interactiveshell import InteractiveShell\n"
                      "InteractiveShell.instance()",
    "shell-call": "from IPython import InteractiveShell\nInteractiveShell()",
    "shell-other-attr": "from IPython.core.interactiveshell import InteractiveShell\n"
                        "InteractiveShell.transform_cell = None",
    "shell-setattr": "from IPython.core.interactiveshell import InteractiveShell\n"
                     "setattr(InteractiveShell, 'transform_cell', None)",
    "shell-value": "from IPython.core.interactiveshell import InteractiveShell\n"
                   "print(InteractiveShell)",
    "embed": "import IPython\nIPython.embed()",
}

ALLOWED = {
    "loop-relative": "import pandas as pd\nfor f in ['train.csv', 'test.csv']:\n"
                     "    pd.read_csv(f)",
    "comp-relative": "frames = [open(p) for p in ('a.txt', 'b.txt')]",
    "map-relative": "import pandas as pd\nlist(map(pd.read_csv, ['a.csv']))",
    "work-dir": "for i in range(3):\n    path = f'{WORK_DIR}/model_{i}.pkl'\n"
                "    open(path, 'wb')",
    "relative-fstring": "name = 'x'\nout = f'results_{name}.csv'\nopen(out, 'w')",
    "relative-percent": "path = 'fold_%d.csv' % 3\nopen(path, 'w')",
    "data-path": "path = DATA_PATH\npath = path + '.bak'\nopen(path)",
    "self-join": "import os\np = 'x'\np = os.path.join(p, 'y')\nopen(p)",
    "uid-getters": "import os\nprint(os.getuid(), os.getresuid(), os.getgroups())",
    "shell-setting": "from IPython.core.interactiveshell import InteractiveShell\n"
                     "InteractiveShell.ast_node_interactivity = 'all'",
    "shell-setting-read": "from IPython.core.interactiveshell import InteractiveShell as S\n"
                          "print(S.ast_node_interactivity)",
    "shell-setting-setattr": "from IPython.core.interactiveshell import InteractiveShell\n"
                             "setattr(InteractiveShell, 'ast_node_interactivity', 'all')",
    "shell-setting-qualified": "import IPython\n"
                               "IPython.core.interactiveshell.InteractiveShell.colors = 'Linux'",
}


@pytest.mark.parametrize("code", BLOCKED.values(), ids=BLOCKED.keys())
def test_escape_families_are_blocked(code):
    assert SCANNER.scan(code).blocked


@pytest.mark.parametrize("code", ALLOWED.values(), ids=ALLOWED.keys())
def test_benign_look_alikes_stay_allowed(code):
    report = SCANNER.scan(code)
    assert not report.blocked, report.findings


def test_the_loop_finding_names_the_listed_path():
    report = SCANNER.scan("for p in ['data.csv', '/etc/shadow']:\n    open(p)")
    assert any("/etc/shadow" in f.message for f in report.findings)
