"""Atomic file output and self-describing checkpoints.

Every artefact is written to a temporary file beside its destination, flushed to
disk and then renamed, so neither a killed job nor a power cut leaves a file that
looks finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


class UserError(Exception):
    """A problem the user can fix: a missing or corrupt input, a bad name or value. A step
    reports it as one `Error:` line (idunlearn.cli.step); any other exception is a bug
    and keeps its traceback in the rule's log."""


class ArtefactError(UserError):
    """A file the workflow needs is missing, unreadable or of the wrong kind."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The caller writes the path itself (torch.save, PIL, ...): its data is synced by
    reopening it, before the rename, and the directory after it, so that after a power
    cut `path` is either the old file or the whole new one.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; artefacts are shared files
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, final)
        _fsync(final.parent, os.O_RDONLY | os.O_DIRECTORY)  # the rename itself
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ArtefactError(f"not valid JSON: {path} ({err.msg}, line {err.lineno})") from err


def write_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise ArtefactError(f"corrupt or unreadable array file: {path} ({err})") from err


def npz_keys(path: str | os.PathLike[str]) -> list[str]:
    """The array names of an .npz file, without loading the arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return list(data.files)
    except FileNotFoundError as err:
        raise ArtefactError(f"missing file: {path}") from err
    except (OSError, ValueError) as err:
        raise ArtefactError(f"corrupt or unreadable array file: {path} ({err})") from err
