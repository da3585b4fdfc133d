"""Re-execute a run's ``run.ipynb`` and check that its metrics come out the same.

Kept generic: the expected metrics are read from the manifest (``metrics_key``, a dotted path)
or, failing that, from a marked JSON line the original notebook printed; the re-run's metrics come
from ``metrics_fn`` (the workflow passes its host-side metric computation) or from the same
marker in the re-executed notebook.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.notebook.execute import execute_notebook
from deepthinker_nb.notebook.io import read_notebook, write_notebook
from deepthinker_nb.notebook.relocate import absolute_paths
from deepthinker_nb.report.manifest import read_manifest
from deepthinker_nb.report.outputs import CellDiff, diff_outputs

METRICS_MARKER = "DEEPTHINKER_METRICS:"
"""A line ``DEEPTHINKER_METRICS: {"accuracy": 0.9}`` printed by a run notebook's cell."""
RUN_NOTEBOOK = "run.ipynb"
MetricsFn = Callable[..., Mapping[str, Any] | None]
"""``metrics_fn(run: NotebookRun, run_dir: Path[, dataset=Path]) -> metrics`` of a re-run."""
REPRODUCED_NOTEBOOK = "run.reproduced.ipynb"
FAILED_NOTEBOOK = "run.reproduce-failed.ipynb"
PENDING_NOTEBOOK = "run.reproducing.ipynb"
HOOK_MODULES: tuple[str, ...] = ("deepthinker_nb",)
"""Packages whose functions a manifest may name as reproduce hooks."""


@dataclass
class ReproduceResult:
    """Did the re-run give the recorded metrics and outputs? ``mismatches`` maps a metric to
    (expected, got); ``output_diffs`` lists the code cells whose outputs differ."""

    run_dir: Path
    notebook_path: Path
    status: str
    """The re-run's status (``ok``, ``error``, ``blocked``, ``timeout``, ``died``)."""
    expected: dict[str, Any] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)
    mismatches: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None
    output_diffs: list[CellDiff] = field(default_factory=list)
    cells: int = 0
    """Code cells compared."""

    @property
    def reproduced(self) -> bool:
        return (self.status == "ok" and bool(self.expected) and not self.mismatches
                and not self.output_diffs)

    def summary(self) -> str:
        if self.reproduced:
            return (f"reproduced: {len(self.expected)} metrics and {self.cells} cell outputs "
                    f"equal ({self.notebook_path})")
        if self.status != "ok":
            return f"not reproduced: re-run {self.status}: {self.error}"
        if not self.expected:
            return "not reproduced: no recorded metrics to compare"
        parts = [f"{k}: {e!r} != {a!r}" for k, (e, a) in self.mismatches.items()]
        if self.output_diffs:
            parts.append("output of cell" + ("s " if len(self.output_diffs) > 1 else " ")
                         + ", ".join(str(d.cell) for d in self.output_diffs) + " differs")
        return f"not reproduced: {'; '.join(parts)}"

    def table(self) -> str:
        """A pass/fail line per metric and for the cell outputs, then each output's diff."""
        rows = [f"{'':4} {'metric':24} {'recorded':>14} {'re-run':>14}"]
        for name, want in self.expected.items():
            got = self.actual.get(name)
            mark = "FAIL" if name in self.mismatches else "ok"
            rows.append(f"{mark:4} {name:24} {_fmt(want):>14} {_fmt(got):>14}")
        same = self.cells - len(self.output_diffs)
        mark = "FAIL" if self.output_diffs else "ok"
        rows.append(f"{mark:4} {'cell outputs':24} {f'{same}/{self.cells} equal':>29}")
        rows += [d.summary() for d in self.output_diffs]
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reproduced": self.reproduced, "status": self.status,
            "notebook": str(self.notebook_path), "expected": self.expected,
            "actual": self.actual,
            "mismatches": {k: list(v) for k, v in self.mismatches.items()},
            "output_diffs": [{"cell": d.cell, "diff": d.diff} for d in self.output_diffs],
            "error": self.error,
        }

    def _repr_html_(self) -> str:
        import html

        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        return f"<b>{verdict}</b><pre>{html.escape(self.table())}</pre>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def extract_marked_metrics(nb: nbformat.NotebookNode) -> dict[str, Any] | None:
    """The last ``DEEPTHINKER_METRICS:`` JSON line printed anywhere in the notebook."""
    found = None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream":
                continue
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(METRICS_MARKER):
                    try:
                        value = json.loads(line[len(METRICS_MARKER):])
                    except json.JSONDecodeError:
                        continue
                    if isinstance(value, dict):
                        found = value
    return found


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def compare_metrics(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
) -> dict[str, tuple[Any, Any]]:
    """Metrics that differ: numbers within tolerance count as equal, anything else exactly."""
    mismatches = {}
    for name, want in expected.items():
        got = actual.get(name)
        if isinstance(want, bool) or isinstance(got, bool) or not (
            isinstance(want, (int, float)) and isinstance(got, (int, float))
        ):
            if want != got:
                mismatches[name] = (want, got)
        elif not (math.isnan(want) and math.isnan(got)) and not math.isclose(
            want, got, rel_tol=rel_tol, abs_tol=abs_tol
        ):
            mismatches[name] = (want, got)
    return mismatches


