"""The run spec and config checks: pure, no engine needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepthinker_nb.config.docker import (
    BROWSER,
    GPU_ML,
    PROFILES,
    SAFE_ML,
    TRUSTED,
    DockerConfig,
    MountError,
    profile,
)
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel.docker import image
from deepthinker_nb.kernel.docker.container import (
    build_run_spec,
    container_path_for_workdir,
    container_paths_for_data,
    thread_count,
)


def spec(config=None, **kw):
    args = dict(
        command=["python", "-m", "deepthinker_nb.kernel.launcher", "-f", "/tmp/dtk-x/kernel.json"],
        workdir="/srv/run/work", data_dirs=["/srv/data"], sockdir="/tmp/dtk-x",
        labels={"deepthinker-nb.owner-pid": "1"}, user="1000:1000",
    )
    args.update(kw)
    return build_run_spec(config or DockerConfig(), **args)


def test_defaults_are_hardened():
    kw = spec().create_kwargs(DockerConfig())
    assert kw["mem_limit"] == kw["memswap_limit"] == 512 * 1024**2
    assert kw["nano_cpus"] == 1_000_000_000
    assert kw["pids_limit"] == 256
    assert kw["read_only"] is True
    assert kw["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in kw["security_opt"]
    assert kw["init"] is True
    assert kw["network_mode"] == "none"
    assert "ports" not in kw
    assert kw["user"] == "1000:1000"
    assert kw["tmpfs"]["/tmp"].startswith("rw,nosuid,nodev,noexec,size=")
    assert "privileged" not in kw


def test_same_path_mounts_workdir_rw_data_ro():
    s = spec()
    assert s.workdir == "/srv/run/work"
    assert s.volumes["/srv/run/work"] == {"bind": "/srv/run/work", "mode": "rw"}
    assert s.volumes["/srv/data"] == {"bind": "/srv/data", "mode": "ro"}
    assert s.volumes["/tmp/dtk-x"] == {"bind": "/tmp/dtk-x", "mode": "rw"}
    assert len(s.volumes) == 4  # and the read-only deepthinker_nb package


def test_reserved_paths_fall_back():
    assert container_path_for_workdir("/usr/local/work") == "/home/kernel/work"
    assert container_path_for_workdir("/root/project") == "/home/kernel/work"
    assert container_path_for_workdir("/tmp/pytest/work") == "/tmp/pytest/work"
    assert container_paths_for_data(["/etc/data", "/var/data", "/srv/x"]) == {
        "/etc/data": "/data/data", "/var/data": "/data/data-2", "/srv/x": "/srv/x"}


def test_threads_follow_the_cpu_limit():
    assert thread_count(0.5) == 1
    assert thread_count(4.0) == 4
    env = spec(DockerConfig(cpu_limit=2.0)).environment
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert env["HOME"].startswith("/tmp/") and env["MPLCONFIGDIR"].startswith("/tmp/")


def test_network_profile_publishes_to_loopback_only():
    s = spec(BROWSER, ports=[40001, 40002])
    kw = s.create_kwargs(BROWSER)
    assert kw["network_mode"] == "bridge"
    assert kw["ports"] == {"40001/tcp": ("127.0.0.1", 40001), "40002/tcp": ("127.0.0.1", 40002)}
    assert s.environment["DEEPTHINKER_NETWORK_ALLOWLIST"] == "127.0.0.1"


def test_gpu_only_when_present():
    assert "device_requests" not in spec(GPU_ML).create_kwargs(GPU_ML)
    assert "device_requests" in spec(GPU_ML, gpu_available=True).create_kwargs(GPU_ML)


def test_config_env_wins_and_host_env_absent(monkeypatch):
    monkeypatch.setenv("DTK_HOST_SECRET", "x")
    env = spec(DockerConfig(env={"OMP_NUM_THREADS": "3", "A": "b"})).environment
    assert env["OMP_NUM_THREADS"] == "3" and env["A"] == "b"
    assert "DTK_HOST_SECRET" not in env


def test_profiles():
    assert set(PROFILES) == {"SAFE_ML", "GPU_ML", "BROWSER", "TRUSTED"}
    assert (SAFE_ML.memory_limit, SAFE_ML.cpu_limit, SAFE_ML.network_disabled) == ("512m", 1.0, True)
    assert SAFE_ML.execution_timeout == 30.0
    assert (GPU_ML.memory_limit, GPU_ML.cpu_limit, GPU_ML.gpu, GPU_ML.network_disabled) == (
        "16g", 4.0, True, True)
    assert (BROWSER.memory_limit, BROWSER.cpu_limit, BROWSER.network_disabled) == ("4g", 2.0, False)
    assert BROWSER.network_allowlist
    assert (TRUSTED.memory_limit, TRUSTED.cpu_limit, TRUSTED.network_disabled) == ("32g", 8.0, False)
    assert profile("safe_ml") is SAFE_ML
    with pytest.raises(ConfigError, match="known profiles"):
        profile("nope")


def test_seed_signature():
    config = DockerConfig(memory_limit="512m", cpu_limit=1.0, network_disabled=True)
    assert config.memory_bytes == 512 * 1024**2 and config.memory_label == "512m"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"memory_limit": "lots"}, "memory_limit: cannot read 'lots'"),
        ({"cpu_limit": 0}, "cpu_limit"),
        ({"pids_limit": 2}, "pids_limit"),
        ({"user": "0:0"}, "never run as root"),
        ({"user": "kernel"}, "uid"),
        ({"tmpfs_size": "-1"}, "tmpfs_size"),
    ],
)
def test_bad_values_are_one_line_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        DockerConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_missing_mount_is_a_mount_error(tmp_path):
    with pytest.raises(MountError, match="does not exist"):
        DockerConfig(mounts=[(str(tmp_path / "nope"), "/extra")])
    assert DockerConfig(mounts={str(tmp_path): "/extra"}).mounts == ((str(tmp_path), "/extra"),)


def test_recipe_hash_covers_every_recipe_file():
    files = image.recipe_files()
    assert {"Dockerfile", "requirements.txt", "rootfs.sh"} <= set(files)
    h = image.recipe_hash()
    assert len(h) == 12 and int(h, 16) >= 0
    assert image.image_tag(h) == f"deepthinker-nb-kernel:{h}"
    assert image.recipe_hash() == h


def test_requirements_are_pinned_to_host_majors():
    from importlib.metadata import version

    pins = {}
    for line in (image.recipe_dir() / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            assert ver, f"{name} is not pinned"
            pins[name.lower()] = ver
    for name in ("ipykernel", "pandas", "scikit-learn", "matplotlib", "numpy"):
        assert pins[name].split(".")[0] == version(name).split(".")[0], name


def test_installable_kernelspec_matches_the_backend():
    import json

    from deepthinker_nb.kernel.docker.backend import DockerBackend

    shipped = image.recipe_dir().parent / "deepthinker-docker" / "kernel.json"
    assert json.loads(shipped.read_text()) == DockerBackend().kernel_spec()
    spec = DockerBackend().kernel_spec()
    assert spec["argv"][:3] == ["python", "-m", "deepthinker_nb.kernel.launcher"]
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == (
        "deepthinker-docker-provisioner")


def test_owner_alive_tells_a_reused_pid_from_the_owner():
    import os

    from deepthinker_nb.kernel.docker.orphans import _start_time, owner_alive, owner_labels

    me = os.getpid()
    assert owner_alive(me, _start_time(me))
    assert owner_alive(str(me), None)
    assert not owner_alive(me, "12.34")  # same pid, another start time: a reused pid
    assert not owner_alive(2**22 + 12345, None)
    assert not owner_alive("nope", None)
    labels = owner_labels(session="s", kernel_id="k")
    assert labels["deepthinker-nb.owner-pid"] == str(me) and labels["deepthinker-nb.session"] == "s"


def test_socket_paths_stay_short():
    from deepthinker_nb.kernel.docker.orphans import make_sockdir, remove_sockdir

    path = make_sockdir()
    try:
        assert len(str(path / "k") + "-99999") < 107
        assert oct(path.stat().st_mode & 0o777) == "0o700"
    finally:
        remove_sockdir(path)
    assert not path.exists()


def test_dev_shm_is_set_and_a_mirror_is_mounted_at_the_working_dirs_path():
    s = spec(workdir_source="/var/tmp/dtk-mirror-x/work", python_path=["/tmp/dtk-x"],
             config=DockerConfig(env={"PYTHONPATH": "/opt/extra"}))
    assert s.volumes["/var/tmp/dtk-mirror-x/work"] == {"bind": "/srv/run/work", "mode": "rw"}
    assert "/srv/run/work" not in s.volumes and s.workdir == "/srv/run/work"
    assert s.environment["PYTHONPATH"] == "/tmp/dtk-x:/opt/deepthinker-nb:/opt/extra"
    assert s.create_kwargs(DockerConfig())["shm_size"] == 64 * 1024**2


def test_the_hosts_deepthinker_nb_is_mounted_read_only_on_the_kernels_path():
    import deepthinker_nb

    s = spec()
    package = str(Path(deepthinker_nb.__file__).resolve().parent)
    assert s.volumes[package] == {"bind": "/opt/deepthinker-nb/deepthinker_nb", "mode": "ro"}
    assert s.environment["PYTHONPATH"] == "/opt/deepthinker-nb"


def test_disk_limit_is_a_checked_size():
    assert DockerConfig().disk_bytes == 2 * 1024**3
    assert (SAFE_ML.disk_limit, GPU_ML.disk_limit, BROWSER.disk_limit, TRUSTED.disk_limit) == (
        "2g", "20g", "2g", "50g")
    with pytest.raises(ConfigError, match="disk_limit: cannot read 'lots'") as info:
        DockerConfig(disk_limit="lots")
    assert "\n" not in str(info.value)


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="the root host's decisions")
@pytest.mark.parametrize(("owner", "mode", "expected"), [
    (0, 0o755, (1000, 1000, True)),    # root's dir: never chowned, never run as root: mirrored
    (0, 0o777, (1000, 1000, False)),   # writable by anyone already: mounted as it is
    (1234, 0o700, (1234, 1234, False)),  # a user's dir: the kernel runs as that user
    (1234, 0o500, (1234, 1234, True)),   # ... who may not write it: mirrored
])
def test_a_root_host_plans_the_working_dir_without_touching_it(tmp_path, owner, mode, expected):
    import os

    from deepthinker_nb.kernel.docker.ownership import plan_workdir

    work = tmp_path / "w"
    work.mkdir()
    os.chown(work, owner, owner)
    os.chmod(work, mode)
    before = os.stat(work)
    plan = plan_workdir(DockerConfig(), str(work))
    assert (plan.uid, plan.gid, plan.mirrored) == expected
    assert plan_workdir(DockerConfig(user="2000"), str(work)).uid == 2000
    after = os.stat(work)
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid,
                                                           before.st_mode)
