"""Re-execute a finished run's ``run.ipynb`` and check its metrics, computed on the host.

The test labels were never stored: they are re-derived from the source dataset, the seed and the
split ratio in the manifest, after checking that the dataset's SHA-256 is unchanged. The manifest
names :func:`host_metrics` (``reproduce.metrics_fn``), so ``deepthinker_nb.report.reproduce``
(and its CLI) use it without knowing about the workflow.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepthinker_nb.config import DataConfig
from deepthinker_nb.kernel.pool import KernelPool
from deepthinker_nb.notebook.execute import NotebookRun
from deepthinker_nb.report.manifest import file_sha256, read_manifest
from deepthinker_nb.report.reproduce import ReproduceResult, reproduce
from deepthinker_nb.untrusted import unlink_untrusted
from deepthinker_nb.workflow.data import DataError, load_and_split
from deepthinker_nb.workflow.metrics import MetricComputer, PredictionError

METRICS_FN = "deepthinker_nb.workflow.reproduce:host_metrics"
RUN_PREDICTIONS = Path("work") / "run" / "predictions.csv"


def _computer(run_dir: Path) -> MetricComputer:
    manifest = read_manifest(run_dir)
    settings = manifest["data_config"]
    source = Path(settings["data_path"])
    if not source.is_file():
        raise DataError(f"the run's dataset {str(source)!r} is gone; the labels cannot be "
                        "re-derived without it")
    if file_sha256(source) != manifest["dataset"]["sha256"]:
        raise DataError(f"the dataset {str(source)!r} changed since the run (SHA-256 differs)")
    split = load_and_split(DataConfig(
        source, task_type=settings["task_type"], target_column=settings["target_column"],
        test_split_ratio=settings["test_split_ratio"], random_seed=settings["random_seed"]))
    return MetricComputer(split.task_type, split.test_labels, split.classes)


def host_metrics(run: NotebookRun, run_dir: str | os.PathLike[str]) -> dict[str, float]:
    """Metrics of the predictions a re-executed ``run.ipynb`` wrote ({} when it failed)."""
    if getattr(run, "status", "ok") != "ok":
        return {}
    run_path = Path(run_dir)
    try:
        return _computer(run_path).compute(run_path / RUN_PREDICTIONS,
                                           root=run_path / "work").metrics
    except PredictionError:
        return {}


def reproduce_run(run_dir: str | os.PathLike[str], *,
                  pool: KernelPool | None = None) -> ReproduceResult:
    """``deepthinker_nb.report.reproduce`` with the workflow's host-side metrics."""
    run_path = Path(run_dir)
    _computer(run_path)  # fail now, clearly, if the labels cannot be re-derived
    # The re-run must write its own predictions (whatever is there, even a link, goes).
    unlink_untrusted(run_path / RUN_PREDICTIONS, root=run_path / "work")
    return reproduce(run_path, metrics_fn=host_metrics, pool=pool)
