"""Resume an incomplete run: a runner configured from its manifest continues where it stopped.

A run stopped by Ctrl-C, a crash or a killed host keeps its manifest (written after every
iteration, status ``incomplete``), its iteration notebooks and its data split. The manifest holds
everything needed to go on with the same split and seeds: the data config, the iteration config,
the backend, the metric weight and whether cells were scanned.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.workflow.councils import Councils
from deepthinker_nb.workflow.manifest import read_resumable_manifest
from deepthinker_nb.workflow.reproduce import dataset_for
from deepthinker_nb.workflow.result import ProgressEvent, WorkflowResult
from deepthinker_nb.workflow.runner import WorkflowRunner

_DATA_FIELDS = ("task_type", "target_column", "test_split_ratio", "random_seed",
                "execution_timeout")
_OFFLINE_PREFIX = "Offline"


def runner_for(run_dir: str | os.PathLike[str], *,
               dataset: str | os.PathLike[str] | None = None,
               councils: Councils | dict[str, Any] | None = None,
               backend: str | None = None,
               pool_size: int = 1,
               progress: Callable[[ProgressEvent], None] | None = None,
               report: bool = True) -> WorkflowRunner:
    """A :class:`WorkflowRunner` configured as the run in ``run_dir`` was.

    ``dataset``: where the original dataset is now (checked by SHA-256). ``councils``: needed
    when the run's councils were model-backed (the manifest names them; a model client cannot
    be rebuilt from a name). ``backend``: run the rest elsewhere (default: the run's)."""
    run_path = Path(run_dir).resolve()
    manifest = read_resumable_manifest(run_path)
    recorded = manifest["data_config"]
    data_config = DataConfig(dataset_for(run_path, dataset),
                             **{k: recorded[k] for k in _DATA_FIELDS if k in recorded})
    iteration_config = IterationConfig(**(manifest.get("iteration_config") or {}))
    names = manifest.get("councils") or {}
    model_backed = {role: name for role, name in names.items()
                    if not str(name).startswith(_OFFLINE_PREFIX)}
    if model_backed and councils is None:
        described = ", ".join(f"{role}: {name}" for role, name in model_backed.items())
        raise ConfigError(f"run {manifest.get('run_id')} used model-backed councils "
                          f"({described}): resume it from Python, giving the councils: "
                          "resume_run(run_dir, councils=llm_councils(...))")
    return WorkflowRunner(
        data_config, iteration_config, councils=councils,
        backend=backend or manifest.get("backend"), runs_dir=run_path.parent,
        run_id=run_path.name, pool_size=pool_size, progress=progress,
        metric_weight=float(manifest.get("metric_weight", 1.0)),
        scan=bool(manifest.get("scan", True)), report=report)


def resume_run(run_dir: str | os.PathLike[str], **options: Any) -> WorkflowResult:
    """Continue the incomplete run in ``run_dir`` from its last finished iteration (see
    :meth:`WorkflowRunner.resume`); ``options`` as for :func:`runner_for`."""
    return runner_for(run_dir, **options).resume(run_dir)


__all__ = ["resume_run", "runner_for"]
