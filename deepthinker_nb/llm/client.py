"""A chat-completions client with retries, timeouts, budgets, a call log and replay.

The ``openai`` package (the ``[llm]`` extra) is imported only when a live client is built, so
the offline product and replay need nothing installed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepthinker_nb.llm.config import ROLES, LLMConfig, api_key
from deepthinker_nb.llm.errors import (
    LLMBudgetError,
    LLMContextError,
    LLMError,
    LLMModelNotFoundError,
    LLMRateLimitError,
    LLMUnavailableError,
)
from deepthinker_nb.llm.log import CallLog, CallRecord, Replay

MAX_BACKOFF = 30.0
CONTEXT_HINTS = ("context length", "context window", "maximum context", "too long",
                 "context_length_exceeded", "too many tokens")


@dataclass
class Reply:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit] + "..."


def _delay(exc: Exception, backoff: float) -> float:
    """The server's Retry-After when it gives one (capped), else the backoff."""
    response = getattr(exc, "response", None)
    try:
        after = float(response.headers.get("retry-after"))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        after = None
    return min(MAX_BACKOFF, after if after is not None and after >= 0 else backoff)


class LLMClient:
    """One per run: it counts the run's requests and tokens and owns its call log."""

    def __init__(self, config: LLMConfig, log_path: Path | str | None = None) -> None:
        self.config = config
        self.log = CallLog(log_path)
        self.replay = Replay(config.replay) if config.replay is not None else None
        self.requests = 0
        self.tokens = 0
        self._lock = threading.Lock()
        self._client: Any = None

    # -- the endpoint ------------------------------------------------------------------------
    def _openai(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise LLMError("the openai package is missing: pip install 'deepthinker-nb[llm]'")
            # Retries are ours (budget-aware, a timeout is not retried), so the SDK's are off.
            self._client = openai.OpenAI(base_url=self.config.base_url, api_key=api_key(),
                                         timeout=self.config.timeout, max_retries=0)
        return self._client

    def models(self) -> list[str]:
        """The model ids the server lists (empty when it cannot say)."""
        try:
            return sorted(m.id for m in self._openai().models.list())
        except Exception:
            return []

    def check(self) -> None:
        """Fail fast, in one line, when the endpoint does not answer or lacks a model the
        councils will ask for (a server that lists no models is given the benefit of doubt)."""
        if self.replay is not None:
            return
        import openai

        try:
            have = sorted(m.id for m in self._openai().models.list())
        except openai.APIConnectionError:  # includes a timeout
            raise LLMUnavailableError(f"llm: endpoint {self.config.base_url} unreachable (is "
                                      "the server running? check --llm-url)")
        except openai.APIStatusError:
            return  # some servers have no models endpoint; the first call will tell
        wanted = {self.config.for_role(r).model
                  for r in (*ROLES, *self.config.roles)} - {None, ""}
        missing = sorted(m for m in wanted if have and m not in have)
        if missing:
            raise LLMModelNotFoundError(f"llm: model {missing[0]!r} not found at "
                                        f"{self.config.base_url}; the server has: "
                                        f"{', '.join(have)}")

    # -- a call ------------------------------------------------------------------------------
    def chat(self, role: str, messages: list[dict[str, str]]) -> Reply:
        """The model's reply to ``messages`` on behalf of council ``role``."""
        settings = self.config.for_role(role)
        model = settings.model or ""
        if self.replay is not None:
            record = self.replay.next(role)
            reply = Reply(record["reply"], record.get("model", model),
                          record.get("prompt_tokens", 0), record.get("completion_tokens", 0))
            self.log.append(CallRecord(role, reply.model, messages, reply.text,
                                       reply.prompt_tokens, reply.completion_tokens,
                                       replayed=True,
                                       replay_mismatch=record.get("messages") != messages))
            return reply
        self._charge()
        params: dict[str, Any] = {"temperature": settings.temperature}
        if settings.seed is not None:
            params["seed"] = settings.seed
        if self.config.max_reply_tokens is not None:
            params["max_tokens"] = self.config.max_reply_tokens
        started = time.perf_counter()
        try:
            response = self._with_retries(model, messages, params)
        except LLMError as exc:
            self.log.append(CallRecord(role, model, messages, "", error=str(exc), params=params,
                                       latency=time.perf_counter() - started))
            raise
        latency = time.perf_counter() - started
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        with self._lock:
            self.tokens += prompt + completion
        choices = getattr(response, "choices", None) or []
        text = (choices[0].message.content or "") if choices else ""
        self.log.append(CallRecord(role, model, messages, text, prompt, completion, latency,
                                   params=params))
        return Reply(text, model, prompt, completion, latency)

    def _charge(self) -> None:
        with self._lock:
            limit = self.config.max_requests
            if limit is not None and self.requests >= limit:
                raise LLMBudgetError(f"llm: request budget spent ({limit} requests this run)")
            if self.config.max_tokens is not None and self.tokens >= self.config.max_tokens:
                raise LLMBudgetError(f"llm: token budget spent ({self.tokens} of "
                                     f"{self.config.max_tokens} tokens this run)")
            self.requests += 1

    def _with_retries(self, model: str, messages: list[dict[str, str]],
                      params: dict[str, Any]) -> Any:
        import openai

        client = self._openai()
        url = self.config.base_url
        attempt = 0
        while True:
            try:
                return client.chat.completions.create(model=model, messages=messages, **params)
            except openai.APITimeoutError:
                raise LLMUnavailableError(f"llm: no reply from {url} within "
                                          f"{self.config.timeout:g}s (raise the timeout or use "
                                          "a smaller model)")
            except openai.NotFoundError as exc:
                have = self.models()
                if have and model not in have:
                    raise LLMModelNotFoundError(f"llm: model {model!r} not found at {url}; "
                                                f"the server has: {', '.join(have)}")
                raise LLMError(f"llm: {url} answered 404: {_one_line(exc.message)}")
            except openai.BadRequestError as exc:
                message = _one_line(exc.message)
                if any(h in message.lower() for h in CONTEXT_HINTS):
                    raise LLMContextError(f"llm: the prompt does not fit {model!r}'s context "
                                          f"window ({message}); use a model with a longer one")
                raise LLMError(f"llm: {url} refused the request: {message}")
            except openai.AuthenticationError:
                raise LLMError(f"llm: {url} refused the API key (set DEEPTHINKER_LLM_API_KEY "
                               "or OPENAI_API_KEY)")
            except (openai.RateLimitError, openai.APIConnectionError,
                    openai.InternalServerError) as exc:
                if attempt >= self.config.max_retries:
                    raise self._gave_up(exc, attempt)
                time.sleep(_delay(exc, self.config.backoff * 2 ** attempt))
                attempt += 1

    def _gave_up(self, exc: Exception, attempt: int) -> LLMError:
        import openai

        url = self.config.base_url
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        if isinstance(exc, openai.RateLimitError):
            return LLMRateLimitError(f"llm: {url} is still rate-limiting after {tries}; wait or "
                                     "lower the request rate")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(f"llm: endpoint {url} unreachable after {tries} (is the "
                                       "server running? check --llm-url)")
        return LLMUnavailableError(f"llm: {url} failed after {tries}: "
                                   f"{_one_line(getattr(exc, 'message', exc))}")


__all__ = ["LLMClient", "Reply"]
