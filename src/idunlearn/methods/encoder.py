"""Image-to-image unlearning (arXiv 2402.00351) applied to the inversion encoder.

Only the encoder E is updated; the generator stays untouched. The forget set is the
identity's source image (Random: G_s(w_u) at the frontal camera), whose codes are pushed
towards the *frozen* encoder's code of a Gaussian noise image with the same per-channel
mean and std (drawn afresh each step); the retain set is a seeded sample of other
identities' training images, whose codes stay the frozen encoder's. Loss (L2 on W+ codes,
mean over elements): L_retain + forget_weight x L_forget.

With the generator untouched, the unlearned system is "encoder, then G_s": its latent of an
image is E_u(image), which is what evaluation measures (and why a re-inversion attack,
which bypasses E_u, must be part of the evaluation).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from idunlearn.backend import as_inversion_encoder, load_encoder_network
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import ArtefactError
from idunlearn.loop import progress, take_step
from idunlearn.methods.base import (
    Context,
    Encoder,
    Latents,
    Result,
    System,
    comparison_rng,
)
from idunlearn.methods.options import EncoderConfig

Codes = Callable[[torch.Tensor], torch.Tensor]


def gaussian_like(images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Noise images with each image's per-channel mean and (population) std."""
    flat = images.flatten(2)
    mean = flat.mean(2)[:, :, None, None]
    std = flat.std(2, unbiased=False)[:, :, None, None]
    return mean + std * torch.randn(images.shape, generator=rng).to(images)


def code_l2(codes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of W+ codes over all elements."""
    return (codes - targets).pow(2).mean()


def encoder_loss(
    forget_codes: torch.Tensor,
    forget_targets: torch.Tensor,
    retain_codes: torch.Tensor,
    retain_targets: torch.Tensor,
    forget_weight: float,
) -> dict[str, torch.Tensor]:
    forget = code_l2(forget_codes, forget_targets)
    retain = code_l2(retain_codes, retain_targets)
    return {"total": retain + forget_weight * forget, "forget": forget, "retain": retain}


def unlearn_encoder(
    encoder: nn.Module,  # forward(images, w_avg) -> W+ codes; left unchanged
    w_avg: torch.Tensor,
    forget_images: torch.Tensor,  # [F, 3, H, W]
    retain_images: torch.Tensor,  # [R, 3, H, W]
    config: EncoderConfig,
    steps: int,
    lr: float,
    rng: torch.Generator,
    show_progress: bool = True,
) -> tuple[nn.Module, list[dict[str, float]], torch.Tensor]:
    """E_u (eval mode: batch-norm statistics stay the pretrained ones), the loss history and
    the frozen encoder's code of the first noise image (the forget target shown in strips)."""
    e_s = encoder.eval().requires_grad_(False)
    e_u = copy.deepcopy(e_s).eval().requires_grad_(True)
    optimizer = torch.optim.Adam(e_u.parameters(), lr=lr)
    with torch.no_grad():
        retain_targets = e_s(retain_images, w_avg)
    history: list[dict[str, float]] = []
    first_target = None
    bar = progress(steps, "encoder", show_progress)
    for _ in bar:
        with torch.no_grad():
            forget_targets = e_s(gaussian_like(forget_images, rng), w_avg)
        if first_target is None:
            first_target = forget_targets[0].clone()
        idx = torch.randint(len(retain_images), (config.batch_size,), generator=rng)
        batch = torch.cat([forget_images, retain_images[idx.to(retain_images.device)]])
        codes = e_u(batch, w_avg)
        n = len(forget_images)
        losses = encoder_loss(
            codes[:n], forget_targets, codes[n:], retain_targets[idx], config.forget_weight
        )
        history.append(take_step(optimizer, losses, bar))
    e_u.requires_grad_(False)
    if first_target is None:
        with torch.no_grad():
            first_target = e_s(gaussian_like(forget_images, rng), w_avg)[0]
    return e_u, history, first_target


PREFIX = "encoder."  # the saved state holds the unlearned encoder's, keys prefixed


def unlearn(context: Context) -> Result:
    """E_u from the source image and a seeded retain sample; the generator is not saved."""
    config = context.method.options
    rng = comparison_rng(context.seed)
    retain = context.retain(config.retain_size, rng)
    dev = context.device
    e_u, history, w_target = unlearn_encoder(
        context.encoder_network(),
        context.g_s.w_avg.detach(),
        context.inversion["state_dict"]["source_image"][None].to(dev),
        retain["images"].to(dev),
        config,
        context.schedule.steps,
        context.schedule.lr,
        rng,
    )
    state = {f"{PREFIX}{k}": v for k, v in e_u.state_dict().items()}
    return Result(state, {"steps": context.schedule.steps, "history": history}, w_target)


def system(
    g_s: GeneratorAdapter,
    state: dict[str, torch.Tensor],
    options: EncoderConfig,
    encoder_path: str | None,
    device: torch.device,
) -> System:
    """G_u = G_s; the system's inverter before (E_s, the encoder file) and after (E_u)."""
    if encoder_path is None:
        raise ArtefactError("an encoder method's system needs the inversion encoder file")
    e_s = load_encoder_network(encoder_path, device)
    e_u = copy.deepcopy(e_s)
    encoder_state = {k[len(PREFIX) :]: v.to(device) for k, v in state.items()}
    try:
        e_u.load_state_dict(encoder_state, strict=True)
    except RuntimeError as err:
        raise ArtefactError(f"the unlearned encoder does not fit {encoder_path}") from err
    e_u.eval().requires_grad_(False)
    return System(g_s, g_s, as_inversion_encoder(e_s, g_s), as_inversion_encoder(e_u, g_s))


@torch.no_grad()
def encoded(inversion: dict[str, torch.Tensor], encoder: Encoder) -> tuple[torch.Tensor, ...]:
    """The encoder's latents of the source image and of the other images (Random: the
    source is G_s(w_u), frontal; no other images)."""
    source = encoder(inversion["source_image"][None])[0]
    if len(inversion["w_others"]) == 0:
        return source, inversion["w_others"]
    if "other_images" not in inversion:
        raise ArtefactError("the inversion file has no other_images: re-run its invert job")
    return source, encoder(inversion["other_images"])


def latents(system: System, inversion: dict[str, torch.Tensor]) -> Latents:
    """The same system before and after: G_s(E_s(x)) against G_s(E_u(x))."""
    return Latents(*encoded(inversion, system.encoder_s), *encoded(inversion, system.encoder_u))
