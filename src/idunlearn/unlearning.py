"""The GUIDE objective's unlearning loop, shared by the guide and adapter methods.

G_s stays frozen; G_u = a copy whose trainable parameters alone receive gradients
(by default `loop.trainable_copy`: the synthesis backbone, EG3D's `backbone.synthesis`;
the adapter method passes a copy with adapters instead). Adam, as in the paper.
The per-kind methods and their dispatch live in `idunlearn.methods`; the unlearn job
that runs them, in `idunlearn.system`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loop import progress, take_step, trainable_copy
from idunlearn.losses import Embedder, LossConfig, Perceptual, draw_step, step_loss


@dataclass(frozen=True)
class UnlearnSchedule:
    steps: int = 1000
    lr: float = 1e-4


def unlearn(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,  # [num_ws, w_dim], the latent to forget
    w_t: torch.Tensor,  # [num_ws, w_dim], its target
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
    schedule: UnlearnSchedule,
    seed: int,
    show_progress: bool = True,
    make_copy: Callable[[GeneratorAdapter], GeneratorAdapter] = trainable_copy,
) -> tuple[GeneratorAdapter, list[dict[str, float]]]:
    """Return the unlearned generator G_u and the per-step loss history."""
    rng = torch.Generator().manual_seed(seed)
    g_u = make_copy(g_s)
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=schedule.lr)
    history: list[dict[str, float]] = []
    bar = progress(schedule.steps, "unlearn", show_progress)
    for _ in bar:
        draws = draw_step(g_s, w_u, config, rng)
        losses = step_loss(g_u, g_s, w_u, w_t, draws, lpips, embed, config)
        history.append(take_step(optimizer, losses, bar))
    g_u.requires_grad_(False)
    return g_u, history
