"""Errors of the model client: each message is one line that says what the user can do."""

from __future__ import annotations

from deepthinker_nb.errors import DeepThinkerError


class LLMError(DeepThinkerError):
    """A model call failed in a way retrying here will not fix."""


class LLMUnavailableError(LLMError):
    """The endpoint did not answer (refused, timed out, or kept failing)."""


class LLMModelNotFoundError(LLMError):
    """The server does not have the model; the message lists the models it has."""


class LLMRateLimitError(LLMError):
    """Still rate-limited after the retries."""


class LLMContextError(LLMError):
    """The prompt does not fit the model's context window."""


class LLMBudgetError(LLMError):
    """The run's request or token budget is spent."""


class LLMNoCodeError(LLMError):
    """The model's replies held no code that parses."""


class LLMReplayError(LLMError):
    """Replay mode has no recorded reply left for this call."""


__all__ = ["LLMBudgetError", "LLMContextError", "LLMError", "LLMModelNotFoundError",
           "LLMNoCodeError", "LLMRateLimitError", "LLMReplayError", "LLMUnavailableError"]
