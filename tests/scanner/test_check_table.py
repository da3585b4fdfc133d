"""The check tables (scanner/checks.py) agree with the rule catalogue and with the code.

Importing checks.py already validates the tables against the catalogue; these tests show that the
validation catches each kind of mismatch, and read the checks' source to make sure every table
entry declares exactly the rules its code reports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deepthinker_nb.scanner import RULES, Severity
from deepthinker_nb.scanner.checks import (
    CALL_CHECKS,
    DANGER_RULES,
    METHOD_CHECKS,
    NODE_CHECKS,
    PRODUCED_ELSEWHERE,
    TABLE_DANGERS,
    CallCheck,
    Check,
    CheckTableError,
    validate_check_tables,
)
from deepthinker_nb.scanner.tables import Danger

SCANNER_DIR = Path(__file__).resolve().parents[2] / "deepthinker_nb" / "scanner"
# The modules whose functions checks run (directly or through helpers).
CHECK_MODULES = ("checks", "code_checks", "file_checks", "runtime_checks", "magics", "pathflow",
                 "dangers", "astnodes", "visitor")
TABLES = {"CALL_CHECKS": CALL_CHECKS, "METHOD_CHECKS": METHOD_CHECKS, "NODE_CHECKS": NODE_CHECKS}


def _validate(tables=TABLES, dangers=TABLE_DANGERS, call_checks=CALL_CHECKS,
              elsewhere=PRODUCED_ELSEWHERE, catalogue=RULES) -> None:
    validate_check_tables(catalogue, tables, dangers, call_checks, elsewhere)


def test_the_real_tables_pass():
    _validate()


def test_a_check_naming_an_unknown_rule_fails():
    bad = {**NODE_CHECKS, "typo": Check(len, frozenset({"shel-command"}))}
    with pytest.raises(CheckTableError, match=r"NODE_CHECKS\['typo'\] names rules not in the "
                                              r"catalogue: \['shel-command'\]"):
        _validate(tables={**TABLES, "NODE_CHECKS": bad})


def test_a_danger_naming_an_unknown_check_fails():
    danger = Danger("dynamic-code", Severity.HIGH, "runs code", check="evaluate")
    with pytest.raises(CheckTableError, match="names a check CALL_CHECKS does not have"):
        _validate(dangers=(*TABLE_DANGERS, danger))


def test_a_danger_whose_check_does_not_report_its_rule_fails():
    danger = Danger("network", Severity.HIGH, "connects", check="yaml_load")
    with pytest.raises(CheckTableError, match="has a rule its check does not report"):
        _validate(dangers=(*TABLE_DANGERS, danger))


def test_a_call_check_no_danger_names_fails():
    unused = {**CALL_CHECKS, "orphan": CallCheck(len, frozenset({"network"}))}
    with pytest.raises(CheckTableError, match=r"CALL_CHECKS\['orphan'\] is named by no Danger"):
        _validate(tables={**TABLES, "CALL_CHECKS": unused}, call_checks=unused)


def test_a_catalogue_rule_nothing_produces_fails():
    without = {key: check for key, check in NODE_CHECKS.items() if key != "lookalikes"}
    with pytest.raises(CheckTableError, match=r"no check produces: \['unicode-lookalike'\]"):
        _validate(tables={**TABLES, "NODE_CHECKS": without})
    with pytest.raises(CheckTableError, match=r"no check produces: \['syntax-error'\]"):
        _validate(elsewhere={"scanner-error": "scanner.py"})


def test_produced_elsewhere_must_name_catalogue_rules():
    with pytest.raises(CheckTableError, match="PRODUCED_ELSEWHERE names 'parse-error'"):
        _validate(elsewhere={**PRODUCED_ELSEWHERE, "parse-error": "scanner.py"})


def test_the_rules_produced_elsewhere_are_the_scanners_own():
    source = (SCANNER_DIR / "scanner.py").read_text()
    for rule in PRODUCED_ELSEWHERE:
        assert f'"{rule}"' in source


def test_every_danger_of_the_tables_is_judged_or_flagged_under_a_catalogue_rule():
    for danger in TABLE_DANGERS:
        assert danger.rule in RULES
        assert danger.check is None or danger.check in CALL_CHECKS


# -- the declared rules are the rules the code reports ------------------------------------------
class _Function:
    def __init__(self, node: ast.FunctionDef) -> None:
        self.node = node
        self.rules: set[str] = set()
        self.dynamic = False  # reports a rule computed at run time (a Danger's, a payload's)
        self.calls: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                self._read_call(sub)

    def _read_call(self, call: ast.Call) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in ("report", "_add"):
            index = 1 if func.attr == "report" else 0
            if len(call.args) > index:
                self._read_rule(call.args[index])
            return  # the reporting itself, where every rule passes
        if isinstance(func, ast.Name) and func.id in ("Finding", "Danger") and call.args:
            self._read_rule(call.args[0])
        if isinstance(func, ast.Name):
            self.calls.add(func.id)
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and func.value.id in ("visitor", "self")):
            self.calls.add(f"CellVisitor.{func.attr}")

    def _read_rule(self, arg: ast.expr) -> None:
        values = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                self.rules.add(value.value)
            else:
                self.dynamic = True


def _functions() -> dict[str, _Function]:
    out: dict[str, _Function] = {}
    for module in CHECK_MODULES:
        tree = ast.parse((SCANNER_DIR / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                assert node.name not in out, f"{node.name} is defined twice"
                out[node.name] = _Function(node)
            elif isinstance(node, ast.ClassDef) and node.name == "CellVisitor":
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        out[f"CellVisitor.{method.name}"] = _Function(method)
    return out


FUNCTIONS = _functions()


def _reachable(name: str) -> set[str]:
    """``name`` and the functions it calls by name, transitively (not through the tables,
    whose entries are checked on their own)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen or current not in FUNCTIONS:
            continue
        seen.add(current)
        stack += FUNCTIONS[current].calls
    return seen


def _reported(name: str) -> tuple[set[str], bool]:
    """The rule ids a function reports, itself or through what it calls; and whether any is
    dynamic."""
    reached = [FUNCTIONS[f] for f in _reachable(name)]
    return (set().union(*(f.rules for f in reached)),
            any(f.dynamic for f in reached))


ENTRIES = [(f"{table}[{key!r}]", check) for table, checks in TABLES.items()
           for key, check in checks.items()]


@pytest.mark.parametrize(("entry", "check"), ENTRIES, ids=[entry for entry, _ in ENTRIES])
def test_each_check_declares_the_rules_its_code_reports(entry, check):
    rules, dynamic = _reported(check.judge.__name__)
    assert rules, f"{entry}: found no rule in {check.judge.__name__}'s code"
    assert rules <= check.rules, f"{entry} does not declare {sorted(rules - check.rules)}"
    # A check whose code reports only literal rule ids declares exactly those; one that
    # reports a Danger's rule (or a payload's) may declare those of the Danger tables too.
    allowed = rules | DANGER_RULES if dynamic else rules
    assert check.rules <= allowed, f"{entry} declares {sorted(check.rules - allowed)}, " \
                                   "which its code never reports"


def test_relaying_checks_are_marked():
    for key, check in CALL_CHECKS.items():
        _, dynamic = _reported(check.judge.__name__)
        relays = "CellVisitor.report_payload" in _reachable(check.judge.__name__)
        assert check.relays_payload == relays, key
        assert dynamic or not relays, key
