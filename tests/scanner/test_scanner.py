"""The scanner's behaviour, written as a specification of what it blocks and what it leaves."""

from __future__ import annotations

import json

import pytest

from deepthinker_nb.errors import ConfigError, DeepThinkerError
from deepthinker_nb.scanner import (
    Finding,
    ScanPolicy,
    ScanReport,
    SecurityError,
    SecurityScanner,
    Severity,
)

scanner = SecurityScanner()


def rules(code: str, policy: ScanPolicy | None = None) -> set[str]:
    s = scanner if policy is None else SecurityScanner(policy)
    return {f.rule_id for f in s.scan(code).at_or_above("high")}


def blocked(code: str) -> bool:
    return scanner.scan(code).blocked


# -- shell commands and their disguises ---------------------------------------------------
def test_os_system_is_blocked_as_critical():
    report = scanner.scan('import os\nos.system("ls")')
    assert report.has_critical()
    assert report.findings[0].rule_id == "shell-command"
    assert report.findings[0].line == 2


def test_alias_of_os_system_is_blocked():
    assert "shell-command" in rules('import os as o\nrun = o.system\nrun("id")')


def test_from_import_with_rename_is_blocked():
    assert "shell-command" in rules('from os import system as s\ns("id")')


def test_getattr_with_concatenated_name_is_blocked():
    assert "shell-command" in rules('import os\ngetattr(os, "sys" + "tem")("id")')


def test_getattr_with_rot13_name_is_blocked_and_flagged_as_encoded():
    found = rules('import os, codecs\ngetattr(os, codecs.decode("flfgrz", "rot13"))("id")')
    assert {"shell-command", "encoded-payload"} <= found


def test_operator_attrgetter_is_seen_through():
    assert "shell-command" in rules('import os, operator\noperator.attrgetter("system")(os)("x")')


def test_library_internals_that_expose_os_are_blocked():
    found = rules('import pandas as pd\npd.io.common.os.system("id")')
    assert {"shell-command", "interpreter-tampering"} <= found


def test_conditional_rebinding_cannot_hide_a_builtin():
    assert "dynamic-code" in rules("if False:\n    exec = print\nexec(payload)")


def test_calls_hidden_in_lambdas_decorators_class_bodies_and_fstrings_are_blocked():
    assert blocked('import os\nf = lambda: os.system("x")')
    assert blocked('import os\n@os.system\ndef f(): pass')
    assert blocked('import os\nclass A:\n    x = os.system("x")')
    assert blocked('import os\nprint(f"{os.system(\'x\')}")')


def test_unicode_lookalike_identifier_is_blocked():
    found = rules("ｅｖａｌ(user_input)")
    assert {"dynamic-code", "unicode-lookalike"} <= found


def test_greek_letters_in_formulas_are_not_blocked():
    assert not blocked("α = 0.05\nμ = x.mean()\nprint(α, μ)")


# -- builtins reached indirectly ---------------------------------------------------------------
@pytest.mark.parametrize("code", [
    '__builtins__["eval"](x)',
    'globals()["__builtins__"]["exec"](x)',
    'import builtins\nbuiltins.exec(x)',
    'e = eval\ne(x)',
    'list(map(eval, xs))',
])
def test_builtins_reached_indirectly_are_blocked(code):
    assert blocked(code)


# -- dynamic code ----------------------------------------------------------------------------
def test_eval_of_input_is_critical():
    assert scanner.scan("eval(input())").has_critical()


def test_exec_of_base64_payload_is_decoded_and_scanned():
    report = scanner.scan('import base64\nexec(base64.b64decode('
                          '"aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2lkJyk="))')
    assert {"encoded-payload", "shell-command"} <= report.rule_ids


def test_exec_of_chr_list_is_an_encoded_payload():
    assert "encoded-payload" in rules('exec("".join(map(chr, [112, 114, 105, 110, 116])))')


def test_eval_of_a_harmless_literal_is_only_reported_low():
    report = scanner.scan('x = eval("1 + 2")')
    assert not report.blocked
    assert report.max_severity == Severity.LOW


def test_pandas_eval_on_columns_passes_but_dunder_access_is_blocked():
    assert not scanner.scan('df.eval("a + b")\npd.eval("df.a * 2")').findings
    assert "pandas-eval-injection" in rules('df.query("a.__class__.__mro__")')
    assert "pandas-eval-injection" in rules('df.query("@pd.io.common.os.system(1)")')


def test_model_eval_and_re_compile_are_not_findings():
    assert not scanner.scan("model.eval()\nimport re\nrx = re.compile('a+')").findings


# -- IPython syntax --------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "!ls", "!!ls", "x = !ls", "for i in range(2):\n    !echo hi\n", "%system ls", "%sx ls",
    "%%bash\nls\n", "\n\n%%sh\nls\n", "%%script bash\nls\n", "%%perl\nprint 1\n",
    "get_ipython().system('ls')", "get_ipython().getoutput('ls')",
])
def test_ipython_shell_syntax_is_blocked(code):
    assert "ipython-shell-magic" in rules(code)


