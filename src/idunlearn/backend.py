"""Load the networks a step needs from their files, whatever generator family they are.

Method code sees a GeneratorAdapter and plain callables (embedders, encoder,
feature extractor); this module is the one place that knows which files hold
which network. The synthetic world is the family implemented so far.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.generators.synthetic import load_generator as load_synthetic_generator
from idunlearn.perceptual import build_lpips
from idunlearn.world.build import load_encoder, load_feature_net, load_identity_net

Images = Callable[[torch.Tensor], torch.Tensor]


def load_generator(path: str) -> GeneratorAdapter:
    generator = load_synthetic_generator(path)
    generator.requires_grad_(False)
    return generator


def load_embedder(path: str) -> Images:
    """Identity network -> images in [-1, 1] to unit-norm embeddings."""
    return load_identity_net(path)


def load_encoder_network(path: str) -> torch.nn.Module:
    """The inversion encoder as a module, forward(images, w_avg) -> W+ (eval, frozen)."""
    return load_encoder(path)


def as_inversion_encoder(encoder: torch.nn.Module, generator: GeneratorAdapter) -> Images:
    """An encoder module as a callable images -> W+ latents of `generator`."""
    w_avg = generator.w_avg.detach()
    return lambda images: encoder(images, w_avg)


def load_inversion_encoder(path: str, generator: GeneratorAdapter) -> Images:
    return as_inversion_encoder(load_encoder_network(path), generator)


def load_features(path: str) -> Images:
    return load_feature_net(path).features


def load_lpips(
    net: str, random_backbone: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return build_lpips(net=net, random_backbone=random_backbone)
