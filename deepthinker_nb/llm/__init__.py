"""Language-model access for the councils: config, client, call log and replay, extraction."""

from __future__ import annotations

from deepthinker_nb.llm.client import LLMClient, Reply
from deepthinker_nb.llm.config import LLMConfig, RoleConfig
from deepthinker_nb.llm.errors import (
    LLMBudgetError,
    LLMContextError,
    LLMError,
    LLMModelNotFoundError,
    LLMNoCodeError,
    LLMRateLimitError,
    LLMReplayError,
    LLMUnavailableError,
)
from deepthinker_nb.llm.log import LOG_NAME, CallLog, CallRecord, Replay

__all__ = [
    "LOG_NAME",
    "CallLog",
    "CallRecord",
    "LLMBudgetError",
    "LLMClient",
    "LLMConfig",
    "LLMContextError",
    "LLMError",
    "LLMModelNotFoundError",
    "LLMNoCodeError",
    "LLMRateLimitError",
    "LLMReplayError",
    "LLMUnavailableError",
    "Replay",
    "Reply",
    "RoleConfig",
]
