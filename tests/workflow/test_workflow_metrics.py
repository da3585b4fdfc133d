"""MetricComputer: predictions-file validation and the metrics / quality score."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.workflow.metrics import (
    MetricComputer,
    PredictionError,
    blend_score,
    quality_score,
)

LABELS = pd.Series(["a", "b", "a", "b", "c", "c"], index=pd.RangeIndex(6, name="row_id"))


def _computer() -> MetricComputer:
    return MetricComputer("classification", LABELS, ["a", "b", "c"])


def _preds(pred=None, ids=None, **extra) -> pd.DataFrame:
    frame = pd.DataFrame({"row_id": ids if ids is not None else range(6),
                          "prediction": pred if pred is not None else list(LABELS)})
    for k, v in extra.items():
        frame[k] = v
    return frame


def test_perfect_classification_scores_ten_with_probabilities():
    proba = np.eye(3)[[0, 1, 0, 1, 2, 2]]
    frame = _preds(proba_a=proba[:, 0], proba_b=proba[:, 1], proba_c=proba[:, 2])
    result = _computer().compute(frame)
    assert result.metrics["accuracy"] == 1.0 and result.metrics["balanced_accuracy"] == 1.0
    assert result.metrics["roc_auc"] == 1.0 and result.metrics["log_loss"] < 1e-6
    assert result.score == 10.0 and result.has_probabilities


def test_order_of_rows_does_not_matter_and_chance_scores_zero():
    frame = _preds(pred=["a"] * 6, ids=[5, 4, 3, 2, 1, 0])
    result = _computer().compute(frame)
    assert result.metrics["balanced_accuracy"] == pytest.approx(1 / 3)
    assert result.score == 0.0


def test_binary_roc_auc_uses_the_positive_class():
    labels = pd.Series([0, 1, 0, 1], index=pd.RangeIndex(4, name="row_id"))
    computer = MetricComputer("classification", labels)
    frame = pd.DataFrame({"row_id": range(4), "prediction": [0, 1, 1, 1],
                          "proba_0": [0.9, 0.2, 0.4, 0.1], "proba_1": [0.1, 0.8, 0.6, 0.9]})
    result = computer.compute(frame)
    assert result.metrics["roc_auc"] == 1.0
    assert result.metrics["accuracy"] == 0.75


def test_float_labels_in_predictions_match_integer_classes():
    labels = pd.Series([0, 1, 2, 1], index=pd.RangeIndex(4, name="row_id"))
    frame = pd.DataFrame({"row_id": range(4), "prediction": [0.0, 1.0, 2.0, 1.0],
                          "proba_0.0": [1, 0, 0, 0], "proba_1.0": [0, 1, 0, 1],
                          "proba_2.0": [0, 0, 1, 0]})
    assert MetricComputer("classification", labels).compute(frame).score == 10.0


def test_regression_metrics():
    labels = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.RangeIndex(4, name="row_id"))
    computer = MetricComputer("regression", labels)
    result = computer.compute(pd.DataFrame({"row_id": range(4), "prediction": [1, 2, 3, 5]}))
    assert result.metrics["mae"] == 0.25 and result.metrics["rmse"] == 0.5
    assert result.metrics["r2"] == pytest.approx(0.8)
    assert result.score == pytest.approx(8.0)
    worse = computer.compute(pd.DataFrame({"row_id": range(4), "prediction": [9, 9, 9, 9]}))
    assert worse.score == 0.0  # negative R² is clipped


BAD = {
    "too few rows": (lambda: _preds().iloc[:5], "expected one per test row"),
    "no row_id": (lambda: _preds().drop(columns=["row_id"]), "no 'row_id'"),
    "duplicate ids": (lambda: _preds(ids=[0, 1, 2, 3, 4, 4]), "duplicate"),
    "unknown ids": (lambda: _preds(ids=[0, 1, 2, 3, 4, 99]), "not test ids"),
    "NaN prediction": (lambda: _preds(pred=["a", None, "a", "b", "c", "c"]), "missing"),
    "unknown label": (lambda: _preds(pred=["a", "z", "a", "b", "c", "c"]), "not classes"),
    "extra column": (lambda: _preds(score=1.0), "unexpected columns"),
    "proba out of range": (lambda: _preds(proba_a=[1.5] * 6, proba_b=[-0.5] * 6,
                                          proba_c=[0.0] * 6), r"\[0, 1\]"),
    "proba not summing to 1": (lambda: _preds(proba_a=[0.5] * 6, proba_b=[0.5] * 6,
                                              proba_c=[0.5] * 6), "sum to 1"),
    "proba missing a class": (lambda: _preds(proba_a=[0.5] * 6, proba_b=[0.5] * 6),
                              "one per class"),
    "proba NaN": (lambda: _preds(proba_a=[np.nan] * 6, proba_b=[0.5] * 6,
                                 proba_c=[0.5] * 6), "missing or non-numeric"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_predictions_are_clear_errors(case):
    make, message = BAD[case]
    with pytest.raises(PredictionError, match=message):
        _computer().compute(make())


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(PredictionError, match="no predictions file"):
        _computer().compute(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02")
    with pytest.raises(PredictionError):
        _computer().compute(bad)


def test_a_predictions_file_on_disk_is_read_and_scored(tmp_path):
    path = tmp_path / "work" / "01" / "predictions.csv"
    path.parent.mkdir(parents=True)
    _preds().to_csv(path, index=False)
    assert _computer().compute(path, root=tmp_path / "work").score == 10.0


REFUSED = {
    "symlink": (lambda p, host: p.symlink_to(host), "a symlink"),
    "FIFO": (lambda p, host: os.mkfifo(p), r"not a regular file \(a FIFO\)"),
    "/dev/zero": (lambda p, host: p.symlink_to("/dev/zero"), "a symlink"),
    "hard link": (lambda p, host: os.link(host, p), "a hard link"),
    "directory": (lambda p, host: p.mkdir(), r"not a regular file \(a directory\)"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_planted_predictions_file_is_refused_naming_the_problem(tmp_path, case):
    """Whatever the kernel left at PREDICTIONS_PATH, the host neither hangs nor reads a host
    file through it, and the error names the problem without quoting any content."""
    host = tmp_path / "host.csv"
    secret = "secret-e41d-" + case.replace(" ", "-")
    _preds(pred=[secret] * 6).to_csv(host, index=False)
    work = tmp_path / "work"
    work.mkdir()
    plant, problem = REFUSED[case]
    plant(work / "predictions.csv", host)
    with pytest.raises(PredictionError, match="predictions file at PREDICTIONS_PATH was "
                                              "refused: " + problem) as info:
        _computer().compute(work / "predictions.csv", root=work)
    assert secret not in str(info.value)


def test_predictions_behind_a_symlinked_directory_are_refused(tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    _preds().to_csv(host_dir / "predictions.csv", index=False)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "01").symlink_to(host_dir, target_is_directory=True)
    with pytest.raises(PredictionError, match="directory '01' on its path is a symlink"):
        _computer().compute(tmp_path / "work" / "01" / "predictions.csv", root=tmp_path / "work")


def test_an_oversized_predictions_file_is_refused(tmp_path):
    path = tmp_path / "predictions.csv"
    with open(path, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse
    with pytest.raises(PredictionError, match=r"too large \(2147483648 bytes > 268435456\)"):
        _computer().compute(path)
    small = MetricComputer("classification", LABELS, ["a", "b", "c"], max_bytes=16)
    _preds().to_csv(path, index=False)
    with pytest.raises(PredictionError, match=r"too large \(\d+ bytes > 16\)"):
        small.compute(path)


def test_validation_errors_show_few_and_short_column_names(tmp_path):
    path = tmp_path / "predictions.csv"
    header = ",".join(f"{'c' * 500}{i}" for i in range(50))
    path.write_text(header + "\n" + ",".join("1" * 50) + "\n")
    with pytest.raises(PredictionError, match="no 'row_id' column") as info:
        _computer().compute(path)
    assert len(str(info.value)) < 800


def test_regression_predictions_must_be_finite():
    labels = pd.Series([1.0, 2.0], index=pd.RangeIndex(2, name="row_id"))
    with pytest.raises(PredictionError, match="finite"):
        MetricComputer("regression", labels).compute(
            pd.DataFrame({"row_id": [0, 1], "prediction": [1.0, np.inf]}))


def test_quality_score_is_chance_corrected():
    assert quality_score({"balanced_accuracy": 0.5}, "classification", 2) == 0.0
    assert quality_score({"balanced_accuracy": 0.75}, "classification", 2) == 5.0
    assert quality_score({"balanced_accuracy": 0.25}, "classification", 4) == 0.0
    assert quality_score({"balanced_accuracy": 1.0}, "classification", 4) == 10.0
    assert quality_score({"r2": -3.0}, "regression") == 0.0
    assert quality_score({"r2": float("nan")}, "regression") == 0.0


def test_blend_defaults_to_the_metric_and_caps_the_council():
    assert blend_score(6.0, 10.0, 1.0) == 6.0
    assert blend_score(6.0, None, 0.5) == 6.0
    assert blend_score(6.0, 10.0, 0.5) == 8.0
    assert blend_score(6.0, 99.0, 0.5) == 8.0
