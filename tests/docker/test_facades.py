"""The seed API and the pool on the Docker backend; the networked (TCP) profile."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepthinker_nb.config.docker import BROWSER, DockerConfig
from deepthinker_nb.kernel import KernelSession

pytestmark = pytest.mark.docker


def test_code_executor_seed_api(docker_engine, tmp_path):
    from deepthinker_nb.execution import CodeExecutor

    config = DockerConfig(memory_limit="512m", cpu_limit=1.0, network_disabled=True)
    with CodeExecutor(backend="docker", docker_config=config, workdir=str(tmp_path),
                      scan=False) as executor:
        result = executor.execute("import sklearn, os\nprint(sklearn.__version__, os.getuid())",
                                  timeout=60)
        assert result.success, result
        version, uid = result.stdout.split()
        assert version.split(".")[0] == "1" and uid != "0"


def test_pool_hands_out_warm_docker_kernels(docker_engine):
    from deepthinker_nb.kernel.pool import KernelPool

    with KernelPool(size=1, backend="docker", config=DockerConfig(), scan=False,
                    preload="import pandas") as pool:
        pool.start(wait=True)
        t = time.perf_counter()
        session = pool.acquire(timeout=60)
        assert time.perf_counter() - t < 0.5
        assert session.execute("print('pandas' in dir())").stdout.strip() == "True"
        pool.release(session)


def test_networked_profile_uses_tcp_on_loopback(docker_engine, tmp_path, our_containers):
    session = KernelSession(backend="docker", config=BROWSER, workdir=tmp_path, scan=False).start()
    try:
        info = session.async_session.kernel_manager.get_connection_info()
        assert info["transport"] == "tcp" and info["ip"] == "127.0.0.1"
        (container,) = our_containers(os.getpid())
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert len(bindings) == 5
        assert {b[0]["HostIp"] for b in bindings.values()} == {"127.0.0.1"}
        assert session.execute("print(6 * 7)").stdout.strip() == "42"
    finally:
        session.shutdown()


def test_cli_gc_and_image_info(docker_engine):
    cli = [sys.executable, "-c", "import sys; from deepthinker_nb.cli import main; "
           "sys.exit(main(sys.argv[1:]))"]
    gc = subprocess.run([*cli, "gc"], capture_output=True, text=True, timeout=60)
    assert gc.returncode == 0 and "removed" in gc.stdout
    info = subprocess.run([*cli, "image", "info"], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    assert "deepthinker-nb-kernel:" in info.stdout and "ipykernel" in info.stdout


def test_required_engine_fails_rather_than_skips(tmp_path):
    """With DEEPTHINKER_REQUIRE_DOCKER=1 and no engine, the docker tests FAIL."""
    test = tmp_path / "test_needs_engine.py"
    test.write_text("def test_it(docker_engine):\n    pass\n")
    conftest = Path(__file__).parents[1] / "conftest.py"
    (tmp_path / "conftest.py").write_text(conftest.read_text())
    env = dict(os.environ, DOCKER_HOST="unix:///tmp/dtk-no-engine.sock")
    for require, expected in (("1", "1 error"), ("0", "1 skipped")):
        env["DEEPTHINKER_REQUIRE_DOCKER"] = require
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
             "--rootdir", str(tmp_path)],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )
        assert expected in proc.stdout, proc.stdout[-1500:]
