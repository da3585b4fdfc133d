"""deepthinker-nb: run AI-generated data-science code safely in managed Jupyter kernels, and
record every run as a notebook."""

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
from deepthinker_nb.errors import ConfigError, DeepThinkerError, KernelError, KernelStartError
from deepthinker_nb.execution import CodeExecutor, ExecutionResult
from deepthinker_nb.kernel import (
    AsyncKernelPool,
    AsyncKernelSession,
    CellResult,
    ErrorInfo,
    KernelPool,
    KernelSession,
    RichOutput,
)

__version__ = "0.1.0"

__all__ = [
    "BROWSER", "GPU_ML", "PROFILES", "SAFE_ML", "TRUSTED", "AsyncKernelPool",
    "AsyncKernelSession", "CellResult", "CodeExecutor", "ConfigError", "DataConfig",
    "DeepThinkerError", "DockerConfig", "ErrorInfo", "ExecutionResult", "IterationConfig",
    "KernelError", "KernelPool", "KernelSession", "KernelStartError", "LocalConfig",
    "ResourceLimits", "RichOutput",
]
