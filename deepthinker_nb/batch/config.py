"""The typed records of a batch: one :class:`RunConfig` per workflow run, and the batch itself.

A run's identity is :attr:`RunConfig.config_hash`: everything that decides its outcome (the
dataset's content, target, task, seed, iteration rule, backend and profile, council, objective,
split and per-cell timeout, simulate/report), and nothing that does not (the dataset's path or
label, the pool size). Re-running a batch skips the runs whose hash already has a finished run
dir, and a run dir is named from the hash, so a changed dataset file is a new run.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepthinker_nb.config import IterationConfig
from deepthinker_nb.kernel.backend import get_backend
from deepthinker_nb.workflow.councils import Councils

if TYPE_CHECKING:  # the llm package imports its HTTP client: only model-backed runs need it
    from deepthinker_nb.llm.config import LLMConfig

SPEC_VERSION = 1
"""Part of every config hash: a change to what a run means bumps it (and re-runs everything)."""
HASH_LENGTH = 12
ITERATION_FIELDS = ("max_iterations", "quality_threshold", "patience")
"""The iteration settings a spec sets, and the hash covers (by value, defaults resolved): a
field added to ``IterationConfig`` later does not change the hash of every finished run."""
OPTIONAL_ITERATION_FIELDS = ("time_budget",)
"""Iteration settings a spec may set that the hash covers only when set (a run without them
keeps the hash it had before they existed)."""
DEFAULT_SEED = 42
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as the client sees it: a bundled one (resolved by name on each worker) or a
    file (read at its path on shared storage, or shipped to the worker)."""

    label: str
    """Its name in results and plots: the bundled name, the file's stem, or ``label:``."""
    path: Path
    """Absolute, on the client."""
    sha256: str
    bundled: str | None = None
    """The bundled dataset's name (``iris``), or None for a file."""
    target: str | None = None
    task_type: str | None = None
    objective: str | None = None

    def worker_path(self) -> Path:
        """Where a worker finds a bundled dataset: its own installation's copy."""
        if self.bundled is None:
            return self.path
        from deepthinker_nb.workflow.datasets import bundled_dataset

        return bundled_dataset(self.bundled).path


@dataclass(frozen=True)
class BackendChoice:
    """A registered kernel backend and, optionally, one of its named profiles."""

    backend: str
    profile: str | None = None

    def kernel_config(self) -> Any:
        """The profile's config (read from the backend registry), or None for the default."""
        if self.profile is None:
            return None
        return get_backend(self.backend).profile(self.profile)

    @property
    def label(self) -> str:
        return self.backend if self.profile is None else f"{self.backend}:{self.profile}"


@dataclass(frozen=True)
class CouncilChoice:
    """Who plans, codes and evaluates: the offline councils, or model-backed ones (``llm``)
    for ``roles`` (the others stay offline), talking to ``llm`` (a
    :class:`~deepthinker_nb.llm.LLMConfig`). Each worker builds its own client from it, with
    the API key of its own environment; the call log goes into the run dir."""

    name: str = "offline"
    llm: LLMConfig | None = None
    roles: tuple[str, ...] = ()

    def councils(self, run_dir: Path | None = None) -> Councils:
        """The councils of one run; a model-backed run logs its calls in ``run_dir``."""
        if self.llm is None:
            return Councils.offline()
        from deepthinker_nb.llm.log import LOG_NAME
        from deepthinker_nb.workflow.councils.llm import llm_councils

        return llm_councils(self.llm, None if run_dir is None else run_dir / LOG_NAME,
                            roles=self.roles)

    @property
    def label(self) -> str:
        if self.llm is None:
            return self.name
        models = sorted({self.llm.for_role(role).model or "" for role in self.roles})
        return f"{self.name}:{'+'.join(models)} t={self.llm.temperature:g}"

    def to_dict(self) -> dict[str, Any]:
        """What decides a run's outcome (part of its hash): the models, their temperatures and
        seeds, the roles and the request budget; not the endpoint's address or timeout."""
        if self.llm is None:
            return {"name": self.name}
        return {"name": self.name, "roles": list(self.roles),
                "models": {role: vars(self.llm.for_role(role)) for role in self.roles},
                "max_requests": self.llm.max_requests, "max_tokens": self.llm.max_tokens}


