"""resolve_run: a run named by id, id prefix or directory path; anything else is one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.runs import resolve_run, run_dirs


def _run(root: Path, run_id: str, manifest: str = "{}") -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(manifest)
    return run_dir


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    _run(root, "20261127-100000-aaaaaa")
    _run(root, "20261127-110000-bbbbbb")
    _run(root, "20261128-090000-cccccc", manifest="{not json")
    (root / "not-a-run").mkdir()
    return root


def test_an_id_is_looked_up_under_the_runs_dir(runs_dir: Path) -> None:
    assert resolve_run("20261127-110000-bbbbbb", runs_dir) == (
        runs_dir / "20261127-110000-bbbbbb").resolve()


def test_a_unique_prefix_names_its_run(runs_dir: Path) -> None:
    assert resolve_run("20261128", runs_dir).name == "20261128-090000-cccccc"


def test_an_ambiguous_prefix_lists_the_candidates(runs_dir: Path) -> None:
    with pytest.raises(DeepThinkerError) as info:
        resolve_run("20261127", runs_dir)
    message = str(info.value)
    assert "\n" not in message and "ambiguous" in message and "aaaaaa" in message


def test_a_run_directory_path_works_absolute_and_relative(runs_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    target = runs_dir / "20261127-100000-aaaaaa"
    assert resolve_run(str(target), tmp_path / "elsewhere") == target.resolve()
    monkeypatch.chdir(tmp_path)
    assert resolve_run(os.path.join("runs", target.name), "nowhere") == target.resolve()


def test_an_unknown_run_is_one_line_naming_dir_and_how_to_list(runs_dir: Path) -> None:
    with pytest.raises(DeepThinkerError) as info:
        resolve_run("nope", runs_dir)
    message = str(info.value)
    assert "\n" not in message
    assert "--dir" in message and "deepthinker-nb runs" in message and "'nope'" in message


def test_a_directory_without_manifest_is_not_a_run(runs_dir: Path) -> None:
    with pytest.raises(DeepThinkerError, match="not a run directory"):
        resolve_run(str(runs_dir / "not-a-run"), runs_dir)
    with pytest.raises(DeepThinkerError, match="no run"):
        resolve_run("not-a-run", runs_dir)


def test_run_dirs_lists_only_directories_with_a_manifest(runs_dir: Path, tmp_path: Path) -> None:
    assert [p.name[-6:] for p in run_dirs(runs_dir)] == ["aaaaaa", "bbbbbb", "cccccc"]
    assert run_dirs(tmp_path / "absent") == []
