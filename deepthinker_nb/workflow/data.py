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
from dataclasses import dataclass, field, replace
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


def label_keys(values: pd.Series) -> pd.Series:
    """:func:`label_key` of every value, computed once per distinct value (a million rows
    hold a handful of labels)."""
    keys = {value: label_key(value) for value in values.dropna().unique()}
    return values.map(keys)


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
        counts = label_keys(train[target]).value_counts()
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
        frame[target] = numeric.astype(float)  # in place: no copy of the other columns
    else:
        counts = label_keys(frame[target]).value_counts()
        series = frame[target]
        if (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
                and len(counts) > MAX_NUMERIC_CLASSES):
            examples = ", ".join(counts.index[:3])
            integral = bool((series.dropna() % 1 == 0).all())
            raise DataError(
                f"classification target {target!r} holds {len(counts)} distinct "
                f"{'whole numbers' if integral else 'numbers'} (e.g. {examples}); is it a "
                "regression target? (use --task regression; class labels that are numbers "
                f"may have at most {MAX_NUMERIC_CLASSES} values)"
            )
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
    write_csv(train, train_path)
    write_csv(test_features, test_path)
    for path in (train_path, test_path):
        path.chmod(0o444)
    return train_path, test_path


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as CSV without its index: with pyarrow's writer when it is installed and every
    column is a number, a boolean or text (ten times faster than pandas on a million rows, and
    read back to the same values), else with pandas."""
    if _arrow_writable(frame):
        try:
            import pyarrow as pa
            import pyarrow.csv as pa_csv

            pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))
            return
        except Exception:  # a column pyarrow cannot convert after all: pandas writes it
            path.unlink(missing_ok=True)
    frame.to_csv(path, index=False)


def _arrow_writable(frame: pd.DataFrame) -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    for dtype in frame.dtypes:
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
                or pd.api.types.is_string_dtype(dtype)):
            return False
    return True


@dataclass
class ValidatedData:
    """A loaded dataset that passed every check, not yet split. :func:`load_and_split`
    consumes it: the frame moves into the split (``frame`` is None afterwards), so the host
    never holds the dataset twice."""

    source: Path
    frame: pd.DataFrame | None = field(repr=False)
    target: str
    notes: list[str]
    task_type: str = "classification"
    target_given: bool = True
    """Whether the target column was named (else it is the last column)."""
    task_inferred: str | None = None
    """Why the task is what it is, when it was inferred from the target (else None)."""
    memory_bytes: int = 0
    """The frame's size in memory (text included)."""
    n_rows: int = 0
    n_columns: int = 0

    def choice(self) -> dict[str, Any]:
        """The target and the task, and whether they were given or chosen (for the manifest
        and the announcement)."""
        return {"target": self.target, "target_given": self.target_given,
                "task_type": self.task_type, "task_inferred": self.task_inferred}

    def announcement(self) -> str:
        """One line: which target and task the run uses, and how to choose others."""
        target = (f"target `{self.target}`" if self.target_given
                  else f"target `{self.target}` (the last column; --target COL picks another)")
        task = (f"task {self.task_type} ({self.task_inferred}; --task overrides)"
                if self.task_inferred else f"task {self.task_type}")
        return f"{target}, {task}"


MAX_NUMERIC_CLASSES = 20
"""A numeric target with more distinct values is a regression target."""


def infer_task(target: pd.Series) -> tuple[str, str]:
    """(task, why) for a target column: numbers with more than :data:`MAX_NUMERIC_CLASSES`
    distinct values are a regression target, anything else classes."""
    values = target.dropna()
    distinct = int(values.nunique())
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and (
            distinct > MAX_NUMERIC_CLASSES):
        return "regression", f"inferred: {distinct} distinct numbers"
    return "classification", f"inferred: {distinct} distinct values"


def load_and_validate(config: DataConfig, *, infer: bool = False) -> ValidatedData:
    """Load ``config.data_path`` and check it; raises DataError. Cheap: no scikit-learn.
    ``infer``: the task comes from the target column (:func:`infer_task`), not from
    ``config.task_type``."""
    source = Path(config.data_path).expanduser().resolve()
    frame = load_table(source)
    why = None
    if infer:
        target = config.target_column if config.target_column is not None else frame.columns[-1]
        if target in frame.columns:
            task, why = infer_task(frame[target])
            config = replace(config, task_type=task)
    frame, target, notes = _validate(frame, config)
    return ValidatedData(source, frame, target, notes, config.task_type,
                         config.target_column is not None, why,
                         int(frame.memory_usage(deep=True).sum()), len(frame), frame.shape[1])


