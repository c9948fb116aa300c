"""Checkpoints that describe themselves (kind, init_kwargs, weights, meta); one checked loader."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from idunlearn.io import ArtefactError, atomic_path

# How torch.load(weights_only=True) names a class or function it refuses to unpickle
# (a damaged file fails with other UnpicklingErrors: "Unsupported operand" etc.).
REFUSED_GLOBAL = re.compile(r"Unsupported global: (.*?)(?: was not an allowed global|$)", re.M)


def save_checkpoint(
    path: str | os.PathLike[str],
    kind: str,
    state_dict: dict[str, torch.Tensor],
    init_kwargs: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    payload = {
        "kind": kind,
        "init_kwargs": init_kwargs or {},
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "meta": meta or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` and check that it is of `kind`."""
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing checkpoint: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if refused := REFUSED_GLOBAL.search(str(err)):
            raise ArtefactError(
                f"checkpoint {path} holds objects a weights-only load refuses ({refused[1]}):"
                " not written by save_checkpoint, and never unpickled here"
            ) from err
        raise ArtefactError(f"corrupt checkpoint: {path} ({type(err).__name__})") from err
    except Exception as err:  # torch raises several unrelated types for a damaged file
        raise ArtefactError(f"corrupt checkpoint: {path} ({type(err).__name__})") from err
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ArtefactError(f"not an idunlearn checkpoint: {path}")
    if payload.get("kind") != kind:
        raise ArtefactError(f"checkpoint {path} holds a {payload.get('kind')!r}, expected {kind!r}")
    return payload


def save_module(
    path: str | os.PathLike[str], kind: str, module: torch.nn.Module, meta=None
) -> None:
    """Save a module that records its constructor arguments in `init_kwargs`."""
    save_checkpoint(path, kind, module.state_dict(), getattr(module, "init_kwargs", {}), meta)


def load_module(
    path: str | os.PathLike[str], kind: str, cls: type[torch.nn.Module]
) -> torch.nn.Module:
    """Rebuild `cls(**init_kwargs)` and load its weights strictly; eval mode, frozen."""
    payload = load_checkpoint(path, kind)
    try:
        module = cls(**payload["init_kwargs"])
        module.load_state_dict(payload["state_dict"], strict=True)
    except (TypeError, RuntimeError) as err:
        raise ArtefactError(f"checkpoint {path} does not fit a {cls.__name__}: {err}") from err
    module.eval()
    module.requires_grad_(False)
    return module
