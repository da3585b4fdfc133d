"""From a :class:`DockerConfig` to the arguments of ``containers.create``: pure, unit-testable.

Path decision: the working dir and the data dirs are mounted at the SAME absolute path inside the
container as on the host (workdir read-write, data read-only), and the container starts in the
working dir. Paths the host writes into notebooks (``DATA_PATH="/abs/host/data.csv"``) and paths
in results therefore mean the same thing on both sides. Only when a host path falls under a
directory the image itself uses (``/usr``, ``/etc``, ``/opt``, ``/root``, ...) it is mounted at
``/home/kernel/work`` (workdir) or ``/data/<basename>`` (data) instead. A mirrored working dir
(see ``ownership``) mounts the private copy at the working dir's path: the kernel sees the same
path either way. The per-kernel socket dir (``/tmp/dtk-*``) is also mounted at its own path, so
the connection file needs no rewriting.

deepthinker-nb's own in-kernel code (the launcher, the scanner the kernel runs on every cell,
the mirror's sync extension) is not baked into the image: the host's package is mounted
read-only at ``/opt/deepthinker-nb/deepthinker_nb`` and put on ``PYTHONPATH``. The kernel then
always runs the host's version, so its scanner and the host's gate judge a cell alike, and a
change to that code needs no image rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.limits import parse_size

CONTAINER_HOME = "/tmp/home"
PACKAGE_ROOT = "/opt/deepthinker-nb"
"""Where the host's deepthinker_nb package is mounted (read-only), on the kernel's path."""
PACKAGE_SOURCE = str(Path(__file__).resolve().parents[2])
FALLBACK_WORKDIR = "/home/kernel/work"
FALLBACK_DATA_ROOT = "/data"
RESERVED_PREFIXES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc",
    "/root", "/run", "/sbin", "/sys", "/usr", "/var", "/home/kernel",
)
THREAD_VARS = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "LOKY_MAX_CPU_COUNT",
)
INLINE_PLOTS = "module://matplotlib_inline.backend_inline"
"""Matplotlib's backend in the kernel: figures show inline after each cell without
``%matplotlib inline``, as in a local kernel. Set at container start, so the image's own
default (``agg``, for plain ``docker run``) needs no rebuild; ``DockerConfig.env`` may override."""
KERNEL_PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
SHM_SIZE = 64 * 1024**2
"""``/dev/shm``: Docker's usual default, set explicitly so an engine configured with a larger
``default-shm-size`` does not widen it (it is RAM, counted in the memory limit)."""


def _is_reserved(path: str) -> bool:
    p = PurePosixPath(path)
    if str(p) == "/":
        return True
    return any(p == PurePosixPath(r) or PurePosixPath(r) in p.parents for r in RESERVED_PREFIXES)


def container_path_for_workdir(host: str) -> str:
    return FALLBACK_WORKDIR if _is_reserved(host) else host


def container_paths_for_data(hosts: Sequence[str]) -> dict[str, str]:
    """host path -> container path; the same path unless reserved, then ``/data/<basename>``."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for host in hosts:
        target = host
        if _is_reserved(host):
            base = PurePosixPath(host).name or "data"
            target, n = f"{FALLBACK_DATA_ROOT}/{base}", 1
            while target in used:
                n += 1
                target = f"{FALLBACK_DATA_ROOT}/{base}-{n}"
        used.add(target)
        out[host] = target
    return out


