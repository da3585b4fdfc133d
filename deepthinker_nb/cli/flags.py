"""Config errors in the words of the command line: the flag a user typed, not a Python field.

The configs (``DataConfig``, ``IterationConfig``, ...) name their fields in their messages, which
is right for the Python API; a shell user typed a flag. One table maps the one to the other, and
:func:`flag_errors` rewrites a ``ConfigError`` raised inside it, so no command carries its own
string replacements.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from deepthinker_nb.errors import ConfigError

FLAG_OF_FIELD: dict[str, str] = {
    "DataConfig.data_path": "--data",
    "DataConfig.task_type": "--task",
    "DataConfig.target_column": "--target",
    "DataConfig.random_seed": "--seed",
    "DataConfig.execution_timeout": "--timeout",
    "DataConfig.execution_backend": "--backend",
    "DataConfig.kernel_config": "--profile",
    "IterationConfig.max_iterations": "--max-iterations",
    "IterationConfig.quality_threshold": "--quality-threshold",
    "IterationConfig.patience": "--patience",
    "IterationConfig.time_budget": "--time-budget",
    "KernelPool size": "--pool-size",
    "objective": "--objective",
}
"""Message prefix a config raises (``Field: problem``) -> the CLI flag that sets that field."""


def flag_message(message: str) -> str:
    """``message`` with its leading config field replaced by the flag (unchanged if unknown)."""
    field, sep, rest = message.partition(": ")
    flag = FLAG_OF_FIELD.get(field)
    return f"{flag}: {rest}" if sep and flag else message


@contextmanager
def flag_errors() -> Iterator[None]:
    """Re-raise a ``ConfigError`` from inside with the flag named instead of the field."""
    try:
        yield
    except ConfigError as exc:
        message = flag_message(str(exc))
        if message == str(exc):
            raise
        raise ConfigError(message) from None
