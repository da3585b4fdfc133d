"""The JSON-lines log of every model call, and the replay that serves its replies again."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.llm.errors import LLMReplayError

LOG_NAME = "llm_calls.jsonl"


@dataclass
class CallRecord:
    role: str
    model: str
    messages: list[dict[str, str]]
    reply: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    replayed: bool = False
    replay_mismatch: bool = False
    """Replay only: the prompt differs from the recorded one (the run has drifted)."""
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class CallLog:
    """Appends one JSON line per call; a line is flushed before the next call starts, so a run
    that dies keeps every call it made."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()

    def append(self, record: CallRecord) -> None:
        if self.path is None:
            return
        line = json.dumps(asdict(record), ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")


class Replay:
    """The recorded replies of a log, served per role in the order they were made."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LLMReplayError(f"replay: no call log at {self.path}")
        self._replies: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("error") is None:
                    self._replies[record["role"]].append(record)
        self._lock = threading.Lock()

    def next(self, role: str) -> dict[str, Any]:
        with self._lock:
            queue = self._replies.get(role)
            if not queue:
                raise LLMReplayError(f"replay: {self.path.name} has no more {role} replies; "
                                     "the run asked for more calls than were recorded")
            return queue.popleft()


__all__ = ["LOG_NAME", "CallLog", "CallRecord", "Replay"]
