"""What the config can say about each kind of method, without torch.

The Snakefile reads the methods at parse time, for every Snakemake call and every SLURM
job; importing the kinds' torch code there cost ~9 s per call. So each kind's options
(dataclasses whose defaults are the papers'), the keys a config entry may have, and how an
entry becomes options and back live here; the kinds' modules hold the unlearning itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from idunlearn.io import UserError
from idunlearn.loss_config import LossConfig

# What an unlearn job may read besides G_s, the inversion and LPIPS.
TARGET, LOSS_IDENTITY = "target", "loss_identity"
RETAIN_IMAGES, ENCODER = "retain_images", "encoder"


@dataclass(frozen=True)
class Method:
    """A configured method: its name, kind, the kind's options and an optional lr."""

    name: str
    kind: str
    options: Any  # the kind module's Options
    lr: float | None = None  # overrides the unlearn schedule's learning rate

    @property
    def needs(self) -> frozenset[str]:
        return self.options.needs

    @property
    def target_key(self) -> str:
        """The target file the method's jobs read: w_t for the GUIDE objective's kinds;
        the others make their own target and read `average` only for the evaluation strip."""
        return getattr(self.options, "target_key", "average")

    @property
    def needs_retain_images(self) -> bool:
        return RETAIN_IMAGES in self.needs

    @property
    def needs_encoder(self) -> bool:
        return ENCODER in self.needs


# --- guide ---------------------------------------------------------------------------------


LOSS_KEYS = tuple(f.name for f in fields(LossConfig))
TARGETS = ("average", "ufo")


@dataclass(frozen=True)
class GuideOptions:
    target: str = "ufo"  # "average" (w_avg) or "ufo" (at distance d)
    d: float = 30.0  # UFO distance (ignored for "average")
    loss: LossConfig = LossConfig()

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise UserError(f"target must be one of {TARGETS}, got {self.target!r}")

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


GUIDE_KEYS = ("target", "d", *LOSS_KEYS)
EWC_KEYS = ("ewc", "fisher_samples")


def guide_options(entry: dict[str, Any], shared: dict[str, Any]) -> GuideOptions:
    """Target, d and loss keys of an entry; the `loss` block (`shared`) fills the rest."""
    loss = {k: entry.get(k, shared.get(k)) for k in LOSS_KEYS}
    return GuideOptions(
        target=entry.get("target", "ufo"),
        d=float(entry.get("d", shared.get("d", 30.0))),
        loss=LossConfig(**{k: v for k, v in loss.items() if v is not None}),
    )


def guide_entry(opts: GuideOptions) -> dict[str, Any]:
    """The entry that `options` reads back to `opts`, every key resolved (weights as
    floats, so `alpha_max: 15` and `15.0` give the same settings)."""
    loss = {k: getattr(opts.loss, k) for k in LOSS_KEYS}
    if opts.loss.ewc == 0:  # off: the settings of jobs from before EWC existed, unchanged
        loss = {k: v for k, v in loss.items() if k not in EWC_KEYS}
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


# --- cascaded ------------------------------------------------------------------------------


SUBSTITUTES = ("average", "truncation", "projection")
PHASES = ("zero_shot", "few_shot")


@dataclass(frozen=True)
class CascadedConfig:
    substitute: str = "average"  # average | truncation | projection
    psi: float = 0.5  # truncation: w_avg + psi (w_u - w_avg)
    bank_size: int = 256  # projection: mapped latents to choose the substitute from
    id_threshold: float = 0.5  # projection: loss-ID cosine below which a latent is not the person
    phase: str = "zero_shot"  # learning phase: zero_shot (G_s samples) | few_shot (real images)
    unlearn_steps: int = 50  # steps of the unlearning phase
    learn_steps: int = 50  # steps of the learning phase, after it
    batch_size: int = 4  # latents (zero_shot) or images (few_shot) per learning step
    retain_size: int = 256  # few_shot: real retain images sampled once
    perceptual_weight: float = 1.0  # LPIPS beside the pixel MSE

    def __post_init__(self) -> None:
        if self.substitute not in SUBSTITUTES:
            raise UserError(f"substitute must be one of {SUBSTITUTES}, got {self.substitute!r}")
        if self.phase not in PHASES:
            raise UserError(f"phase must be one of {PHASES}, got {self.phase!r}")
        if self.unlearn_steps < 0 or self.learn_steps < 0 or self.batch_size < 1:
            raise UserError("unlearn_steps and learn_steps must be >= 0, batch_size >= 1")

    @property
    def needs_retain_images(self) -> bool:
        return self.phase == "few_shot"

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({LOSS_IDENTITY, *([RETAIN_IMAGES] if self.needs_retain_images else [])})


