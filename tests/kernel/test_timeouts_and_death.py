"""A cell never takes the session with it: timeouts escalate, dead kernels are replaced."""

from __future__ import annotations

from deepthinker_nb import KernelSession, LocalConfig, ResourceLimits


def test_timeout_interrupts_and_keeps_state(session):
    session.execute("kept = 'still here'")
    result = session.execute("while True: pass", timeout=1)
    assert result.status == "timeout"
    assert result.timeout_action == "interrupted"
    assert not result.restarted
    assert session.execute("kept").result.text == "'still here'"


def test_kernel_that_ignores_interrupt_is_restarted():
    with KernelSession(scan=False, interrupt_grace=1.0) as s:
        s.execute("lost = 1")
        code = (
            "import signal, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "while True: time.sleep(0.05)"
        )
        result = s.execute(code, timeout=1)
        assert result.status == "timeout"
        assert result.timeout_action == "restarted" and result.restarted
        assert s.execute("lost").status == "error", "state is gone after a restart"
        assert s.execute("1 + 1").result.text == "2"


def test_os_exit_is_reported_as_died_with_exit_code_and_session_recovers(session):
    result = session.execute("import os; os._exit(3)", timeout=30)
    assert result.status == "died"
    assert "exited with code 3" in result.death_reason
    assert result.restarted
    assert session.execute("2 + 2").result.text == "4"


def test_segfault_is_reported_with_its_signal(session):
    result = session.execute("import ctypes; ctypes.string_at(0)", timeout=30)
    assert result.status == "died"
    assert "SIGSEGV" in result.death_reason
    assert session.execute("'alive'").result.text == "'alive'"


def test_memory_limit_hit_is_reported_as_memory_limit():
    config = LocalConfig(limits=ResourceLimits(memory="1g"))
    with KernelSession(scan=False, config=config) as s:
        # Exhaust the address space, then crash the way allocation failures in C code do.
        code = (
            "import os\n"
            "blocks = []\n"
            "try:\n"
            "    while True: blocks.append(bytearray(32 * 1024 * 1024))\n"
            "except MemoryError:\n"
            "    import sys; sys.stderr.flush()\n"
            "    print('MemoryError: cannot allocate', flush=True)\n"
            "    import time; time.sleep(0.3); os.abort()\n"
        )
        result = s.execute(code, timeout=60)
        assert result.status == "died"
        assert "memory limit" in result.death_reason
        assert s.execute("'recovered'").result.text == "'recovered'"


def test_memory_error_within_the_limit_is_an_ordinary_error():
    config = LocalConfig(limits=ResourceLimits(memory="1g"))
    with KernelSession(scan=False, config=config) as s:
        result = s.execute("x = bytearray(4 * 1024**3)", timeout=60)
        assert result.status == "error"
        assert result.error.ename == "MemoryError"
        assert s.execute("1").success


def test_cpu_time_limit_kills_with_a_clear_reason():
    config = LocalConfig(limits=ResourceLimits(cpu_seconds=2))
    with KernelSession(scan=False, config=config) as s:
        result = s.execute("while True: pass", timeout=60)
        assert result.status == "died"
        assert "CPU time limit" in result.death_reason
        assert s.execute("3").success, "a fresh kernel has a fresh CPU budget"


def test_kernel_killed_between_cells_is_replaced_before_the_next(session):
    import os
    import signal
    import time

    os.kill(session.kernel_pid, signal.SIGKILL)
    time.sleep(0.3)
    result = session.execute("'fresh'")
    assert result.status == "ok" and result.result.text == "'fresh'"
