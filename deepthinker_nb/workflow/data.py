"""Host-side data: load, validate, profile and split a dataset before any kernel starts.

The split is the root of honest evaluation. The kernel gets ``train.csv`` (training rows with the
target) and ``test_features.csv`` (test rows without the target, plus a ``row_id``). The test
labels stay in host memory: they are never written to disk, so no kernel, mount or working
directory can contain them. A later process that needs them again (``reproduce``) re-derives them
with :func:`load_and_split` from the source file, the seed and the ratio in the manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepthinker_nb.config import DataConfig
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.report.manifest import file_sha256

MIN_ROWS = 20
ROW_ID = "row_id"
TRAIN_FILE = "train.csv"
TEST_FEATURES_FILE = "test_features.csv"
_CSV = (".csv", ".tsv", ".txt")
_JSON = (".json",)
_JSON_LINES = (".jsonl", ".ndjson")
_PARQUET = (".parquet", ".pq")


class DataError(DeepThinkerError, ValueError):
    """The dataset cannot be used; the message names the problem and what to do about it."""


def label_key(value: Any) -> str:
    """The canonical text of a class label, equal on both sides of a CSV round trip.

    ``1``, ``1.0`` and ``"1"`` are the same class once written to CSV and read back, so labels are
    compared by this key, and probability columns are named ``proba_<key>``.
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if math.isfinite(value) and float(value).is_integer() else str(value)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer() and text.strip().lstrip("+-").replace(
        ".", "", 1
    ).isdigit():
        return str(int(number))
    return text


# -- profile -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str
    kind: str
    """``numeric``, ``categorical`` or ``boolean``."""
    missing: int
    unique: int


@dataclass(frozen=True)
class DataProfile:
    """What the planner and coder may know about the data: computed from the TRAINING rows only."""

    n_rows: int
    n_train: int
    n_test: int
    target: str
    task_type: str
    columns: list[ColumnProfile]
    classes: dict[str, int] = field(default_factory=dict)
    """Training class counts (classification)."""
    target_stats: dict[str, float] = field(default_factory=dict)
    """Training target summary (regression)."""
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[ColumnProfile]:
        return [c for c in self.columns if c.name != self.target]

    @property
    def numeric_features(self) -> list[str]:
        return [c.name for c in self.features if c.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.features if c.kind != "numeric"]

    @property
    def missing_total(self) -> int:
        return sum(c.missing for c in self.features)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def imbalance(self) -> float:
        """Largest over smallest class count (1.0 = balanced; 0 for regression)."""
        if not self.classes:
            return 0.0
        return max(self.classes.values()) / max(1, min(self.classes.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows, "n_train": self.n_train, "n_test": self.n_test,
            "target": self.target, "task_type": self.task_type,
            "columns": [c.__dict__ for c in self.columns],
            "classes": self.classes, "target_stats": self.target_stats, "notes": self.notes,
        }

    def to_markdown(self) -> str:
        lines = [
            f"- rows: {self.n_rows} ({self.n_train} train / {self.n_test} held-out test)",
            f"- target: `{self.target}` ({self.task_type})",
            f"- features: {len(self.numeric_features)} numeric, "
            f"{len(self.categorical_features)} categorical; {self.missing_total} missing values",
        ]
        if self.classes:
            balance = ", ".join(f"`{k}`: {v}" for k, v in self.classes.items())
            lines.append(f"- class balance (train): {balance}")
        if self.target_stats:
            stats = ", ".join(f"{k} {v:.3g}" for k, v in self.target_stats.items())
            lines.append(f"- target (train): {stats}")
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines)


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def profile_frame(
    train: pd.DataFrame, target: str, task_type: str, n_test: int, notes: list[str] | None = None
) -> DataProfile:
    columns = [
        ColumnProfile(str(c), str(train[c].dtype), _kind(train[c]), int(train[c].isna().sum()),
                      int(train[c].nunique(dropna=True)))
        for c in train.columns
    ]
    classes: dict[str, int] = {}
    stats: dict[str, float] = {}
    if task_type == "classification":
        counts = train[target].map(label_key).value_counts()
        classes = {str(k): int(v) for k, v in sorted(counts.items())}
    else:
        y = train[target].astype(float)
        stats = {"mean": float(y.mean()), "std": float(y.std()), "min": float(y.min()),
                 "max": float(y.max())}
    return DataProfile(len(train) + n_test, len(train), n_test, target, task_type, columns,
                       classes, stats, list(notes or []))


