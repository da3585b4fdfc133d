"""The run report: one HTML file a researcher reads at a glance, rebuilt from the run dir alone.

It opens with a summary (objective, dataset and its SHA-256, target and task, backend and
kernel, the best iteration's metrics beside a trivial baseline), then the score per iteration,
the curves, the confusion matrix, the feature importance, the scanner's verdicts, timings,
package versions, the model calls, the command that reproduces the run, and finally the
executed ``run.ipynb`` (without its raw parameters cell).

Everything comes from ``manifest.json`` (the host wrote its ``evaluation`` section during the
run: the test labels are in no file) and ``run.ipynb``; no dataset and no kernel are needed, and
an older run without an ``evaluation`` section gets a report of what it has. Every value is
HTML-escaped (objectives, column names and labels come from users and their data), plots are
inline PNGs, and the page loads nothing: no script, no CDN, and a Content-Security-Policy that
forbids anything but inline styles and ``data:`` images.
"""

from __future__ import annotations

import html
import json
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.notebook.io import atomic_write_text
from deepthinker_nb.report import plots
from deepthinker_nb.report.html import notebook_document
from deepthinker_nb.report.manifest import MANIFEST_NAME

REPORT_NAME = "report.html"
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "base-uri 'none'; form-action 'none'")
_OK, _BAD, _WARN = "#1a7f37", "#cf222e", "#9a6700"
_BOLD = ' style="font-weight:bold"'
_STYLE = """
.dt-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;
  line-height:1.45;color:#1f2328;max-width:1100px;margin:0 auto;padding:16px 24px}
.dt-report h1{font-size:22px;margin:8px 0 4px}
.dt-report h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
.dt-report table{border-collapse:collapse;margin:6px 0}
.dt-report th,.dt-report td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;
  vertical-align:top}
.dt-report th{background:#f6f8fa}
.dt-report td.num{text-align:right;font-variant-numeric:tabular-nums}
.dt-report code{background:#f6f8fa;padding:1px 4px;border-radius:4px;word-break:break-all}
.dt-report .muted{color:#59636e}
.dt-report .note{border-left:4px solid #9a6700;background:#fff8c5;padding:6px 10px;margin:8px 0}
.dt-report .plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.dt-report img.plot{max-width:100%;height:auto;border:1px solid #eaeef2}
.dt-report dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
.dt-report dt{font-weight:600;color:#59636e}
.dt-report dd{margin:0}
.dt-report pre{background:#f6f8fa;padding:8px;overflow-x:auto}
.dt-notebook-title{max-width:1100px;margin:24px auto 0;padding:0 24px;
  font-family:system-ui,sans-serif}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass
class RunReport:
    """A written report: where, which sections (ids, in order), what is missing."""

    path: Path
    run_dir: Path
    sections: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return (f"<div><b>DeepThinker report</b> <code>{esc(self.path)}</code> · "
                f"{len(self.sections)} sections"
                + (f' · <span style="color:{_WARN}">not recorded: '
                   f"{esc(', '.join(self.missing))}</span>" if self.missing else "")
                + "</div>")


def write_run_report(run_dir: str | os.PathLike[str], output: str | os.PathLike[str] | None = None,
                     *, manifest: Mapping[str, Any] | None = None) -> RunReport:
    """Write the report of the run in ``run_dir`` to ``output`` (default
    ``run_dir/report.html``) atomically. ``manifest``: the run's manifest as the runner holds it
    (default: read ``manifest.json``)."""
    run_dir = Path(run_dir)
    if manifest is None:
        manifest = json.loads((run_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    report = RunReport(Path(output) if output is not None else run_dir / REPORT_NAME, run_dir)
    text = render_run_report(run_dir, manifest, report)
    atomic_write_text(report.path, text)
    return report


def render_run_report(run_dir: Path, manifest: Mapping[str, Any],
                      report: RunReport | None = None) -> str:
    """The report as one HTML document (see the module's docstring)."""
    report = report or RunReport(run_dir / REPORT_NAME, run_dir)
    parts: list[str] = []
    for section_id, title, build in _SECTIONS:
        try:
            body = build(run_dir, manifest, report)
        except Exception as exc:  # a manifest from another version: the rest still shows
            report.missing.append(section_id)
            body = f"<p>This section could not be drawn: {esc(_first_line(exc))}</p>"
        if body is None:
            continue
        report.sections.append(section_id)
        if isinstance(body, tuple):  # a title that depends on the run
            title, body = body
        heading = "" if section_id == "summary" else f"<h2>{esc(title)}</h2>"
        parts.append(f'<section id="{section_id}">{heading}{body}</section>')
    notebook = _run_notebook_path(run_dir, manifest)
    ours = f'<div class="dt-report">{"".join(parts)}</div>'
    title = f"DeepThinker run {manifest.get('run_id', run_dir.name)}"
    if notebook is not None:
        report.sections.append("notebook")
        document = notebook_document(notebook)
        ours += ('<section id="notebook"><h2 class="dt-notebook-title">The executed notebook '
                 "(run.ipynb)</h2></section>")
        return _inject(document, ours, title)
    report.missing.append("run.ipynb")
    ours += ('<section id="notebook" class="dt-report"><h2>The executed notebook</h2>'
             "<p>run.ipynb was not recorded for this run.</p></section>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{esc(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{ours}</body></html>")


def _inject(document: str, ours: str, title: str) -> str:
    """Our head (CSP first, style, title) and sections into nbconvert's document."""
    head = (f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<style>{_STYLE}</style>")
    start = document.find("<head>")
    if start != -1:
        start += len("<head>")
        charset = document.find("<meta charset", start, start + 200)
        if charset != -1:
            start = document.index(">", charset) + 1
        document = document[:start] + head + document[start:]
    document = _replace_title(document, title)
    body = document.find("<body")
    if body == -1:
        return document.replace("</head>", "</head><body>" + ours, 1)
    body_end = document.index(">", body) + 1
    return document[:body_end] + ours + document[body_end:]


def _replace_title(document: str, title: str) -> str:
    start, end = document.find("<title>"), document.find("</title>")
    if start == -1 or end == -1:
        return document
    return document[:start] + f"<title>{esc(title)}</title>" + document[end + len("</title>"):]


# -- sections --------------------------------------------------------------------------------------
def _summary(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str:
    status = str(m.get("status", "unknown"))
    colour = _OK if status == "complete" else _BAD
    dataset = m.get("dataset") or {}
    kernel = m.get("kernel") or {}
    best = m.get("best_iteration")
    best_record = _iteration(m, best)
    evaluation = m.get("evaluation") or {}
    header = (
        f"<h1>DeepThinker run <code>{esc(m.get('run_id', run_dir.name))}</code></h1>"
        f'<div><span style="color:{colour};font-weight:bold">{esc(status)}</span>'
        f" · {esc(m.get('stop_reason') or '')} · reproduced {esc(m.get('reproduced'))}"
        + (f" · {float(m['wall_time']):.1f}s" if _is_number(m.get("wall_time")) else "")
        + "</div>"
    )
    rows = [
        ("objective", esc(m.get("objective", ""))),
        ("dataset", f"<code>{esc(dataset.get('path', 'not recorded'))}</code><br>"
                    f"<span class=\"muted\">SHA-256</span> "
                    f"<code>{esc(dataset.get('sha256', 'not recorded'))}</code>"),
        ("target and task", f"<code>{esc(dataset.get('target'))}</code> · "
                            f"{esc(dataset.get('task_type'))} · "
                            f"{esc(dataset.get('n_train'))} training rows, "
                            f"{esc(dataset.get('n_test'))} held-out test rows"),
        ("backend and kernel", _kernel_text(m.get("backend"), kernel)),
        ("best iteration", (f"{esc(best)} · {esc(best_record.get('model', ''))} · quality score "
                            f"{_fmt(m.get('quality_score'), 2)}/10") if best is not None
         else "none (no iteration produced valid predictions)"),
    ]
    threshold = evaluation.get("threshold")
    if isinstance(threshold, Mapping) and not threshold.get("default"):
        rows.append(("decision threshold",
                     f"{_fmt(threshold.get('value'), 3)} on the probability of "
                     f"<code>{esc(evaluation.get('positive'))}</code> (inferred from the "
                     "predictions; 0.5 would be the default)"))
    summary = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return header + f"<dl>{summary}</dl>" + _metrics_table(m, evaluation, report)


def _kernel_text(backend: Any, kernel: Mapping[str, Any]) -> str:
    bits = [f"<b>{esc(backend or kernel.get('backend') or 'unknown')}</b>"]
    if kernel.get("kernel_name"):
        bits.append(f"kernel <code>{esc(kernel['kernel_name'])}</code>")
    if kernel.get("image"):
        bits.append(f"image <code>{esc(kernel['image'])}</code>")
    for key in ("image_digest", "digest"):
        if kernel.get(key):
            bits.append(f"<code>{esc(kernel[key])}</code>")
            break
    if kernel.get("python"):
        bits.append(f"Python {esc(kernel['python'])}")
    if kernel.get("isolation"):
        bits.append(f"isolation {esc(kernel['isolation'])}")
    if "network" in kernel or "network_disabled" in kernel:
        off = kernel.get("network") is False or kernel.get("network_disabled") is True
        bits.append("no network" if off else "network allowed")
    return " · ".join(bits)


_BASELINE_METRICS = {"classification": ("accuracy", "balanced_accuracy"),
                     "regression": ("rmse", "mae", "r2")}


def _metrics_table(m: Mapping[str, Any], evaluation: Mapping[str, Any],
                   report: RunReport) -> str:
    metrics = m.get("metrics") or {}
    if not metrics:
        return "<p>No metrics: no iteration produced valid predictions.</p>"
    task = (m.get("dataset") or {}).get("task_type") or evaluation.get("task_type")
    baseline = evaluation.get("baseline") or {}
    if not baseline:
        report.missing.append("baseline")
    if task == "classification" and baseline:
        name = f"majority class (always &ldquo;{esc(baseline.get('label'))}&rdquo;)"
    elif baseline:
        name = f"mean predictor ({_fmt(baseline.get('value'), 4)})"
    else:
        name = "baseline"
    rows = []
    for key, value in metrics.items():
        base = baseline.get(key) if key in _BASELINE_METRICS.get(task, ()) else None
        shown = (_fmt(base, 4) if base is not None
                 else '<span class="muted">not recorded</span>' if not baseline
                 and key in _BASELINE_METRICS.get(task, ()) else "")
        rows.append(f"<tr><td>{esc(key)}</td><td class=\"num\">{_fmt(value, 4)}</td>"
                    f'<td class="num">{shown}</td></tr>')
    table = (f"<table><tr><th>held-out metric</th><th>best model</th><th>{name}</th></tr>"
             f"{''.join(rows)}</table>")
    return table + _baseline_note(task, metrics, baseline)


def _baseline_note(task: Any, metrics: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    if task == "classification" and _is_number(baseline.get("accuracy")) and _is_number(
            metrics.get("accuracy")):
        label = esc(baseline.get("label"))
        if float(metrics["accuracy"]) < float(baseline["accuracy"]):
            return (f'<p class="note" id="below-baseline"><b>The best model\'s accuracy '
                    f"({_fmt(metrics['accuracy'], 3)}) is below the majority baseline's "
                    f"({_fmt(baseline['accuracy'], 3)}):</b> always answering "
                    f"<code>{label}</code> is right more often. The model is tuned for "
                    "balanced accuracy (every class counts the same); judge it by that, or "
                    "by the confusion matrix below.</p>")
        return (f'<p class="muted">Always answering <code>{label}</code> scores accuracy '
                f"{_fmt(baseline['accuracy'], 3)} and balanced accuracy "
                f"{_fmt(baseline.get('balanced_accuracy'), 3)}.</p>")
    if task == "regression" and _is_number(baseline.get("rmse")) and _is_number(
            metrics.get("rmse")) and float(metrics["rmse"]) >= float(baseline["rmse"]):
        return ('<p class="note" id="below-baseline"><b>The best model\'s RMSE is no better '
                "than predicting the mean.</b></p>")
    return ""


def _scores(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    iterations = [r for r in m.get("iterations") or [] if isinstance(r, Mapping)]
    if not iterations:
        return "<p>No iteration ran.</p>"
    best = m.get("best_iteration")
    threshold = (m.get("iteration_config") or {}).get("quality_threshold")
    indices = [int(r.get("index", i + 1)) for i, r in enumerate(iterations)]
    scores = [float(r.get("score") or 0.0) for r in iterations]
    plot = plots.score_plot(indices, scores, best,
                            float(threshold) if _is_number(threshold) else None)
    rows = "".join(
        f"<tr{_BOLD if r.get('index') == best else ''}><td>{esc(r.get('index'))}</td>"
        f"<td>{esc(r.get('model'))}</td><td>{_status(r.get('status'))}</td>"
        f'<td class="num">{_fmt(r.get("score"), 2)}</td>'
        f"<td>{esc(', '.join(f'{k} {_fmt(v, 4)}' for k, v in (r.get('metrics') or {}).items()))}"
        f"{'' if r.get('status') == 'ok' else esc(_first_line(r.get('error')))}</td>"
        f'<td class="num">{_fmt(r.get("duration"), 1)}s</td></tr>'
        for r in iterations)
    return (f'<div class="plots">{plot}'
            "<table><tr><th>#</th><th>model</th><th>status</th><th>score</th>"
            f"<th>metrics (or error)</th><th>time</th></tr>{rows}</table></div>")


def _curves(run_dir: Path, m: Mapping[str, Any],
            report: RunReport) -> str | tuple[str, str] | None:
    evaluation = m.get("evaluation") or {}
    task = (m.get("dataset") or {}).get("task_type") or evaluation.get("task_type")
    if not evaluation or evaluation.get("error"):
        report.missing.append("curves")
        return _not_recorded(evaluation)
    if task == "regression":
        bins = evaluation.get("bins") or []
        if not bins:
            return "<p>Too few test rows for binned residuals.</p>"
        quantiles = evaluation.get("residual_quantiles") or {}
        table = ("<table><tr><th>residual quantile</th>"
                 + "".join(f"<th>{esc(q)}</th>" for q in quantiles) + "</tr><tr><td>"
                 "actual - predicted</td>"
                 + "".join(f'<td class="num">{_fmt(v, 4)}</td>' for v in quantiles.values())
                 + "</tr></table>")
        return ("Predicted vs actual and residuals of the best model",
                f'<div class="plots">{plots.predicted_vs_actual_plot(bins)}'
                f"{plots.residual_plot(bins)}</div>{table}"
                f'<p class="muted">Test rows in {len(bins)} bins of the predicted value '
                "(averages, never one row).</p>")
    roc, pr = evaluation.get("roc"), evaluation.get("pr")
    if not roc or not pr:
        return ("<p>No curves: they need binary classification with predicted "
                "probabilities (<code>proba_&lt;class&gt;</code> columns).</p>")
    roc_img = plots.roc_plot(roc["fpr"], roc["tpr"], roc.get("auc"))
    pr_img = plots.pr_plot(pr["recall"], pr["precision"], pr.get("average_precision"),
                           pr.get("prevalence"))
    return (f'<div class="plots">{roc_img}{pr_img}</div>'
            f'<p class="muted">Positive class <code>{esc(evaluation.get("positive"))}'
            "</code>.</p>")


def _confusion(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    evaluation = m.get("evaluation") or {}
    task = (m.get("dataset") or {}).get("task_type") or evaluation.get("task_type")
    if task == "regression":
        return None
    confusion = evaluation.get("confusion") or {}
    labels, matrix = confusion.get("labels"), confusion.get("matrix")
    if not labels or not matrix:
        report.missing.append("confusion matrix")
        return _not_recorded(evaluation)
    header = "".join(f"<th>{esc(label)}</th>" for label in labels)
    rows = "".join(f"<tr><th>{esc(label)}</th>"
                   + "".join(f'<td class="num">{esc(v)}</td>' for v in row) + "</tr>"
                   for label, row in zip(labels, matrix, strict=False))
    return (f'<div class="plots">{plots.confusion_plot(labels, matrix)}'
            f"<table><tr><th>actual \\ predicted</th>{header}</tr>{rows}</table></div>")


def _importance(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    evaluation = m.get("evaluation") or {}
    best = _iteration(m, m.get("best_iteration"))
    importance = evaluation.get("feature_importance") or best.get("feature_importance")
    if not isinstance(importance, Mapping) or not importance.get("features"):
        report.missing.append("feature importance")
        why = (f" ({esc(importance['error'])})" if isinstance(importance, Mapping)
               and importance.get("error") else "")
        return f"<p>Feature importance: not recorded{why}.</p>"
    features = [(str(f), float(v)) for f, v in importance["features"]]
    total = importance.get("total")
    note = (f'<p class="muted">Top {len(features)} of {esc(total)} features.</p>'
            if _is_number(total) and total > len(features) else "")
    return f'<div class="plots">{plots.importance_plot(features)}</div>{note}'


def _scanner(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    notebooks: list[tuple[str, list[Mapping[str, Any]]]] = []
    research = m.get("research") or {}
    if isinstance(research, Mapping) and research.get("scan") is not None:
        notebooks.append(("research.ipynb", research.get("scan") or []))
    for r in m.get("iterations") or []:
        if isinstance(r, Mapping):
            name = _relative(run_dir, r.get("notebook")) or f"iteration {r.get('index')}"
            notebooks.append((name, r.get("scan") or []))
    for key, name in (("simulation", "simulation.ipynb"), ("run_notebook", "run.ipynb")):
        section = m.get(key) or {}
        if isinstance(section, Mapping) and section.get("scan") is not None:
            notebooks.append((name, section.get("scan") or []))
    if not notebooks:
        report.missing.append("scanner verdicts")
        return "<p>No scanner verdicts recorded.</p>"
    rows, details = [], []
    for name, records in notebooks:
        verdicts: dict[str, int] = {}
        for record in records:
            verdict = str(record.get("verdict") or "none")
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            for finding in record.get("findings") or []:
                if isinstance(finding, Mapping):
                    details.append(
                        f"<tr><td>{esc(name)}</td><td>{esc(record.get('cell'))}</td>"
                        f"<td>{esc(verdict)}</td><td>{esc(finding.get('severity'))}</td>"
                        f"<td><code>{esc(finding.get('rule_id'))}</code></td>"
                        f"<td>{esc(finding.get('message'))}</td></tr>")
        counts = ", ".join(f"{esc(v)} {n}" for v, n in sorted(verdicts.items()))
        rows.append(f"<tr><td>{esc(name)}</td><td class=\"num\">{len(records)}</td>"
                    f"<td>{counts or '-'}</td></tr>")
    out = ("<table><tr><th>notebook</th><th>cells scanned</th><th>verdicts</th></tr>"
           f"{''.join(rows)}</table>")
    if details:
        out += ("<table><tr><th>notebook</th><th>cell</th><th>verdict</th><th>severity</th>"
                f"<th>rule</th><th>finding</th></tr>{''.join(details[:200])}</table>")
    else:
        out += "<p>No findings in any cell.</p>"
    if m.get("scan") is False:
        out += '<p class="note">The scanner was turned off for this run.</p>'
    return out


def _timings(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    timings = m.get("timings") or {}
    if not timings:
        report.missing.append("timings")
        return "<p>Timings: not recorded.</p>"
    rows = "".join(f'<tr><td>{esc(k)}</td><td class="num">{_fmt(v, 2)}s</td></tr>'
                   for k, v in timings.items())
    wall = (f'<tr><th>wall time</th><th class="num">{_fmt(m["wall_time"], 2)}s</th></tr>'
            if _is_number(m.get("wall_time")) else "")
    return f"<table><tr><th>phase</th><th>time</th></tr>{rows}{wall}</table>"


def _packages(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    packages = m.get("packages") or {}
    if not packages:
        report.missing.append("packages")
        return "<p>Package versions: not recorded.</p>"
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v if v is not None else 'not installed')}"
                   "</td></tr>" for k, v in packages.items())
    return f"<table><tr><th>package</th><th>version</th></tr>{rows}</table>"


def _llm(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    """The model-call summary (``llm/summary.py``): totals, then a table per grouping (per
    council, member, model); any other shape is shown as it is."""
    llm = m.get("llm")
    if not llm:
        return None
    if not isinstance(llm, Mapping):
        return f"<pre>{esc(json.dumps(llm, default=str)[:4000])}</pre>"
    scalars = {k: v for k, v in llm.items() if not isinstance(v, (Mapping, list))}
    out = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in scalars.items())
    out = f"<dl>{out}</dl>" if out else ""
    for key, value in llm.items():
        if key in scalars:
            continue
        groups = value if isinstance(value, Mapping) else {}
        if groups and all(isinstance(v, Mapping) for v in groups.values()):
            columns = list(dict.fromkeys(c for v in groups.values() for c in v))
            head = "".join(f"<th>{esc(c)}</th>" for c in columns)
            rows = "".join(
                f"<tr><td>{esc(name)}</td>"
                + "".join(f'<td class="num">{esc(v.get(c, ""))}</td>' for c in columns)
                + "</tr>" for name, v in groups.items())
            out += (f"<table><tr><th>{esc(key.replace('_', ' '))}</th>{head}</tr>{rows}"
                    "</table>")
        else:
            out += (f"<p>{esc(key)}: <code>{esc(json.dumps(value, default=str)[:600])}"
                    "</code></p>")
    return out


def _reproduce(run_dir: Path, m: Mapping[str, Any], report: RunReport) -> str | None:
    command = f"deepthinker-nb reproduce {shlex.quote(str(run_dir.resolve()))}"
    return (f"<p>Re-execute run.ipynb and compare its metrics with the recorded ones:</p>"
            f"<pre><code>{esc(command)}</code></pre>")


_Section = Callable[[Path, Mapping[str, Any], RunReport], "str | tuple[str, str] | None"]
"""A section's HTML (or its title and HTML), None to leave it out."""
_SECTIONS: tuple[tuple[str, str, _Section], ...] = (
    ("summary", "Summary", _summary),
    ("scores", "Score per iteration", _scores),
    ("curves", "ROC and precision-recall curves of the best model", _curves),
    ("confusion", "Confusion matrix", _confusion),
    ("importance", "Feature importance of the best model", _importance),
    ("scanner", "Scanner verdicts", _scanner),
    ("timings", "Timings per phase", _timings),
    ("packages", "Package versions", _packages),
    ("llm", "Model calls", _llm),
    ("reproduce", "Reproduce this run", _reproduce),
)
SECTION_IDS = (*(s[0] for s in _SECTIONS), "notebook")
"""Every section id a report can have, in the order it shows them."""


# -- helpers ---------------------------------------------------------------------------------------
def _run_notebook_path(run_dir: Path, m: Mapping[str, Any]) -> Path | None:
    """run.ipynb as recorded (relative to the run dir, or absolute inside it for older runs),
    else the run dir's own run.ipynb (a moved run)."""
    section = m.get("run_notebook") or {}
    recorded = section.get("path") if isinstance(section, Mapping) else None
    own = run_dir / "run.ipynb"
    path = Path(str(recorded)) if recorded else own
    path = path if path.is_absolute() else run_dir / path
    if not path.is_file() or not path.resolve().is_relative_to(run_dir.resolve()):
        path = own
    return path if path.is_file() else None


def _relative(run_dir: Path, path: Any) -> str | None:
    """A recorded path as the run dir's own (relative paths are; absolute ones of older runs
    are shown relative when they lie inside the run dir)."""
    if not path:
        return None
    p = Path(str(path))
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(run_dir.resolve()))
    except ValueError:
        return p.name


def _iteration(m: Mapping[str, Any], index: Any) -> Mapping[str, Any]:
    for record in m.get("iterations") or []:
        if isinstance(record, Mapping) and record.get("index") == index:
            return record
    return {}


def _not_recorded(evaluation: Mapping[str, Any]) -> str:
    if evaluation.get("error"):
        return f"<p>Not recorded: {esc(evaluation['error'])}</p>"
    return ("<p>Not recorded: this run has no <code>evaluation</code> section in its manifest "
            "(it predates it, or no iteration produced valid predictions).</p>")


def _status(status: Any) -> str:
    colour = _OK if status == "ok" else _BAD
    return f'<span style="color:{colour}">{esc(status)}</span>'


def _first_line(text: Any) -> str:
    return str(text or "").splitlines()[0][:160] if text else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any, digits: int) -> str:
    if _is_number(value):
        return f"{float(value):.{digits}f}"
    return esc(value if value is not None else "-")
