"""The one place every cell passes before it is sent to a kernel.

Sessions, the executor and the papermill engine all call ``ScanGate.check``; keeping it in one
place is what makes "a blocked cell never reaches the kernel" true on every road. It fails closed:
if the scanner itself cannot run, the cell does not run either.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("deepthinker_nb.gate")


class ScanGate:
    """Scan a cell and say whether it may be sent.

    ``enabled=False`` is an explicit opt-out; it is logged once per gate so it never happens
    silently.
    """

    def __init__(self, enabled: bool = True, policy: Any = None, scanner: Any = None) -> None:
        self.enabled = enabled
        self.policy = policy
        self._scanner = scanner
        if not enabled:
            log.warning("security scanning is DISABLED for this session (explicit opt-out)")

    @property
    def scanner(self) -> Any:
        if self._scanner is None:
            from deepthinker_nb.scanner import SecurityScanner

            self._scanner = SecurityScanner(policy=self.policy)
        return self._scanner

    def check(self, code: str) -> Any:
        """The ScanReport of ``code`` (``report.blocked`` means: do not send), or None when off."""
        if not self.enabled:
            return None
        return self.scanner.scan(code)

    def __repr__(self) -> str:
        return f"ScanGate(enabled={self.enabled}, policy={self.policy!r})"
