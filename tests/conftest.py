"""Fixtures shared by every suite."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_host_secrets_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret-looking variable in the host, which no kernel may ever see."""
    monkeypatch.setenv("MY_API_TOKEN", "host-secret-do-not-leak")


def pytest_report_header(config: pytest.Config) -> str:
    return f"deepthinker-nb tests; DEEPTHINKER_REQUIRE_DOCKER={os.environ.get('DEEPTHINKER_REQUIRE_DOCKER', '0')}"
