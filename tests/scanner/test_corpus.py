"""The labelled corpus: detection >= 97 % of dangerous cells, false positives <= 3 %."""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import SecurityScanner

from .corpus_loader import load

DANGEROUS = load("dangerous")
HARMLESS = load("harmless")
SCANNER = SecurityScanner()


def test_corpus_is_big_enough_and_ids_are_unique():
    assert len(DANGEROUS) >= 150
    assert len(HARMLESS) >= 150
    keys = [c.key for c in DANGEROUS + HARMLESS]
    assert len(keys) == len(set(keys))


def test_detection_rate_is_at_least_97_percent_and_false_positives_at_most_3_percent():
    missed = [c.key for c in DANGEROUS if not SCANNER.scan(c.code).blocked]
    false_pos = [(c.key, [f.rule_id for f in SCANNER.scan(c.code).at_or_above("high")])
                 for c in HARMLESS if SCANNER.scan(c.code).blocked]
    detection = 1 - len(missed) / len(DANGEROUS)
    fp_rate = len(false_pos) / len(HARMLESS)
    print(f"\ncorpus: {len(DANGEROUS)} dangerous, {len(HARMLESS)} harmless")
    print(f"detection rate: {detection:.1%}  missed: {missed}")
    print(f"false-positive rate: {fp_rate:.1%}  false positives: {false_pos}")
    assert detection >= 0.97, missed
    assert fp_rate <= 0.03, false_pos


@pytest.mark.parametrize("case", DANGEROUS, ids=lambda c: c.key)
def test_dangerous_cell_is_blocked(case):
    report = SCANNER.scan(case.code)
    assert report.blocked, report.to_text(case.key)


@pytest.mark.parametrize("case", HARMLESS, ids=lambda c: c.key)
def test_harmless_cell_is_not_blocked(case):
    report = SCANNER.scan(case.code)
    assert not report.blocked, report.to_text(case.key)
