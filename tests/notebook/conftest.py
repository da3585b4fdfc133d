from __future__ import annotations

import pytest

from deepthinker_nb.kernel import KernelPool


@pytest.fixture(scope="module")
def pool():
    """One warm local kernel shared by a module's tests (each acquire gets a fresh one)."""
    with KernelPool(size=1, backend="local") as p:
        yield p


@pytest.fixture
def text_of():
    return outputs_text


def outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"])
    return "".join(parts)
