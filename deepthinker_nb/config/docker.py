"""Configuration of Docker kernels, and the named execution profiles.

Every default is the hardened choice; a profile is a named :class:`DockerConfig` preset.
Values are checked here, so a bad limit or a missing mount is a one-line error before any
container starts.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, replace
from pathlib import Path

from deepthinker_nb.config.limits import check_timeout, format_size, parse_size
from deepthinker_nb.errors import ConfigError

DEFAULT_IMAGE = "deepthinker-nb-kernel:latest"


class MountError(ConfigError):
    """A path to mount into the kernel container does not exist on the host."""


def _number(value: object, name: str, minimum: float, kind: type = float) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
    if not ok or value < minimum:  # type: ignore[operator]
        what = "an int" if kind is int else "a number"
        raise ConfigError(f"DockerConfig.{name}: must be {what} >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class DockerConfig:
    """How a kernel container is started. Every default is the hardened choice."""

    image: str = DEFAULT_IMAGE
    memory_limit: str = "512m"
    """Memory and memory+swap limit (no swap); exceeding it OOM-kills the kernel."""
    cpu_limit: float = 1.0
    """CPU quota; BLAS / OpenMP thread counts are set from it."""
    network_disabled: bool = True
    """``--network none``; the kernel is reached through ipc sockets in a mounted dir."""
    pids_limit: int = 256
    read_only: bool = True
    """Read-only root file system; ``/tmp`` is a tmpfs of ``tmpfs_size``."""
    user: str | None = None
    """``uid[:gid]`` of the kernel. None: the host user; when the host is root, the owner of the
    working dir if that is not root, else 1000:1000 (see docs/docker.md, "Ownership")."""
    tmpfs_size: str = "256m"
    """Size of the ``/tmp`` tmpfs (RAM, counted in the memory limit)."""
    disk_limit: str = "2g"
    """How much the kernel may add to its host-visible writable dirs (working dir, socket dir);
    past it the kernel is stopped and the cell fails with ``disk limit (2g) reached``."""
    mounts: tuple[tuple[str, str], ...] = ()
    """Extra read-only mounts as (host path, container path) pairs."""
    env: tuple[tuple[str, str], ...] = ()
    startup_timeout: float = 60.0
    execution_timeout: float | None = None
    """Seconds a cell of these kernels may run; None: ``DEFAULT_CELL_TIMEOUT`` (60)."""
    network_allowlist: tuple[str, ...] = ()
    """Hosts a networked profile intends to reach. Passed to the kernel as
    ``DEEPTHINKER_NETWORK_ALLOWLIST``; not enforced by the engine (see docs/docker.md)."""
    gpu: bool = False
    """Request all GPUs, when the engine has a GPU runtime."""
    image_name: InitVar[str | None] = None
    """The original DeepThinker's name for ``image``, accepted when constructing (read
    ``image``); giving both with different values is an error."""

    def __post_init__(self, image_name: str | None) -> None:
        if image_name is not None:
            if self.image not in (DEFAULT_IMAGE, image_name):
                raise ConfigError(f"DockerConfig: image={self.image!r} and image_name="
                                  f"{image_name!r} differ; give one of them (image_name is "
                                  "DeepThinker's name for image)")
            object.__setattr__(self, "image", image_name)
        if not isinstance(self.image, str) or not self.image.strip():
            raise ConfigError("DockerConfig.image: must name an image, e.g. " + DEFAULT_IMAGE)
        parse_size(self.memory_limit, "DockerConfig.memory_limit")
        parse_size(self.tmpfs_size, "DockerConfig.tmpfs_size")
        parse_size(self.disk_limit, "DockerConfig.disk_limit")
        if parse_size(self.memory_limit) < 6 * 1024**2:
            raise ConfigError("DockerConfig.memory_limit: Docker needs at least 6m")
        _number(self.cpu_limit, "cpu_limit", 0.01)
        _number(self.pids_limit, "pids_limit", 8, int)
        _number(self.startup_timeout, "startup_timeout", 0.1)
        check_timeout(self.execution_timeout, "DockerConfig.execution_timeout")
        if self.user is not None:
            uid, _, gid = str(self.user).partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise ConfigError(
                    f"DockerConfig.user: expected 'uid' or 'uid:gid' numbers, got {self.user!r}"
                )
            if int(uid) == 0:
                raise ConfigError("DockerConfig.user: kernels never run as root; use '1000:1000'")
        env = dict(self.env.items() if isinstance(self.env, dict) else self.env)
        object.__setattr__(self, "env", tuple((str(k), str(v)) for k, v in env.items()))
        mounts = self.mounts.items() if isinstance(self.mounts, dict) else self.mounts
        object.__setattr__(self, "mounts", tuple((str(h), str(c)) for h, c in mounts))
        object.__setattr__(self, "network_allowlist", tuple(self.network_allowlist))
        for host, container in self.mounts:
            if not Path(host).exists():
                raise MountError(
                    f"DockerConfig.mounts: host path {host!r} does not exist; create it or "
                    "remove the mount"
                )
            if not container.startswith("/"):
                raise ConfigError(
                    f"DockerConfig.mounts: container path {container!r} must be absolute"
                )

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory_limit)

    @property
    def memory_label(self) -> str:
        return format_size(self.memory_bytes)

    @property
    def disk_bytes(self) -> int:
        return parse_size(self.disk_limit)

    def replace(self, **changes) -> DockerConfig:
        return replace(self, **changes)


PROFILES: dict[str, DockerConfig] = {
    "SAFE_ML": DockerConfig(
        memory_limit="512m", cpu_limit=1.0, network_disabled=True, execution_timeout=30.0,
        disk_limit="2g",
    ),
    "GPU_ML": DockerConfig(  # checkpoints and cached datasets are large
        memory_limit="16g", cpu_limit=4.0, network_disabled=True, gpu=True, pids_limit=1024,
        tmpfs_size="2g", execution_timeout=600.0, disk_limit="20g",
    ),
    "BROWSER": DockerConfig(
        memory_limit="4g", cpu_limit=2.0, network_disabled=False, pids_limit=512,
        network_allowlist=("127.0.0.1",), execution_timeout=120.0, disk_limit="2g",
    ),
    "TRUSTED": DockerConfig(
        memory_limit="32g", cpu_limit=8.0, network_disabled=False, pids_limit=4096,
        tmpfs_size="4g", execution_timeout=3600.0, disk_limit="50g",
    ),
}
SAFE_ML = PROFILES["SAFE_ML"]
GPU_ML = PROFILES["GPU_ML"]
BROWSER = PROFILES["BROWSER"]
TRUSTED = PROFILES["TRUSTED"]


def profile(name: str) -> DockerConfig:
    """The preset called ``name`` (case-insensitive), or a ConfigError listing the known ones."""
    try:
        return PROFILES[name.upper()]
    except (KeyError, AttributeError):
        raise ConfigError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}")
