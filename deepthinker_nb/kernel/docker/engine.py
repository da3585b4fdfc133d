"""The Docker engine client, and the errors a user can act on when it is not there.

Every entry point that needs the engine goes through :func:`get_client`, so "no engine" always
reads the same, one line that says how to start one or how to do without.
"""

from __future__ import annotations

import os
import threading
import time

from deepthinker_nb.config.docker import MountError
from deepthinker_nb.errors import BackendUnavailableError

try:  # the docker SDK is a dependency, but keep the message clear if it is missing
    import docker
    import docker.errors
except ImportError:  # pragma: no cover - exercised only in broken installs
    docker = None  # type: ignore[assignment]


__all__ = ["DockerUnavailableError", "ImageMissingError", "MountError", "get_client"]


class DockerUnavailableError(BackendUnavailableError):
    """No Docker engine answers (not installed, not started, or no permission on its socket)."""


class ImageMissingError(BackendUnavailableError):
    """The kernel image is not present in the local engine."""


_NO_ENGINE_HINT = (
    "start one (e.g. `sudo dockerd &` or `sudo systemctl start docker`, or run "
    "`bash .ci/docker-up.sh`), or use the local backend (--backend local; "
    "backend='local' in Python)"
)

_lock = threading.Lock()
_client = None
_checked = 0.0
PING_INTERVAL = 2.0
"""Seconds a successful ping is trusted: control paths (interrupt, poll) skip a round trip."""


def get_client(timeout: float = 30.0):
    """A cached, pinged ``docker.DockerClient``; raises :class:`DockerUnavailableError`."""
    global _client
    if docker is None:
        raise DockerUnavailableError(
            "the docker Python SDK is not installed (pip install docker); or use --backend "
            "local (backend='local' in Python)"
        )
    global _checked
    with _lock:
        if _client is not None:
            if time.monotonic() - _checked < PING_INTERVAL:
                return _client
            try:
                _client.ping()
                _checked = time.monotonic()
                return _client
            except Exception:
                _client = None
        try:
            client = docker.from_env(timeout=int(timeout))
            client.ping()
        except Exception as exc:
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise DockerUnavailableError(
                f"no Docker engine answers at {host} ({reason}); {_NO_ENGINE_HINT}"
            ) from None
        _client, _checked = client, time.monotonic()
        return client


def new_client(timeout: float = 30.0):
    """A fresh, uncached client: for long-lived streams (events) that hold their connection."""
    get_client(timeout)  # the same actionable error when no engine answers
    return docker.from_env(timeout=int(timeout))


def require_image(client, image: str) -> None:
    """Raise :class:`ImageMissingError` (saying how to build it) when ``image`` is absent."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise ImageMissingError(
            f"kernel image {image!r} is not in the local Docker engine; build it with "
            "`deepthinker-nb image build`"
        ) from None
