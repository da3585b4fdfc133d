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


def test_coders_flag_builds_a_council_of_coders(tmp_path, monkeypatch):
    from deepthinker_nb.workflow.candidates import CoderPanel

    monkeypatch.delenv("DEEPTHINKER_LLM_MODEL", raising=False)
    args = build_parser().parse_args(
        ["demo", "--coders", "offline,qwen2.5-coder:7b@0.2,big@0.8", "--out", str(tmp_path)])
    councils, _ = llm_councils_from_args(args, tmp_path, check=False)
    panel = councils.coder
    assert isinstance(panel, CoderPanel)
    assert [(m["member"], m["model"], m["temperature"]) for m in panel.describe()] == [
        ("offline", "offline", None), ("qwen2.5-coder-7b-t0.2", "qwen2.5-coder:7b", 0.2),
        ("big-t0.8", "big", 0.8)]
    client = panel.members[1].coder.client
    assert client.config.for_role("coder:big-t0.8").model == "big"
    assert client.config.for_role("coder:big-t0.8").temperature == 0.8
    # no --model: the first model member's model judges
    assert client.config.for_role("evaluator").model == "qwen2.5-coder:7b"
    # offline members only: no model, no client
    args = build_parser().parse_args(["demo", "--coders", "offline,offline"])
    councils, _ = llm_councils_from_args(args, tmp_path, check=False)
    assert [m.name for m in councils.coder.members] == ["offline", "offline-2"]
    assert councils.describe()["evaluator"] == "OfflineEvaluator"


def test_a_coder_members_unknown_model_stops_before_any_kernel(server, tmp_path, capsys):
    code = main(["demo", "--dataset", "iris", "--llm-url", server.url, "--model", "tiny-coder",
                 "--coders", "offline,tiny-coder@0.3,missing-coder@0.9", "--out", str(tmp_path),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "model 'missing-coder' not found" in err and "tiny-coder" in err
    assert len(err.strip().splitlines()) == 1 and not server.requests


def test_bad_coders_flag_is_one_line(tmp_path, capsys):
    code = main(["demo", "--coders", "m@warm", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "--coders" in err and len(err.strip().splitlines()) == 1
