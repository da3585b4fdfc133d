"""What each column is: the rules the researcher runs in the kernel, and what the coder reads.

:func:`classify_columns` is written to stand alone (it imports what it needs itself): the
offline researcher puts its source into a research cell, so the kernel classifies the columns of
the training rows it sees, and the host can run the very same rules. Every column gets one role:

====================  =========================================================================
``numeric``           numbers: impute the median; trees take them as they are
``categorical``       at most :data:`LOW_CARDINALITY` distinct values: one-hot, or native
                      categories in histogram gradient boosting
``high_cardinality``  more distinct values: target encoding fitted inside the pipeline
``datetime``          dates (also dates stored as text, with the format found): calendar parts
                      and the days elapsed since the earliest training date
``text``              free text (several words per value, many distinct values): TF-IDF with a
                      bounded vocabulary
``identifier``        a distinct value in (nearly) every row, such as ``customer_id``: dropped
``constant``          one value or none: dropped
``leak``              predicts the target almost perfectly on its own (held-out half of the
                      rows), or its missing values do: dropped, it would not exist at
                      prediction time
====================  =========================================================================

:class:`ColumnPlan` groups a classification by what the coder does with each role; when the
research did not finish, :meth:`ColumnPlan.from_profile` guesses from the host's profile (no
dates or text there: such columns are target-encoded as high-cardinality categoricals).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

LOW_CARDINALITY = 30
"""Most distinct values of a column that is one-hot encoded (or a native HGB category)."""
ROLES = ("numeric", "categorical", "high_cardinality", "datetime", "text", "identifier",
         "constant", "leak")
DROPPED_ROLES = ("identifier", "constant", "leak")


def classify_columns(frame, target, task_type, seed=0, max_rows=50000, low_cardinality=30,
                     leak_score=0.98):
    """``{column: {"role", "why", "missing", "unique", ["format"], ["score"]}}`` for every
    column of ``frame`` but ``target``. Rows beyond ``max_rows`` are sampled (``seed``);
    ``missing`` is the share of missing values, ``unique`` the distinct values seen."""
    import re
    import warnings

    import numpy as np
    import pandas as pd

    date_formats = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d",
                    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y-%m", "ISO8601")
    id_name = re.compile(r"(^|[_\W])(id|uuid|guid|key)$|^id[_\W]", re.IGNORECASE)
    rng = np.random.default_rng(seed)
    rows = frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame
    y = rows[target]
    valid_y = y.notna().to_numpy()
    half = rng.random(len(rows)) < 0.5

    def held_out_score(codes):
        """How well ``codes`` (one int per row, -1 for missing) predict the target on the half
        of the rows they were not fitted on: balanced accuracy (classification) or R²."""
        codes = np.asarray(codes)[valid_y]
        codes = np.where(codes < 0, codes.max() + 1, codes)
        fit, test = half[valid_y], ~half[valid_y]
        if fit.sum() < 20 or test.sum() < 20:
            return 0.0
        groups = int(codes.max()) + 1
        if task_type == "classification":
            labels, classes = pd.factorize(y[valid_y].astype(str))
            if np.bincount(labels[test], minlength=len(classes)).min() < 10:
                return 0.0
            counts = np.zeros((groups, len(classes)))
            np.add.at(counts, (codes[fit], labels[fit]), 1)
            majority = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1),
                                np.bincount(labels[fit]).argmax())
            predicted, truth = majority[codes[test]], labels[test]
            return float(np.mean([(predicted[truth == c] == c).mean()
                                  for c in np.unique(truth)]))
        values = pd.to_numeric(y[valid_y], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(values)
        fit, test = fit & known, test & known
        if fit.sum() < 20 or test.sum() < 20:
            return 0.0
        sums = np.bincount(codes[fit], weights=values[fit], minlength=groups)
        sizes = np.bincount(codes[fit], minlength=groups)
        means = np.where(sizes > 0, sums / np.maximum(sizes, 1), values[fit].mean())
        residual = ((values[test] - means[codes[test]]) ** 2).sum()
        total = ((values[test] - values[test].mean()) ** 2).sum()
        return float(1 - residual / total) if total > 0 else 0.0

    def bins(values, numeric, unique):
        if numeric and unique > 50:
            ranked = pd.qcut(values, q=50, labels=False, duplicates="drop")
            return ranked.fillna(-1).astype(int).to_numpy()
        return pd.factorize(values, use_na_sentinel=True)[0]

    def leak(values, numeric, unique):
        """(score, why) when the column stands in for the target, else None."""
        if values.isna().any():
            score = held_out_score(values.isna().astype(int).to_numpy())
            if score >= leak_score:
                return score, "whether it is missing gives the target away"
        if task_type == "regression" and numeric:
            x = pd.to_numeric(values, errors="coerce")
            target_values = pd.to_numeric(y, errors="coerce")
            both = x.notna() & target_values.notna()
            if both.sum() >= 20 and x[both].nunique() > 1:
                a, b = x[both], target_values[both]
                corr = max(abs(a.corr(b)), abs(a.rank().corr(b.rank())))  # Pearson, Spearman
                if corr >= max(leak_score, 0.99):
                    return float(corr), f"correlates {corr:.3f} with the target"
            return None
        score = held_out_score(bins(values, numeric, unique))
        if score >= leak_score:
            metric = "balanced accuracy" if task_type == "classification" else "R²"
            return score, f"predicts the target alone ({metric} {score:.3f} on held-out rows)"
        return None

    def date_format(present):
        sample = present.astype(str).head(200)
        if sample.str.fullmatch(r"[+-]?\d+(\.\d*)?").mean() > 0.5:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fmt in date_formats:
                try:
                    parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
                except (ValueError, TypeError):
                    continue
                if parsed.notna().mean() >= 0.95:
                    return fmt
        return None

    result = {}
    for name in frame.columns:
        if name == target:
            continue
        values = rows[name]
        present = values.dropna()
        unique = int(present.nunique())
        info = {"missing": round(float(values.isna().mean()), 4), "unique": unique}
        numeric = (pd.api.types.is_numeric_dtype(values)
                   and not pd.api.types.is_bool_dtype(values))
        role, why = None, ""
        if unique == 0 or (unique == 1 and not info["missing"]):
            role, why = "constant", "a single value" if unique else "no values"
        elif pd.api.types.is_datetime64_any_dtype(values):
            role, why = "datetime", "a date and time type"
        elif numeric:
            integral = pd.api.types.is_integer_dtype(values) or bool(
                (present == present.round()).all())
            if integral and unique >= 0.95 * len(present):
                span = float(present.max()) - float(present.min()) + 1
                if id_name.search(str(name)) or span <= 1.5 * frame[name].nunique():
                    role, why = "identifier", "a distinct whole number in every row"
            role = role or "numeric"
        elif pd.api.types.is_bool_dtype(values):
            role = "categorical"
        else:
            text = present.astype(str)
            fmt = date_format(text)
            words = text.head(2000).str.split().str.len().mean()
            if fmt is not None:
                role, why = "datetime", f"dates stored as text ({fmt})"
                info["format"] = fmt
            elif words >= 3 and unique > max(low_cardinality, 0.01 * len(present)):
                role, why = "text", f"free text ({words:.1f} words per value)"
            elif unique >= 0.95 * len(present):
                role, why = "identifier", "a distinct value in every row"
            elif unique <= low_cardinality:
                role = "categorical"
            else:
                role, why = "high_cardinality", f"{unique} distinct values"
        if role not in ("constant", "identifier"):
            found = leak(values, numeric, unique)
            if found is not None:
                info["score"] = round(found[0], 4)
                role, why = "leak", found[1]
        info["role"] = role
        info["why"] = why or {"numeric": "numbers",
                              "categorical": f"{unique} categories"}.get(role, role)
        result[str(name)] = info
    return result


CLASSIFY_SOURCE = inspect.getsource(classify_columns)
"""The function's source, for the research cell that runs it in the kernel."""


