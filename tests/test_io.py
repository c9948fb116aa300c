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
