"""What every unlearning loop shares: the trained copy of G_s, the progress bar and one step.

GUIDE and the comparison methods differ in what they compute per step, not in how a
step is taken or recorded; keeping that here makes their histories look the same.
"""

from __future__ import annotations

import copy

import torch
from tqdm import tqdm

from idunlearn.generators.base import GeneratorAdapter


def trainable_copy(g_s: GeneratorAdapter) -> GeneratorAdapter:
    """G_u: a deep copy of the frozen G_s whose `trainable_names()` alone get gradients."""
    g_s.requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    g_u.freeze_all_but_trainable()
    return g_u


def progress(steps: int | range, desc: str, show: bool = True) -> tqdm:
    """A quiet bar for logs (stderr): at most one update every 5 s, ASCII only; over
    range(steps), or the range given."""
    steps = range(steps) if isinstance(steps, int) else steps
    return tqdm(steps, desc=desc, mininterval=5.0, ascii=True, disable=not show)


def take_step(
    optimizer: torch.optim.Optimizer, losses: dict[str, torch.Tensor], bar: tqdm
) -> dict[str, float]:
    """Backpropagate losses["total"], step, show the total; return the losses as floats."""
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    optimizer.step()
    record = {key: float(value.detach()) for key, value in losses.items()}
    bar.set_postfix(loss=f"{record['total']:.4f}", refresh=False)
    return record
