"""What the container enforces, each tried from inside the kernel (scanner relaxed)."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.kernel import KernelSession

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("iso")
    work, data, secret = root / "work", root / "data", root / "secret"
    for d in (work, data, secret):
        d.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (secret / "host-only.txt").write_text("not for the kernel")
    return work, data, secret


@pytest.fixture(scope="module")
def kernel(docker_engine, dirs):
    work, data, _ = dirs
    os.environ["DTK_HOST_SECRET"] = "leak"  # must not reach the container
    config = DockerConfig(memory_limit="512m", cpu_limit=1.0, pids_limit=64)
    session = KernelSession(backend="docker", config=config, workdir=work, data_dirs=[data],
                            scan=False)
    session.start()
    yield session
    session.shutdown()
    os.environ.pop("DTK_HOST_SECRET", None)


def run(kernel, code: str, timeout: float = 30) -> str:
    result = kernel.execute(textwrap.dedent(code), timeout=timeout)
    assert result.status == "ok", (result.status, result.error, result.stdout)
    return result.stdout.strip()


def test_no_network(kernel):
    out = run(kernel, """
        import socket
        res = []
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3); res.append("tcp-ok")
        except OSError as e:
            res.append("tcp-fail")
        try:
            socket.getaddrinfo("pypi.org", 443); res.append("dns-ok")
        except OSError:
            res.append("dns-fail")
        import os; print(",".join(res), sorted(os.listdir("/sys/class/net")))
    """)
    assert out == "tcp-fail,dns-fail ['lo']"


def test_root_filesystem_read_only(kernel):
    out = run(kernel, """
        import errno
        for path in ("/usr/evil", "/etc/evil", "/home/kernel/evil", "/opt/venv/evil"):
            try:
                open(path, "w")
                print("WROTE", path)
            except OSError as e:
                print(errno.errorcode[e.errno])
    """)
    assert "WROTE" not in out and "EROFS" in out


def test_tmp_is_a_small_noexec_tmpfs(kernel):
    out = run(kernel, """
        for line in open("/proc/self/mounts"):
            if line.split()[1] == "/tmp":
                print(line.split()[2], line.split()[3])
    """)
    assert out.startswith("tmpfs") and "noexec" in out and "nosuid" in out


def test_not_root_no_capabilities_no_new_privileges(kernel):
    out = run(kernel, """
        import os
        status = dict(l.split(":", 1) for l in open("/proc/self/status"))
        print(os.getuid(), os.geteuid(), status["CapEff"].strip(), status["CapBnd"].strip(),
              status["NoNewPrivs"].strip())
    """)
    uid, euid, cap_eff, cap_bnd, nnp = out.split()
    assert uid != "0" and euid != "0"
    assert int(cap_eff, 16) == 0 and int(cap_bnd, 16) == 0
    assert nnp == "1"


def test_fork_bomb_contained_by_pids_limit(kernel):
    out = run(kernel, """
        import subprocess
        children, error = [], None
        try:
            for _ in range(500):
                children.append(subprocess.Popen(["sleep", "60"]))
        except OSError as e:
            error = type(e).__name__
        for c in children:
            c.kill(); c.wait()
        print(len(children), error)
    """, timeout=60)
    started, error = out.split()
    assert int(started) < 64 and error != "None"
    assert run(kernel, "print(1 + 1)") == "2"  # the kernel survives


def test_memory_and_cpu_limits_visible_in_cgroup(kernel):
    out = run(kernel, """
        import os
        def read(*paths):
            for p in paths:
                if os.path.exists(p):
                    return open(p).read().split()
        print(read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")[0])
        print(os.environ["OMP_NUM_THREADS"], os.environ["OPENBLAS_NUM_THREADS"])
    """)
    mem, threads = out.splitlines()
    assert int(mem) == 512 * 1024**2
    assert threads == "1 1"


def test_only_the_two_mounts_are_visible(kernel, dirs):
    work, data, secret = dirs
    out = run(kernel, f"""
        import os, json
        skip = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/tmp",
                "/sbin/docker-init", "/usr/sbin/docker-init",  # the engine's init binary
                "/")
        binds = []
        for line in open("/proc/self/mountinfo"):
            point = line.split()[4]
            if point in skip or point.startswith(("/proc/", "/sys/", "/dev/")):
                continue
            binds.append(point)
        print(json.dumps({{"binds": binds,
                          "secret": os.path.exists({str(secret)!r}),
                          "repo": os.path.exists("/work/main"),
                          "host_env": "DTK_HOST_SECRET" in os.environ}}))
    """)
    info = json.loads(out)
    binds = set(info["binds"])
    sockdirs = {b for b in binds if b.startswith("/tmp/dtk-")}
    assert len(sockdirs) == 1  # the kernel's own socket dir
    # and deepthinker-nb's own code (the launcher, the in-kernel scanner), read-only
    assert binds - sockdirs == {str(work), str(data), "/opt/deepthinker-nb/deepthinker_nb"}
    assert not info["secret"] and not info["repo"] and not info["host_env"]


def test_data_mount_is_read_only_at_the_host_path(kernel, dirs):
    _, data, _ = dirs
    out = run(kernel, f"""
        import pandas as pd, errno
        print(len(pd.read_csv({str(data / "train.csv")!r})))
        try:
            open({str(data / "x.txt")!r}, "w"); print("WROTE")
        except OSError as e:
            print(errno.errorcode[e.errno])
    """)
    assert out.splitlines() == ["2", "EROFS"]


def test_results_in_the_workdir_are_visible_to_the_host(kernel, dirs):
    work, _, _ = dirs
    out = run(kernel, """
        import os, pandas as pd
        pd.DataFrame({"y": [1, 0]}).to_csv("predictions.csv", index=False)
        print(os.getcwd())
    """)
    assert out == str(work)
    assert (work / "predictions.csv").read_text().splitlines() == ["y", "1", "0"]


def test_deepthinker_nb_in_the_kernel_is_the_hosts_and_read_only(kernel):
    out = run(kernel, """
        import os
        import deepthinker_nb.kernel.launcher as launcher
        read_only = bool(os.statvfs(launcher.__file__).f_flag & os.ST_RDONLY)
        print(launcher.__file__, read_only)
    """)
    assert out == "/opt/deepthinker-nb/deepthinker_nb/kernel/launcher.py True"
