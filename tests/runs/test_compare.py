"""compare_runs: the settings that differ, every metric, the scores per iteration."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepthinker_nb.runs import CompareError, compare_runs
from deepthinker_nb.runs.compare import plot_scores, sparkline, text_chart

pytestmark = pytest.mark.slow


def test_config_shows_only_what_differs_and_metrics_all(real_runs) -> None:
    full, short = real_runs.full, real_runs.short
    comparison = compare_runs([full.run_id, short.run_id], real_runs.runs_dir)
    assert comparison.ids == [full.run_id, short.run_id]
    assert comparison.config["data_config.random_seed"] == [42, 7]
    assert comparison.config["iteration_config.max_iterations"] == [2, 1]
    assert comparison.config["seeds.split"] == [42, 7]
    assert "data_config.target_column" not in comparison.config  # same in both
    assert "dataset_sha256" not in comparison.config
    assert set(comparison.metrics) == set(full.best_metrics) | set(short.best_metrics)
    assert comparison.metrics["balanced_accuracy"] == pytest.approx(
        [full.best_metrics["balanced_accuracy"], short.best_metrics["balanced_accuracy"]])
    assert [len(s) for s in comparison.scores] == [len(full.iterations), len(short.iterations)]
    assert comparison.to_dict()["config"] == comparison.config


def test_text_chart_has_one_line_per_run_with_its_scores(real_runs) -> None:
    comparison = compare_runs([real_runs.full.run_id, real_runs.short.run_id],
                              real_runs.runs_dir)
    lines = text_chart(comparison)
    assert len(lines) == 3
    for line, scores in zip(lines[1:], comparison.scores, strict=True):
        assert f"{scores[-1]:5.2f}" in line


def test_plot_writes_a_png_and_an_svg(real_runs, tmp_path: Path) -> None:
    comparison = compare_runs([real_runs.full.run_id, real_runs.short.run_id],
                              real_runs.runs_dir)
    png = plot_scores(comparison, tmp_path / "scores.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot_scores(comparison, tmp_path / "scores.svg")
    assert b"<svg" in svg.read_bytes()[:500]
    with pytest.raises(CompareError, match=r"--plot .*\.png or \.svg"):
        plot_scores(comparison, tmp_path / "scores.txt")
    with pytest.raises(CompareError, match="does not exist"):
        plot_scores(comparison, tmp_path / "absent" / "scores.png")


def test_one_run_is_not_a_comparison(real_runs) -> None:
    with pytest.raises(CompareError, match="at least two"):
        compare_runs([real_runs.full.run_id], real_runs.runs_dir)


def test_sparkline_scales_scores_and_marks_missing_ones() -> None:
    assert sparkline([0.0, 5.0, 10.0, None]) == "▁▅█×"
    assert sparkline([6.0, 7.0], low=6.0, high=7.0) == "▁█"