def thread_count(cpu_limit: float) -> int:
    """BLAS / OpenMP threads for a CPU quota: ``os.cpu_count()`` in the container ignores it."""
    return max(1, math.floor(cpu_limit + 1e-9))


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to create one kernel container."""

    image: str
    command: list[str]
    workdir: str
    """The container's working dir (where the host workdir is mounted)."""
    volumes: dict[str, dict[str, str]]
    environment: dict[str, str]
    labels: dict[str, str]
    user: str
    network_disabled: bool
    ports: dict[str, tuple[str, int]] = field(default_factory=dict)
    gpu: bool = False
    name: str | None = None

    def create_kwargs(self, config: DockerConfig) -> dict[str, Any]:
        """Keyword arguments for ``client.containers.create``: hardened unless told otherwise."""
        import docker.types

        memory = parse_size(config.memory_limit)
        tmpfs_opts = f"rw,nosuid,nodev,noexec,size={parse_size(config.tmpfs_size)},mode=1777"
        kwargs: dict[str, Any] = {
            "image": self.image,
            "command": self.command,
            "name": self.name,
            "labels": self.labels,
            "user": self.user,
            "working_dir": self.workdir,
            "environment": self.environment,
            # --mount semantics: a missing source is an error, never silently created on the host
            "mounts": [
                docker.types.Mount(target=v["bind"], source=host, type="bind",
                                   read_only=v["mode"] == "ro")
                for host, v in self.volumes.items()
            ],
            "mem_limit": memory,
            "memswap_limit": memory,  # equal to the memory limit: no swap
            "nano_cpus": int(config.cpu_limit * 1e9),
            "pids_limit": config.pids_limit,
            "read_only": config.read_only,
            "tmpfs": {"/tmp": tmpfs_opts},
            "shm_size": SHM_SIZE,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "init": True,  # signals forwarded, zombies reaped, `docker stop` is immediate
            "ipc_mode": "private",
            "hostname": "deepthinker",
            "ulimits": [docker.types.Ulimit(name="nofile", soft=4096, hard=4096)],
            "log_config": docker.types.LogConfig(
                type="json-file", config={"max-size": "1m", "max-file": "1"}
            ),
            "detach": True,
        }
        if self.network_disabled:
            kwargs["network_mode"] = "none"
        else:
            kwargs["network_mode"] = "bridge"
            kwargs["ports"] = dict(self.ports)
        if self.gpu:
            kwargs["device_requests"] = [
                docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])
            ]
        return kwargs


def build_run_spec(
    config: DockerConfig,
    *,
    command: Sequence[str],
    workdir: str,
    workdir_source: str | None = None,
    data_dirs: Sequence[str] = (),
    sockdir: str,
    labels: Mapping[str, str],
    user: str,
    ports: Sequence[int] = (),
    extra_env: Mapping[str, str] | None = None,
    gpu_available: bool = False,
    name: str | None = None,
    python_path: Sequence[str] = (),
) -> RunSpec:
    """The run spec of one kernel container (no engine calls, no file system access).

    ``workdir`` is the host working dir, whose path the kernel sees; ``workdir_source`` the
    host dir mounted there when it is not the working dir itself (a mirror). ``python_path`` and
    the mounted deepthinker_nb package are put in front of any ``PYTHONPATH`` the config sets.
    """
    work_target = container_path_for_workdir(workdir)
    volumes: dict[str, dict[str, str]] = {
        sockdir: {"bind": sockdir, "mode": "rw"},
        workdir_source or workdir: {"bind": work_target, "mode": "rw"},
        PACKAGE_SOURCE: {"bind": f"{PACKAGE_ROOT}/deepthinker_nb", "mode": "ro"},
    }
    for host, target in container_paths_for_data(list(data_dirs)).items():
        volumes.setdefault(host, {"bind": target, "mode": "ro"})
    for host, target in config.mounts:
        volumes.setdefault(host, {"bind": target, "mode": "ro"})
    threads = str(thread_count(config.cpu_limit))
    env = {
        "HOME": CONTAINER_HOME,
        "IPYTHONDIR": f"{CONTAINER_HOME}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{CONTAINER_HOME}/.jupyter-runtime",
        "JUPYTER_DATA_DIR": f"{CONTAINER_HOME}/.jupyter-data",
        "MPLCONFIGDIR": f"{CONTAINER_HOME}/.matplotlib",
        "MPLBACKEND": INLINE_PLOTS,
        "PYTHONDONTWRITEBYTECODE": "1",
        "DEEPTHINKER_WORKDIR": work_target,
        "DEEPTHINKER_CPU_LIMIT": str(config.cpu_limit),
        "DEEPTHINKER_MEMORY_LIMIT": config.memory_limit,
        **dict.fromkeys(THREAD_VARS, threads),
    }
    if config.network_allowlist:
        env["DEEPTHINKER_NETWORK_ALLOWLIST"] = ",".join(config.network_allowlist)
    env.update(extra_env or {})
    env.update(dict(config.env))
    env["PYTHONPATH"] = ":".join(
        [*python_path, PACKAGE_ROOT, *filter(None, [env.get("PYTHONPATH")])])
    return RunSpec(
        image=config.image,
        command=list(command),
        workdir=work_target,
        volumes=volumes,
        environment=env,
        labels=dict(labels),
        user=user,
        network_disabled=config.network_disabled,
        ports={f"{p}/tcp": ("127.0.0.1", p) for p in ports},
        gpu=bool(config.gpu and gpu_available),
        name=name,
    )
