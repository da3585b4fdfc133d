"""Configuration of local (subprocess) kernels."""

from __future__ import annotations

from dataclasses import dataclass, field

from deepthinker_nb.config.limits import ResourceLimits, check_timeout, parse_size
from deepthinker_nb.errors import ConfigError

ISOLATIONS = ("namespaces", "landlock", "none")

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
    execution_timeout: float | None = None
    """Seconds a cell of these kernels may run; None: ``DEFAULT_CELL_TIMEOUT`` (60)."""
    isolation: str = "namespaces"
    """``namespaces``: the kernel runs in Linux namespaces through bubblewrap (its own file
    system view, process table, network and user; Landlock inside as a further layer), and does
    not start where bubblewrap cannot run. ``landlock``: only the Landlock file-system jail, on
    the host's network and process table (a warning is logged). ``none``: no isolation beyond
    the clean environment and rlimits."""
    network_disabled: bool = True
    """With ``namespaces``: no network at all. False keeps the host's network (trusted code)."""
    disk_limit: int | str | None = "2g"
    """How much the kernel may add to its writable dirs; past it the kernel is stopped and the
    cell fails with "disk limit (2g) reached". None: no budget."""
    tmpfs_size: int | str = "256m"
    """Size of the kernel's private ``/tmp`` and ``/dev/shm`` (``namespaces`` only)."""
    extra_read_paths: tuple[str, ...] = ()
    extra_write_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise ConfigError(
                f"LocalConfig.isolation: {self.isolation!r} is not one of "
                + ", ".join(repr(i) for i in ISOLATIONS)
            )
        if self.disk_limit is not None:
            object.__setattr__(
                self, "disk_limit", parse_size(self.disk_limit, "LocalConfig.disk_limit"))
        object.__setattr__(self, "tmpfs_size", parse_size(self.tmpfs_size,
                                                          "LocalConfig.tmpfs_size"))
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
        check_timeout(self.execution_timeout, "LocalConfig.execution_timeout")
