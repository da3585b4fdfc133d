"""Fixtures of the runs suite: two short real runs (made once per session), and hand-made
run dirs for what a real run rarely leaves behind (killed, failed, broken manifests)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deepthinker_nb.workflow import WorkflowResult, run_deepthinker_workflow
from deepthinker_nb.workflow.datasets import bundled_dataset

sys.path.insert(0, str(Path(__file__).parent))  # runs_helpers


@dataclass(frozen=True)
class RealRuns:
    runs_dir: Path
    full: WorkflowResult  # 2 iterations, seed 42, simulation and report
    short: WorkflowResult  # 1 iteration, seed 7, no simulation, no report (made second)


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    runs_dir = tmp_path_factory.mktemp("real") / "runs"
    dataset = bundled_dataset("churn")

    def run(**kwargs: Any) -> WorkflowResult:
        return run_deepthinker_workflow(
            dataset.path, dataset.objective, target_column=dataset.target, backend="local",
            runs_dir=runs_dir, pool_size=1, **kwargs)

    full = run(max_iterations=2, random_seed=42, simulate=True, report=True)
    short = run(max_iterations=1, random_seed=7, simulate=False, report=False)
    assert full.status == short.status == "complete"
    return RealRuns(runs_dir, full, short)
