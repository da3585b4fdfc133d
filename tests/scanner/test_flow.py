"""Family (b): values that flow through small functions, class attributes, sorted / reversed /
"".join / functools.reduce / getattr chains, and format strings that walk attributes.

``pd.io.common`` is a harmless-looking receiver (not a sensitive module), so a cell that
reaches ``os`` through it is only caught when the scanner knows the attribute name.
"""

from __future__ import annotations

import pytest

from deepthinker_nb.scanner import SecurityScanner

SCANNER = SecurityScanner()
REACH_OS = "import pandas as pd\ngetattr(pd.io.common, {name}).system('id')\n"


def _blocked_with(code: str, rule: str) -> None:
    report = SCANNER.scan(code)
    assert report.blocked and rule in report.rule_ids, report.to_text(code)


# -- names computed by small functions of the cell -----------------------------------------
@pytest.mark.parametrize("prelude, name", [
    ("def n():\n    return 'o' + 's'\n", "n()"),
    ("def n():\n    '''the module'''\n    return 'o' + 's'\n", "n()"),
    ("def n(a, b):\n    return a + b\n", "n('o', 's')"),
    ("n = lambda: 'os'\n", "n()"),
    ("n = lambda a: a[::-1]\n", "n('so')"),
    ("", "(lambda: 'o' + 's')()"),
    ("def twice(x):\n    return x + x\n", "twice('o')[1:] + 's'"),
])
def test_names_returned_by_small_functions_are_folded(prelude, name):
    _blocked_with(prelude + REACH_OS.format(name=name), "shell-command")


@pytest.mark.parametrize("code", [
    "import os\ndef f():\n    return os.system\nf()('id')",
    "import os\ndef outer():\n    def inner():\n        return os.system\n    return inner()\n"
    "outer()('id')",
    "import os\nclass A:\n    def m(self):\n        return os.system\nA().m()('id')",
    "import os\nget = lambda: os.popen\nget()('id')",
    "import pandas as pd\ndef f(x):\n    return x\nf(pd.io.common).os.system('id')",
    "import pandas as pd\ndef f(x):\n    return x.common\nf(pd.io).os.system('id')",
])
def test_callables_returned_by_functions_are_followed(code):
    _blocked_with(code, "shell-command")


def test_a_function_defined_twice_is_not_folded_to_either_body():
    once = "def n():\n    return 'print(1)'\nexec(n())"
    assert not SCANNER.scan(once).blocked  # folded: exec of a constant, harmless, string
    twice = ("def n():\n    return 'print(1)'\nif flag:\n    def n():\n"
             "        return 'print(2)'\nexec(n())")
    _blocked_with(twice, "dynamic-code")  # either body may run: the code is unknown


# -- class attributes ----------------------------------------------------------------------
@pytest.mark.parametrize("prelude, name", [
    ("class C:\n    n = 'o' + 's'\n", "C.n"),
    ("class C:\n    n = 'o' + 's'\nc = C()\n", "c.n"),
    ("class C:\n    n = 'os'\n", "C().n"),
    ("class C:\n    parts = ['o', 's']\n", "''.join(C.parts)"),
    ("class C:\n    n = 'os'\nm = C.n\n", "m"),
    ("class C:\n    n = 'os'\n", "getattr(C, 'n')"),
])
def test_names_kept_in_class_attributes_are_folded(prelude, name):
    _blocked_with(prelude + REACH_OS.format(name=name), "shell-command")


def test_callables_kept_in_class_attributes_are_followed():
    _blocked_with("import os\nclass T:\n    run = os.system\nT.run('id')", "shell-command")
    _blocked_with("import os\nclass T:\n    def go(self):\n        return os.system\n"
                  "T().go()('id')", "shell-command")


