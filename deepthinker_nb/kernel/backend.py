"""The seam between a kernel session and where its kernel runs.

A backend names a kernelspec whose provisioner does the launching (jupyter_client's own
lifecycle: pre_launch, launch, poll, signal, kill, cleanup). The backend adds what a provisioner
cannot know on its own: the typed per-session config, checks that fail fast before anything
starts, and a description for run manifests. Backends are plug-ins found through the entry point
group ``deepthinker_nb.kernel_backends``, so a new backend needs no change here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from deepthinker_nb.errors import BackendUnavailableError, ConfigError

ENTRY_POINT_GROUP = "deepthinker_nb.kernel_backends"
DEFAULT_BACKEND = "local"
"""Where kernels run when nobody says: the local sandbox, which needs no Docker."""
DEFAULT_POLICY: Any = "default"
"""``launch_kwargs(scan_policy=...)``: the standard policy for the kernel's dirs."""


class KernelBackend(ABC):
    """One place where kernels run (a local process, a Docker container, ...)."""

    name: ClassVar[str]
    kernel_name: ClassVar[str]
    """The kernelspec name, as papermill's ``-k`` or JupyterLab would use it."""
    provisioner_name: ClassVar[str]
    config_type: ClassVar[type]
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other names this backend answers to (the seed API's ``subprocess`` for ``local``)."""
    poolable: ClassVar[bool] = False
    """Whether warm kernels can serve several notebooks that write into one shared dir (see
    :meth:`with_shared_write`). Otherwise each such notebook gets a kernel started in its own
    dir, which is always safe."""

    def default_config(self) -> Any:
        return self.config_type()

    def coerce_config(self, config: Any) -> Any:
        """The config to use: the default for ``None``, else checked against ``config_type``."""
        if config is None:
            return self.default_config()
        if not isinstance(config, self.config_type):
            raise ConfigError(
                f"backend {self.name!r} takes a {self.config_type.__name__}, "
                f"got {type(config).__name__}"
            )
        return config

    @abstractmethod
    def kernel_spec(self) -> dict[str, Any]:
        """The kernel.json content, naming this backend's provisioner."""

    def launch_kwargs(
        self, config: Any, workdir: Path, data_dirs: Sequence[Path] = (), *,
        scan_policy: Any = DEFAULT_POLICY,
    ) -> dict[str, Any]:
        """Keyword arguments for ``KernelManager.start_kernel``; the provisioner pops its own.

        ``scan_policy`` is what the scanner inside the kernel checks cells against: the
        session's own policy, so that its gate and the kernel agree; None turns the in-kernel
        scanner off (a session that opted out of scanning gets a kernel that runs what it is
        sent); by default, the standard policy for the working and data dirs.
        """
        return {
            "cwd": str(workdir),
            "deepthinker_config": config,
            "deepthinker_data_dirs": [str(Path(d)) for d in data_dirs],
            "deepthinker_scan_policy": scan_policy,
        }

    def with_shared_write(self, config: Any, path: Path) -> Any:
        """``config`` widened so that a kernel started with it may also write ``path`` (a
        run's shared output dir, besides its own working dir). Only for :attr:`poolable`
        backends; a backend whose kernels can write their own working dir only keeps the
        default, which refuses."""
        raise NotImplementedError(f"{self.name} kernels write only their own working dir; "
                                  "start one per notebook, in the dir it writes to")

    def profiles(self) -> dict[str, Any]:
        """Named configs of this backend (``--profile NAME``); none by default."""
        return {}

    def profile(self, name: str) -> Any:
        """The config called ``name`` (case-insensitive), or a one-line error listing them."""
        profiles = self.profiles()
        found = {key.upper(): value for key, value in profiles.items()}.get(name.upper())
        if found is None:
            known = ", ".join(profiles) or "none"
            raise ConfigError(f"--profile: backend {self.name!r} has no profile {name!r} "
                              f"(its profiles: {known}); without --backend, the backend that "
                              "has it is used")
        return found

    def preflight(self, config: Any) -> None:  # noqa: B027 - optional hook
        """Raise a one-line error now if the kernel cannot start (engine down, image missing)."""

    def describe(self, config: Any) -> dict[str, Any]:
        """What a run manifest records about where the code ran."""
        return {"backend": self.name, "kernel_name": self.kernel_name}

    def gc(self) -> int:
        """Remove what crashed sessions left behind; returns how many things were removed."""
        return 0


class KernelspecBackend(KernelBackend):
    """Any other installed kernelspec (``python3``, a conda env's kernel, ...), run as its
    spec says: no sandbox and no config of ours, only the client-side scan gate. It is how
    papermill's ``-k`` reaches a kernel that is not a deepthinker one; never registered."""

    name = "kernelspec"
    provisioner_name = ""
    config_type = type(None)

    def __init__(self, kernel_name: str) -> None:
        self.kernel_name = kernel_name  # type: ignore[misc]

    def default_config(self) -> None:
        return None

    def kernel_spec(self) -> dict[str, Any]:
        raise NotImplementedError("a foreign kernelspec is installed, not described by us")

    def launch_kwargs(
        self, config: Any, workdir: Path, data_dirs: Sequence[Path] = (), *,
        scan_policy: Any = DEFAULT_POLICY,
    ) -> dict[str, Any]:
        return {"cwd": str(workdir)}

    def describe(self, config: Any) -> dict[str, Any]:
        return {"backend": self.name, "kernel_name": self.kernel_name, "sandbox": None}


def kernel_guard_value(
    scan_policy: Any, workdir: Path | str, data_dirs: Sequence[Path | str] = ()
) -> str:
    """``DEEPTHINKER_GUARD`` for a provisioner: the policy given at launch, or the standard
    one for the kernel's dirs (kernels started by papermill or JupyterLab pass none)."""
    from deepthinker_nb.scanner import ScanPolicy
    from deepthinker_nb.scanner.kernel_guard import guard_env_value

    if isinstance(scan_policy, str) and scan_policy == DEFAULT_POLICY:
        scan_policy = ScanPolicy(work_dir=str(workdir), data_dirs=tuple(map(str, data_dirs)))
    return guard_env_value(scan_policy)


@cache
def _registry() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    """The registered backends' names (without aliases)."""
    return sorted(_registry())


@cache
def _load(name: str) -> type[KernelBackend]:
    try:
        return _registry()[name].load()
    except ImportError as exc:
        raise BackendUnavailableError(f"kernel backend {name!r} cannot be loaded: {exc}") from exc


def _aliases() -> dict[str, str]:
    found = {}
    for name in available_backends():
        try:
            found.update(dict.fromkeys(_load(name).aliases, name))
        except BackendUnavailableError:
            continue
    return found


def get_backend(name: str) -> KernelBackend:
    """The backend registered as ``name``, or the one that has ``name`` as an alias."""
    key = name if name in _registry() else _aliases().get(name)
    if key is None:
        known = ", ".join(available_backends()) or "none (is deepthinker-nb installed?)"
        raise BackendUnavailableError(f"unknown kernel backend {name!r}; available: {known}")
    return _load(key)()


def backend_for_kernel(kernel_name: str) -> KernelBackend:
    """The registered backend whose kernelspec is ``kernel_name``; any other kernelspec runs
    as it is installed (:class:`KernelspecBackend`)."""
    for name in available_backends():
        try:
            backend = get_backend(name)
        except BackendUnavailableError:
            continue
        if backend.kernel_name == kernel_name:
            return backend
    return KernelspecBackend(kernel_name)
