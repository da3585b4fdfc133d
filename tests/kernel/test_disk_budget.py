"""The disk budget's measure: what a kernel added to its dirs, however it tried to hide it.

These run on real files without a kernel; tests/kernel/test_namespaces.py and the escape suite
prove the budget against kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepthinker_nb.kernel import disk
from deepthinker_nb.kernel.disk import MAX_DEPTH, DiskBudget, disk_usage

MIB = 1 << 20


def write(path, size=MIB):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))


def test_allocated_bytes_are_counted_not_apparent_sizes(tmp_path):
    write(tmp_path / "data.bin", 2 * MIB)
    with open(tmp_path / "sparse.bin", "wb") as handle:
        handle.truncate(1 << 30)  # a 1 GiB hole holds nothing
    assert 2 * MIB <= disk_usage([tmp_path]) < 3 * MIB


def test_links_are_not_followed_and_hard_links_count_once(tmp_path):
    outside = tmp_path / "outside"
    write(outside / "big.bin", 4 * MIB)
    work = tmp_path / "work"
    write(work / "own.bin")
    (work / "link").symlink_to(outside)
    os.link(work / "own.bin", work / "again.bin")
    assert MIB <= disk_usage([work]) < 2 * MIB


def test_a_tree_nested_past_any_path_length_is_still_measured(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(24):  # 24 x 250 characters: far past PATH_MAX
            os.mkdir("d" * 250, dir_fd=fd)
            child = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
        out = os.open("hidden.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(out, os.urandom(3 * MIB))
        os.close(out)
    finally:
        os.close(fd)
    assert disk_usage([tmp_path]) >= 3 * MIB


def test_a_tree_deeper_than_the_limit_counts_as_over_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "MAX_DEPTH", 3)
    budget = DiskBudget([tmp_path], 64 * MIB, lambda: None)
    (tmp_path / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    assert budget.check()
    assert "nested deeper than 3 levels" in budget.reason()
    assert MAX_DEPTH >= 64  # the real limit leaves room for any ordinary project


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_a_directory_made_unreadable_counts_as_over_budget(tmp_path):
    budget = DiskBudget([tmp_path], 64 * MIB, lambda: None)
    hidden = tmp_path / "hidden"
    write(hidden / "big.bin")
    hidden.chmod(0)
    try:
        assert budget.check() and "unreadable" in budget.reason()
    finally:
        hidden.chmod(0o700)


def test_files_deleted_but_held_open_are_counted(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         f"fd = os.open({str(tmp_path / 'gone.bin')!r}, os.O_RDWR | os.O_CREAT)\n"
         f"os.write(fd, os.urandom({4 * MIB}))\n"
         f"os.unlink({str(tmp_path / 'gone.bin')!r})\n"
         "print('ready', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert disk_usage([tmp_path]) < MIB, "no directory shows the file"
        assert disk_usage([tmp_path], [holder.pid]) >= 4 * MIB
    finally:
        holder.kill()
        holder.wait()


def test_only_growth_counts_and_passing_it_calls_back_once(tmp_path):
    write(tmp_path / "existing.bin", 8 * MIB)
    calls = []
    budget = DiskBudget([tmp_path], 4 * MIB, lambda: calls.append(1))
    write(tmp_path / "new.bin", 3 * MIB)
    assert not budget.check()
    write(tmp_path / "more.bin", 2 * MIB)
    assert budget.check() and budget.check()
    assert calls == [1]
    assert budget.reason() == "disk limit (4m) reached"


def test_a_restarted_kernel_may_delete_but_not_grow(tmp_path):
    budget = DiskBudget([tmp_path], 4 * MIB, lambda: None)
    write(tmp_path / "big.bin", 6 * MIB)
    assert budget.check()
    budget.rearm()
    assert not budget.check(), "what is there may stay"
    write(tmp_path / "more.bin", 2 * MIB)
    assert budget.check(), "but nothing more"
    budget.rearm()
    (tmp_path / "big.bin").unlink()
    (tmp_path / "more.bin").unlink()
    assert not budget.check()
    write(tmp_path / "again.bin", 3 * MIB)
    assert not budget.check(), "after deleting, the whole budget is there again"


def test_a_measure_is_due_only_when_the_budget_could_have_been_passed(tmp_path, monkeypatch):
    budget = DiskBudget([tmp_path], 1 << 40, lambda: None)
    budget.check()
    assert not budget.due(), "a terabyte of headroom cannot be written since the last measure"
    small = DiskBudget([tmp_path], 1, lambda: None)
    small.check()
    assert small.due()
