"""A run's ``manifest.json``: one dict, changed and written under one lock.

The simulation and the re-execution of run.ipynb run in two threads and both record their
outcome in the manifest, so every change and every write holds the lock: a write never
serialises a dict another thread is changing, and the file on disk always holds the latest
state. Each write is atomic (temp file + ``os.replace``, see
:func:`deepthinker_nb.report.write_manifest`).
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.report.manifest import (
    manifest_path,
    package_versions,
    read_manifest,
    write_manifest,
)
from deepthinker_nb.workflow.councils.base import Plan, ResearchSummary
from deepthinker_nb.workflow.data import SplitData
from deepthinker_nb.workflow.result import IterationRecord, WorkflowResult


class RunManifest:
    """The manifest of one run in ``run_dir``.

    Values handed to :meth:`update` or :meth:`write` belong to the manifest afterwards: pass
    fresh values (``record.to_dict()``, ``dict(metrics)``), not objects the caller goes on
    changing.
    """

    def __init__(self, run_dir: str | Path, fields: Mapping[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self._fields: dict[str, Any] = dict(fields or {})
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return manifest_path(self.run_dir)

    def update(self, **fields: Any) -> None:
        """Set top-level keys."""
        with self._lock:
            self._fields.update(fields)

    def update_section(self, key: str, **fields: Any) -> None:
        """Set keys inside the dict at ``key`` (created when missing)."""
        with self._lock:
            self._fields.setdefault(key, {}).update(fields)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the whole manifest as it stands."""
        with self._lock:
            return copy.deepcopy(self._fields)

    def write(self, **fields: Any) -> Path:
        """Set ``fields``, then write the manifest atomically; returns its path."""
        with self._lock:
            self._fields.update(fields)
            return write_manifest(self.run_dir, self._fields)


def initial_fields(
    *,
    run_id: str,
    objective: str,
    started: str,
    split: SplitData,
    data_config: DataConfig,
    iteration_config: IterationConfig,
    councils: dict[str, str],
    metric_weight: float,
    scan: bool,
    backend: str,
    kernel: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    """What the manifest says when a run starts (status ``incomplete``): the configuration,
    the dataset (not its test labels), seeds, councils, backend and package versions, and how
    ``reproduce`` re-runs run.ipynb (``timeout``: the per-cell limit the run's cells had)."""
    config = asdict(data_config)
    config["data_path"] = str(split.source)
    return {
        "run_id": run_id,
        "status": "incomplete",
        "started": started,
        "objective": objective,
        "data_config": config,
        "iteration_config": asdict(iteration_config),
        "seeds": {"split": split.seed, "model": data_config.random_seed},
        "dataset": {
            "path": str(split.source), "sha256": split.dataset_sha256,
            "target": split.target, "task_type": split.task_type,
            "n_train": split.profile.n_train, "n_test": split.profile.n_test,
            "profile": split.profile.to_dict(),
            "files": {"train": "data/train.csv", "test_features": "data/test_features.csv"},
            "test_labels": "held in host memory only; re-derived from the source file, "
                           "seed and test_split_ratio when needed",
        },
        "councils": councils,
        "metric_weight": metric_weight,
        "scan": scan,
        "backend": backend,
        "kernel": kernel,
        "packages": package_versions(),
        "iterations": [],
        "best_iteration": None,
        "metrics": {},
        "reproduce": {
            # Paths relative to the run dir: a moved or unzipped run reproduces.
            "backend": backend, "data_dirs": ["data"],
            "timeout": timeout,
            "prepare_fn": "deepthinker_nb.workflow.reproduce:prepare",
            "metrics_fn": "deepthinker_nb.workflow.reproduce:host_metrics",
            # The re-run's kernel works where PREDICTIONS_PATH points (and the scan gate
            # lets it write there, nowhere else).
            "workdir": "work/run",
        },
    }


RESUMABLE = ("incomplete", "failed")


def read_resumable_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run that can be resumed; a one-line ``ConfigError`` otherwise."""
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        raise ConfigError(f"{run_dir} holds no run (no manifest.json): nothing to resume; "
                          "start one with `deepthinker-nb run`") from None
    except ValueError as exc:
        raise ConfigError(f"{run_dir}/manifest.json is not readable JSON ({exc}): this run "
                          "cannot be resumed") from None
    status = manifest.get("status")
    if status not in RESUMABLE:
        raise ConfigError(f"run {manifest.get('run_id')} is {status}: only an incomplete or "
                          "failed run resumes (reproduce it with `deepthinker-nb reproduce`)")
    if "dataset" not in manifest or "data_config" not in manifest:
        raise ConfigError(f"run {manifest.get('run_id')} stopped before its data was split: "
                          "nothing to resume; start it again with `deepthinker-nb run`")
    return manifest


def restore_records(result: WorkflowResult, manifest: Mapping[str, Any], run_dir: Path) -> None:
    """Put what a run finished back into ``result``: plan, research summary, iterations."""
    if manifest.get("plan"):
        result.plan = _record(Plan, manifest["plan"])
    summary = (manifest.get("research") or {}).get("summary")
    if summary:
        result.research = _record(ResearchSummary, summary)
    result.iterations = [_iteration(dict(d), run_dir) for d in manifest.get("iterations") or []]


def _iteration(data: dict[str, Any], run_dir: Path) -> IterationRecord:
    record = IterationRecord.from_dict(data, run_dir)
    if data.get("candidates"):  # a council of coders' iteration keeps its candidates
        from deepthinker_nb.workflow.candidates import CouncilIterationRecord

        return CouncilIterationRecord(**vars(record), candidates=list(data["candidates"]))
    return record


def _record(cls: type, data: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def discard_unfinished(run_dir: Path, first: int) -> None:
    """Remove what iterations ``first`` and later left half done (their notebooks and work
    dirs, which kernels wrote: links are removed, never followed)."""
    for notebook in (run_dir / "iterations").glob("*.ipynb"):
        if notebook.stem.isdigit() and int(notebook.stem) >= first:
            notebook.unlink()
    for work in (run_dir / "work").iterdir() if (run_dir / "work").is_dir() else ():
        if work.name.isdigit() and int(work.name) >= first:
            if work.is_symlink() or not work.is_dir():
                work.unlink()
            else:
                shutil.rmtree(work)


__all__ = ["RunManifest", "discard_unfinished", "initial_fields", "read_resumable_manifest",
           "restore_records"]
