from __future__ import annotations

import importlib

import nbformat
import pytest

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.notebook import build_notebook, execute_notebook
from deepthinker_nb.report import reproduce, write_manifest
from deepthinker_nb.report.reproduce import compare_metrics, extract_marked_metrics

RUN = ["import json\nimport random\nrandom.seed(SEED)\nscore = round(random.random(), 6)",
       "print('DEEPTHINKER_METRICS: ' + json.dumps({'score': score, 'n': 3}))"]


def _make_run(run_dir, seed=1):
    run = execute_notebook(build_notebook(RUN, parameters={"SEED": seed}), run_dir / "run.ipynb")
    assert run.status == "ok", run.summary()
    return extract_marked_metrics(run.notebook)


def test_reproduce_matches_manifest_metrics(tmp_path):
    metrics = _make_run(tmp_path)
    write_manifest(tmp_path, {"metrics": metrics})
    result = reproduce(tmp_path)
    assert result.reproduced, result.summary()
    assert result.actual == metrics
    assert result.notebook_path == tmp_path / "run.reproduced.ipynb"
    nbformat.validate(nbformat.read(result.notebook_path, as_version=4))


def test_reproduce_reports_mismatch(tmp_path):
    metrics = _make_run(tmp_path)
    write_manifest(tmp_path, {"best": {"metrics": {**metrics, "score": metrics["score"] + 0.1}}})
    result = reproduce(tmp_path, metrics_key="best.metrics")
    assert not result.reproduced
    assert set(result.mismatches) == {"score"}
    assert "score" in result.summary()


def test_reproduce_without_manifest_uses_marker_and_metrics_fn(tmp_path):
    _make_run(tmp_path)
    result = reproduce(tmp_path, metrics_fn=lambda run, run_dir: {"score": -1.0, "n": 3})
    assert not result.reproduced and set(result.mismatches) == {"score"}


def fixed_metrics(run, run_dir):
    """A manifest-named hook (``reproduce.metrics_fn``), as the workflow would register."""
    assert run.status == "ok" and (run_dir / "run.ipynb").exists()
    return {"score": 0.5}


def test_reproduce_uses_metrics_hook_named_in_manifest(tmp_path, monkeypatch):
    module = importlib.import_module("deepthinker_nb.report.reproduce")
    # this test module's hook, as a plug-in's would be allowed
    monkeypatch.setattr(module, "HOOK_MODULES", ("deepthinker_nb", __name__))
    _make_run(tmp_path)
    write_manifest(tmp_path, {"metrics": {"score": 0.5}, "reproduce": {
        "metrics_fn": f"{__name__}:fixed_metrics", "timeout": 60}})
    result = reproduce(tmp_path)
    assert result.reproduced, result.summary()


def test_reproduce_failed_rerun_is_not_reproduced(tmp_path):
    nb = build_notebook(["raise RuntimeError('flaky')"])
    execute_notebook(nb, tmp_path / "run.ipynb")
    write_manifest(tmp_path, {"metrics": {"score": 1.0}})
    result = reproduce(tmp_path)
    assert result.status == "error" and not result.reproduced
    assert "flaky" in result.summary()


def test_compare_metrics_tolerance():
    assert compare_metrics({"a": 0.1 + 0.2, "b": "x"}, {"a": 0.3, "b": "x"}) == {}
    assert compare_metrics({"a": 1.0}, {}) == {"a": (1.0, None)}
    assert compare_metrics({"a": float("nan")}, {"a": float("nan")}) == {}


# -- a run received from someone else: its manifest is data, not instructions --------------------
def test_a_manifest_cannot_name_any_installed_function_as_a_hook(tmp_path):
    """``runpy:run_path`` would run the run dir's own __main__.py on the host."""
    _make_run(tmp_path)
    marker = tmp_path.parent / f"{tmp_path.name}-pwned"
    (tmp_path / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('host code')")
    write_manifest(tmp_path, {"metrics": {"score": 0.5},
                              "reproduce": {"prepare_fn": "runpy:run_path"}})
    with pytest.raises(DeepThinkerError, match="may name only those hooks"):
        reproduce(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("settings", [
    {"workdir": "../outside"}, {"workdir": "/tmp"}, {"data_dirs": ["/etc"]},
    {"data_dirs": ["data", "../../"]},
])
def test_a_manifest_cannot_mount_or_write_folders_outside_the_run(tmp_path, settings):
    _make_run(tmp_path)
    write_manifest(tmp_path, {"metrics": {"score": 0.5}, "reproduce": settings})
    with pytest.raises(DeepThinkerError, match="outside the run dir"):
        reproduce(tmp_path)
    assert not (tmp_path.parent / "outside").exists()
    assert not (tmp_path / "run.reproduced.ipynb").exists()
