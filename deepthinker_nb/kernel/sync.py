"""Blocking calls into the async core.

All blocking facades share one event loop running in a daemon thread. Sessions, pools and their
background work (refills, death watching) live on that loop, so the blocking API also works from
inside a running notebook (where ``asyncio.run`` is not allowed) and background tasks keep
running between calls.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import CancelledError
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_closers: list[Callable[[], Awaitable[Any]]] = []


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use."""
    global _loop, _thread
    loop, thread = _loop, _thread
    if loop is not None and thread is not None and thread.is_alive() and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="deepthinker-nb-loop", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


class _Call:
    """One blocking call: its coroutine runs as a task on the shared loop, and the caller waits
    on a plain lock that the task itself releases as it ends.

    Leaner than ``run_coroutine_threadsafe`` + ``Future.result()`` (a concurrent future with
    its condition, two chained futures and a done callback that needs one more loop iteration
    before the caller is woken); the outcome is the same: the value, or the same exception.
    """

    __slots__ = ("awaitable", "done", "error", "task", "value")

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable
        self.done = threading.Lock()
        self.done.acquire()
        self.task: asyncio.Task[None] | None = None
        self.value: Any = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            self.value = await self.awaitable
        except asyncio.CancelledError:
            self.error = CancelledError()
            raise
        except BaseException as exc:  # the caller's to handle, whatever it is
            self.error = exc
        finally:
            self.done.release()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


def run_sync(awaitable: Awaitable[T], timeout: float | None = None) -> T:
    """Run a coroutine on the shared loop and wait for its result in this thread.

    Past ``timeout`` seconds (and when the wait is interrupted) the coroutine is cancelled and
    TimeoutError (or the interruption) raised; a cancelled coroutine raises CancelledError.
    """
    loop = background_loop()
    if threading.current_thread() is _thread:
        raise RuntimeError("blocking call made from the deepthinker-nb event loop; use await")
    call = _Call(awaitable)
    loop.call_soon_threadsafe(call.start)
    try:
        finished = call.done.acquire(timeout=-1 if timeout is None else max(timeout, 0.0))
    except BaseException:
        loop.call_soon_threadsafe(call.cancel)  # runs after call.start: the calls keep order
        raise
    if not finished:
        loop.call_soon_threadsafe(call.cancel)
        raise TimeoutError(f"no result within {timeout:g} s")
    error, call.error = call.error, None
    if error is not None:
        raise error
    return call.value  # type: ignore[no-any-return]


def register_closer(closer: Callable[[], Awaitable[Any]]) -> None:
    """Run ``closer()`` on the shared loop at interpreter exit (kernels must not outlive us)."""
    _closers.append(closer)


def unregister_closer(closer: Callable[[], Awaitable[Any]]) -> None:
    try:
        _closers.remove(closer)
    except ValueError:
        pass


@atexit.register
def _close_all() -> None:
    if _loop is None or _thread is None or not _thread.is_alive():
        return
    for closer in list(_closers):
        try:
            run_sync(closer(), timeout=15)
        except Exception:
            pass
