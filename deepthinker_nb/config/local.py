"""Configuration of local (subprocess) kernels."""

from __future__ import annotations

from dataclasses import dataclass, field

from deepthinker_nb.config.limits import ResourceLimits
from deepthinker_nb.errors import ConfigError

# Variables a kernel may inherit from the host. Everything else (tokens, cloud credentials,
# proxies with passwords) is dropped: generated code must not see host secrets.
DEFAULT_ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "TMPDIR",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS", "PYTHONHASHSEED", "MPLBACKEND", "SSL_CERT_FILE",
)


@dataclass(frozen=True)
class LocalConfig:
    """How a local ipykernel process is started."""

    limits: ResourceLimits = field(default_factory=ResourceLimits)
    env_allowlist: tuple[str, ...] = DEFAULT_ENV_ALLOWLIST
    """Host variables passed through; a trailing ``*`` matches a prefix."""
    env: tuple[tuple[str, str], ...] = ()
    """Variables set explicitly for the kernel (after scrubbing)."""
    startup_timeout: float = 60.0
    filesystem_jail: str = "auto"
    """``auto``: confine reads to Python, system dirs, the working and data dirs, and writes to
    the working dir, where Linux Landlock is available; ``required``: fail to start without it;
    ``off``: the kernel sees the file system as your user does."""
    extra_read_paths: tuple[str, ...] = ()
    extra_write_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.filesystem_jail not in ("auto", "required", "off"):
            raise ConfigError(
                f"LocalConfig.filesystem_jail: {self.filesystem_jail!r} is not one of "
                "'auto', 'required', 'off'"
            )
        object.__setattr__(self, "extra_read_paths", tuple(map(str, self.extra_read_paths)))
        object.__setattr__(self, "extra_write_paths", tuple(map(str, self.extra_write_paths)))
        if isinstance(self.limits, dict):
            object.__setattr__(self, "limits", ResourceLimits.from_dict(self.limits))
        if not isinstance(self.limits, ResourceLimits):
            raise ConfigError("LocalConfig.limits: expected a ResourceLimits")
        if isinstance(self.env, dict):
            object.__setattr__(self, "env", tuple(self.env.items()))
        object.__setattr__(self, "env_allowlist", tuple(self.env_allowlist))
        if self.startup_timeout <= 0:
            raise ConfigError("LocalConfig.startup_timeout: must be > 0 seconds")
