"""Fixtures shared by every suite.

Docker tests run against the real engine: without one they skip with the reason, unless
``DEEPTHINKER_REQUIRE_DOCKER=1`` (CI), where they fail. Whatever happens, no container labelled
by this process outlives the session.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_host_secrets_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret-looking variable in the host, which no kernel may ever see."""
    monkeypatch.setenv("MY_API_TOKEN", "host-secret-do-not-leak")


def pytest_report_header(config: pytest.Config) -> str:
    required = os.environ.get("DEEPTHINKER_REQUIRE_DOCKER", "0")
    return f"deepthinker-nb tests; DEEPTHINKER_REQUIRE_DOCKER={required}"


# -- Docker: one engine check and one leak check for every suite that uses containers --------
REQUIRE = os.environ.get("DEEPTHINKER_REQUIRE_DOCKER") == "1"


def _engine_or_reason():
    from deepthinker_nb.config.docker import DEFAULT_IMAGE
    from deepthinker_nb.kernel.docker.engine import (
        DockerUnavailableError,
        ImageMissingError,
        get_client,
        require_image,
    )

    try:
        client = get_client(timeout=10)
        require_image(client, DEFAULT_IMAGE)
    except (DockerUnavailableError, ImageMissingError) as exc:
        return None, str(exc)
    return client, None


@pytest.fixture(scope="session")
def docker_engine():
    client, reason = _engine_or_reason()
    if client is None:
        if REQUIRE:
            pytest.fail(f"DEEPTHINKER_REQUIRE_DOCKER=1 but: {reason}", pytrace=False)
        pytest.skip(reason)
    return client


def ours(client, pid: int | None = None) -> list:
    from deepthinker_nb.kernel.docker.orphans import LABEL_OWNER

    label = LABEL_OWNER if pid is None else f"{LABEL_OWNER}={pid}"
    return client.containers.list(all=True, filters={"label": label})


@pytest.fixture(scope="session", autouse=True)
def no_container_left_behind():
    yield
    client, _ = _engine_or_reason()
    if client is None:
        return
    left = ours(client, os.getpid())
    for container in left:  # never leak, even when failing
        container.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"




@pytest.fixture
def our_containers(docker_engine):
    """``our_containers(pid=None)``: containers labelled by us (by ``pid`` when given)."""
    return lambda pid=None: ours(docker_engine, pid)
