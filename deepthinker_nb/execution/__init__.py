"""The seed API: ``CodeExecutor`` and the configs it takes."""

from deepthinker_nb.config import (
    BROWSER,
    GPU_ML,
    PROFILES,
    SAFE_ML,
    TRUSTED,
    DataConfig,
    DockerConfig,
    IterationConfig,
    LocalConfig,
    ResourceLimits,
)
from deepthinker_nb.execution.executor import CodeExecutor
from deepthinker_nb.execution.result import ExecutionResult

__all__ = [
    "BROWSER", "GPU_ML", "PROFILES", "SAFE_ML", "TRUSTED", "CodeExecutor", "DataConfig",
    "DockerConfig", "ExecutionResult", "IterationConfig", "LocalConfig", "ResourceLimits",
]