# -- load and validate ---------------------------------------------------------------------------
def load_table(path: str | Path) -> pd.DataFrame:
    """Read CSV, JSON (records or lines) or Parquet, or raise a DataError that says what to do."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist; check the path (--data)")
    if path.is_dir():
        raise DataError(f"data path {str(path)!r} is a directory; give a CSV, JSON or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty; it needs a header and rows")
    suffix = path.suffix.lower()
    try:
        if suffix in _CSV:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        elif suffix in _JSON_LINES:
            frame = pd.read_json(path, lines=True)
        elif suffix in _JSON:
            frame = _read_json(path)
        elif suffix in _PARQUET:
            try:
                frame = pd.read_parquet(path)
            except ImportError:
                raise DataError(
                    "reading Parquet needs pyarrow: pip install 'deepthinker-nb[parquet]'")
        else:
            raise DataError(
                f"cannot read {path.name!r}: unknown file type {suffix or '(none)'!r}; "
                "use .csv, .tsv, .json, .jsonl or .parquet"
            )
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} has no columns; it needs a header and rows")
    except Exception as exc:  # parser errors come in many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot parse {str(path)!r} as {suffix.lstrip('.')}: {first}")
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise DataError(f"data file {str(path)!r} has no columns; it needs a header and rows")
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has a header but no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_json(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        records = json.loads(text)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DataError(f"{path.name!r}: a JSON array must hold one object per row")
        return pd.DataFrame.from_records(records)
    if stripped.startswith("{") and "\n{" in stripped:
        return pd.read_json(path, lines=True)
    return pd.read_json(path)


def _validate(frame: pd.DataFrame, config: DataConfig) -> tuple[pd.DataFrame, str, list[str]]:
    notes: list[str] = []
    target = config.target_column if config.target_column is not None else frame.columns[-1]
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} is not in the data; columns are: "
            f"{', '.join(map(repr, frame.columns[:20]))} (set --target / DataConfig.target_column)"
        )
    if ROW_ID in frame.columns and target != ROW_ID:
        raise DataError(f"the data has a column named {ROW_ID!r}, which the workflow uses for test "
                        "row ids; rename or drop it")
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"duplicate column names {dupes}; give every column a unique name")
    if frame.shape[1] < 2:
        raise DataError("the data has only the target column; it needs at least one feature")
    missing_target = int(frame[target].isna().sum())
    if missing_target == len(frame):
        raise DataError(f"target column {target!r} is empty in every row")
    if missing_target:
        frame = frame[frame[target].notna()].reset_index(drop=True)
        notes.append(f"dropped {missing_target} rows whose target is missing")
    if len(frame) < MIN_ROWS:
        raise DataError(
            f"only {len(frame)} usable rows; the workflow needs at least {MIN_ROWS} to hold out a "
            "test set and cross-validate"
        )
    if config.task_type == "regression":
        numeric = pd.to_numeric(frame[target], errors="coerce")
        bad = frame[target][numeric.isna()]
        if len(bad):
            examples = ", ".join(map(repr, bad.astype(str).unique()[:3]))
            raise DataError(
                f"regression target {target!r} is not numeric (e.g. {examples}); use "
                "--task classification or pick a numeric target"
            )
        if numeric.nunique() < 2:
            raise DataError(f"regression target {target!r} is constant; nothing to predict")
        frame = frame.assign(**{target: numeric.astype(float)})
    else:
        counts = frame[target].map(label_key).value_counts()
        if len(counts) < 2:
            raise DataError(
                f"classification target {target!r} has {len(counts)} class"
                f"{'' if len(counts) == 1 else 'es'}; it needs at least 2"
            )
        if len(counts) > max(20, len(frame) // 2):
            raise DataError(
                f"classification target {target!r} has {len(counts)} distinct values in "
                f"{len(frame)} rows; is it a regression target? (use --task regression)"
            )
        rare = counts[counts < 2]
        if len(rare):
            raise DataError(
                f"class{'es' if len(rare) > 1 else ''} {', '.join(map(repr, rare.index[:5]))} of "
                f"{target!r} {'have' if len(rare) > 1 else 'has'} fewer than 2 rows; a stratified "
                "split needs 2 per class (drop or merge rare classes)"
            )
        n_test = math.ceil(len(frame) * config.test_split_ratio)
        if n_test < len(counts) or len(frame) - n_test < len(counts):
            raise DataError(
                f"{len(frame)} rows at test_split_ratio {config.test_split_ratio} cannot hold "
                f"every one of the {len(counts)} classes on both sides; add rows or raise the ratio"
            )
    return frame, target, notes


# -- split ---------------------------------------------------------------------------------------
@dataclass
class SplitData:
    """The host's view of a split dataset. ``test_labels`` must never reach a kernel."""

    source: Path
    target: str
    task_type: str
    train: pd.DataFrame
    test_features: pd.DataFrame
    """Test features with a ``row_id`` column first."""
    test_labels: pd.Series = field(repr=False)
    """Indexed by ``row_id``; host memory only."""
    profile: DataProfile
    dataset_sha256: str
    seed: int
    test_split_ratio: float

    @property
    def classes(self) -> list[str]:
        return sorted(self.profile.classes) if self.task_type == "classification" else []

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.test_features.columns if c != ROW_ID]

    def write(self, data_dir: str | Path) -> tuple[Path, Path]:
        """Write ``train.csv`` and ``test_features.csv`` (and nothing else) into ``data_dir``."""
        return write_split_files(data_dir, self.train, self.test_features)


