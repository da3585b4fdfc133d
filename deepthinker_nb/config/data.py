"""What the workflow runs on: the dataset, the task, and where its code executes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.limits import cell_timeout, check_timeout
from deepthinker_nb.errors import BackendUnavailableError, ConfigError
from deepthinker_nb.kernel.backend import get_backend

TASK_TYPES = ("classification", "regression")
PRIMARY_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}
"""The held-out metric a task's quality score comes from."""
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class DataConfig:
    """A dataset and the task on it. Loading and validating the file happens on the host."""

    data_path: str | Path
    task_type: str = "classification"
    target_column: str | None = None
    """``None`` means the last column."""
    test_split_ratio: float = 0.2
    random_seed: int = 42
    execution_timeout: float | None = None
    """Seconds per cell; None: the kernel config's, else ``DEFAULT_CELL_TIMEOUT`` (60)."""
    execution_backend: str = "subprocess"
    """A registered kernel backend (``local``, ``docker``) or an alias (``subprocess``)."""
    kernel_config: Any = None
    """The backend's config (``LocalConfig``, ``DockerConfig``, ...); None: its default."""
    docker_config: DockerConfig | None = None
    """The seed API's name for ``kernel_config`` on the Docker backend; give one of the two."""

    def __post_init__(self) -> None:
        if not isinstance(self.data_path, (str, Path)) or not str(self.data_path).strip():
            raise ConfigError("DataConfig.data_path: give the path of a CSV, JSON or Parquet file")
        if self.task_type not in TASK_TYPES:
            raise ConfigError(
                f"DataConfig.task_type: {self.task_type!r} is not one of {', '.join(TASK_TYPES)}"
            )
        ratio = self.test_split_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not (
            0.05 <= ratio <= 0.5
        ):
            raise ConfigError(
                f"DataConfig.test_split_ratio: must be between 0.05 and 0.5, got {ratio!r}"
            )
        seed = self.random_seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"DataConfig.random_seed: must be a whole number from 0 to "
                              f"{MAX_SEED} (what numpy and scikit-learn accept), got {seed!r}")
        check_timeout(self.execution_timeout, "DataConfig.execution_timeout")
        try:
            backend = get_backend(self.execution_backend)
        except BackendUnavailableError as exc:
            raise ConfigError(f"DataConfig.execution_backend: {exc}") from None
        if self.docker_config is not None:
            if self.kernel_config is not None and self.kernel_config is not self.docker_config:
                raise ConfigError("DataConfig: give kernel_config or docker_config, not both")
            object.__setattr__(self, "kernel_config", self.docker_config)
        try:
            backend.coerce_config(self.kernel_config)
        except ConfigError as exc:
            raise ConfigError(f"DataConfig.kernel_config: {exc}") from None

    def is_enabled(self) -> bool:
        """The original DeepThinker's check: True when a data path is set (always, for a
        config that constructed)."""
        return bool(str(self.data_path).strip())

    @property
    def backend(self) -> str:
        """The kernel backend's registered name (``subprocess`` reads as ``local``)."""
        return get_backend(self.execution_backend).name

    @property
    def cell_timeout(self) -> float:
        """Seconds per cell that apply: this config's, the kernel config's, or the default."""
        return cell_timeout(self.kernel_config, self.execution_timeout)
