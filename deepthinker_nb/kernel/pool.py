"""Warm kernels, started ahead of time, so a cell never waits for a cold start.

Every kernel is handed out once: ``release`` shuts it down and a fresh one takes its place in
the background, so no user ever sees another user's variables or files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from deepthinker_nb.errors import ConfigError, KernelError, KernelStartError
from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession
from deepthinker_nb.kernel.sync import register_closer, run_sync, unregister_closer

log = logging.getLogger("deepthinker_nb.pool")


class AsyncKernelPool:
    """Keeps ``size`` started kernels of one configuration ready.

    ``preload`` runs in each kernel before it is handed out (e.g. ``import pandas, sklearn``),
    so that cost is paid in the background too. Session keyword arguments (backend, config,
    data_dirs, scan, policy, output_limit, ...) apply to every kernel of the pool.
    """

    def __init__(
        self,
        size: int = 2,
        backend: str = "local",
        config: Any = None,
        *,
        preload: str | None = None,
        preload_timeout: float = 120.0,
        **session_kwargs: Any,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"KernelPool size: must be a whole number >= 1, got {size!r}")
        if "workdir" in session_kwargs:
            raise ConfigError("KernelPool: each pooled kernel gets its own fresh working dir; "
                              "do not pass workdir")
        self.size = size
        self.backend = backend
        self.config = config
        self.preload = preload
        self.preload_timeout = preload_timeout
        self.session_kwargs = session_kwargs
        self._ready: asyncio.Queue[AsyncKernelSession] = asyncio.Queue()
        self._starting: set[asyncio.Task[None]] = set()
        self._in_use: set[AsyncKernelSession] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        self._failures = 0
        self._last_error: BaseException | None = None
        self._closed = False
        self._started = False
        # Validate the configuration once, now, rather than in every background start.
        AsyncKernelSession(backend, config, scan=False, **self._validation_kwargs())

    def _validation_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.session_kwargs.items() if k not in ("scan", "scanner")}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, wait: bool = False) -> AsyncKernelPool:
        """Begin warming ``size`` kernels; with ``wait=True`` return when all are ready."""
        if self._closed:
            raise KernelError("this pool was closed; create a new one")
        if not self._started:
            self._started = True
            register_closer(self.close)
            self._refill()
        if wait:
            while self._ready.qsize() < self.size and self._starting:
                await asyncio.wait(set(self._starting), return_when=asyncio.FIRST_COMPLETED)
            if self._ready.qsize() == 0 and self._last_error is not None:
                raise KernelStartError(f"pool could not start kernels: {self._last_error}")
        return self

    def _refill(self) -> None:
        missing = self.size - self._ready.qsize() - len(self._starting)
        for _ in range(max(0, missing)):
            task = asyncio.get_running_loop().create_task(self._start_one())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _start_one(self) -> None:
        session = AsyncKernelSession(self.backend, self.config, **self.session_kwargs)
        try:
            await session.start()
            if self.preload:
                result = await self._preload(session)
                if not result.success:
                    raise KernelStartError(f"preload failed: {result.summary()}")
        except BaseException as exc:
            await session.shutdown()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self._failures += 1
            self._last_error = exc
            log.warning("pool could not start a kernel: %s", exc)
            return
        if self._closed:
            await session.shutdown()
            return
        self._failures = 0
        await self._ready.put(session)

    async def _preload(self, session: AsyncKernelSession) -> Any:
        # Preload code comes from the pool's owner, not from generated code: it is not scanned.
        gate = session.gate
        session.gate = type(gate)(enabled=False, reason="pool preload code")
        try:
            return await session.execute(self.preload, timeout=self.preload_timeout)
        finally:
            session.gate = gate

    async def acquire(self, timeout: float | None = None) -> AsyncKernelSession:
        """A ready kernel, at once when one is warm; otherwise the next one to come up."""
        await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                session = self._ready.get_nowait()
            except asyncio.QueueEmpty:
                if not self._starting:
                    if self._failures >= 3 and self._last_error is not None:
                        raise KernelStartError(
                            f"pool cannot start kernels: {self._last_error}"
                        ) from self._last_error
                    self._refill()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no kernel became ready within {timeout} s")
                try:
                    session = await asyncio.wait_for(self._ready.get(), timeout=min(
                        remaining if remaining is not None else 1.0, 1.0))
                except asyncio.TimeoutError:
                    continue
            if await session.is_alive():
                break
            await session.shutdown()  # died while waiting: never hand out a dead kernel
        self._in_use.add(session)
        self._refill()
        return session

    async def release(self, session: AsyncKernelSession) -> None:
        """Give a kernel back. It is discarded (never reused) and a fresh one is warmed."""
        self._in_use.discard(session)
        task = asyncio.get_running_loop().create_task(session.shutdown())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
        if not self._closed:
            self._refill()

    @contextlib.asynccontextmanager
    async def session(self, timeout: float | None = None) -> AsyncIterator[AsyncKernelSession]:
        session = await self.acquire(timeout)
        try:
            yield session
        finally:
            await self.release(session)

    async def close(self) -> None:
        """Shut down every kernel of the pool, warm or handed out. Safe to call twice."""
        self._closed = True
        unregister_closer(self.close)
        for task in list(self._starting):
            task.cancel()
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        sessions = list(self._in_use)
        while not self._ready.empty():
            sessions.append(self._ready.get_nowait())
        self._in_use.clear()
        await asyncio.gather(*(s.shutdown() for s in sessions), *self._stopping,
                             return_exceptions=True)

    @property
    def ready_count(self) -> int:
        return self._ready.qsize()

    async def __aenter__(self) -> AsyncKernelPool:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class KernelPool:
    """Blocking facade over :class:`AsyncKernelPool`; hands out blocking KernelSessions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._async = AsyncKernelPool(*args, **kwargs)
        self._wrappers: dict[int, KernelSession] = {}

    @property
    def async_pool(self) -> AsyncKernelPool:
        return self._async

    @property
    def size(self) -> int:
        return self._async.size

    @property
    def ready_count(self) -> int:
        return self._async.ready_count

    def start(self, wait: bool = False) -> KernelPool:
        run_sync(self._async.start(wait=wait))
        return self

    def acquire(self, timeout: float | None = None) -> KernelSession:
        return KernelSession._wrap(run_sync(self._async.acquire(timeout)))

    def release(self, session: KernelSession | AsyncKernelSession) -> None:
        inner = session.async_session if isinstance(session, KernelSession) else session
        run_sync(self._async.release(inner))

    @contextlib.contextmanager
    def session(self, timeout: float | None = None) -> Iterator[KernelSession]:
        session = self.acquire(timeout)
        try:
            yield session
        finally:
            self.release(session)

    def close(self) -> None:
        run_sync(self._async.close())

    def __enter__(self) -> KernelPool:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
