"""The one place every cell passes before it is sent to a kernel.

Sessions, the executor and the papermill engine all call ``ScanGate.check``; keeping it in one
place is what makes "a blocked cell never reaches the kernel" true on every road. It fails closed:
if the scanner itself cannot run, the cell does not run either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepthinker_nb.kernel.backend import DEFAULT_POLICY

if TYPE_CHECKING:
    from deepthinker_nb.scanner import ScanPolicy, SecurityScanner

log = logging.getLogger("deepthinker_nb.gate")
_warned = False


class ScanGate:
    """Scan a cell and say whether it may be sent.

    ``enabled=False`` is an explicit opt-out. It is logged (a warning the first time in a
    process, then at info level) so it never happens silently; ``reason`` says why in the log.
    :meth:`for_own_code` is the one unlogged way: for code this package wrote itself.
    """

    def __init__(
        self, enabled: bool = True, policy: ScanPolicy | None = None,
        scanner: SecurityScanner | None = None, reason: str = "",
    ) -> None:
        global _warned
        self.enabled = enabled
        self.policy = policy
        self._scanner = scanner
        self._session: Any = None
        if not enabled:
            level = logging.INFO if _warned else logging.WARNING
            _warned = True
            log.log(level, "security scanning is DISABLED (explicit opt-out)%s",
                    f": {reason}" if reason else "")

    @classmethod
    def for_own_code(cls) -> ScanGate:
        """A gate that lets through code this package wrote (a pool's preload imports), which
        is no user's opt-out and so is not logged as one."""
        gate = cls.__new__(cls)
        gate.enabled, gate.policy, gate._scanner, gate._session = False, None, None, None
        return gate

    @property
    def scanner(self) -> Any:
        if self._scanner is None:
            from deepthinker_nb.scanner import SecurityScanner

            self._scanner = SecurityScanner(policy=self.policy)
        return self._scanner

    def bind(self, workdir: Path, data_dirs: Sequence[Path] = ()) -> None:
        """Adopt a kernel's working and data dirs as the places file access may reach, unless
        the caller gave a policy or scanner of its own."""
        if self.policy is not None or self._scanner is not None:
            return
        from deepthinker_nb.scanner import ScanPolicy

        self.policy = ScanPolicy(work_dir=str(workdir), data_dirs=tuple(map(str, data_dirs)))
        self._session = None

    def kernel_policy(self) -> Any:
        """The policy for the scanner inside the kernel: this gate's, so both judge a cell
        alike; None when scanning is off; the standard one for a gate with its own scanner."""
        if not self.enabled:
            return None
        if self.policy is not None:
            return self.policy
        return getattr(self._scanner, "policy", None) or DEFAULT_POLICY

    def reset(self) -> None:
        """Forget what earlier cells bound: the kernel restarted, so those names are gone."""
        self._session = None

    def check(self, code: str) -> Any:
        """The ScanReport of ``code`` (``report.blocked`` means: do not send), or None when off.

        Cells are scanned in order as one session, so an alias made in one cell
        (``run = os.system``) is still known when a later cell calls it.
        """
        if not self.enabled:
            return None
        try:
            if self._session is None:
                self._session = self.scanner.session()
            return self._session.scan(code)
        except Exception as exc:  # a scanner of the caller's that raises: fail closed
            from deepthinker_nb.scanner import Finding, ScanReport, Severity

            return ScanReport([Finding("scanner-error", Severity.CRITICAL,
                                       f"the scanner failed ({type(exc).__name__}: {exc}); "
                                       "the cell was not run")], source=code)

    def __repr__(self) -> str:
        return f"ScanGate(enabled={self.enabled}, policy={self.policy!r})"
