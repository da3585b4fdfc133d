"""Start ipykernel with a per-cell output budget.

A cell that prints gigabytes must not flood the client: ipykernel batches a stream into one
message per flush, so ``print("x" * 10**8)`` would arrive as a single 100 MB message. This
launcher caps what each stream of each cell may send (``DEEPTHINKER_OUTPUT_LIMIT`` bytes, default
4 MiB) and, when the cell ends, says how much it dropped.

It must stay a single file that imports nothing from deepthinker_nb: the Docker image copies it in
as the module ``deepthinker_nb_launcher``.
"""

from __future__ import annotations

import os
import sys

LIMIT_ENV = "DEEPTHINKER_OUTPUT_LIMIT"
UMASK_ENV = "DEEPTHINKER_UMASK"
RLIMITS_ENV = "DEEPTHINKER_RLIMITS"
PARENT_WATCH_ENV = "DEEPTHINKER_PARENT_WATCH"
DEFAULT_LIMIT = 4 * 1024 * 1024
MARKER = "\n[deepthinker-nb: {dropped} more characters of {name} dropped by the output limit]\n"


def _install_output_budget(limit: int) -> None:
    from ipykernel.iostream import OutStream

    original_write = OutStream.write
    state: dict[tuple[str, str], list[int]] = {}  # (stream, msg_id) -> [sent, dropped]

    def capped_write(self, string):  # type: ignore[no-untyped-def]
        if not isinstance(string, str):
            return original_write(self, string)
        msg_id = self.parent_header.get("msg_id", "")
        key = (self.name, msg_id)
        counters = state.get(key)
        if counters is None:
            # A new request: forget the counters of finished ones.
            for old in [k for k in state if k[0] == self.name and k[1] != msg_id]:
                state.pop(old, None)
            counters = state[key] = [0, 0]
        room = limit - counters[0]
        if len(string) <= room:
            counters[0] += len(string)
            return original_write(self, string)
        if room > 0:
            original_write(self, string[:room])
            counters[0] = limit
        counters[1] += len(string) - max(room, 0)
        return len(string)

    def report_dropped(*_args):  # type: ignore[no-untyped-def]
        for (name, _msg_id), (_sent, dropped) in list(state.items()):
            if dropped:
                stream = sys.stdout if name == "stdout" else sys.stderr
                original_write(stream, MARKER.format(dropped=dropped, name=name))
        state.clear()

    OutStream.write = capped_write  # type: ignore[method-assign]
    _install_output_budget.report_dropped = report_dropped  # type: ignore[attr-defined]


def _register_post_execute(app) -> None:  # type: ignore[no-untyped-def]
    report = getattr(_install_output_budget, "report_dropped", None)
    shell = getattr(getattr(app, "kernel", None), "shell", None)
    if report is not None and shell is not None:
        shell.events.register("post_execute", report)


def _apply_rlimits(encoded: str) -> None:
    """``RLIMIT_AS=...,RLIMIT_CPU=...``: lower soft and hard limits before ipykernel starts, so
    every child inherits them (never above a hard limit the process already has)."""
    import resource

    for part in filter(None, encoded.split(",")):
        name, _, raw = part.partition("=")
        rlimit = getattr(resource, name, None)
        if rlimit is None or not raw.isdigit():
            continue
        value = int(raw)
        hard = resource.getrlimit(rlimit)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # For CPU time a hard limit one second above the soft one lets SIGXCPU arrive first,
        # so the death is reported as a CPU limit rather than an anonymous SIGKILL.
        soft_hard = (value, value + 1) if name == "RLIMIT_CPU" else (value, value)
        if hard != resource.RLIM_INFINITY:
            soft_hard = (min(soft_hard[0], hard), min(soft_hard[1], hard))
        resource.setrlimit(rlimit, soft_hard)


def _watch_parent(interval: float = 0.5) -> None:
    """When the host process dies, take the whole process group (the kernel and everything it
    started) down with it; ipykernel alone would exit but leave its children running."""
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="deepthinker-parent-watch", daemon=True).start()


def main() -> None:
    if os.environ.get(RLIMITS_ENV):
        _apply_rlimits(os.environ[RLIMITS_ENV])
    if os.environ.get(PARENT_WATCH_ENV) == "1":
        _watch_parent()
    if UMASK_ENV in os.environ:
        os.umask(int(os.environ[UMASK_ENV], 8))
    try:
        limit = int(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT))
    except ValueError:
        limit = DEFAULT_LIMIT
    if limit > 0:
        _install_output_budget(limit)

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize()
    _register_post_execute(app)
    app.start()


if __name__ == "__main__":
    main()
