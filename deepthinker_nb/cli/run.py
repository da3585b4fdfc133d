"""``deepthinker-nb run`` and ``deepthinker-nb demo``: the DeepThinker workflow from a shell.

Progress (phase, iteration, score) goes to stderr as it happens; the summary goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from deepthinker_nb.cli.flags import flag_errors
from deepthinker_nb.cli.llm_options import add_llm_options, llm_councils_from_args, llm_wanted
from deepthinker_nb.cli.options import (
    add_backend_option,
    add_timeout_option,
    non_negative_int,
    positive_int,
    positive_seconds,
)
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND, available_backends, get_backend

DEFAULT_POOL_SIZE = 2
"""Two warm kernels: the next one starts while the current notebook runs."""


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run", help="plan, code, score and record a model for a dataset (the DeepThinker workflow)",
        description="Run the DeepThinker workflow on a dataset: plan, research in the kernel, "
                    "write and revise code until the quality threshold, stress-test the best "
                    "code, and record everything under OUT/<run-id>/.",
    )
    run.add_argument("--data", required=True, metavar="PATH",
                     help="CSV, JSON (records or lines) or Parquet file")
    run.add_argument("--target", metavar="COL", help="target column (default: the last column)")
    run.add_argument("--task", choices=("classification", "regression"), default=None,
                     help="default: inferred from the target (numbers with more than 20 "
                          "distinct values: regression, anything else: classification)")
    run.add_argument("--objective", metavar="TEXT", help="what the model should achieve")
    _common(run)
    run.set_defaults(func=_run)

    demo = subparsers.add_parser(
        "demo", help="run the workflow on a bundled dataset (customer churn by default)",
        description="Run the DeepThinker workflow on a bundled dataset with its default "
                    "objective; a quick way to see the whole product work.",
    )
    from deepthinker_nb.workflow.datasets import CATALOGUE, DEFAULT_DATASET

    demo.add_argument("--dataset", choices=sorted(CATALOGUE), default=DEFAULT_DATASET)
    demo.add_argument("--objective", metavar="TEXT", help="override the default objective")
    _common(demo, max_iterations=3)
    demo.set_defaults(func=_demo)


def _common(parser: argparse.ArgumentParser, max_iterations: int = 5) -> None:
    add_backend_option(parser, default=None,
                       help="where the kernel runs (docker when only --profile is given)")
    parser.add_argument("--profile", metavar="NAME",
                        help="a named config of the backend (docker: SAFE_ML, GPU_ML, BROWSER, "
                             "TRUSTED)")
    parser.add_argument("--max-iterations", type=int, default=max_iterations,
                        metavar="N", help=f"most coding iterations (default {max_iterations})")
    parser.add_argument("--quality-threshold", type=float, default=8.0, metavar="X",
                        help="stop when the 0..10 quality score reaches X (default 8.0)")
    parser.add_argument("--patience", type=non_negative_int, default=2, metavar="N",
                        help="stop after N iterations without improvement (0: never)")
    parser.add_argument("--seed", type=int, default=42, help="split and model seed")
    add_timeout_option(parser)
    parser.add_argument("--time-budget", type=positive_seconds, default=None, metavar="SECONDS",
                        help="time for the whole run: cells get its share as their limit "
                             "(unless --timeout is given) and no iteration starts that would "
                             "not fit (default: no budget; cells get a limit that grows with "
                             "the data's size)")
    parser.add_argument("--out", default="runs", metavar="DIR",
                        help="runs directory (default ./runs)")
    parser.add_argument("--pool-size", type=positive_int, default=DEFAULT_POOL_SIZE, metavar="N",
                        help=f"warm kernels kept ready (default {DEFAULT_POOL_SIZE})")
    parser.add_argument("--quiet", action="store_true",
                        help="no live progress on stderr (a target or task chosen for you is "
                             "still announced)")
    add_llm_options(parser)


def _run(args: argparse.Namespace) -> int:
    objective = args.objective or (
        f"Predict {args.target or 'the target'} as accurately as possible on held-out rows.")
    return _execute(args, args.data, args.task, args.target, objective)


def _demo(args: argparse.Namespace) -> int:
    from deepthinker_nb.workflow.datasets import bundled_dataset

    dataset = bundled_dataset(args.dataset)
    if not args.quiet:
        print(f"demo: {dataset.name} ({dataset.path})", file=sys.stderr)
    return _execute(args, dataset.path, dataset.task_type, dataset.target,
                    args.objective or dataset.objective)


def _execute(args: argparse.Namespace, data: Any, task: str | None, target: str | None,
             objective: str) -> int:
    with flag_errors():
        return _execute_run(args, data, task, target, objective)


def _check_out_dir(out: str) -> None:
    """``--out`` must be a directory or not exist yet: checked before any run dir is made."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a directory; give a runs directory")


