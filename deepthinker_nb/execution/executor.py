"""``CodeExecutor``: the seed's simple, stateful facade over one kernel session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.local import LocalConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.execution.result import ExecutionResult
from deepthinker_nb.kernel.session import FROM_CONFIG, KernelSession

if TYPE_CHECKING:
    from deepthinker_nb.scanner import ScanPolicy


class CodeExecutor:
    """Run code in one kernel that keeps its state between calls.

    - ``backend``: ``"subprocess"`` / ``"local"`` (a sandboxed local kernel), ``"docker"``, or
      any other registered backend.
    - ``kernel_config``: that backend's config; ``docker_config`` and ``local_config`` are the
      seed API's names for it (give one of the three).
    - ``workdir``, ``data_dirs``, ``scan``, ``policy``: as for :class:`KernelSession`.
    - ``default_timeout``: seconds per ``execute`` when none is given; by default the
      config's, else ``DEFAULT_CELL_TIMEOUT``.
    - further keyword arguments go to :class:`KernelSession`.

    The kernel starts on the first ``execute`` and stops on ``close`` (or leaving a ``with``
    block).
    """

    def __init__(
        self,
        backend: str = "subprocess",
        *,
        kernel_config: Any = None,
        docker_config: DockerConfig | None = None,
        local_config: LocalConfig | None = None,
        workdir: str | None = None,
        data_dirs: tuple[str, ...] = (),
        scan: bool = True,
        policy: ScanPolicy | None = None,
        default_timeout: float | object | None = FROM_CONFIG,
        **session_kwargs: Any,
    ) -> None:
        given = {name: value for name, value in (
            ("kernel_config", kernel_config), ("docker_config", docker_config),
            ("local_config", local_config)) if value is not None}
        if len(given) > 1:
            raise ConfigError(f"CodeExecutor: give one backend config, not {' and '.join(given)}")
        name, config = next(iter(given.items()), ("kernel_config", None))
        try:
            self._session = KernelSession(
                backend, config, workdir=workdir, data_dirs=data_dirs, scan=scan,
                policy=policy, default_timeout=default_timeout, **session_kwargs,
            )
        except ConfigError as exc:
            raise ConfigError(f"CodeExecutor {name}: {exc}") from None
        self.backend = self._session.backend

    @property
    def default_timeout(self) -> float | None:
        return self._session.default_timeout

    @property
    def session(self) -> KernelSession:
        return self._session

    @property
    def workdir(self):
        return self._session.workdir

    def execute(self, code: str, timeout: float | None = None, **callbacks: Any) -> ExecutionResult:
        """Scan, then run ``code``; never raises for what the code does."""
        cell = self._session.execute(code, timeout, **callbacks)
        return ExecutionResult.from_cell(cell)

    def restart(self) -> None:
        self._session.restart()

    def close(self) -> None:
        self._session.shutdown()

    def __enter__(self) -> CodeExecutor:
        self._session.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