@dataclass(frozen=True)
class ColumnPlan:
    """The feature columns grouped by what the coder does with them."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    high_cardinality: tuple[str, ...] = ()
    dates: dict[str, str | None] = field(default_factory=dict)
    """Column -> the format of dates stored as text (None: parse without one)."""
    text: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)
    """Column -> why it is left out."""
    source: str = "research"
    """``research`` (the kernel's classification) or ``profile`` (the host's guess)."""

    @classmethod
    def from_roles(cls, roles: dict[str, dict[str, Any]], source: str = "research") -> ColumnPlan:
        groups: dict[str, list[str]] = {r: [] for r in ROLES}
        dates: dict[str, str | None] = {}
        dropped: dict[str, str] = {}
        for name, info in roles.items():
            role = info.get("role", "numeric")
            if role in DROPPED_ROLES:
                dropped[name] = f"{role.replace('_', ' ')}: {info.get('why') or role}"
            elif role == "datetime":
                fmt = info.get("format")
                dates[name] = None if fmt in (None, "ISO8601") else str(fmt)
            elif role in groups:
                groups[role].append(name)
            else:
                groups["high_cardinality"].append(name)
        return cls(tuple(groups["numeric"]), tuple(groups["categorical"]),
                   tuple(groups["high_cardinality"]), dates, tuple(groups["text"]), dropped,
                   source)

    @classmethod
    def from_profile(cls, profile: Any) -> ColumnPlan:
        """A guess from the host's profile (dtypes and distinct counts of the training rows)."""
        roles: dict[str, dict[str, Any]] = {}
        n = max(1, profile.n_train)
        for column in profile.features:
            if column.unique <= 1:
                role, why = "constant", "a single value"
            elif column.kind == "numeric":
                integral = "int" in column.dtype
                role, why = "numeric", ""
                if integral and column.unique >= 0.95 * (n - column.missing):
                    role, why = "identifier", "a distinct whole number in every row"
            elif column.unique >= 0.95 * (n - column.missing):
                role, why = "identifier", "a distinct value in every row"
            elif column.unique <= LOW_CARDINALITY:
                role, why = "categorical", ""
            else:
                role, why = "high_cardinality", f"{column.unique} distinct values"
            roles[column.name] = {"role": role, "why": why}
        return cls.from_roles(roles, source="profile")

    @property
    def features(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.high_cardinality, *self.dates,
                *self.text)

    def describe(self) -> list[str]:
        """One line per kind of column, for plans and summaries."""
        def names(items: Any, count: int = 6) -> str:
            items = list(items)
            more = f" and {len(items) - count} more" if len(items) > count else ""
            return ", ".join(f"`{c}`" for c in items[:count]) + more

        lines = []
        if self.numeric:
            lines.append(f"{len(self.numeric)} numeric: {names(self.numeric)}")
        if self.categorical:
            lines.append(f"{len(self.categorical)} categorical: {names(self.categorical)} "
                         "(one-hot / native categories)")
        if self.high_cardinality:
            lines.append(f"{len(self.high_cardinality)} high-cardinality categorical: "
                         f"{names(self.high_cardinality)} (target encoding inside the "
                         "pipeline)")
        if self.dates:
            lines.append(f"{len(self.dates)} date: {names(self.dates)} (calendar parts and "
                         "days elapsed)")
        if self.text:
            lines.append(f"{len(self.text)} free text: {names(self.text)} (TF-IDF, bounded "
                         "vocabulary)")
        lines += [f"dropped `{name}`: {why}" for name, why in self.dropped.items()]
        return lines


__all__ = ["CLASSIFY_SOURCE", "DROPPED_ROLES", "LOW_CARDINALITY", "ROLES", "ColumnPlan",
           "classify_columns"]
