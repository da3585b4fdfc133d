"""Held-out metrics, computed on the host from the predictions file the kernel wrote.

Nothing the kernel prints or writes other than the predictions file is read, so a cell cannot
report its own score. The file format is CSV ``row_id,prediction[,proba_<class>...]``. The file is
opened as untrusted (``deepthinker_nb.untrusted``): a link, a FIFO, a device or an oversized file
is refused with a message naming the problem, never with the file's content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepthinker_nb.config.data import PRIMARY_METRIC
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.untrusted import StrPath, UntrustedFileError, open_untrusted
from deepthinker_nb.workflow.data import ROW_ID, label_key, label_keys

PROBA_PREFIX = "proba_"
_PROBA_TOLERANCE = 1e-6
_SUM_TOLERANCE = 0.01
PREDICTIONS_MAX_BYTES = 256 * 1024 * 1024


class PredictionError(DeepThinkerError, ValueError):
    """The predictions file is missing or malformed; the message says what the code must fix."""


@dataclass(frozen=True)
class MetricResult:
    task_type: str
    metrics: dict[str, float]
    primary: str
    n: int
    score: float
    """The metric-based quality score, 0..10."""
    has_probabilities: bool = False
    confusion: dict[str, Any] = field(default_factory=dict)
    """``{"labels": [...], "matrix": [[...]]}`` for classification."""

    @property
    def primary_value(self) -> float:
        return self.metrics[self.primary]

    def to_dict(self) -> dict[str, Any]:
        return {"task_type": self.task_type, "metrics": self.metrics, "primary": self.primary,
                "n": self.n, "score": self.score, "has_probabilities": self.has_probabilities}


def quality_score(metrics: dict[str, float], task_type: str, n_classes: int = 2) -> float:
    """A 0..10 score from the held-out metric.

    Classification: balanced accuracy rescaled so that chance (1/k) is 0 and perfect is 10, so a
    constant or random predictor earns nothing whatever the class balance. Regression: R² clipped
    to [0, 1] and scaled to 10 (predicting the mean earns 0).
    """
    if task_type == "classification":
        chance = 1.0 / max(2, n_classes)
        value = (metrics["balanced_accuracy"] - chance) / (1.0 - chance)
    else:
        value = metrics["r2"]
    if not math.isfinite(value):
        return 0.0
    return round(10.0 * min(1.0, max(0.0, value)), 4)


def blend_score(metric_score: float, council_score: float | None, metric_weight: float) -> float:
    """``metric_weight`` of the metric score plus the rest from the evaluator council.

    The default weight 1.0 keeps the stopping rule on the held-out metric alone; a council's
    opinion can only move the score when a caller asks for it, and never above 10.
    """
    if council_score is None or metric_weight >= 1.0:
        return metric_score
    council = min(10.0, max(0.0, float(council_score)))
    return round(metric_weight * metric_score + (1.0 - metric_weight) * council, 4)


class MetricComputer:
    """Validates a predictions file against the held-out ids and computes the metrics."""

    def __init__(self, task_type: str, test_labels: pd.Series, classes: list[str] | None = None,
                 *, max_bytes: int = PREDICTIONS_MAX_BYTES):
        self.task_type = task_type
        self.max_bytes = max_bytes
        self._labels = test_labels
        self._ids = set(int(i) for i in test_labels.index)
        if task_type == "classification":
            self.classes = sorted(classes) if classes else sorted(
                set(label_keys(test_labels)))
        else:
            self.classes = []

    @property
    def n(self) -> int:
        return len(self._labels)

    # -- validation ------------------------------------------------------------------------------
    def read(self, path: StrPath, *, root: StrPath | None = None) -> pd.DataFrame:
        """Read and validate the predictions at ``path``; ``root`` is the kernel-writable dir
        it lies in (no symlinked directory between the two is followed)."""
        path = Path(path)
        try:
            handle = open_untrusted(path, root=root, max_bytes=self.max_bytes)
        except UntrustedFileError as exc:
            if exc.kind == "missing":
                raise PredictionError(
                    f"no predictions file at PREDICTIONS_PATH ({path.name}); the code must write "
                    f"a CSV with columns {ROW_ID},prediction to PREDICTIONS_PATH")
            raise _refused(exc)
        with handle:
            try:
                frame = pd.read_csv(handle)
            except UntrustedFileError as exc:  # it grew past the cap while pandas read it
                raise _refused(exc)
            except Exception as exc:
                raise PredictionError(
                    f"cannot read the predictions file as CSV: {exc}".splitlines()[0])
        return self.validate(frame)

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The predictions ordered by ``row_id``, or a PredictionError naming the first problem."""
        frame = frame.copy()
        frame.columns = [str(c).strip() for c in frame.columns]
        for column in (ROW_ID, "prediction"):
            if column not in frame.columns:
                raise PredictionError(
                    f"the predictions file has no {column!r} column (columns: "
                    f"{_few(frame.columns, 10)}); write {ROW_ID},prediction"
                )
        extra = [c for c in frame.columns
                 if c not in (ROW_ID, "prediction") and not c.startswith(PROBA_PREFIX)]
        if extra:
            raise PredictionError(f"unexpected columns {_few(extra)}; allowed: {ROW_ID}, "
                                  f"prediction, {PROBA_PREFIX}<class>")
        if len(frame) != self.n:
            raise PredictionError(
                f"the predictions file has {len(frame)} rows; expected one per test row ({self.n})"
            )
        ids = pd.to_numeric(frame[ROW_ID], errors="coerce")
        if ids.isna().any() or not np.all(np.equal(np.mod(ids, 1), 0)):
            raise PredictionError(f"{ROW_ID} must hold the integer ids from TEST_FEATURES_PATH")
        ids = ids.astype(int)
        if ids.duplicated().any():
            raise PredictionError(f"duplicate {ROW_ID}s, e.g. {ids[ids.duplicated()].iloc[0]}")
        unknown = set(ids) - self._ids
        if unknown:
            raise PredictionError(f"{len(unknown)} {ROW_ID}s are not test ids, e.g. "
                                  f"{sorted(unknown)[:3]}; copy {ROW_ID} from TEST_FEATURES_PATH")
        frame[ROW_ID] = ids
        frame = frame.set_index(ROW_ID).loc[self._labels.index]
        if frame["prediction"].isna().any():
            raise PredictionError(
                f"{int(frame['prediction'].isna().sum())} predictions are missing (NaN); predict "
                "every test row"
            )
        if self.task_type == "regression":
            values = pd.to_numeric(frame["prediction"], errors="coerce")
            if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
                raise PredictionError("regression predictions must be finite numbers")
            frame["prediction"] = values.astype(float)
            if any(c.startswith(PROBA_PREFIX) for c in frame.columns):
                raise PredictionError("probability columns are for classification only")
        else:
            frame["prediction"] = label_keys(frame["prediction"])
            unknown_labels = sorted(set(frame["prediction"]) - set(self.classes))
            if unknown_labels:
                raise PredictionError(
                    f"predicted labels {_few(unknown_labels)} are not classes of the training "
                    f"target (classes: {self.classes[:10]})"
                )
            frame = self._validate_probabilities(frame)
        return frame

    def _validate_probabilities(self, frame: pd.DataFrame) -> pd.DataFrame:
        proba = [c for c in frame.columns if c.startswith(PROBA_PREFIX)]
        if not proba:
            return frame
        renamed = {c: PROBA_PREFIX + label_key(c[len(PROBA_PREFIX):]) for c in proba}
        frame = frame.rename(columns=renamed)
        named = set(renamed.values())
        wanted = {PROBA_PREFIX + c for c in self.classes}
        if named != wanted:
            missing, unknown = sorted(wanted - named), sorted(named - wanted)
            raise PredictionError(
                "probability columns must be one per class"
                + (f"; missing {missing[:5]}" if missing else "")
                + (f"; unknown {_few(unknown)}" if unknown else "")
            )
        values = frame[sorted(wanted)].apply(pd.to_numeric, errors="coerce")
        if values.isna().any().any():
            raise PredictionError("probability columns contain missing or non-numeric values")
        array = values.to_numpy(dtype=float)
        if (array < -_PROBA_TOLERANCE).any() or (array > 1 + _PROBA_TOLERANCE).any():
            raise PredictionError("probabilities must lie in [0, 1]")
        sums = array.sum(axis=1)
        if np.abs(sums - 1.0).max() > _SUM_TOLERANCE:
            raise PredictionError(
                f"probabilities of a row must sum to 1 (found sums from {sums.min():.3f} to "
                f"{sums.max():.3f})"
            )
        return frame

    # -- metrics ---------------------------------------------------------------------------------
    def compute(self, predictions: StrPath | pd.DataFrame, *,
                root: StrPath | None = None) -> MetricResult:
        """Validate and score (``root``: see :meth:`read`); raises PredictionError for a
        malformed or refused file."""
        frame = (self.validate(predictions) if isinstance(predictions, pd.DataFrame)
                 else self.read(predictions, root=root))
        if self.task_type == "classification":
            return self._classification(frame)
        return self._regression(frame)

    def _classification(self, frame: pd.DataFrame) -> MetricResult:
        from sklearn import metrics as skm

        y_true = label_keys(self._labels).to_numpy()
        y_pred = frame["prediction"].to_numpy()
        labels = self.classes
        result: dict[str, float] = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
            "f1_macro": skm.f1_score(y_true, y_pred, labels=labels, average="macro",
                                     zero_division=0),
            "precision_macro": skm.precision_score(y_true, y_pred, labels=labels, average="macro",
                                                   zero_division=0),
            "recall_macro": skm.recall_score(y_true, y_pred, labels=labels, average="macro",
                                             zero_division=0),
        }
        proba_columns = [PROBA_PREFIX + c for c in labels]
        has_proba = all(c in frame.columns for c in proba_columns)
        if has_proba:
            proba = frame[proba_columns].to_numpy(dtype=float)
            proba = np.clip(proba, 0.0, 1.0)
            proba = proba / proba.sum(axis=1, keepdims=True)
            present = set(y_true)
            try:
                if len(labels) == 2:
                    result["roc_auc"] = skm.roc_auc_score(y_true == labels[1], proba[:, 1])
                elif present == set(labels):
                    result["roc_auc"] = skm.roc_auc_score(y_true, proba, multi_class="ovr",
                                                          labels=labels)
            except ValueError:
                pass
            result["log_loss"] = skm.log_loss(y_true, proba, labels=labels)
        metrics = {k: round(float(v), 6) for k, v in result.items()}
        matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
        return MetricResult(
            "classification", metrics, PRIMARY_METRIC["classification"], len(frame),
            quality_score(metrics, "classification", len(labels)), has_proba,
            {"labels": labels, "matrix": matrix.tolist()},
        )

    def _regression(self, frame: pd.DataFrame) -> MetricResult:
        from sklearn import metrics as skm

        y_true = self._labels.astype(float).to_numpy()
        y_pred = frame["prediction"].to_numpy(dtype=float)
        metrics = {
            "rmse": round(float(math.sqrt(skm.mean_squared_error(y_true, y_pred))), 6),
            "mae": round(float(skm.mean_absolute_error(y_true, y_pred)), 6),
            "r2": round(float(skm.r2_score(y_true, y_pred)), 6),
        }
        return MetricResult("regression", metrics, PRIMARY_METRIC["regression"], len(frame),
                            quality_score(metrics, "regression"))


def _few(values: Any, count: int = 5, width: int = 40) -> str:
    """Up to ``count`` names from the file for the coder's feedback, each clipped to ``width``
    characters, so a huge header cannot flood the feedback."""
    shown = [str(v) for v in list(values)[:count]]
    return repr([v if len(v) <= width else v[:width] + "..." for v in shown])


def _refused(exc: UntrustedFileError) -> PredictionError:
    return PredictionError(f"the predictions file at PREDICTIONS_PATH was refused: {exc.reason}; "
                           "write a regular CSV file there (no links, no special files)")


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in the truth (sklearn's definition, no warnings)."""
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in np.unique(y_true)]
    return float(np.mean(recalls))
