"""Turning one request's IOPub messages into a CellResult, within a memory budget."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput, strip_ansi

DEFAULT_OUTPUT_LIMIT = 1024 * 1024
"""Characters per stream (and per cell for rich outputs) a result holds in memory."""

# What the in-kernel launcher writes when its own (larger) budget ran out.
_KERNEL_DROP_MARKER = re.compile(
    r"\n\[deepthinker-nb: (\d+) more characters of \w+ dropped by the output limit\]\n"
)

_MEMORY_SIGNS = re.compile(
    r"MemoryError|Cannot allocate memory|bad_alloc|out of memory|Unable to allocate", re.I
)

StreamCallback = Callable[[str], Any]
OutputCallback = Callable[[RichOutput], Any]


class _Stream:
    """Text of one stream, kept up to ``limit`` characters; the rest is only counted."""

    __slots__ = ("dropped", "limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = self.limit - self.size
        if len(text) <= room:
            self.parts.append(text)
            self.size += len(text)
            return
        if room > 0:
            self.parts.append(text[:room])
            self.size = self.limit
        self.dropped += len(text) - max(room, 0)

    def text(self, name: str) -> str:
        joined = "".join(self.parts)
        if self.dropped:
            joined += f"\n[deepthinker-nb: {self.dropped} more characters of {name} dropped]\n"
        return joined

    def clear(self) -> None:
        self.parts.clear()
        self.size = 0


def _bundle_size(data: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())


class OutputCollector:
    """Accumulates the outputs of one execute request and fires the streaming callbacks."""

    def __init__(
        self,
        limit: int = DEFAULT_OUTPUT_LIMIT,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
        on_output: OutputCallback | None = None,
    ) -> None:
        self.limit = limit
        self.streams = {"stdout": _Stream(limit), "stderr": _Stream(limit)}
        self.outputs: list[RichOutput] = []
        self.outputs_size = 0
        self.outputs_dropped = 0
        self.error: ErrorInfo | None = None
        self.execution_count: int | None = None
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self._on_output = on_output

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        if kind == "stream":
            name = content.get("name", "stdout")
            text = content.get("text", "")
            stream = self.streams.setdefault(name, _Stream(self.limit))
            if "[deepthinker-nb:" in text:
                for match in _KERNEL_DROP_MARKER.finditer(text):
                    stream.dropped += int(match.group(1))
                text = _KERNEL_DROP_MARKER.sub("", text)
            stream.add(text)
            await self._fire(self._callbacks.get(name), text)
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            output = RichOutput(
                output_type=kind,
                data=data,
                metadata=content.get("metadata", {}),
                execution_count=content.get("execution_count"),
                stdout_offset=self.streams["stdout"].size,
                stderr_offset=self.streams["stderr"].size,
                display_id=(content.get("transient") or {}).get("display_id"),
            )
            size = _bundle_size(data)
            if self.outputs_size + size <= self.limit:
                self.outputs.append(output)
                self.outputs_size += size
            else:
                self.outputs_dropped += size
            await self._fire(self._on_output, output)
        elif kind == "error":
            self.error = ErrorInfo(
                ename=content.get("ename", "Error"),
                evalue=content.get("evalue", ""),
                traceback=[strip_ansi(line) for line in content.get("traceback", [])],
            )
        elif kind == "update_display_data":
            self._update_display(content)
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count", self.execution_count)
        elif kind == "clear_output":
            # Progress bars redraw this way; keep what the notebook would show at the end.
            for stream in self.streams.values():
                stream.clear()
            self.outputs.clear()
            self.outputs_size = 0

    def _update_display(self, content: dict[str, Any]) -> None:
        """Redraw the outputs shown under a display id, as a notebook front end does (progress
        displays update this way); the size cap still holds."""
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id is None:
            return
        data = content.get("data", {})
        for index, output in enumerate(self.outputs):
            if output.display_id != display_id:
                continue
            grown = _bundle_size(data) - _bundle_size(output.data)
            if self.outputs_size + grown > self.limit:
                self.outputs_dropped += max(grown, 0)
                continue
            self.outputs_size += grown
            self.outputs[index] = replace(output, data=data,
                                          metadata=content.get("metadata", {}))

    def mentions_memory_exhaustion(self) -> bool:
        """Whether the cell's own output shows an allocation failure (evidence for a death)."""
        texts = [*self.streams["stdout"].parts[-3:], *self.streams["stderr"].parts[-3:]]
        if self.error is not None:
            texts.append(f"{self.error.ename}: {self.error.evalue}")
        return any(_MEMORY_SIGNS.search(text) for text in texts)

    @staticmethod
    async def _fire(callback: Callable[[Any], Any] | None, value: Any) -> None:
        if callback is None:
            return
        result = callback(value)
        if inspect.isawaitable(result):
            await result

    def result(self, status: str, **fields: Any) -> CellResult:
        out, err = self.streams["stdout"], self.streams["stderr"]
        dropped = {"stdout": out.dropped, "stderr": err.dropped, "outputs": self.outputs_dropped}
        fields.setdefault("execution_count", self.execution_count)
        return CellResult(
            status=status,  # type: ignore[arg-type]
            stdout=out.text("stdout"),
            stderr=err.text("stderr"),
            outputs=list(self.outputs),
            error=fields.pop("error", self.error),
            stdout_truncated=bool(out.dropped),
            stderr_truncated=bool(err.dropped),
            outputs_truncated=bool(self.outputs_dropped),
            dropped_bytes={k: v for k, v in dropped.items() if v},
            **fields,
        )
