"""How much work an iteration does, sized to the data and to the time a cell has.

The planner sizes the work to the data (:meth:`Sizing.for_data`): model selection on a sample of
large data, few cross-validation folds, forests that draw a bounded number of rows per tree,
boosting that stops early, TF-IDF vocabularies that keep the dense feature matrix small. The
coder fits it to the per-cell time limit (:meth:`Sizing.within`) and, after a cell timed out or
the kernel died, makes the next attempt cheaper (:meth:`Sizing.cheaper`).

The cost model is rough on purpose: seconds per million (row x feature) cells for each model
family, measured on the 2-CPU development machine (``benchmarks/bench_real_data.py``), with a
safety margin; it only has to keep a cell well inside its limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

SELECTION_ROWS = 30_000
"""Model selection (cross-validation, search) on at most this many rows by default."""
TREE_ROWS = 10_000
"""Rows each tree of a random forest draws on larger data."""
EARLY_STOPPING_ROWS = 10_000
"""Boosting stops early on a validation split from this many rows on (as scikit-learn's
"auto" does)."""
DENSE_CELLS = 20_000_000
"""TF-IDF terms of a text column for trees (at most 100: they are dense there) are bounded so
that rows x terms stays below this."""
MIN_ROWS = 500

# Seconds per million (row x feature) cells of one fit, by model family, measured on the
# development machine under load (a forest's cells count the rows its trees draw).
_SECONDS_PER_MCELL = {"linear": 0.7, "random_forest": 1.0, "gradient_boosting": 1.3,
                      "ensemble": 3.0}
_FIT_SHARE = 0.5
"""Share of a cell's time limit the heaviest cell is sized to use."""


@dataclass(frozen=True)
class Sizing:
    """The knobs of an iteration's cost. ``None`` row counts mean every row."""

    rows: int
    """Training rows."""
    features: int
    """Columns after encoding, roughly (text terms and one-hot columns included)."""
    cv_rows: int | None = None
    cv_folds: int = 3
    tree_rows: int | None = None
    fit_rows: int | None = None
    """The final model on at most this many rows (after the kernel ran out of memory, or when
    even one fit on every row would not fit the cell's time)."""
    text_vocabulary: int = 100
    boosting_rounds: int = 100
    early_stopping: bool = False
    n_jobs: int = 1

    @classmethod
    def for_data(cls, rows: int, features: int, text_columns: int = 0) -> Sizing:
        """The default for ``rows`` training rows of ``features`` feature columns."""
        vocabulary = int(max(20, min(100, DENSE_CELLS / max(1, rows))))
        large = rows >= EARLY_STOPPING_ROWS
        width = features + text_columns * vocabulary
        return cls(rows, width,
                   cv_rows=SELECTION_ROWS if rows > SELECTION_ROWS else None,
                   cv_folds=3,
                   tree_rows=TREE_ROWS if rows > TREE_ROWS else None,
                   text_vocabulary=vocabulary,
                   boosting_rounds=300 if large else 100,
                   early_stopping=large)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, default: Sizing) -> Sizing:
        """A plan's sizing (its known keys; others are ignored), over ``default``."""
        if not isinstance(data, dict):
            return default
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key == "early_stopping":
                values[key] = bool(value)
            elif value is None and key in ("cv_rows", "tree_rows", "fit_rows"):
                values[key] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                values[key] = int(value)
        return replace(default, **values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def selection_rows(self) -> int:
        return min(self.rows, self.cv_rows or self.rows)

    def estimate(self, family: str, candidates: int = 1) -> tuple[float, float]:
        """Rough seconds of the cross-validation cell (``cv_folds`` fits on part of the
        selection rows, for each of ``candidates`` settings) and of the final fit of
        ``family``."""
        per_cell = _SECONDS_PER_MCELL.get(family, 3.0) * self.features / 1e6
        rows = self.fit_rows or self.rows
        if family == "random_forest":
            rows = min(rows, self.tree_rows or rows)
        cv_rows = min(self.selection_rows, rows)
        cv = candidates * (self.cv_folds - 1) * cv_rows
        return per_cell * cv, per_cell * rows

    def within(self, seconds: float | None, family: str, candidates: int = 1) -> Sizing:
        """This sizing with fewer rows for model selection (and, if need be, for the final
        fit) until the heaviest cell of ``family`` should take at most half of ``seconds``."""
        if seconds is None:
            return self
        sizing, allowed = self, _FIT_SHARE * seconds
        for _ in range(16):
            cv, fit = sizing.estimate(family, candidates)
            if max(cv, fit) <= allowed:
                break
            if cv > allowed and sizing.selection_rows > MIN_ROWS:
                sizing = sizing._scaled(2)
            elif fit > allowed and min(sizing.rows, sizing.fit_rows or sizing.rows) > MIN_ROWS:
                sizing = replace(sizing, fit_rows=max(MIN_ROWS, (sizing.fit_rows or sizing.rows)
                                                      // 2))
            else:
                break
        return sizing

    def cheaper(self, times: int, died: bool = False) -> Sizing:
        """The sizing after ``times`` cells timed out or kernels died (``died``: the last one
        ran out of memory, so the final fit gets fewer rows too): a quarter of the rows for each,
        two folds, a smaller vocabulary and fewer boosting rounds."""
        if times <= 0:
            return self
        sizing = replace(self, cv_folds=2)._scaled(4 ** times, fit_too=died)
        return replace(sizing,
                       text_vocabulary=max(20, self.text_vocabulary // 2 ** times),
                       boosting_rounds=max(50, self.boosting_rounds // 2 ** times),
                       early_stopping=True)

    def _scaled(self, factor: int, fit_too: bool = False) -> Sizing:
        cv_rows = max(MIN_ROWS, self.selection_rows // factor)
        tree_rows = max(MIN_ROWS, min(self.rows, self.tree_rows or self.rows) // factor)
        fit_rows = (max(MIN_ROWS, (self.fit_rows or self.rows) // factor) if fit_too
                    else self.fit_rows)
        return replace(self, cv_rows=cv_rows if cv_rows < self.rows else None,
                       tree_rows=tree_rows if tree_rows < self.rows else None,
                       fit_rows=fit_rows if fit_rows and fit_rows < self.rows else None)

    def describe(self) -> str:
        parts = [f"model selection on {self.selection_rows:,} of {self.rows:,} rows with "
                 f"{self.cv_folds} folds"]
        if self.tree_rows:
            parts.append(f"forests draw {self.tree_rows:,} rows per tree")
        if self.early_stopping:
            parts.append("boosting stops early on a 10% validation split")
        parts.append(f"at most {self.text_vocabulary} TF-IDF terms per text column for trees")
        fitted = f"{self.fit_rows:,} of the" if self.fit_rows else "all"
        parts.append(f"the final model fits {fitted} training rows")
        return "; ".join(parts)


__all__ = ["SELECTION_ROWS", "TREE_ROWS", "Sizing"]
