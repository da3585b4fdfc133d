"""The run report: what a researcher reads first, rebuilt from a real run's directory alone."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.report.run_report import SECTION_IDS, write_run_report
from deepthinker_nb.workflow import WorkflowResult, run_deepthinker_workflow
from deepthinker_nb.workflow.datasets import bundled_dataset

HOSTILE = 'Predict churn <script>alert("dt-xss")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> WorkflowResult:
    """One real run of the churn demo (2 iterations, local kernels) whose objective is hostile
    HTML, shared by the module."""
    dataset = bundled_dataset("churn")
    result = run_deepthinker_workflow(
        dataset.path, HOSTILE, target_column=dataset.target, backend="local",
        runs_dir=tmp_path_factory.mktemp("report") / "runs", max_iterations=2, patience=None,
        pool_size=1, simulate=False)
    assert result.status == "complete", result.summary()
    return result


def _manifest(run: WorkflowResult) -> dict:
    return json.loads((run.run_dir / "manifest.json").read_text())


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def test_the_workflow_writes_the_report_with_its_sections_in_order(demo_run):
    html = demo_run.report_path.read_text()
    found = re.findall(r'<section id="([a-z]+)"', html)
    expected = ["summary", "scores", "curves", "confusion", "importance", "scanner", "timings",
                "packages", "reproduce", "notebook"]
    assert found == expected
    assert [s for s in SECTION_IDS if s in found] == found  # the documented order
    summary = _section(html, "summary")
    manifest = _manifest(demo_run)
    assert manifest["dataset"]["sha256"] in summary
    assert manifest["dataset"]["path"] in summary
    assert "churned" in summary and "classification" in summary
    assert "deepthinker-local" in summary
    assert f"deepthinker-nb reproduce {demo_run.run_dir}" in _section(html, "reproduce")
    assert html.count("data:image/png;base64,") >= 5  # scores, ROC, PR, confusion, importance


def test_the_baseline_is_the_majority_class_of_the_training_rows(demo_run):
    """Independently of the workflow: the test rows' class counts are the dataset's minus
    train.csv's, and always answering the training majority scores its share of them."""
    manifest = _manifest(demo_run)
    target = manifest["dataset"]["target"]
    everything = pd.read_csv(manifest["dataset"]["path"])[target].astype(str).value_counts()
    train = pd.read_csv(demo_run.run_dir / "data" / "train.csv")[target].astype(str)
    test_counts = everything.sub(train.value_counts(), fill_value=0)
    majority = train.value_counts().idxmax()
    accuracy = test_counts[majority] / test_counts.sum()
    baseline = manifest["evaluation"]["baseline"]
    assert baseline["label"] == majority == "no"
    assert baseline["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert baseline["balanced_accuracy"] == pytest.approx(1 / (test_counts > 0).sum())
    summary = _section(demo_run.report_path.read_text(), "summary")
    assert f"{accuracy:.4f}" in summary and "0.5000" in summary
    assert "majority class" in summary


def test_the_curves_come_from_host_aggregates_never_rows(demo_run):
    evaluation = _manifest(demo_run)["evaluation"]
    assert evaluation["iteration"] == demo_run.best_iteration
    assert evaluation["predictions"] == "work/run/predictions.csv"  # run.ipynb reproduced it
    assert 2 <= len(evaluation["roc"]["fpr"]) <= 200
    assert len(evaluation["roc"]["fpr"]) == len(evaluation["roc"]["tpr"])
    assert sum(map(sum, evaluation["confusion"]["matrix"])) == evaluation["n"]
    importance = evaluation["feature_importance"]
    assert importance and 1 <= len(importance["features"]) <= 30
    assert not list(demo_run.run_dir.rglob("*labels*"))


def test_the_raw_parameters_cell_is_left_out(demo_run):
    html = demo_run.report_path.read_text()
    notebook = html[html.index('<section id="notebook"'):]
    assert "PREDICTIONS_PATH" in (demo_run.run_dir / "run.ipynb").read_text()
    assert "PREDICTIONS_PATH =" not in notebook and "TEST_FEATURES_PATH =" not in notebook
    assert "train.csv" not in notebook.split("Research", 1)[0]  # the top is the run's title
    assert "jp-Cell" in notebook  # the executed notebook itself is there


def test_a_hostile_objective_is_escaped_and_nothing_runs(demo_run):
    html = demo_run.report_path.read_text()
    assert "&lt;script&gt;alert(&quot;dt-xss&quot;)&lt;/script&gt;" in _section(html, "summary")
    assert "<script" not in html.lower()
    assert "onerror=" not in html.replace("onerror=alert(1)&gt;", "")
    assert "Content-Security-Policy" in html
    assert "cdnjs" not in html and "<link" not in html


def test_an_older_run_without_evaluation_still_gets_a_report(demo_run, tmp_path):
    manifest = _manifest(demo_run)
    for key in ("evaluation", "timings", "packages"):
        manifest.pop(key)
    report = write_run_report(demo_run.run_dir, tmp_path / "old.html", manifest=manifest)
    html = report.path.read_text()
    assert re.findall(r'<section id="([a-z]+)"', html)[:3] == ["summary", "scores", "curves"]
    assert "not recorded" in _section(html, "curves").lower()
    assert "not recorded" in _section(html, "importance")
    assert {"baseline", "curves", "feature importance", "timings"} <= set(report.missing)


def test_the_report_says_when_the_best_model_is_below_the_majority_baseline(demo_run,
                                                                             tmp_path):
    """9% positives: always answering "no" scores 0.91; a model at 0.85 must be told so."""
    manifest = _manifest(demo_run)
    manifest["metrics"] = {**manifest["metrics"], "accuracy": 0.85}
    manifest["evaluation"]["baseline"].update(label="no", accuracy=0.91)
    html = write_run_report(demo_run.run_dir, tmp_path / "r.html",
                            manifest=manifest).path.read_text()
    note = _section(html, "summary")
    assert 'id="below-baseline"' in note and "0.850" in note and "0.910" in note


def test_cli_rebuilds_the_report_from_the_run_dir(demo_run, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["report", str(demo_run.run_dir), "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    fresh = out.read_text()
    assert re.findall(r'<section id="([a-z]+)"', fresh) == re.findall(
        r'<section id="([a-z]+)"', demo_run.report_path.read_text())
    # by id under --dir, default output in the run dir
    assert main(["report", demo_run.run_id, "--dir", str(demo_run.run_dir.parent)]) == 0
    assert capsys.readouterr().out.strip() == str(demo_run.run_dir / "report.html")


def test_cli_unknown_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", "no-such-run", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-run" in err and "--dir" in err


# -- in a real browser -----------------------------------------------------------------------------
def _browser():
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and playwright (pip install -e .[dev])")
        pytest.skip("needs Debian's chromium and the playwright package")
    return chromium, sync_playwright


def test_the_report_renders_in_headless_chromium_without_errors(demo_run, tmp_path):
    chromium, sync_playwright = _browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(Path(demo_run.report_path).as_uri())
            page.wait_for_load_state("load")
            sizes = page.evaluate("""() => [...document.querySelectorAll('img, svg')].map(
                e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })""")
            dialogs = page.evaluate("() => document.title")
            page.screenshot(path=str(tmp_path / "report-top.png"))
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert len(sizes) >= 5 and all(w > 0 and h > 0 for w, h in sizes), sizes
    assert dialogs.startswith("DeepThinker run ")


def test_a_docker_run_names_its_image(demo_run, tmp_path):
    manifest = _manifest(demo_run)
    manifest["backend"] = "docker"
    manifest["kernel"] = {"backend": "docker", "kernel_name": "deepthinker-docker",
                          "image": "deepthinker-kernel:0.1", "network_disabled": True,
                          "image_digest": "sha256:0123abcd"}
    html = write_run_report(demo_run.run_dir, tmp_path / "d.html",
                            manifest=manifest).path.read_text()
    summary = _section(html, "summary")
    assert "<b>docker</b>" in summary and "deepthinker-kernel:0.1" in summary
    assert "sha256:0123abcd" in summary and "no network" in summary


def test_the_model_call_summary_shows_when_the_manifest_has_one(demo_run, tmp_path):
    manifest = _manifest(demo_run)
    assert "llm" not in manifest  # offline councils: no section
    bucket = {"calls": 3, "failures": 1, "tokens_in": 1200, "tokens_out": 340,
              "latency_total": 4.5, "latency_mean": 1.5}
    manifest["llm"] = {**bucket, "mode": "live", "replayed": 0, "replay_mismatches": 0,
                       "per_council": {"coder": bucket}, "per_model": {"qwen<3>": bucket},
                       "log": "llm_calls.jsonl"}
    html = write_run_report(demo_run.run_dir, tmp_path / "l.html",
                            manifest=manifest).path.read_text()
    assert re.findall(r'<section id="([a-z]+)"', html)[-3:] == ["llm", "reproduce", "notebook"]
    llm = _section(html, "llm")
    assert "tokens_in" in llm and "1200" in llm and "qwen&lt;3&gt;" in llm and "coder" in llm


def test_a_tuned_decision_threshold_is_stated_and_the_default_is_not(demo_run, tmp_path):
    manifest = _manifest(demo_run)
    summary = _section(demo_run.report_path.read_text(), "summary")
    # the default (argmax) goes unsaid; a tuned one is stated
    assert ("decision threshold" in summary) is not manifest["evaluation"]["threshold"]["default"]
    manifest["evaluation"]["threshold"] = {"value": 0.31, "default": False,
                                           "between": [0.3, 0.32]}
    html = write_run_report(demo_run.run_dir, tmp_path / "t.html",
                            manifest=manifest).path.read_text()
    summary = _section(html, "summary")
    assert "decision threshold" in summary and "0.310" in summary and "yes" in summary


def test_data_made_labels_and_a_broken_section_do_not_stop_the_report(demo_run, tmp_path):
    """Column names are the data's: ``$x^$`` is no TeX for matplotlib, ``<b>`` no HTML; a
    section the manifest holds in another shape says so, and the others still show."""
    manifest = _manifest(demo_run)
    manifest["evaluation"]["feature_importance"] = {
        "features": [["$x^$", 1.0], ["<b>col</b>", 0.5]], "total": 2}
    manifest["evaluation"]["confusion"]["labels"] = ["$no", "<i>yes"]
    manifest["timings"] = ["not", "a", "mapping"]
    report = write_run_report(demo_run.run_dir, tmp_path / "h.html", manifest=manifest)
    html = report.path.read_text()
    assert "data:image/png" in _section(html, "importance")
    assert "&lt;i&gt;yes" in _section(html, "confusion") and "<i>yes" not in html
    assert "could not be drawn" in _section(html, "timings") and report.missing == ["timings"]
    assert re.findall(r'<section id="([a-z]+)"', html)[-2:] == ["reproduce", "notebook"]
