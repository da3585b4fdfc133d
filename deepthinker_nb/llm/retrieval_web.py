"""Web search for the researcher, behind a small interface (:class:`SearchProvider`) with one
implementation: a SearXNG instance's JSON API (``--search-url URL``).

A search that fails (unreachable, an HTTP error, a reply that is not SearXNG's JSON) raises
:class:`SearchError` with a one-line message; :class:`ResearchSources` turns it into a warning
and the run goes on without web results.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from deepthinker_nb.errors import ConfigError
from deepthinker_nb.llm.errors import LLMError
from deepthinker_nb.llm.retrieval import DocumentIndex, Passage

log = logging.getLogger("deepthinker_nb.llm")

SNIPPET_CHARS = 600
MAX_REPLY_BYTES = 2 * 1024 * 1024


class SearchError(LLMError):
    """The search provider did not answer usefully."""


@runtime_checkable
class SearchProvider(Protocol):
    def search(self, query: str, k: int = 5) -> list[Passage]:
        """Up to ``k`` results (``kind="web"``, ``source`` the URL); raises SearchError."""
        ...


@dataclass(frozen=True)
class SearxngSearch:
    """``GET {url}/search?q=...&format=json`` of a SearXNG instance (its JSON output must be
    enabled in the instance's ``settings.yml``: ``search: formats: [html, json]``)."""

    url: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"--search-url: {self.url!r} is not an http(s) URL; give the "
                              "SearXNG instance's address, e.g. http://127.0.0.1:8888")

    def search(self, query: str, k: int = 5) -> list[Passage]:
        address = (self.url.rstrip("/") + "/search?"
                   + urllib.parse.urlencode({"q": query, "format": "json"}))
        request = urllib.request.Request(address, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SearchError(f"search: {self.url} answered HTTP {exc.code} (is its JSON "
                              "format enabled?)") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SearchError(f"search: {self.url} unreachable ({reason})") from None
        if len(body) > MAX_REPLY_BYTES:
            raise SearchError(f"search: {self.url} sent more than {MAX_REPLY_BYTES} bytes")
        try:
            results = json.loads(body)["results"]
            assert isinstance(results, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise SearchError(f"search: {self.url} did not answer SearXNG's JSON "
                              "(a 'results' list)") from None
        found = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                continue
            text = " ".join(str(item.get("content") or "").split())[:SNIPPET_CHARS]
            found.append(Passage(item["url"], text, " ".join(str(item.get("title") or "")
                                                               .split())[:200], "web",
                                 float(item.get("score") or 0.0)))
            if len(found) >= k:
                break
        return found


@dataclass
class ResearchSources:
    """What the model-backed researcher may consult besides the kernel's reconnaissance: the
    user's documents and a search provider, ``k`` passages from each."""

    docs: DocumentIndex | None = None
    search: SearchProvider | None = None
    k: int = 5
    notes: list[str] = field(default_factory=list)
    """Warnings of the last :meth:`gather` (and of reading the docs)."""

    def gather(self, query: str) -> list[Passage]:
        """The top passages for ``query``; a failing search is a one-line warning, not an
        error."""
        self.notes = list(self.docs.warnings) if self.docs is not None else []
        passages = self.docs.search(query, self.k) if self.docs is not None else []
        if self.search is not None:
            try:
                passages += self.search.search(query, self.k)
            except SearchError as exc:
                log.warning("%s; the research goes on without web results", exc)
                self.notes.append(str(exc))
        return passages

    def describe(self) -> dict[str, Any]:
        return {"docs": str(self.docs.root) if self.docs is not None else None,
                "docs_passages": len(self.docs.passages) if self.docs is not None else 0,
                "search": getattr(self.search, "url", type(self.search).__name__)
                if self.search is not None else None}


__all__ = ["ResearchSources", "SearchError", "SearchProvider", "SearxngSearch"]
