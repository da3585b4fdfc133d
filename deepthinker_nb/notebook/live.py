"""``Session``: interactive work on the same road as the workflow, recorded as it happens.

Each cell is scanned, run in a managed kernel and appended to a notebook file at once. Opening an
existing notebook continues it: its code cells are replayed first (not re-recorded) so the kernel
has the state the notebook shows, and a replay that does not give what the notebook recorded is
reported cell by cell (code that depends on files, time or randomness may not repeat itself).
Images a cell shows are also saved as files beside the notebook: a terminal cannot show them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.kernel.results import CellResult
from deepthinker_nb.kernel.session import KernelSession
from deepthinker_nb.kernel.sync import background_loop
from deepthinker_nb.notebook.io import read_notebook
from deepthinker_nb.notebook.outputs import comparable_output
from deepthinker_nb.notebook.recorder import NotebookRecorder, cell_result_to_outputs
from deepthinker_nb.notebook.relocate import PATH_SUFFIXES, absolute_paths, parameter_cells
from deepthinker_nb.untrusted import UntrustedFileError, make_untrusted_dir

if TYPE_CHECKING:
    from deepthinker_nb.scanner import ScanPolicy

log = logging.getLogger("deepthinker_nb.session")

KERNEL_HOME = ".home"
"""The dir the local sandbox makes in the working dir for the kernel's HOME and TMPDIR."""


class SessionInputError(DeepThinkerError):
    """The notebook or working dir given to a session cannot be used; nothing was written."""


@dataclass(frozen=True)
class ReplayDifference:
    """A replayed cell that did not give what the notebook recorded."""

    cell: int
    """The cell's number in the notebook, from 1 (markdown cells count)."""
    reason: str
    """One line: what differs."""
    replayed: bool = True
    """False for a cell the replay skipped (see ``not_replayed_reason``)."""

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.reason}"