def load_and_split(config: DataConfig, validated: ValidatedData | None = None) -> SplitData:
    """Load, validate, split (stratified for classification) and profile ``config.data_path``.

    ``validated`` is consumed: its frame is split column by column and released, so at no
    point does the host hold two copies of the data. Its task (inferred or given) wins over
    ``config.task_type``.
    """
    from sklearn.model_selection import train_test_split

    validated = validated or load_and_validate(config)
    source, frame, target, notes = (validated.source, validated.frame, validated.target,
                                    validated.notes)
    if frame is None:
        raise DataError("this dataset was split already; load it again")
    validated.frame = None
    task_type = validated.task_type
    stratify = label_keys(frame[target]) if task_type == "classification" else None
    train_idx, test_idx = train_test_split(
        np.arange(len(frame)), test_size=config.test_split_ratio, random_state=config.random_seed,
        stratify=stratify,
    )
    del stratify
    row_ids = pd.RangeIndex(len(test_idx), name=ROW_ID)
    train_columns: dict[str, Any] = {}
    test_columns: dict[str, Any] = {ROW_ID: np.asarray(row_ids)}
    labels = None
    for name in list(frame.columns):
        column = frame.pop(name)
        train_columns[name] = column.take(train_idx).reset_index(drop=True)
        if name == target:
            labels = pd.Series(column.take(test_idx).to_numpy(), index=row_ids, name=target)
        else:
            test_columns[name] = column.take(test_idx).reset_index(drop=True)
        del column
    del frame
    # copy=False: one block per column, no consolidation (which would copy every column).
    train = pd.DataFrame(train_columns, copy=False)
    test_features = pd.DataFrame(test_columns, copy=False)
    del train_columns, test_columns
    assert labels is not None
    profile = profile_frame(train, target, task_type, len(test_idx), notes)
    return SplitData(source, target, task_type, train, test_features, labels, profile,
                     file_sha256(source), config.random_seed, config.test_split_ratio)


KERNEL_MEMORY = {"address_space": (800 * 1024**2, 8), "resident": (300 * 1024**2, 4)}
"""(bytes before any data, times the training rows' size in memory) a kernel needs, by the
kind of its memory limit. An address-space limit (RLIMIT_AS, local kernels) counts what the
CSV parser and the allocator reserve, not only what they use: reading 800,000 rows of 30
columns (200 MiB as a frame) and fitting boosting on them peaks at 2.4 GiB of address space and
0.9 GiB resident, from 0.6 and 0.2 GiB after the imports."""


def kernel_memory_needed(validated: ValidatedData, test_split_ratio: float,
                         kind: str = "address_space") -> int:
    """Bytes a kernel needs to load and model the training rows of ``validated``, roughly,
    under a memory limit of ``kind`` (``address_space`` or ``resident``)."""
    base, factor = KERNEL_MEMORY.get(kind, KERNEL_MEMORY["address_space"])
    train = validated.memory_bytes * (1.0 - test_split_ratio)
    return int(base + factor * train)


def check_kernel_memory(validated: ValidatedData, test_split_ratio: float,
                        limit: int | None, kind: str = "address_space") -> None:
    """Raise a DataError that says what to do when the training rows cannot fit in a kernel
    with a memory limit of ``limit`` bytes of ``kind`` (None: no limit)."""
    if limit is None:
        return
    needed = kernel_memory_needed(validated, test_split_ratio, kind)
    if needed <= limit:
        return
    train = validated.memory_bytes * (1.0 - test_split_ratio)
    raise DataError(
        f"the training rows take {_gib(train)} in memory ({validated.n_rows} rows x "
        f"{validated.n_columns} columns); reading and modelling them in a kernel needs about "
        f"{_gib(needed)}, more than the kernel's memory limit of {_gib(limit)}. Give the "
        "kernel more memory (LocalConfig(limits=ResourceLimits(memory=...)), "
        "DockerConfig(memory_limit=...)) or run on a sample of the rows"
    )


def _gib(size: float) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"
