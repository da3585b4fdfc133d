from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from llm_server import ScriptedServer

from deepthinker_nb.llm import LLMConfig


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    pytest.importorskip("openai")
    s = ScriptedServer()
    s.url = s.start()
    yield s
    s.stop()


@pytest.fixture
def config(server: ScriptedServer) -> LLMConfig:
    return LLMConfig(base_url=server.url, model="tiny-coder", timeout=5.0, backoff=0.01,
                     max_retries=2)
