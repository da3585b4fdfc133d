"""Static security scanner for generated notebook cells (IPython-aware, alias-aware).

``SecurityScanner().scan(code)`` returns a ScanReport; ``report.blocked`` says whether the
policy stops the cell. The rule catalogue is ``RULES``; docs/security-rules.md is built from it.
"""

from .findings import Finding, ScanReport, SecurityError, sarif_log
from .policy import ScanPolicy
from .rules import RULES, Rule, catalogue_markdown
from .scanner import CellReport, ScanSession, SecurityScanner, split_py_cells
from .severity import Severity

__all__ = [
    "RULES",
    "CellReport",
    "Finding",
    "Rule",
    "ScanPolicy",
    "ScanReport",
    "ScanSession",
    "SecurityError",
    "SecurityScanner",
    "Severity",
    "catalogue_markdown",
    "sarif_log",
    "split_py_cells",
]
