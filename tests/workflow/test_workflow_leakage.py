"""The leakage guard, in real kernels: a column that stands in for the target is dropped, and a
target encoding is fitted inside each cross-validation fold (never on rows it is scored on)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.workflow import WorkflowRunner


def _run(tmp_path, path, iterations=1):
    config = DataConfig(path, target_column="y", execution_timeout=120)
    return WorkflowRunner(config, IterationConfig(max_iterations=iterations, patience=None),
                          runs_dir=tmp_path, pool_size=2, simulate=False,
                          report=False).run("predict y")


def _cv_score(stdout: str) -> float:
    return float(re.search(r"cross-validated balanced_accuracy: (\d\.\d+)", stdout).group(1))


def test_a_leaking_column_is_dropped_with_a_note(tmp_path, write_csv):
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 1.0, n)) > 0
    # "settled" is recorded after the fact: it is the target in 99.5% of the rows.
    settled = np.where(rng.random(n) < 0.005, ~y, y)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
                          "settled": np.where(settled, "Y", "N"),
                          "y": np.where(y, "pos", "neg")})
    result = _run(tmp_path, write_csv(frame))
    assert result.research.facts["columns"]["settled"]["role"] == "leak"
    record = result.iterations[0]
    assert record.ok, record.error
    load_cell = record.cells[0]
    assert "#   settled: leak: predicts the target alone" in load_cell
    assert "'settled'" in load_cell and "left out:" in record.stdout
    # With the leak the held-out balanced accuracy would be about 0.99; without it the
    # features carry what they carry.
    assert record.metrics["balanced_accuracy"] < 0.9


def test_target_encoding_is_fitted_inside_each_fold(tmp_path, write_csv):
    """``shop`` has 1,500 values over 2,000 rows and says nothing about the target. A target
    encoding fitted on all training rows before cross-validation would let every row see its
    own label (a cross-validated score near 1); fitted inside the folds, and cross-fitted
    within them, it scores chance, as the held-out rows confirm."""
    rng = np.random.default_rng(11)
    n = 2000
    frame = pd.DataFrame({
        "shop": [f"s{v}" for v in rng.integers(0, 1500, n)],
        "noise": rng.normal(size=n),
        "y": rng.choice(["a", "b"], n),
    })
    # The test can tell: an encoding fitted on all rows first scores far above chance.
    leaked = frame["shop"].map(frame.groupby("shop")["y"].apply(lambda v: (v == "b").mean()))
    naive = cross_val_score(LogisticRegression(), leaked.to_frame(), frame["y"], cv=3,
                            scoring="balanced_accuracy").mean()
    assert naive > 0.75
    result = _run(tmp_path, write_csv(frame), iterations=2)
    assert result.research.facts["columns"]["shop"]["role"] == "high_cardinality"
    for record in result.iterations:
        assert record.ok, record.error
        code = "\n".join(record.cells)
        # The encoder is a step of the pipeline that cross-validation fits per fold, and the
        # rows cross-validation sees are the raw ones.
        assert "high_cardinality_features = ['shop']" in code and "TargetEncoder(" in code
        assert "cross_val_score(pipeline, X_cv, y_cv" in code
        assert "X_cv, y_cv = X, y" in code
        cv = _cv_score(record.stdout)
        assert cv < 0.6, (record.model, cv)
        assert record.metrics["balanced_accuracy"] < 0.6
