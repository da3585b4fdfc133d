"""Batch specs: YAML and TOML read the same, runs expand from the axes or an explicit list,
and every mistake is one line naming the file and the line that is wrong."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from deepthinker_nb.batch import SpecError, load_spec
from deepthinker_nb.batch.storage import (
    StorageError,
    attempt_dirs,
    claim_run_dir,
    pack,
    relocate,
    unpack,
)

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "notebooks" / "data" / "iris.csv"

YAML_SPEC = """\
name: sweep
datasets:
  - iris
  - {path: flowers.csv, target: species, label: flowers}
seeds: [1, 2]
iterations:
  - {max_iterations: 1, quality_threshold: 8.5, patience: 0}
  - {max_iterations: 2}
backends: [local]
councils: [offline]
settings: {simulate: false, report: false, timeout: 30}
output: {dir: out, shared: auto}
"""

TOML_SPEC = """\
name = "sweep"
datasets = ["iris", {path = "flowers.csv", target = "species", label = "flowers"}]
seeds = [1, 2]
backends = ["local"]
councils = ["offline"]

[[iterations]]
max_iterations = 1
quality_threshold = 8.5
patience = 0

[[iterations]]
max_iterations = 2

[settings]
simulate = false
report = false
timeout = 30

[output]
dir = "out"
shared = "auto"
"""


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    shutil.copy(IRIS, tmp_path / "flowers.csv")
    return tmp_path


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_yaml_and_toml_give_the_same_runs(spec_dir: Path) -> None:
    from_yaml = load_spec(_write(spec_dir, "spec.yaml", YAML_SPEC))
    from_toml = load_spec(_write(spec_dir, "spec.toml", TOML_SPEC))
    assert len(from_yaml.runs) == 2 * 2 * 2  # datasets x seeds x iteration configs
    assert [r.config_hash for r in from_yaml.runs] == [r.config_hash for r in from_toml.runs]
    first = from_yaml.runs[0]
    assert (first.dataset.label, first.target, first.task_type, first.seed) == (
        "iris", "species", "classification", 1)
    assert first.iteration.patience is None and first.iteration.quality_threshold == 8.5
    assert first.settings.timeout == 30 and not first.settings.simulate
    assert from_yaml.out_dir == spec_dir / "out" and from_yaml.shared is None
    assert from_yaml.name == "sweep" and from_yaml.retries == 2
    assert len({r.dir_name(1) for r in from_yaml.runs}) == 8


def test_example_specs_are_valid_and_the_same() -> None:
    from_yaml = load_spec(ROOT / "notebooks" / "examples" / "batch.yaml")
    from_toml = load_spec(ROOT / "notebooks" / "examples" / "batch.toml")
    assert len(from_yaml.runs) == 8
    assert [r.config_hash for r in from_yaml.runs] == [r.config_hash for r in from_toml.runs]
    assert from_yaml.out_dir == ROOT / "runs" / "iris-wine-sweep" == from_toml.out_dir


def test_hash_is_the_config_not_the_path(spec_dir: Path, tmp_path_factory) -> None:
    """The same file elsewhere is the same run (re-runs skip it); other content is not."""
    other = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(IRIS, other / "copy.csv")
    spec = {"datasets": [{"path": str(spec_dir / "flowers.csv"), "target": "species"}]}
    moved = {"datasets": [{"path": str(other / "copy.csv"), "target": "species"}]}
    assert load_spec(spec).runs[0].config_hash == load_spec(moved).runs[0].config_hash
    (other / "copy.csv").write_text(IRIS.read_text().replace("5.1", "5.2", 1))
    assert load_spec(spec).runs[0].config_hash != load_spec(moved).runs[0].config_hash
    seeds = load_spec({"datasets": ["iris"], "seeds": [1, 2]}).runs
    assert seeds[0].config_hash != seeds[1].config_hash


def test_explicit_runs_list() -> None:
    spec = load_spec({"runs": [
        {"dataset": "iris", "seed": 3, "iterations": {"max_iterations": 1}},
        {"dataset": "diabetes", "backend": "subprocess"},
    ]})
    first, second = spec.runs
    assert (first.seed, first.iteration.max_iterations) == (3, 1)
    assert (second.task_type, second.target, second.seed) == ("regression", "progression", 42)
    assert second.backend.backend == "local"  # the alias, read through the registry


def test_time_budget_is_an_iteration_setting() -> None:
    """A budget is part of a run's config; a run without one keeps the hash it always had."""
    plain, budgeted = load_spec({"datasets": ["iris"], "iterations": [
        {"max_iterations": 2}, {"max_iterations": 2, "time_budget": 90}]}).runs
    assert budgeted.iteration.time_budget == 90.0 and plain.iteration.time_budget is None
    assert "time_budget" not in plain.identity()["iteration"]
    assert plain.config_hash != budgeted.config_hash
    assert "t=90s" in budgeted.config_label and budgeted.to_record()["time_budget"] == 90.0


