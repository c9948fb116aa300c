"""The GUIDE objective's unlearning loop, shared by the guide and adapter methods.

G_s stays frozen; G_u = a copy whose trainable parameters alone receive gradients
(by default `loop.trainable_copy`: the synthesis backbone, EG3D's `backbone.synthesis`;
the adapter method passes a copy with adapters instead). Adam, as in the paper.
The per-kind methods and their dispatch live in `idunlearn.methods`; the unlearn job
that runs them, in `idunlearn.system`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from idunlearn.ewc import anchor_at
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loop import progress, take_step, trainable_copy
from idunlearn.losses import Embedder, LossConfig, Perceptual, draw_step, step_loss
from idunlearn.seeding import derive_seed


@dataclass(frozen=True)
class UnlearnSchedule:
    steps: int = 1000
    lr: float = 1e-4


# One identity's losses of one step on G_u, its draws taken from the step's generator.
StepTerm = Callable[[GeneratorAdapter, torch.Generator], dict[str, torch.Tensor]]


def guide_term(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    w_t: torch.Tensor,
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
) -> StepTerm:
    """GUIDE's objective for one identity: the step's draws, then L_total (`step_loss`)."""

    def term(g_u: GeneratorAdapter, rng: torch.Generator) -> dict[str, torch.Tensor]:
        draws = draw_step(g_s, w_u, config, rng)
        return step_loss(g_u, g_s, w_u, w_t, draws, lpips, embed, config)

    return term


def combine(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of several identities' losses, key by key (one identity: its own losses)."""
    if len(parts) == 1:
        return parts[0]
    return {key: torch.stack([part[key] for part in parts]).mean() for key in parts[0]}


def subset_picker(count: int, per_step: int | None, seed: int) -> Callable[[], list[int]]:
    """Which identities a step covers: all of them, or `per_step` of them drawn uniformly
    from their own seeded generator (the mean over a uniform subset has the same expected
    weight per identity as the mean over all)."""
    if per_step is None or per_step >= count:
        return lambda: list(range(count))
    rng = torch.Generator().manual_seed(derive_seed(seed, "subset"))
    return lambda: sorted(torch.randperm(count, generator=rng)[:per_step].tolist())


def train(
    g_u: GeneratorAdapter,
    terms: Sequence[StepTerm],
    config: LossConfig,
    schedule: UnlearnSchedule,
    seed: int,
    per_step: int | None = None,
    show_progress: bool = True,
) -> list[dict[str, float]]:
    """Train G_u's trainable parameters on the mean of the step's identity terms, plus
    lambda_ewc times the EWC penalty around where G_u starts (`ewc.anchor_at`, its Fisher
    drawn from a generator of its own, so that ewc = 0 leaves every draw as it was)."""
    rng = torch.Generator().manual_seed(seed)
    anchor = None
    if config.ewc > 0:
        fisher_rng = torch.Generator().manual_seed(derive_seed(seed, "fisher"))
        anchor = anchor_at(g_u, config.fisher_samples, fisher_rng)
    pick = subset_picker(len(terms), per_step, seed)
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=schedule.lr)
    history: list[dict[str, float]] = []
    bar = progress(schedule.steps, "unlearn", show_progress)
    for _ in bar:
        losses = combine([terms[i](g_u, rng) for i in pick()])
        if anchor is not None:
            losses["ewc"] = anchor.penalty()
            losses["total"] = losses["total"] + config.ewc * losses["ewc"]
        history.append(take_step(optimizer, losses, bar))
    g_u.requires_grad_(False)
    return history


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
    g_u = make_copy(g_s)
    terms = [guide_term(g_s, w_u, w_t, lpips, embed, config)]
    return g_u, train(g_u, terms, config, schedule, seed, show_progress=show_progress)