def test_cell_magic_after_blank_lines_reports_the_magic_line():
    report = scanner.scan("\n\n%%bash\nls\n")
    assert report.findings[0].line == 3


def test_code_of_time_magics_is_scanned_as_python():
    assert "shell-command" in rules('%time __import__("os").system("x")')
    assert "shell-command" in rules('%timeit -n1 -r1 __import__("os").system("x")')
    report = scanner.scan('%%time\nimport os\nos.system("x")\n')
    assert "shell-command" in report.rule_ids
    assert [f.line for f in report.findings if f.rule_id == "shell-command"] == [3]


def test_harmless_timeit_and_matplotlib_magics_pass():
    assert not blocked("%matplotlib inline\n%timeit sum(range(10))")


def test_run_load_pip_env_and_writefile_magics_are_blocked():
    assert "ipython-run-load" in rules("%run script.py")
    assert "network" in rules("%load http://example.com/x.py")
    assert "package-install" in rules("%pip install requests")
    assert "env-magic" in rules("%env LD_PRELOAD=/tmp/x.so")
    assert "path-escape" in rules("%%writefile /etc/x\nabc\n")
    assert "code-file" in rules("%%writefile helper.py\ndef f():\n    return 1\n")
    assert not blocked("%%writefile notes.txt\nall good\n")


def test_dangerous_words_in_strings_comments_and_docstrings_pass():
    code = ('"""Never call os.system or eval here."""\n# !rm -rf /\n'
            'print("use subprocess.run? no; !ls is IPython")\n')
    assert not scanner.scan(code).findings


# -- files ------------------------------------------------------------------------------------
def test_reading_the_dataset_through_its_parameter_and_aliases_passes():
    code = ("import pandas as pd\ndata_path = DATA_PATH\ndf = pd.read_csv(data_path)\n"
            "df.to_csv('out/clean.csv')\n")
    assert not scanner.scan(code).findings


@pytest.mark.parametrize("code", [
    'open("/etc/passwd")', 'open("~/.ssh/id_rsa")', 'open("../secret")',
    'from pathlib import Path\nPath.home()', 'import pandas as pd\npd.read_csv("file:///x")',
    'import os\nos.symlink("/etc", "e")', 'import tarfile\ntarfile.open("a.tar").extractall()',
])
def test_file_access_outside_the_sandbox_is_blocked(code):
    assert "path-escape" in rules(code)


def test_configured_data_dir_is_allowed():
    policy = ScanPolicy(data_dirs=("/data",), work_dir="/work")
    assert not SecurityScanner(policy).scan('open("/data/train.csv")\nopen("/work/x")').blocked


def test_deleting_outside_the_workdir_or_the_dataset_is_blocked():
    assert "delete-outside-workdir" in rules('import shutil\nshutil.rmtree("/home")')
    assert "delete-outside-workdir" in rules("import os\nos.remove(DATA_PATH)")
    assert not blocked('import os\nos.remove("out/tmp.csv")')


def test_network_urls_are_blocked_unless_the_host_is_allowed():
    code = 'import pandas as pd\npd.read_csv("https://data.example.org/x.csv")'
    assert "network" in rules(code)
    assert not rules(code, ScanPolicy(allowed_hosts=("*.example.org",)))


# -- deserialization ------------------------------------------------------------------------
def test_pickle_of_the_dataset_is_blocked_but_own_files_pass():
    assert "unsafe-deserialization" in rules(
        'import pickle\npickle.load(open(DATA_PATH, "rb"))')
    own = 'import joblib\njoblib.dump(m, "m.joblib")\nm2 = joblib.load("m.joblib")'
    assert not scanner.scan(own).findings
    assert not scanner.scan("import pickle\nb = pickle.dumps(m)").findings


def test_np_load_with_allow_pickle_is_blocked():
    assert "unsafe-deserialization" in rules(
        "import numpy as np\nnp.load(DATA_PATH, allow_pickle=True)")
    assert not blocked("import numpy as np\nnp.load(DATA_PATH)")


# -- processes, threads, interpreter ------------------------------------------------------
def test_threads_started_and_joined_pass_but_daemon_threads_are_blocked():
    ok = ("import threading\nts = [threading.Thread(target=f) for _ in range(2)]\n"
          "for t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n")
    assert not blocked(ok)
    assert "detached-thread" in rules(
        "import threading\nthreading.Thread(target=f, daemon=True).start()")


def test_sklearn_n_jobs_is_not_process_spawning():
    assert not scanner.scan("from sklearn.ensemble import RandomForestClassifier\n"
                            "RandomForestClassifier(n_jobs=-1).fit(X, y)").findings


@pytest.mark.parametrize("code", [
    "().__class__.__bases__[0].__subclasses__()", "import sys\nsys.modules['os']",
    "import sys\nsys._getframe()", "f.__globals__", "__import__('os')",
    "import importlib\nimportlib.import_module(name)",
])
def test_interpreter_tampering_is_blocked(code):
    assert "interpreter-tampering" in rules(code)


def test_ffi_is_blocked():
    assert "ffi" in rules("import ctypes")


