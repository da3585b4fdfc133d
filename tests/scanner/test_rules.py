"""Every rule in the catalogue is documented, has an example, and its example triggers it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepthinker_nb.scanner import RULES, SecurityScanner, Severity
from deepthinker_nb.scanner import rules as rules_module
from deepthinker_nb.scanner.rules import catalogue_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "security-rules.md"
SCANNER = SecurityScanner()


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_title_reason_and_example(rule_id):
    rule = RULES[rule_id]
    assert rule.id == rule_id
    assert isinstance(rule.severity, Severity)
    assert rule.title and rule.why
    assert rule.example.strip(), f"rule {rule_id} has no example"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_example_triggers_that_rule(rule_id):
    report = SCANNER.scan(RULES[rule_id].example)
    assert rule_id in report.rule_ids, report.to_text(rule_id)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_example_is_blocked_at_its_catalogue_severity(rule_id):
    rule = RULES[rule_id]
    report = SCANNER.scan(rule.example)
    worst = max(f.severity for f in report.findings if f.rule_id == rule_id)
    assert worst >= rule.severity


def test_committed_rule_doc_matches_the_catalogue():
    text = DOC.read_text(encoding="utf-8")
    assert catalogue_markdown() in text, (
        "docs/security-rules.md is stale: regenerate the table with "
        "deepthinker_nb.scanner.rules.catalogue_markdown()")


def test_every_rule_id_the_scanner_emits_is_in_the_catalogue():
    source = "".join(path.read_text() for path in Path(rules_module.__file__).parent.glob(
        "*.py") if path.name != "rules.py")
    emitted = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)", [CHMLS]', source))
    emitted |= set(re.findall(r'Danger\("([a-z-]+)"', source))
    assert emitted, "pattern broke"
    assert emitted <= set(RULES), emitted - set(RULES)
