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
from dataclasses import dataclass

import torch
from torch import nn

from idunlearn.loop import progress, take_step

Codes = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EncoderConfig:
    retain_size: int = 256  # other identities' training images, sampled once (seeded)
    batch_size: int = 16  # retain images per step
    forget_weight: float = 1.0  # weight of L_forget beside L_retain (the paper's alpha)

    def __post_init__(self) -> None:
        if self.retain_size < 1 or self.batch_size < 1 or self.forget_weight < 0:
            raise ValueError("retain_size and batch_size must be >= 1, forget_weight >= 0")

    @property
    def needs_retain_images(self) -> bool:
        return True


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
