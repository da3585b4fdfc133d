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
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_closers: list[Callable[[], Awaitable[Any]]] = []


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use."""
    global _loop, _thread
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


def run_sync(awaitable: Awaitable[T], timeout: float | None = None) -> T:
    """Run a coroutine on the shared loop and wait for its result in this thread."""
    loop = background_loop()
    if threading.current_thread() is _thread:
        raise RuntimeError("blocking call made from the deepthinker-nb event loop; use await")
    future: Future[T] = asyncio.run_coroutine_threadsafe(awaitable, loop)  # type: ignore[arg-type]
    try:
        return future.result(timeout)
    except BaseException:
        if not future.done():
            future.cancel()
        raise


def spawn(awaitable: Awaitable[Any]) -> Future[Any]:
    """Start a coroutine on the shared loop without waiting for it."""
    return asyncio.run_coroutine_threadsafe(awaitable, background_loop())  # type: ignore[arg-type]


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
