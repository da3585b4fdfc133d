"""A run directory can be copied, moved, zipped and re-run: it refers to its own files relatively.

One real run (iris, one iteration, local kernels) per module; each test works on its own copy.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.notebook.relocate import parameter_cells
from deepthinker_nb.report import export_run, reproduce, unpack_run
from deepthinker_nb.report.export import ExportError
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.datasets import bundled_dataset

KERNELSPECS = Path(__file__).resolve().parents[2] / "kernels"


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    dataset = bundled_dataset("iris")
    config = DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                        execution_timeout=60.0)
    runner = WorkflowRunner(config, IterationConfig(max_iterations=1),
                            runs_dir=tmp_path_factory.mktemp("runs"), simulate=False,
                            report=False)
    result = runner.run("classify iris species")
    assert result.status == "complete" and result.reproduced
    return result.run_dir


@pytest.fixture
def moved_run(recorded_run: Path, tmp_path: Path) -> Path:
    """A copy of the run somewhere else, the original gone from view."""
    target = tmp_path / "elsewhere" / "copied-run"
    shutil.copytree(recorded_run, target)
    return target


def test_recorded_notebooks_and_manifest_name_no_absolute_path_of_the_run(recorded_run):
    run_dir = str(recorded_run)
    for notebook in [recorded_run / "run.ipynb", *recorded_run.glob("iterations/*.ipynb")]:
        assert run_dir not in notebook.read_text(), notebook
    manifest = json.loads((recorded_run / "manifest.json").read_text())
    assert run_dir not in json.dumps(manifest)
    assert manifest["reproduce"]["workdir"] == "work/run"
    assert manifest["iterations"][0]["notebook"] == "iterations/01.ipynb"
    nb = nbformat.read(recorded_run / "run.ipynb", as_version=4)
    (_cell, values), = parameter_cells(nb)
    assert values["DATA_PATH"] == "data/train.csv"
    assert values["PREDICTIONS_PATH"] == "work/run/predictions.csv"
    iteration = nbformat.read(recorded_run / "iterations" / "01.ipynb", as_version=4)
    (_cell, values), = parameter_cells(iteration)
    assert values["DATA_PATH"] == "../data/train.csv", "relative to the notebook's own folder"


def test_a_moved_copy_reproduces(moved_run, capsys):
    assert main(["reproduce", str(moved_run)]) == 0
    out = capsys.readouterr()
    assert "reproduced:" in out.out and "cell outputs" in out.out
    assert "cell 1/" in out.err, "progress per cell on stderr"
    assert (moved_run / "run.reproduced.ipynb").exists()
    assert not (moved_run / "run.reproduce-failed.ipynb").exists()


def test_an_altered_recorded_output_fails_with_a_diff_and_no_success_notebook(moved_run, capsys):
    path = moved_run / "run.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and any(
        o.get("output_type") == "stream" for o in c.outputs))
    stream = next(o for o in cell.outputs if o.get("output_type") == "stream")
    stream["text"] = "a number the code never printed: 0.999\n"
    nbformat.write(nb, path)
    (moved_run / "run.reproduced.ipynb").write_text("{}")  # a stale success must not survive

    assert main(["reproduce", str(moved_run), "-q"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "-a number the code never printed: 0.999" in out
    assert not (moved_run / "run.reproduced.ipynb").exists()
    failed = nbformat.read(moved_run / "run.reproduce-failed.ipynb", as_version=4)
    assert failed.cells[0].source.startswith("**NOT reproduced**")
    assert failed.metadata["deepthinker"]["reproduce"]["reproduced"] is False


def test_a_moved_run_notebook_runs_in_a_plain_jupyter_client(moved_run):
    """What JupyterLab does: start the notebook's kernel in the notebook's folder and run it."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(moved_run / "run.ipynb", as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(KERNELSPECS)])  # as `kernels install` puts them
    km = AsyncKernelManager(kernel_name=nb.metadata.kernelspec.name, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, timeout=120,
                            resources={"metadata": {"path": str(moved_run)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors, errors
    assert (moved_run / "work" / "run" / "predictions.csv").is_file()
    assert not (moved_run / ".home").exists(), "the kernel's home is not left in the run dir"


def test_an_exported_zip_reproduces_elsewhere(recorded_run, tmp_path, capsys):
    archive = tmp_path / "run.zip"
    result = export_run(recorded_run, archive)
    assert result.files > 5
    names = zipfile.ZipFile(archive).namelist()
    top = recorded_run.name
    assert f"{top}/manifest.json" in names and f"{top}/environment/requirements.txt" in names
    packages = json.loads(zipfile.ZipFile(archive).read(f"{top}/environment/packages.json"))
    assert any(p["name"].lower() == "ipykernel" and p["record_sha256"] for p in packages)
    assert any(n.startswith(f"{top}/environment/kernel-image/") for n in names)

    assert main(["reproduce", str(archive), "--into", str(tmp_path / "unpacked"), "-q"]) == 0
    assert (tmp_path / "unpacked" / top / "run.reproduced.ipynb").exists()


def test_an_export_with_data_reproduces_without_the_original_dataset(recorded_run, tmp_path):
    archive = tmp_path / "with-data.zip"
    export_run(recorded_run, archive, with_data=True)
    run_dir = unpack_run(archive, tmp_path / "unpacked")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["data_config"]["data_path"] = str(tmp_path / "gone.csv")  # as on another machine
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    again = reproduce(run_dir)
    assert again.reproduced, again.summary()
    assert again.actual == manifest["metrics"], "labels re-derived from the carried dataset"


def test_a_missing_dataset_names_the_flag(moved_run, tmp_path, capsys):
    manifest = json.loads((moved_run / "manifest.json").read_text())
    manifest["data_config"]["data_path"] = str(tmp_path / "gone.csv")
    (moved_run / "manifest.json").write_text(json.dumps(manifest))
    assert main(["reproduce", str(moved_run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data PATH" in err[0]


def test_unpack_refuses_members_outside_the_run(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("run/manifest.json", "{}")
        z.writestr("run/../../escaped.txt", "x")
    with pytest.raises(ExportError, match="outside"):
        unpack_run(archive, tmp_path / "into")
    assert not (tmp_path / "escaped.txt").exists()


def test_export_leaves_out_links_a_kernel_planted(moved_run, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host secret")
    (moved_run / "work" / "run" / "leak.txt").symlink_to(secret)
    result = export_run(moved_run, tmp_path / "out.zip")
    assert "work/run/leak.txt" in result.skipped
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        assert not any(z.read(n) == b"host secret" for n in z.namelist())


def test_a_session_continues_a_moved_run_notebook_in_its_folder(moved_run, tmp_path,
                                                                monkeypatch, capsys):
    """From another directory, the session works in the notebook's folder (its parameters name
    files relative to it, as Jupyter would), replays it as recorded, and says so."""
    import io

    elsewhere = tmp_path / "my-project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "import pandas as pd\nprint('rows', len(pd.read_csv(DATA_PATH)))\n"))
    assert main(["session", str(moved_run / "run.ipynb")]) == 0
    out = capsys.readouterr()
    assert "the notebook's folder" in out.err and "differ" not in out.err
    nb = nbformat.read(moved_run / "run.ipynb", as_version=4)
    assert "rows 120" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert nb.metadata["deepthinker"]["kernel"]["backend"] == "local"
    assert list(elsewhere.iterdir()) == [], "nothing written in the user's folder"


def test_export_with_data_carries_only_the_file_the_manifest_hashed(moved_run, tmp_path):
    """A received run's manifest may point at any host file: --with-data packs only the one
    whose SHA-256 the run recorded."""
    secret = tmp_path / "id_rsa"
    secret.write_text("host secret")
    manifest = json.loads((moved_run / "manifest.json").read_text())
    manifest["data_config"]["data_path"] = str(secret)
    (moved_run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="not the dataset the run used"):
        export_run(moved_run, tmp_path / "out.zip", with_data=True)
    assert not (tmp_path / "out.zip").exists()
