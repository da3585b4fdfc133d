"""A council of three coders (two scripted models and the offline coder) on bundled iris: the
candidates run side by side, each in its own kernel and work dir; the host metric picks the
winner; iterations/01.ipynb and the manifest record every candidate; the run replays from its
call log with the same outputs and metrics; the manifest's ``llm`` section counts the calls."""

from __future__ import annotations

import json

import pytest

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.llm import LOG_NAME, LLMConfig
from deepthinker_nb.notebook.io import read_notebook
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.councils.llm import llm_councils, log_path, parse_coders
from deepthinker_nb.workflow.datasets import bundled_dataset
from deepthinker_nb.workflow.notebooks import tagged_outputs

GOOD = """A logistic regression.
```python
import time
import pandas as pd
from sklearn.linear_model import LogisticRegression

train = pd.read_csv(DATA_PATH)
test = pd.read_csv(TEST_FEATURES_PATH)
X, y = train.drop(columns=[TARGET]), train[TARGET]
model = LogisticRegression(max_iter=1000, random_state=RANDOM_SEED).fit(X, y)
time.sleep(1.5)
# %%
features = test.drop(columns=["row_id"])[X.columns]
pd.DataFrame({"row_id": test["row_id"], "prediction": model.predict(features)}).to_csv(
    PREDICTIONS_PATH, index=False)
print("train accuracy", round(model.score(X, y), 4))
```"""

WEAK = """The most frequent class, as a baseline.
```python
import time
import pandas as pd
from sklearn.dummy import DummyClassifier

train = pd.read_csv(DATA_PATH)
test = pd.read_csv(TEST_FEATURES_PATH)
X, y = train.drop(columns=[TARGET]), train[TARGET]
model = DummyClassifier(strategy="most_frequent").fit(X, y)
time.sleep(1.5)
features = test.drop(columns=["row_id"])[X.columns]
pd.DataFrame({"row_id": test["row_id"], "prediction": model.predict(features)}).to_csv(
    PREDICTIONS_PATH, index=False)
print("baseline", model.classes_[0])
```"""

JUDGE = '{"score": 8, "issues": [], "recommendations": ["try a forest"]}'
CODERS = "tiny-coder@0.2,other-coder@0.9,offline"


def _runner(tmp_path, config: LLMConfig, run_id: str) -> WorkflowRunner:
    dataset = bundled_dataset("iris")
    data = DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                      execution_timeout=60.0)
    runs = tmp_path / "runs"
    councils = llm_councils(config, log_path(runs, run_id), coders=parse_coders(CODERS))
    return WorkflowRunner(data, IterationConfig(max_iterations=1, patience=None),
                          councils=councils, runs_dir=runs, run_id=run_id, pool_size=3,
                          simulate=False, report=False)


def _candidate_outputs(path) -> dict[str, list[str]]:
    nb = read_notebook(path)
    return {m: tagged_outputs(nb, f"candidate-{m}")
            for m in nb.metadata["deepthinker"]["candidates"]}


def test_coders_option_is_parsed_into_members():
    specs = parse_coders("offline, qwen2.5-coder:7b@0.2 ,other,other")
    assert [(s.name, s.model, s.temperature) for s in specs] == [
        ("offline", None, None), ("qwen2.5-coder-7b-t0.2", "qwen2.5-coder:7b", 0.2),
        ("other", "other", None), ("other-2", "other", None)]
    for bad in ("m@hot", "m@3", "@0.2", " , "):
        with pytest.raises(ConfigError, match="--coders"):
            parse_coders(bad)


