"""Feature unlearning for pretrained GANs (arXiv 2303.05699), the feature being one identity.

Target identification (paper Sec. 3): e = mean(positive latents) - mean(negative latents),
normalised. Here the positives are neighbours of w_u, w_u + beta (w_r - w_u) with
beta ~ U(0, radius) and w_r a mapped latent, that the *loss* identity network still
recognises as the person (cosine to G_s(w_u)'s embedding above `id_threshold`); w_u itself
is always a positive. The negatives are random mapped latents. Projections are taken on the
flattened W+ latent, proj(w) = <w, e>; the threshold t defaults to the paper's choice, the
midpoint of the mean projections of positives and negatives.

Unlearning (paper eqs. 2-5): a latent with proj(w) > t is translated to
w_hat = w - (proj(w) - t) e and G_u(w) learns G_s(w_hat) with
alpha (L1 + 1 - MS-SSIM); any other latent is reconstructed, L1 to G_s(w).
Random mapped latents almost never carry one person's identity, so each step's batch is
[w_u, `num_near` fresh neighbours of w_u, `num_random` mapped latents]: w_u is trained
at every step, and the neighbours cover the identity around it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import UserError
from idunlearn.loop import progress, take_step, trainable_copy
from idunlearn.methods.base import (
    Context,
    Result,
    comparison_rng,
    generator_system,
    stored_latents,
)
from idunlearn.methods.options import MS_SSIM_WEIGHTS, FeatureConfig

Embedder = Callable[[torch.Tensor], torch.Tensor]
# --- MS-SSIM ------------------------------------------------------------------------------


def gaussian_window(size: int, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, valid padding, per channel."""
    c = x.shape[1]
    k = window.to(x)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim_terms(
    a: torch.Tensor, b: torch.Tensor, window: torch.Tensor, data_range: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample SSIM and its contrast-structure term cs (means over pixels and channels)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _blur(a, window), _blur(b, window)
    var_a = _blur(a * a, window) - mu_a**2
    var_b = _blur(b * b, window) - mu_b**2
    cov = _blur(a * b, window) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return (luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim(
    a: torch.Tensor,  # [B, C, H, W]
    b: torch.Tensor,
    data_range: float = 2.0,  # images in [-1, 1]
    scales: int = 3,
    window: int = 7,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Multi-scale SSIM per sample, [B]: prod_j cs_j^w_j (j < M) x ssim_M^w_M, 2x average
    pooling between scales, weights the first `scales` of Wang et al.'s renormalised.
    Negative terms are clamped to a small positive value (as pytorch-msssim's relu, but
    keeping the power differentiable)."""
    if min(a.shape[-2:]) // 2 ** (scales - 1) < window:
        raise UserError(
            f"{tuple(a.shape[-2:])} images are too small for {scales} scales of a {window} window"
        )
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales])
    weights = (weights / weights.sum()).to(a)
    kernel = gaussian_window(window, sigma)
    value = a.new_ones(len(a))
    for j in range(scales):
        ssim, cs = ssim_terms(a, b, kernel, data_range)
        term = ssim if j == scales - 1 else cs
        value = value * term.clamp_min(1e-6) ** weights[j]
        if j < scales - 1:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return value


# --- target direction and translation ----------------------------------------------------


def target_direction(positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """e = mean(positives) - mean(negatives), unit Frobenius norm over W+: [num_ws, w_dim]."""
    e = positives.mean(0) - negatives.mean(0)
    return e / e.norm().clamp_min(1e-12)


def projection(ws: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """<w, e> for a unit e, per latent: [B]."""
    return (ws * e[None]).flatten(1).sum(1)


def midpoint_threshold(pos_proj: torch.Tensor, neg_proj: torch.Tensor) -> float:
    """The paper's t: the average of the positives' and the negatives' mean projection."""
    return float((pos_proj.mean() + neg_proj.mean()) / 2)


def translate(ws: torch.Tensor, e: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(w_hat, hit): latents with proj > t moved by -(proj - t) e, the others unchanged."""
    proj = projection(ws, e)
    hit = proj > t
    shift = torch.where(hit, proj - t, torch.zeros_like(proj))
    return ws - shift[:, None, None] * e[None], hit


def neighbours(w_u: torch.Tensor, w_r: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """w_u + beta (w_r - w_u) per row of w_r: [B, num_ws, w_dim]."""
    return w_u[None] + beta[:, None, None] * (w_r - w_u[None])


def feature_loss(
    image_u: torch.Tensor,
    image_t: torch.Tensor,  # G_s(w_hat): translated where hit, G_s(w) elsewhere
    hit: torch.Tensor,  # [B] bool
    alpha: float,
    similarity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],  # MS-SSIM, [B]
) -> dict[str, torch.Tensor]:
    """Paper eq. 5 averaged over the batch: alpha (L1 + 1 - MS-SSIM) on hit latents, L1 on
    the others (L1 = mean absolute pixel difference)."""
    l1 = (image_u - image_t).abs().flatten(1).mean(1)
    hit_f = hit.to(l1)
    perceptual = 1 - similarity(image_u, image_t) if hit.any() else torch.zeros_like(l1)
    unlearn = hit_f * alpha * (l1 + perceptual)
    recon = (1 - hit_f) * l1
    return {"total": (unlearn + recon).mean(), "unlearn": unlearn.sum(), "recon": recon.sum()}


# --- the method ---------------------------------------------------------------------------


def draw_neighbours(
    g_s: GeneratorAdapter, w_u: torch.Tensor, n: int, radius: float, rng: torch.Generator
) -> torch.Tensor:
    z = torch.randn(n, g_s.z_dim, generator=rng).to(w_u)
    beta = (torch.rand(n, generator=rng) * radius).to(w_u)
    w_r = g_s.mapping(z, g_s.frontal_camera(n).to(w_u))
    return neighbours(w_u, w_r, beta)


@torch.no_grad()
def identify_target(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    embed: Embedder,
    config: FeatureConfig,
    rng: torch.Generator,
) -> tuple[torch.Tensor, float, dict[str, float]]:
    """e, t and a summary (positives kept, projections) from seeded positive/negative sets."""
    frontal = g_s.frontal_camera(1).to(w_u)
    candidates = draw_neighbours(g_s, w_u, config.num_positive, config.radius, rng)
    source = embed(g_s.synthesis(w_u[None], frontal)["image"])
    if len(candidates):
        images = g_s.synthesis(candidates, frontal.expand(len(candidates), -1))["image"]
        keep = F.cosine_similarity(embed(images), source, dim=1) > config.id_threshold
        candidates = candidates[keep]
    positives = torch.cat([w_u[None], candidates])
    z = torch.randn(config.num_negative, g_s.z_dim, generator=rng).to(w_u)
    negatives = g_s.mapping(z, frontal.expand(len(z), -1))
    e = target_direction(positives, negatives)
    pos_proj, neg_proj = projection(positives, e), projection(negatives, e)
    t = midpoint_threshold(pos_proj, neg_proj) if config.threshold is None else config.threshold
    info = {
        "positives": float(len(positives)),
        "threshold": t,
        "proj_w_u": float(projection(w_u[None], e)[0]),
        "proj_positive_mean": float(pos_proj.mean()),
        "proj_negative_mean": float(neg_proj.mean()),
    }
    return e, t, info


def unlearn_feature(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    embed: Embedder,
    config: FeatureConfig,
    steps: int,
    lr: float,
    rng: torch.Generator,
    show_progress: bool = True,
) -> tuple[GeneratorAdapter, list[dict[str, float]], torch.Tensor, dict[str, float]]:
    """G_u, the loss history, w_u's translated latent (its target) and the direction summary."""
    e, t, info = identify_target(g_s, w_u, embed, config, rng)
    similarity = lambda a, b: ms_ssim(  # noqa: E731
        a, b, scales=config.ms_ssim_scales, window=config.ms_ssim_window
    )
    g_u = trainable_copy(g_s)
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=lr)
    history: list[dict[str, float]] = []
    bar = progress(steps, "feature", show_progress)
    for _ in bar:
        camera = g_s.sample_train_cameras(1, rng).to(w_u)
        with torch.no_grad():
            near = draw_neighbours(g_s, w_u, config.num_near, config.radius, rng)
            z = torch.randn(config.num_random, g_s.z_dim, generator=rng).to(w_u)
            randoms = g_s.mapping(z, g_s.frontal_camera(len(z)).to(w_u))
            ws = torch.cat([w_u[None], near, randoms])
            w_hat, hit = translate(ws, e, t)
            cameras = camera.expand(len(ws), -1)
            target = g_s.synthesis(w_hat, cameras)["image"]
        image = g_u.synthesis(ws, cameras)["image"]
        losses = feature_loss(image, target, hit, config.alpha, similarity)
        history.append({**take_step(optimizer, losses, bar), "hits": float(hit.sum())})
    g_u.requires_grad_(False)
    w_target = translate(w_u[None], e, t)[0][0]
    return g_u, history, w_target, info


def unlearn(context: Context) -> Result:
    steps = context.schedule.steps
    g_u, history, w_target, info = unlearn_feature(
        context.g_s,
        context.w_u,
        context.loss_identity(),
        context.method.options,
        steps,
        context.schedule.lr,
        comparison_rng(context.seed),
    )
    meta = {"steps": steps, "direction": info, "history": history}
    return Result(g_u.trainable_state_dict(), meta, w_target)


system = generator_system
latents = stored_latents
