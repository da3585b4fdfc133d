"""The default target and task: when --target is not given the last column is used, and the
column and the inferred task are announced and recorded; a numeric target with many values is a
regression target. And the data's size: a kernel that cannot hold the data is a clear error
before anything starts; the host splits without keeping a second copy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.config import DataConfig, LocalConfig, ResourceLimits
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.data import (
    DataError,
    infer_task,
    load_and_split,
    load_and_validate,
    write_csv,
)


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "x": x.round(4),
        "colour": rng.choice(["red", "blue", "green"], n),
        "amount": (50 + 10 * x + rng.normal(0, 3, n)).round().astype(int),  # ~60 values
        "label": np.where(x + rng.normal(0, 0.5, n) > 0, "yes", "no"),
    })


def test_infer_task():
    assert infer_task(pd.Series(["a", "b", "a"]))[0] == "classification"
    assert infer_task(pd.Series([0, 1, 1, 0]))[0] == "classification"
    assert infer_task(pd.Series([True, False] * 30))[0] == "classification"
    task, why = infer_task(pd.Series(np.arange(100) % 37))
    assert task == "regression" and "37 distinct numbers" in why


def test_run_without_target_announces_the_column_and_the_task(tmp_path, capsys, write_csv):
    path = write_csv(_frame())
    code = main(["run", "--data", str(path), "--max-iterations", "1", "--out",
                 str(tmp_path / "runs")])
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert ("target `label` (the last column; --target COL picks another), task "
            "classification (inferred: 2 distinct values; --task overrides)") in err
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["target_choice"] == {
        "target": "label", "target_given": False, "task_type": "classification",
        "task_inferred": "inferred: 2 distinct values"}
    assert manifest["dataset"]["target"] == "label"


def test_a_numeric_last_column_is_inferred_as_regression(tmp_path, write_csv):
    frame = _frame().drop(columns=["label"])  # "amount" is last: about 60 whole numbers
    path = write_csv(frame)
    validated = load_and_validate(DataConfig(path), infer=True)
    assert validated.task_type == "regression" and not validated.target_given
    assert "task regression (inferred:" in validated.announcement()
    split = load_and_split(DataConfig(path), validated)
    assert split.task_type == "regression" and split.target == "amount"


def test_an_integer_target_with_many_values_suggests_regression(tmp_path, capsys, write_csv):
    path = write_csv(_frame())
    code = main(["run", "--data", str(path), "--target", "amount", "--task", "classification",
                 "--out", str(tmp_path / "runs")])
    _out, err = capsys.readouterr()
    assert code == 2
    (line,) = [line for line in err.splitlines() if line.startswith("deepthinker-nb: error:")]
    assert "distinct whole numbers" in line and "--task regression" in line
    assert not (tmp_path / "runs").exists()


def test_data_that_cannot_fit_the_kernel_is_a_clear_error_before_anything_starts(
        tmp_path, write_csv):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200_000, 20)), columns=[f"f{i}" for i in range(20)])
    frame["y"] = rng.choice(["a", "b"], 200_000)
    path = write_csv(frame)  # 32 MiB in memory: a kernel needs about 1 GiB of address space
    small = LocalConfig(limits=ResourceLimits(memory="900m"))
    runner = WorkflowRunner(DataConfig(path, kernel_config=small), runs_dir=tmp_path / "runs")
    with pytest.raises(DataError, match="memory limit of 900 MiB") as info:
        runner.run("predict y")
    assert "ResourceLimits(memory=" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_the_split_keeps_one_copy_of_the_data(write_csv):
    path = write_csv(_frame(500))
    config = DataConfig(path, target_column="label")
    validated = load_and_validate(config)
    split = load_and_split(config, validated)
    assert validated.frame is None  # moved into the split, not kept beside it
    assert len(split.train) + len(split.test_features) == 500
    with pytest.raises(DataError, match="split already"):
        load_and_split(config, validated)
    # The same rows and labels as a split of a fresh load.
    again = load_and_split(config)
    assert again.train.equals(split.train) and again.test_labels.equals(split.test_labels)


def test_split_files_read_back_to_the_same_values(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": [0.1 + 0.2] * 50,
                          "i": np.arange(50), "t": ['x, "y"\nz'] * 50, "flag": [True] * 50})
    frame.loc[::7, "t"] = None
    write_csv(frame, tmp_path / "arrow.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    assert pd.read_csv(tmp_path / "arrow.csv").equals(pd.read_csv(tmp_path / "pandas.csv"))
