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

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loop import progress, trainable_copy
from idunlearn.loss_config import LossConfig
from idunlearn.losses import Embedder, Perceptual, draw_step, local_terms, reduce
from idunlearn.methods.base import Context, Result, generator_system, stored_latents
from idunlearn.methods.options import SugarOptions
from idunlearn.seeding import derive_seed
from idunlearn.unlearning import StepTerm, train


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
    g_s: GeneratorAdapter, w_us: torch.Tensor, embed: Embedder, opts: SugarOptions, seed: int
) -> Targets:
    """The trigger network trained on the frozen G_s, on the identities' latents and fresh
    mapped ones per step (seeded from `seed`); returned frozen."""
    rng = torch.Generator().manual_seed(derive_seed(seed, "sugar", "trigger"))
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


# --- many identities (idunlearn.multi): one trigger for every identity seen so far -------


def multi_loss(opts: SugarOptions) -> LossConfig:
    return opts.loss


def multi_start(g_s: GeneratorAdapter, opts: SugarOptions, seed: int) -> GeneratorAdapter:
    return trainable_copy(g_s)


def multi_terms(
    g_s: GeneratorAdapter,
    w_us: torch.Tensor,
    trained: Sequence[int],
    lpips: Perceptual,
    embed: Embedder,
    opts: SugarOptions,
    seed: int,
) -> list[StepTerm]:
    """The trigger trained on every identity seen so far; SUGAR's term of each trained one."""
    targets = train_targets(g_s, w_us, embed, opts, seed)
    return [sugar_term(g_s, w_us[i], targets, lpips, embed, opts.loss) for i in trained]
