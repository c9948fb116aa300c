"""GUIDE (CVPR 2024): fine-tune the synthesis backbone so that w_u renders a target w_t.

The Table 1 rows (baseline, extrapolated, adjacency, guide) and the ablations are GUIDE
configurations: a target (w_avg, or UFO at distance d) and the loss weights. The loop
itself is `idunlearn.unlearning.unlearn`, shared with the adapter method.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from idunlearn.losses import LossConfig
from idunlearn.methods.base import (
    LOSS_IDENTITY,
    TARGET,
    Context,
    Result,
    generator_system,
    stored_latents,
)
from idunlearn.unlearning import unlearn as guide_loop

KIND = "guide"
LOSS_KEYS = tuple(f.name for f in fields(LossConfig))
TARGETS = ("average", "ufo")


@dataclass(frozen=True)
class Options:
    target: str = "ufo"  # "average" (w_avg) or "ufo" (at distance d)
    d: float = 30.0  # UFO distance (ignored for "average")
    loss: LossConfig = LossConfig()

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({TARGET, LOSS_IDENTITY})

    @property
    def target_key(self) -> str:
        return "average" if self.target == "average" else f"ufo_d{self.d:g}"

    @property
    def job_key(self) -> tuple:
        """What the job's output depends on: ablation rows that coincide with a Table 1 row
        (alpha_max = 0, L_local alone, d = 0 are the baseline) compare equal."""
        target = self.target_key if self.target == "ufo" and self.d != 0 else "average"
        return (target, effective(self.loss))


KEYS = ("target", "d", *LOSS_KEYS)


def options(entry: dict[str, Any], shared: dict[str, Any]) -> Options:
    """Target, d and loss keys of an entry; the `loss` block (`shared`) fills the rest."""
    loss = {k: entry.get(k, shared.get(k)) for k in LOSS_KEYS}
    return Options(
        target=entry.get("target", "ufo"),
        d=float(entry.get("d", shared.get("d", 30.0))),
        loss=LossConfig(**{k: v for k, v in loss.items() if v is not None}),
    )


def entry(opts: Options) -> dict[str, Any]:
    """The entry that `options` reads back to `opts`, every key resolved (weights as
    floats, so `alpha_max: 15` and `15.0` give the same settings)."""
    loss = {k: getattr(opts.loss, k) for k in LOSS_KEYS}
    floats = {f.name for f in fields(LossConfig) if isinstance(f.default, float)}
    return {
        "target": opts.target,
        "d": opts.d,
        **{k: float(loss[k]) if k in floats else loss[k] for k in loss},
    }


def effective(loss: LossConfig) -> LossConfig:
    """The loss with settings of switched-off terms reset, so equal objectives compare equal."""
    default = LossConfig()
    if loss.adj_weight == 0:
        loss = replace(loss, alpha_max=default.alpha_max, num_adj=default.num_adj)
    if loss.global_weight == 0:
        loss = replace(loss, num_global=default.num_global)
    if loss.ewc == 0:
        loss = replace(loss, fisher_samples=default.fisher_samples)
    if loss.adj_weight == 0 and loss.global_weight == 0:
        loss = replace(loss, reduction=default.reduction)
    return loss


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
