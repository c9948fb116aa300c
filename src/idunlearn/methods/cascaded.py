"""Cascaded GAN unlearning (arXiv 2308.09881), adapted to forgetting one identity.

The paper unlearns images of a GAN in two cascaded phases:

1. *Unlearning phase*: the forgotten image's latent w_u is given a substitute target,
   and the generator is trained so that G_u(w_u) renders G_s(substitute). Substitutes:
   - `average`: w_avg;
   - `truncation`: w_avg + psi (w_u - w_avg);
   - `projection` (our documented choice for "the projection of the forgotten image onto
     the retained ones"): the nearest latent, in Frobenius norm over W+, among a seeded
     bank of mapped latents whose frontal G_s image the *loss* identity network does not
     match with G_s(w_u) (cosine below `id_threshold`); the least similar bank latent if
     every one is matched.
   The paper also trains the discriminator towards a fixed fake label on the unlearned
   images (and G against it). The synthetic world's generator has no discriminator (it
   is trained by regression) and `GeneratorAdapter` exposes none, so that adversarial
   term is skipped here; the config, the tables' captions and the report say so.
2. *Learning phase*, against over-unlearning:
   - `zero_shot`: G_u(w) reproduces the frozen G_s(w) on fresh mapped latents;
   - `few_shot`: G_u reconstructs real retain images, i.e. training images of other
     identities, at their dataset latents (the synthetic world's generator was fitted
     on the renderer codes, so mapping(code) is the image's latent; no inversion needed).

Both phases use pixel MSE + `perceptual_weight` x LPIPS, one camera draw per step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.loop import progress, take_step, trainable_copy
from idunlearn.methods.base import (
    Context,
    Result,
    comparison_rng,
    generator_system,
    stored_latents,
)
from idunlearn.methods.options import CascadedConfig

Embedder = Callable[[torch.Tensor], torch.Tensor]
Perceptual = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def truncation_substitute(w_u: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """w_avg + psi (w_u - w_avg); psi = 0 is the `average` substitute."""
    return w_avg + psi * (w_u - w_avg)


def projection_substitute(
    w_u: torch.Tensor,  # [num_ws, w_dim]
    bank: torch.Tensor,  # [N, num_ws, w_dim]
    similarity: torch.Tensor,  # [N], loss-ID cosine of each bank image to the source
    threshold: float,
) -> torch.Tensor:
    """The bank latent nearest to w_u (Frobenius over W+) among those not matched as the person;
    if the identity network matches every one (a weak network, a small bank), the least
    similar one."""
    allowed = similarity < threshold
    if not allowed.any():
        return bank[int(similarity.argmin())].clone()
    distance = (bank - w_u[None]).flatten(1).norm(dim=1)
    distance = torch.where(allowed, distance, torch.full_like(distance, float("inf")))
    return bank[int(distance.argmin())].clone()


def reconstruction(
    image_u: torch.Tensor, image_t: torch.Tensor, lpips: Perceptual, perceptual_weight: float
) -> torch.Tensor:
    """Per-sample pixel MSE + perceptual_weight x LPIPS: [B]."""
    mse = F.mse_loss(image_u, image_t, reduction="none").flatten(1).mean(1)
    if perceptual_weight == 0:
        return mse
    return mse + perceptual_weight * lpips(image_u, image_t).flatten()


@torch.no_grad()
def substitute_latent(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    embed: Embedder,
    config: CascadedConfig,
    rng: torch.Generator,
) -> torch.Tensor:
    """The configured substitute of w_u (the projection bank is drawn from `rng`)."""
    w_avg = g_s.w_avg.detach().to(w_u)
    if config.substitute == "average":
        return truncation_substitute(w_u, w_avg, 0.0)
    if config.substitute == "truncation":
        return truncation_substitute(w_u, w_avg, config.psi)
    frontal = g_s.frontal_camera(1).to(w_u)
    z = torch.randn(config.bank_size, g_s.z_dim, generator=rng).to(w_u)
    bank = g_s.mapping(z, frontal.expand(len(z), -1))
    source = embed(g_s.synthesis(w_u[None], frontal)["image"])
    images = g_s.synthesis(bank, frontal.expand(len(bank), -1))["image"]
    similarity = F.cosine_similarity(embed(images), source, dim=1)
    return projection_substitute(w_u, bank, similarity, config.id_threshold)


def unlearn_cascaded(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    lpips: Perceptual,
    embed: Embedder,
    config: CascadedConfig,
    lr: float,
    rng: torch.Generator,
    retain: dict[str, torch.Tensor] | None = None,  # few_shot: images, codes, yaw
    show_progress: bool = True,
) -> tuple[GeneratorAdapter, list[dict[str, float]], torch.Tensor]:
    """G_u after the unlearning then the learning phase, the loss history and the substitute."""
    if config.needs_retain_images and retain is None:
        raise ValueError("the few_shot learning phase needs retain images")
    w_sub = substitute_latent(g_s, w_u, embed, config, rng)
    g_u = trainable_copy(g_s)
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=lr)
    history: list[dict[str, float]] = []
    steps = config.unlearn_steps + config.learn_steps
    bar = progress(steps, "cascaded", show_progress)
    for step in bar:
        if step < config.unlearn_steps:  # unlearning phase: w_u -> G_s(substitute)
            camera = g_s.sample_train_cameras(1, rng).to(w_u)
            with torch.no_grad():
                target = g_s.synthesis(w_sub[None], camera)["image"]
            image = g_u.synthesis(w_u[None], camera)["image"]
        elif config.phase == "zero_shot":  # learning phase on samples of the frozen G_s
            z = torch.randn(config.batch_size, g_s.z_dim, generator=rng).to(w_u)
            camera = g_s.sample_train_cameras(config.batch_size, rng).to(w_u)
            with torch.no_grad():
                ws = g_s.mapping(z, g_s.frontal_camera(len(z)).to(w_u))
                target = g_s.synthesis(ws, camera)["image"]
            image = g_u.synthesis(ws, camera)["image"]
        else:  # learning phase on real retain images at their dataset latents
            idx = torch.randint(len(retain["images"]), (config.batch_size,), generator=rng)
            camera = retain["yaw"][idx].to(w_u)
            with torch.no_grad():
                ws = g_s.mapping(retain["codes"][idx].to(w_u), g_s.frontal_camera(len(idx)).to(w_u))
            target = retain["images"][idx].to(w_u)
            image = g_u.synthesis(ws, camera)["image"]
        loss = reconstruction(image, target, lpips, config.perceptual_weight).mean()
        record = take_step(optimizer, {"total": loss}, bar)
        history.append({**record, "phase": 0.0 if step < config.unlearn_steps else 1.0})
    g_u.requires_grad_(False)
    return g_u, history, w_sub


def unlearn(context: Context) -> Result:
    """The substitute, the retain sample and the training draws from one seeded rng."""
    config = context.method.options
    rng = comparison_rng(context.seed)
    retain = context.retain(config.retain_size, rng) if config.needs_retain_images else None
    g_u, history, w_target = unlearn_cascaded(
        context.g_s,
        context.w_u,
        context.lpips,
        context.loss_identity(),
        config,
        context.schedule.lr,
        rng,
        retain,
    )
    meta = {"steps": config.unlearn_steps + config.learn_steps, "history": history}
    return Result(g_u.trainable_state_dict(), meta, w_target)


system = generator_system
latents = stored_latents
