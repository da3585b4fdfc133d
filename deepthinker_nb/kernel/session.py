"""One managed kernel: start it, run cells in it, keep control of it whatever the cell does.

``AsyncKernelSession`` is the core, on jupyter_client's async API. ``KernelSession`` is its
blocking facade for scripts and the seed API. Every cell passes the scan gate first; a cell that
runs too long is interrupted and, if the kernel does not answer, restarted; a kernel that dies is
reported with its reason and replaced, so the next cell runs.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.adapter import adapt
from jupyter_client.session import Session as JupyterSession

from deepthinker_nb.config.limits import cell_timeout
from deepthinker_nb.errors import ConfigError, KernelError, KernelStartError
from deepthinker_nb.kernel.backend import KernelBackend, get_backend
from deepthinker_nb.kernel.capture import (
    DEFAULT_OUTPUT_LIMIT,
    OutputCallback,
    OutputCollector,
    StreamCallback,
)
from deepthinker_nb.kernel.gate import ScanGate
from deepthinker_nb.kernel.local.orphans import temp_prefix
from deepthinker_nb.kernel.results import CellResult, ErrorInfo
from deepthinker_nb.kernel.specs import DeepThinkerKernelSpecManager
from deepthinker_nb.kernel.sync import register_closer, run_sync, unregister_closer

if TYPE_CHECKING:
    from deepthinker_nb.scanner import ScanPolicy, SecurityScanner

log = logging.getLogger("deepthinker_nb.kernel")

LIVENESS_INTERVAL = 0.2
"""Seconds between liveness checks while a cell is quiet: how fast a dead kernel is noticed."""

_spec_manager: DeepThinkerKernelSpecManager | None = None


class _FromConfig:
    def __repr__(self) -> str:
        return "<the config's execution_timeout, else DEFAULT_CELL_TIMEOUT>"


FROM_CONFIG = _FromConfig()
"""``default_timeout``'s default: the backend config's per-cell limit (a profile's), else
``DEFAULT_CELL_TIMEOUT``. None means no limit."""

_sessions_by_manager: weakref.WeakKeyDictionary[Any, AsyncKernelSession] = (
    weakref.WeakKeyDictionary())


def session_for_manager(km: Any) -> AsyncKernelSession | None:
    """The session that started kernel manager ``km`` (None for a manager started elsewhere):
    cells sent "through a kernel manager" still take the session's road."""
    try:
        return _sessions_by_manager.get(km)
    except TypeError:  # unhashable: not one of ours
        return None


def _kernel_spec_manager() -> DeepThinkerKernelSpecManager:
    global _spec_manager
    if _spec_manager is None:
        _spec_manager = DeepThinkerKernelSpecManager()
    return _spec_manager


class AsyncKernelSession:
    """A kernel of one backend with its working directory, scan gate and output caps.

    - ``backend``: a registered backend's name (``local``, ``docker``, or an alias such as
      ``subprocess``) or a :class:`KernelBackend`.
    - ``config``: that backend's config (``LocalConfig``, ``DockerConfig``); None: its default.
    - ``workdir``: the kernel's working dir, created if missing and never removed; None: a
      private temp dir, removed at shutdown.
    - ``data_dirs``: dirs the kernel may read (read-only in the sandbox); they must exist.
    - ``scan``, ``policy``, ``scanner``: the scan gate every cell passes. ``scan=False`` is a
      logged opt-out (the kernel then also runs without its in-kernel scanner); ``policy``
      defaults to the standard one for the working and data dirs.
    - ``output_limit``: characters of stream text (and size of rich outputs) kept per cell;
      the rest is counted as dropped.
    - ``default_timeout``: seconds per cell when ``execute`` is not given one; by default the
      config's ``execution_timeout``, else ``DEFAULT_CELL_TIMEOUT``; None: no limit.
    - ``interrupt_grace``: seconds a timed-out cell gets to answer the interrupt before the
      kernel is restarted.
    - ``startup_timeout``: seconds the kernel may take to start (default: the config's).
    - ``restart_on_death``: start a fresh kernel after one dies, so the next cell runs.

    The kernel starts on ``start()`` (or the first ``execute``), and stops on ``shutdown()``,
    at interpreter exit, or when the ``async with`` block ends.
    """

    def __init__(
        self,
        backend: str | KernelBackend = "local",
        config: Any = None,
        *,
        workdir: str | Path | None = None,
        data_dirs: Sequence[str | Path] = (),
        scan: bool = True,
        policy: ScanPolicy | None = None,
        scanner: SecurityScanner | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        default_timeout: float | object | None = FROM_CONFIG,
        interrupt_grace: float = 2.0,
        startup_timeout: float | None = None,
        restart_on_death: bool = True,
    ) -> None:
        self.backend = backend if isinstance(backend, KernelBackend) else get_backend(backend)
        self.config = self.backend.coerce_config(config)
        self.data_dirs = tuple(Path(d).resolve() for d in data_dirs)
        for directory in self.data_dirs:
            if not directory.exists():
                raise ConfigError(f"data dir {str(directory)!r} does not exist")
        self._workdir_arg = Path(workdir).resolve() if workdir is not None else None
        self._workdir: Path | None = self._workdir_arg
        self._owns_workdir = False
        self.gate = ScanGate(enabled=scan, policy=policy, scanner=scanner)
        if output_limit <= 0:
            raise ConfigError("output_limit: must be a positive number of characters")
        self.output_limit = output_limit
        self.default_timeout: float | None = (
            cell_timeout(self.config) if default_timeout is FROM_CONFIG else default_timeout)  # type: ignore[assignment]
        self.interrupt_grace = interrupt_grace
        self.startup_timeout = startup_timeout or getattr(self.config, "startup_timeout", 60.0)
        self.restart_on_death = restart_on_death
        self.kernel_manager: AsyncKernelManager | None = None
        self._client: Any = None
        self._language_info: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.restarts = 0

    # -- properties --------------------------------------------------------------------------
    @property
    def kernel_name(self) -> str:
        return self.backend.kernel_name

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise KernelError("the session has no working dir until it is started")
        return self._workdir

    @property
    def started(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> Any:
        return self._client

    @property
    def kernel_pid(self) -> int | None:
        """The kernel's pid on the host, where the backend has one (a sandboxed kernel sees
        itself under another pid in its own namespace)."""
        km = self.kernel_manager
        provisioner = getattr(km, "provisioner", None)
        return getattr(provisioner, "kernel_pid", None)

    def __repr__(self) -> str:
        state = "started" if self.started else ("closed" if self._closed else "new")
        return f"<{type(self).__name__} {self.kernel_name} {state} workdir={self._workdir}>"

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> AsyncKernelSession:
        if self.started:
            return self
        if self._closed:
            raise KernelError("this session was shut down; create a new one")
        self.backend.preflight(self.config)
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=temp_prefix("session")))
            self._owns_workdir = True
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.gate.bind(self._workdir, self.data_dirs)
        self.kernel_manager = AsyncKernelManager(
            kernel_name=self.kernel_name, kernel_spec_manager=_kernel_spec_manager()
        )
        self.kernel_manager.shutdown_wait_time = 2.0
        _sessions_by_manager[self.kernel_manager] = self
        try:
            await self.kernel_manager.start_kernel(
                **self.backend.launch_kwargs(self.config, self._workdir, self.data_dirs,
                                             scan_policy=self.gate.kernel_policy())
            )
            await self._connect()
        except BaseException as exc:
            await self._dispose()
            if isinstance(exc, (KernelError, ConfigError, asyncio.CancelledError)):
                raise
            raise KernelStartError(f"{self.kernel_name} kernel did not start: {exc}") from exc
        register_closer(self.shutdown)
        return self

    async def _connect(self) -> None:
        assert self.kernel_manager is not None
        km = self.kernel_manager
        # A client of its own identity: a second client made from the same manager (papermill,
        # a debugger) would otherwise take over the kernel's replies to ours.
        client = km.client(session=JupyterSession(
            key=km.session.key, signature_scheme=km.session.signature_scheme,
            username=km.session.username))
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=self.startup_timeout)
        except BaseException:
            client.stop_channels()
            raise
        self._client = client
        iopub, shell = client.iopub_channel.socket, client.shell_channel.socket
        # Plain views of the two sockets a cell reads: what has arrived is read directly,
        # without a future, a poller and a queue.Empty per message. Each is paired with its
        # owner, whose ``closed`` is safe to ask.
        self._readers = ((iopub, zmq.Socket.shadow(iopub.underlying)),
                         (shell, zmq.Socket.shadow(shell.underlying)))

    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel and remove what the session created. Safe to call twice.

        ``now=True`` kills the kernel instead of asking it to exit: for a kernel nobody will
        read from again (the pool's discards) it saves the kernel's own exit work.
        """
        self._closed = True
        unregister_closer(self.shutdown)
        await self._dispose(now)

    async def _dispose(self, now: bool = False) -> None:
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        km, self.kernel_manager = self.kernel_manager, None
        if km is not None and km.has_kernel:
            try:
                await asyncio.wait_for(km.shutdown_kernel(now=now), timeout=10)
            except Exception:
                try:
                    await km.shutdown_kernel(now=True)
                except Exception as exc:  # pragma: no cover - last resort
                    log.warning("could not shut down kernel: %s", exc)
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = self._workdir_arg

    async def interrupt(self) -> None:
        if self.kernel_manager is not None and self.kernel_manager.has_kernel:
            await self.kernel_manager.interrupt_kernel()

    async def restart(self) -> None:
        """A fresh kernel in the same working dir; variables are gone, files stay."""
        if not self.started:
            await self.start()
            return
        assert self.kernel_manager is not None
        self._client.stop_channels()
        self._client = None
        try:
            await self.kernel_manager.restart_kernel(now=True)
            await self._connect()
        except Exception as exc:
            raise KernelStartError(f"{self.kernel_name} kernel did not restart: {exc}") from exc
        self.restarts += 1
        self.gate.reset()

    async def language_info(self) -> dict[str, Any]:
        """The kernel's ``language_info`` (its kernel_info reply), asked once per session:
        what a notebook's metadata records about the language that ran it."""
        if self._language_info is None:
            async with self._lock:
                if not self.started:
                    await self.start()
                reply = await self._client.kernel_info(reply=True, timeout=self.startup_timeout)
                self._language_info = dict(reply["content"].get("language_info", {}))
        return self._language_info

    async def is_alive(self) -> bool:
        return bool(self.kernel_manager is not None and await self.kernel_manager.is_alive())

    async def __aenter__(self) -> AsyncKernelSession:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.shutdown()

    # -- execution ---------------------------------------------------------------------------
    async def execute(
        self,
        code: str,
        timeout: float | None = None,
        *,
        on_stdout: StreamCallback | None = None,
        on_stderr: StreamCallback | None = None,
        on_output: OutputCallback | None = None,
        gate: ScanGate | None = None,
    ) -> CellResult:
        """Run one cell. Never raises for what the cell does; the status says what happened.

        ``timeout`` (seconds, default ``default_timeout``): past it the cell is interrupted,
        and the kernel restarted if it does not answer within ``interrupt_grace``.
        ``on_stdout`` / ``on_stderr`` get stream text and ``on_output`` each rich output as it
        arrives (plain or async callables). ``gate`` checks this cell instead of the session's
        own gate (a notebook run with a policy of its own on a pooled kernel).
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        started = time.monotonic()
        report = (gate if gate is not None else self.gate).check(code)
        if report is not None and report.blocked:
            return CellResult(
                status="blocked",
                code=code,
                error=ErrorInfo("SecurityError", report.summary()),
                scan_report=report,
                duration=time.monotonic() - started,
            )
        async with self._lock:
            if not self.started:
                await self.start()
            elif not await self.is_alive():
                await self.restart()
            collector = OutputCollector(self.output_limit, on_stdout, on_stderr, on_output)
            timeout = self.default_timeout if timeout is None else timeout
            result = await self._run(code, timeout, collector)
        result.code = code
        result.scan_report = report
        result.duration = time.monotonic() - started
        return result

    async def _run(
        self, code: str, timeout: float | None, collector: OutputCollector
    ) -> CellResult:
        msg_id = self._client.execute(code, store_history=True, allow_stdin=False,
                                      stop_on_error=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        outcome, reply = await self._await_reply(msg_id, collector, deadline)
        if outcome == "done":
            if self._disk_budget_passed():
                return await self._died(collector)
            return self._finished(collector, reply)
        if outcome == "died":
            return await self._died(collector)

        # Timed out: interrupt, give the kernel a grace period to answer, then restart. A reply
        # that arrived just before the deadline still counts while we wait for the idle status.
        await self.interrupt()
        grace_deadline = time.monotonic() + self.interrupt_grace
        outcome, reply = await self._await_reply(msg_id, collector, grace_deadline, reply)
        if outcome == "died":
            return await self._died(collector)
        message = f"cell exceeded its {timeout:g} s timeout"
        if outcome == "done":
            return collector.result(
                "timeout",
                error=ErrorInfo("CellTimeoutError", message + "; interrupted, kernel state kept"),
                timeout_action="interrupted",
            )
        await self.restart()
        return collector.result(
            "timeout",
            error=ErrorInfo("CellTimeoutError", message + "; the kernel did not respond to the "
                                                     "interrupt and was restarted (state lost)"),
            timeout_action="restarted",
            restarted=True,
        )

    async def _await_reply(
        self, msg_id: str, collector: OutputCollector, deadline: float | None,
        reply: dict | None = None,
    ) -> tuple[str, dict | None]:
        """Collect IOPub output until the reply and the idle status have both arrived.

        Returns ("done", reply), ("timeout", reply so far) or ("died", None).
        """
        session = self._client.session
        (iopub_owner, iopub), (shell_owner, shell) = self._readers

        def still_open() -> None:
            # The plain views must not touch sockets that were closed meanwhile (a shutdown
            # while the cell ran, from a callback or another task).
            if iopub_owner.closed or shell_owner.closed:
                raise KernelError("the session's kernel was shut down while the cell ran")

        still_open()
        idle = False
        heard = time.monotonic()  # when the kernel last sent something or was seen alive
        with _Arrivals(iopub, shell) as arrivals:
            while True:
                # What has arrived, a bounded batch at a time: a cell that floods its output
                # still meets its deadline, and the loop's other work runs in between.
                batch = 0
                while batch < _READ_BATCH and iopub.get(_EVENTS) & _POLLIN:
                    batch += 1
                    msg = _decode(session, iopub.recv_multipart())
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["header"]["msg_type"] == "status":
                        idle = idle or msg["content"].get("execution_state") == "idle"
                    else:
                        await collector.handle(msg)
                        still_open()
                replies = 0
                while shell.get(_EVENTS) & _POLLIN:
                    replies += 1
                    msg = _decode(session, shell.recv_multipart())
                    if msg["parent_header"].get("msg_id") == msg_id:
                        reply = msg
                if reply is not None and idle:
                    return "done", reply
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return "timeout", reply
                if batch == _READ_BATCH:
                    # More may be waiting, and the descriptors only signal new arrivals.
                    await asyncio.sleep(0)
                    still_open()
                    heard = now
                    continue
                if batch or replies:
                    heard = now
                elif now - heard >= LIVENESS_INTERVAL:
                    # Nothing came for a while (wakes without a message do not count): is the
                    # kernel still there?
                    if not await self.is_alive():
                        return "died", None
                    still_open()
                    heard = time.monotonic()
                    continue
                wait = LIVENESS_INTERVAL - (now - heard)
                if deadline is not None:
                    wait = min(wait, deadline - now)
                await arrivals.wait(wait)
                still_open()

    @staticmethod
    def _finished(collector: OutputCollector, reply: dict | None) -> CellResult:
        content = (reply or {}).get("content", {})
        status = "ok" if content.get("status") == "ok" else "error"
        error = collector.error
        if status == "error" and error is None:
            error = ErrorInfo(content.get("ename", "Error"), content.get("evalue", ""),
                              list(content.get("traceback", [])))
        return collector.result(status, error=error,
                                execution_count=content.get("execution_count"))

    async def _died(self, collector: OutputCollector) -> CellResult:
        reason = self._death_reason()
        if "memory" not in reason and collector.mentions_memory_exhaustion():
            reason += " (memory limit: the cell ran out of memory just before the kernel died)"
        log.warning("%s kernel died: %s", self.kernel_name, reason)
        restarted = False
        if self.restart_on_death:
            try:
                await self.restart()
                restarted = True
            except KernelError as exc:
                reason += f"; restart failed: {exc}"
        return collector.result(
            "died",
            error=ErrorInfo("DeadKernelError", reason),
            death_reason=reason,
            restarted=restarted,
        )

    def _disk_budget_passed(self) -> bool:
        """Measure the kernel's disk budget when the cell could have passed it since the
        backend's watcher last looked; passing it stops the kernel, and the cell fails."""
        budget = getattr(getattr(self.kernel_manager, "provisioner", None), "disk_budget", None)
        return budget is not None and (budget.exceeded or (budget.due() and budget.check()))

    def _death_reason(self) -> str:
        provisioner = getattr(self.kernel_manager, "provisioner", None)
        explain = getattr(provisioner, "death_reason", None)
        reason = explain() if callable(explain) else None
        return reason or "the kernel process ended unexpectedly"


_READ_BATCH = 64
"""IOPub messages read in one go before the deadline is checked and the loop runs again."""
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)