def test_denied_and_allowed_modules_follow_the_policy():
    policy = ScanPolicy(denied_modules=("xgboost",))
    assert "denied-module" in rules("import xgboost", policy)
    assert not rules("import requests", ScanPolicy(allowed_modules=("requests",)))


# -- failure modes -----------------------------------------------------------------------------
def test_unparseable_cell_fails_closed():
    report = scanner.scan("def broken(:\n")
    assert report.blocked and report.rule_ids == {"syntax-error"}


def test_internal_failure_becomes_a_scanner_error_finding(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(SecurityScanner, "_scan_source", boom)
    report = SecurityScanner().scan("x = 1")
    assert report.blocked and report.rule_ids == {"scanner-error"}


def test_non_string_input_does_not_raise():
    assert SecurityScanner().scan(None).rule_ids == {"scanner-error"}  # type: ignore[arg-type]
    assert not SecurityScanner().scan(b"x = 1").findings  # type: ignore[arg-type]


# -- API and renderings -----------------------------------------------------------------------
def test_severity_is_ordered_and_parseable():
    assert Severity.INFO < Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL
    assert Severity.parse("High") is Severity.HIGH
    assert Severity.parse(4) is Severity.CRITICAL
    with pytest.raises(ValueError):
        Severity.parse("severe")


def test_policy_is_validated():
    with pytest.raises(ConfigError):
        ScanPolicy(trusted_names="DATA_PATH")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ScanPolicy(block_at="bad")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ScanPolicy(allowed_hosts=("not a host",))
    assert ScanPolicy(block_at="medium").block_at is Severity.MEDIUM  # type: ignore[arg-type]


def test_block_threshold_comes_from_the_policy():
    code = "%env OMP_NUM_THREADS=2"
    assert not scanner.scan(code).blocked
    assert SecurityScanner(ScanPolicy(block_at=Severity.MEDIUM)).scan(code).blocked


def test_report_renders_as_dict_sarif_text_html_and_markdown():
    report = scanner.scan('import os\nos.system("<b>")')
    data = report.to_dict()
    assert data["blocked"] and data["findings"][0]["rule_id"] == "shell-command"
    json.dumps(data)
    sarif = report.to_sarif("cell-1.py")
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "shell-command" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert "cell:2:1: critical shell-command" in report.to_text()
    assert "&lt;b&gt;" in report._repr_html_()
    assert "`shell-command`" in report._repr_markdown_()
    assert "clean" in scanner.scan("x = 1").to_text()


def test_security_error_carries_the_report():
    report = scanner.scan("eval(x)")
    err = SecurityError(report)
    assert isinstance(err, DeepThinkerError)
    assert err.report is report and "dynamic-code" in str(err)
    with pytest.raises(SecurityError):
        scanner.check("eval(x)")
    assert SecurityError("Dangerous code detected").report is None


def test_seed_api_has_critical_still_works():
    issues = SecurityScanner().scan('import subprocess\nsubprocess.run("ls")')
    assert issues.has_critical()


def test_findings_carry_the_source_line_as_snippet():
    report = scanner.scan('x = 1\nimport os\nos.system("ls")')
    f = next(f for f in report.findings if f.rule_id == "shell-command")
    assert isinstance(f, Finding) and f.snippet == 'os.system("ls")' and f.line == 3


def test_scan_report_defaults_to_clean():
    report = ScanReport()
    assert not report.blocked and report.max_severity is None


def test_scan_notebook_scans_code_cells_only():
    nb = {"cells": [{"cell_type": "markdown", "source": "!ls"},
                    {"cell_type": "code", "source": ["import os\n", "os.system('x')"]}],
          "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    results = scanner.scan_notebook(nb)
    assert [r.index for r in results] == [1]
    assert results[0].report.blocked


# -- notebooks: cells see what earlier cells bound ---------------------------------------------
def test_module_used_without_import_in_this_cell_is_still_recognised():
    assert "shell-command" in rules('os.system("id")')
    assert "network" in rules('pd.read_csv("https://example.com/x.csv")')


def test_session_carries_aliases_from_earlier_cells():
    session = SecurityScanner().session()
    session.scan("import os as o\nimport base64 as b")
    assert "shell-command" in session.scan('o.system("id")').rule_ids
    assert "encoded-payload" in session.scan('exec(b.b64decode("cHJpbnQoMSk="))').rule_ids
    assert not SecurityScanner().scan('o.system("id")').findings  # alone: o is unknown


def test_session_remembers_files_written_by_earlier_cells():
    session = SecurityScanner().session()
    session.scan('import joblib\njoblib.dump(model, "model.joblib")')
    assert not session.scan('import joblib\nm = joblib.load("model.joblib")').findings
    alone = SecurityScanner().scan('import joblib\nm = joblib.load("model.joblib")')
    assert alone.max_severity == Severity.MEDIUM


def test_module_dict_of_a_sensitive_module_is_blocked():
    assert "interpreter-tampering" in rules('import os\nos.__dict__.get("system")("id")')
    assert not blocked("print(model.__dict__)\nprint(vars(args))")
