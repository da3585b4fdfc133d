"""Offline councils and the StepExecutor, without kernels."""

from __future__ import annotations

import ast

import pytest

from deepthinker_nb.config import DataConfig
from deepthinker_nb.errors import ConfigError, KernelStartError
from deepthinker_nb.workflow import Councils, StepExecutor
from deepthinker_nb.workflow.councils import (
    Attempt,
    CoderCouncil,
    CodeRequest,
    EvaluatorCouncil,
    OfflineCoder,
    OfflineResearcher,
    PlannerCouncil,
    ResearcherCouncil,
    SimulatorCouncil,
)
from deepthinker_nb.workflow.data import load_and_split
from deepthinker_nb.workflow.datasets import bundled_dataset

PARAMETERS = {"DATA_PATH", "TEST_FEATURES_PATH", "PREDICTIONS_PATH", "TARGET", "TASK_TYPE",
              "RANDOM_SEED"}


@pytest.fixture(scope="module")
def churn():
    dataset = bundled_dataset("churn")
    return load_and_split(DataConfig(dataset.path, target_column=dataset.target))


def _request(split, history=(), iteration=1):
    councils = Councils()
    plan = councils.planner.plan("predict churn", split.profile)
    research = councils.researcher.summarise(plan, split.profile, [])
    return CodeRequest("predict churn", plan, research, split.profile, iteration, list(history))


def test_offline_councils_satisfy_the_protocols():
    councils = Councils()
    assert isinstance(councils.planner, PlannerCouncil)
    assert isinstance(councils.researcher, ResearcherCouncil)
    assert isinstance(councils.coder, CoderCouncil)
    assert isinstance(councils.evaluator, EvaluatorCouncil)
    assert isinstance(councils.simulator, SimulatorCouncil)


def test_councils_coerce_partial_dicts():
    coder = OfflineCoder(cv_folds=3)
    assert Councils.coerce({"coder": coder}).coder is coder
    with pytest.raises(ConfigError):
        Councils.coerce({"oracle": coder})


def test_plan_uses_the_profile(churn):
    plan = Councils().planner.plan("predict churn", churn.profile)
    text = plan.to_markdown()
    assert plan.metric == "balanced_accuracy" and "one-hot" in text and "impute" in text


def _names_read(cells):
    tree = ast.parse("\n".join(cells))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.isupper()}


def test_coder_escalates_and_reads_data_only_through_parameters(churn):
    coder = OfflineCoder()
    history, models = [], []
    for i in range(1, 6):
        proposal = coder.propose(_request(churn, history, i))
        models.append(proposal.model)
        for cell in proposal.cells:
            compile(cell, f"cell{i}", "exec")
            assert "/" not in "".join(s for s in _string_literals(cell) if s.startswith("/"))
        assert _names_read(proposal.cells) <= PARAMETERS | {"DROP", "X"}
        code = "\n".join(proposal.cells)
        assert "random_state=RANDOM_SEED" in code and "PREDICTIONS_PATH" in code
        history.append(Attempt(i, proposal.cells, proposal.model, "ok", score=5.0 - i * 0.1))
    assert models[:4] == ["logistic_regression", "random_forest", "gradient_boosting",
                          "voting_ensemble"]
    assert models[4] == "search:logistic_regression"  # the best family so far


def _string_literals(code):
    return [n.value for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_coder_fixes_an_error_then_falls_back(churn):
    coder = OfflineCoder()
    first = coder.propose(_request(churn))
    second = coder.propose(_request(churn, [Attempt(1, first.cells, first.model, "ok",
                                                    score=4.0)], 2))
    failed = Attempt(2, second.cells, second.model, "error",
                     error="ValueError: could not convert string to float: 'contract'")
    fix = coder.propose(_request(churn, [Attempt(1, first.cells, first.model, "ok", score=4.0),
                                         failed], 3))
    assert fix.model == "random_forest+robust"
    assert "'contract'" in fix.cells[0] and "astype(str)" in fix.cells[0]
    again = Attempt(3, fix.cells, fix.model, "error", error="boom")
    fallback = coder.propose(_request(churn, [failed, again], 4))
    assert fallback.model == "logistic_regression+robust"


def test_coder_falls_back_to_linear_after_a_timeout(churn):
    coder = OfflineCoder()
    timed_out = Attempt(1, [], "gradient_boosting", "timeout", error="exceeded")
    assert coder.propose(_request(churn, [timed_out], 2)).model.startswith("logistic")


def test_researcher_summarises_kernel_findings(churn):
    researcher = OfflineResearcher()
    plan = Councils().planner.plan("x", churn.profile)
    cells = researcher.cells(plan, churn.profile)
    assert any("plt.show()" in c for c in cells)
    line = 'RESEARCH_FINDINGS {"rows": 480, "features": 7, "missing": {"age": 30}, ' \
           '"numeric": ["age"], "categorical": ["contract"], "classes": {"no": 300, "yes": 180}}'
    summary = researcher.summarise(plan, churn.profile, ["", line + "\n"])
    assert summary.status == "ok" and any("480 training rows" in f for f in summary.findings)
    assert researcher.summarise(plan, churn.profile, []).status == "incomplete"


def test_simulator_scenarios_cover_the_four_kinds(churn):
    councils = Councils()
    plan = councils.planner.plan("x", churn.profile)
    kinds = {s.kind for s in councils.simulator.scenarios(plan, churn.profile)}
    assert kinds == {"label_noise", "missing_values", "subgroup", "shift"}


def test_scenarios_are_applied_on_copies(churn):
    from deepthinker_nb.workflow.scenarios import apply_scenario

    councils = Councils()
    plan = councils.planner.plan("x", churn.profile)
    for scenario in councils.simulator.scenarios(plan, churn.profile):
        before = churn.train.copy()
        data = apply_scenario(scenario, churn, 1)
        assert churn.train.equals(before)
        assert len(data.test_features) == len(data.test_labels)
        assert list(data.test_labels.index) == list(data.test_features["row_id"])
        if scenario.kind == "label_noise":
            changed = (data.train[churn.target] != churn.train[churn.target]).mean()
            assert 0.05 < changed < 0.15
        if scenario.kind == "subgroup":
            assert 0 < len(data.test_labels) < len(churn.test_labels)


def test_step_executor_times_retries_and_captures():
    steps = StepExecutor(retries=2, backoff=0.0)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise KernelStartError("transient")
        return 42

    record = steps.run("kernel", "flaky", flaky)
    assert record.ok and record.result == 42 and record.attempts == 2
    failed = steps.run("coding", "bad", lambda: 1 / 0)
    assert failed.status == "error" and failed.error_type == "ZeroDivisionError"
    assert failed.attempts == 1  # not transient: no retry
    with pytest.raises(ZeroDivisionError):
        steps.run("coding", "fatal", lambda: 1 / 0, raise_errors=True)
    assert set(steps.phase_timings()) == {"kernel", "coding"}
    assert len(steps.records) == 3


def test_offline_coder_marks_the_cross_validation_cell_as_diagnostic(churn):
    proposal = OfflineCoder().propose(_request(churn))
    (index,) = proposal.diagnostic_cells
    assert "cv_score" in proposal.cells[index]
    assert "PREDICTIONS_PATH" not in proposal.cells[index]
