"""GUIDE (CVPR 2024): fine-tune the synthesis backbone so that w_u renders a target w_t.

The Table 1 rows (baseline, extrapolated, adjacency, guide) and the ablations are GUIDE
configurations: a target (w_avg, or UFO at distance d) and the loss weights. The loop
itself is `idunlearn.unlearning.unlearn`, shared with the adapter method.
"""

from __future__ import annotations

from idunlearn.methods.base import (
    Context,
    Result,
    generator_system,
    stored_latents,
)
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
