"""The host opens what a kernel could have written only through ``deepthinker_nb.untrusted``.

A kernel can leave anything in its directories: a symlink or a hard link to a host file, a FIFO,
a device, a sparse or growing file, a symlinked parent directory. The host must refuse each with
a one-line error that names the problem and never contains the file's content, must not hang,
and must still read an ordinary file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.untrusted import (
    UntrustedFileError,
    make_untrusted_dir,
    open_untrusted,
    read_untrusted_bytes,
    read_untrusted_text,
    unlink_untrusted,
)

SECRET = "host-secret-7f3a91c2-never-in-an-error"


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A host file outside the kernel's directory, with a secret in it."""
    path = tmp_path / "host" / "secret.txt"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\n")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The kernel-writable directory."""
    path = tmp_path / "work"
    path.mkdir()
    return path


def refused(path: Path, root: Path | None, **kwargs) -> UntrustedFileError:
    with pytest.raises(UntrustedFileError) as info:
        read_untrusted_bytes(path, root=root, **kwargs)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert SECRET not in message and SECRET not in repr(error.args)
    assert message.startswith(f"{path}: ")
    return error


# -- what is read --------------------------------------------------------------------------------
def test_a_regular_file_is_read(root: Path):
    path = root / "01" / "predictions.csv"
    path.parent.mkdir()
    path.write_text("row_id,prediction\n1,a\n2,b\n")
    assert read_untrusted_bytes(path, root=root) == b"row_id,prediction\n1,a\n2,b\n"
    assert read_untrusted_text(path, root=root).splitlines()[0] == "row_id,prediction"
    with open_untrusted(path, root=root) as handle:
        frame = pd.read_csv(handle)
    assert frame.to_dict("list") == {"row_id": [1, 2], "prediction": ["a", "b"]}


def test_without_a_root_only_the_file_itself_is_checked(root: Path, host_file: Path):
    assert read_untrusted_text(host_file) == f"{SECRET}\n"
    (root / "link").symlink_to(host_file)
    assert refused(root / "link", None).kind == "symlink"


def test_the_untrusted_error_is_a_deepthinker_error():
    assert issubclass(UntrustedFileError, DeepThinkerError)


# -- links -------------------------------------------------------------------------------------------
def test_a_symlink_to_a_host_file_is_refused_without_its_content(root: Path, host_file: Path):
    (root / "predictions.csv").symlink_to(host_file)
    error = refused(root / "predictions.csv", root)
    assert error.kind == "symlink"
    assert "symlink" in str(error)


def test_a_symlink_to_dev_zero_is_refused(root: Path):
    (root / "predictions.csv").symlink_to("/dev/zero")
    assert refused(root / "predictions.csv", root).kind == "symlink"


def test_a_hard_link_to_a_host_file_is_refused_without_its_content(root: Path, host_file: Path):
    try:
        os.link(host_file, root / "predictions.csv")
    except OSError as exc:  # fs.protected_hardlinks, or another file system
        pytest.skip(f"cannot hard-link here: {exc}")
    error = refused(root / "predictions.csv", root)
    assert error.kind == "hard_link"
    assert "hard link (2 links" in str(error)


def test_a_symlinked_parent_directory_is_refused(root: Path, host_file: Path):
    (host_file.parent / "predictions.csv").write_text(f"row_id,prediction\n1,{SECRET}\n")
    (root / "01").symlink_to(host_file.parent, target_is_directory=True)
    error = refused(root / "01" / "predictions.csv", root)
    assert error.kind == "symlink"
    assert "directory '01' on its path is a symlink" in str(error)


def test_a_path_that_leaves_the_root_is_refused(root: Path, host_file: Path):
    error = refused(root / ".." / "host" / "secret.txt", root)
    assert error.kind == "outside_root"


# -- special files -----------------------------------------------------------------------------------
@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once_without_blocking(root: Path):
    os.mkfifo(root / "predictions.csv")  # nobody ever writes to it: a blocking open would hang
    error = refused(root / "predictions.csv", root)
    assert error.kind == "not_regular"
    assert "not a regular file (a FIFO)" in str(error)


def test_a_special_file_is_refused_without_being_opened(root: Path, monkeypatch):
    """Opening a device can have effects of its own (a watchdog arms itself), so a FIFO or a
    device is refused from its metadata before any open."""
    os.mkfifo(root / "predictions.csv")
    opened = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    refused(root / "predictions.csv", root)
    assert opened and "predictions.csv" not in opened


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_device_node_is_refused(root: Path):
    zero = os.stat("/dev/zero").st_rdev  # the same device as /dev/zero, under the root
    os.mknod(root / "predictions.csv", stat.S_IFCHR | 0o666, zero)
    error = refused(root / "predictions.csv", root)
    assert error.kind == "not_regular"
    assert "not a regular file (a character device)" in str(error)