def _decode(session: JupyterSession, frames: list[bytes]) -> dict[str, Any]:
    """``session.deserialize(session.feed_identities(frames)[1])``, less what no cell result
    reads: the header's and parent header's dates parsed into datetimes (two regex walks and
    two date parses per message, the larger half of its cost). The checks are the same calls:
    signed, signature not seen before (replay), signature valid, five parts at least."""
    _idents, parts = session.feed_identities(frames)
    if session.auth is not None:
        signature = parts[0]
        if not signature:
            raise ValueError("Unsigned Message")
        if signature in session.digest_history:
            raise ValueError(f"Duplicate Signature: {signature!r}")
        session._add_digest(signature)
        if not hmac.compare_digest(signature, session.sign(parts[1:5])):
            raise ValueError(f"Invalid Signature: {signature!r}")
    if len(parts) < 5:
        raise TypeError("malformed message, must have at least 5 elements")
    unpack = session.unpack
    header = unpack(parts[1])
    msg = {"header": header, "msg_id": header["msg_id"], "msg_type": header["msg_type"],
           "parent_header": unpack(parts[2]), "metadata": unpack(parts[3]),
           "content": unpack(parts[4]), "buffers": [memoryview(b) for b in parts[5:]]}
    if not str(header.get("version", "")).startswith("5."):
        msg = adapt(msg)  # an older protocol's kernel: as deserialize would give it
    return msg


