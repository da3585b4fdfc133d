"""The host-side evaluation the report draws: baselines, curves, threshold, residual bins and
the feature importance file, all aggregates, all read from what a kernel wrote as untrusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.workflow.evaluation import (
    MAX_CURVE_POINTS,
    MIN_BIN_ROWS,
    evaluate_predictions,
    read_feature_importance,
)
from deepthinker_nb.workflow.metrics import MetricComputer


def _labels(values) -> pd.Series:
    return pd.Series(values, index=pd.RangeIndex(len(values), name="row_id"))


def _write(path, frame: pd.DataFrame):
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def test_nine_percent_positives_always_no_scores_091(tmp_path):
    labels = _labels(["yes"] * 90 + ["no"] * 910)
    rng = np.random.default_rng(0)
    p_yes = np.clip(np.where(labels == "yes", 0.6, 0.3) + rng.normal(0, 0.15, 1000), 0, 1)
    predictions = _write(tmp_path / "work" / "01" / "predictions.csv", pd.DataFrame({
        "row_id": range(1000), "prediction": np.where(p_yes >= 0.45, "yes", "no"),
        "proba_no": 1 - p_yes, "proba_yes": p_yes}))
    section = evaluate_predictions(MetricComputer("classification", labels, ["no", "yes"]),
                                   labels, predictions, root=tmp_path / "work", iteration=1)
    assert section["baseline"] == {"predictor": "majority class", "label": "no",
                                   "accuracy": 0.91, "balanced_accuracy": 0.5}
    assert section["class_counts"] == {"no": 910, "yes": 90}
    assert section["positive"] == "yes"
    assert 2 <= len(section["roc"]["fpr"]) <= MAX_CURVE_POINTS
    assert section["roc"]["fpr"][0] == 0.0 and section["roc"]["fpr"][-1] == 1.0
    assert len(section["pr"]["recall"]) <= MAX_CURVE_POINTS
    assert section["pr"]["prevalence"] == pytest.approx(0.09)
    assert np.asarray(section["confusion"]["matrix"]).sum() == 1000
    threshold = section["threshold"]
    assert not threshold["default"] and threshold["value"] == pytest.approx(0.45, abs=0.02)
    assert section["feature_importance"] is None  # the code wrote none


def test_argmax_predictions_have_the_default_threshold(tmp_path):
    labels = _labels(["a", "b"] * 20)
    p_b = np.linspace(0.05, 0.95, 40)
    predictions = _write(tmp_path / "w" / "predictions.csv", pd.DataFrame({
        "row_id": range(40), "prediction": np.where(p_b >= 0.5, "b", "a"),
        "proba_a": 1 - p_b, "proba_b": p_b}))
    section = evaluate_predictions(MetricComputer("classification", labels), labels,
                                   predictions, root=tmp_path / "w")
    assert section["threshold"]["default"] is True


def test_the_training_majority_is_the_baseline_when_given(tmp_path):
    labels = _labels(["a"] * 4 + ["b"] * 6)
    predictions = _write(tmp_path / "w" / "predictions.csv",
                         pd.DataFrame({"row_id": range(10), "prediction": ["a"] * 10}))
    section = evaluate_predictions(MetricComputer("classification", labels), labels,
                                   predictions, root=tmp_path / "w",
                                   train_target=pd.Series(["a"] * 30 + ["b"] * 10))
    assert section["baseline"]["label"] == "a" and section["baseline"]["accuracy"] == 0.4
    assert "roc" not in section  # no probabilities, no curves


def test_regression_keeps_aggregates_of_at_least_five_rows(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 57)
    labels = _labels(y)
    predictions = _write(tmp_path / "w" / "predictions.csv", pd.DataFrame({
        "row_id": range(57), "prediction": y + rng.normal(0, 1, 57)}))
    section = evaluate_predictions(MetricComputer("regression", labels), labels, predictions,
                                   root=tmp_path / "w", train_target=pd.Series(y + 1))
    baseline = section["baseline"]
    assert baseline["value"] == pytest.approx(y.mean() + 1, abs=1e-5)
    assert baseline["rmse"] == pytest.approx(np.sqrt(np.mean((y - y.mean() - 1) ** 2)), abs=1e-5)
    assert baseline["r2"] < 0  # the training mean is off by one: worse than the test mean
    assert all(b["n"] >= MIN_BIN_ROWS for b in section["bins"])
    assert sum(b["n"] for b in section["bins"]) == 57
    assert set(section["residual_quantiles"]) == {"0.05", "0.1", "0.25", "0.5", "0.75", "0.9",
                                                  "0.95"}
    rounded = {round(float(v), 6) for v in y}
    bin_values = {b["actual"] for b in section["bins"]}
    assert not bin_values & rounded  # no bin is one row's label


def test_a_bad_predictions_file_is_an_error_entry_not_an_exception(tmp_path):
    labels = _labels(["a", "b"])
    (tmp_path / "w").mkdir()
    section = evaluate_predictions(MetricComputer("classification", labels), labels,
                                   tmp_path / "w" / "predictions.csv", root=tmp_path / "w")
    assert "no predictions file" in section["error"]


def test_feature_importance_top_30_largest_first(tmp_path):
    frame = pd.DataFrame({"feature": [f"f{i}" for i in range(50)],
                          "importance": [float(i) for i in range(50)]})
    _write(tmp_path / "feature_importance.csv", frame)
    importance = read_feature_importance(tmp_path / "feature_importance.csv", root=tmp_path)
    assert importance["total"] == 50 and len(importance["features"]) == 30
    assert importance["features"][0] == ["f49", 49.0]


def test_feature_importance_is_read_as_untrusted(tmp_path):
    secret = tmp_path / "host-secret.csv"
    secret.write_text("feature,importance\nsecret,1\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "feature_importance.csv").symlink_to(secret)
    importance = read_feature_importance(work / "feature_importance.csv", root=work)
    assert "refused" in importance["error"] and "secret" not in str(importance)
    (work / "feature_importance.csv").unlink()
    (work / "feature_importance.csv").write_text("name,score\nx,1\n")
    assert "feature,importance" in read_feature_importance(
        work / "feature_importance.csv", root=work)["error"]
    assert read_feature_importance(work / "missing.csv", root=work) is None