@pytest.mark.slow
def test_council_of_three_runs_side_by_side_and_replays(server, tmp_path):
    server.models = ["tiny-coder", "other-coder", "judge"]
    server.add_for("tiny-coder", GOOD)
    server.add_for("other-coder", WEAK)
    server.add_for("judge", JUDGE)
    config = LLMConfig(base_url=server.url, model="judge", timeout=10.0, backoff=0.01)
    result = _runner(tmp_path, config, "live").run(bundled_dataset("iris").objective)

    (record,) = result.iterations
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    candidates = manifest["iterations"][0]["candidates"]
    assert [c["member"] for c in candidates] == ["tiny-coder-t0.2", "other-coder-t0.9",
                                                 "offline"]
    assert [c["model"] for c in candidates] == ["tiny-coder", "other-coder", "offline"]
    assert all(c["status"] == "ok" for c in candidates), candidates
    # each candidate wrote its own predictions in its own work dir
    for c in candidates:
        assert (result.run_dir / "work" / "01" / c["member"] / "predictions.csv").is_file()
    # side by side: every execution started before any of them finished
    assert max(c["started"] for c in candidates) < min(c["finished"] for c in candidates)
    # the best host metric wins, and the iteration is the winner's
    best = max(candidates, key=lambda c: c["score"])
    assert [c["member"] for c in candidates if c["winner"]] == [best["member"]]
    assert best["member"] != "other-coder-t0.9"  # the most-frequent-class baseline loses
    assert record.metric_score == best["score"] and record.metrics == best["metrics"]
    assert result.best_iteration == 1
    # the iteration notebook has a section per candidate and says why the winner won
    nb = read_notebook(result.run_dir / "iterations" / "01.ipynb")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for c in candidates:
        assert f"### Candidate `{c['member']}`" in text
    assert "### Why the winner won" in text and f"`{best['member']}` won" in text
    # each section's parameters cell points, from iterations/, at its own candidate's files
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "candidate-parameters" in tags:
            member = tags[0].removeprefix("candidate-")
            values = dict(line.split(" = ", 1) for line in cell.source.splitlines())
            predictions = (result.run_dir / "iterations"
                           / values["PREDICTIONS_PATH"].strip("'")).resolve()
            assert predictions == result.run_dir / "work" / "01" / member / "predictions.csv"
            assert (result.run_dir / "iterations" / values["DATA_PATH"].strip("'")).is_file()
    outputs = _candidate_outputs(result.run_dir / "iterations" / "01.ipynb")
    assert any("train accuracy" in o for o in outputs["tiny-coder-t0.2"])
    # each member asked its own model at its own temperature
    sent = {r["model"]: r.get("temperature") for r in server.requests}
    assert sent == {"tiny-coder": 0.2, "other-coder": 0.9, "judge": 0.2}
    # the manifest's call summary counts every call, per council, member and model
    llm = manifest["llm"]
    assert llm["calls"] == 3 and llm["mode"] == "live" and llm["failures"] == 0
    assert llm["per_council"]["coder"]["calls"] == 2
    assert llm["per_council"]["evaluator"]["calls"] == 1
    assert set(llm["per_member"]) == {"coder:tiny-coder-t0.2", "coder:other-coder-t0.9"}
    assert llm["per_model"]["judge"]["tokens_in"] == 10
    assert llm["tokens_out"] == 15 and llm["latency_total"] >= 0

    server.stop()
    try:
        replay = LLMConfig(replay=result.run_dir / LOG_NAME)
        again = _runner(tmp_path, replay, "replayed").run(bundled_dataset("iris").objective)
    finally:
        server.start()
    again_manifest = json.loads((again.run_dir / "manifest.json").read_text())
    assert [(c["member"], c["status"], c["metrics"], c["winner"])
            for c in again_manifest["iterations"][0]["candidates"]] == [
        (c["member"], c["status"], c["metrics"], c["winner"]) for c in candidates]
    assert again.best_metrics == result.best_metrics
    assert _candidate_outputs(again.run_dir / "iterations" / "01.ipynb") == outputs
    assert again_manifest["llm"]["mode"] == "replayed"
    assert again_manifest["llm"]["replay_mismatches"] == 0


@pytest.mark.slow
def test_a_member_that_fails_leaves_the_others_to_win(server, tmp_path):
    server.add_for("tiny-coder", "No code today.", "Still none.", "Sorry.")  # three replies
    config = LLMConfig(base_url=server.url, model="tiny-coder", timeout=10.0, backoff=0.01)
    dataset = bundled_dataset("iris")
    data = DataConfig(dataset.path, task_type="classification", target_column=dataset.target,
                      execution_timeout=60.0)
    runs = tmp_path / "runs"
    councils = llm_councils(config, log_path(runs, "one-fails"), roles=("coder",),
                            coders=parse_coders("tiny-coder,offline"))
    result = WorkflowRunner(data, IterationConfig(max_iterations=1), councils=councils,
                            runs_dir=runs, run_id="one-fails", pool_size=2, simulate=False,
                            report=False).run(dataset.objective)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    failed, offline = manifest["iterations"][0]["candidates"]
    assert failed["status"] == "error" and "no usable code" in failed["error"]
    assert failed["started"] is None and not failed["winner"]
    assert offline["status"] == "ok" and offline["winner"]
    assert result.status == "complete" and result.iterations[0].model == "logistic_regression"
    nb = read_notebook(result.run_dir / "iterations" / "01.ipynb")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "### Candidate `tiny-coder`: tiny-coder" in text and "no usable code" in text
    assert "`offline` won" in text and "no other candidate wrote valid predictions" in text
    assert manifest["llm"]["calls"] == 3 and manifest["llm"]["per_council"]["coder"][
        "calls"] == 3
