"""``deepthinker-nb runs``: list recorded runs, show one in full, compare several.

    deepthinker-nb runs [--dir DIR] [--json]
    deepthinker-nb runs show RUN [--dir DIR] [--json]
    deepthinker-nb runs compare RUN RUN... [--dir DIR] [--plot FILE] [--json]

RUN is a run id under ``--dir`` (default ``runs``, as ``deepthinker-nb run --out``), a unique
prefix of one, or a run directory's path.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any

from deepthinker_nb.runs.resolve import DEFAULT_RUNS_DIR

COLUMNS = ("ID", "STARTED", "DATASET", "TARGET", "TASK", "BACKEND", "STATUS", "BEST",
           "PRIMARY METRIC", "ITER", "TIME")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs", help="list recorded runs (newest first); 'runs show RUN', 'runs compare RUN RUN'",
        description="List recorded runs, newest first; show one run in full; compare runs.")
    _common(parser, DEFAULT_RUNS_DIR)
    parser.set_defaults(func=_list)
    sub = parser.add_subparsers(dest="runs_command", metavar="{show,compare}")
    show = sub.add_parser("show", help="one run in full: config, iterations, best, paths")
    show.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run directory")
    _common(show, argparse.SUPPRESS)
    show.set_defaults(func=_show)
    compare = sub.add_parser("compare", help="runs side by side: differing config, metrics, "
                                             "score per iteration")
    compare.add_argument("runs", metavar="RUN", nargs="+",
                         help="two or more: run ids, unique id prefixes, or run directories")
    compare.add_argument("--plot", metavar="FILE", default=None,
                         help="also draw score per iteration, one line per run (.png or .svg)")
    _common(compare, argparse.SUPPRESS)
    compare.set_defaults(func=_compare)


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    # The subcommands' defaults are SUPPRESS so that 'runs --dir X show RUN' keeps X.
    parser.add_argument("--dir", default=default, metavar="DIR",
                        help=f"where the runs are (default: {DEFAULT_RUNS_DIR})")
    parser.add_argument("--json", action="store_true", default=default if default is
                        argparse.SUPPRESS else False, help="print JSON instead of text")


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _print(lines: Sequence[str]) -> None:
    """Print text read from manifests without its control characters: a manifest from someone
    else's archive must not drive the terminal (escape sequences, carriage returns)."""
    print(_CONTROL.sub("?", "\n".join(lines)))


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _list(args: argparse.Namespace) -> int:
    from deepthinker_nb.runs.catalog import format_duration, format_started, list_runs

    summaries = list_runs(args.dir)
    if args.json:
        _print_json([s.to_dict() for s in summaries])
        return 0
    if not summaries:
        print(f"no runs in {args.dir} (start one with: deepthinker-nb run DATA --out {args.dir}, "
              "or look elsewhere with --dir DIR)")
        return 0
    rows = [COLUMNS] + [(
        s.id, format_started(s.started), s.dataset or "-", s.target or "-", s.task or "-",
        s.backend or "-", s.label, "-" if s.best_score is None else f"{s.best_score:.2f}",
        s.primary_text, s.iterations_text, format_duration(s.duration))
        for s in summaries]
    _print(_table(rows))
    for s in summaries:
        if s.status == "unreadable":
            _print([f"{s.id}: {s.error}"])
    return 0


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return "-" if value is None else str(value)


def _fmt_score(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}/10"


def _show(args: argparse.Namespace) -> int:
    from deepthinker_nb.runs.catalog import format_duration, load_run, summary_fields
    from deepthinker_nb.runs.compare import flatten

    run = load_run(args.run, args.dir)
    if args.json:
        _print_json(run.to_dict())
        return 0
    out = [f"run {run.id}", f"  dir: {run.path}"]
    out += [f"  {label}: {text}" for label, text in summary_fields(run.summary)]
    objective = run.manifest.get("objective")
    if isinstance(objective, str):
        out.append(f"  objective: {objective}")
    if run.config:
        out.append("config")
        out += [f"  {key}: {_value(value)}" for key, value in flatten(run.config).items()]
    if run.iterations:
        metric = run.summary.primary_metric or "primary"
        out.append("iterations")
        rows = [("", "#", "STATUS", "MODEL", "SCORE", metric.upper(), "TIME", "ERROR")] + [(
            "*" if it.index == run.summary.best_iteration else "", str(it.index), it.status,
            it.model or "-", "-" if it.score is None else f"{it.score:.2f}",
            "-" if it.primary_value is None else f"{it.primary_value:.4f}",
            format_duration(it.duration), (it.error or "").splitlines()[0][:100]
            if it.error else "")
            for it in run.iterations]
        out += ["  " + line for line in _table(rows)]
    if run.summary.best_iteration is not None:
        best = next((it for it in run.iterations if it.index == run.summary.best_iteration), None)
        model = f" ({best.model})" if best and best.model else ""
        out.append(f"best: iteration {run.summary.best_iteration}{model}, score "
                   f"{_fmt_score(run.summary.best_score)}, {run.summary.primary_text}")
    if run.resumes:
        out.append(f"resumed: {run.resumes} time(s)")
    if run.stop_reason:
        out.append(f"stopped: {run.stop_reason}")
    if run.summary.resumable:
        out.append(f"continue it with: deepthinker-nb resume {run.id} --dir {run.path.parent}")
    if run.simulation:
        out.append(f"simulation: {run.simulation}")
    if run.paths:
        out.append("paths")
        out += [f"  {name}: {path}" for name, path in run.paths.items()]
    _print(out)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from deepthinker_nb.runs.compare import (
        compare_runs,
        headline,
        plot_scores,
        score_table,
        text_chart,
    )

    comparison = compare_runs(args.runs, args.dir)
    plotted = plot_scores(comparison, args.plot) if args.plot else None
    if args.json:
        _print_json({**comparison.to_dict(), "plot": str(plotted) if plotted else None})
        return 0
    header = ("", *tuple(comparison.ids))

    def section(title: str, table: dict[str, list[Any]]) -> list[str]:
        if not table:
            return [f"{title}: (no differences)"] if title == "config" else []
        rows = [(title, *header[1:])] + [(key, *tuple(_value(v) for v in values))
                                          for key, values in table.items()]
        return _table(rows)

    out = section("run", headline(comparison))
    out += ["", *section("config", comparison.config)]
    metrics = {k: [None if v is None else round(v, 4) for v in values]
               for k, values in comparison.metrics.items()}
    out += ["", *section("metric", metrics)]
    scores = {k: [None if v is None else f"{v:.2f}" for v in values]
              for k, values in score_table(comparison).items()}
    out += ["", *section("score", scores)]
    out += ["", *text_chart(comparison)]
    if plotted:
        out.append(f"plot: {plotted}")
    _print(out)
    return 0
