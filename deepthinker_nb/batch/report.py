"""The batch's comparison report: one self-contained HTML file with the score of every run by
dataset and config (a PNG embedded as base64) and the results table with links to each run.

Drawn with matplotlib's object API (``Figure``), not pyplot, so a batch never changes the
caller's matplotlib backend or global figure state.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import defaultdict
from pathlib import Path

from deepthinker_nb.batch.results import BatchResult, BatchRow

REPORT_FILE = "report.html"


def write_report(result: BatchResult) -> Path:
    """Write ``report.html`` into the batch's out dir and return its path."""
    path = result.out_dir / REPORT_FILE
    path.write_text(render_report(result), encoding="utf-8")
    result.report_path = path
    return path


def render_report(result: BatchResult) -> str:
    esc = html.escape
    image = score_plot_png(result.rows)
    plot = (f'<img alt="best score by dataset and config" '
            f'src="data:image/png;base64,{base64.b64encode(image).decode()}">'
            if image else "<p>No run to plot.</p>")
    rows = "".join(_table_row(row, result.out_dir) for row in result.rows)
    best = result.best
    headline = (f"best: {best.best_score:.2f} — {esc(best.run.label)}" if best is not None
                else "no run completed")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Batch {esc(result.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }}
tr.failed td {{ color: #cf222e; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Batch {esc(result.name)}</h1>
<p>{len(result.rows)} runs: {result.completed} complete, {result.failed} failed,
{result.cached} already finished (skipped) · {result.wall_time:.1f}s · {headline}</p>
{plot}
<h2>Runs</h2>
<table><tr><th>dataset</th><th>seed</th><th>config</th><th>status</th><th>best score</th>
<th>metrics</th><th>time</th><th>run</th><th>error</th></tr>
{rows}</table>
</body></html>
"""


def _table_row(row: BatchRow, out_dir: Path) -> str:
    esc = html.escape
    link = ""
    if row.run_dir is not None:
        target = next((row.run_dir / name for name in ("report.html", "run.ipynb",
                                                       "manifest.json")
                       if (row.run_dir / name).exists()), row.run_dir)
        href = os.path.relpath(target, out_dir)
        link = f'<a href="{esc(href)}">{esc(row.run_dir.name)}</a>'
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in row.metrics.items())
    status = row.status + (" (cached)" if row.cached else "")
    score = "" if row.best_score is None else f"{row.best_score:.2f}"
    took = "" if row.duration is None else f"{row.duration:.1f}s"
    error = (row.error or "").splitlines()[0][:200] if row.error else ""
    return (f'<tr class="{esc(row.status)}"><td>{esc(row.run.dataset.label)}</td>'
            f"<td>{row.run.seed}</td><td>{esc(row.run.config_label)}</td><td>{esc(status)}</td>"
            f"<td>{score}</td><td>{esc(metrics)}</td><td>{took}</td><td>{link}</td>"
            f"<td>{esc(error)}</td></tr>\n")


def score_plot_png(rows: list[BatchRow]) -> bytes:
    """Grouped bars: one group per dataset, one bar per config (the mean best score over its
    seeds), every run as a dot on its bar; a failed run is an ``x`` at 0."""
    if not rows:
        return b""
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(row.run.dataset.label for row in rows))
    configs = list(dict.fromkeys(row.run.config_label for row in rows))
    scores: dict[tuple[str, str], list[BatchRow]] = defaultdict(list)
    for row in rows:
        scores[(row.run.dataset.label, row.run.config_label)].append(row)
    width = 0.8 / len(configs)
    figure = Figure(figsize=(max(6.0, 1.2 + 1.1 * len(datasets) * max(1, len(configs)) * 0.6),
                             4.2), layout="constrained")
    axes = figure.add_subplot()
    cycle = rcParams["axes.prop_cycle"].by_key().get("color") or ["#1f77b4"]
    colours = [cycle[i % len(cycle)] for i in range(len(configs))]
    labelled: set[str] = set()
    for c, config in enumerate(configs):
        for d, dataset in enumerate(datasets):
            group = scores.get((dataset, config), [])
            if not group:
                continue
            x = d - 0.4 + width * (c + 0.5)
            done = [row.best_score for row in group if row.ok and row.best_score is not None]
            if done:
                axes.bar(x, sum(done) / len(done), width * 0.9, color=colours[c], alpha=0.55,
                         label=None if config in labelled else config)
                labelled.add(config)
                axes.scatter([x] * len(done), done, color=colours[c], s=14, zorder=3)
            failed = [row for row in group if not row.ok]
            if failed:
                axes.scatter([x] * len(failed), [0.0] * len(failed), marker="x",
                             color="#cf222e", zorder=3)
    axes.set_xticks(range(len(datasets)), datasets)
    axes.set_ylabel("best quality score (0..10)")
    axes.set_ylim(0, 10.5)
    axes.set_title("Best score by dataset and config (dots: seeds; x: failed)")
    axes.grid(axis="y", alpha=0.3)
    if any(label for label in axes.get_legend_handles_labels()[1]):
        axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12),
                    ncols=min(3, len(configs)), frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


__all__ = ["render_report", "score_plot_png", "write_report"]