class Session:
    """A kernel and the notebook it writes to.

    ``workdir`` is the kernel's working dir (None: the notebook's folder when its parameters
    name files relative to it, as a run's notebooks do; else a private temp dir). A ``.home``
    dir a sandbox without namespaces makes there for the kernel is removed at ``close()``
    unless it was there before, so a session leaves only what the cells wrote.
    """

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
            raise SessionInputError(f"{self.path}: a session records into an .ipynb file; "
                                    "give a name ending in .ipynb")
        self.replay = replay
        self.timeout = timeout
        # A notebook whose parameters name files relative to its folder (a run's run.ipynb)
        # is replayed with them resolved there: by default the kernel works in that folder,
        # as Jupyter's would; given another working dir, it may read the folder.
        folder = self.path.resolve().parent
        if workdir is None and names_relative_files(self.path):
            workdir = folder
        self.workdir_arg = Path(workdir).resolve() if workdir is not None else None
        if names_relative_files(self.path) and not _inside(folder, self.workdir_arg):
            data_dirs = (*data_dirs, folder)
        self.kernel = KernelSession(backend, config, workdir=workdir, data_dirs=data_dirs,
                                    scan=scan, policy=policy)
        self.recorder: NotebookRecorder | None = None
        self.replayed: list[CellResult] = []
        self.replay_differences: list[ReplayDifference] = []
        self.replay_stopped_at: int | None = None
        """The cell at which a Ctrl-C (``interrupt_soon``) stopped the replay, if it did."""
        self.images: list[Path] = []
        """Images saved by the last ``run``."""
        self.images_problem: str | None = None
        """Why the last ``run``'s images could not be saved (they stay in the notebook)."""
        self._interrupted = False
        self._home: Path | None = None

    def start(self, on_replay: Callable[[int], Any] | None = None) -> Session:
        """Start the kernel, then replay the notebook's code cells (``on_replay(count)`` is
        told how many first, so a long replay can be announced)."""
        if self.kernel.started:
            return self
        existing = self._read_existing()
        home = self.workdir_arg / KERNEL_HOME if self.workdir_arg is not None else None
        if home is not None and not os.path.lexists(home):
            self._home = home
        self.kernel.start()
        self.recorder = NotebookRecorder(self.path, self.kernel.kernel_name, resume=True)
        # What runs the cells from now on, as every notebook we write records it.
        self.recorder.notebook.metadata.setdefault("deepthinker", {}).update(
            backend=self.kernel.backend.name, kernel_name=self.kernel.kernel_name,
            kernel=self.kernel.backend.describe(self.kernel.config))
        if existing is not None and self.replay:
            if on_replay is not None:
                on_replay(sum(_replayable(cell) for cell in existing.cells))
            self._replay(existing)
        return self

    def _read_existing(self) -> Any:
        if not self.path.exists():
            return None
        try:
            return read_notebook(self.path)
        except UntrustedFileError as exc:
            raise SessionInputError(
                f"{self.path}: cannot be continued, {exc.reason}; fix or move that file, or "
                "give the session a new notebook name (the file was left as it is)") from None

    def _replay(self, notebook: Any) -> None:
        self._interrupted = False
        notebook = copy.deepcopy(notebook)
        absolute_paths(notebook, self.path.resolve().parent)
        for index, cell in enumerate(notebook.cells):
            if not _replayable(cell):
                continue
            skip = not_replayed_reason(cell)
            if skip is not None:
                self.replay_differences.append(
                    ReplayDifference(index + 1, f"not replayed: {skip}", replayed=False))
                continue
            # A cell that failed when it was recorded fails again; the recorded session went on
            # past it, and so does the replay.
            result = self.kernel.execute(cell.source, self.timeout)
            self.replayed.append(result)
            difference = compare_replay(cell, result)
            if difference is not None:
                self.replay_differences.append(ReplayDifference(index + 1, difference))
            if self._interrupted:
                self.replay_stopped_at = index + 1
                return

    def run(self, code: str, timeout: float | None = None, **callbacks: Any) -> CellResult:
        """Scan, run and record one cell; the notebook on disk is updated before this returns.
        Its images are saved beside the notebook (their paths in ``images``)."""
        if self.recorder is None:
            self.start()
        self._interrupted = False
        result = self.kernel.execute(code, timeout if timeout is not None else self.timeout,
                                     **callbacks)
        assert self.recorder is not None
        self.recorder.record(code, result)
        self.images, self.images_problem = [], None
        try:
            self.images = save_images(result, self.path, len(self.recorder))
        except (UntrustedFileError, OSError) as exc:  # the cell is recorded; the session goes on
            self.images_problem = str(exc)
            log.warning("images of cell %d not saved: %s", len(self.recorder), exc)
        return result

    def interrupt_soon(self) -> None:
        """Ask the kernel to interrupt the cell it runs, without waiting: safe from a signal
        handler while ``run`` blocks. The cell ends with KeyboardInterrupt, the kernel keeps its
        state; during a replay, the replay stops after that cell."""
        self._interrupted = True
        kernel = self.kernel.async_session

        async def interrupt() -> None:
            try:
                await kernel.interrupt()
            except Exception as exc:  # a kernel that is gone has nothing to interrupt
                log.warning("could not interrupt the kernel: %s", exc)

        loop = background_loop()
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(interrupt()))

    @property
    def next_cell(self) -> int:
        """The number (from 1) the next recorded cell will have in the notebook."""
        return len(self.recorder) + 1 if self.recorder is not None else 1

    def markdown(self, text: str) -> None:
        if self.recorder is None:
            self.start()
        assert self.recorder is not None
        self.recorder.record_markdown(text)

    def close(self) -> None:
        self.kernel.shutdown()
        home, self._home = self._home, None
        if home is not None and home.is_dir() and not home.is_symlink():
            # rmtree does not follow links the kernel may have left in there.
            shutil.rmtree(home, ignore_errors=True)

    def __enter__(self) -> Session:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def names_relative_files(path: Path) -> bool:
    """Does the notebook at ``path`` have path parameters relative to its folder?"""
    try:
        notebook = read_notebook(path)
    except (OSError, UntrustedFileError, ValueError):
        return False  # no notebook yet, or one start() will refuse with its reason
    return any(name.endswith(PATH_SUFFIXES) and isinstance(value, str) and value
               and not os.path.isabs(value)
               for _cell, values in parameter_cells(notebook) for name, value in values.items())


