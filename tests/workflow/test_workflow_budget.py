"""Time is a budget: the per-cell limit follows the data's size or the run's --time-budget, a
cell that times out makes the next attempt cheaper, and the summary names the flag to change.
No test here asserts how long anything took."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.config import DataConfig, IterationConfig, LocalConfig
from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.workflow import Councils, WorkflowRunner
from deepthinker_nb.workflow.councils import Attempt, CodeProposal, CodeRequest, OfflineCoder
from deepthinker_nb.workflow.councils.codegen import CV_CELL
from deepthinker_nb.workflow.councils.sizing import Sizing
from deepthinker_nb.workflow.data import load_and_split
from deepthinker_nb.workflow.datasets import bundled_dataset
from deepthinker_nb.workflow.placement import (
    KernelPlacement,
    budget_cell_timeout,
    data_cell_timeout,
)


def test_the_cell_limit_follows_the_data_size_unless_one_is_given():
    assert data_cell_timeout(20_000, 12) == DEFAULT_CELL_TIMEOUT
    large = data_cell_timeout(1_000_000, 30)
    assert DEFAULT_CELL_TIMEOUT * 4 < large < DEFAULT_CELL_TIMEOUT * 10
    assert data_cell_timeout(10**9, 100) == 1800
    placement = KernelPlacement("local")
    assert placement.run_timeout(1_000_000, 30) == large
    assert placement.run_timeout(1_000_000, 30, time_budget=600, iterations=5) == \
        budget_cell_timeout(600, 5) == 37.5
    # A limit someone chose wins over both: --timeout, or the kernel config's.
    assert KernelPlacement("local", timeout=7).run_timeout(1_000_000, 30, 600, 5) == 7
    chosen = KernelPlacement("local", LocalConfig(execution_timeout=9))
    assert chosen.run_timeout(1_000_000, 30) == 9


def test_a_time_budget_is_a_positive_number_of_seconds():
    assert IterationConfig(time_budget=90).time_budget == 90
    for bad in (0, -1, "90", True):
        with pytest.raises(ConfigError, match="time_budget"):
            IterationConfig(time_budget=bad)


def test_sizing_is_cheaper_after_a_timeout_and_fits_the_cell_limit():
    sizing = Sizing.for_data(800_000, 30)
    assert sizing.cv_rows and sizing.cv_rows < 800_000 and sizing.early_stopping
    cheaper = sizing.cheaper(1)
    assert cheaper.selection_rows < sizing.selection_rows and cheaper.cv_folds == 2
    assert cheaper.cheaper(1).selection_rows <= cheaper.selection_rows
    assert sizing.cheaper(1, died=True).fit_rows < 800_000
    # 10 s per cell: the final fit on 800,000 rows would not fit, so it samples rows.
    tight = sizing.within(10, "gradient_boosting")
    assert max(tight.estimate("gradient_boosting")) <= 5 and tight.fit_rows < 800_000
    # Model selection that would not fit samples fewer rows.
    wide = Sizing.for_data(20_000, 300)
    narrow = wide.within(10, "ensemble")
    assert max(narrow.estimate("ensemble")) <= 5
    assert narrow.selection_rows < wide.selection_rows
    assert Sizing.for_data(500, 5).within(60, "ensemble") == Sizing.for_data(500, 5)


def _request(split, history, cell_timeout=60.0):
    councils = Councils()
    plan = councils.planner.plan("predict churn", split.profile)
    research = councils.researcher.summarise(plan, split.profile, [])
    return CodeRequest("predict churn", plan, research, split.profile, len(history) + 1,
                       list(history), cell_timeout=cell_timeout)


def _settings(cells):
    code = "\n".join(cells)
    rows = re.search(r"^cv_rows = (\d+)$", code, re.MULTILINE)
    folds = re.search(r"min\((\d+), y_cv\.value_counts", code)
    return (int(rows.group(1)) if rows else None), int(folds.group(1))


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n),
                          "y": rng.choice(["a", "b"], n)})
    path = tmp_path_factory.mktemp("data") / "medium.csv"
    frame.to_csv(path, index=False)
    return load_and_split(DataConfig(path, target_column="y"))


def test_the_coder_does_less_after_a_timeout(medium):
    coder = OfflineCoder()
    first = coder.propose(_request(medium, []))
    assert _settings(first.cells) == (None, 3)  # every row, three folds
    timed_out = Attempt(1, first.cells, first.model, "timeout",
                        error="cell 4 exceeded the time limit of 10s and was stopped")
    second = coder.propose(_request(medium, [timed_out]))
    rows, folds = _settings(second.cells)
    assert rows is not None and rows < medium.profile.n_train and folds == 2
    assert "does less" in second.rationale
    # A second timeout: less again.
    again = Attempt(2, second.cells, second.model, "timeout", error="exceeded")
    third = coder.propose(_request(medium, [timed_out, again]))
    assert _settings(third.cells)[0] < rows


def test_the_coder_fits_its_work_to_a_short_cell_limit(medium):
    coder = OfflineCoder()
    relaxed = coder.propose(_request(medium, [], cell_timeout=600))
    tight = coder.propose(_request(medium, [], cell_timeout=0.001))
    assert _settings(relaxed.cells)[0] is None
    assert _settings(tight.cells)[0] < medium.profile.n_train


class SlowFirstCoder:
    """The offline coder, whose first attempt sleeps in its cross-validation cell past the
    cell limit (as gradient boosting on too many rows would)."""

    def __init__(self):
        self.coder = OfflineCoder()
        self.requests: list[CodeRequest] = []

    def propose(self, request: CodeRequest) -> CodeProposal:
        self.requests.append(request)
        proposal = self.coder.propose(request)
        if request.iteration == 1:
            cells = list(proposal.cells)
            cells[CV_CELL] = "import time\ntime.sleep(600)\n" + cells[CV_CELL]
            proposal = CodeProposal(cells, proposal.rationale, proposal.model,
                                    proposal.diagnostic_cells)
        return proposal


def test_a_tiny_budget_times_out_a_cell_and_the_next_attempt_is_cheaper(tmp_path):
    dataset = bundled_dataset("churn")
    config = DataConfig(dataset.path, target_column=dataset.target)
    coder = SlowFirstCoder()
    # 100 s for the whole run: cells get the shortest limit a budget gives (10 s).
    iteration = IterationConfig(max_iterations=2, patience=None, time_budget=100)
    result = WorkflowRunner(config, iteration, councils=Councils(coder=coder),
                            runs_dir=tmp_path, pool_size=2, simulate=False,
                            report=False).run(dataset.objective)
    first, second = result.iterations
    assert first.status == "timeout"
    assert "exceeded the time limit of 10s" in first.error
    assert coder.requests[0].cell_timeout == 10 and coder.requests[1].time_left < 100
    # The second attempt knows the first ran out of time and does less.
    assert coder.requests[1].history[0].status == "timeout"
    assert _settings(second.cells)[1] == 2 and "does less" in second.rationale
    assert second.ok, second.error
    summary = result.summary()
    assert "--timeout" in summary and "--time-budget" in summary
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["cell_timeout"] == 10 and manifest["time_budget"] == 100
    assert manifest["reproduce"]["timeout"] == 10


def test_a_spent_budget_stops_the_loop_and_the_summary_says_which_flag(tmp_path, capsys):
    dataset = bundled_dataset("churn")
    # One second cannot hold more than the first iteration.
    code = main(["run", "--data", str(dataset.path), "--target", dataset.target,
                 "--max-iterations", "3", "--time-budget", "1", "--quality-threshold", "10",
                 "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "time budget (1s)" in out and "--time-budget" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert len(manifest["iterations"]) == 1
    assert manifest["stop_reason"].startswith("time budget")
    # Progress is the workflow's own lines: no library's log or warning lines.
    assert all(line.startswith("[") for line in err.splitlines()), err
