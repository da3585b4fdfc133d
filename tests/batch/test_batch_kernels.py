"""A batch run's kernels are sized to a worker with no spare CPU: the run's first kernel
serves its research notebook, which uses no scikit-learn, so it does not import it; the
kernels after it do, before their notebooks ask."""

from __future__ import annotations

from pathlib import Path

from deepthinker_nb.kernel.pool import KernelPool
from deepthinker_nb.workflow.placement import PRELOAD, RESEARCH_PRELOAD, KernelPlacement

LOADED = "import sys; print(sorted(m for m in ('pandas', 'sklearn') if m in sys.modules))"


def test_a_pool_preloads_its_first_kernel_with_the_first_entry() -> None:
    with KernelPool(1, preload=("import pandas", "import pandas, sklearn"), scan=False) as pool:
        pool.expect(3)
        seen = []
        for _ in range(3):
            with pool.session() as session:
                seen.append(session.execute(LOADED).stdout.strip())
    assert seen == ["['pandas']", "['pandas', 'sklearn']", "['pandas', 'sklearn']"]


def test_batch_placement_preloads_research_lean(tmp_path: Path) -> None:
    placement = KernelPlacement("local")
    assert placement.first_preload is None  # a plain run: every kernel gets PRELOAD
    placement.first_preload = RESEARCH_PRELOAD  # what a batch task sets
    (tmp_path / "data").mkdir()
    kernels = placement.start(tmp_path, expected=2)
    try:
        assert kernels.pool is not None
        assert kernels.pool.async_pool.preload == (RESEARCH_PRELOAD, PRELOAD)
    finally:
        kernels.close()
