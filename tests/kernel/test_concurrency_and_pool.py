"""Many kernels at once, and the warm pool."""

from __future__ import annotations

import asyncio
import time

import pytest

from deepthinker_nb import (
    AsyncKernelPool,
    AsyncKernelSession,
    ConfigError,
    KernelError,
    KernelPool,
)


async def test_eight_concurrent_sessions_give_correct_independent_results():
    sessions = [AsyncKernelSession(scan=False) for _ in range(8)]
    try:
        await asyncio.gather(*(s.start() for s in sessions))
        await asyncio.gather(*(s.execute(f"me = {i}") for i, s in enumerate(sessions)))
        results = await asyncio.gather(
            *(s.execute("import time; time.sleep(0.5); me * 1000 + sum(range(10))")
              for s in sessions)
        )
        assert [r.result.text for r in results] == [str(i * 1000 + 45) for i in range(8)]
        assert len({s.workdir for s in sessions}) == 8
    finally:
        await asyncio.gather(*(s.shutdown() for s in sessions))


def test_pool_hands_out_warm_preloaded_kernels_and_refills():
    with KernelPool(2, preload="import json as preloaded_json", scan=False) as pool:
        pool.start(wait=True)
        assert pool.ready_count == 2
        start = time.perf_counter()
        first = pool.acquire()
        assert time.perf_counter() - start < 5  # generous: warm means no cold start
        assert first.execute("preloaded_json.dumps(1)").result.text == "'1'"
        pool.release(first)
        deadline = time.monotonic() + 60
        while pool.ready_count < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.ready_count == 2, "the pool refills in the background"


def test_pool_never_hands_the_same_state_to_the_next_user():
    with KernelPool(1, scan=False) as pool:
        with pool.session() as first:
            first.execute("secret = 'user one'\nopen('note.txt', 'w').write('x')")
            first_pid = first.kernel_pid
            first_dir = first.workdir
        with pool.session(timeout=60) as second:
            assert second.execute("secret").status == "error"
            assert second.kernel_pid != first_pid
            assert second.workdir != first_dir
            assert not (second.workdir / "note.txt").exists()


def test_pool_warms_no_kernel_beyond_what_its_owner_expects():
    with KernelPool(2, scan=False) as pool:
        pool.expect(2)  # e.g. a workflow with two notebooks left
        for n in range(2):
            with pool.session(timeout=60) as session:
                assert session.execute(f"{n} + 1").result.text == str(n + 1)
        assert pool.ready_count == 0 and pool.starting_count == 0, \
            "no kernel is warmed for nobody"
        with pool.session(timeout=60) as extra:  # beyond the count: still served, on demand
            assert extra.execute("2 + 2").result.text == "4"


def test_pool_starts_kernels_a_few_at_a_time_so_the_first_is_ready_soonest():
    with KernelPool(3, scan=False, max_starting=1) as pool:
        pool.start()
        assert pool.starting_count == 1
        pool.start(wait=True)
        assert pool.ready_count == 3


async def test_acquire_waiting_on_a_closed_pool_fails_instead_of_hanging():
    pool = AsyncKernelPool(1, preload="import time; time.sleep(60)", scan=False)
    waiting = asyncio.ensure_future(pool.acquire(timeout=120))
    await asyncio.sleep(0.5)
    await pool.close()
    with pytest.raises(KernelError, match="closed"):
        await waiting


def test_pool_close_leaves_no_kernel_behind(procs):
    pool = KernelPool(2, scan=False).start(wait=True)
    held = pool.acquire()
    pids = [held.kernel_pid]
    pool.close()
    assert procs.wait_gone(pids) == []


async def test_failing_preload_is_reported_not_hung():
    pool = AsyncKernelPool(1, preload="raise SystemExit('bad preload')", scan=False)
    try:
        with pytest.raises(Exception, match=r"preload|start"):
            await pool.start(wait=True)
            await pool.acquire(timeout=30)
    finally:
        await pool.close()


def test_pool_rejects_bad_size_and_shared_workdir():
    with pytest.raises(ConfigError):
        KernelPool(0)
    with pytest.raises(ConfigError):
        KernelPool(1, workdir="/tmp")
    with pytest.raises(ConfigError, match="max_starting"):
        KernelPool(1, max_starting=0)
    with pytest.raises(ConfigError, match="expect"):
        KernelPool(1).expect(-1)
