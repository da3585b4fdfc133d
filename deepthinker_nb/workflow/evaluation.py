"""What the run report shows of the best model, computed on the HOST during the run.

The report is rebuilt later from the run dir alone, and the run dir never holds the test labels:
so the host computes here, once, the aggregates the report draws (a baseline, ROC and
precision-recall curves downsampled to at most :data:`MAX_CURVE_POINTS`, the confusion matrix,
binned predicted-vs-actual and residual quantiles) and the runner stores them in the manifest's
``evaluation`` section. Nothing here is one row's label.

The predictions file and ``feature_importance.csv`` were written by a kernel: both are read
through :mod:`deepthinker_nb.untrusted` (no links followed, size caps), and the predictions are
validated by :class:`~deepthinker_nb.workflow.metrics.MetricComputer` first.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepthinker_nb.untrusted import UntrustedFileError, read_untrusted_bytes
from deepthinker_nb.workflow.councils.codegen import FEATURE_IMPORTANCE_FILE
from deepthinker_nb.workflow.data import label_keys
from deepthinker_nb.workflow.metrics import PROBA_PREFIX, MetricComputer, PredictionError

MAX_CURVE_POINTS = 200
TOP_FEATURES = 30
IMPORTANCE_MAX_BYTES = 4 * 1024 * 1024
REGRESSION_BINS = 20
MIN_BIN_ROWS = 5
"""A bin of predicted-vs-actual averages at least this many rows (never one row's label)."""
RESIDUAL_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def evaluate_predictions(computer: MetricComputer, test_labels: pd.Series, predictions: Path, *,
                         root: Path, train_target: pd.Series | None = None,
                         iteration: int | None = None) -> dict[str, Any]:
    """The manifest's ``evaluation`` section for the predictions at ``predictions`` (in a
    kernel's work dir under ``root``), with ``feature_importance.csv`` beside it when present.

    ``train_target``: the baseline learns from the training rows as a model would (the majority
    class, the mean); without it the test labels' own are used. A file that cannot be read gives
    ``{"error": ...}`` (the report says so), never an exception: the run is not lost for it.
    """
    section: dict[str, Any] = {"iteration": iteration, "task_type": computer.task_type,
                               "predictions": _relative(predictions, root.parent)}
    try:
        frame = computer.read(predictions, root=root)
    except (PredictionError, UntrustedFileError) as exc:
        section["error"] = str(exc).splitlines()[0]
        return section
    section["n"] = len(frame)
    try:
        if computer.task_type == "classification":
            section.update(_classification(frame, test_labels, computer.classes, train_target))
        else:
            section.update(_regression(frame, test_labels, train_target))
    except Exception as exc:  # an aggregate the data cannot give must not fail the run
        section["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    section["feature_importance"] = read_feature_importance(
        predictions.parent / FEATURE_IMPORTANCE_FILE, root=root)
    return section


# -- classification ------------------------------------------------------------------------------
def _classification(frame: pd.DataFrame, test_labels: pd.Series, classes: list[str],
                     train_target: pd.Series | None) -> dict[str, Any]:
    from sklearn import metrics as skm

    y_true = label_keys(test_labels).to_numpy()
    y_pred = frame["prediction"].to_numpy()
    counts = pd.Series(y_true).value_counts()
    reference = label_keys(train_target.dropna()) if train_target is not None else pd.Series(y_true)
    majority = str(reference.value_counts().sort_index().idxmax())
    constant = np.full(len(y_true), majority, dtype=object)
    present = sorted(set(y_true))
    out: dict[str, Any] = {
        "classes": list(classes),
        "class_counts": {str(c): int(counts.get(c, 0)) for c in classes},
        "baseline": {
            "predictor": "majority class",
            "label": majority,
            "accuracy": _round(float(np.mean(y_true == constant))),
            "balanced_accuracy": _round(
                float(np.mean([np.mean(constant[y_true == c] == c) for c in present]))),
        },
        "confusion": {"labels": list(classes),
                      "matrix": skm.confusion_matrix(y_true, y_pred, labels=classes).tolist()},
    }
    proba_columns = [PROBA_PREFIX + c for c in classes]
    if len(classes) != 2 or not all(c in frame.columns for c in proba_columns):
        return out
    positive = classes[1]
    proba = frame[proba_columns].to_numpy(dtype=float)
    proba = np.clip(proba, 0.0, 1.0)
    scores = proba[:, 1] / np.maximum(proba.sum(axis=1), 1e-12)
    out["positive"] = positive
    out["threshold"] = _threshold(scores, y_pred == positive)
    truth = y_true == positive
    if truth.all() or not truth.any():
        return out  # no curve with one class only
    fpr, tpr, _ = skm.roc_curve(truth, scores)
    keep = _downsample(len(fpr))
    out["roc"] = {"fpr": _rounded(fpr[keep]), "tpr": _rounded(tpr[keep]),
                  "auc": _round(float(skm.auc(fpr, tpr)))}
    precision, recall, _ = skm.precision_recall_curve(truth, scores)
    keep = _downsample(len(recall))
    out["pr"] = {"recall": _rounded(recall[keep]), "precision": _rounded(precision[keep]),
                 "average_precision": _round(float(skm.average_precision_score(truth, scores))),
                 "prevalence": _round(float(truth.mean()))}
    return out


def _threshold(scores: np.ndarray, predicted_positive: np.ndarray) -> dict[str, Any] | None:
    """The decision threshold on the positive class's probability the predictions imply: the
    lowest score predicted positive, when it separates the two predicted groups. ``default`` is
    true when 0.5 (the argmax of two classes) explains the predictions as well."""
    if predicted_positive.all() or not predicted_positive.any():
        return None
    lowest_positive = float(scores[predicted_positive].min())
    highest_negative = float(scores[~predicted_positive].max())
    if highest_negative > lowest_positive:
        return None  # no single threshold gives these labels
    default = highest_negative < 0.5 <= lowest_positive
    value = 0.5 if default else (lowest_positive + highest_negative) / 2
    return {"value": _round(value), "default": bool(default),
            "between": [_round(highest_negative), _round(lowest_positive)]}


# -- regression ----------------------------------------------------------------------------------
def _regression(frame: pd.DataFrame, test_labels: pd.Series,
                train_target: pd.Series | None) -> dict[str, Any]:
    from sklearn import metrics as skm

    y_true = test_labels.astype(float).to_numpy()
    y_pred = frame["prediction"].to_numpy(dtype=float)
    reference = (pd.to_numeric(train_target, errors="coerce").dropna().to_numpy(dtype=float)
                 if train_target is not None else y_true)
    mean = float(np.mean(reference))
    constant = np.full(len(y_true), mean)
    residuals = y_true - y_pred
    out: dict[str, Any] = {
        "baseline": {
            "predictor": "mean", "value": _round(mean),
            "rmse": _round(math.sqrt(skm.mean_squared_error(y_true, constant))),
            "mae": _round(float(skm.mean_absolute_error(y_true, constant))),
            "r2": _round(float(skm.r2_score(y_true, constant))) if len(y_true) > 1 else None,
        },
        "residual_quantiles": {str(q): _round(float(np.quantile(residuals, q)))
                               for q in RESIDUAL_QUANTILES},
    }
    n_bins = min(REGRESSION_BINS, len(y_true) // MIN_BIN_ROWS)
    if n_bins >= 2:
        order = np.argsort(y_pred, kind="stable")
        bins = []
        for chunk in np.array_split(order, n_bins):
            res = residuals[chunk]
            bins.append({
                "n": len(chunk),
                "predicted": _round(float(y_pred[chunk].mean())),
                "actual": _round(float(y_true[chunk].mean())),
                "residual_q25": _round(float(np.quantile(res, 0.25))),
                "residual_median": _round(float(np.median(res))),
                "residual_q75": _round(float(np.quantile(res, 0.75))),
            })
        out["bins"] = bins
    return out


# -- feature importance --------------------------------------------------------------------------
def read_feature_importance(path: Path, *, root: Path,
                            top: int = TOP_FEATURES) -> dict[str, Any] | None:
    """The ``top`` features of ``feature_importance.csv`` (``feature,importance``), largest
    first; None when the code wrote none, ``{"error": ...}`` when it cannot be used."""
    try:
        data = read_untrusted_bytes(path, root=root, max_bytes=IMPORTANCE_MAX_BYTES)
    except UntrustedFileError as exc:
        return None if exc.kind == "missing" else {"error": f"refused: {exc.reason}"}
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except Exception as exc:  # the kernel's file: any parse failure is its problem
        return {"error": f"not a CSV: {exc}".splitlines()[0][:200]}
    if not {"feature", "importance"} <= set(frame.columns):
        return {"error": "needs the columns feature,importance"}
    values = pd.to_numeric(frame["importance"], errors="coerce")
    frame = frame.assign(importance=values)[np.isfinite(values.to_numpy(dtype=float))]
    frame = frame.sort_values("importance", ascending=False, kind="stable").head(top)
    return {"features": [[str(f)[:120], _round(float(v))]
                         for f, v in zip(frame["feature"], frame["importance"], strict=True)],
            "total": len(values)}


# -- helpers -------------------------------------------------------------------------------------
def _relative(path: Path, base: Path) -> str:
    """``path`` as the run dir names it (``work/run/predictions.csv``), when it lies there."""
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def _downsample(n: int, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``limit`` indices of ``n`` points, evenly spaced, first and last kept."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _round(value: float) -> float:
    return round(float(value), 6)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]
