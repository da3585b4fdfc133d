"""The workflow's hooks for ``deepthinker_nb.reproduce``: labels re-derived on the host.

The test labels were never stored: they are re-derived from the source dataset, the seed and the
split ratio in the manifest, after checking that the dataset's SHA-256 is unchanged. The manifest
names :func:`prepare` and :func:`host_metrics` (``reproduce.prepare_fn``, ``metrics_fn``), so
``deepthinker_nb.reproduce`` and its CLI use them without knowing about the workflow. The
dataset is found where the run read it, or where the user says it is now (``--data``): a run
copied to another machine names its dataset by hash, not by a path that must exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepthinker_nb.config import DataConfig
from deepthinker_nb.notebook.execute import NotebookRun
from deepthinker_nb.report.export import bundled_dataset
from deepthinker_nb.report.manifest import file_sha256, read_manifest
from deepthinker_nb.untrusted import unlink_untrusted
from deepthinker_nb.workflow.data import DataError, load_and_split
from deepthinker_nb.workflow.metrics import MetricComputer, PredictionError

PREPARE_FN = "deepthinker_nb.workflow.reproduce:prepare"
METRICS_FN = "deepthinker_nb.workflow.reproduce:host_metrics"
RUN_PREDICTIONS = Path("work") / "run" / "predictions.csv"


def dataset_for(run_dir: Path, dataset: str | os.PathLike[str] | None = None) -> Path:
    """Where the run's original dataset is now: ``dataset`` when given, else the path the run
    read, else a copy an export carried. Not yet checked by its hash (whoever reads it checks
    that, so the file is read once); a missing file is a one-line error naming ``--data``."""
    manifest = read_manifest(run_dir)
    recorded = Path(manifest["data_config"]["data_path"])
    if dataset is None and not recorded.is_file():
        dataset = bundled_dataset(run_dir)  # an export made --with-data carries it
    source = Path(dataset) if dataset is not None else recorded
    if not source.is_file():
        raise DataError(f"the run's dataset {str(source)!r} is not there (SHA-256 "
                        f"{manifest['dataset']['sha256'][:12]}...): give its copy with "
                        "--data PATH")
    return source


def different_dataset(source: Path, digest: str) -> DataError:
    return DataError(f"the dataset {str(source)!r} is not the one the run used (SHA-256 "
                     f"differs from {digest[:12]}...): give the original with --data PATH")


def _computer(run_dir: Path, dataset: str | os.PathLike[str] | None = None) -> MetricComputer:
    manifest = read_manifest(run_dir)
    settings = manifest["data_config"]
    split = load_and_split(DataConfig(
        dataset_for(run_dir, dataset), task_type=settings["task_type"],
        target_column=settings["target_column"],
        test_split_ratio=settings["test_split_ratio"], random_seed=settings["random_seed"]))
    if split.dataset_sha256 != manifest["dataset"]["sha256"]:
        raise different_dataset(split.source, manifest["dataset"]["sha256"])
    return MetricComputer(split.task_type, split.test_labels, split.classes)


def prepare(run_dir: str | os.PathLike[str], *,
            dataset: str | os.PathLike[str] | None = None) -> None:
    """Before the re-run: fail now, clearly, when the labels cannot be re-derived (no dataset,
    or another one); remove the predictions file so that the re-run must write its own (even a
    planted link goes)."""
    run_path = Path(run_dir)
    source = dataset_for(run_path, dataset)
    digest = read_manifest(run_path)["dataset"]["sha256"]
    if file_sha256(source) != digest:
        raise different_dataset(source, digest)
    unlink_untrusted(run_path / RUN_PREDICTIONS, root=run_path / "work")


def host_metrics(run: NotebookRun, run_dir: str | os.PathLike[str], *,
                 dataset: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """Metrics of the predictions a re-executed ``run.ipynb`` wrote ({} when it failed)."""
    if getattr(run, "status", "ok") != "ok":
        return {}
    run_path = Path(run_dir)
    try:
        return _computer(run_path, dataset).compute(run_path / RUN_PREDICTIONS,
                                                    root=run_path / "work").metrics
    except PredictionError:
        return {}


__all__ = ["METRICS_FN", "PREPARE_FN", "dataset_for", "host_metrics", "prepare"]
