"""Lazy re-exports: a package's public names resolve on first use.

The in-kernel launcher is ``deepthinker_nb.kernel.launcher``; importing the package eagerly
would add jupyter_client, the scanner and the configs to every kernel's start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any],
                                                                    Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, mapping each name to its module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
