"""GUIDE's losses (paper eqs. 4-9), computed for one unlearning step in batched passes.

All latents of a step go through the trained generator in one forward pass
([w_u, w_u + delta_1.., w_r1..]) and their targets through the frozen one in
another ([w_t, w_t + delta_1.., w_r1..]); the per-sample terms are then picked
out of the batch. The paper's reference code runs one batch-1 pass per term;
`bench/unlearning_step.py` keeps that form to check and time this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loss_config import LossConfig

Embedder = Callable[[torch.Tensor], torch.Tensor]  # images in [-1, 1] -> unit-norm embeddings
Perceptual = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # LPIPS: -> [B, 1, 1, 1]


@dataclass(frozen=True)
class StepDraws:
    """The random draws of one step, shared by every term: camera, adjacency offsets, w_r."""

    camera: torch.Tensor  # [1, camera_dim]
    deltas: torch.Tensor  # [N_a, num_ws, w_dim]
    w_global: torch.Tensor  # [N_g, num_ws, w_dim]


def draw_step(
    generator: GeneratorAdapter,
    w_u: torch.Tensor,
    config: LossConfig,
    rng: torch.Generator,
) -> StepDraws:
    """Draw in the reference code's order: camera, then (z, alpha) per adjacency draw,
    then z per global draw, all from one seeded generator."""
    camera = generator.sample_train_cameras(1, rng)
    deltas = []
    frontal = generator.frontal_camera(1)
    with torch.no_grad():
        for _ in range(config.adj_draws):
            w_r = generator.mapping(torch.randn(1, generator.z_dim, generator=rng), frontal)[0]
            alpha = float(torch.rand((), generator=rng)) * config.alpha_max
            direction = w_r - w_u
            deltas.append(alpha * direction / direction.norm())
        globals_ = [
            generator.mapping(torch.randn(1, generator.z_dim, generator=rng), frontal)[0]
            for _ in range(config.global_draws)
        ]
    empty = w_u.new_zeros(0, *w_u.shape)
    return StepDraws(
        camera=camera,
        deltas=torch.stack(deltas) if deltas else empty,
        w_global=torch.stack(globals_) if globals_ else empty,
    )


def local_terms(
    out_u: dict[str, torch.Tensor],
    out_s: dict[str, torch.Tensor],
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
) -> torch.Tensor:
    """Per-sample local loss (eq. 4): feature MSE + LPIPS + (1 - cos) of identity embeddings."""
    feature = (out_u["features"] - out_s["features"]).pow(2).flatten(1).mean(1)
    perceptual = lpips(out_u["image"], out_s["image"]).flatten()
    identity = 1 - F.cosine_similarity(embed(out_u["image"]), embed(out_s["image"]).detach(), dim=1)
    return (
        config.feature_weight * feature
        + config.lpips_weight * perceptual
        + config.id_weight * identity
    )


def reduce(values: torch.Tensor, how: str) -> torch.Tensor:
    if values.numel() == 0:
        return values.new_zeros(())
    return values.mean() if how == "mean" else values.sum()


def step_loss(
    g_u: GeneratorAdapter,
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    w_t: torch.Tensor,
    draws: StepDraws,
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
) -> dict[str, torch.Tensor]:
    """L_total = L_local + lambda_adj L_adj + lambda_global L_global, in two batched passes."""
    n_adj, n_glob = len(draws.deltas), len(draws.w_global)
    sources = torch.cat([w_u[None], w_u[None] + draws.deltas, draws.w_global])
    targets = torch.cat([w_t[None], w_t[None] + draws.deltas, draws.w_global])
    camera = draws.camera.expand(len(sources), -1)
    out_u = g_u.synthesis(sources, camera)
    with torch.no_grad():
        out_s = g_s.synthesis(targets, camera)
    paired = slice(0, 1 + n_adj)
    local = local_terms(
        {k: v[paired] for k, v in out_u.items()},
        {k: v[paired] for k, v in out_s.items()},
        lpips,
        embed,
        config,
    )
    glob = slice(1 + n_adj, 1 + n_adj + n_glob)
    global_terms = (
        lpips(out_u["image"][glob], out_s["image"][glob]).flatten()
        if n_glob
        else local.new_zeros(0)
    )
    l_local = local[0]
    l_adj = reduce(local[1:], config.reduction)
    l_global = reduce(global_terms, config.reduction)
    total = l_local + config.adj_weight * l_adj + config.global_weight * l_global
    return {"total": total, "local": l_local, "adj": l_adj, "global": l_global}
