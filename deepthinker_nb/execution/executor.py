"""``CodeExecutor``: the seed's simple, stateful facade over one kernel session."""

from __future__ import annotations

from typing import Any

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.config.local import LocalConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.execution.result import ExecutionResult
from deepthinker_nb.kernel.backend import get_backend
from deepthinker_nb.kernel.session import KernelSession


class CodeExecutor:
    """Run code in one kernel that keeps its state between calls.

    ``backend`` is ``"subprocess"`` (a sandboxed local kernel) or ``"docker"``. The kernel
    starts on the first ``execute`` and stops on ``close`` (or leaving a ``with`` block).
    """

    def __init__(
        self,
        backend: str = "subprocess",
        *,
        docker_config: DockerConfig | None = None,
        local_config: LocalConfig | None = None,
        workdir: str | None = None,
        data_dirs: tuple[str, ...] = (),
        scan: bool = True,
        policy: Any = None,
        default_timeout: float = 30.0,
        **session_kwargs: Any,
    ) -> None:
        self.backend = get_backend(backend)
        if docker_config is not None and self.backend.name != "docker":
            raise ConfigError("docker_config is only used with backend='docker'")
        config = docker_config if self.backend.name == "docker" else local_config
        self.default_timeout = default_timeout
        self._session = KernelSession(
            self.backend, config, workdir=workdir, data_dirs=data_dirs, scan=scan,
            policy=policy, default_timeout=default_timeout, **session_kwargs,
        )

    @property
    def session(self) -> KernelSession:
        return self._session

    @property
    def workdir(self):
        return self._session.workdir

    def execute(self, code: str, timeout: float | None = None, **callbacks: Any) -> ExecutionResult:
        """Scan, then run ``code``; never raises for what the code does."""
        cell = self._session.execute(code, timeout or self.default_timeout, **callbacks)
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
