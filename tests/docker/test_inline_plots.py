"""A matplotlib plot shows inline in a Docker kernel without ``%matplotlib inline``, as it
does in a local kernel."""

from __future__ import annotations

import pytest

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.kernel.docker.container import INLINE_PLOTS, build_run_spec

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"


def _images(result) -> list[str]:
    return [o.data["image/png"] for o in result.outputs if "image/png" in (o.data or {})]


def test_the_container_starts_with_the_inline_backend():
    spec = build_run_spec(DockerConfig(), command=["python"], workdir="/srv/work", data_dirs=[],
                          sockdir="/tmp/dtk-x", labels={}, user="1000:1000")
    assert spec.environment["MPLBACKEND"] == INLINE_PLOTS == (
        "module://matplotlib_inline.backend_inline")


def test_a_config_may_still_choose_another_backend():
    config = DockerConfig(env={"MPLBACKEND": "agg"})
    spec = build_run_spec(config, command=["python"], workdir="/srv/work", data_dirs=[],
                          sockdir="/tmp/dtk-x", labels={}, user="1000:1000")
    assert spec.environment["MPLBACKEND"] == "agg"


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_plt_show_yields_an_inline_png_on_every_backend(backend, tmp_path, request):
    if backend == "docker":
        request.getfixturevalue("docker_engine")
    with KernelSession(backend, workdir=tmp_path) as session:
        result = session.execute(PLOT, 120)
        assert result.success, result.summary()
        images = _images(result)
        assert len(images) == 1 and len(images[0]) > 100
