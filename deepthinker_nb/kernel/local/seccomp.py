"""A seccomp filter for sandboxed local kernels: no ``fallocate``.

The disk budget (``kernel/disk.py``) is measured from the host between polls. Writing data
costs time, so a cell is stopped soon after it passes its budget; ``fallocate`` does not: one
call reserves gigabytes at once, and a loop of them could fill the host's disk between two polls.
The filter makes ``fallocate`` fail with ``EOPNOTSUPP``, the answer of a file system without it,
on which glibc's ``posix_fallocate`` (and so ``os.posix_fallocate``) falls back to writing one
byte per block: space is still reserved, at the pace of writes the budget can follow.

The program is classic BPF, written out here (no libseccomp needed) and handed to bubblewrap
with ``--seccomp FD``. Architectures without an entry get no filter.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_X32_BIT = 0x40000000

# machine -> (AUDIT_ARCH_*, fallocate's syscall numbers on it)
_ARCHES: dict[str, tuple[int, tuple[int, ...]]] = {
    "x86_64": (0xC000003E, (285, 285 | _X32_BIT)),
    "aarch64": (0xC00000B7, (47,)),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def deny_fallocate_program(machine: str | None = None) -> bytes | None:
    """The filter for ``machine`` (default: this one), or None where we have no table.

    A process of another architecture (a 32-bit binary) is killed: the filter cannot judge
    its syscall numbers, and nothing a kernel needs runs that way.
    """
    entry = _ARCHES.get(machine or platform.machine())
    if entry is None:
        return None
    arch, numbers = entry
    n = len(numbers)
    program = [
        _insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ_K, 1, 0, arch),
        _insn(_RET_K, 0, 0, 0),  # SECCOMP_RET_KILL_THREAD
        _insn(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    for i, number in enumerate(numbers):
        # jump to the errno return (just past the allow) on a match
        program.append(_insn(_JEQ_K, n - i, 0, number))
    program.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    program.append(_insn(_RET_K, 0, 0, _RET_ERRNO | errno.EOPNOTSUPP))
    return b"".join(program)
