"""Real Dask clusters for the batch tests: ``distributed.LocalCluster`` with worker processes
over TCP, closed (with their workers and kernels) whatever happens."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # batch_helpers

from batch_helpers import local_cluster


@pytest.fixture(scope="module")
def module_client() -> Iterator[Any]:
    """One two-worker cluster for a module's tests that do not break it."""
    with local_cluster() as client:
        yield client


@pytest.fixture
def client() -> Iterator[Any]:
    """A two-worker cluster of its own, for a test that kills or cancels."""
    with local_cluster() as client:
        yield client