def write_split_files(
    data_dir: str | Path, train: pd.DataFrame, test_features: pd.DataFrame
) -> tuple[Path, Path]:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    train_path, test_path = data_dir / TRAIN_FILE, data_dir / TEST_FEATURES_FILE
    train.to_csv(train_path, index=False)
    test_features.to_csv(test_path, index=False)
    for path in (train_path, test_path):
        path.chmod(0o444)
    return train_path, test_path


@dataclass
class ValidatedData:
    """A loaded dataset that passed every check, not yet split."""

    source: Path
    frame: pd.DataFrame = field(repr=False)
    target: str
    notes: list[str]


def load_and_validate(config: DataConfig) -> ValidatedData:
    """Load ``config.data_path`` and check it; raises DataError. Cheap: no scikit-learn."""
    source = Path(config.data_path).expanduser().resolve()
    frame, target, notes = _validate(load_table(source), config)
    return ValidatedData(source, frame, target, notes)


def load_and_split(config: DataConfig, validated: ValidatedData | None = None) -> SplitData:
    """Load, validate, split (stratified for classification) and profile ``config.data_path``."""
    from sklearn.model_selection import train_test_split

    validated = validated or load_and_validate(config)
    source, frame, target, notes = (validated.source, validated.frame, validated.target,
                                    validated.notes)
    stratify = frame[target].map(label_key) if config.task_type == "classification" else None
    train_idx, test_idx = train_test_split(
        np.arange(len(frame)), test_size=config.test_split_ratio, random_state=config.random_seed,
        stratify=stratify,
    )
    train = frame.iloc[train_idx].reset_index(drop=True)
    test = frame.iloc[test_idx].reset_index(drop=True)
    row_ids = pd.RangeIndex(len(test), name=ROW_ID)
    test_features = test.drop(columns=[target])
    test_features.insert(0, ROW_ID, np.asarray(row_ids))
    labels = pd.Series(test[target].to_numpy(), index=row_ids, name=target)
    profile = profile_frame(train, target, config.task_type, len(test), notes)
    return SplitData(source, target, config.task_type, train, test_features, labels, profile,
                     file_sha256(source), config.random_seed, config.test_split_ratio)
