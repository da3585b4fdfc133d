"""Typed, validated configuration records shared by every layer."""

from deepthinker_nb.config.data import DataConfig
from deepthinker_nb.config.docker import (
    BROWSER,
    GPU_ML,
    PROFILES,
    SAFE_ML,
    TRUSTED,
    DockerConfig,
    profile,
)
from deepthinker_nb.config.iteration import IterationConfig
from deepthinker_nb.config.limits import (
    DEFAULT_CELL_TIMEOUT,
    ResourceLimits,
    format_size,
    parse_size,
)
from deepthinker_nb.config.local import LocalConfig

__all__ = [
    "BROWSER", "DEFAULT_CELL_TIMEOUT", "GPU_ML", "PROFILES", "SAFE_ML", "TRUSTED", "DataConfig",
    "DockerConfig",
    "IterationConfig", "LocalConfig", "ResourceLimits", "format_size", "parse_size", "profile",
]
