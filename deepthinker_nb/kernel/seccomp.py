"""A seccomp filter for every kernel: no ``fallocate``, no io_uring.

The disk budget (``kernel/disk.py``) is measured from the host between polls. Writing data
costs time, so a cell is stopped soon after it passes its budget; ``fallocate`` does not: one
call reserves gigabytes at once, and a loop of them could fill the host's disk between two polls.
The filter makes ``fallocate`` fail with ``EOPNOTSUPP``, the answer of a file system without it,
on which glibc's ``posix_fallocate`` (and so ``os.posix_fallocate``) falls back to writing one
byte per block: space is still reserved, at the pace of writes the budget can follow.

io_uring runs file operations (a fallocate among them) in the Linux kernel on the process's
behalf, where a seccomp filter never sees them, and has been the way in for many privilege
escalations; Docker's default profile refuses it too. Its three syscalls fail with ``ENOSYS``,
so libraries fall back to ordinary calls.

The program is classic BPF, written out here (no libseccomp needed). The kernel's launcher
installs it on itself before ipykernel starts (``launcher.SECCOMP_ENV``, set by
``seccomp_switch``), so every process of the kernel inherits it and none can remove it; seccomp
filters stack, so in a container it comes on top of the engine's own profile. Architectures
without an entry get no filter.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_X32_BIT = 0x40000000

_IO_URING = (425, 426, 427)  # io_uring_setup, _enter, _register: the same on both
# machine -> (AUDIT_ARCH_*, fallocate's syscall numbers on it, io_uring's)
_ARCHES: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {
    "x86_64": (0xC000003E, (285, 285 | _X32_BIT),
               (*_IO_URING, *(n | _X32_BIT for n in _IO_URING))),
    "aarch64": (0xC00000B7, (47,), _IO_URING),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def sandbox_filter(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one), or None where we have no table.

    A process of another architecture (a 32-bit binary) is killed: the filter cannot judge
    its syscall numbers, and nothing a kernel needs runs that way.
    """
    entry = _ARCHES.get(machine or platform.machine())
    if entry is None:
        return None
    arch, fallocate, io_uring = entry
    numbers = [(n, errno.EOPNOTSUPP) for n in fallocate] + [(n, errno.ENOSYS) for n in io_uring]
    program = [
        _insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ_K, 1, 0, arch),
        _insn(_RET_K, 0, 0, 0),  # SECCOMP_RET_KILL_THREAD
        _insn(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    for number, err in numbers:  # on a match: the next instruction, an errno; else skip it
        program.append(_insn(_JEQ_K, 0, 1, number))
        program.append(_insn(_RET_K, 0, 0, _RET_ERRNO | err))
    program.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(program)


def install_filter() -> str:
    """Apply ``sandbox_filter()`` to this process (and so to all it starts). Returns "" or why
    not. Needs no privilege: ``no_new_privs`` is set first, as seccomp requires."""
    program = sandbox_filter()
    if program is None:
        return f"no seccomp filter for {platform.machine()}"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return f"no_new_privs refused ({errno.errorcode.get(ctypes.get_errno(), '?')})"
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = ctypes.create_string_buffer(
        struct.pack("=H6xQ", len(program) // 8, ctypes.addressof(buffer)))
    if libc.prctl(22, 2, fprog, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        return f"seccomp filter refused ({errno.errorcode.get(ctypes.get_errno(), '?')})"
    return ""


def seccomp_switch(wanted: bool = True) -> str:
    """The launcher's ``SECCOMP_ENV`` value: ``1`` where wanted and this machine has a filter."""
    return "1" if wanted and sandbox_filter() is not None else "0"