@dataclass(frozen=True)
class RunSettings:
    """Settings every run of a batch shares (the spec's ``settings:``)."""

    objective: str | None = None
    pool_size: int = 1
    simulate: bool = True
    report: bool = True
    timeout: float | None = None
    test_split_ratio: float = 0.2


@dataclass(frozen=True)
class RunConfig:
    """One workflow run of a batch."""

    dataset: DatasetRef
    target: str | None
    task_type: str
    seed: int
    iteration: IterationConfig
    backend: BackendChoice
    council: CouncilChoice = field(default_factory=CouncilChoice)
    settings: RunSettings = field(default_factory=RunSettings)

    @property
    def objective(self) -> str:
        return (self.settings.objective or self.dataset.objective
                or f"Predict {self.target or 'the target'} as accurately as possible on "
                   "held-out rows.")

    def identity(self) -> dict[str, Any]:
        """What the hash covers (see the module docstring)."""
        return {
            "version": SPEC_VERSION,
            "dataset_sha256": self.dataset.sha256,
            "target": self.target, "task_type": self.task_type, "seed": self.seed,
            "iteration": {
                **{name: getattr(self.iteration, name) for name in ITERATION_FIELDS},
                **{name: getattr(self.iteration, name) for name in OPTIONAL_ITERATION_FIELDS
                   if getattr(self.iteration, name) is not None}},
            "backend": self.backend.backend, "profile": self.backend.profile,
            "council": self.council.to_dict(), "objective": self.objective,
            "test_split_ratio": self.settings.test_split_ratio,
            "timeout": self.settings.timeout, "simulate": self.settings.simulate,
            "report": self.settings.report,
        }

    @cached_property
    def config_hash(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def key(self) -> str:
        """The short hash that names the run's dirs and Dask task."""
        return self.config_hash[:HASH_LENGTH]

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_-]+", "_", self.dataset.label)[:40] or "data"

    def dir_name(self, attempt: int) -> str:
        """``iris-3f2a9c1b7e4d-a1``: readable, unique per config, one per attempt."""
        return f"{self.slug}-{self.key}-a{attempt}"

    @property
    def config_label(self) -> str:
        """Everything but the dataset and seed: the plot's series."""
        it = self.iteration
        patience = "-" if it.patience is None else it.patience
        budget = "" if it.time_budget is None else f" t={it.time_budget:g}s"
        label = (f"it={it.max_iterations} q={it.quality_threshold:g} p={patience}{budget} "
                 f"{self.backend.label} {self.council.label}")
        if self.target is not None and self.target != self.dataset.target:
            label = f"target={self.target} " + label
        if self.task_type != (self.dataset.task_type or "classification"):
            label = f"{self.task_type} " + label
        return label

    @property
    def label(self) -> str:
        return f"{self.dataset.label} seed={self.seed} {self.config_label}"

    def to_record(self) -> dict[str, Any]:
        """The config columns of a results row."""
        it = self.iteration
        return {
            "run_key": self.key, "dataset": self.dataset.label, "target": self.target,
            "task_type": self.task_type, "seed": self.seed,
            "max_iterations": it.max_iterations, "quality_threshold": it.quality_threshold,
            "patience": it.patience, "time_budget": it.time_budget,
            "backend": self.backend.backend,
            "profile": self.backend.profile, "council": self.council.label,
            "config": self.config_label,
        }


@dataclass(frozen=True)
class BatchSpec:
    """A parsed, validated batch: its runs and how to run them."""

    name: str
    runs: tuple[RunConfig, ...]
    retries: int = DEFAULT_RETRIES
    """Dask ``retries=`` for a run whose task raised an infrastructure error (a worker that
    dies is rescheduled by Dask whatever this says)."""
    out_dir: Path | None = None
    shared: bool | None = None
    """Do the workers see the client's files at the same paths? None: find out."""
    source: Path | None = None


__all__ = ["BackendChoice", "BatchSpec", "CouncilChoice", "DatasetRef", "RunConfig",
           "RunSettings"]
