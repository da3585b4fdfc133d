"""The host end of a mirrored kernel's sync requests: a Unix socket in the kernel's socket dir.

A mirror (:mod:`.mirror`) is only as current as its last reconcile, and the host cannot tell
when a cell ends early enough: the caller may be papermill or a notebook UI, not our session,
and it may read the cell's files the moment the reply arrives. So the kernel asks, before and
after each cell (:mod:`.kernel_sync`), and waits for the answer; this thread answers each
request once the mirror is reconciled, and the cell's reply leaves the kernel only afterwards.

The kernel is untrusted: a request carries no data (whatever it sends is ignored), requests are
served one at a time, and after a reconcile that took ``t`` seconds the next one waits ``t``, so
a kernel asking in a loop gets at most half of one host thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("deepthinker_nb.docker")

SOCKET_NAME = "sync"
MODULE_NAME = "dtk_sync"
"""The in-kernel extension's module name (``kernel_sync.py`` copied into the socket dir)."""
EXTENSION_ARG = f"--IPKernelApp.extra_extensions={MODULE_NAME}"
_REQUEST_TIMEOUT = 5.0


def install_extension(sockdir: Path) -> Path:
    """Copy the in-kernel extension into ``sockdir`` (on the kernel's PYTHONPATH)."""
    target = sockdir / f"{MODULE_NAME}.py"
    with contextlib.suppress(FileNotFoundError):
        target.unlink()  # the kernel owns the dir and may have left something there
    shutil.copyfile(Path(__file__).with_name("kernel_sync.py"), target)
    os.chmod(target, 0o644)
    return target


class SyncPoint:
    """Serve sync requests on ``sockdir/sync`` by calling ``handler`` (one at a time)."""

    def __init__(self, sockdir: Path, handler: Callable[[], None],
                 owner: tuple[int, int] | None = None) -> None:
        self.path = sockdir / SOCKET_NAME
        self.handler = handler
        self.owner = owner
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SyncPoint:
        if self.running:
            return self
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            if self.owner is not None and os.geteuid() == 0:
                os.chown(self.path, *self.owner, follow_symlinks=False)  # to connect, it writes
            sock.listen(4)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="dtk-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            sock.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _serve(self) -> None:
        sock = self._sock
        pause = 0.0
        while sock is not None and self._sock is sock:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # stopped
            with conn:
                time.sleep(pause)
                began = time.monotonic()
                try:
                    conn.settimeout(_REQUEST_TIMEOUT)
                    conn.recv(64)
                except OSError:
                    continue  # the kernel gave up (interrupted, or died)
                reply = b"ok\n"
                try:
                    self.handler()
                except Exception:
                    log.exception("reconciling a mirrored working dir failed")
                    reply = b"error\n"
                with contextlib.suppress(OSError):
                    conn.sendall(reply)
                pause = time.monotonic() - began
