"""A hand-checkable generator for the method tests: linear, 2 x 2 latents, 2 x 2 images."""

from __future__ import annotations

import torch
from torch import nn

from idunlearn.generators.base import GeneratorAdapter


class TinyGenerator(GeneratorAdapter):
    """features = ws * gain (trainable), image = head * features (frozen) + camera."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.num_ws, self.w_dim, self.image_size = 2, 2, 2, 2
        self.gain = nn.Parameter(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))
        self.head = nn.Parameter(torch.tensor(0.5))
        self.mapping_weight = nn.Parameter(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))

    def mapping(self, z, camera=None):
        return (z @ self.mapping_weight)[:, None, :].expand(-1, self.num_ws, -1)

    @property
    def w_avg(self):
        return torch.zeros(self.num_ws, self.w_dim)

    def synthesis(self, ws, camera):
        features = (ws * self.gain)[:, None]  # [B, 1, 2, 2]
        image = (self.head * features).expand(-1, 3, -1, -1) + camera[:, :, None, None]
        return {"image": image, "features": features}

    def trainable_names(self):
        return ["gain"]

    def sample_train_cameras(self, n, generator):
        return torch.rand(n, 1, generator=generator) * 0.1

    def eval_cameras(self):
        return torch.tensor([[0.0], [0.1]])

    def frontal_camera(self, n):
        return torch.zeros(n, 1)


def squared_perceptual(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A stand-in for LPIPS with the same [B, 1, 1, 1] output."""
    return (a - b).pow(2).flatten(1).mean(1)[:, None, None, None]


def flat_embed(images: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(images.flatten(1) + 1.0, dim=1)


class TinyEncoder(nn.Module):
    """An inversion-encoder stand-in: W+ = w_avg + a linear map of the flattened image."""

    def __init__(self, pixels: int = 12, num_ws: int = 2, w_dim: int = 2) -> None:
        super().__init__()
        self.num_ws, self.w_dim = num_ws, w_dim
        self.linear = nn.Linear(pixels, num_ws * w_dim)

    def forward(self, images, w_avg):
        return w_avg[None] + self.linear(images.flatten(1)).view(-1, self.num_ws, self.w_dim)
