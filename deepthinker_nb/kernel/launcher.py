"""Start ipykernel with a per-cell output budget.

A cell that prints gigabytes must not flood the client: ipykernel batches a stream into one
message per flush, so ``print("x" * 10**8)`` would arrive as a single 100 MB message. This
launcher caps what each stream of each cell may send (``DEEPTHINKER_OUTPUT_LIMIT`` bytes, default
4 MiB) and, when the cell ends, says how much it dropped.

It runs in the kernel's Python (the host's venv, or the Docker image's with the host's package
mounted read-only), so it imports nothing from deepthinker_nb before ipykernel starts, except
the scanner it installs as the kernel's guard.
"""

from __future__ import annotations

import os
import sys

# The environment a provisioner gives the launcher: defined here only, imported by them.
LIMIT_ENV = "DEEPTHINKER_OUTPUT_LIMIT"
UMASK_ENV = "DEEPTHINKER_UMASK"
RLIMITS_ENV = "DEEPTHINKER_RLIMITS"
PARENT_WATCH_ENV = "DEEPTHINKER_PARENT_WATCH"
FS_JAIL_ENV = "DEEPTHINKER_FS_JAIL"
GUARD_ENV = "DEEPTHINKER_GUARD"
SECCOMP_ENV = "DEEPTHINKER_SECCOMP"
GUARD_FAILED_EXIT = 71
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


def _landlock_jail(read: list[str], write: list[str]) -> str:
    """Restrict this process and its children to reading ``read`` and writing ``write`` paths
    (Linux Landlock, unprivileged, also binding root). Returns "" or why it was not applied."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    nr_create, nr_add, nr_restrict = 444, 445, 446  # same numbers on x86_64 and aarch64
    abi = libc.syscall(nr_create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return f"Landlock unavailable ({os.strerror(ctypes.get_errno())})"
    execute, write_file, read_file, read_dir = 1, 1 << 1, 1 << 2, 1 << 3
    handled = (1 << 13) - 1  # every right of ABI 1
    if abi >= 2:
        handled |= 1 << 13  # REFER
    if abi >= 3:
        handled |= 1 << 14  # TRUNCATE
    file_rights = execute | write_file | read_file | (1 << 14 if abi >= 3 else 0)
    reading = execute | read_file | read_dir
    attr = ctypes.create_string_buffer(struct.pack("=Q", handled))
    ruleset = libc.syscall(nr_create, attr, ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"Landlock ruleset refused ({os.strerror(ctypes.get_errno())})"
    try:
        for paths, rights in ((read, reading), (write, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # a path that does not exist needs no rule
                try:
                    allowed = rights if os.path.isdir(path) else rights & file_rights
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd))
                    if libc.syscall(nr_add, ruleset, 1, rule, ctypes.c_uint32(0)) != 0:
                        return f"Landlock rule for {path} refused " \
                               f"({os.strerror(ctypes.get_errno())})"
                finally:
                    os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return "no_new_privs refused"
        if libc.syscall(nr_restrict, ruleset, ctypes.c_uint32(0)) != 0:
            return f"Landlock restrict refused ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return ""


def _apply_fs_jail(encoded: str) -> None:
    import json

    spec = json.loads(encoded)
    why_not = _landlock_jail(list(spec.get("read", ())), list(spec.get("write", ())))
    if why_not:
        if spec.get("required"):
            sys.stderr.write(f"deepthinker-nb: file-system jail required but {why_not}\n")
            sys.exit(70)
        sys.stderr.write(f"deepthinker-nb: running without a file-system jail: {why_not}\n")


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


def _install_guard(app, value: str) -> None:  # type: ignore[no-untyped-def]
    """The security scanner inside the kernel (deepthinker_nb.scanner.kernel_guard). It fails
    closed: a kernel that was asked for a guard and cannot load it does not start."""
    try:
        from deepthinker_nb.scanner.kernel_guard import guard_shell

        guard_shell(app.shell, value)
    except Exception as exc:
        sys.__stderr__.write(f"deepthinker-nb: the in-kernel security scanner did not load "
                         f"({type(exc).__name__}: {exc}); the kernel refuses to start\n")
        sys.exit(GUARD_FAILED_EXIT)


def _apply_seccomp() -> None:
    """No fallocate, no io_uring (deepthinker_nb.kernel.seccomp), for the kernel and all it
    starts. Fails closed: a kernel asked for the filter does not run without it."""
    try:
        from deepthinker_nb.kernel.seccomp import install_filter

        why_not = install_filter()
    except Exception as exc:
        why_not = f"{type(exc).__name__}: {exc}"
    if why_not:
        sys.stderr.write(f"deepthinker-nb: seccomp filter not applied ({why_not}); "
                         "the kernel refuses to start\n")
        sys.exit(GUARD_FAILED_EXIT)


def main() -> None:
    if os.environ.get(RLIMITS_ENV):
        _apply_rlimits(os.environ[RLIMITS_ENV])
    if os.environ.get(PARENT_WATCH_ENV) == "1":
        _watch_parent()
    if os.environ.get(FS_JAIL_ENV):
        _apply_fs_jail(os.environ.pop(FS_JAIL_ENV))
    if os.environ.pop(SECCOMP_ENV, "") == "1":
        _apply_seccomp()
    if UMASK_ENV in os.environ:
        os.umask(int(os.environ[UMASK_ENV], 8))
    try:
        limit = int(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT))
    except ValueError:
        limit = DEFAULT_LIMIT
    if limit > 0:
        _install_output_budget(limit)

    from ipykernel.kernelapp import IPKernelApp

    guard = os.environ.pop(GUARD_ENV, None)
    app = IPKernelApp.instance()
    app.initialize()
    if guard is not None:
        _install_guard(app, guard)
    _register_post_execute(app)
    app.start()


if __name__ == "__main__":
    main()
