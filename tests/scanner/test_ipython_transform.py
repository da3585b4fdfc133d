"""Our transform is IPython's transform: same Python out for every cell, only faster."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from IPython.core.inputtransformer2 import TransformerManager

from deepthinker_nb.scanner.ipython import transform

from .corpus_loader import load

REFERENCE = TransformerManager()
_LINES = [
    "x = 1", "!ls -la", "%time y = 2", "files = !ls", "r = %timeit -o 1+1", "df?",
    "for i in range(3):", "    !echo {i}", "    print(i)", "s = '''", "%not a magic", "'''",
    "f(1,", "  2)", "%matplotlib inline", "!!pwd", "print('!ok')", "a = b % 2", "  %env A=1",
    "if x:", "        %ls", "!echo (", "def g():", "    return 1", "", "# %% comment",
]


@pytest.mark.parametrize("case", load("dangerous") + load("harmless"), ids=lambda c: c.id)
def test_corpus_cells_transform_exactly_as_ipython(case):
    assert transform(case.code) == REFERENCE.transform_cell(case.code)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_LINES), min_size=1, max_size=12))
@example(lines=["  2)", "!ls -la", "f(1,", "!ls -la"])  # a stray bracket changes later lines
def test_generated_cells_transform_exactly_as_ipython(lines):
    cell = "\n".join(lines)
    try:
        expected = REFERENCE.transform_cell(cell)
    except Exception:
        return  # IPython itself gives up; the scanner reports those cells as unparseable
    assert transform(cell) == expected
