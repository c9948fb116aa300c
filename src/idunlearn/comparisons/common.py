"""Pieces the comparison methods share: the trained copy of G_s and the retain sample."""

from __future__ import annotations

import copy

import torch

from idunlearn.generators.base import GeneratorAdapter


def trainable_copy(g_s: GeneratorAdapter) -> GeneratorAdapter:
    """G_u: a deep copy of the frozen G_s whose `trainable_names()` alone get gradients."""
    g_s.requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    g_u.freeze_all_but_trainable()
    return g_u


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
