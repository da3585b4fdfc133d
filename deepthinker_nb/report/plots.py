"""The run report's plots: matplotlib (Agg, no display) drawn from the manifest's aggregates,
returned as inline ``<img>`` tags with base64 PNG data, so the report is one file that loads
nothing from anywhere."""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Callable, Sequence
from typing import Any

_WIDTH, _HEIGHT = 5.0, 3.2
_BEST = "#cf222e"
_LINE = "#0969da"


_NO_MATH = {"text.parse_math": False}
"""Labels are the data's own (column names, classes): a ``$`` is a dollar, not TeX."""


def _figure(width: float = _WIDTH, height: float = _HEIGHT) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, thread-safe

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _plot(draw: Callable[..., str]) -> Callable[..., str]:
    """Draw with TeX parsing off: a label's ``$`` (any column name) never raises."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        import matplotlib

        with matplotlib.rc_context(_NO_MATH):
            return draw(*args, **kwargs)

    return wrapper


def _img(fig: Any, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="plot" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}">')


@_plot
def score_plot(indices: Sequence[int], scores: Sequence[float], best: int | None,
               threshold: float | None) -> str:
    """Quality score (0..10) per iteration, the best starred, the stopping threshold dashed."""
    fig, ax = _figure(4.4, 2.8)
    ax.plot(list(indices), list(scores), "o-", color=_LINE, label="score")
    if best is not None and best in indices:
        ax.plot([best], [scores[list(indices).index(best)]], "*", color=_BEST, markersize=15,
                label=f"best (iteration {best})")
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1,
                   label=f"threshold {threshold:g}")
    ax.set(xlabel="iteration", ylabel="quality score", ylim=(0, 10.3),
           xticks=list(indices))
    ax.legend(loc="lower right", fontsize=8)
    return _img(fig, "quality score per iteration")


@_plot
def roc_plot(fpr: Sequence[float], tpr: Sequence[float], auc: float | None) -> str:
    fig, ax = _figure(3.6, 3.4)
    ax.plot(fpr, tpr, color=_LINE, label=f"model (AUC {auc:.3f})" if auc is not None else "model")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
           ylim=(0, 1.02), title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    return _img(fig, "ROC curve")


@_plot
def pr_plot(recall: Sequence[float], precision: Sequence[float], ap: float | None,
            prevalence: float | None) -> str:
    fig, ax = _figure(3.6, 3.4)
    ax.plot(recall, precision, color=_LINE, drawstyle="steps-post",
            label=f"model (AP {ap:.3f})" if ap is not None else "model")
    if prevalence is not None:
        ax.axhline(prevalence, color="grey", linestyle="--", linewidth=1,
                   label=f"chance ({prevalence:.2f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title="precision-recall")
    ax.legend(loc="lower left", fontsize=8)
    return _img(fig, "precision-recall curve")


@_plot
def confusion_plot(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    import numpy as np

    values = np.asarray(matrix, dtype=float)
    size = min(7.0, 2.4 + 0.45 * len(labels))
    fig, ax = _figure(size, size * 0.85)
    ax.imshow(values, cmap="Blues")
    shown = [str(label)[:18] for label in labels]
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=shown,
           yticklabels=shown, xlabel="predicted", ylabel="actual")
    if len(labels) <= 12:
        top = values.max() if values.size else 0
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{int(values[i, j])}", ha="center", va="center",
                        color="white" if top and values[i, j] > top / 2 else "black")
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 3 else 0)
    return _img(fig, "confusion matrix")


@_plot
def importance_plot(features: Sequence[tuple[str, float]]) -> str:
    names = [str(name)[:40] for name, _ in features][::-1]
    values = [float(value) for _, value in features][::-1]
    fig, ax = _figure(6.0, max(2.0, 0.24 * len(names) + 0.8))
    ax.barh(range(len(names)), values, color=_LINE)
    ax.set(yticks=range(len(names)), yticklabels=names, xlabel="importance")
    ax.tick_params(axis="y", labelsize=8)
    return _img(fig, "feature importance")


@_plot
def predicted_vs_actual_plot(bins: Sequence[dict[str, Any]]) -> str:
    predicted = [b["predicted"] for b in bins]
    actual = [b["actual"] for b in bins]
    fig, ax = _figure(3.6, 3.4)
    low, high = min(predicted + actual), max(predicted + actual)
    ax.plot([low, high], [low, high], "--", color="grey", linewidth=1, label="perfect")
    ax.plot(predicted, actual, "o", color=_LINE, label="bin means")
    ax.set(xlabel="predicted (bin mean)", ylabel="actual (bin mean)",
           title="predicted vs actual")
    ax.legend(loc="upper left", fontsize=8)
    return _img(fig, "predicted versus actual, binned")


@_plot
def residual_plot(bins: Sequence[dict[str, Any]]) -> str:
    predicted = [b["predicted"] for b in bins]
    fig, ax = _figure(3.6, 3.4)
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    ax.fill_between(predicted, [b["residual_q25"] for b in bins],
                    [b["residual_q75"] for b in bins], color=_LINE, alpha=0.25,
                    label="25-75% of residuals")
    ax.plot(predicted, [b["residual_median"] for b in bins], "o-", color=_LINE,
            label="median residual")
    ax.set(xlabel="predicted (bin mean)", ylabel="actual - predicted", title="residuals")
    ax.legend(loc="best", fontsize=8)
    return _img(fig, "residuals by predicted value, binned")
