"""Quality: on each bundled dataset the offline councils' best iteration beats the baseline
(first) iteration, or the baseline already meets the threshold. Prints the scores."""

from __future__ import annotations

import pytest

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.datasets import CATALOGUE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_best_beats_baseline_or_meets_threshold(name, tmp_path):
    dataset = CATALOGUE[name]
    config = DataConfig(dataset.path, task_type=dataset.task_type,
                        target_column=dataset.target, execution_timeout=120)
    iteration = IterationConfig(max_iterations=5, quality_threshold=8.0, patience=3)
    result = WorkflowRunner(config, iteration, runs_dir=tmp_path, pool_size=2, simulate=False,
                            report=False).run(dataset.objective)
    scores = ", ".join(f"{r.model} {r.score:.2f}" for r in result.iterations)
    print(f"\n{name}: baseline {result.iterations[0].score:.2f} -> best "
          f"{result.quality_score:.2f} (iteration {result.best_iteration}); {scores}")
    baseline = result.iterations[0]
    assert baseline.ok
    assert result.quality_score > baseline.score or baseline.score >= 8.0
    assert result.reproduced is True
