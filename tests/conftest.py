"""Fixtures shared by every suite.

Docker tests run against the real engine: without one they skip with the reason, unless
``DEEPTHINKER_REQUIRE_DOCKER=1`` (CI), where they fail. Whatever happens, no container labelled
by this process outlives the session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from typing import Any

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


# -- A server on the host that sandboxed kernels must not reach ----------------------------------
class HostListener:
    """A server on the host recording every connection, greeting each with a banner."""

    def __init__(self, family: int, address: Any) -> None:
        self.banner = f"HOST-LISTENER-{uuid.uuid4().hex[:12]}".encode()
        self.hits: list[Any] = []
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family != socket.AF_UNIX:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits.append(peer)
            with contextlib.suppress(OSError), conn:
                conn.sendall(self.banner + b"\n")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def host_listener():
    """``host_listener(family, address)``: a listening server on the host, closed afterwards;
    its ``hits`` lists every peer that connected."""
    made: list[HostListener] = []

    def make(family: int, address: Any) -> HostListener:
        made.append(HostListener(family, address))
        return made[-1]

    yield make
    for listener in made:
        listener.close()