# --- feature -------------------------------------------------------------------------------


# Wang et al. 2003, the five scales' exponents; fewer scales use the first ones, renormalised.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass(frozen=True)
class FeatureConfig:
    num_positive: int = 64  # candidate neighbours of w_u for the positive set
    num_negative: int = 64  # random mapped latents: the negative set
    radius: float = 0.3  # neighbours: w_u + beta (w_r - w_u), beta ~ U(0, radius)
    id_threshold: float = 0.5  # a neighbour is positive if its loss-ID cosine is above
    threshold: float | None = None  # t; None: midpoint of mean projections (paper)
    alpha: float = 1.0  # weight of the unlearning terms (paper eq. 5)
    num_near: int = 3  # fresh neighbours of w_u per step, beside w_u itself
    num_random: int = 4  # mapped latents per step
    ms_ssim_scales: int = 3  # 64 px images: 3 scales (the standard 5 need > 160 px)
    ms_ssim_window: int = 7  # Gaussian window side (standard 11)

    def __post_init__(self) -> None:
        if self.num_positive < 0 or self.num_negative < 1:
            raise UserError("num_positive must be >= 0 and num_negative >= 1")
        if not 1 <= self.ms_ssim_scales <= len(MS_SSIM_WEIGHTS):
            raise UserError(f"ms_ssim_scales must be in 1..{len(MS_SSIM_WEIGHTS)}")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({LOSS_IDENTITY})


# --- encoder -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderConfig:
    retain_size: int = 256  # other identities' training images, sampled once (seeded)
    batch_size: int = 16  # retain images per step
    forget_weight: float = 1.0  # weight of L_forget beside L_retain (the paper's alpha)

    def __post_init__(self) -> None:
        if self.retain_size < 1 or self.batch_size < 1 or self.forget_weight < 0:
            raise UserError("retain_size and batch_size must be >= 1, forget_weight >= 0")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({RETAIN_IMAGES, ENCODER})


# --- adapter -------------------------------------------------------------------------------


ADAPTER_OWN_KEYS = ("width", "stages", "ode_steps", "strength", "sweep")
ADAPTER_KEYS = (*GUIDE_KEYS, *ADAPTER_OWN_KEYS)
# GUIDE's full objective unless the entry says otherwise (the `loss` block has no weights)
ADAPTER_OBJECTIVE = {"target": "ufo", "adj_weight": 1.0, "global_weight": 1.0}


@dataclass(frozen=True)
class AdapterOptions:
    objective: GuideOptions = GuideOptions()  # target, d and loss of the GUIDE objective
    width: int = 16  # hidden channels of each adapter's 1x1-conv bottleneck
    stages: tuple[str, ...] | None = None  # adapter_stages() names; None: every stage
    ode_steps: int = 4  # Euler steps of the integration over [0, strength]
    strength: float = 1.0  # integration time T at evaluation (training: T = 1)
    sweep: tuple[float, ...] = field(default=(0.0, 0.25, 0.5, 0.75, 1.0))  # strength sweep

    def __post_init__(self) -> None:
        if self.width < 1 or self.ode_steps < 1:
            raise UserError("width and ode_steps must be >= 1")
        if self.strength < 0 or any(s < 0 for s in self.sweep):
            raise UserError("strength and the sweep's strengths must be >= 0")
        if self.stages is not None:
            object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "sweep", tuple(float(s) for s in self.sweep))

    @property
    def needs(self) -> frozenset[str]:
        return self.objective.needs

    @property
    def target_key(self) -> str:
        return self.objective.target_key


