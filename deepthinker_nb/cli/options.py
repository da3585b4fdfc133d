"""Options several subcommands share, defined once: the kernel backend and the cell timeout."""

from __future__ import annotations

import argparse
import math

from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT
from deepthinker_nb.errors import BackendUnavailableError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND, available_backends, get_backend


def backend_name(value: str) -> str:
    """argparse type: a registered backend or one of its aliases, read as its own name."""
    try:
        return get_backend(value).name
    except BackendUnavailableError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_backend_option(parser: argparse.ArgumentParser, default: str | None = DEFAULT_BACKEND,
                       help: str = "where the kernel runs") -> None:
    """``--backend``, its choices read from the backend registry."""
    names = available_backends()
    parser.add_argument("--backend", type=backend_name, default=default,
                        metavar="{" + ",".join(names) + "}",
                        help=f"{help} (default: {default or DEFAULT_BACKEND})")


def positive_seconds(value: str) -> float:
    """argparse type: a finite number of seconds above zero (0 would stop every cell at once,
    and no flag of ours reads 0 as "no limit")."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of seconds above 0; give one such as 30")
    return seconds


def positive_int(value: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(value, 1)


def non_negative_int(value: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(value, 0)


def _whole_number(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a whole number >= {minimum}; give one such as {minimum + 1}")
    return number


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    """``--timeout``: None (the kernel config's, else the one default) unless given."""
    parser.add_argument("--timeout", type=positive_seconds, default=None, metavar="SECONDS",
                        help=f"time limit per cell (default {DEFAULT_CELL_TIMEOUT:g}, or the "
                             "profile's)")


def add_run_argument(parser: argparse.ArgumentParser,
                     help: str = "run id, unique id prefix, or run directory") -> None:
    """``RUN`` and ``--dir``: a run named by its id under DIR, a unique id prefix, or its
    directory (resolved by :func:`deepthinker_nb.runs.resolve_run`)."""
    from deepthinker_nb.runs import DEFAULT_RUNS_DIR

    parser.add_argument("run", metavar="RUN", help=help)
    parser.add_argument("--dir", default=DEFAULT_RUNS_DIR, metavar="DIR",
                        help=f"where run ids are looked up (default: {DEFAULT_RUNS_DIR})")
