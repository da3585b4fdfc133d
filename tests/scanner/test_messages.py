"""Findings read as sentences: messages built from table phrases keep their grammar."""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import RULES, SecurityScanner
from deepthinker_nb.scanner.tables import EXACT, IMPORT_FLAG, METHOD_SINKS, PREFIX

from .corpus_loader import load

SCANNER = SecurityScanner()
_VERBS = {d.what.split(" ", 1)[0] for d in (*EXACT.values(), *PREFIX.values(),
                                             *IMPORT_FLAG.values(), *METHOD_SINKS.values())}


@pytest.mark.parametrize("module", sorted(IMPORT_FLAG))
def test_an_import_finding_says_what_the_module_does(module):
    danger = IMPORT_FLAG[module]
    messages = [f.message for f in SCANNER.scan(f"import {module}").findings]
    expected = danger.what if danger.what.startswith("imports ") else (
        f"imports {module}, which {danger.what}")
    assert expected in messages, messages


def test_import_messages_read_well():
    assert SCANNER.scan("import subprocess").findings[0].message == (
        "imports subprocess, which starts a subprocess")
    assert SCANNER.scan("import socket").findings[0].message == (
        "imports socket, which opens a network connection")
    assert SCANNER.scan("import builtins").findings[0].message == "imports the builtins module"


def test_path_reasons_are_noun_phrases_after_a_verb():
    assert SCANNER.scan("open('../secret.txt')").findings[0].message == (
        "open() accesses path '../secret.txt' outside the working directory")
    report = SCANNER.scan("%%writefile ../escape.txt\nx = 1\n")
    expected = ("%%writefile ../escape.txt writes to path '../escape.txt' outside the working "
                "directory")
    assert expected in [f.message for f in report.findings]


def test_no_message_doubles_the_ending_of_a_table_verb():
    cells = [c.code for c in load("dangerous") + load("harmless")]
    cells += [r.example for r in RULES.values()] + [f"import {m}" for m in IMPORT_FLAG]
    doubled = {verb + "s" for verb in _VERBS if verb.endswith("s")}
    bad = set()
    for code in cells:
        for finding in SCANNER.scan(code).findings:
            words = set(finding.message.replace(",", " ").split())
            bad |= {finding.message for w in words if w in doubled}
    assert not bad, sorted(bad)
