"""Where a run's notebooks execute: the backend, a warm pool or a kernel per notebook, the preload,
and each notebook's file-access policy.

The workflow asks this module questions (``poolable``, ``runs_side_by_side``, ``kernel_name``);
this module asks the backend (:class:`~deepthinker_nb.kernel.backend.KernelBackend`), so no
backend is named here.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from deepthinker_nb.config import DataConfig, DockerConfig
from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT, cell_timeout, parse_size
from deepthinker_nb.errors import ConfigError, KernelError
from deepthinker_nb.kernel.backend import KernelBackend, get_backend
from deepthinker_nb.kernel.pool import KernelPool
from deepthinker_nb.kernel.session import KernelSession
from deepthinker_nb.notebook.execute import NotebookRun, execute_notebook
from deepthinker_nb.scanner.policy import ScanPolicy

PRELOAD = (
    "import numpy, pandas, sklearn.compose, sklearn.ensemble, sklearn.impute, "
    "sklearn.linear_model, sklearn.model_selection, sklearn.pipeline, sklearn.preprocessing"
)
"""Run in each pooled kernel before it is handed out, so the imports cost nothing later."""
RESEARCH_PRELOAD = "import numpy, pandas"
"""What the research notebook imports of :data:`PRELOAD` (no scikit-learn): the preload of a
run's first kernel when :attr:`KernelPlacement.first_preload` says so."""

KernelConfig = Any
"""A backend's config: an instance of its ``config_type`` (``LocalConfig``, ``DockerConfig``,
or a plug-in's own); the backend checks it."""


