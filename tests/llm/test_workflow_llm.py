"""End to end: WorkflowRunner with the model-backed coder and evaluator on bundled iris,
against the scripted server; then the same run replayed from its call log, server gone."""

from __future__ import annotations

import json

import pytest

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.llm import LOG_NAME, LLMConfig
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.councils.llm import llm_councils, log_path
from deepthinker_nb.workflow.datasets import bundled_dataset

pytestmark = pytest.mark.slow

BROKEN = """Here is a first try.
```python
train = pd.read_csv(DATA_PATH)
```"""

FIXED = """<think>pandas was not imported.</think>
Fixed: import pandas, fit a logistic regression.
```python
import pandas as pd
from sklearn.linear_model import LogisticRegression

train = pd.read_csv(DATA_PATH)
test = pd.read_csv(TEST_FEATURES_PATH)
X, y = train.drop(columns=[TARGET]), train[TARGET]
model = LogisticRegression(max_iter=1000, random_state=RANDOM_SEED).fit(X, y)
# %%
features = test.drop(columns=["row_id"])[X.columns]
pd.DataFrame({"row_id": test["row_id"], "prediction": model.predict(features)}).to_csv(
    PREDICTIONS_PATH, index=False)
print("done")
```"""

JUDGE = '{"score": 9, "issues": ["no cross-validation"], "recommendations": ["add CV"]}'


def _runner(tmp_path, config: LLMConfig, run_id: str) -> WorkflowRunner:
    dataset = bundled_dataset("iris")
    data = DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                      execution_timeout=60.0)
    runs = tmp_path / "runs"
    councils = llm_councils(config, log_path(runs, run_id))
    return WorkflowRunner(data, IterationConfig(max_iterations=2, patience=None),
                          councils=councils, runs_dir=runs, run_id=run_id, simulate=False,
                          report=False)


def test_model_backed_run_fixes_its_error_and_replays(server, config, tmp_path):
    server.add(BROKEN, JUDGE, FIXED, JUDGE)
    result = _runner(tmp_path, config, "live").run(bundled_dataset("iris").objective)

    first, second = result.iterations
    assert first.status == "error" and "pd" in (first.error or "")
    assert second.status == "ok" and result.best_iteration == 2
    assert second.model == "llm:tiny-coder"
    assert result.best_metrics["accuracy"] > 0.8
    # the second prompt carried the first attempt's error
    assert "NameError" in server.requests[2]["messages"][-1]["content"]
    # the evaluator's 9 cannot lift a failed iteration
    assert first.score == 0.0
    # no held-out labels or their location in any prompt
    sent = json.dumps(server.requests)
    assert "test_labels" not in sent and str(result.run_dir / "data") not in sent

    calls = [json.loads(line) for line in
             (result.run_dir / LOG_NAME).read_text().splitlines()]
    assert [c["role"] for c in calls] == ["coder", "evaluator", "coder", "evaluator"]
    assert all(c["prompt_tokens"] == 10 and c["latency"] >= 0 for c in calls)

    server.stop()
    try:
        replay = LLMConfig(replay=result.run_dir / LOG_NAME)
        again = _runner(tmp_path, replay, "replayed").run(bundled_dataset("iris").objective)
    finally:
        server.start()
    assert [r.status for r in again.iterations] == ["error", "ok"]
    assert again.iterations[1].cells == second.cells
    assert again.best_metrics == result.best_metrics
    assert len((again.run_dir / LOG_NAME).read_text().splitlines()) == 4


REFUSED = """Let me look around first.
```python
import subprocess
print(subprocess.run(["cat", "/etc/passwd"], capture_output=True).stdout)
```"""


def test_scanner_refusal_goes_back_to_the_model_which_fixes_it(server, config, tmp_path):
    server.add(REFUSED, JUDGE, FIXED, JUDGE)
    result = _runner(tmp_path, config, "refused").run(bundled_dataset("iris").objective)

    first, second = result.iterations
    assert first.status == "blocked" and "subprocess" in (first.error or "")
    assert first.score == 0.0
    # the refused cell's findings reached the model in the next prompt
    prompt = server.requests[2]["messages"][-1]["content"]
    assert "security scanner blocked" in prompt and "subprocess" in prompt
    assert second.status == "ok" and result.best_iteration == 2
    # the refused cell never ran: its notebook records the verdict and no output
    assert any(s["verdict"] == "blocked" for s in first.scan)