class _Arrivals:
    """Wakes a waiting cell when one of its sockets may have a message to read.

    pyzmq's asyncio sockets hold their descriptors' reader slots on the loop, and a
    ``zmq.asyncio.Poller`` costs a handful of futures, events and timer handles on every wait.
    This watches duplicates of the descriptors instead, for one cell: a wait is one future and
    one timer. The descriptor only says "look again": the caller reads ``zmq.EVENTS`` (which
    re-arms it) until nothing is left before it waits, so no arrival is missed.
    """

    __slots__ = ("_fds", "_loop", "_waiter")

    def __init__(self, *sockets: zmq.Socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._fds: list[int] = []
        try:
            for sock in sockets:
                fd = os.dup(sock.get(zmq.FD))
                self._fds.append(fd)
                self._loop.add_reader(fd, self._wake)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Arrivals:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds:
            self._loop.remove_reader(fd)
            os.close(fd)
        self._fds = []

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until a socket may have something (a wake may be spurious: look before trusting
        it), or ``timeout`` seconds passed."""
        waiter = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class KernelSession:
    """Blocking facade over :class:`AsyncKernelSession`: same arguments, same behaviour.

    The async core runs on one shared background loop, so these calls also work inside a
    running notebook, where ``asyncio.run`` is not allowed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._async = AsyncKernelSession(*args, **kwargs)

    @classmethod
    def _wrap(cls, session: AsyncKernelSession) -> KernelSession:
        wrapper = cls.__new__(cls)
        wrapper._async = session
        return wrapper

    @property
    def async_session(self) -> AsyncKernelSession:
        return self._async

    def __getattr__(self, name: str) -> Any:
        # Read-only attributes (workdir, kernel_manager, config, gate, ...) of the async core.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._async, name)

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncKernelSession", "KernelSession")

    def start(self) -> KernelSession:
        run_sync(self._async.start())
        return self

    def execute(self, code: str, timeout: float | None = None, **callbacks: Any) -> CellResult:
        return run_sync(self._async.execute(code, timeout, **callbacks))

    def interrupt(self) -> None:
        run_sync(self._async.interrupt())

    def restart(self) -> None:
        run_sync(self._async.restart())

    def shutdown(self, now: bool = False) -> None:
        run_sync(self._async.shutdown(now))

    def is_alive(self) -> bool:
        return run_sync(self._async.is_alive())

    def language_info(self) -> dict[str, Any]:
        return run_sync(self._async.language_info())

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
