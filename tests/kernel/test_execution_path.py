"""How a cell's messages are read: directly from the sockets, woken by duplicated descriptors.

These prove the reading keeps its promises (no descriptor left behind, no spinning while a cell
is quiet, deadlines met during a flood, a shutdown mid-cell is an error and not a crash); they
never time anything.
"""

from __future__ import annotations

import os

import pytest

from deepthinker_nb import AsyncKernelSession
from deepthinker_nb.errors import KernelError
from deepthinker_nb.kernel import session as session_module


def _eventfds() -> int:
    """Descriptors of ZeroMQ's kind (its sockets signal through an eventfd): other threads of
    the process (the disk budget's walk) open and close files of their own meanwhile."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventfd]"
        except OSError:  # closed between the listing and the look
            pass
    return count


def test_cells_leave_no_descriptor_behind(session):
    session.execute("1+1")
    before = _eventfds()
    for i in range(20):
        assert session.execute(f"print({i}); {i}").success
    assert _eventfds() == before


def test_a_quiet_cell_waits_without_spinning(session, monkeypatch):
    waits = 0
    original = session_module._Arrivals.wait

    async def counting(self, timeout):  # type: ignore[no-untyped-def]
        nonlocal waits
        waits += 1
        return await original(self, timeout)

    monkeypatch.setattr(session_module._Arrivals, "wait", counting)
    result = session.execute("import time; time.sleep(1.0)")
    assert result.success
    # One wake per message wave and one per LIVENESS_INTERVAL of silence; a descriptor left
    # readable would wake the loop thousands of times.
    assert waits < 4 * (1.0 / session_module.LIVENESS_INTERVAL) + 20


def test_a_chatty_cell_is_read_without_waiting_on_what_already_came(session, monkeypatch):
    # More messages than one batch: the descriptors only signal new arrivals, so after a cut
    # batch the reader must look again at once; waiting instead would sit out a whole
    # LIVENESS_INTERVAL (the wait's timer expiring) once per batch.
    expired = 0
    original = session_module._resolve

    def counting(future):  # type: ignore[no-untyped-def]
        nonlocal expired
        expired += not future.done()
        original(future)

    monkeypatch.setattr(session_module, "_resolve", counting)
    result = session.execute("for i in range(6000):\n    print(i, flush=True)")
    assert result.success
    assert result.stdout.splitlines()[-1] == "5999"
    # A kernel held up for LIVENESS_INTERVAL on a loaded machine may expire a few.
    assert expired < 10


def test_a_flooding_cell_still_meets_its_deadline(session):
    result = session.execute("while True:\n    print('x' * 100)", timeout=1.5)
    assert result.status == "timeout"
    assert result.stdout.startswith("x" * 100)
    assert session.execute("1+1").success


async def test_messages_of_other_requests_are_not_taken_for_this_cell():
    # A request sent by hand on the session's own client: its reply and output must not end
    # (or satisfy) the next cell.
    async with AsyncKernelSession("local", scan=False) as session:
        session.client.execute("print('other')")
        result = await session.execute("print('mine')")
        assert result.success
        assert result.stdout == "mine\n"


async def test_a_shutdown_while_the_cell_runs_is_an_error_not_a_crash():
    session = AsyncKernelSession("local", scan=False)
    await session.start()
    try:
        async def stop(_text: str) -> None:
            await session.shutdown(now=True)

        with pytest.raises(KernelError):
            await session.execute("print('a', flush=True)\nimport time; time.sleep(5)",
                                  on_stdout=stop)
    finally:
        await session.shutdown(now=True)


def _signed_frames(sender, msg_type: str = "stream") -> tuple[dict, list[bytes]]:
    parent = sender.msg("execute_request", content={"code": "print(1)"})
    msg = sender.msg(msg_type, content={"name": "stdout", "text": "1\n"}, parent=parent)
    return msg, [b"ident", *sender.serialize(msg)]


def test_decoding_gives_what_deserialize_gives_less_the_parsed_dates():
    from jupyter_client.session import Session

    sender, receiver = Session(key=b"secret"), Session(key=b"secret")
    reference = Session(key=b"secret")
    msg, frames = _signed_frames(sender)
    decoded = session_module._decode(receiver, frames)
    expected = reference.deserialize(reference.feed_identities(frames)[1])
    assert decoded["content"] == expected["content"] == {"name": "stdout", "text": "1\n"}
    assert decoded["msg_type"] == expected["msg_type"] == "stream"
    assert decoded["parent_header"]["msg_id"] == expected["parent_header"]["msg_id"]
    assert decoded["header"]["msg_id"] == msg["header"]["msg_id"]
    assert decoded["metadata"] == expected["metadata"]


def test_decoding_refuses_what_deserialize_refuses():
    from jupyter_client.session import Session

    sender, receiver = Session(key=b"secret"), Session(key=b"secret")
    _msg, frames = _signed_frames(sender)
    session_module._decode(receiver, frames)
    with pytest.raises(ValueError, match="Duplicate Signature"):  # a replayed message
        session_module._decode(receiver, frames)
    _msg, frames = _signed_frames(Session(key=b"another key"))
    with pytest.raises(ValueError, match="Invalid Signature"):
        session_module._decode(receiver, frames)
    _msg, frames = _signed_frames(sender)
    frames[frames.index(b"<IDS|MSG>") + 1] = b""
    with pytest.raises(ValueError, match="Unsigned"):
        session_module._decode(receiver, frames)
    _msg, frames = _signed_frames(sender)
    tampered = frames[:]
    content_at = frames.index(b"<IDS|MSG>") + 5
    tampered[content_at] = tampered[content_at].replace(b"1", b"2")
    with pytest.raises(ValueError, match="Invalid Signature"):
        session_module._decode(receiver, tampered)


def test_a_kernel_killed_while_its_cell_is_quiet_is_reported_dead(session):
    # The cell would sleep far past its timeout; the liveness check while it is quiet must
    # notice the death first.
    import signal

    pid = session.kernel_pid

    def kill_once_started(text: str) -> None:
        if "started" in text:
            os.kill(pid, signal.SIGKILL)

    result = session.execute("print('started', flush=True)\nimport time; time.sleep(120)",
                             timeout=100, on_stdout=kill_once_started)
    assert result.status == "died"
    assert result.restarted
    assert session.execute("1+1").success
