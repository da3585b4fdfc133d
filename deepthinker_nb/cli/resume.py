"""``deepthinker-nb resume``: continue an incomplete run from its last finished iteration."""

from __future__ import annotations

import argparse
import sys

from deepthinker_nb.cli.options import add_backend_option, add_run_argument, positive_int
from deepthinker_nb.runs import resolve_run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "resume",
        help="continue a run stopped by Ctrl-C or a crash from its last finished iteration",
        description="Continue RUN (stopped by Ctrl-C, a crash or a killed host: its manifest "
        "says 'incomplete') from its last finished iteration, with the same data split and "
        "seeds. What finished is kept as it was; the half-done iteration is run again.",
    )
    add_run_argument(parser)
    parser.add_argument("--data", metavar="PATH",
                        help="the run's dataset, when it is no longer where the run read it "
                        "(checked by its SHA-256)")
    add_backend_option(parser, default=None, help="where the remaining kernels run "
                       "(default: the run's own backend)")
    parser.add_argument("--pool-size", type=positive_int, default=2, metavar="N",
                        help="warm kernels kept ready (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.cli.run import ProgressDisplay
    from deepthinker_nb.workflow.resume import resume_run

    run_dir = resolve_run(args.run, args.dir)
    result = resume_run(run_dir, dataset=args.data, backend=args.backend,
                        pool_size=args.pool_size,
                        progress=None if args.quiet else ProgressDisplay(sys.stderr))
    print(result.summary())
    return 0 if result.status == "complete" else 1
