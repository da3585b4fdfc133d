"""Hand-made run dirs for the runs suite: manifests shaped like the workflow's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_run(runs_dir: Path, run_id: str, manifest: dict[str, Any] | str) -> Path:
    """A run dir holding ``manifest`` (a dict as JSON, a str as it is)."""
    run_dir = runs_dir / run_id
    (run_dir / "iterations").mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (run_dir / "manifest.json").write_text(text)
    return run_dir


def manifest(run_id: str, **fields: Any) -> dict[str, Any]:
    """A manifest shaped like the workflow's, with ``fields`` on top."""
    base: dict[str, Any] = {
        "run_id": run_id, "status": "complete", "started": "2026-11-20T10:00:00+00:00",
        "objective": "predict y",
        "data_config": {"data_path": "/data/sales.csv", "task_type": "regression",
                        "target_column": "y", "random_seed": 1},
        "iteration_config": {"max_iterations": 3},
        "dataset": {"path": "/data/sales.csv", "target": "y", "task_type": "regression"},
        "backend": "local", "iterations": [], "best_iteration": None, "metrics": {},
    }
    base.update(fields)
    return base


def iteration(index: int, score: float | None, status: str = "ok", **fields: Any
              ) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index, "model": "ridge", "status": status, "error": None,
        "metrics": {"r2": 0.5 + index / 10, "rmse": 3.0 - index / 10} if score else {},
        "score": score, "duration": 1.5, "notebook": f"iterations/{index:02d}.ipynb"}
    entry.update(fields)
    return entry
