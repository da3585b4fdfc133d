from __future__ import annotations

import nbformat
import pytest

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.notebook import CellSpec, build_notebook, read_cells


def test_build_notebook_is_valid_v4_with_kernelspec_and_parameters_cell():
    nb = build_notebook(
        [CellSpec("# Title", kind="markdown"), "x = 1", CellSpec("y = 2", tags=("a",))],
        parameters={"DATA_PATH": "train.csv", "RANDOM_SEED": 42, "TARGET": None},
        kernel_name="deepthinker-local",
    )
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "deepthinker-local"
    assert nb.metadata.kernelspec.language == "python"
    first = nb.cells[0]
    assert first.metadata.tags == ["parameters"]
    assert first.source == "DATA_PATH = 'train.csv'\nRANDOM_SEED = 42\nTARGET = None"
    assert [c.cell_type for c in nb.cells] == ["code", "markdown", "code", "code"]
    assert nb.cells[3].metadata.tags == ["a"]


def test_build_notebook_without_parameters_has_no_parameters_cell():
    nb = build_notebook(["1"], kernel_name="python3", metadata={"run": {"id": "r1"}})
    assert len(nb.cells) == 1 and "tags" not in nb.cells[0].metadata
    assert nb.metadata.run == {"id": "r1"}


def test_bad_parameter_name_and_kind_are_refused():
    with pytest.raises(DeepThinkerError):
        build_notebook([], parameters={"not valid": 1})
    with pytest.raises(DeepThinkerError):
        CellSpec("x", kind="raw")


def test_read_cells_percent_script(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import os\n\n"
        "# %% [markdown]\n# # Heading\n# some *text*\n\n"
        "# %%\nx = 1\nprint(x)\n\n"
        '# %% tags=["parameters"]\nN = 3\n'
        "# %%\n\n"  # an empty cell is dropped
    )
    cells = read_cells(script)
    assert [(c.kind, c.source) for c in cells] == [
        ("code", "import os"),
        ("markdown", "# Heading\nsome *text*"),
        ("code", "x = 1\nprint(x)"),
        ("code", "N = 3"),
    ]
    assert cells[3].tags == ("parameters",)


def test_read_cells_ipynb_round_trip(tmp_path):
    nb = build_notebook([CellSpec("## md", kind="markdown"), "a = 1"], parameters={"A": 1})
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    cells = read_cells(path)
    assert [(c.kind, c.source, c.tags) for c in cells] == [
        ("code", "A = 1", ("parameters",)), ("markdown", "## md", ()), ("code", "a = 1", ()),
    ]


def test_read_cells_missing_or_broken_file(tmp_path):
    with pytest.raises(DeepThinkerError):
        read_cells(tmp_path / "nope.py")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(DeepThinkerError):
        read_cells(bad)


def test_bundled_templates_are_valid_and_parameterised():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "notebooks"
    template = nbformat.read(root / "templates" / "iteration.ipynb", as_version=4)
    nbformat.validate(template)
    params = template.cells[0]
    assert params.metadata.tags == ["parameters"]
    for name in ("DATA_PATH", "TEST_FEATURES_PATH", "PREDICTIONS_PATH", "TARGET", "TASK_TYPE",
                 "RANDOM_SEED"):
        assert f"{name} = " in params.source
    assert read_cells(root / "examples" / "hello.py")