class KernelPlacement:
    """How a runner places its notebooks on kernels; the same for every run of the runner.

    ``backend``: a registered backend name (or an alias such as ``subprocess``).
    ``kernel_config``: the kernels' configuration, checked by the backend; ``None`` takes
    ``docker_config`` (the seed API's name for it; give one of the two), else ``configured``,
    else the backend's default. ``pool_size``: warm kernels kept ready when the backend is
    :attr:`poolable`. ``scan``: scan every cell before
    it runs. ``policy``: the scanner's base policy (``None``: the coder policy); each notebook
    gets it narrowed to its own work dir. ``timeout``: seconds per cell; ``None`` takes the
    kernel config's ``execution_timeout``, else ``DEFAULT_CELL_TIMEOUT``.
    """

    def __init__(
        self,
        backend: str,
        kernel_config: KernelConfig | None = None,
        *,
        docker_config: DockerConfig | None = None,
        configured: KernelConfig | None = None,
        pool_size: int = 1,
        scan: bool = True,
        policy: ScanPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        self._backend: KernelBackend = get_backend(backend)
        self.backend = self._backend.name
        if kernel_config is not None and docker_config is not None:
            raise ConfigError("WorkflowRunner: give kernel_config or docker_config, not both")
        chosen = next((c for c in (kernel_config, docker_config, configured) if c is not None),
                      None)
        try:
            self.kernel_config = self._backend.coerce_config(chosen)
        except ConfigError as exc:
            raise ConfigError(f"WorkflowRunner kernel_config: {exc}") from None
        self.pool_size = pool_size
        self.first_preload: str | None = None
        """What the first pooled kernel of a run preloads instead of :data:`PRELOAD`, when its
        owner knows what that kernel will serve (a batch run: its research notebook, which
        uses no scikit-learn - importing it there costs ~0.9 CPU-s a run for nothing)."""
        self.scan = scan
        self.policy = policy
        self.timeout = cell_timeout(self.kernel_config, timeout)
        self.explicit_timeout: float | None = (
            timeout if timeout is not None
            else getattr(self.kernel_config, "execution_timeout", None))
        """The per-cell limit someone chose (``timeout=``, the kernel config's); None: the
        run decides from its data or time budget (:meth:`run_timeout`)."""

    @classmethod
    def for_workflow(
        cls,
        data_config: DataConfig,
        backend: str | None = None,
        kernel_config: KernelConfig | None = None,
        *,
        docker_config: DockerConfig | None = None,
        pool_size: int = 1,
        scan: bool = True,
        policy: ScanPolicy | None = None,
    ) -> KernelPlacement:
        """The placement of a workflow on ``data_config``: its backend unless ``backend`` is
        given; its kernel config when that is for the same backend and neither
        ``kernel_config`` nor (for Docker kernels) ``docker_config`` is given; its per-cell
        timeout (``None``: the kernel config's, else ``DEFAULT_CELL_TIMEOUT``)."""
        name = get_backend(backend or data_config.backend).name
        return cls(name, kernel_config, docker_config=docker_config,
                   configured=data_config.kernel_config if name == data_config.backend else None,
                   pool_size=pool_size, scan=scan, policy=policy,
                   timeout=data_config.execution_timeout)

    # -- what the backend allows -------------------------------------------------------------------
    @property
    def poolable(self) -> bool:
        """Whether the run's notebooks share a warm pool: the backend's kernels can be given
        the run's ``work/`` dir (a pooled kernel's working dir is a private temp dir).
        Otherwise each notebook starts a kernel in its own ``work/`` dir (Docker: the only dir
        the container may write)."""
        return self._backend.poolable

    @property
    def runs_side_by_side(self) -> bool:
        """Whether two notebooks can run at once without one waiting for a cold start: a pool of
        two or more, or a kernel of its own for each notebook."""
        return self.pool_size >= 2 or not self.poolable

    # -- the run's limits --------------------------------------------------------------------------
    def run_timeout(self, n_rows: int, n_columns: int, time_budget: float | None = None,
                    iterations: int = 1) -> float:
        """The per-cell limit of a run on ``n_rows`` x ``n_columns`` data: the one someone
        chose (:attr:`explicit_timeout`), else its share of the run's ``time_budget``
        (:func:`budget_cell_timeout`), else the data size's (:func:`data_cell_timeout`)."""
        if self.explicit_timeout is not None:
            return float(self.explicit_timeout)
        if time_budget is not None:
            return budget_cell_timeout(time_budget, iterations)
        return data_cell_timeout(n_rows, n_columns)

    @property
    def memory_limit(self) -> tuple[int, str] | None:
        """(bytes, kind) a kernel may use: an ``address_space`` limit (the config's
        ``limits.memory``, an rlimit that counts reserved memory) or a ``resident`` one (its
        ``memory_limit``, a container's); None when the config sets none."""
        config = self.kernel_config
        limits = getattr(config, "limits", None)
        if limits is not None:
            value, kind = getattr(limits, "memory", None), "address_space"
        else:
            value, kind = getattr(config, "memory_limit", None), "resident"
        if value is None:
            return None
        try:
            return parse_size(value), kind
        except ConfigError:
            return None

    # -- description -------------------------------------------------------------------------------
    @property
    def kernel_name(self) -> str:
        """The kernelspec name a notebook records, so Jupyter tools open it on this backend."""
        return self._backend.kernel_name

    def describe(self) -> dict[str, Any]:
        """The backend's description of its kernels, for the manifest (never raises)."""
        try:
            return self._backend.describe(self.kernel_config)
        except Exception as exc:  # a manifest must not fail a run
            return {"backend": self.backend, "describe_error": str(exc)}

    # -- kernels for a run -------------------------------------------------------------------------
    def scan_policy(self, run_dir: Path, workdir: Path) -> ScanPolicy:
        """The scanner's file-access policy for one notebook: read the data dir, write only this
        notebook's own ``work/`` dir (where PREDICTIONS_PATH points), nothing else. The pool's
        kernels, which serve every notebook of the run, get it for the run's whole ``work/``:
        the scanner inside them checks what the notebook's gate let through."""
        data = str(run_dir / "data")
        if self.policy is None:
            return ScanPolicy.coder(work_dir=str(workdir), data_dirs=(data,))
        return self.policy.with_(work_dir=str(workdir),
                                 data_dirs=tuple(dict.fromkeys((*self.policy.data_dirs, data))))

    def start(self, run_dir: Path, expected: int, timeout: float | None = None) -> RunKernels:
        """The kernels of the run in ``run_dir``. When :attr:`poolable`, a pool starts warming
        up in the background, told that at most ``expected`` notebooks will take a kernel;
        otherwise each notebook starts its own kernel and nothing starts now. ``timeout``:
        the run's per-cell limit (default :attr:`timeout`)."""
        if not self.poolable:
            return RunKernels(self, run_dir, None, timeout)
        # Each notebook writes its predictions under run_dir/work/: the local kernels'
        # file-system jail must let them, and nothing else outside their own working dirs.
        work = run_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        config = self._backend.with_shared_write(self.kernel_config, work)
        preload = PRELOAD if self.first_preload is None else (self.first_preload, PRELOAD)
        pool = KernelPool(self.pool_size, self.backend, config, preload=preload,
                          data_dirs=[run_dir / "data"], scan=self.scan,
                          policy=self.scan_policy(run_dir, work))
        pool.expect(expected)
        return RunKernels(self, run_dir, pool.start(), timeout)


class RunKernels:
    """The kernels of one run: a started warm pool, or none (a fresh kernel per notebook).
    Safe to use from two threads (the pool hands each caller its own kernel). :meth:`close`
    stops every kernel of the run, also the fresh one a notebook is running on, from any
    thread: a run that is cancelled leaves no kernel behind."""

    def __init__(self, placement: KernelPlacement, run_dir: Path,
                 pool: KernelPool | None, timeout: float | None = None) -> None:
        self.placement = placement
        self.run_dir = run_dir
        self.pool = pool
        self.timeout = placement.timeout if timeout is None else timeout
        """Seconds each cell of this run may take."""
        self._own: set[KernelSession] = set()  # fresh kernels of running notebooks
        self._lock = threading.Lock()
        self._closed = False

    def expect(self, remaining: int) -> None:
        """At most ``remaining`` more notebooks will run: the pool warms no kernel beyond."""
        if self.pool is not None:
            self.pool.expect(remaining)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            own, self._own = list(self._own), set()
        for session in own:
            _shutdown(session)
        if self.pool is not None:
            self.pool.close()

    def execute(self, nb: NotebookNode, path: Path, workdir: Path) -> NotebookRun:
        """Run ``nb`` into ``path`` with papermill; its PREDICTIONS_PATH lies in ``workdir``.
        Raises when the notebook could not be executed at all (a kernel that did not start)."""
        placement = self.placement
        source: Any = self.pool if self.pool is not None else _NotebookKernel(self, workdir)
        return execute_notebook(nb, path, pool=source, timeout=self.timeout,
                                scan=placement.scan, relative_to=self.run_dir,
                                policy=placement.scan_policy(self.run_dir, workdir))

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def _adopt(self, session: KernelSession) -> None:
        with self._lock:
            if self._closed:
                raise KernelError("the run's kernels were closed (the run was stopped)")
            self._own.add(session)

    def _forget(self, session: KernelSession) -> bool:
        """False when :meth:`close` took the session (and stops it)."""
        with self._lock:
            known = session in self._own
            self._own.discard(session)
            return known


class _NotebookKernel:
    """Where one notebook of a run without a pool gets its kernel (lent to ``execute_notebook``
    like a pool): a fresh kernel in the notebook's work dir, known to the run while it lives."""

    def __init__(self, kernels: RunKernels, workdir: Path) -> None:
        self.kernels = kernels
        self.workdir = workdir

    def acquire(self) -> KernelSession:
        kernels, placement = self.kernels, self.kernels.placement
        session = KernelSession(
            placement.backend, placement.kernel_config, workdir=self.workdir,
            data_dirs=(kernels.run_dir / "data",), scan=placement.scan,
            policy=placement.scan_policy(kernels.run_dir, self.workdir))
        kernels._adopt(session)
        try:
            session.start()
        except BaseException:
            kernels._forget(session)
            _shutdown(session)
            raise
        if kernels.closed:  # while it started: close() may have missed the starting kernel
            _shutdown(session)
            raise KernelError("the run's kernels were closed (the run was stopped)")
        return session

    def release(self, session: KernelSession) -> None:
        if self.kernels._forget(session):
            session.shutdown()


def _shutdown(session: KernelSession) -> None:
    try:
        session.shutdown(now=True)
    except Exception:  # already gone with its run, or its loop with the process
        pass


MAX_CELL_TIMEOUT = 1800.0
"""The longest per-cell limit the data size alone gives (30 minutes)."""
MIN_BUDGET_CELL_TIMEOUT = 10.0
"""The shortest per-cell limit a time budget gives (starting Python's imports takes seconds)."""


def data_cell_timeout(n_rows: int, n_columns: int) -> float:
    """The per-cell limit for data of this size: :data:`DEFAULT_CELL_TIMEOUT` up to a million
    values (rows x columns), then growing with the square root of the size (the coder samples
    rows for model selection, so only the final fit grows with every row): five and a half
    times as long for a million rows of 30 columns, at most :data:`MAX_CELL_TIMEOUT`."""
    values = max(1, n_rows) * max(1, n_columns)
    return round(min(MAX_CELL_TIMEOUT,
                     DEFAULT_CELL_TIMEOUT * max(1.0, math.sqrt(values / 1e6))), 1)


def budget_cell_timeout(time_budget: float, iterations: int) -> float:
    """The per-cell limit when the whole run has ``time_budget`` seconds: a run is about
    ``iterations`` + 3 notebooks' worth of work (research, the iterations, the simulation and
    run.ipynb), each with about two heavy cells (cross-validation, the final fit)."""
    return round(max(MIN_BUDGET_CELL_TIMEOUT, time_budget / (2 * (max(1, iterations) + 3))), 1)


__all__ = ["MAX_CELL_TIMEOUT", "PRELOAD", "RESEARCH_PRELOAD", "KernelConfig", "KernelPlacement",
           "RunKernels", "budget_cell_timeout", "data_cell_timeout"]
