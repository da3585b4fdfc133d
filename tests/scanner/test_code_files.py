"""Family (c): code a cell writes to a file, then imports or runs.

Decision (docs/security-rules.md, "Code written to files"): writing .py / .pth / .so files is
refused, and so are the ways to run code from a file (%run, runpy, spec_from_file_location,
SourceFileLoader, sys.path toward a writable dir, exec(open(...).read())). Data files stay
allowed, and so do model checkpoints saved as .pth.
"""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import ScanPolicy, SecurityScanner

SCANNER = SecurityScanner()


def _rules(code: str, scanner: SecurityScanner = SCANNER) -> set[str]:
    return {f.rule_id for f in scanner.scan(code).at_or_above("high")}


@pytest.mark.parametrize("code", [
    'with open("helper.py", "w") as f:\n    f.write("import os")',
    'open("helper.py", mode="a").write("x = 1")',
    'import io\nio.open("mod.py", "x").write("x")',
    'name = "helper"\nopen(f"{name}.py", "w").write("x")',
    'open("pkg/" + "__init__.py", "w")',
    'with open("evil.pth", "wb") as f:\n    f.write(b"import os; os.system(1)")',
    'import os\nfd = os.open("native.so", os.O_WRONLY | os.O_CREAT)',
    'from pathlib import Path\nPath("evil.pth").write_text("import os")',
    'from pathlib import Path\nPath("mod.so").write_bytes(blob)',
    'from pathlib import Path\np = Path(WORK_DIR) / "sitecustomize.py"\np.write_text("x")',
    'from pathlib import Path\nwith Path("gen.py").open("w") as f:\n    f.write("x")',
    'from pathlib import Path\nPath("empty.py").touch()',
    'from pathlib import Path\nPath("notes.txt").rename("notes.py")',
    'from pathlib import Path\n(Path("out") / "m.txt").replace("m.pyx")',
    'import shutil\nshutil.copy("notes.txt", "helper.py")',
    'import shutil\nshutil.move("blob.bin", "native.so")',
    'import os\nos.rename("a.txt", "a.py")',
    'import numpy as np\nnp.savetxt("gen.py", lines, fmt="%s")',
    'df.to_csv("payload.py", index=False, header=False)',
    'import torch\ntorch.save(code_bytes, "helper.py")',
    "%%writefile utils.py\ndef f():\n    return 1\n",
    "%%writefile -a lib.pth\nimport os\n",
    "%%file tool.py\nx = 1\n",
    "%save -f out.py 1-3",
    "%logstart session.py",
])
def test_writing_a_code_file_is_refused(code):
    assert "code-file" in _rules(code), SCANNER.scan(code).to_text(code)


@pytest.mark.parametrize("code, rule", [
    ("%run helper.py", "ipython-run-load"),
    ("import runpy\nrunpy.run_path('helper.py')", "dynamic-code"),
    ("import runpy\nrunpy.run_module('helper')", "dynamic-code"),
    ("import importlib.util as u\nspec = u.spec_from_file_location('h', 'h.py')",
     "dynamic-code"),
    ("from importlib.machinery import SourceFileLoader\nSourceFileLoader('h', 'h.py')",
     "dynamic-code"),
    ("exec(open('helper.py').read())", "dynamic-code"),
    ("from pathlib import Path\nexec(Path('helper.py').read_text())", "dynamic-code"),
    ("import sys\nsys.path.insert(0, '.')", "code-file"),
    ("import sys\nsys.path.append('lib')", "code-file"),
    ("import site\nsite.addsitedir('.')", "code-file"),
    ("import sys\nsys.path.extend(['.', 'src'])", "code-file"),
    ("import sys\nsys.path.insert(0, '/tmp/x')", "interpreter-tampering"),
])
def test_running_code_from_files_is_refused(code, rule):
    assert rule in _rules(code), SCANNER.scan(code).to_text(code)


def test_a_read_only_data_dir_on_sys_path_is_reported_but_not_blocked():
    scanner = SecurityScanner(ScanPolicy(data_dirs=("/data",)))
    report = scanner.scan("import sys\nsys.path.insert(0, '/data/lib')")
    assert not report.blocked and "interpreter-tampering" in report.rule_ids


@pytest.mark.parametrize("code", [
    'df.to_csv("predictions.csv", index=False)',
    'import json\nwith open("metrics.json", "w") as f:\n    json.dump({"f1": 0.9}, f)',
    'from pathlib import Path\nPath("notes.txt").write_text("ok")\nPath("done.flag").touch()',
    'import matplotlib.pyplot as plt\nplt.savefig("roc.png")',
    'import torch\ntorch.save(model.state_dict(), "model.pth")',
    'model.save("model.pth")\nmodel.save_weights("weights.h5")',
    'import joblib\njoblib.dump(clf, "model.pth")',
    'with open("helper.py") as f:\n    source = f.read()',
    'print(open("train.py").read()[:100])',
    'text = "result.py".replace(".py", ".txt")',
    'from pathlib import Path\nreport = Path("report.md")\nreport.write_text("# ok")',
    'open("log.txt", "a").write("step 1\\n")',
    "%%writefile notes.md\n# results\n",
])
def test_data_files_and_checkpoints_stay_allowed(code):
    report = SCANNER.scan(code)
    assert not report.blocked, report.to_text(code)
