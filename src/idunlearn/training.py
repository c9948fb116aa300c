"""Training of the synthetic world's networks, one function per network.

Every loop draws batches and augmentations from one seeded torch.Generator, so
the same config gives the same weights on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from idunlearn.generators.synthetic import SyntheticGenerator
from idunlearn.nets.cnn import ArcMarginHead, FeatureNet, IdentityNet, InversionEncoder

T = TypeVar("T")


@dataclass(frozen=True)
class Schedule:
    steps: int
    batch_size: int
    lr: float


def seeded(seed: int, build: Callable[[], T]) -> T:
    """Build networks with initial weights drawn from `seed`, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def batches(n: int, schedule: Schedule, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Indices of `schedule.steps` batches, epoch by epoch without replacement."""
    order = torch.randperm(n, generator=generator)
    pos = 0
    for _ in range(schedule.steps):
        if pos + schedule.batch_size > n:
            order, pos = torch.randperm(n, generator=generator), 0
        yield order[pos : pos + schedule.batch_size]
        pos += schedule.batch_size


def cosine_lr(
    optimizer: torch.optim.Optimizer, schedule: Schedule
) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up over the first 5% of the steps, then a cosine decay to zero."""
    warmup = max(1, schedule.steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, schedule.steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def progress(schedule: Schedule, name: str) -> tqdm:
    return tqdm(range(schedule.steps), desc=name, mininterval=5.0, ascii=True)


def fit(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    n: int,
    generator: torch.Generator,
    name: str,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    seed: int,
) -> None:
    """The one training loop: batches of indices, Adam step, LR schedule, progress bar.

    Layers that draw from torch's global generator (dropout) draw from `seed`, so a
    rerun gives the same weights; the caller's global generator is left as it was.
    """
    scheduler = cosine_lr(optimizer, schedule)
    bar = progress(schedule, name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _, idx in zip(bar, batches(n, schedule, generator), strict=True):
            loss = loss_of(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shifts, blur, contrast and noise: makes identity networks robust to the
    softer images a generator produces, without changing who is shown."""
    b = images.shape[0]
    shift = torch.randint(-3, 4, (2,), generator=generator).tolist()
    out = torch.roll(images, shifts=shift, dims=(2, 3))
    sigma = torch.rand(b, 1, 1, 1, generator=generator)
    blurred = F.avg_pool2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    out = out + sigma * (blurred - out)
    gain = 1 + 0.2 * (torch.rand(b, 1, 1, 1, generator=generator) - 0.5)
    out = out * gain + 0.03 * torch.randn(out.shape, generator=generator)
    return out.clamp(-1, 1)


def image_gradient_l1(
    a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 between horizontal and vertical differences: keeps edges sharp under regression.
    `weights` [B, 1, H, W] weigh each difference by its left (upper) pixel's weight."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    if weights is None:
        return dx.abs().mean() + dy.abs().mean()
    return weighted_mean(dx.abs(), weights[..., :, :-1]) + weighted_mean(
        dy.abs(), weights[..., :-1, :]
    )


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of `values` under pixel `weights` (shared by the channels), normalised by them:
    a weight map moves the loss between pixels without changing its scale."""
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum()


def image_l1(fake: torch.Tensor, real: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The generator's regression loss: (weighted) L1 of pixels and of their differences."""
    if weights is None:
        return F.l1_loss(fake, real) + image_gradient_l1(fake, real)
    return weighted_mean((fake - real).abs(), weights) + image_gradient_l1(fake, real, weights)


#: Renders of new codes: (n, rng) -> images [n, 3, H, W], codes [n, z_dim], yaw [n, 1],
#: pixel weights [n, 1, H, W] (or None) and key points [n, K, 2] (or None), drawn only
#: from `rng`.
Fresh = Callable[[int, np.random.Generator], tuple[torch.Tensor, ...]]


@dataclass(frozen=True)
class GeneratorData:
    """What the generator regresses: the dataset's examples, optional pixel weights, and
    an optional renderer of new codes that fills `fresh_share` of every batch."""

    images: torch.Tensor  # [N, 3, 64, 64] in [-1, 1], training identities only
    codes: torch.Tensor  # [N, z_dim] the renderer codes of each image (identity + nuisance)
    yaw: torch.Tensor  # [N, 1] the camera of each image
    weights: torch.Tensor | None = None  # [N, 1, 64, 64]; `fresh` gives weights iff this does
    points: torch.Tensor | None = None  # [N, K, 2] in [-1, 1]; `fresh` gives points iff this does
    fresh: Fresh | None = None
    fresh_share: float = 0.0

    def batch(self, idx: torch.Tensor, rng: np.random.Generator) -> tuple:
        """Images, codes, yaw, weights and points of one step: `idx`'s dataset rows, the
        last `fresh_share` of them replaced by fresh renders."""
        n_fresh = round(self.fresh_share * len(idx)) if self.fresh is not None else 0
        idx = idx[: len(idx) - n_fresh]
        weights = None if self.weights is None else self.weights[idx]
        points = None if self.points is None else self.points[idx]
        parts = [(self.images[idx], self.codes[idx], self.yaw[idx], weights, points)]
        if n_fresh:
            parts.append(self.fresh(n_fresh, rng))
        return tuple(
            None if column[0] is None else torch.cat(column) for column in zip(*parts, strict=True)
        )


def train_generator(
    images: torch.Tensor,  # [N, 3, 64, 64] in [-1, 1], training identities only
    codes: torch.Tensor,  # [N, z_dim] the renderer codes of each image (identity + nuisance)
    yaw: torch.Tensor,  # [N, 1] the camera of each image
    schedule: Schedule,
    seed: int,
    w_norm: float,  # target median ||w - w_avg||_F after training (see rescale_w)
    w_avg_beta: float = 0.995,
    weights: torch.Tensor | None = None,  # [N, 1, 64, 64] pixel weights of the L1 terms
    fresh: Fresh | None = None,  # renders of new codes (same weights contract)
    fresh_share: float = 0.0,  # the share of every batch that `fresh` renders
    coords: bool = False,  # the generator's coordinate planes (SyntheticGenerator)
    points: torch.Tensor | None = None,  # [N, K, 2] key points in [-1, 1] the generator predicts
    point_weight: float = 1.0,  # weight of the key points' L1 beside the image's
) -> SyntheticGenerator:
    """Fit G(z, camera) to the dataset as a neural renderer with known codes.

    The codes are standard normal draws, so z ~ N(0, I) afterwards samples new
    faces from the same distribution; regression converges reliably on a CPU,
    which adversarial training at this budget does not.
    """
    data = GeneratorData(images, codes, yaw, weights, points, fresh, fresh_share)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)  # the fresh renders' codes
    num_points = 0 if points is None else points.shape[1]
    model = seeded(
        seed, lambda: SyntheticGenerator(z_dim=codes.shape[1], coords=coords, points=num_points)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr, betas=(0.9, 0.99))

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        real, z, cam, weights, true_points = data.batch(idx, rng)
        ws = model.mapping(z)
        fake = model.synthesis(ws, cam)["image"]
        with torch.no_grad():  # w_avg tracks the mapping's outputs, as StyleGAN's does
            model.w_avg_buffer.lerp_(ws[:, 0].mean(0), 1 - w_avg_beta)
        loss = image_l1(fake, real, weights)
        if true_points is None:
            return loss
        return loss + point_weight * F.l1_loss(model.key_points(ws, cam), true_points)

    fit(optimizer, schedule, len(images), generator, "train_generator", loss_of, seed)
    model.eval()
    model.rescale_w(w_norm, torch.randn(4096, codes.shape[1], generator=generator))
    return model


def train_identity(
    images: torch.Tensor,  # [N, 3, 64, 64]
    labels: torch.Tensor,  # [N] identity labels 0..C-1
    arch: str,
    schedule: Schedule,
    seed: int,
    width: int = 32,
    embed_dim: int = 128,
) -> IdentityNet:
    """Identity embeddings with the additive angular margin (ArcFace) loss."""
    generator = torch.Generator().manual_seed(seed)
    model, head = seeded(
        seed,
        lambda: (
            IdentityNet(arch=arch, width=width, embed_dim=embed_dim),
            ArcMarginHead(embed_dim, int(labels.max()) + 1),
        ),
    )
    params = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=schedule.lr, weight_decay=5e-4)
    model.train()

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        logits = head(model(augment(images[idx], generator)), labels[idx])
        return F.cross_entropy(logits, labels[idx])

    fit(optimizer, schedule, len(images), generator, f"train_identity[{arch}]", loss_of, seed)
    return model.eval()


def generator_bank(
    generator_net: SyntheticGenerator, n: int, z_dim: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """n fresh samples of the frozen generator and their W+ latents, made once."""
    z = torch.randn(n, z_dim, generator=generator)
    cams = generator_net.sample_train_cameras(n, generator) * 1.5
    with torch.no_grad():
        ws = generator_net.mapping(z)
        images = torch.cat(
            [
                generator_net.synthesis(ws[s : s + 256], cams[s : s + 256])["image"]
                for s in range(0, n, 256)
            ]
        )
    return images, ws


def train_encoder(
    images: torch.Tensor,  # dataset images of training identities
    codes: torch.Tensor,  # their renderer codes
    generator_net: SyntheticGenerator,
    schedule: Schedule,
    seed: int,
) -> InversionEncoder:
    """Image -> W+ by regression on known latents.

    The training set is the dataset (latent = mapping of its codes) plus as
    many fresh samples of the frozen generator, made once, so the encoder also
    covers faces outside the training identities.
    """
    generator = torch.Generator().manual_seed(seed)
    model = seeded(seed, lambda: InversionEncoder(generator_net.num_ws, generator_net.w_dim))
    w_avg = generator_net.w_avg.detach()
    with torch.no_grad():
        data_ws = generator_net.mapping(codes)
    bank_images, bank_ws = generator_bank(generator_net, len(images), codes.shape[1], generator)
    all_images, all_ws = torch.cat([images, bank_images]), torch.cat([data_ws, bank_ws])
    w_scale = float((all_ws - w_avg).pow(2).mean())
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        predicted = model(augment(all_images[idx], generator), w_avg)
        return F.mse_loss(predicted, all_ws[idx]) / w_scale

    fit(optimizer, schedule, len(all_images), generator, "train_encoder", loss_of, seed)
    return model.eval()


def train_features(
    images: torch.Tensor,
    targets: torch.Tensor,  # [N, K] what the features must explain: codes and yaw
    schedule: Schedule,
    seed: int,
) -> FeatureNet:
    """A feature space for Frechet distances that sees every factor of a face."""
    generator = torch.Generator().manual_seed(seed)
    model = seeded(seed, lambda: FeatureNet(targets.shape[1]))
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(model(augment(images[idx], generator)), targets[idx])

    fit(optimizer, schedule, len(images), generator, "train_features", loss_of, seed)
    return model.eval()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))