def test_model_backed_councils_take_their_settings(tmp_path: Path) -> None:
    """``councils:`` entries named ``llm`` become an LLMConfig; the models and temperatures
    are part of each run's hash, the endpoint's address is not; the offline council's hash is
    the one it had before model-backed councils existed."""
    from deepthinker_nb.llm import LLMConfig
    from deepthinker_nb.workflow.councils.llm import LLMCoder, LLMEvaluator

    spec = {"datasets": ["iris"], "councils": [
        "offline",
        {"name": "llm", "model": "qwen2.5-coder:7b", "temperature": 0.4, "seed": 3,
         "base_url": "http://gpu-box:11434/v1", "max_requests": 50},
        {"name": "llm", "models": {"coder": "big", "evaluator": "small"}},
        {"name": "llm", "model": "qwen2.5-coder:7b", "temperature": 0.4, "seed": 3,
         "base_url": "http://elsewhere:8000/v1", "max_requests": 50}]}
    offline, qwen, per_role, moved = load_spec(spec).runs
    assert offline.identity()["council"] == {"name": "offline"}
    assert isinstance(qwen.council.llm, LLMConfig)
    assert (qwen.council.llm.model, qwen.council.llm.temperature, qwen.council.llm.seed,
            qwen.council.llm.max_requests) == ("qwen2.5-coder:7b", 0.4, 3, 50)
    assert qwen.council.roles == ("coder", "evaluator")
    assert per_role.council.llm.for_role("evaluator").model == "small"
    assert len({offline.config_hash, qwen.config_hash, per_role.config_hash}) == 3
    assert moved.config_hash == qwen.config_hash  # another address of the same model
    assert qwen.council.label == "llm:qwen2.5-coder:7b t=0.4"
    councils = qwen.council.councils(tmp_path / "run")
    assert isinstance(councils.coder, LLMCoder) and isinstance(councils.evaluator, LLMEvaluator)
    assert councils.coder.client.log.path == tmp_path / "run" / "llm_calls.jsonl"


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("datasets: [iris]\nseeds: [1, x]\n", 2, "seeds[1]: 'x' is not a whole number"),
    ("datasets:\n  - iris\n  - nope\n", 3, "datasets[1]: unknown dataset 'nope'"),
    ("datasets: [iris]\nseed: [1]\n", 2, "seed: unknown key 'seed'; did you mean 'seeds'?"),
    ("datasets: [iris]\niterations:\n  - max_iterations: 1\n    patiense: 2\n", 4,
     "iterations[0].patiense: unknown key 'patiense'; did you mean 'patience'?"),
    ("datasets: [iris]\niterations:\n  - {quality_threshold: 11}\n", 3,
     "iterations[0].quality_threshold: must be between 0 and 10"),
    ("datasets: [iris]\nbackends: [local, cloud]\n", 2,
     "backends[1]: unknown kernel backend 'cloud'"),
    ("datasets: [iris]\nbackends:\n  - {backend: local, profile: GPU_ML}\n", 3,
     "backends[0].profile: backend 'local' has no profile 'GPU_ML'"),
    ("datasets: [iris]\ncouncils: [gpt]\n", 2, "councils[0]: unknown council 'gpt'"),
    ("datasets: [iris]\ncouncils:\n  - {name: llm, temperature: 0.1}\n", 3,
     "councils[0]: name the model"),
    ("datasets: [iris]\ncouncils:\n  - {name: offline, model: qwen}\n", 3,
     "councils[0].model: the offline council takes no model settings"),
    ("datasets: [iris]\ncouncils:\n  - name: llm\n    model: qwen\n    roles: [coder, poet]\n",
     5, "councils[0].roles[1]: 'poet' is not a council role"),
    ("datasets: [iris]\ncouncils:\n  - {name: llm, model: qwen, temprature: 0}\n", 3,
     "unknown key 'temprature'; did you mean 'temperature'?"),
    ("datasets: [iris]\niterations:\n  - {max_iterations: 2, time_budget: 0}\n", 3,
     "iterations[0].time_budget: must be > 0 seconds"),
    ("datasets: [iris]\ntargets: [petal_colour]\n", 2, "targets[0]: dataset iris:"),
    ("datasets: [iris]\nseeds: [1, 1]\n", 2, "seeds[1]: repeats seeds[0]"),
    ("datasets: [iris]\nsettings:\n  simulate: 'no'\n", 3,
     "settings.simulate: 'no' is not true or false"),
    ("datasets: [iris]\nruns: []\n", 1, "datasets: give the axes"),
    ("datasets: [iris]\ndatasets: [wine]\n", 2, "datasets: given twice (first on line 1)"),
    ("datasets: [iris\n", 2, "YAML syntax"),
])
def test_yaml_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                        expected: str) -> None:
    path = _write(tmp_path, "spec.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert expected in message and "\n" not in message


@pytest.mark.parametrize(("text", "line", "expected"), [
    ('datasets = ["iris"]\n\n[settings]\nsimulat = false\n', 4,
     "settings.simulat: unknown key 'simulat'; did you mean 'simulate'?"),
    ('datasets = ["iris"]\n[[iterations]]\nmax_iterations = 1\n[[iterations]]\n'
     'max_iterations = 0\n', 5, "iterations[1].max_iterations: must be >= 1, got 0"),
    ('datasets = ["iris"]\nseeds = [\n  1,\n  "x",\n]\n', 2, "seeds[1]"),
    ('datasets = ["iris"\n', 1, "TOML syntax"),
])
def test_toml_errors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                        expected: str) -> None:
    path = _write(tmp_path, "spec.toml", text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert expected in str(caught.value)


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match=r"\.yaml, \.yml or \.toml"):
        load_spec(_write(tmp_path, "spec.json", "{}"))


