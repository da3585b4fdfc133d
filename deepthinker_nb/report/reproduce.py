"""Re-execute a run's ``run.ipynb`` and check that its metrics come out the same.

Kept generic: the expected metrics are read from the manifest (``metrics_key``, a dotted path)
or, failing that, from a marked JSON line the original notebook printed; the re-run's metrics come
from ``metrics_fn`` (the workflow passes its host-side metric computation) or from the same
marker in the re-executed notebook.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.notebook.execute import execute_notebook
from deepthinker_nb.notebook.io import read_notebook
from deepthinker_nb.report.manifest import read_manifest

METRICS_MARKER = "DEEPTHINKER_METRICS:"
"""A line ``DEEPTHINKER_METRICS: {"accuracy": 0.9}`` printed by a run notebook's cell."""
RUN_NOTEBOOK = "run.ipynb"
MetricsFn = Callable[[Any, Path], Mapping[str, Any] | None]
"""``metrics_fn(run: NotebookRun, run_dir: Path) -> metrics`` of a re-run."""
REPRODUCED_NOTEBOOK = "run.reproduced.ipynb"


@dataclass
class ReproduceResult:
    """Did the re-run give the recorded metrics? ``mismatches`` maps a name to (expected, got)."""

    run_dir: Path
    notebook_path: Path
    status: str
    """The re-run's status (``ok``, ``error``, ``blocked``, ``timeout``, ``died``)."""
    expected: dict[str, Any] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)
    mismatches: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None

    @property
    def reproduced(self) -> bool:
        return self.status == "ok" and bool(self.expected) and not self.mismatches

    def summary(self) -> str:
        if self.reproduced:
            return f"reproduced: {len(self.expected)} metrics equal ({self.notebook_path})"
        if self.status != "ok":
            return f"not reproduced: re-run {self.status}: {self.error}"
        if not self.expected:
            return "not reproduced: no recorded metrics to compare"
        diffs = ", ".join(f"{k}: {e!r} != {a!r}" for k, (e, a) in self.mismatches.items())
        return f"not reproduced: {diffs}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "reproduced": self.reproduced, "status": self.status,
            "notebook": str(self.notebook_path), "expected": self.expected,
            "actual": self.actual,
            "mismatches": {k: list(v) for k, v in self.mismatches.items()},
            "error": self.error,
        }


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
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-9,
) -> ReproduceResult:
    """Re-execute ``run_dir/run.ipynb`` with papermill (engine ``deepthinker``) into
    ``run_dir/run.reproduced.ipynb`` and compare metrics with the recorded ones.

    Execution settings come from the manifest's optional ``reproduce`` section (``backend``,
    ``data_dirs``, ``workdir``, ``parameters``, ``timeout``, and ``metrics_fn``: a
    ``"module:function"`` to import). ``metrics_fn(run, run_dir)`` returns the re-run's metrics
    when they are computed on the host (as the workflow does, from the predictions file);
    without one, the re-run's ``DEEPTHINKER_METRICS:`` line is used.
    """
    run_path = Path(run_dir)
    source = run_path / RUN_NOTEBOOK
    target = Path(output_path) if output_path is not None else run_path / REPRODUCED_NOTEBOOK
    try:
        manifest = read_manifest(run_path)
    except FileNotFoundError:
        manifest = {}
    settings = dict(manifest.get("reproduce") or {})

    # Read once, as untrusted (it holds what a kernel produced); the re-run executes this copy.
    recorded = read_notebook(source)
    expected = _lookup(manifest, metrics_key)
    if not isinstance(expected, Mapping):
        expected = extract_marked_metrics(recorded) or {}
    run_parameters = dict(settings.get("parameters") or {})
    run_parameters.update(parameters or {})
    run = execute_notebook(
        recorded,
        target,
        parameters=run_parameters or None,
        backend=settings.get("backend", DEFAULT_BACKEND),
        workdir=settings.get("workdir"),
        data_dirs=tuple(settings.get("data_dirs", ())),
        pool=pool,
        timeout=settings.get("timeout", 300.0),
    )
    if metrics_fn is None and settings.get("metrics_fn"):
        metrics_fn = _import_hook(str(settings["metrics_fn"]))
    if metrics_fn is not None:
        actual = dict(metrics_fn(run, run_path) or {}) if run.status == "ok" else {}
    else:
        actual = extract_marked_metrics(run.notebook) or {}
    expected = dict(expected)
    return ReproduceResult(
        run_dir=run_path,
        notebook_path=run.path,
        status=run.status,
        expected=expected,
        actual=actual,
        mismatches=compare_metrics(expected, actual, rel_tol=rel_tol, abs_tol=abs_tol)
        if run.status == "ok" else {},
        error=str(run.error) if run.error else None,
    )


def _import_hook(spec: str) -> MetricsFn:
    """``"package.module:function"`` from a manifest, imported (only from installed code)."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"reproduce.metrics_fn must look like 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module_name), attr)
