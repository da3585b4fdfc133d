"""A batch spec's format, and its parsing into a :class:`BatchSpec` before anything runs.

The spec lists the axes of a cross product (or an explicit ``runs:`` list)::

    name: iris-sweep
    datasets: [iris, {path: data/houses.csv, target: price, task: regression}]
    targets: [species]            # optional axis: overrides each dataset's own target
    tasks: [classification]       # optional axis: overrides each dataset's own task
    seeds: [1, 2, 3]
    iterations: [{max_iterations: 1, quality_threshold: 8.0, patience: 2, time_budget: 600}]
    backends: [local, {backend: docker, profile: SAFE_ML}]
    councils: [offline, {name: llm, model: "qwen2.5-coder:7b", temperature: 0.2}]
    settings: {pool_size: 1, simulate: false, report: false, timeout: 60, retries: 2}
    output: {dir: runs/iris-sweep, shared: auto}

Everything is checked here, on the client, with the line of the value that is wrong: unknown
keys, bad values, datasets that do not exist or lack the target, backends and profiles (read
from the backend registry). A spec that passes has only runs that can start.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deepthinker_nb.batch.config import (
    DEFAULT_RETRIES,
    DEFAULT_SEED,
    ITERATION_FIELDS,
    OPTIONAL_ITERATION_FIELDS,
    BackendChoice,
    BatchSpec,
    CouncilChoice,
    DatasetRef,
    RunConfig,
    RunSettings,
)
from deepthinker_nb.batch.document import KeyPath, SpecDocument, SpecError, read_spec_file
from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.config.data import TASK_TYPES
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND, available_backends, get_backend
from deepthinker_nb.report.manifest import file_sha256

AXES = ("datasets", "targets", "tasks", "seeds", "iterations", "backends", "councils")
TOP_KEYS = (*AXES, "name", "runs", "settings", "output")
RUN_KEYS = ("dataset", "target", "task", "seed", "iterations", "backend", "council")
DATASET_KEYS = ("name", "path", "label", "target", "task", "objective")
ITERATION_KEYS = (*ITERATION_FIELDS, *OPTIONAL_ITERATION_FIELDS)
BACKEND_KEYS = ("backend", "profile")
LLM_KEYS = ("model", "base_url", "temperature", "seed", "roles", "models", "timeout",
            "max_requests", "max_tokens")
"""A model-backed council's settings: :class:`~deepthinker_nb.llm.LLMConfig`'s fields, with
``roles`` (the councils the model takes: coder, evaluator, planner, researcher, simulator)
and ``models`` (a model per role)."""
COUNCIL_KEYS = ("name", *LLM_KEYS)
COUNCILS = ("offline", "llm")
"""Council names a spec may use: ``llm`` takes the model settings of ``LLM_KEYS``."""
SETTINGS_KEYS = ("objective", "pool_size", "simulate", "report", "timeout",
                 "test_split_ratio", "retries")
OUTPUT_KEYS = ("dir", "shared")
SHARED_VALUES = {"auto": None, "true": True, "false": False, "yes": True, "no": False}


def load_spec(spec: str | Path | Mapping[str, Any] | BatchSpec) -> BatchSpec:
    """A :class:`BatchSpec` from a spec file, a dict of the same shape, or one as it is."""
    if isinstance(spec, BatchSpec):
        return spec
    if isinstance(spec, Mapping):
        return parse_spec(SpecDocument(dict(spec)))
    if isinstance(spec, (str, Path)):
        return parse_spec(read_spec_file(spec))
    raise SpecError(f"spec: expected a spec file path, a dict or a BatchSpec, got "
                    f"{type(spec).__name__}")


def parse_spec(doc: SpecDocument) -> BatchSpec:
    """Check ``doc`` and expand it into its runs; raises :class:`SpecError` with the line."""
    return _Parser(doc).parse()


@dataclass(frozen=True)
class _At:
    """A value and the key path it came from (for errors found later, in combination)."""

    value: Any
    path: KeyPath


class _Parser:
    def __init__(self, doc: SpecDocument) -> None:
        self.doc = doc
        self._datasets: dict[tuple[str, str], DatasetRef] = {}
        self._checked: set[tuple[Path, str | None, str]] = set()

    def fail(self, path: KeyPath, problem: str) -> SpecError:
        return self.doc.error(path, problem)

    # -- the whole spec ----------------------------------------------------------------------
    def parse(self) -> BatchSpec:
        data = self.mapping(self.doc.data, (), TOP_KEYS)
        settings, retries = self.settings(data.get("settings"))
        out_dir, shared = self.output(data.get("output"))
        if "runs" in data:
            given = [axis for axis in AXES if axis in data]
            if given:
                raise self.fail((given[0],), "give the axes (datasets, seeds, ...) or an "
                                             "explicit runs: list, not both")
            runs = self.explicit_runs(data["runs"], settings)
        else:
            runs = self.cross_product(data, settings)
        name = data.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise self.fail(("name",), "must be a non-empty text")
        if name is None:
            name = self.doc.source.stem if self.doc.source is not None else "batch"
        return BatchSpec(name.strip(), tuple(runs), retries, out_dir, shared, self.doc.source)

    def cross_product(self, data: Mapping[str, Any], settings: RunSettings) -> list[RunConfig]:
        if "datasets" not in data:
            raise self.fail((), "datasets: list at least one dataset (a bundled name such as "
                                "iris, or a file path)")
        datasets = self.axis(data, "datasets", self.dataset)
        targets = self.axis(data, "targets", self.text) if "targets" in data else [None]
        tasks = self.axis(data, "tasks", self.task) if "tasks" in data else [None]
        seeds = (self.axis(data, "seeds", self.seed) if "seeds" in data
                 else [_At(DEFAULT_SEED, ())])
        iterations = (self.axis(data, "iterations", self.iteration) if "iterations" in data
                      else [_At(IterationConfig(), ())])
        backends = (self.axis(data, "backends", self.backend) if "backends" in data
                    else [_At(BackendChoice(get_backend(DEFAULT_BACKEND).name), ())])
        councils = (self.axis(data, "councils", self.council) if "councils" in data
                    else [_At(CouncilChoice(), ())])
        runs = []
        for dataset, target, task, seed, iteration, backend, council in itertools.product(
                datasets, targets, tasks, seeds, iterations, backends, councils):
            runs.append(self.run(dataset, target, task, seed.value, iteration.value,
                                 backend.value, council.value, settings))
        return runs

    def explicit_runs(self, value: Any, settings: RunSettings) -> list[RunConfig]:
        items = self.sequence(value, ("runs",))
        if not items:
            raise self.fail(("runs",), "list at least one run")
        runs, seen = [], {}
        for index, item in enumerate(items):
            path: KeyPath = ("runs", index)
            entry = self.mapping(item, path, RUN_KEYS)
            if "dataset" not in entry:
                raise self.fail(path, "a run names its dataset (dataset: iris)")
            dataset = _At(self.dataset(entry["dataset"], (*path, "dataset")), (*path, "dataset"))
            target = (_At(self.text(entry["target"], (*path, "target")), (*path, "target"))
                      if "target" in entry else None)
            task = (_At(self.task(entry["task"], (*path, "task")), (*path, "task"))
                    if "task" in entry else None)
            seed = self.seed(entry.get("seed", DEFAULT_SEED), (*path, "seed"))
            iteration = (self.iteration(entry["iterations"], (*path, "iterations"))
                         if "iterations" in entry else IterationConfig())
            backend = (self.backend(entry["backend"], (*path, "backend")) if "backend" in entry
                       else BackendChoice(get_backend(DEFAULT_BACKEND).name))
            council = (self.council(entry["council"], (*path, "council")) if "council" in entry
                       else CouncilChoice())
            run = self.run(dataset, target, task, seed, iteration, backend, council, settings)
            if run.config_hash in seen:
                raise self.fail(path, f"the same run as runs[{seen[run.config_hash]}]")
            seen[run.config_hash] = index
            runs.append(run)
        return runs

    def run(self, dataset: _At, target: _At | None, task: _At | None, seed: int,
            iteration: IterationConfig, backend: BackendChoice, council: CouncilChoice,
            settings: RunSettings) -> RunConfig:
        """One run, its dataset checked with its target and task (once per combination)."""
        ref: DatasetRef = dataset.value
        target_value = target.value if target is not None else ref.target
        task_value = task.value if task is not None else (ref.task_type or "classification")
        where = target.path if target is not None else dataset.path
        self.check_data(ref, target_value, task_value, where)
        return RunConfig(ref, target_value, task_value, seed, iteration, backend, council,
                         settings)

    def check_data(self, ref: DatasetRef, target: str | None, task: str,
                   where: KeyPath) -> None:
        """Load the dataset as the workflow will (cheap) and check the target and task."""
        key = (ref.path, target, task)
        if key in self._checked:
            return
        from deepthinker_nb.workflow.data import load_and_validate

        try:
            load_and_validate(DataConfig(data_path=ref.path, task_type=task,
                                         target_column=target))
        except DeepThinkerError as exc:
            raise self.fail(where, f"dataset {ref.label}: {exc}")
        self._checked.add(key)

    # -- sections ----------------------------------------------------------------------------
    def settings(self, value: Any) -> tuple[RunSettings, int]:
        path: KeyPath = ("settings",)
        if value is None:
            return RunSettings(), DEFAULT_RETRIES
        entry = self.mapping(value, path, SETTINGS_KEYS)
        settings = RunSettings()
        if "objective" in entry:
            settings = replace(settings, objective=self.text(entry["objective"],
                                                             (*path, "objective")))
        if "pool_size" in entry:
            settings = replace(settings, pool_size=self.integer(entry["pool_size"],
                                                                (*path, "pool_size"), 1))
        for flag in ("simulate", "report"):
            if flag in entry:
                settings = replace(settings, **{flag: self.boolean(entry[flag],
                                                                   (*path, flag))})
        if "timeout" in entry:
            timeout = self.number(entry["timeout"], (*path, "timeout"))
            if not timeout > 0:
                raise self.fail((*path, "timeout"), "seconds per cell: a number above 0")
            settings = replace(settings, timeout=float(timeout))
        if "test_split_ratio" in entry:
            ratio = self.number(entry["test_split_ratio"], (*path, "test_split_ratio"))
            if not 0.05 <= ratio <= 0.5:
                raise self.fail((*path, "test_split_ratio"), "must be between 0.05 and 0.5")
            settings = replace(settings, test_split_ratio=float(ratio))
        retries = (self.integer(entry["retries"], (*path, "retries"), 0) if "retries" in entry
                   else DEFAULT_RETRIES)
        return settings, retries

    def output(self, value: Any) -> tuple[Path | None, bool | None]:
        path: KeyPath = ("output",)
        if value is None:
            return None, None
        entry = self.mapping(value, path, OUTPUT_KEYS)
        out_dir = None
        if "dir" in entry:
            raw = Path(self.text(entry["dir"], (*path, "dir"))).expanduser()
            out_dir = (self.doc.base_dir / raw).resolve()
        shared = None
        if "shared" in entry:
            raw = entry["shared"]
            key = str(raw).lower() if isinstance(raw, (str, bool)) else None
            if key not in SHARED_VALUES:
                raise self.fail((*path, "shared"), f"{raw!r} is not auto, true or false")
            shared = SHARED_VALUES[key]
        return out_dir, shared

    # -- entries -----------------------------------------------------------------------------
    def dataset(self, value: Any, path: KeyPath) -> DatasetRef:
        from deepthinker_nb.workflow.datasets import CATALOGUE

        if isinstance(value, str):
            entry: dict[str, Any] = ({"name": value} if value in CATALOGUE
                                     else {"path": value})
            entry_path = path
        else:
            entry = dict(self.mapping(value, path, DATASET_KEYS))
            entry_path = None
        if ("name" in entry) == ("path" in entry):
            raise self.fail(path, "a dataset has a name (bundled) or a path, one of the two")
        where = lambda key: entry_path or (*path, key)  # noqa: E731
        label = self.text(entry["label"], where("label")) if "label" in entry else None
        target = self.text(entry["target"], where("target")) if "target" in entry else None
        task = self.task(entry["task"], where("task")) if "task" in entry else None
        objective = (self.text(entry["objective"], where("objective")) if "objective" in entry
                     else None)
        if "name" in entry:
            name = self.text(entry["name"], where("name"))
            if name not in CATALOGUE:
                raise self.fail(where("name"), f"unknown dataset {name!r}: not a bundled "
                                f"dataset ({', '.join(CATALOGUE)}) nor a file")
            bundled = CATALOGUE[name]
            key = ("bundled", name)
            if key not in self._datasets:
                self._datasets[key] = DatasetRef(name, bundled.path.resolve(),
                                                 file_sha256(bundled.path), bundled=name,
                                                 target=bundled.target,
                                                 task_type=bundled.task_type,
                                                 objective=bundled.objective)
            ref = self._datasets[key]
        else:
            raw = self.text(entry["path"], where("path"))
            file = (self.doc.base_dir / Path(raw).expanduser()).resolve()
            if not file.is_file():
                known = ", ".join(CATALOGUE)
                raise self.fail(where("path"), f"unknown dataset {raw!r}: no file {file} and "
                                f"not a bundled dataset ({known})")
            key = ("file", str(file))
            if key not in self._datasets:
                self._datasets[key] = DatasetRef(file.stem, file, file_sha256(file))
            ref = self._datasets[key]
        changes = {k: v for k, v in (("label", label), ("target", target), ("task_type", task),
                                     ("objective", objective)) if v is not None}
        return replace(ref, **changes) if changes else ref

    def iteration(self, value: Any, path: KeyPath) -> IterationConfig:
        entry = self.mapping(value, path, ITERATION_KEYS)
        kwargs: dict[str, Any] = {}
        if "max_iterations" in entry:
            kwargs["max_iterations"] = self.integer(entry["max_iterations"],
                                                    (*path, "max_iterations"), 1)
        if "quality_threshold" in entry:
            threshold = self.number(entry["quality_threshold"], (*path, "quality_threshold"))
            if not 0 <= threshold <= 10:
                raise self.fail((*path, "quality_threshold"),
                                "must be between 0 and 10 (the score scale)")
            kwargs["quality_threshold"] = float(threshold)
        if "patience" in entry:
            patience = entry["patience"]
            kwargs["patience"] = (None if patience is None else
                                  self.integer(patience, (*path, "patience"), 0) or None)
        if entry.get("time_budget") is not None:
            budget = self.number(entry["time_budget"], (*path, "time_budget"))
            if budget <= 0:
                raise self.fail((*path, "time_budget"), f"must be > 0 seconds, got {budget:g}")
            kwargs["time_budget"] = budget
        try:
            return IterationConfig(**kwargs)
        except DeepThinkerError as exc:
            raise self.fail(path, str(exc))

    def backend(self, value: Any, path: KeyPath) -> BackendChoice:
        if isinstance(value, str):
            entry: Mapping[str, Any] = {"backend": value}
            backend_path = profile_path = path
        else:
            entry = self.mapping(value, path, BACKEND_KEYS)
            backend_path, profile_path = (*path, "backend"), (*path, "profile")
        profile = self.text(entry["profile"], profile_path) if "profile" in entry else None
        if "backend" in entry:
            try:
                backend = get_backend(self.text(entry["backend"], backend_path))
            except DeepThinkerError as exc:
                raise self.fail(backend_path, str(exc))
        elif profile is not None:
            backend = self.backend_with_profile(profile, profile_path)
        else:
            raise self.fail(path, "name a backend, a profile, or both")
        if profile is None:
            return BackendChoice(backend.name)
        try:
            backend.profile(profile)
        except DeepThinkerError as exc:
            raise self.fail(profile_path, str(exc).removeprefix("--profile: "))
        canonical = next(name for name in backend.profiles() if name.upper() == profile.upper())
        return BackendChoice(backend.name, canonical)

    def backend_with_profile(self, profile: str, path: KeyPath) -> Any:
        for name in available_backends():
            backend = get_backend(name)
            if profile.upper() in {key.upper() for key in backend.profiles()}:
                return backend
        raise self.fail(path, f"no backend has a profile {profile!r}")

    def council(self, value: Any, path: KeyPath) -> CouncilChoice:
        if isinstance(value, str):
            entry: Mapping[str, Any] = {"name": value}
            name_path = path
        else:
            entry = self.mapping(value, path, COUNCIL_KEYS)
            if "name" not in entry:
                raise self.fail(path, "a council has a name (offline, llm)")
            name_path = (*path, "name")
        name = self.text(entry["name"], name_path)
        if name not in COUNCILS:
            raise self.fail(name_path, f"unknown council {name!r}; available: "
                                       f"{', '.join(COUNCILS)}")
        settings = [key for key in LLM_KEYS if key in entry]
        if name == "offline":
            if settings:
                raise self.fail((*path, settings[0]), "the offline council takes no model "
                                                      "settings (use name: llm)")
            return CouncilChoice(name)
        return self.llm_council(name, entry, path)

    def llm_council(self, name: str, entry: Mapping[str, Any], path: KeyPath) -> CouncilChoice:
        """A model-backed council: its settings become an ``LLMConfig`` (checked here)."""
        from deepthinker_nb.llm.config import ENV_MODEL, ROLES, LLMConfig, RoleConfig
        from deepthinker_nb.workflow.councils.llm import DEFAULT_ROLES

        roles: tuple[str, ...] = DEFAULT_ROLES
        if "roles" in entry:
            items = self.sequence(entry["roles"], (*path, "roles"))
            if not items:
                raise self.fail((*path, "roles"), "name at least one role")
            for index, role in enumerate(items):
                if role not in ROLES:
                    raise self.fail((*path, "roles", index),
                                    f"{role!r} is not a council role ({', '.join(ROLES)})")
            roles = tuple(dict.fromkeys(items))
        kwargs: dict[str, Any] = {}
        for key in ("model", "base_url"):
            if key in entry:
                kwargs[key] = self.text(entry[key], (*path, key))
        for key in ("temperature", "timeout"):
            if key in entry:
                kwargs[key] = self.number(entry[key], (*path, key))
        if "seed" in entry:
            kwargs["seed"] = None if entry["seed"] is None else self.seed(entry["seed"],
                                                                        (*path, "seed"))
        for key in ("max_requests", "max_tokens"):
            if key in entry:
                kwargs[key] = (None if entry[key] is None
                               else self.integer(entry[key], (*path, key), 1))
        if "models" in entry:
            models = self.mapping(entry["models"], (*path, "models"), roles)
            kwargs["roles"] = {role: RoleConfig(model=self.text(model, (*path, "models", role)))
                               for role, model in models.items()}
        if "model" not in kwargs and not all(role in kwargs.get("roles", {}) for role in roles):
            raise self.fail(path, f"name the model (model: ..., or models: {{role: model}} for "
                                  f"every role of {', '.join(roles)}); {ENV_MODEL} is not read "
                                  "for a batch, so every worker runs the same model")
        kwargs.setdefault("model", next(iter(kwargs.get("roles", {}).values()),
                                        RoleConfig()).model or "")
        try:
            config = LLMConfig(**kwargs)
        except DeepThinkerError as exc:
            raise self.fail(path, str(exc))
        return CouncilChoice(name, config, roles)

    # -- values ------------------------------------------------------------------------------
    def axis(self, data: Mapping[str, Any], key: str,
             parse: Callable[[Any, KeyPath], Any]) -> list[_At]:
        """An axis's values (a single value counts as a list of one), each parsed, duplicates
        refused at the line of the second."""
        value = data[key]
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail((key,), "list at least one value, or leave the key out")
        found: list[_At] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            path: KeyPath = (key, index) if isinstance(value, list) else (key,)
            parsed = parse(item, path)
            marker = repr(parsed)
            if marker in seen:
                raise self.fail(path, f"repeats {key}[{seen[marker]}]")
            seen[marker] = index
            found.append(_At(parsed, path))
        return found

    def mapping(self, value: Any, path: KeyPath, allowed: Iterable[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping of keys ({', '.join(allowed)}), got "
                                  f"{_kind(value)}")
        known = tuple(allowed)
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
                raise self.fail((*path, str(key)), f"unknown key {key!r}{hint}")
        return value

    def sequence(self, value: Any, path: KeyPath) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return value

    def text(self, value: Any, path: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"expected a non-empty text, got {_kind(value)}")
        return value.strip()

    def task(self, value: Any, path: KeyPath) -> str:
        if value not in TASK_TYPES:
            raise self.fail(path, f"{value!r} is not a task type ({', '.join(TASK_TYPES)})")
        return str(value)

    def seed(self, value: Any, path: KeyPath) -> int:
        return self.integer(value, path, 0)

    def integer(self, value: Any, path: KeyPath, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"{value!r} is not a whole number")
        if value < minimum:
            raise self.fail(path, f"must be >= {minimum}, got {value}")
        return value

    def number(self, value: Any, path: KeyPath) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"{value!r} is not a number")
        return float(value)

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"{value!r} is not true or false")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (str, int, float, bool)):
        return repr(value)
    return f"a {type(value).__name__}"


__all__ = ["load_spec", "parse_spec"]
