"""Container state for ``poll()`` without an engine round trip per call.

One daemon thread per process follows Docker's event stream for the containers this process
owns and records ``die`` (exit code) and ``oom`` events. An OOM-killed kernel sends nothing on
its sockets, so this, not a heartbeat, is how the session learns within a second that the kernel
died and why. If the stream breaks, :meth:`ContainerState` users fall back to ``inspect``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

from deepthinker_nb.kernel.docker.engine import new_client
from deepthinker_nb.kernel.docker.orphans import LABEL_OWNER


@dataclass
class ContainerState:
    exit_code: int | None = None
    oom_killed: bool = False
    updated: float = field(default_factory=time.monotonic)


class EventWatcher:
    """Process-wide follower of ``docker events`` for our containers."""

    _instance: EventWatcher | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._states: dict[str, ContainerState] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stream = None
        self._pid = os.getpid()
        self._ready = threading.Event()

    @classmethod
    def instance(cls) -> EventWatcher:
        with cls._instance_lock:
            if cls._instance is None or cls._instance._pid != os.getpid():
                cls._instance = cls()
            cls._instance._ensure_running()
            return cls._instance

    @classmethod
    def running(cls) -> bool:
        """Whether this process's stream is being followed (never starts or blocks)."""
        inst = cls._instance
        return inst is not None and inst._pid == os.getpid() and inst.alive

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _ensure_running(self) -> None:
        if self.alive:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="dtk-docker-events", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)  # subscribed before any container we care about is created

    def _run(self) -> None:
        try:
            client = new_client()
            self._stream = client.events(
                decode=True,
                filters={"type": "container", "label": f"{LABEL_OWNER}={self._pid}"},
            )
        except Exception:
            self._ready.set()
            return
        self._ready.set()
        with contextlib.suppress(Exception):
            for event in self._stream:
                self._on_event(event)

    def _on_event(self, event: dict) -> None:
        action = event.get("Action") or event.get("status") or ""
        cid = event.get("id") or (event.get("Actor") or {}).get("ID")
        if not cid:
            return
        with self._lock:
            state = self._states.setdefault(cid, ContainerState())
            if action == "oom":
                state.oom_killed = True
            elif action == "die":
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                try:
                    state.exit_code = int(attrs.get("exitCode", -1))
                except ValueError:
                    state.exit_code = -1
            state.updated = time.monotonic()

    def state(self, cid: str) -> ContainerState:
        with self._lock:
            return self._states.setdefault(cid, ContainerState())

    def forget(self, cid: str) -> None:
        with self._lock:
            self._states.pop(cid, None)
