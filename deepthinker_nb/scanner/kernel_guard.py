"""The scanner inside the kernel: an IPython extension that refuses a blocked cell.

deepthinker-nb's own roads (sessions, the executor, the papermill engine) scan a cell before it
is sent. Kernels started from the installed kernelspecs by anything else (JupyterLab, VS Code,
``jupyter console``, plain papermill or nbclient) are checked here instead: the launcher installs
this guard as IPython's first input transformer, so every cell is scanned, in order as one
session, with the kernel's policy, before IPython compiles it. A blocked cell raises
``CellRefused``, which IPython shows as the cell's error; nothing of it runs.

The guard is a further layer, not the boundary (the sandbox is). What keeps a cell from removing
it is the scanner itself: IPython's transformer lists, ``transform_cell``, the shell's kernel and
``deepthinker_nb`` inside the kernel are interpreter tampering, which the scanner refuses.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from typing import Any

from .envindex import cached_index
from .findings import ScanReport
from .policy import ScanPolicy
from .scanner import ScanSession, SecurityScanner
from .severity import Severity


class CellRefused(Exception):
    """A cell the security scanner blocked; IPython shows it as the cell's error."""

    def __init__(self, report: ScanReport) -> None:
        self.report = report
        super().__init__(report.to_text())

    def _render_traceback_(self) -> list[str]:
        # IPython prints this instead of a Python traceback of the guard's internals.
        return ["deepthinker-nb refused this cell before running it (security scanner):",
                *("  " + line for line in self.report.to_text().splitlines())]


class KernelGuard:
    """An input transformer (IPython ``input_transformers_cleanup``) that scans each cell."""

    has_side_effects = True
    """IPython skips transformers with side effects when it only asks whether input is
    complete (``is_complete_request``): a half-typed cell is not a cell to refuse."""

    def __init__(self, policy: ScanPolicy | None = None) -> None:
        # The environment index as already built (by the client, or an earlier kernel), never
        # walked here: a walk would hold up the kernel's first cell for seconds.
        self.session: ScanSession = SecurityScanner(policy=policy,
                                                    env_index=cached_index).session()

    def __call__(self, lines: list[str]) -> list[str]:
        report = self.session.scan("".join(lines))
        if report.blocked:
            raise CellRefused(report)
        return lines


def guard_env_value(policy: ScanPolicy | None) -> str:
    """``DEEPTHINKER_GUARD`` for a kernel checked by ``policy`` (``off`` for None): the client's
    gate and the guard then judge every cell alike."""
    if policy is None:
        return "off"
    data = {f.name: getattr(policy, f.name) for f in fields(policy) if f.init}
    data["block_at"] = policy.block_at.name
    return json.dumps(data)


def policy_from_env(value: str | None) -> ScanPolicy | None:
    """The kernel's policy from ``DEEPTHINKER_GUARD``; None when the guard is off."""
    if value is None or not value.strip():
        return ScanPolicy(work_dir=os.getcwd())
    if value.strip() == "off":
        return None
    data = json.loads(value)
    if "block_at" in data:
        data["block_at"] = Severity[data["block_at"]]
    return ScanPolicy(**data)


def install(shell: Any, policy: ScanPolicy) -> KernelGuard:
    """Put a guard first among ``shell``'s input transformers, so it sees the raw cell."""
    guard = KernelGuard(policy)
    shell.input_transformers_cleanup.insert(0, guard)
    return guard


def guard_shell(shell: Any, value: str | None) -> KernelGuard | None:
    """Guard ``shell`` as the launcher's ``GUARD_ENV`` value says (once; None when off)."""
    policy = policy_from_env(value)
    if policy is None:
        return None
    for transformer in shell.input_transformers_cleanup:
        if isinstance(transformer, KernelGuard):
            return transformer
    return install(shell, policy)

