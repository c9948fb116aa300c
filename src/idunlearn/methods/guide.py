"""GUIDE (CVPR 2024): fine-tune the synthesis backbone so that w_u renders a target w_t.

The Table 1 rows (baseline, extrapolated, adjacency, guide) and the ablations are GUIDE
configurations: a target (w_avg, or UFO at distance d) and the loss weights. The loop
itself is `idunlearn.unlearning.unlearn`, shared with the adapter method.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loop import trainable_copy
from idunlearn.loss_config import LossConfig
from idunlearn.losses import Embedder, Perceptual
from idunlearn.methods.base import (
    Context,
    Result,
    generator_system,
    stored_latents,
)
from idunlearn.methods.options import GuideOptions
from idunlearn.targets import target_for_key
from idunlearn.unlearning import StepTerm, guide_term
from idunlearn.unlearning import unlearn as guide_loop


def unlearn(context: Context) -> Result:
    g_u, history = guide_loop(
        context.g_s,
        context.w_u,
        context.target(),
        context.lpips,
        context.loss_identity(),
        context.method.options.loss,
        context.schedule,
        context.seed,
    )
    # the loss reduction is named by the captions (paper.yaml: sum, as the reference code)
    meta = {
        "steps": context.schedule.steps,
        "history": history,
        "reduction": context.method.options.loss.reduction,
    }
    return Result(g_u.trainable_state_dict(), meta)


system = generator_system
latents = stored_latents


# --- many identities (idunlearn.multi): the kind's loss, starting G_u and step terms ------


def multi_loss(opts: GuideOptions) -> LossConfig:
    return opts.loss


def multi_start(g_s: GeneratorAdapter, opts: GuideOptions, seed: int) -> GeneratorAdapter:
    return trainable_copy(g_s)


def multi_terms(
    g_s: GeneratorAdapter,
    w_us: torch.Tensor,  # [K, num_ws, w_dim]: every identity seen so far
    trained: Sequence[int],  # which of them the steps cover
    lpips: Perceptual,
    embed: Embedder,
    opts: GuideOptions,
    seed: int,
) -> list[StepTerm]:
    """GUIDE's term of each trained identity, towards its own target (UFO or w_avg)."""
    w_avg = g_s.w_avg.detach()
    return [
        guide_term(
            g_s, w_us[i], target_for_key(w_us[i], w_avg, opts.target_key), lpips, embed, opts.loss
        )
        for i in trained
    ]
