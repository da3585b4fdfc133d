"""Interrupt, restart, out-of-memory, and the errors a user can act on."""

from __future__ import annotations

import os
import time

import pytest

from deepthinker_nb.config.docker import DockerConfig, MountError
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.kernel.docker.engine import DockerUnavailableError, ImageMissingError

pytestmark = pytest.mark.docker


@pytest.fixture
def session(docker_engine, tmp_path):
    s = KernelSession(backend="docker", config=DockerConfig(memory_limit="256m"),
                      workdir=tmp_path, scan=False, interrupt_grace=5.0)
    s.start()
    yield s
    s.shutdown()


def test_interrupt_keeps_state(session):
    assert session.execute("x = 42").status == "ok"
    started = time.monotonic()
    result = session.execute("import time\nfor _ in range(600): time.sleep(0.1)", timeout=1.5)
    assert time.monotonic() - started < 6
    assert result.status in ("interrupted", "timeout"), result.status
    assert session.restarts == 0
    assert session.execute("print(x)").stdout.strip() == "42"


def test_sigint_to_the_container_interrupts(session):
    import threading

    session.execute("y = 7")
    timer = threading.Timer(1.0, session.interrupt)
    timer.start()
    result = session.execute("import time\ntime.sleep(30)", timeout=20)
    timer.join()
    assert result.error is not None and result.error.ename == "KeyboardInterrupt"
    assert session.execute("print(y)").stdout.strip() == "7"


def test_restart_gives_a_fresh_kernel_and_keeps_files(session, our_containers):
    session.execute("z = 1\nopen('kept.txt', 'w').write('x')")
    before = {c.id for c in our_containers(os.getpid())}
    session.restart()
    result = session.execute("print('z' in dir(), open('kept.txt').read())")
    assert result.stdout.strip() == "False x"
    after = {c.id for c in our_containers(os.getpid())}
    assert len(after) == 1 and after != before  # the old container is gone, not leaked


def test_out_of_memory_is_reported_and_the_next_cell_runs(session):
    session.execute("keep = 1")
    started = time.monotonic()
    result = session.execute("import numpy as np\na = np.ones(100_000_000)", timeout=60)
    elapsed = time.monotonic() - started
    assert result.status == "died", (result.status, result.error)
    assert result.death_reason == "out of memory (limit 256m)"
    assert elapsed < 10
    after = session.execute("print('alive', 'keep' in dir())")
    assert after.status == "ok" and after.stdout.strip() == "alive False"


def test_bad_limit_is_a_one_line_error():
    with pytest.raises(ConfigError, match="memory_limit") as info:
        DockerConfig(memory_limit="lots")
    assert "\n" not in str(info.value)


def test_missing_data_dir_fails_before_any_container(our_containers, tmp_path):
    before = len(our_containers(os.getpid()))
    with pytest.raises(ConfigError, match="does not exist"):
        KernelSession(backend="docker", data_dirs=[tmp_path / "missing"]).start()
    from deepthinker_nb.kernel.docker.backend import DockerBackend

    with pytest.raises(MountError):
        DockerBackend().launch_kwargs(DockerConfig(), tmp_path, [tmp_path / "missing"])
    assert len(our_containers(os.getpid())) == before


def test_missing_image_says_how_to_build(docker_engine, tmp_path):
    s = KernelSession(backend="docker", config=DockerConfig(image="deepthinker-nb-kernel:nope"),
                      workdir=tmp_path)
    with pytest.raises(ImageMissingError, match="deepthinker-nb image build") as info:
        s.start()
    assert "\n" not in str(info.value)


def test_no_engine_says_how_to_start_one(monkeypatch):
    from deepthinker_nb.kernel.docker import engine

    monkeypatch.setattr(engine, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/dtk-no-such-engine.sock")
    with pytest.raises(DockerUnavailableError, match=r"start one .* local backend") as info:
        engine.get_client(timeout=2)
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    engine._client = None


def test_unreadable_data_dir_is_a_mount_error(docker_engine, tmp_path, our_containers):
    import os

    if os.geteuid() != 0:
        pytest.skip("the kernel runs as the host user; permissions are the host's")
    data = tmp_path / "private"
    data.mkdir(mode=0o700)
    before = len(our_containers(os.getpid()))
    s = KernelSession(backend="docker", workdir=tmp_path / "w", data_dirs=[data])
    with pytest.raises(MountError, match="not readable by the kernel"):
        s.start()
    assert len(our_containers(os.getpid())) == before


def test_image_build_is_skipped_when_the_recipe_tag_exists(docker_engine):
    from deepthinker_nb.kernel.docker.image import build_image, image_tag

    build_image(log=lambda _msg: None)  # builds only if the recipe changed since
    result = build_image(log=lambda _msg: None)
    assert result.method == "cached" and result.tag == image_tag()
    assert result.seconds < 5
