"""The coding loop: failures of every kind are recorded and fed back, stop rules, best-not-last."""

from __future__ import annotations

import json

import pytest
from wf_helpers import MAJORITY_CELL, ScriptedCoder

from deepthinker_nb.workflow.councils.codegen import ModelSpec, cells_for

pytestmark = pytest.mark.slow

GOOD = cells_for(ModelSpec("classification", "linear", cv_folds=3))

RAISES = "raise ValueError('column contract could not be converted')"
SLEEPS = "import time\ntime.sleep(60)"
BLOCKED = "import subprocess\nsubprocess.run(['cat', '/etc/passwd'])"
NO_PREDICTIONS = "import pandas as pd\nprint(pd.read_csv(DATA_PATH).shape)"
BAD_PREDICTIONS = (
    "import pandas as pd\n"
    "test_features = pd.read_csv(TEST_FEATURES_PATH)\n"
    "pd.DataFrame({'row_id': test_features['row_id'][:3], 'prediction': 'setosa'})"
    ".to_csv(PREDICTIONS_PATH, index=False)"
)
DIES = "import os\nos._exit(3)"


def test_each_failure_is_recorded_and_the_loop_goes_on(iris_config, make_runner):
    from dataclasses import replace

    config = replace(iris_config, execution_timeout=4.0)
    coder = ScriptedCoder(RAISES, SLEEPS, BLOCKED, NO_PREDICTIONS, BAD_PREDICTIONS, GOOD)
    result = make_runner(config, coder, max_iterations=6, patience=None,
                         quality_threshold=10.0).run("classify iris")
    print("\n" + result.summary())
    statuses = [r.status for r in result.iterations]
    assert statuses == ["error", "timeout", "blocked", "invalid_predictions",
                        "invalid_predictions", "ok"]
    assert "ValueError" in result.iterations[0].error
    assert "time limit" in result.iterations[1].error
    assert "subprocess" in result.iterations[2].error
    assert result.iterations[2].scan and any(s["verdict"] == "blocked"
                                             for s in result.iterations[2].scan)
    assert "no predictions file" in result.iterations[3].error
    assert "expected one per test row" in result.iterations[4].error
    assert all(r.score == 0.0 for r in result.iterations[:5])
    assert result.best_iteration == 6 and result.status == "complete"
    # Each failure was shown to the coder in the next request.
    seen = [req.history[-1].error for req in coder.requests[1:]]
    assert all(seen) and "ValueError" in seen[0]
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert [i["status"] for i in manifest["iterations"]] == statuses
    for record in result.iterations:
        assert record.notebook_path.exists()


def test_kernel_death_is_recorded_and_the_loop_goes_on(iris_config, make_runner):
    coder = ScriptedCoder(DIES, GOOD)
    result = make_runner(iris_config, coder, max_iterations=2, patience=None,
                         scan=False).run("classify iris")
    print("\n" + result.summary())
    assert [r.status for r in result.iterations] == ["died", "ok"]
    assert "died" in result.iterations[0].error
    assert result.best_iteration == 2


def test_stop_at_threshold(iris_config, make_runner):
    result = make_runner(iris_config, max_iterations=4, quality_threshold=8.0).run("iris")
    assert len(result.iterations) == 1 and result.quality_score >= 8.0
    assert "threshold" in result.stop_reason


def test_stop_at_max_iterations(iris_config, make_runner):
    result = make_runner(iris_config, ScriptedCoder(MAJORITY_CELL), max_iterations=2,
                         patience=None).run("iris")
    assert len(result.iterations) == 2 and "max iterations" in result.stop_reason


def test_stop_when_patience_runs_out(iris_config, make_runner):
    result = make_runner(iris_config, ScriptedCoder(MAJORITY_CELL), max_iterations=6,
                         patience=2).run("iris")
    assert len(result.iterations) == 3 and "patience" in result.stop_reason


def test_the_best_iteration_wins_not_the_last(iris_config, make_runner):
    coder = ScriptedCoder(GOOD, MAJORITY_CELL, models=["good", "majority"])
    result = make_runner(iris_config, coder, max_iterations=2, patience=None,
                         quality_threshold=10.0, simulate=True).run("iris")
    print("\n" + result.summary())
    first, second = result.iterations
    assert first.score > second.score == 0.0
    assert result.best_iteration == 1 and result.best_code == GOOD
    assert result.best_metrics == first.metrics and result.reproduced is True
    assert all(r.delta is not None for r in result.simulation.results)


def test_a_coder_that_raises_is_an_iteration_failure(iris_config, make_runner):
    class Broken:
        def __init__(self):
            self.calls = 0

        def propose(self, request):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("model server unreachable")
            return ScriptedCoder(GOOD).propose(request)

    result = make_runner(iris_config, Broken(), max_iterations=2, patience=None,
                         quality_threshold=10.0).run("iris")
    assert result.iterations[0].status == "error"
    assert "model server unreachable" in result.iterations[0].error
    assert result.iterations[1].ok


def test_a_run_interrupted_mid_way_leaves_an_incomplete_manifest(iris_config, make_runner):
    class Interrupting:
        def propose(self, request):
            if request.iteration == 2:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C (or the host died)
            return ScriptedCoder(GOOD).propose(request)

    runner = make_runner(iris_config, Interrupting(), max_iterations=3, patience=None,
                         quality_threshold=10.0)
    with pytest.raises(KeyboardInterrupt):
        runner.run("iris")
    manifest = json.loads((runner.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert [i["status"] for i in manifest["iterations"]] == ["ok"]
    assert manifest["best_iteration"] == 1 and manifest["metrics"]
    assert (runner.run_dir / "iterations" / "01.ipynb").exists()


def test_report_reproduce_uses_the_manifest_hook(iris_config, make_runner):
    from deepthinker_nb.report import reproduce

    result = make_runner(iris_config, max_iterations=1).run("iris")
    (result.run_dir / "work" / "run" / "predictions.csv").unlink()
    again = reproduce(result.run_dir)
    assert again.reproduced, again.summary()
