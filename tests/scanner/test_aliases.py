"""The original DeepThinker's scanner names still work, so ported code runs unchanged."""

from __future__ import annotations

import pytest

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.scanner import ScanPolicy, ScanReport, SecurityScanner, Severity

DANGEROUS = "import os\nos.system('id')\n"
SAFE = "import pandas as pd\nx = 1 + 1\n"


def test_scan_code_is_scan():
    scanner = SecurityScanner()
    report = scanner.scan_code(DANGEROUS)
    assert isinstance(report, ScanReport)
    assert report.rule_ids == scanner.scan(DANGEROUS).rule_ids == {"shell-command"}


def test_is_safe_means_nothing_at_or_above_the_blocking_severity():
    scanner = SecurityScanner()
    assert scanner.is_safe(SAFE) is True
    assert scanner.is_safe(DANGEROUS) is False
    medium = "%env OMP_NUM_THREADS=2\n"  # a finding, but below the default block_at (high)
    assert scanner.scan(medium).findings and scanner.is_safe(medium) is True
    assert SecurityScanner(ScanPolicy(block_at=Severity.MEDIUM)).is_safe(medium) is False


def test_get_report_renders_the_last_scan_as_text():
    scanner = SecurityScanner()
    scanner.scan(DANGEROUS)
    text = scanner.get_report()
    assert text.splitlines()[0].startswith("cell:2:1: critical shell-command: ")
    assert text.splitlines()[-1].startswith("cell: BLOCKED (1 finding(s)")
    scanner.is_safe(SAFE)
    assert scanner.get_report() == "cell: clean"


def test_get_report_renders_a_given_report_or_list_of_findings():
    scanner = SecurityScanner()
    dangerous = scanner.scan(DANGEROUS)
    scanner.scan(SAFE)
    assert scanner.get_report(dangerous) == dangerous.to_text()
    assert scanner.get_report(list(dangerous)) == dangerous.to_text()
    assert scanner.get_report([]) == "cell: clean"


def test_get_report_before_any_scan_says_what_to_do():
    with pytest.raises(DeepThinkerError, match="nothing scanned yet"):
        SecurityScanner().get_report()
