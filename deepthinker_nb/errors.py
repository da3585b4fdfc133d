"""The exception hierarchy: one base so callers can catch everything we raise on purpose."""

from __future__ import annotations


class DeepThinkerError(Exception):
    """Base class of every error deepthinker-nb raises deliberately."""


class ConfigError(DeepThinkerError, ValueError):
    """A configuration value is invalid; the message names the field and what to do."""


class KernelError(DeepThinkerError):
    """A kernel could not be started or controlled."""


class KernelStartError(KernelError):
    """The kernel did not come up (bad spec, crashed at start, or not ready in time)."""


class BackendUnavailableError(KernelError):
    """The requested execution backend cannot be used here (e.g. no Docker engine)."""