def _execute_run(args: argparse.Namespace, data: Any, task: str | None, target: str | None,
                 objective: str) -> int:
    from deepthinker_nb.config import DataConfig, IterationConfig
    from deepthinker_nb.workflow import WorkflowRunner

    _check_out_dir(args.out)
    backend = get_backend(args.backend or (_backend_with_profile(args.profile)
                                           if args.profile else DEFAULT_BACKEND))
    kernel_config = backend.profile(args.profile) if args.profile else None
    data_config = DataConfig(
        data_path=str(data), task_type=task or "classification", target_column=target,
        random_seed=args.seed,
        execution_timeout=args.timeout, execution_backend=backend.name,
        kernel_config=kernel_config,
    )
    iteration_config = IterationConfig(
        max_iterations=args.max_iterations, quality_threshold=args.quality_threshold,
        patience=args.patience or None, time_budget=args.time_budget,
    )
    # A kernel that cannot start (no Docker engine, no image, no sandbox) is bad input to
    # report now, not a failed run dir.
    backend.preflight(data_config.kernel_config)
    display = ChoicesDisplay(sys.stderr) if args.quiet else ProgressDisplay(sys.stderr)
    councils, run_id = (llm_councils_from_args(args, args.out) if llm_wanted(args)
                        else (None, None))
    runner = WorkflowRunner(data_config, iteration_config, runs_dir=args.out,
                            councils=councils, run_id=run_id,
                            pool_size=args.pool_size, progress=display, infer_task=task is None)
    if isinstance(display, ChoicesDisplay):
        display.runner = runner
    result = runner.run(objective)
    print(result.summary())
    return 0 if result.status == "complete" else 1


def _backend_with_profile(name: str) -> str:
    """The backend that has a profile called ``name`` (``--profile`` alone picks it)."""
    for backend in available_backends():
        if name.upper() in {key.upper() for key in get_backend(backend).profiles()}:
            return backend
    raise ConfigError(f"--profile: no backend has a profile {name!r}; see "
                      "`deepthinker-nb run --help` for the profiles")


class ProgressDisplay:
    """One line per event: elapsed time, phase, message (and the best score so far)."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, event: Any) -> None:
        best = f"  [best {event.best_score:.2f}]" if event.best_score is not None else ""
        self.stream.write(f"[{event.elapsed:6.1f}s] {event.phase:<10} {event.message}{best}\n")
        self.stream.flush()


class ChoicesDisplay:
    """``--quiet``'s display: only what the run announces before its run dir exists, which
    is where it says the target and task it chose for the user (the data is checked before
    any directory or kernel), so a default nobody typed is never silent."""

    def __init__(self, stream: TextIO, runner: Any = None):
        self.stream = stream
        self.runner = runner

    def __call__(self, event: Any) -> None:
        if self.runner is not None and self.runner.run_dir is None:
            self.stream.write(f"{event.phase}: {event.message}\n")
            self.stream.flush()
