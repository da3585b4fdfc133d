"""The labelled corpus: detection >= 97 % of dangerous cells, false positives <= 3 %; the
cells caught only through the environment index (``env_dangerous``); and the coder corpus,
judged with the workflow's coder policy (public datasets refused)."""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import ScanPolicy, SecurityScanner
from deepthinker_nb.scanner.envindex import EnvIndex

from .corpus_loader import load

DANGEROUS = load("dangerous")
HARMLESS = load("harmless")
SCANNER = SecurityScanner()
ENV_DANGEROUS = load("env_dangerous")
WITHOUT_INDEX = SecurityScanner(env_index=EnvIndex({}))
CODER_REFUSED = load("coder_dangerous")
CODER_ALLOWED = load("coder_harmless")
CODER = SecurityScanner(ScanPolicy.coder())


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


def test_the_coder_corpus_is_there_and_its_ids_are_unique():
    assert len(CODER_REFUSED) >= 10 and len(CODER_ALLOWED) >= 5
    keys = [c.key for c in CODER_REFUSED + CODER_ALLOWED]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("case", CODER_REFUSED, ids=lambda c: c.key)
def test_coder_cell_loading_a_public_dataset_is_blocked(case):
    report = CODER.scan(case.code)
    assert report.blocked and "public-dataset" in report.rule_ids, report.to_text(case.key)


@pytest.mark.parametrize("case", CODER_ALLOWED, ids=lambda c: c.key)
def test_coder_cell_using_its_own_data_is_not_blocked(case):
    report = CODER.scan(case.code)
    assert not report.blocked, report.to_text(case.key)


@pytest.mark.parametrize("case", ENV_DANGEROUS, ids=lambda c: c.key)
def test_cell_using_an_installed_helper_is_blocked_through_the_environment_index(case):
    assert SCANNER.scan(case.code).blocked, SCANNER.scan(case.code).to_text(case.key)
    assert not WITHOUT_INDEX.scan(case.code).blocked, "belongs in corpus/dangerous"


def test_the_dangerous_corpus_is_blocked_by_the_hand_written_rules_alone():
    """The dangerous corpus is what every scanner blocks, one without an index too (a kernel's
    guard in an environment nobody indexed): index-only cells live in env_dangerous."""
    missed = [c.key for c in DANGEROUS if not WITHOUT_INDEX.scan(c.code).blocked]
    assert missed == []
