"""Finding, reading and comparing recorded runs (``runs/<run-id>/``).

Import-light on purpose: commands that only need :func:`resolve_run` do not pay for the
catalogue, and nothing here loads pandas or matplotlib (a figure imports matplotlib when drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepthinker_nb._lazy import lazy_exports
from deepthinker_nb.runs.resolve import (
    DEFAULT_RUNS_DIR,
    RunNotFoundError,
    is_run_dir,
    resolve_run,
    run_dirs,
)

_EXPORTS = {
    **{name: "deepthinker_nb.runs.catalog" for name in (
        "RunIteration", "Run", "RunList", "RunSummary", "list_runs", "load_run", "load_summary")},
    **{name: "deepthinker_nb.runs.compare" for name in (
        "CompareError", "RunComparison", "compare_runs", "plot_scores")},
}
__getattr__, _dir_lazy = lazy_exports(__name__, _EXPORTS)
__all__ = [
    "DEFAULT_RUNS_DIR",
    "CompareError",
    "Run",
    "RunComparison",
    "RunIteration",
    "RunList",
    "RunNotFoundError",
    "RunSummary",
    "compare_runs",
    "is_run_dir",
    "list_runs",
    "load_run",
    "load_summary",
    "plot_scores",
    "resolve_run",
    "run_dirs",
]


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from deepthinker_nb.runs.catalog import (
        Run,
        RunIteration,
        RunList,
        RunSummary,
        list_runs,
        load_run,
        load_summary,
    )
    from deepthinker_nb.runs.compare import (
        CompareError,
        RunComparison,
        compare_runs,
        plot_scores,
    )
