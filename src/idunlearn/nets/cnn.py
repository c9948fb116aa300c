"""Small convolutional networks of the synthetic world, sharing one trunk design.

Each plays the role of a large pretrained network of the real setting:
`IdentityNet` (ArcFace / CurricularFace), `InversionEncoder` (GOAE) and
`FeatureNet` (pytorch-fid's Inception).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


def conv_trunk(arch: str, width: int) -> tuple[nn.Module, int]:
    """A 64 x 64 -> 4 x 4 trunk; returns it and its output channels.

    Both start with a strided stem (CPU cost is dominated by full-resolution
    convolutions). `resnet` continues with residual blocks, `plain` with a
    VGG-like stack of other kernel sizes, so that two identity networks do not
    share their blind spots.
    """
    if arch == "resnet":
        layers: list[nn.Module] = [
            nn.Conv2d(3, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        c = width
        for c_out in (2 * width, 4 * width, 8 * width):
            layers.append(ResidualBlock(c, c_out, stride=2))
            c = c_out
        return nn.Sequential(*layers), c
    if arch == "plain":
        layers = [nn.Conv2d(3, width, 5, 2, 2, bias=False), nn.BatchNorm2d(width), nn.PReLU(width)]
        c = width
        for c_out in (2 * width, 3 * width, 6 * width):
            layers += [
                nn.Conv2d(c, c_out, 3, 1, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.PReLU(c_out),
                nn.MaxPool2d(2),
            ]
            c = c_out
        return nn.Sequential(*layers), c
    raise ValueError(f"unknown trunk architecture: {arch!r} (expected 'resnet' or 'plain')")


class IdentityNet(nn.Module):
    """Image [B, 3, 64, 64] in [-1, 1] -> L2-normalised identity embedding [B, embed_dim]."""

    def __init__(self, arch: str = "resnet", width: int = 32, embed_dim: int = 128) -> None:
        super().__init__()
        self.init_kwargs = {"arch": arch, "width": width, "embed_dim": embed_dim}
        self.trunk, channels = conv_trunk(arch, width)
        self.embed = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(channels * 16, embed_dim),
            nn.BatchNorm1d(embed_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.embed(self.trunk(images)), dim=1)


class ArcMarginHead(nn.Module):
    """Additive angular margin (ArcFace) logits: s * cos(theta + m) for the true class."""

    def __init__(self, embed_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, embed_dim) * 0.01)
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosine = embeddings @ F.normalize(self.weight, dim=1).t()
        theta = torch.acos(cosine.clamp(-1 + 1e-6, 1 - 1e-6))
        target = torch.cos(theta + self.margin)
        one_hot = F.one_hot(labels, cosine.shape[1]).bool()
        return self.scale * torch.where(one_hot, target, cosine)


class InversionEncoder(nn.Module):
    """Image -> W+ latent, predicted as an offset from w_avg (as GOAE does)."""

    def __init__(self, num_ws: int, w_dim: int, width: int = 32) -> None:
        super().__init__()
        self.init_kwargs = {"num_ws": num_ws, "w_dim": w_dim, "width": width}
        self.num_ws, self.w_dim = num_ws, w_dim
        self.trunk, channels = conv_trunk("resnet", width)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 16, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, num_ws * w_dim),
        )

    def forward(self, images: torch.Tensor, w_avg: torch.Tensor) -> torch.Tensor:
        offset = self.head(self.trunk(images)).view(-1, self.num_ws, self.w_dim)
        return w_avg[None] + offset


class FeatureNet(nn.Module):
    """Image -> pooled features for Frechet distances; trained to regress the render codes."""

    def __init__(self, num_outputs: int, width: int = 24, feature_dim: int = 64) -> None:
        super().__init__()
        self.init_kwargs = {"num_outputs": num_outputs, "width": width, "feature_dim": feature_dim}
        self.trunk, channels = conv_trunk("plain", width)
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(channels * 16, feature_dim), nn.Tanh())
        self.regress = nn.Linear(feature_dim, num_outputs)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.trunk(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.regress(self.features(images))
