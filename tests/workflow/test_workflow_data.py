"""Host-side loading, validation and splitting: every bad input is a clear DataError."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.config import DataConfig
from deepthinker_nb.workflow.data import (
    DataError,
    label_key,
    load_and_split,
    load_table,
)
from deepthinker_nb.workflow.datasets import CATALOGUE, bundled_dataset


def _frame(n: int = 60, classes: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x1": rng.normal(size=n), "x2": rng.normal(size=n),
        "colour": rng.choice(["red", "blue"], n),
        "y": [f"c{i % classes}" for i in range(n)],
    })


def test_csv_split_is_stratified_and_keeps_labels_out_of_files(tmp_path, write_csv):
    path = write_csv(_frame(100))
    split = load_and_split(DataConfig(path, target_column="y", test_split_ratio=0.2))
    assert len(split.train) == 80 and len(split.test_features) == 20
    assert "y" not in split.test_features.columns
    assert split.test_features.columns[0] == "row_id"
    assert split.test_labels.value_counts().to_dict() == {"c0": 10, "c1": 10}
    _train_path, test_path = split.write(tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "test_features.csv", "train.csv"]
    assert "y" not in pd.read_csv(test_path).columns
    assert len(split.dataset_sha256) == 64
    assert split.profile.classes == {"c0": 40, "c1": 40}


def test_split_is_deterministic_for_a_seed(write_csv):
    path = write_csv(_frame(100))
    a = load_and_split(DataConfig(path, target_column="y", random_seed=3))
    b = load_and_split(DataConfig(path, target_column="y", random_seed=3))
    c = load_and_split(DataConfig(path, target_column="y", random_seed=4))
    assert a.test_features.equals(b.test_features) and a.test_labels.equals(b.test_labels)
    assert not a.test_features.equals(c.test_features)


def test_target_defaults_to_last_column(write_csv):
    split = load_and_split(DataConfig(write_csv(_frame())))
    assert split.target == "y"


@pytest.mark.parametrize("kind", ["records", "lines", "parquet"])
def test_json_and_parquet(tmp_path, kind):
    frame = _frame(40)
    if kind == "records":
        path = tmp_path / "d.json"
        path.write_text(json.dumps(frame.to_dict(orient="records")))
    elif kind == "lines":
        path = tmp_path / "d.jsonl"
        frame.to_json(path, orient="records", lines=True)
    else:
        pytest.importorskip("pyarrow")
        path = tmp_path / "d.parquet"
        frame.to_parquet(path)
    split = load_and_split(DataConfig(path, target_column="y"))
    assert split.profile.n_rows == 40


def test_json_lines_with_json_suffix(tmp_path):
    path = tmp_path / "d.json"
    _frame(30).to_json(path, orient="records", lines=True)
    assert len(load_table(path)) == 30


BAD_CASES = {
    "missing file": (None, {}, "does not exist"),
    "empty file": ("", {}, "is empty"),
    "header only": ("a,b,y\n", {}, "no rows"),
    "unparsable": ('a,b\n1,"2\n3,4,5,6\n', {}, "cannot parse"),
    "target missing": (_frame(), {"target_column": "nope"}, "not in the data"),
    "regression target not numeric": (_frame(), {"target_column": "colour",
                                                 "task_type": "regression"}, "not numeric"),
    "one class": (_frame(60, classes=1), {"target_column": "y"}, "at least 2"),
    "too few rows": (_frame(10), {"target_column": "y"}, "at least 20"),
    "rare class": (pd.concat([_frame(40), _frame(1, seed=1).assign(y="lonely")]),
                   {"target_column": "y"}, "fewer than 2 rows"),
    "continuous target as classes": (_frame(100).assign(y=np.arange(100) * 0.37),
                                     {"target_column": "y"}, "regression target"),
    "row_id column": (_frame().assign(row_id=1), {"target_column": "y"}, "row_id"),
    "unknown suffix": ("a,b\n", {"suffix": ".xlsx"}, "unknown file type"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_data_is_a_clear_error(tmp_path, case):
    content, options, message = BAD_CASES[case]
    options = dict(options)
    path = tmp_path / ("data" + options.pop("suffix", ".csv"))
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_and_split(DataConfig(path, **options))
    assert "\n" not in str(info.value)


def test_rows_with_missing_target_are_dropped_with_a_note(write_csv):
    frame = _frame(60)
    frame.loc[:4, "y"] = np.nan
    split = load_and_split(DataConfig(write_csv(frame), target_column="y"))
    assert split.profile.n_rows == 55
    assert any("missing" in n for n in split.profile.notes)


def test_label_key_matches_across_a_csv_round_trip():
    assert label_key(1) == label_key(1.0) == label_key("1") == label_key(np.int64(1)) == "1"
    assert label_key("yes") == "yes" and label_key(True) == "True"
    assert label_key(1.5) == "1.5"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bundled_datasets_load(name):
    dataset = bundled_dataset(name)
    split = load_and_split(DataConfig(dataset.path, task_type=dataset.task_type,
                                      target_column=dataset.target))
    assert split.profile.n_rows >= 100


def test_churn_has_categoricals_and_missing_values():
    dataset = bundled_dataset("churn")
    split = load_and_split(DataConfig(dataset.path, target_column=dataset.target))
    assert split.profile.categorical_features and split.profile.missing_total > 0


def test_profile_markdown_mentions_balance():
    dataset = bundled_dataset("iris")
    split = load_and_split(DataConfig(dataset.path, target_column=dataset.target))
    text = split.profile.to_markdown()
    assert "class balance" in text and "species" in text
