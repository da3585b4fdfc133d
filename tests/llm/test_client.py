from __future__ import annotations

import json
from dataclasses import replace

import pytest
from llm_server import Scripted

from deepthinker_nb.llm import (
    LLMBudgetError,
    LLMClient,
    LLMConfig,
    LLMContextError,
    LLMModelNotFoundError,
    LLMRateLimitError,
    LLMReplayError,
    LLMUnavailableError,
)
from deepthinker_nb.llm.client import _delay
from deepthinker_nb.llm.config import RoleConfig
from deepthinker_nb.llm.extract import code_blocks, json_object, prose, strip_reasoning

MSG = [{"role": "user", "content": "hi"}]


def test_reply_logged_with_tokens(server, config, tmp_path):
    server.add("hello")
    log = tmp_path / "llm_calls.jsonl"
    client = LLMClient(config, log)
    reply = client.chat("coder", MSG)
    assert reply.text == "hello" and reply.prompt_tokens == 10 and reply.completion_tokens == 5
    record = json.loads(log.read_text().splitlines()[0])
    assert record["role"] == "coder" and record["messages"] == MSG and record["reply"] == "hello"
    assert record["prompt_tokens"] == 10 and record["latency"] >= 0
    assert server.requests[0]["seed"] == 0


def test_api_key_never_logged(server, config, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPTHINKER_LLM_API_KEY", "sk-secret-123")
    server.add("ok")
    log = tmp_path / "calls.jsonl"
    LLMClient(config, log).chat("coder", MSG)
    assert "sk-secret-123" not in log.read_text()
    assert "sk-secret-123" not in json.dumps(config.to_dict())


def test_rate_limited_then_success(server, config):
    server.add(Scripted(status=429, error="slow down"), Scripted(status=429), "fine")
    assert LLMClient(config).chat("coder", MSG).text == "fine"
    assert len(server.requests) == 3


def test_rate_limited_gives_up_cleanly(server, config):
    server.add(*[Scripted(status=429)] * 3)
    with pytest.raises(LLMRateLimitError) as err:
        LLMClient(config).chat("coder", MSG)
    assert "\n" not in str(err.value) and "3 attempts" in str(err.value)


def test_slow_reply_times_out_with_one_line(server, config):
    server.add(Scripted("late", delay=3.0))
    with pytest.raises(LLMUnavailableError) as err:
        LLMClient(replace(config, timeout=0.5)).chat("coder", MSG)
    assert "\n" not in str(err.value) and "within 0.5s" in str(err.value)
    assert len(server.requests) == 1  # a timeout is not retried


def test_unreachable_endpoint():
    pytest.importorskip("openai")
    config = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", backoff=0.01, max_retries=1)
    with pytest.raises(LLMUnavailableError, match="unreachable"):
        LLMClient(config).chat("coder", MSG)


def test_model_not_found_lists_models(server, config):
    server.models = ["tiny-coder", "qwen2.5-coder:7b"]
    with pytest.raises(LLMModelNotFoundError) as err:
        LLMClient(replace(config, model="nope")).chat("coder", MSG)
    assert "qwen2.5-coder:7b, tiny-coder" in str(err.value) and "\n" not in str(err.value)


def test_context_too_long(server, config):
    server.add(Scripted(status=400, error="This model's maximum context length is 4096 tokens"))
    with pytest.raises(LLMContextError, match="context window"):
        LLMClient(config).chat("coder", MSG)


def test_request_budget(server, config):
    server.add("a", "b")
    client = LLMClient(replace(config, max_requests=1))
    client.chat("coder", MSG)
    with pytest.raises(LLMBudgetError, match="request budget"):
        client.chat("coder", MSG)


def test_token_budget(server, config):
    server.add("a", "b")
    client = LLMClient(replace(config, max_tokens=15))
    client.chat("coder", MSG)
    with pytest.raises(LLMBudgetError, match="token budget"):
        client.chat("coder", MSG)


def test_role_overrides(server, config):
    server.models = ["tiny-coder", "big"]
    server.add("a")
    config = replace(config, roles={"coder": RoleConfig(model="big", temperature=0.7, seed=5)})
    LLMClient(config).chat("coder", MSG)
    assert server.requests[0]["model"] == "big" and server.requests[0]["temperature"] == 0.7
    assert server.requests[0]["seed"] == 5


def test_replay_serves_the_recorded_replies_without_the_server(server, config, tmp_path):
    server.add("one", "two", "judge")
    log = tmp_path / "llm_calls.jsonl"
    live = LLMClient(config, log)
    replies = [live.chat("coder", MSG).text, live.chat("evaluator", MSG).text,
               live.chat("coder", MSG).text]
    server.stop()
    replay = LLMClient(LLMConfig(replay=log), tmp_path / "again.jsonl")
    again = [replay.chat("coder", MSG).text, replay.chat("evaluator", MSG).text,
             replay.chat("coder", MSG).text]
    assert again == replies
    with pytest.raises(LLMReplayError):
        replay.chat("coder", MSG)
    drifted = LLMClient(LLMConfig(replay=log), tmp_path / "drift.jsonl")
    drifted.chat("coder", [{"role": "user", "content": "something else"}])
    assert json.loads((tmp_path / "drift.jsonl").read_text())["replay_mismatch"] is True
    assert not any(json.loads(line)["replay_mismatch"]
                   for line in (tmp_path / "again.jsonl").read_text().splitlines())
    server.start()  # the fixture stops it again


def test_from_env(monkeypatch):
    env = {"DEEPTHINKER_LLM_URL": "http://h:1/v1", "DEEPTHINKER_LLM_MODEL": "m"}
    config = LLMConfig.from_env(env, timeout=9.0)
    assert (config.base_url, config.model, config.timeout) == ("http://h:1/v1", "m", 9.0)


def test_extraction():
    reply = ("<think>maybe ```python\nimport os\n```</think>Here is the code:\n"
             "```python\nx = 1\n```\nand a JSON ```json\n{\"a\": 1}\n```")
    assert code_blocks(reply) == ["x = 1"]
    assert "think" not in strip_reasoning(reply)
    assert prose(reply).startswith("Here is the code")
    assert json_object('noise {"score": 7, "issues": []} tail') == {"score": 7, "issues": []}
    assert json_object("no json") is None


def test_retry_after_header_is_honoured_and_capped():
    class Response:
        def __init__(self, headers):
            self.headers = headers

    class Limited(Exception):
        def __init__(self, headers):
            self.response = Response(headers)

    assert _delay(Limited({"retry-after": "2"}), 0.5) == 2.0
    assert _delay(Limited({"retry-after": "9999"}), 0.5) == 30.0
    assert _delay(Limited({}), 0.5) == 0.5
    assert _delay(ValueError("no response"), 0.25) == 0.25
