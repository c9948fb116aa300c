"""Build the synthetic world's networks from its dataset file: one function per rule."""

from __future__ import annotations

import numpy as np
import torch

from idunlearn.checkpoints import load_module, save_module
from idunlearn.generators.synthetic import load_generator, save_generator
from idunlearn.nets.cnn import FeatureNet, IdentityNet, InversionEncoder
from idunlearn.training import (
    Fresh,
    Schedule,
    to_tensor,
    train_encoder,
    train_features,
    train_generator,
    train_identity,
)
from idunlearn.world.dataset import load_dataset, spec_of, to_float_images, to_uint8_images
from idunlearn.world.renderer import (
    LANDMARK_NAMES,
    landmarks,
    render,
    sample_identity_codes,
    sample_nuisance_codes,
)

IDENTITY_KIND = "synthetic-identity"
ENCODER_KIND = "synthetic-encoder"
FEATURES_KIND = "synthetic-features"
# The two identity networks differ in architecture and seed: one is used in
# losses (the role of ArcFace), the other only in evaluation (CurricularFace).
IDENTITY_ROLES = {"loss": "resnet", "eval": "plain"}
# The small features the generator's loss weighs up (with the mouth's centre): a few
# pixels each at 64 px, they are what tells identities apart beyond colour.
FEATURE_POINTS = ("eye_left", "eye_right", "brow_left", "brow_right", "nose_tip")
MOUTH_POINTS = ("mouth_left", "mouth_right")
FEATURE_SIGMA = 2.5  # pixels: an eye at 64 px is 5-9 pixels wide


def training_split(dataset_path: str) -> dict[str, torch.Tensor]:
    """Images, codes, cameras and labels of the training identities only."""
    data = load_dataset(dataset_path)
    keep = ~data["heldout"]
    return {
        "images": to_tensor(to_float_images(data["images"][keep])),
        "codes": to_tensor(
            np.concatenate([data["identity_codes"][keep], data["nuisance_codes"][keep]], axis=1)
        ),
        "yaw": to_tensor(data["yaw"][keep])[:, None],
        "labels": to_tensor(data["identity"][keep]),
    }


def feature_weights(
    identity_codes: np.ndarray, yaw: np.ndarray, size: int, weight: float
) -> torch.Tensor:
    """[N, 1, size, size] pixel weights: 1 + weight * a Gaussian bump (sigma FEATURE_SIGMA)
    on each eye, brow, the nose tip and the mouth, where the renderer draws them."""
    points = torch.from_numpy(landmarks(identity_codes, yaw, size))
    pick = [LANDMARK_NAMES.index(name) for name in FEATURE_POINTS]
    mouth = [LANDMARK_NAMES.index(name) for name in MOUTH_POINTS]
    centres = torch.cat([points[:, pick], points[:, mouth].mean(1, keepdim=True)], dim=1)
    pixels = torch.arange(size, dtype=torch.float32)
    dx = pixels[None, None, None, :] - centres[:, :, 0, None, None]
    dy = pixels[None, None, :, None] - centres[:, :, 1, None, None]
    bumps = torch.exp(-(dx * dx + dy * dy) / (2 * FEATURE_SIGMA**2)).amax(1, keepdim=True)
    return 1.0 + weight * bumps


def key_points(identity_codes: np.ndarray, yaw: np.ndarray, size: int) -> torch.Tensor:
    """[N, len(LANDMARK_NAMES), 2] the renderer's landmarks in [-1, 1], pixel centres as
    the generator's heatmaps place them."""
    return torch.from_numpy((2 * landmarks(identity_codes, yaw, size) + 1) / size - 1)


def fresh_renders(size: int, yaw_range: float, weight: float | None, points: bool) -> Fresh:
    """Renders of new standard-normal codes at dataset yaws, quantised as the dataset's
    uint8 images are, with their feature weights (None: no weights) and key points."""

    def draw(n: int, rng: np.random.Generator) -> tuple[torch.Tensor | None, ...]:
        identity, nuisance = sample_identity_codes(n, rng), sample_nuisance_codes(n, rng)
        yaw = rng.uniform(-yaw_range, yaw_range, n).astype(np.float32)
        images = to_float_images(to_uint8_images(render(identity, nuisance, yaw, size=size)))
        codes = np.concatenate([identity, nuisance], axis=1)
        weights = None if weight is None else feature_weights(identity, yaw, size, weight)
        where = key_points(identity, yaw, size) if points else None
        return to_tensor(images), to_tensor(codes), to_tensor(yaw)[:, None], weights, where

    return draw


def build_generator(
    dataset: str,
    out: str,
    schedule: Schedule,
    seed: int,
    w_norm: float,
    feature_weight: float = 0.0,
    fresh_share: float = 0.0,
    coords: bool = False,
    point_weight: float = 0.0,
) -> None:
    """feature_weight 0, fresh_share 0, no coords and point_weight 0: the plain L1 fit of
    the dataset. point_weight > 0: the generator predicts the renderer's landmarks."""
    split = training_split(dataset)
    data = load_dataset(dataset)
    spec = spec_of(data)
    keep = ~data["heldout"]
    identity, yaw = data["identity_codes"][keep], data["yaw"][keep]
    weight = feature_weight if feature_weight > 0 else None
    weights = None if weight is None else feature_weights(identity, yaw, spec.image_size, weight)
    points = key_points(identity, yaw, spec.image_size) if point_weight > 0 else None
    fresh = None
    if fresh_share > 0:
        fresh = fresh_renders(spec.image_size, spec.yaw_range, weight, points is not None)
    model = train_generator(
        split["images"],
        split["codes"],
        split["yaw"],
        schedule,
        seed,
        w_norm,
        weights=weights,
        fresh=fresh,
        fresh_share=fresh_share,
        coords=coords,
        points=points,
        point_weight=point_weight,
    )
    meta = {"seed": seed, "steps": schedule.steps, "feature_weight": feature_weight}
    meta |= {"fresh_share": fresh_share, "point_weight": point_weight}
    save_generator(out, model, meta=meta)


def build_identity(dataset: str, out: str, role: str, schedule: Schedule, seed: int) -> None:
    if role not in IDENTITY_ROLES:
        raise ValueError(f"unknown identity-network role {role!r} (expected loss or eval)")
    split = training_split(dataset)
    model = train_identity(split["images"], split["labels"], IDENTITY_ROLES[role], schedule, seed)
    save_module(out, IDENTITY_KIND, model, meta={"role": role, "seed": seed})


def build_encoder(dataset: str, generator: str, out: str, schedule: Schedule, seed: int) -> None:
    split = training_split(dataset)
    model = train_encoder(
        split["images"], split["codes"], load_generator(generator), schedule, seed
    )
    save_module(out, ENCODER_KIND, model, meta={"seed": seed})


def build_features(dataset: str, out: str, schedule: Schedule, seed: int) -> None:
    split = training_split(dataset)
    targets = torch.cat([split["codes"], split["yaw"] * 4], dim=1)
    model = train_features(split["images"], targets, schedule, seed)
    save_module(out, FEATURES_KIND, model, meta={"seed": seed})


def load_identity_net(path: str) -> IdentityNet:
    return load_module(path, IDENTITY_KIND, IdentityNet)


def load_encoder(path: str) -> InversionEncoder:
    return load_module(path, ENCODER_KIND, InversionEncoder)


def load_feature_net(path: str) -> FeatureNet:
    return load_module(path, FEATURES_KIND, FeatureNet)