def reproduce(
    run_dir: str | os.PathLike[str],
    *,
    output_path: str | os.PathLike[str] | None = None,
    metrics_key: str = "metrics",
    metrics_fn: MetricsFn | None = None,
    pool: Any = None,
    parameters: Mapping[str, Any] | None = None,
    backend: str | None = None,
    dataset: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
) -> ReproduceResult:
    """Re-execute ``run_dir/run.ipynb`` with papermill (engine ``deepthinker``), compare its
    metrics and its cells' outputs with the recorded ones, and say whether they are the same.

    The re-run is written to ``run.reproduced.ipynb`` when it reproduces and to
    ``run.reproduce-failed.ipynb`` when it does not (a stale ``run.reproduced.ipynb`` is
    removed), each opening with a cell that states the verdict: a failure never leaves a
    notebook that could pass for a success. ``output_path`` names the file instead.

    Execution settings come from the manifest's optional ``reproduce`` section (``backend``,
    ``data_dirs``, ``workdir`` - relative to the run dir, or absolute in older runs -,
    ``parameters``, ``timeout``, and ``"module:function"`` hooks: ``prepare_fn(run_dir,
    dataset=...)`` before the re-run, ``metrics_fn(run, run_dir, dataset=...)`` for the
    re-run's metrics when they are computed on the host, as the workflow does from the
    predictions file). Without a metrics hook the re-run's ``DEEPTHINKER_METRICS:`` line is
    used. ``backend`` overrides the recorded one; ``dataset`` tells the hooks where the
    original dataset is now; ``progress`` receives a line per executed cell.
    """
    run_path = Path(run_dir).resolve()
    source = run_path / RUN_NOTEBOOK
    try:
        manifest = read_manifest(run_path)
    except FileNotFoundError:
        manifest = {}
    settings = dict(manifest.get("reproduce") or {})
    hook_options = {"dataset": Path(dataset)} if dataset is not None else {}
    workdir = _in_run(run_path, settings.get("workdir"), "workdir")
    data_dirs = tuple(_in_run(run_path, d, "data_dirs") for d in settings.get("data_dirs", ()))
    if settings.get("prepare_fn"):
        _import_hook(str(settings["prepare_fn"]))(run_path, **hook_options)
    if metrics_fn is None and settings.get("metrics_fn"):
        metrics_fn = _import_hook(str(settings["metrics_fn"]))

    # Read once, as untrusted (it holds what a kernel produced); the re-run executes a copy
    # whose relative paths point into the run dir where it lies now.
    recorded = read_notebook(source)
    expected = _lookup(manifest, metrics_key)
    if not isinstance(expected, Mapping):
        expected = extract_marked_metrics(recorded) or {}
    to_run = copy.deepcopy(recorded)
    absolute_paths(to_run, run_path)
    run_parameters = dict(settings.get("parameters") or {})
    run_parameters.update(parameters or {})
    pending = run_path / PENDING_NOTEBOOK

    def cell_done(done: int, total: int, status: str) -> None:
        if progress is not None:
            progress(f"{RUN_NOTEBOOK} cell {done}/{total}: {status}")

    if progress is not None:
        progress(f"re-executing {source}")
    try:
        run = execute_notebook(
            to_run,
            pending,
            parameters=run_parameters or None,
            backend=backend or settings.get("backend", DEFAULT_BACKEND),
            workdir=workdir,
            data_dirs=data_dirs,
            pool=pool,
            timeout=settings.get("timeout", 300.0),
            relative_to=run_path,
            cell_progress=cell_done,
        )
    except BaseException:
        _unlink(pending)
        raise
    if metrics_fn is not None:
        actual = (dict(metrics_fn(run, run_path, **hook_options) or {})
                  if run.status == "ok" else {})
    else:
        actual = extract_marked_metrics(run.notebook) or {}
    expected = dict(expected)
    result = ReproduceResult(
        run_dir=run_path,
        notebook_path=pending,
        status=run.status,
        expected=expected,
        actual=actual,
        mismatches=compare_metrics(expected, actual, rel_tol=rel_tol, abs_tol=abs_tol)
        if run.status == "ok" else {},
        error=str(run.error) if run.error else None,
        output_diffs=diff_outputs(recorded, run.notebook) if run.status == "ok" else [],
        cells=sum(1 for c in recorded.cells if c.get("cell_type") == "code"),
    )
    result.notebook_path = _settle(run.notebook, pending, result, output_path)
    return result


