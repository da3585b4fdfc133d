"""A SearXNG-compatible search server on 127.0.0.1: ``GET /search?q=...&format=json`` answers
the JSON SearXNG does, with scripted results; it remembers the queries."""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SearxServer:
    results: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    status: int = 200

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path != "/search" or query.get("format") != ["json"]:
                    status, body = 403, b"Forbidden"  # what SearXNG says without format json
                else:
                    server.queries.append(query.get("q", [""])[0])
                    status = server.status
                    body = json.dumps({"query": query.get("q", [""])[0],
                                       "number_of_results": len(server.results),
                                       "results": server.results}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
