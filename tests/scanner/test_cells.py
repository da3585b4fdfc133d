"""The one ``# %%`` splitter and cell reader (deepthinker_nb/cells.py) the scanner and the
notebook builder share."""

from __future__ import annotations

import io
import json

import pytest

from deepthinker_nb.cells import (
    Cell,
    CellReadError,
    notebook_cells,
    parse_cells,
    read_cells,
    split_percent,
)
from deepthinker_nb.notebook.builder import split_percent_script
from deepthinker_nb.scanner import SecurityScanner, split_py_cells
from deepthinker_nb.scanner.batch import ScanInputError, load_cells

SCRIPT = (
    "import os\n"
    "# %% [markdown]\n# # Title\n"
    '# %% tags=["parameters"]\nN = 3\n'
    "#%%\n\n\n"  # blank: dropped
    "# %% second\nx = 1\nos.system('id')\n"
)


def test_cells_keep_their_text_and_the_line_they_start_on():
    cells = split_percent(SCRIPT)
    assert [(c.index, c.source, c.line_offset) for c in cells] == [
        (0, "import os\n", 0), (1, "# # Title\n", 2), (2, "N = 3\n", 4),
        (3, "x = 1\nos.system('id')\n", 9)]
    assert [c.kind for c in cells] == ["code", "markdown", "code", "code"]
    assert cells[2].tags == ("parameters",)
    assert all(c.in_script for c in cells)
    lines = SCRIPT.splitlines()
    for cell in cells:  # line n of a cell is line line_offset + n of the file
        assert lines[cell.line_offset: cell.line_offset + cell.source.count("\n")] == \
            cell.source.splitlines()


def test_findings_point_at_file_lines():
    reports = SecurityScanner().scan_cells(split_percent(SCRIPT))
    last = reports[-1]
    finding = next(f for f in last.report.findings if f.rule_id == "shell-command")
    assert last.line_offset + finding.line == 11
    assert SCRIPT.splitlines()[10] == "os.system('id')"


@pytest.mark.parametrize("marker", ["# %%", "#%%", "#\t%%", "# %% title", "# %%\r"])
def test_the_scanner_and_the_builder_split_on_the_same_markers(marker):
    text = f"a = 1\n{marker}\n%%bash\nls\n"
    assert split_py_cells(text) == [("a = 1\n", 0), ("%%bash\nls\n", 2)]
    assert [s.source for s in split_percent_script(text)] == ["a = 1", "%%bash\nls"]
    # the cell magic starts its cell, so the scanner reads it as one
    assert "ipython-shell-magic" in SecurityScanner().scan(split_py_cells(text)[1][0]).rule_ids


def test_only_unindented_marker_lines_split():
    assert [c.source for c in split_percent("x = 1\n    # %%\ny = 2\n")] == [
        "x = 1\n    # %%\ny = 2\n"]
    # a marker line splits even inside a string, as in the builder and jupytext
    assert len(split_percent("s = '''\n# %%\n'''\n")) == 2


def test_notebook_cells_keep_every_kind_and_the_notebook_index():
    nb = {"cells": [{"cell_type": "markdown", "source": "!ls"}, "junk",
                    {"cell_type": "code", "source": ["a = 1\n", "b = 2"],
                     "metadata": {"tags": ["parameters"]}},
                    {"cell_type": "raw", "source": "raw"}]}
    assert notebook_cells(nb) == [
        Cell(0, "!ls", "markdown"), Cell(2, "a = 1\nb = 2", "code", ("parameters",)),
        Cell(3, "raw", "raw")]
    with pytest.raises(ValueError, match="no 'cells' list"):
        notebook_cells({"worksheets": []})


def test_the_scanner_scans_a_notebooks_code_cells_but_every_cell_of_a_script():
    nb = {"cells": [{"cell_type": "markdown", "source": "import os\nos.system('id')"},
                    {"cell_type": "code", "source": "x = 1"}]}
    assert [r.index for r in SecurityScanner().scan_cells(notebook_cells(nb))] == [1]
    # a # %% script can also run as plain Python, where its markdown cells are code
    script = "# %% [markdown]\nimport os\nos.system('id')\n"
    reports = SecurityScanner().scan_cells(split_percent(script))
    assert reports[0].report.blocked


def test_parse_cells_guesses_a_notebook_only_when_the_text_is_one():
    nb = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1"}]})
    assert parse_cells(nb) == [Cell(0, "x = 1")]
    assert parse_cells('{"a": 1}\n') == [Cell(0, '{"a": 1}\n', in_script=True)]
    assert parse_cells("{not json") == [Cell(0, "{not json", in_script=True)]
    with pytest.raises(json.JSONDecodeError):
        parse_cells("x = 1", notebook=True)


def test_read_cells_says_why_a_file_cannot_be_read(tmp_path):
    with pytest.raises(CellReadError, match="no such file"):
        read_cells(tmp_path / "nope.py")
    with pytest.raises(CellReadError, match="is a directory"):
        read_cells(tmp_path)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(CellReadError, match=r"invalid notebook JSON \(line 1: "):
        read_cells(bad)
    bad.write_text("[]")
    with pytest.raises(CellReadError, match=r"invalid notebook \(not a notebook"):
        read_cells(bad)
    binary = tmp_path / "b.py"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CellReadError, match="cannot read"):
        read_cells(binary)


def test_the_cli_loader_reads_files_and_stdin_through_the_same_reader(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    assert load_cells(str(script)) == [(c.index, c.source, c.line_offset)
                                       for c in split_percent(SCRIPT)]
    assert load_cells("-", io.StringIO(SCRIPT)) == load_cells(str(script))
    with pytest.raises(ScanInputError, match=r"nope\.py: no such file"):
        load_cells(str(tmp_path / "nope.py"))