def _settle(nb: Any, pending: Path, result: ReproduceResult,
            output_path: str | os.PathLike[str] | None) -> Path:
    """Write the verdict into the re-run notebook and give it its final name."""
    verdict = "Reproduced" if result.reproduced else "NOT reproduced"
    banner = nbformat.v4.new_markdown_cell(
        f"**{verdict}** (`deepthinker-nb reproduce`): {result.summary()}\n\n"
        f"```\n{result.table()}\n```")
    banner.metadata["tags"] = ["reproduce-verdict"]
    nb.cells.insert(0, banner)
    nb.metadata.setdefault("deepthinker", {})["reproduce"] = result.to_dict()
    if output_path is not None:
        target = Path(output_path)
    else:
        target = result.run_dir / (REPRODUCED_NOTEBOOK if result.reproduced
                                   else FAILED_NOTEBOOK)
        _unlink(result.run_dir / (FAILED_NOTEBOOK if result.reproduced
                                  else REPRODUCED_NOTEBOOK))
    write_notebook(nb, target)
    _unlink(pending)
    return target


def _in_run(run_path: Path, value: Any, key: str) -> Path | None:
    """A path the manifest gives relative to the run dir (or absolute, in older runs), which
    must lie inside it: a run received from elsewhere may not mount or write the host's
    folders through its manifest."""
    if value in (None, ""):
        return None
    path = (run_path / str(value)).resolve()
    if not path.is_relative_to(run_path):
        raise DeepThinkerError(f"manifest.json's reproduce.{key} {str(value)!r} lies outside the "
                               f"run dir {run_path}; a run names only its own folders there")
    return path


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _import_hook(spec: str) -> Callable[..., Any]:
    """``"package.module:function"`` from a manifest, imported only from the modules
    :data:`HOOK_MODULES` names: a manifest is data, and a run received from elsewhere must
    not name any installed function (``runpy:run_path`` would run its own files)."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise DeepThinkerError(f"manifest.json's reproduce hook must look like "
                               f"'module:function', got {spec!r}")
    if not any(module_name == m or module_name.startswith(m + ".") for m in HOOK_MODULES):
        raise DeepThinkerError(f"manifest.json names the reproduce hook {spec!r}, outside "
                               f"{', '.join(HOOK_MODULES)}; a run may name only those hooks")
    return getattr(importlib.import_module(module_name), attr)
