"""A verdict never depends on the process: a name with several possible meanings (bound in
different branches) is judged by every meaning, and the report is the same under any string
hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from deepthinker_nb.scanner import SecurityScanner, Severity

# Each binds a name to something harmless in one branch and to something dangerous in the other.
CELLS = {
    "monkeypatch through a conditional alias":
        "import os, json\nif flag:\n    m = os\nelse:\n    m = json\nm.sep = '/'\n",
    "setattr through a conditional alias":
        "import os, json\nm = json\nif flag:\n    m = os\nsetattr(m, 'sep', '/')\n",
    "yaml loader that may be unsafe":
        "import yaml\nL = yaml.SafeLoader\nif flag:\n    L = yaml.Loader\nyaml.load(text, Loader=L)\n",
    "callee with two dangerous meanings":
        "import os, subprocess\nrun = os.system\nif flag:\n    run = subprocess.call\nrun('id')\n",
}

_SCAN_ALL = (
    "import json, sys\n"
    "from deepthinker_nb.scanner import SecurityScanner\n"
    "scanner = SecurityScanner()\n"
    "cells = json.load(sys.stdin)\n"
    "print(json.dumps({name: scanner.scan(code).to_dict() for name, code in cells.items()},"
    " sort_keys=True))\n"
)


def test_each_meaning_of_a_name_is_judged_and_the_worst_wins():
    scanner = SecurityScanner()
    for name, code in CELLS.items():
        report = scanner.scan(code)
        assert report.blocked, f"{name}: {report.to_text()}"
        assert report.max_severity >= Severity.HIGH, name


def test_reports_are_identical_under_every_string_hash_seed():
    outputs = set()
    for seed in range(6):
        done = subprocess.run(
            [sys.executable, "-c", _SCAN_ALL], input=json.dumps(CELLS), text=True,
            capture_output=True, check=True, timeout=120,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1, "the report changed with the hash seed"
    reports = json.loads(outputs.pop())
    assert all(report["blocked"] for report in reports.values())