def _inside(path: Path, folder: Path | None) -> bool:
    """Is ``path`` ``folder`` or inside it (the kernel's own dir shows it already)? No
    folder: the kernel works in a private temp dir, which holds nothing of the user's."""
    return folder is not None and (path == folder or folder in path.parents)


def _replayable(cell: Any) -> bool:
    return bool(cell.cell_type == "code" and cell.source.strip())


# -- replay: did the cell give what was recorded? -----------------------------------------------
def not_replayed_reason(cell: Any) -> str | None:
    """Why a recorded cell is better not run again, or None: one that was interrupted or timed
    out would run again until the same Ctrl-C or timeout (an endless loop, for ever), one that
    killed its kernel would kill it again and take the replayed state with it."""
    status = cell.get("metadata", {}).get("deepthinker", {}).get("status")
    errors = {output.get("ename") for output in cell.get("outputs", [])
              if output.get("output_type") == "error"}
    if "KeyboardInterrupt" in errors:
        return "interrupted (Ctrl-C) when recorded"
    if status == "timeout" or "CellTimeoutError" in errors:
        return "timed out when recorded"
    if status == "died" or "DeadKernelError" in errors:
        return "its kernel died when recorded"
    return None


def compare_replay(cell: Any, result: CellResult) -> str | None:
    """One line saying how ``result`` (a replay of ``cell``) differs from the recorded cell,
    or None. Stderr (warnings, progress bars) and images are not compared."""
    was_error, was_text = comparable_output(cell.get("outputs", []))
    status = cell.get("metadata", {}).get("deepthinker", {}).get("status")
    if was_error is None and status not in (None, "ok"):
        was_error = status
    now_error, now_text = comparable_output(cell_result_to_outputs(result))
    if not result.success and now_error is None:
        now_error = result.status
    if was_error and not now_error:
        return f"failed when recorded ({was_error}), succeeds now"
    if now_error and not was_error:
        reason = str(result.error) if result.error is not None else result.status
        return f"succeeded when recorded, fails now: {_clip(reason)}"
    if was_error != now_error:
        return f"failed when recorded with {was_error}, now with {now_error}"
    if was_text != now_text:
        was_line, now_line = _first_difference(was_text, now_text)
        return f"output differs: recorded {_clip(was_line)!r}, now {_clip(now_line)!r}"
    return None


def _first_difference(a: str, b: str) -> tuple[str, str]:
    a_lines, b_lines = a.splitlines(), b.splitlines()
    for i in range(max(len(a_lines), len(b_lines))):
        left = a_lines[i] if i < len(a_lines) else ""
        right = b_lines[i] if i < len(b_lines) else ""
        if left != right:
            return left, right
    return a, b


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- images: a terminal cannot show them, a file beside the notebook can -----------------------
def images_dir(notebook: Path) -> Path:
    """``<notebook stem>_files`` beside the notebook, as Jupyter's exporters name it."""
    return notebook.parent / f"{notebook.stem}_files"


def save_images(result: CellResult, notebook: Path, cell: int) -> list[Path]:
    """Write each PNG the cell showed to ``<stem>_files/cell<cell>_<k>.png`` (k from 1).

    The dir may be in the kernel's working dir, so no link is followed: neither a planted
    symlink for the dir (``make_untrusted_dir``) nor one for the file (a fresh temp file,
    renamed over the name).
    """
    pngs = [output.data["image/png"] for output in result.outputs
            if isinstance(output.data.get("image/png"), str)]
    if not pngs:
        return []
    folder = images_dir(notebook)
    parent = notebook.parent.resolve()
    make_untrusted_dir(parent / folder.name, root=parent)
    saved = []
    dir_fd = os.open(parent / folder.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for k, data in enumerate(pngs, 1):
            try:
                content = base64.b64decode(data)
            except (binascii.Error, ValueError):
                log.warning("cell %d: image %d is not base64 PNG data; not saved", cell, k)
                continue
            name = f"cell{cell}_{k}.png"
            _write_new(dir_fd, name, content)
            saved.append(folder / name)
    finally:
        os.close(dir_fd)
    return saved


def _write_new(dir_fd: int, name: str, content: bytes) -> None:
    tmp = f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
