"""``deepthinker-nb demo --llm-url URL --model NAME``: model-backed councils from the shell."""

from __future__ import annotations

import json

import pytest
from test_workflow_llm import FIXED, JUDGE

from deepthinker_nb.cli import build_parser, main
from deepthinker_nb.cli.llm_options import llm_councils_from_args, llm_wanted
from deepthinker_nb.llm import LOG_NAME


def test_flags_build_llm_councils(tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPTHINKER_LLM_MODEL", raising=False)
    args = build_parser().parse_args(
        ["demo", "--llm-url", "http://h:1/v1", "--model", "m", "--coder-model", "c",
         "--out", str(tmp_path)])
    assert llm_wanted(args)
    councils, run_id = llm_councils_from_args(args, tmp_path, check=False)
    assert councils.describe()["coder"] == "LLMCoder"
    assert councils.describe()["planner"] == "OfflinePlanner"
    assert councils.coder.client.config.for_role("coder").model == "c"
    assert councils.coder.client.log.path == tmp_path / run_id / LOG_NAME
    assert not llm_wanted(build_parser().parse_args(["demo"]))
    args = build_parser().parse_args(["demo", "--model", "m", "--llm-roles", "planner, coder"])
    councils, _ = llm_councils_from_args(args, tmp_path, check=False)
    assert councils.describe()["planner"] == "LLMPlanner"
    assert councils.describe()["evaluator"] == "OfflineEvaluator"


@pytest.mark.slow
def test_demo_with_a_model(server, tmp_path, capsys):
    server.add(FIXED, JUDGE)
    code = main(["demo", "--dataset", "iris", "--llm-url", server.url, "--model", "tiny-coder",
                 "--max-iterations", "1", "--out", str(tmp_path), "--quiet", "--pool-size", "1"])
    assert code == 0, capsys.readouterr()
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    calls = [json.loads(line) for line in (run_dir / LOG_NAME).read_text().splitlines()]
    assert [c["role"] for c in calls] == ["coder", "evaluator"]


def test_unknown_model_stops_before_any_kernel(server, tmp_path, capsys):
    code = main(["demo", "--dataset", "iris", "--llm-url", server.url, "--model", "nope",
                 "--coder-model", "tiny-coder", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "model 'nope' not found" in err and "tiny-coder" in err
    assert len(err.strip().splitlines()) == 1 and not server.requests
    assert not list(tmp_path.iterdir())


def test_unreachable_endpoint_stops_before_any_kernel(tmp_path, capsys):
    pytest.importorskip("openai")
    code = main(["demo", "--llm-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "unreachable" in err and len(err.strip().splitlines()) == 1
