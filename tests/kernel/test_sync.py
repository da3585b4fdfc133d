"""The blocking bridge to the shared loop: values, exceptions, timeouts and cancellation come
back to the caller as they would from the coroutine itself."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError

import pytest

from deepthinker_nb.kernel.sync import background_loop, run_sync


async def _value(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


def test_a_value_comes_back():
    assert run_sync(_value(21)) == 42


def test_the_coroutines_own_exception_comes_back():
    class Boom(Exception):
        pass

    async def fail() -> None:
        await asyncio.sleep(0)
        raise Boom("inside")

    with pytest.raises(Boom, match="inside"):
        run_sync(fail())


def test_it_runs_on_the_shared_loop_not_in_the_caller():
    async def where() -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
        return threading.current_thread(), asyncio.get_running_loop()

    thread, loop = run_sync(where())
    assert thread is not threading.current_thread()
    assert loop is background_loop()


def test_a_timeout_cancels_the_coroutine():
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        run_sync(slow(), timeout=0.2)
    assert cancelled.wait(10)


def test_a_coroutine_cancelled_on_the_loop_raises_cancelled():
    async def cancelled_by_someone() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_soon(task.cancel)
        await asyncio.sleep(30)

    with pytest.raises(CancelledError):
        run_sync(cancelled_by_someone())


def test_a_blocking_call_from_the_loop_itself_is_refused():
    async def nested() -> None:
        coro = _value(1)
        try:
            run_sync(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="use await"):
        run_sync(nested())


def test_many_threads_at_once_each_get_their_own_answer():
    results: dict[int, int] = {}

    def worker(i: int) -> None:
        for _ in range(50):
            results[i] = run_sync(_value(i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: i * 2 for i in range(8)}