def adapter_options(entry: dict[str, Any], shared: dict[str, Any]) -> AdapterOptions:
    """The adapter's own keys, and GUIDE's keys for its objective."""
    objective = {**ADAPTER_OBJECTIVE, **{k: v for k, v in entry.items() if k in GUIDE_KEYS}}
    own = {k: v for k, v in entry.items() if k in ADAPTER_OWN_KEYS}
    return AdapterOptions(objective=guide_options(objective, shared), **own)


def adapter_entry(opts: AdapterOptions) -> dict[str, Any]:
    own = {k: getattr(opts, k) for k in ADAPTER_OWN_KEYS}
    own["stages"] = None if opts.stages is None else list(opts.stages)
    return {**guide_entry(opts.objective), **own, "sweep": list(opts.sweep)}


# --- sugar --------------------------------------------------------------------------------

# GUIDE's loss keys without L_global (EWC replaces it)
SUGAR_LOSS_KEYS = tuple(k for k in LOSS_KEYS if k not in ("global_weight", "num_global"))
SUGAR_OWN_KEYS = ("d", "trigger_width", "trigger_steps", "trigger_lr", "trigger_batch")
SUGAR_KEYS = (*SUGAR_OWN_KEYS, *SUGAR_LOSS_KEYS)
# SUGAR's objective unless the entry says otherwise (the `loss` block has no weights)
SUGAR_LOSS_DEFAULTS = {"adj_weight": 1.0, "ewc": 1.0}


@dataclass(frozen=True)
class SugarOptions:
    d: float = 20.0  # distance of every target from w_avg (SUGAR: 20)
    trigger_width: int = 64  # hidden units of the trigger network's residual MLP
    trigger_steps: int = 50  # its training steps on the frozen G_s
    trigger_lr: float = 1e-3  # its Adam learning rate
    trigger_batch: int = 4  # fresh mapped latents per trigger step, beside the identities'
    loss: LossConfig = LossConfig(**SUGAR_LOSS_DEFAULTS)

    def __post_init__(self) -> None:
        if self.trigger_width < 1 or self.trigger_steps < 0 or self.trigger_batch < 0:
            raise UserError("trigger_width must be >= 1, trigger_steps and trigger_batch >= 0")
        if self.loss.global_weight != 0:
            raise UserError("sugar has no L_global (its EWC penalty replaces it)")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({LOSS_IDENTITY})


def sugar_options(entry: dict[str, Any], shared: dict[str, Any]) -> SugarOptions:
    """Own keys and GUIDE's loss keys (but L_global's); the `loss` block fills the rest."""
    loss = {k: entry.get(k, SUGAR_LOSS_DEFAULTS.get(k, shared.get(k))) for k in SUGAR_LOSS_KEYS}
    own = {k: entry[k] for k in SUGAR_OWN_KEYS if k in entry}
    return SugarOptions(loss=LossConfig(**{k: v for k, v in loss.items() if v is not None}), **own)


def sugar_entry(opts: SugarOptions) -> dict[str, Any]:
    """The entry that `options` reads back to `opts`, every key resolved."""
    floats = {f.name for f in fields(LossConfig) if isinstance(f.default, float)}
    loss = {k: getattr(opts.loss, k) for k in SUGAR_LOSS_KEYS}
    own = {k: getattr(opts, k) for k in SUGAR_OWN_KEYS}
    return {
        **{k: float(v) if k in floats else v for k, v in loss.items()},
        **own,
        "d": float(opts.d),
        "trigger_lr": float(opts.trigger_lr),
    }


def with_loss(opts: SugarOptions, **changes: Any) -> SugarOptions:
    return replace(opts, loss=replace(opts.loss, **changes))
