"""``deepthinker-nb scan``: formats, exit codes and errors."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from deepthinker_nb.cli import scan as scan_cli

CLEAN = "# %%\nimport pandas as pd\ndf = pd.read_csv(DATA_PATH)\n"
DIRTY = CLEAN + "# %%\nimport os\nos.system('id')\n"


def run(argv, capsys, stdin_text=None, monkeypatch=None):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    scan_cli.register(sub)
    if stdin_text is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    args = parser.parse_args(["scan", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_py_file_exits_zero(tmp_path, capsys):
    path = tmp_path / "clean.py"
    path.write_text(CLEAN)
    code, out, _ = run([str(path)], capsys)
    assert code == 0 and "0 at or above high" in out


def test_dangerous_py_cell_exits_one_and_names_cell_line_and_rule(tmp_path, capsys):
    path = tmp_path / "dirty.py"
    path.write_text(DIRTY)
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert f"{path}:6:1: cell 2 [critical] shell-command:" in out


def test_notebook_cells_are_scanned_and_json_is_valid(tmp_path, capsys):
    nb = {"cells": [{"cell_type": "code", "source": "!ls", "metadata": {}, "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    code, out, _ = run([str(path), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["failed"]
    assert data["cells"][0]["findings"][0]["rule_id"] == "ipython-shell-magic"
    assert data["cells"][0]["cell"] == 1


def test_cells_are_numbered_from_one_in_every_format_as_exec_numbers_them(tmp_path, capsys):
    nb = {"cells": [{"cell_type": "markdown", "source": "# title", "metadata": {}},
                    {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []},
                    {"cell_type": "code", "source": "!ls", "metadata": {}, "outputs": []}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    _, text, _ = run([str(path)], capsys)
    assert f"{path}:1:1: cell 3 [" in text
    _, out, _ = run([str(path), "--format", "json"], capsys)
    assert [c["cell"] for c in json.loads(out)["cells"]] == [2, 3]
    _, out, _ = run([str(path), "--format", "sarif"], capsys)
    assert json.loads(out)["runs"][0]["results"][0]["message"]["text"].startswith("cell 3: ")


def test_a_syntax_error_is_reported_as_one_with_line_and_column(tmp_path, capsys):
    path = tmp_path / "typo.py"
    path.write_text("# %%\nprint(1)\n# %%\nx = (1,\n")
    code, out, _ = run([str(path)], capsys)
    assert code == 1
    assert f"{path}:4:5: cell 2 [high] syntax-error: '(' was never closed" in out
    _, out, _ = run([str(path), "--format", "json"], capsys)
    finding = json.loads(out)["cells"][1]["findings"][0]
    assert (finding["rule_id"], finding["line"], finding["col"]) == ("syntax-error", 1, 4)
    assert "blocked" not in finding["message"]


def test_sarif_output_is_sarif(tmp_path, capsys):
    path = tmp_path / "dirty.py"
    path.write_text(DIRTY)
    code, out, _ = run([str(path), "--format", "sarif"], capsys)
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"][
        "startLine"] == 6


def test_stdin_is_read_with_dash(capsys, monkeypatch):
    code, out, _ = run(["-"], capsys, "eval(input())\n", monkeypatch)
    assert code == 1 and "dynamic-code" in out


def test_fail_on_sets_the_threshold(tmp_path, capsys):
    path = tmp_path / "medium.py"
    path.write_text("%env OMP_NUM_THREADS=2\n")
    assert run([str(path)], capsys)[0] == 0
    assert run([str(path), "--fail-on", "medium"], capsys)[0] == 1


def test_missing_file_exits_two_with_one_line_error(tmp_path, capsys):
    code, _, err = run([str(tmp_path / "nope.py")], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such file" in err


def test_invalid_notebook_json_exits_two(tmp_path, capsys):
    path = tmp_path / "bad.ipynb"
    path.write_text("{not json")
    code, _, err = run([str(path)], capsys)
    assert code == 2 and "invalid notebook JSON" in err


def test_bad_severity_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        run(["x.py", "--fail-on", "severe"], capsys)
    assert exc.value.code == 2


def test_main_entry_point_lists_scan(tmp_path, capsys):
    from deepthinker_nb.cli import main

    path = tmp_path / "dirty.py"
    path.write_text(DIRTY)
    assert main(["scan", str(path)]) == 1
