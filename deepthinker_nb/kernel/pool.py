"""Warm kernels, started ahead of time, so a cell never waits for a cold start.

Every kernel is handed out once: ``release`` shuts it down and a fresh one takes its place in
the background, so no user ever sees another user's variables or files. An owner that knows
how many kernels it still needs says so with ``expect(n)``: starting a kernel costs a CPU-second
or more, and one warmed for nobody slows down the kernels that are working.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from deepthinker_nb.errors import ConfigError, KernelError, KernelStartError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.kernel.gate import ScanGate
from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession
from deepthinker_nb.kernel.sync import register_closer, run_sync, unregister_closer

log = logging.getLogger("deepthinker_nb.pool")


class AsyncKernelPool:
    """Keeps ``size`` started kernels of one configuration ready.

    - ``size``: kernels kept warm; each ``acquire`` hands one out and a fresh one starts.
    - ``backend``, ``config``: where the kernels run, as for :class:`AsyncKernelSession`.
    - ``preload``: code run in each kernel before it is handed out (e.g. ``import pandas,
      sklearn``), so that cost is paid in the background too; it is the pool owner's code,
      not scanned. A sequence: the n-th kernel started runs its n-th entry, and every kernel
      after the last entry's (an owner that knows what its first kernel will serve warms no
      import that kernel will not use). ``preload_timeout``: seconds it may take.
    - ``max_starting``: kernels starting at once (default: the CPUs this process may use).
    - further keyword arguments (``data_dirs``, ``scan``, ``policy``, ``output_limit``,
      ``default_timeout``, ...) go to every session; ``workdir`` is refused, since each
      kernel gets a fresh working dir of its own.

    A released kernel is shut down, never handed out again: no state leaks between users.

    Starting a kernel is CPU-bound, so the first one starts alone: it is ready as soon as
    possible instead of all of them late. After that, at most ``max_starting`` start at once
    (default: the CPUs this process may use), enough to keep up with kernels being used up.
    """

    def __init__(
        self,
        size: int = 2,
        backend: str = DEFAULT_BACKEND,
        config: Any = None,
        *,
        preload: str | Sequence[str] | None = None,
        preload_timeout: float = 120.0,
        max_starting: int | None = None,
        **session_kwargs: Any,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"KernelPool size: must be a whole number >= 1, got {size!r}")
        if max_starting is None:
            max_starting = _usable_cpus()
        elif isinstance(max_starting, bool) or not isinstance(max_starting, int) or (
                max_starting < 1):
            raise ConfigError("KernelPool max_starting: must be a whole number >= 1, got "
                              f"{max_starting!r}")
        if "workdir" in session_kwargs:
            raise ConfigError("KernelPool: each pooled kernel gets its own fresh working dir; "
                              "do not pass workdir")
        self.size = size
        self.backend = backend
        self.config = config
        self.preload = preload
        self.preload_timeout = preload_timeout
        self._preloads_taken = 0
        self.max_starting = max_starting
        self.session_kwargs = session_kwargs
        self._ready: asyncio.Queue[AsyncKernelSession] = asyncio.Queue()
        self._starting: set[asyncio.Task[None]] = set()
        self._in_use: set[AsyncKernelSession] = set()
        self._stopping: set[asyncio.Task[None]] = set()
        self._waiters: collections.deque[asyncio.Future[AsyncKernelSession]] = (
            collections.deque())
        self._failures = 0
        self._remaining: int | None = None  # at most this many more acquires (None: unknown)
        self._last_error: BaseException | None = None
        self._closed = False
        self._started = False
        self._had_ready = False  # the first kernel starts alone
        # Validate the configuration once, now, rather than in every background start.
        AsyncKernelSession(backend, config, **self._validation_kwargs())

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

    async def expect(self, remaining: int | None) -> None:
        """At most ``remaining`` more kernels will be acquired: warm no more than that.

        Each ``acquire`` counts down; ``None`` goes back to keeping ``size`` kernels warm. An
        acquire beyond the count still gets a kernel (started on demand). Kernels already warm
        or starting are kept.
        """
        if remaining is not None and (isinstance(remaining, bool) or not isinstance(
                remaining, int) or remaining < 0):
            raise ConfigError(f"KernelPool.expect: a whole number >= 0 or None, got {remaining!r}")
        self._remaining = remaining
        if self._started and not self._closed:
            self._refill()

    def _refill(self) -> None:
        wanted = self.size if self._remaining is None else min(
            self.size, self._remaining + len(self._waiters))
        missing = wanted - self._ready.qsize() - len(self._starting)
        limit = self.max_starting if self._had_ready else 1
        missing = min(missing, limit - len(self._starting))
        for _ in range(max(0, missing)):
            task = asyncio.get_running_loop().create_task(self._start_one())
            self._starting.add(task)
            task.add_done_callback(self._start_finished)

    def _start_finished(self, task: asyncio.Task[None]) -> None:
        self._starting.discard(task)
        # The next kernel of a staggered fill; after a failure, only acquire/release retry.
        if not self._closed and not task.cancelled() and self._failures == 0:
            self._refill()

    def _next_preload(self) -> str | None:
        """This kernel's preload (taken in start order, before the start awaits anything)."""
        if self.preload is None or isinstance(self.preload, str):
            return self.preload
        index = min(self._preloads_taken, len(self.preload) - 1)
        self._preloads_taken += 1
        return self.preload[index] if index >= 0 else None

    async def _start_one(self) -> None:
        preload = self._next_preload()
        session = AsyncKernelSession(self.backend, self.config, **self.session_kwargs)
        try:
            await session.start()
            if preload:
                result = await self._preload(session, preload)
                if not result.success:
                    raise KernelStartError(f"preload failed: {result.summary()}")
        except BaseException as exc:
            await session.shutdown(now=True)
            if isinstance(exc, asyncio.CancelledError):
                raise
            self._failures += 1
            self._last_error = exc
            log.warning("pool could not start a kernel: %s", exc)
            return
        if self._closed:
            await session.shutdown(now=True)
            return
        self._failures = 0
        self._had_ready = True
        self._deliver(session)

    def _deliver(self, session: AsyncKernelSession) -> None:
        """Hand a new kernel to the longest-waiting acquire, or keep it warm."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(session)
                return
        self._ready.put_nowait(session)

    async def _preload(self, session: AsyncKernelSession, preload: str) -> Any:
        # Preload code comes from the pool's owner, not from generated code: it is not scanned.
        return await session.execute(preload, timeout=self.preload_timeout,
                                     gate=ScanGate.for_own_code())

    async def acquire(self, timeout: float | None = None) -> AsyncKernelSession:
        """A ready kernel, at once when one is warm; otherwise the next one to come up."""
        await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._count_acquire(1)
        try:
            while True:
                session = await self._next_kernel(deadline, timeout)
                if await session.is_alive():
                    break
                await session.shutdown(now=True)  # died while warm: never hand out a dead one
        except BaseException:
            self._count_acquire(-1)
            raise
        self._in_use.add(session)
        self._refill()
        return session

    async def _next_kernel(self, deadline: float | None, timeout: float | None
                           ) -> AsyncKernelSession:
        if not self._ready.empty():
            return self._ready.get_nowait()
        # Wait in line: a kernel that comes up is handed to the longest waiter directly, so
        # the refill that follows already knows this acquire is served.
        waiter: asyncio.Future[AsyncKernelSession] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        served = False
        try:
            while True:
                if self._closed:
                    raise KernelError("the pool was closed while waiting for a kernel")
                if not self._starting:
                    if self._failures >= 3 and self._last_error is not None:
                        raise KernelStartError(
                            f"pool cannot start kernels: {self._last_error}"
                        ) from self._last_error
                    self._refill()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no kernel became ready within {timeout} s")
                try:
                    session = await asyncio.wait_for(asyncio.shield(waiter),
                                                     timeout=min(left or 1.0, 1.0))
                except asyncio.TimeoutError:
                    continue  # re-check failures and the deadline
                served = True
                return session
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if not served:
                if waiter.done() and not waiter.cancelled():
                    self._ready.put_nowait(waiter.result())  # arrived as we gave up: keep it
                else:
                    waiter.cancel()

    def _count_acquire(self, n: int) -> None:
        if self._remaining is not None:
            self._remaining = max(0, self._remaining - n)

    async def release(self, session: AsyncKernelSession) -> None:
        """Give a kernel back. It is discarded (never reused, killed rather than asked to exit:
        nobody reads from it again) and a fresh one is warmed if more are expected."""
        self._in_use.discard(session)
        task = asyncio.get_running_loop().create_task(session.shutdown(now=True))
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
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(KernelError("the pool was closed while waiting for a kernel"))
        for task in list(self._starting):
            task.cancel()
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        sessions = list(self._in_use)
        while not self._ready.empty():
            sessions.append(self._ready.get_nowait())
        self._in_use.clear()
        await asyncio.gather(*(s.shutdown(now=True) for s in sessions), *self._stopping,
                             return_exceptions=True)

    @property
    def ready_count(self) -> int:
        return self._ready.qsize()

    @property
    def starting_count(self) -> int:
        return len(self._starting)

    async def __aenter__(self) -> AsyncKernelPool:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


class KernelPool:
    """Blocking facade over :class:`AsyncKernelPool`; hands out blocking KernelSessions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._async = AsyncKernelPool(*args, **kwargs)

    @property
    def async_pool(self) -> AsyncKernelPool:
        return self._async

    @property
    def size(self) -> int:
        return self._async.size

    @property
    def ready_count(self) -> int:
        return self._async.ready_count

    @property
    def starting_count(self) -> int:
        return self._async.starting_count

    def start(self, wait: bool = False) -> KernelPool:
        run_sync(self._async.start(wait=wait))
        return self

    def expect(self, remaining: int | None) -> None:
        run_sync(self._async.expect(remaining))

    expect.__doc__ = AsyncKernelPool.expect.__doc__

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


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1
