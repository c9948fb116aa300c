"""SUGAR (WACV 2026, arXiv 2512.06562): many identities, each with its own learned target.

A shared trigger network f, trained first on the frozen G_s, gives every identity its own
target w_t = w_avg - d f(w_u - w_avg) / ||f(w_u - w_avg)||_F (d = 20). f is residual with a
zero last layer, so before training every target is GUIDE's UFO target at distance d. Its
training (ours: SUGAR's release does not run) makes G_s(target) look like someone else to
the loss identity network and the targets of different latents unlike each other. G_u is
then trained with GUIDE's local and adjacency terms towards f's targets (the adjacency
target is f at w_u + delta, not w_t + delta) and, instead of L_global, an EWC penalty with
a diagonal Fisher (`idunlearn.ewc`) around the generator it starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from idunlearn.losses import LossConfig
from idunlearn.methods import guide

KIND = "sugar"
# GUIDE's loss keys without L_global (EWC replaces it)
LOSS_KEYS = tuple(k for k in guide.LOSS_KEYS if k not in ("global_weight", "num_global"))
OWN_KEYS = ("d", "trigger_width", "trigger_steps", "trigger_lr", "trigger_batch")
KEYS = (*OWN_KEYS, *LOSS_KEYS)
# SUGAR's objective unless the entry says otherwise (the `loss` block has no weights)
LOSS_DEFAULTS = {"adj_weight": 1.0, "ewc": 1.0}


@dataclass(frozen=True)
class Options:
    d: float = 20.0  # distance of every target from w_avg (SUGAR: 20)
    trigger_width: int = 64  # hidden units of the trigger network's residual MLP
    trigger_steps: int = 50  # its training steps on the frozen G_s
    trigger_lr: float = 1e-3  # its Adam learning rate
    trigger_batch: int = 4  # fresh mapped latents per trigger step, beside the identities'
    loss: LossConfig = LossConfig(**LOSS_DEFAULTS)

    def __post_init__(self) -> None:
        if self.trigger_width < 1 or self.trigger_steps < 0 or self.trigger_batch < 0:
            raise ValueError("trigger_width must be >= 1, trigger_steps and trigger_batch >= 0")
        if self.loss.global_weight != 0:
            raise ValueError("sugar has no L_global (its EWC penalty replaces it)")

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({guide.LOSS_IDENTITY})


def options(entry: dict[str, Any], shared: dict[str, Any]) -> Options:
    """Own keys and GUIDE's loss keys (but L_global's); the `loss` block fills the rest."""
    loss = {k: entry.get(k, LOSS_DEFAULTS.get(k, shared.get(k))) for k in LOSS_KEYS}
    own = {k: entry[k] for k in OWN_KEYS if k in entry}
    return Options(loss=LossConfig(**{k: v for k, v in loss.items() if v is not None}), **own)


def entry(opts: Options) -> dict[str, Any]:
    """The entry that `options` reads back to `opts`, every key resolved."""
    floats = {f.name for f in fields(LossConfig) if isinstance(f.default, float)}
    loss = {k: getattr(opts.loss, k) for k in LOSS_KEYS}
    own = {k: getattr(opts, k) for k in OWN_KEYS}
    return {
        **{k: float(v) if k in floats else v for k, v in loss.items()},
        **own,
        "d": float(opts.d),
        "trigger_lr": float(opts.trigger_lr),
    }


def with_loss(opts: Options, **changes: Any) -> Options:
    return replace(opts, loss=replace(opts.loss, **changes))


# --- the torch side -----------------------------------------------------------------------

import torch  # noqa: E402  (the options above stay importable without torch)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from idunlearn.generators.base import GeneratorAdapter  # noqa: E402
from idunlearn.loop import progress, trainable_copy  # noqa: E402
from idunlearn.losses import Embedder, Perceptual, draw_step, local_terms, reduce  # noqa: E402
from idunlearn.methods.base import Context, Result, generator_system, stored_latents  # noqa: E402
from idunlearn.seeding import derive_seed  # noqa: E402
from idunlearn.unlearning import StepTerm, train  # noqa: E402


class TriggerNet(nn.Module):
    """f(x) = x + B(leaky(A(x))) on the flattened offset x = w - w_avg; B starts at zero."""

    def __init__(self, num_ws: int, w_dim: int, width: int, rng: torch.Generator) -> None:
        super().__init__()
        size = num_ws * w_dim
        self.inp = nn.Linear(size, width)
        self.out = nn.Linear(width, size)
        with torch.no_grad():
            self.inp.weight.copy_(torch.randn(width, size, generator=rng) * (2.0 / size) ** 0.5)
            for param in (self.inp.bias, self.out.weight, self.out.bias):
                param.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return (flat + self.out(F.leaky_relu(self.inp(flat), 0.2))).view_as(x)


@dataclass(frozen=True)
class Targets:
    """The per-identity target map w -> w_avg - d f(w - w_avg) / ||f(w - w_avg)||_F."""

    net: TriggerNet
    w_avg: torch.Tensor
    d: float

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:  # [B, num_ws, w_dim]
        direction = self.net(ws - self.w_avg)
        norm = direction.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
        return self.w_avg - self.d * direction / norm


def trigger_loss(
    g_s: GeneratorAdapter, targets: Targets, ws: torch.Tensor, embed: Embedder
) -> torch.Tensor:
    """Mean cos(E(G_s(w)), E(G_s(target(w)))) plus the mean cosine between the targets'
    embeddings of different latents: low when every target is someone else, and its own."""
    camera = g_s.frontal_camera(len(ws))
    with torch.no_grad():
        source = embed(g_s.synthesis(ws, camera)["image"])
    target = embed(g_s.synthesis(targets(ws), camera)["image"])
    away = F.cosine_similarity(source, target, dim=1).mean()
    if len(ws) < 2:
        return away
    gram = target @ target.T
    off = ~torch.eye(len(ws), dtype=torch.bool, device=gram.device)
    return away + gram[off].mean()


def train_targets(
    g_s: GeneratorAdapter, w_us: torch.Tensor, embed: Embedder, opts: Options, seed: int
) -> Targets:
    """The trigger network trained on the frozen G_s, on the identities' latents and fresh
    mapped ones per step (seeded from `seed`); returned frozen."""
    rng = torch.Generator().manual_seed(derive_seed(seed, KIND, "trigger"))
    net = TriggerNet(g_s.num_ws, g_s.w_dim, opts.trigger_width, rng).to(w_us.device)
    targets = Targets(net, g_s.w_avg.detach(), opts.d)
    optimizer = torch.optim.Adam(net.parameters(), lr=opts.trigger_lr)
    frontal = g_s.frontal_camera(opts.trigger_batch)
    for _ in progress(opts.trigger_steps, "trigger"):
        with torch.no_grad():
            z = torch.randn(opts.trigger_batch, g_s.z_dim, generator=rng).to(w_us.device)
            fresh = g_s.mapping(z, frontal)
        loss = trigger_loss(g_s, targets, torch.cat([w_us, fresh]), embed)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    net.requires_grad_(False)
    return targets


def sugar_term(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    targets: Targets,
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
) -> StepTerm:
    """One identity's local + adjacency terms towards the trigger's targets."""

    def term(g_u: GeneratorAdapter, rng: torch.Generator) -> dict[str, torch.Tensor]:
        draws = draw_step(g_s, w_u, config, rng)
        sources = torch.cat([w_u[None], w_u[None] + draws.deltas])
        camera = draws.camera.expand(len(sources), -1)
        out_u = g_u.synthesis(sources, camera)
        with torch.no_grad():
            out_s = g_s.synthesis(targets(sources), camera)
        local = local_terms(out_u, out_s, lpips, embed, config)
        l_adj = reduce(local[1:], config.reduction)
        total = local[0] + config.adj_weight * l_adj
        return {"total": total, "local": local[0], "adj": l_adj}

    return term


def unlearn(context: Context) -> Result:
    """One identity: the trigger trained on its latent, then the SUGAR objective."""
    opts = context.method.options
    embed = context.loss_identity()
    w_u = context.w_u
    targets = train_targets(context.g_s, w_u[None], embed, opts, context.seed)
    g_u = trainable_copy(context.g_s)
    term = sugar_term(context.g_s, w_u, targets, context.lpips, embed, opts.loss)
    history = train(g_u, [term], opts.loss, context.schedule, context.seed)
    meta = {"steps": context.schedule.steps, "history": history, "reduction": opts.loss.reduction}
    return Result(g_u.trainable_state_dict(), meta, targets(w_u[None])[0])


system = generator_system
latents = stored_latents
