"""What the comparison methods share: the retain sample."""

from __future__ import annotations

import torch


def retain_indices(
    labels: torch.Tensor, exclude: int | None, n: int, rng: torch.Generator
) -> torch.Tensor:
    """A seeded sample of n indices (or all, if fewer) whose label is not `exclude`."""
    keep = torch.arange(len(labels)) if exclude is None else (labels != exclude).nonzero()[:, 0]
    if len(keep) == 0:
        raise ValueError("no retain images: every image belongs to the forgotten identity")
    order = torch.randperm(len(keep), generator=rng)
    return keep[order[: min(n, len(keep))]].sort().values


def retain_sample(
    split: dict[str, torch.Tensor], exclude: int | None, n: int, rng: torch.Generator
) -> dict[str, torch.Tensor]:
    """The retain set: n training images of identities other than `exclude`, with their
    codes and cameras (a dict as `world.build.training_split` returns)."""
    idx = retain_indices(split["labels"], exclude, n, rng)
    return {key: value[idx] for key, value in split.items()}