# -- sorted / reversed / join / reduce / operator ------------------------------------------
@pytest.mark.parametrize("name", [
    "''.join(sorted('so'))",
    "''.join(sorted('so', reverse=False))",
    "''.join(reversed('so'))",
    "'so'[::-1]",
    "''.join(reversed(list('so')))",
    "functools.reduce(operator.add, ['o', 's'])",
    "functools.reduce(lambda a, b: a + b, ['o', 's'], '')",
    "functools.reduce(lambda a, b: b + a, 'so')",
    "operator.concat('o', 's')",
    "operator.add('o', 's')",
    "'o'.__add__('s')",
    "string.ascii_lowercase[14] + string.ascii_lowercase[18]",
])
def test_names_assembled_by_builtins_are_folded(name):
    code = "import functools, operator, string\n" + REACH_OS.format(name=name)
    _blocked_with(code, "shell-command")


def test_reordered_names_are_reported_as_encoded():
    report = SCANNER.scan("import os\ngetattr(os, ''.join(sorted('ystmes', key=None)))")
    assert report.blocked  # a key= that cannot be folded: the name is unknown, still blocked
    report = SCANNER.scan(REACH_OS.format(name="''.join(sorted('so'))"))
    assert "encoded-payload" in report.rule_ids


# -- getattr chains ---------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "import pandas as pd\ngetattr(getattr(getattr(pd, 'io'), 'common'), 'os').system('id')",
    "import pandas as pd\nm = getattr(pd.io, 'com' + 'mon')\ngetattr(m, 'o' + 's').system('x')",
    "import pandas as pd, operator\noperator.attrgetter('io.common.os')(pd).system('id')",
    "import pandas as pd\nf = getattr\nf(f(pd.io, 'common'), 'os').system('id')",
])
def test_getattr_chains_are_followed(code):
    _blocked_with(code, "shell-command")


# -- format strings that walk attributes ------------------------------------------------------
@pytest.mark.parametrize("code", [
    "def f(): pass\n'{0.__globals__}'.format(f)",
    "'{0.__class__.__init__.__globals__}'.format(1)",
    "str.format('{0.__init__.__globals__}', obj)",
    "import string\nstring.Formatter().format('{x.__class__.__base__}', x=1)",
    "'{0:{1.__class__.__mro__}}'.format(1, 2)",
    "'{d[__builtins__]}'.format_map({'d': globals()})",
    "t = '{0.__init__' + '.__globals__}'\nt.format(obj)",
])
def test_format_strings_walking_to_escape_attributes_are_blocked(code):
    _blocked_with(code, "interpreter-tampering")


# -- look-alikes that stay allowed -----------------------------------------------------------
@pytest.mark.parametrize("code", [
    "def add(a, b):\n    return a + b\nprint(add(1, 2))",
    "def name():\n    return 'mean'\ngetattr(df, name())()",
    "import functools, operator\nsize = functools.reduce(operator.mul, [2, 3, 4], 1)",
    "print(''.join(sorted(set('banana'))))",
    "cols = sorted(df.columns)\nfor c in reversed(cols):\n    print(c)",
    "class Config:\n    lr = 0.1\n    name = 'model'\nprint(Config.lr, Config.name)",
    "class Config:\n    metric = 'f1'\nscore = getattr(report, Config.metric)",
    "print('{:.2%}'.format(0.5), '{0.shape} {0.columns}'.format(df))",
    "print('{0.__class__.__name__}: {1:.3f}'.format(model, score))",
    "print('{m.__module__}.{m.__qualname__}'.format(m=fn))",
    "labels = {'a': 1}\nprint('{a}'.format_map(labels))",
    "key = lambda kv: kv[1]\nbest = sorted(scores.items(), key=key)[-1]",
])
def test_ordinary_code_with_the_same_shapes_passes(code):
    report = SCANNER.scan(code)
    assert not report.blocked, report.to_text(code)


def test_functions_and_class_attributes_of_an_earlier_cell_are_known_to_a_session():
    session = SecurityScanner().session()
    assert not session.scan("def n():\n    return 'o' + 's'\nclass K:\n    m = 'os'").blocked
    for name in ("n()", "K.m"):
        report = session.scan(REACH_OS.format(name=name))
        assert "shell-command" in report.rule_ids, report.to_text(name)
