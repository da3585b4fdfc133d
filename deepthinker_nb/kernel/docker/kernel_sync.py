"""IPython extension, run INSIDE a mirrored Docker kernel: wait for the host around each cell.

A mirrored kernel (see ``deepthinker_nb.kernel.docker.mirror``) works in a private copy of the
user's working dir. Before and after each cell this extension connects to the Unix socket named
by ``DEEPTHINKER_SYNC_SOCKET`` (in the kernel's socket dir) and waits until the host answers,
which it does once it has reconciled the two dirs. The cell's reply is sent after
``post_run_cell``, so whoever ran the cell (our session, papermill, nbclient, a notebook UI)
finds the cell's files in the user's dir when the reply arrives, and a cell sees files the host
put there before it ran.

It is copied into the socket dir as ``dtk_sync.py`` and loaded with
``--IPKernelApp.extra_extensions=dtk_sync``, so it must import nothing from deepthinker_nb and
runs on the image's Python. When the host does not answer the cell goes on: the files then reach
the user's dir when the kernel stops.
"""

from __future__ import annotations

import os
import socket

SOCKET_ENV = "DEEPTHINKER_SYNC_SOCKET"
TIMEOUT = 300.0
"""Seconds to wait for one reconcile (it copies at most a few GB)."""

_path = os.environ.get(SOCKET_ENV, "")


def request_sync(*_event_args: object) -> None:
    """Ask the host to reconcile the working dir and wait for it to finish."""
    if not _path:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(_path)
            sock.sendall(b"sync\n")
            sock.recv(16)
    except (OSError, KeyboardInterrupt):  # an interrupt stops the wait, not the kernel
        pass


def load_ipython_extension(ip) -> None:  # type: ignore[no-untyped-def]
    ip.events.register("pre_run_cell", request_sync)
    ip.events.register("post_run_cell", request_sync)
