"""A real chat-completions HTTP server on 127.0.0.1 that answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One answer: a reply text, or an HTTP error status, optionally after a delay."""

    text: str = ""
    status: int = 200
    delay: float = 0.0
    error: str = ""


@dataclass
class ScriptedServer:
    models: list[str] = field(default_factory=lambda: ["tiny-coder"])
    script: deque[Scripted] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    default: Scripted | None = None
    per_model: dict[str, deque[Scripted]] = field(default_factory=dict)
    """Answers for one model, before the shared script: concurrent callers of different
    models get their own replies whatever order their requests arrive in."""

    def add(self, *items: Scripted | str) -> None:
        self.script.extend(Scripted(i) if isinstance(i, str) else i for i in items)

    def add_for(self, model: str, *items: Scripted | str) -> None:
        self.per_model.setdefault(model, deque()).extend(
            Scripted(i) if isinstance(i, str) else i for i in items)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                        for m in server.models]})
                else:
                    self._send(404, {"error": {"message": "no such path"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if body.get("model") not in server.models:
                    self._send(404, {"error": {"message": f"model '{body.get('model')}' not "
                                               "found", "type": "not_found"}})
                    return
                own = server.per_model.get(body["model"])
                item = (own.popleft() if own else server.script.popleft() if server.script
                        else server.default)
                if item is None:
                    self._send(500, {"error": {"message": "script exhausted"}})
                    return
                if item.delay:
                    time.sleep(item.delay)
                if item.status != 200:
                    self._send(item.status, {"error": {"message": item.error or "error",
                                                       "type": "error"}})
                    return
                self._send(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": item.text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
