"""Build the synthetic world's networks from its dataset file: one function per rule."""

from __future__ import annotations

import numpy as np
import torch

from idunlearn.checkpoints import load_module, save_module
from idunlearn.generators.synthetic import load_generator, save_generator
from idunlearn.nets.cnn import FeatureNet, IdentityNet, InversionEncoder
from idunlearn.training import (
    Schedule,
    to_tensor,
    train_encoder,
    train_features,
    train_generator,
    train_identity,
)
from idunlearn.world.dataset import load_dataset, to_float_images

IDENTITY_KIND = "synthetic-identity"
ENCODER_KIND = "synthetic-encoder"
FEATURES_KIND = "synthetic-features"
# The two identity networks differ in architecture and seed: one is used in
# losses (the role of ArcFace), the other only in evaluation (CurricularFace).
IDENTITY_ROLES = {"loss": "resnet", "eval": "plain"}


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


def build_generator(dataset: str, out: str, schedule: Schedule, seed: int, w_norm: float) -> None:
    split = training_split(dataset)
    model = train_generator(split["images"], split["codes"], split["yaw"], schedule, seed, w_norm)
    save_generator(out, model, meta={"seed": seed, "steps": schedule.steps})


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
