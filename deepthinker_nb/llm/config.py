"""What a model-backed run talks to, and how much it may spend."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deepthinker_nb.errors import ConfigError

ENV_URL = "DEEPTHINKER_LLM_URL"
ENV_MODEL = "DEEPTHINKER_LLM_MODEL"
ENV_KEY = "DEEPTHINKER_LLM_API_KEY"
ENV_KEY_FALLBACK = "OPENAI_API_KEY"
ROLES = ("planner", "researcher", "coder", "evaluator", "simulator")


@dataclass(frozen=True)
class RoleConfig:
    """Per-council overrides; ``None`` keeps the run-wide value."""

    model: str | None = None
    temperature: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible chat-completions endpoint (Ollama ``/v1``, vLLM, llama.cpp, hosted).

    The API key is deliberately no field: it is read from the environment when the client is
    built, so it never lands in a manifest, a log or a notebook that records this config.
    """

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = ""
    temperature: float = 0.2
    seed: int | None = 0
    roles: dict[str, RoleConfig] = field(default_factory=dict)
    timeout: float = 120.0
    """Seconds one request may take before it fails (no hang on a stuck server)."""
    max_retries: int = 3
    """Retries of a refused connection, HTTP 429 or 5xx; a timeout is not retried."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time, capped at 30."""
    max_requests: int | None = 200
    """Requests per run (None: no limit)."""
    max_tokens: int | None = None
    """Prompt plus completion tokens per run, as the server reports them (None: no limit)."""
    max_reply_tokens: int | None = None
    replay: Path | None = None
    """A call log to serve the replies from instead of the endpoint (reproduces a run)."""

    def __post_init__(self) -> None:
        if self.replay is None and not self.model:
            raise ConfigError(f"llm: name a model (--model or {ENV_MODEL})")
        if self.timeout <= 0:
            raise ConfigError("llm: timeout must be positive seconds")
        if self.max_retries < 0:
            raise ConfigError("llm: max_retries must be 0 or more")
        unknown = {r for r in self.roles if r.split(":", 1)[0] not in ROLES}
        if unknown:
            raise ConfigError(f"llm: unknown role(s) {sorted(unknown)}; known: {list(ROLES)}")

    def for_role(self, role: str) -> RoleConfig:
        """The model, temperature and seed ``role`` uses. A council member's role,
        ``<council>:<member>`` (``coder:qwen-t0.8``), falls back to its council's settings,
        then to the run-wide ones."""
        council = role.split(":", 1)[0]
        base = self.roles.get(council, RoleConfig())
        own = self.roles.get(role, RoleConfig()) if role != council else RoleConfig()

        def first(*values: Any) -> Any:
            return next((v for v in values if v is not None), None)

        return RoleConfig(
            model=own.model or base.model or self.model,
            temperature=first(own.temperature, base.temperature, self.temperature),
            seed=first(own.seed, base.seed, self.seed),
        )

    def with_role(self, role: str, **overrides: Any) -> LLMConfig:
        roles = dict(self.roles)
        roles[role] = replace(roles.get(role, RoleConfig()), **overrides)
        return replace(self, roles=roles)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> LLMConfig:
        """``DEEPTHINKER_LLM_URL`` and ``DEEPTHINKER_LLM_MODEL``; ``overrides`` win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get(ENV_URL):
            values["base_url"] = env[ENV_URL]
        if env.get(ENV_MODEL):
            values["model"] = env[ENV_MODEL]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """For a manifest: everything but secrets (there are none in the config)."""
        return {"base_url": self.base_url, "model": self.model, "temperature": self.temperature,
                "seed": self.seed, "timeout": self.timeout,
                "roles": {k: vars(v) for k, v in self.roles.items()},
                "max_requests": self.max_requests, "max_tokens": self.max_tokens,
                "replay": str(self.replay) if self.replay else None}


def api_key(env: dict[str, str] | None = None) -> str:
    """The key from the environment; local servers accept any non-empty string."""
    env = os.environ if env is None else env
    return env.get(ENV_KEY) or env.get(ENV_KEY_FALLBACK) or "not-needed"


__all__ = ["ENV_KEY", "ENV_MODEL", "ENV_URL", "ROLES", "LLMConfig", "RoleConfig", "api_key"]
