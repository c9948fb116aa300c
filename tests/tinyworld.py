"""A small world on disk with random-weight networks: every file a method's jobs read.

The methods' end-to-end tests (unlearn, evaluate, attack through the public entry
points) run on it in seconds; nothing is trained, so numbers test plumbing, not quality.
"""

from __future__ import annotations

from pathlib import Path

import torch

from idunlearn.checkpoints import save_checkpoint, save_module
from idunlearn.evaluation import run_fid_reference
from idunlearn.generators.synthetic import SyntheticGenerator, save_generator
from idunlearn.identities import select_identities
from idunlearn.inversion import INVERSION_KIND
from idunlearn.nets.cnn import FeatureNet, IdentityNet, InversionEncoder
from idunlearn.targets import TARGET_KIND, target_for_key
from idunlearn.world.build import ENCODER_KIND, FEATURES_KIND, IDENTITY_KIND, training_split
from idunlearn.world.dataset import WorldSpec, build_dataset, save_dataset, to_float_images


def small_generator(z_dim: int = 5) -> SyntheticGenerator:
    torch.manual_seed(0)
    return SyntheticGenerator(
        z_dim=z_dim, w_dim=8, mapping_width=16, channels=(8, 8), head_channels=4
    ).requires_grad_(False)


def build_world(root: Path) -> dict[str, str]:
    """Dataset, identity table, G_s, encoder, identity and feature networks, an OOD
    identity's inversion (source and two other images), its targets and FID reference."""
    spec = WorldSpec(num_identities=3, images_per_identity=2, num_heldout=2, heldout_images=3)
    data = build_dataset(spec)
    files = {name: str(root / f"{name}") for name in ("dataset.npz", "identities.tsv")}
    save_dataset(files["dataset.npz"], data, spec)
    table = select_identities(
        data["identity"], data["heldout"], data["image_index"], {"ood": 1}, seed=0
    )
    table.to_csv(files["identities.tsv"], sep="\t", index=False)
    g = small_generator(training_split(files["dataset.npz"])["codes"].shape[1])
    paths = {
        "dataset": files["dataset.npz"],
        "identities": files["identities.tsv"],
        "generator": str(root / "generator.pt"),
        "encoder": str(root / "encoder.pt"),
        "identity": str(root / "identity.pt"),
        "features": str(root / "features.pt"),
        "inversion": str(root / "inversion.pt"),
        "reference": str(root / "reference.npz"),
    }
    save_generator(paths["generator"], g)
    torch.manual_seed(1)
    save_module(paths["encoder"], ENCODER_KIND, InversionEncoder(g.num_ws, g.w_dim, width=4))
    save_module(paths["identity"], IDENTITY_KIND, IdentityNet("resnet", width=4, embed_dim=8))
    save_module(paths["features"], FEATURES_KIND, FeatureNet(4, width=4, feature_dim=6))
    images = torch.from_numpy(to_float_images(data["images"]))
    row = table.iloc[0]
    others = images[[int(i) for i in str(row.other_indices).split()][:2]]
    w = g.mapping(torch.randn(3, g.z_dim, generator=torch.Generator().manual_seed(3)))
    inversion = {
        "w_u": w[0],
        "w_others": w[1:],
        "source_image": images[int(row.source_index)],
        "source_camera": torch.zeros(1),
        "other_images": others,
        "other_cameras": torch.zeros(2, 1),
    }
    meta = {"scenario": "ood", "identity": str(row["identity"])}
    save_checkpoint(paths["inversion"], INVERSION_KIND, inversion, meta=meta)
    for key in ("average", "ufo_d30"):
        paths[key] = str(root / f"{key}.pt")
        w_t = target_for_key(w[0], g.w_avg, key)
        save_checkpoint(paths[key], TARGET_KIND, {"w_t": w_t}, meta={"key": key})
    run_fid_reference(
        paths["generator"], paths["features"], paths["dataset"], 20, 0, 10, paths["reference"]
    )
    return paths
