"""``Session``: interactive work on the same road as the workflow, recorded as it happens.

Each cell is scanned, run in a managed kernel and appended to a notebook file at once. Opening an
existing notebook continues it: its code cells are replayed first (not re-recorded) so the kernel
has the state the notebook shows, then new cells are appended after them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.kernel.results import CellResult
from deepthinker_nb.kernel.session import KernelSession
from deepthinker_nb.notebook.io import read_notebook
from deepthinker_nb.notebook.recorder import NotebookRecorder

if TYPE_CHECKING:
    from deepthinker_nb.scanner import ScanPolicy

log = logging.getLogger("deepthinker_nb.session")


class Session:
    """A kernel and the notebook it writes to."""

    def __init__(
        self,
        notebook: str | Path,
        backend: str = DEFAULT_BACKEND,
        config: Any = None,
        *,
        workdir: str | Path | None = None,
        data_dirs: Sequence[str | Path] = (),
        replay: bool = True,
        scan: bool = True,
        policy: ScanPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        self.path = Path(notebook)
        if self.path.suffix != ".ipynb":
            raise DeepThinkerError(f"{self.path}: a session records into an .ipynb file")
        self.replay = replay
        self.timeout = timeout
        self.kernel = KernelSession(backend, config, workdir=workdir, data_dirs=data_dirs,
                                    scan=scan, policy=policy)
        self.recorder: NotebookRecorder | None = None
        self.replayed: list[CellResult] = []

    def start(self) -> Session:
        existing = read_notebook(self.path) if self.path.exists() else None
        self.kernel.start()
        self.recorder = NotebookRecorder(self.path, self.kernel.kernel_name, resume=True)
        if existing is not None and self.replay:
            self._replay(existing)
        return self

    def _replay(self, notebook: Any) -> None:
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            # A cell that failed when it was recorded fails again; the recorded session went on
            # past it, and so does the replay.
            result = self.kernel.execute(cell.source, self.timeout)
            self.replayed.append(result)
            if not result.success:
                log.info("replayed cell %d did not succeed: %s", index + 1, result.summary())

    def run(self, code: str, timeout: float | None = None, **callbacks: Any) -> CellResult:
        """Scan, run and record one cell; the notebook on disk is updated before this returns."""
        if self.recorder is None:
            self.start()
        result = self.kernel.execute(code, timeout if timeout is not None else self.timeout,
                                     **callbacks)
        assert self.recorder is not None
        self.recorder.record(code, result)
        return result

    def markdown(self, text: str) -> None:
        if self.recorder is None:
            self.start()
        assert self.recorder is not None
        self.recorder.record_markdown(text)

    def close(self) -> None:
        self.kernel.shutdown()

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
