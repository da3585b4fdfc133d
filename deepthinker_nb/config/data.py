"""What the workflow runs on: the dataset, the task, and where its code executes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT
from deepthinker_nb.errors import ConfigError

TASK_TYPES = ("classification", "regression")
BACKENDS = {"subprocess": "local", "local": "local", "docker": "docker"}


@dataclass(frozen=True)
class DataConfig:
    """A dataset and the task on it. Loading and validating the file happens on the host."""

    data_path: str | Path
    task_type: str = "classification"
    target_column: str | None = None
    """``None`` means the last column."""
    test_split_ratio: float = 0.2
    random_seed: int = 42
    execution_timeout: float = DEFAULT_CELL_TIMEOUT
    execution_backend: str = "subprocess"
    docker_config: DockerConfig | None = None

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
        if isinstance(self.random_seed, bool) or not isinstance(self.random_seed, int):
            raise ConfigError(f"DataConfig.random_seed: must be an int, got {self.random_seed!r}")
        timeout = self.execution_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"DataConfig.execution_timeout: must be > 0 seconds, got {timeout!r}")
        if self.execution_backend not in BACKENDS:
            raise ConfigError(
                f"DataConfig.execution_backend: {self.execution_backend!r} is not one of "
                "'subprocess' (local kernel) or 'docker'"
            )
        if self.docker_config is not None and not isinstance(self.docker_config, DockerConfig):
            raise ConfigError("DataConfig.docker_config: expected a DockerConfig or None")

    @property
    def backend(self) -> str:
        """The kernel backend name (``local`` or ``docker``)."""
        return BACKENDS[self.execution_backend]
