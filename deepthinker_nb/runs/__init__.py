"""Finding, reading and comparing recorded runs (``runs/<run-id>/``).

Import-light on purpose: commands that only need :func:`resolve_run` do not pay for pandas or
matplotlib.
"""

from __future__ import annotations

from deepthinker_nb.runs.resolve import (
    DEFAULT_RUNS_DIR,
    RunNotFoundError,
    is_run_dir,
    resolve_run,
    run_dirs,
)

__all__ = ["DEFAULT_RUNS_DIR", "RunNotFoundError", "is_run_dir", "resolve_run", "run_dirs"]
