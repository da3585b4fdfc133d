"""The scanner never raises, whatever the input: random text, bytes, nesting, huge cells."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepthinker_nb.scanner import ScanReport, SecurityScanner

scanner = SecurityScanner()
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

_TOKENS = ["import os", "os.system", "(", ")", "[", "]", "{", "}", "!", "%", "%%", "?",
           "eval", "exec", "'", '"', "\n", "    ", ":", "=", "+", "chr(", "getattr(", ",",
           "lambda", "def", "class", "base64.b64decode(", "x", "1", "\\", "#", "f'", "{x}",
           "%%bash\n", "!ls", "__import__", "get_ipython()", ".", "\t", "\x00", "ｅｖａｌ"]


def _valid(report: ScanReport) -> None:
    assert isinstance(report, ScanReport)
    for f in report.findings:
        assert f.line >= 1 and f.col >= 0 and f.rule_id


@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(text):
    _valid(scanner.scan(text))


@FUZZ
@given(st.lists(st.sampled_from(_TOKENS), max_size=60))
def test_random_token_soup_never_raises(tokens):
    _valid(scanner.scan(" ".join(tokens)))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    _valid(scanner.scan(data.decode("latin-1")))
    _valid(scanner.scan(data))  # type: ignore[arg-type]


@FUZZ
@given(st.recursive(st.sampled_from(["x", "1", "'s'", "os.system", "chr(101)"]),
                    lambda inner: st.one_of(
                        st.tuples(inner, st.sampled_from(["+", "*", "-", "/"]), inner).map(
                            lambda t: f"({t[0]} {t[1]} {t[2]})"),
                        inner.map(lambda s: f"eval({s})"),
                        inner.map(lambda s: f"getattr(os, {s})"),
                        inner.map(lambda s: f"[{s}]"),
                    ), max_leaves=40))
def test_random_nested_expressions_never_raise(expr):
    _valid(scanner.scan(f"import os\nx = {expr}\n"))


def test_deeply_nested_expression_fails_closed_without_raising():
    for code in ["x = " + "-" * 5000 + "1", "x = " + "(" * 5000 + "1" + ")" * 5000,
                 "x = " + "[" * 150 + "]" * 150, "x = 1" + " + 1" * 20000,
                 "if x:\n" + "".join("    " * i + "if x:\n" for i in range(1, 120)) +
                 "    " * 120 + "pass\n"]:
        report = scanner.scan(code)
        _valid(report)


def test_one_megabyte_cell_is_scanned():
    rng = random.Random(0)
    lines = [f"v{i} = df['c{rng.randint(0, 50)}'].mean() * {rng.random():.4f}"
             for i in range(30_000)]
    code = "\n".join(lines) + '\nimport os\nos.system("id")\n'
    assert len(code) > 1_000_000
    report = scanner.scan(code)
    assert report.blocked and "shell-command" in report.rule_ids


def test_decompression_bomb_payload_is_bounded():
    import base64
    import zlib

    bomb = base64.b64encode(zlib.compress(b"x" * 50_000_000)).decode()
    report = scanner.scan(f'import zlib, base64\nexec(zlib.decompress(base64.b64decode("{bomb}")))')
    assert report.blocked


def test_huge_string_multiplication_is_not_folded():
    report = scanner.scan('exec("a" * 10**12)')
    assert report.blocked


def test_scanner_is_safe_to_share_between_threads():
    from concurrent.futures import ThreadPoolExecutor

    cells = ["!ls", "import os\nos.system('x')", "x = 1", "%time 1+1"] * 25
    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(scanner.scan, cells))
    assert [r.blocked for r in reports] == [True, True, False, False] * 25


@FUZZ
@given(st.lists(st.sampled_from([*_TOKENS, "%%bash\n", "%%time\n", "\n\n%%capture x\n"]),
                max_size=30))
def test_our_transform_equals_ipython_transform_cell(tokens):
    from IPython.core.inputtransformer2 import TransformerManager

    from deepthinker_nb.scanner.ipython import transform

    code = "".join(tokens)
    try:
        expected = TransformerManager().transform_cell(code)
    except Exception:
        return
    assert transform(code) == expected


def test_our_transform_equals_ipython_on_the_corpus():
    from IPython.core.inputtransformer2 import TransformerManager

    from deepthinker_nb.scanner.ipython import transform

    from .corpus_loader import load

    manager = TransformerManager()
    for case in load("dangerous") + load("harmless"):
        assert transform(case.code) == manager.transform_cell(case.code), case.key