def test_run_dirs_claim_attempts_and_move_safely(tmp_path: Path) -> None:
    (run,) = load_spec({"datasets": ["iris"]}).runs
    first, one = claim_run_dir(tmp_path, run)
    second, two = claim_run_dir(tmp_path, run)
    assert (one, two) == (1, 2) and first.name.endswith("-a1") and second.name.endswith("-a2")
    (relabelled,) = load_spec({"datasets": [{"name": "iris", "label": "flowers"}]}).runs
    assert relabelled.config_hash == run.config_hash
    assert attempt_dirs(tmp_path, relabelled) == [first, second]
    worker_dir = tmp_path / "worker" / run.dir_name(1)
    (worker_dir / "data").mkdir(parents=True)
    (worker_dir / "manifest.json").write_text(json.dumps(
        {"run_dir": str(worker_dir), "data": f"{worker_dir}/data/train.csv"}))
    (worker_dir / "link").symlink_to("/etc/passwd")
    (worker_dir / "data" / "train.csv").write_text("a\n1\n")
    os.link(worker_dir / "data" / "train.csv", worker_dir / "data" / "hard.csv")
    archive = pack(worker_dir)
    dest, _ = claim_run_dir(tmp_path / "client", run)
    unpack(archive, dest)
    assert not (dest / "link").exists()  # links are not brought home
    assert not (dest / "data" / "hard.csv").exists() and not (dest / "data" / "train.csv").exists()
    relocate(dest, {str(worker_dir): str(dest)})
    assert str(dest) + "/data/train.csv" in (dest / "manifest.json").read_text()
    assert str(worker_dir) not in (dest / "manifest.json").read_text()


def test_unpack_refuses_members_outside_the_run_dir(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(StorageError, match="refusing member"):
        unpack(buffer.getvalue(), dest)
    assert not (tmp_path / "escaped.txt").exists()