def test_a_directory_is_refused(root: Path):
    (root / "predictions.csv").mkdir()
    error = refused(root / "predictions.csv", root)
    assert "not a regular file (a directory)" in str(error)


def test_a_missing_file_says_so(root: Path):
    assert refused(root / "predictions.csv", root).kind == "missing"
    assert refused(root / "no-dir" / "predictions.csv", root).kind == "missing"


# -- size ----------------------------------------------------------------------------------------------
def test_a_sparse_two_gigabyte_file_is_refused_before_reading(root: Path):
    path = root / "predictions.csv"
    with open(path, "wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: no block is written
    error = refused(path, root, max_bytes=1024 * 1024)
    assert error.kind == "too_large"
    assert str(error).endswith(f"too large ({2 * 1024**3} bytes > {1024 * 1024})")


def test_the_cap_holds_while_reading_a_file_that_grows(root: Path):
    path = root / "predictions.csv"
    path.write_bytes(b"x" * 100)
    with open_untrusted(path, root=root, max_bytes=150) as handle:
        with open(path, "ab") as writer:  # the kernel keeps writing after the host's check
            writer.write(b"y" * 1000)
        with pytest.raises(UntrustedFileError, match="grew past 150 bytes") as info:
            handle.read()
    assert info.value.kind == "too_large"


def test_a_file_exactly_at_the_cap_is_read(root: Path):
    path = root / "predictions.csv"
    path.write_bytes(b"z" * 150)
    assert read_untrusted_bytes(path, root=root, max_bytes=150) == b"z" * 150


def test_the_file_object_has_no_descriptor_to_read_around_the_cap(root: Path):
    path = root / "predictions.csv"
    path.write_bytes(b"1")
    with open_untrusted(path, root=root) as handle, pytest.raises(OSError):
        handle.fileno()


# -- text ----------------------------------------------------------------------------------------------
def test_undecodable_text_is_an_error_without_the_bytes(root: Path):
    path = root / "notes.txt"
    path.write_bytes(SECRET.encode() + b"\xff\xfe")
    with pytest.raises(UntrustedFileError, match=r"not valid utf-8 text \(at byte") as info:
        read_untrusted_text(path, root=root)
    assert SECRET not in str(info.value)


# -- directories and removal -----------------------------------------------------------------
def test_make_untrusted_dir_creates_nested_dirs_none_world_writable(root: Path):
    made = make_untrusted_dir(root / "simulation" / "shift", root=root)
    assert made.is_dir() and not made.is_symlink()
    assert not stat.S_IMODE(made.stat().st_mode) & 0o002
    assert make_untrusted_dir(made, root=root) == made  # an existing dir is fine


def test_make_untrusted_dir_does_not_follow_a_planted_symlink(root: Path, host_file: Path):
    host_dir = host_file.parent
    host_dir.chmod(0o700)
    (root / "02").symlink_to(host_dir, target_is_directory=True)
    with pytest.raises(UntrustedFileError, match="'02' on its path is a symlink"):
        make_untrusted_dir(root / "02", root=root)
    with pytest.raises(UntrustedFileError, match="'02' on its path is a symlink"):
        make_untrusted_dir(root / "02" / "sub", root=root)
    assert stat.S_IMODE(host_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in host_dir.iterdir()) == ["secret.txt"]


def test_unlink_untrusted_removes_a_link_never_its_target(root: Path, host_file: Path):
    (root / "run").mkdir()
    (root / "run" / "predictions.csv").symlink_to(host_file)
    assert unlink_untrusted(root / "run" / "predictions.csv", root=root) is True
    assert not os.path.lexists(root / "run" / "predictions.csv")
    assert host_file.read_text() == f"{SECRET}\n"
    assert unlink_untrusted(root / "run" / "predictions.csv", root=root) is False


def test_unlink_untrusted_does_not_reach_through_a_symlinked_parent(root: Path, host_file: Path):
    (root / "run").symlink_to(host_file.parent, target_is_directory=True)
    with pytest.raises(UntrustedFileError, match="'run' on its path is a symlink"):
        unlink_untrusted(root / "run" / "secret.txt", root=root)
    assert host_file.exists()
