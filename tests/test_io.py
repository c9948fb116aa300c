"""Atomic outputs: nothing half-written is left, and files get the usual permissions."""

import os
import stat

import pytest

from idunlearn.io import atomic_path, read_json, write_json


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert read_json(tmp_path / "a.json") == {"x": 1}


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "b.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def disk_calls(monkeypatch):
    """os.fsync and os.replace, recorded in order: ("fsync", inode, bytes) or
    ("replace", destination), and still done."""
    calls = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        info = os.fstat(fd)
        calls.append(("fsync", info.st_ino, None if stat.S_ISDIR(info.st_mode) else info.st_size))
        fsync(fd)

    def recording_replace(src, dst):
        calls.append(("replace", str(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    return calls


def test_the_written_data_is_synced_before_the_rename_and_the_directory_after(tmp_path, disk_calls):
    final = tmp_path / "c.json"
    with atomic_path(final) as tmp:
        tmp.write_text("finished")  # the caller writes the path itself, then closes it
    assert disk_calls == [
        ("fsync", final.stat().st_ino, len("finished")),  # the rename keeps the inode
        ("replace", str(final)),
        ("fsync", tmp_path.stat().st_ino, None),
    ]


def test_a_failed_write_syncs_and_renames_nothing(tmp_path, disk_calls):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "d.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert disk_calls == []
