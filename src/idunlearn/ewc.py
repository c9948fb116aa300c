"""Elastic weight consolidation (SUGAR's replacement for L_global): a diagonal Fisher of the
trained parameters and the penalty sum F (theta - theta_0)^2 that keeps them near theta_0.

The Fisher is that of a unit Gaussian on the tri-planes (the backbone features): the squared
gradient of MSE(features(w), features(w).detach() + noise) over seeded mapped latents w,
cameras and noise. Its expectation is the diagonal of J^T J, J the Jacobian of the features,
so it measures how much each parameter moves what every face's tri-planes are. It is scaled
to mean 1, so that one `ewc` weight means the same on any network size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from idunlearn.generators.base import GeneratorAdapter


def ewc_penalty(
    params: Sequence[torch.Tensor], anchors: Sequence[torch.Tensor], fisher: Sequence[torch.Tensor]
) -> torch.Tensor:
    """sum_i F_i (theta_i - theta_0,i)^2 over every entry of every parameter."""
    terms = [(f * (p - a).pow(2)).sum() for p, a, f in zip(params, anchors, fisher, strict=True)]
    return torch.stack(terms).sum()


def fisher_diagonal(
    generator: GeneratorAdapter, samples: int, rng: torch.Generator
) -> list[torch.Tensor]:
    """The diagonal Fisher of `generator`'s trainable parameters (mean 1), from `samples`
    seeded (z, camera, noise) draws; the parameters must require gradients."""
    params = generator.trainable_parameters()
    fisher = [torch.zeros_like(p) for p in params]
    frontal = generator.frontal_camera(1)
    for _ in range(samples):
        with torch.no_grad():
            w = generator.mapping(torch.randn(1, generator.z_dim, generator=rng), frontal)
        camera = generator.sample_train_cameras(1, rng)
        features = generator.synthesis(w, camera)["features"]
        noise = torch.randn(features.shape, generator=rng).to(features)
        loss = (features - (features.detach() + noise)).pow(2).mean()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for total, grad in zip(fisher, grads, strict=True):
            if grad is not None:
                total.add_(grad.detach().pow(2))
    count = sum(f.numel() for f in fisher)
    mean = sum(float(f.sum()) for f in fisher) / max(count, 1)
    return [f / mean if mean > 0 else f for f in fisher]  # the mean over samples, scaled


@dataclass(frozen=True)
class Anchor:
    """theta_0 and F of the parameters a loop trains: its penalty is `ewc_penalty`."""

    params: list[nn.Parameter]
    theta_0: list[torch.Tensor]
    fisher: list[torch.Tensor]

    def penalty(self) -> torch.Tensor:
        return ewc_penalty(self.params, self.theta_0, self.fisher)


def anchor_at(generator: GeneratorAdapter, samples: int, rng: torch.Generator) -> Anchor:
    """The anchor at the generator's current parameters (where an unlearning starts)."""
    params = generator.trainable_parameters()
    theta_0 = [p.detach().clone() for p in params]
    return Anchor(params, theta_0, fisher_diagonal(generator, samples, rng))
