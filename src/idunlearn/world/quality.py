"""Acceptance figures of the synthetic world, computed (never asserted) and written to JSON.

- verification ROC-AUC of both identity networks on held-out identities;
- inversion (encoder, and optimisation) of held-out images: how often the
  reconstruction is closer to its own identity than to the other identities,
  under the evaluation network, and the mean cosine to the source;
- Frechet distance of generator samples to the dataset, beside the distance
  between two halves of the dataset;
- a grid of the image of w_avg and of UFO targets at several d.
"""

from __future__ import annotations

import numpy as np
import torch

from idunlearn.backend import (
    load_embedder,
    load_features,
    load_generator,
    load_inversion_encoder,
    load_lpips,
)
from idunlearn.evaluation import image_features
from idunlearn.inversion import InversionConfig, invert
from idunlearn.io import write_json
from idunlearn.metrics import (
    feature_statistics,
    frechet_distance,
    identity_rank_score,
    verification_auc,
)
from idunlearn.targets import ufo_target
from idunlearn.training import to_tensor
from idunlearn.visual import grid, save_png
from idunlearn.world.dataset import load_dataset, to_float_images

GRID_DISTANCES = (-15.0, 0.0, 15.0, 30.0)


@torch.no_grad()
def embed_all(embed, images: torch.Tensor, batch: int = 200) -> np.ndarray:
    return np.concatenate(
        [embed(images[s : s + batch]).numpy() for s in range(0, len(images), batch)]
    )


def inversion_rows(image_index: np.ndarray, labels: np.ndarray, people: int | None) -> np.ndarray:
    """Rows of the source photo and one other of the first `people` identities (None: all):
    the optimisation's cost is linear in them, and on the world's critical path."""
    first = np.unique(labels)[:people]
    return np.flatnonzero((image_index < 2) & np.isin(labels, first))


def inversion_quality(generator, encoder, embed, lpips, images, cameras, labels, gallery, config):
    """Rank score and mean cosine of reconstructions of held-out images."""
    ws = invert(generator, encoder, images, cameras, lpips, config)
    with torch.no_grad():
        recon = generator.synthesis(ws, cameras)["image"]
    query = embed_all(embed, recon)
    source = embed_all(embed, images)
    ranks = identity_rank_score(query, labels, gallery[0], gallery[1])
    cos = (query * source).sum(1) / np.linalg.norm(query, axis=1) / np.linalg.norm(source, axis=1)
    return {
        "mean_rank_score": float(ranks.mean()),
        "fraction_above_95": float((ranks >= 0.95).mean()),
        "mean_cosine_to_source": float(cos.mean()),
    }, ws


def run_world_quality(
    dataset_path: str,
    generator_path: str,
    loss_identity_path: str,
    eval_identity_path: str,
    encoder_path: str,
    features_path: str,
    inversion: InversionConfig,
    lpips_net: str,
    lpips_random: bool,
    samples: int,
    seed: int,
    out_json: str,
    out_png: str,
    inversion_identities: int | None = None,  # the first this many held-out people (None: all)
) -> dict:
    data = load_dataset(dataset_path)
    rng = torch.Generator().manual_seed(seed)
    generator = load_generator(generator_path)
    embed = load_embedder(eval_identity_path)
    heldout = data["heldout"]
    held_images = to_tensor(to_float_images(data["images"][heldout]))
    held_labels = data["identity"][heldout]
    held_emb = embed_all(embed, held_images)
    report: dict = {
        "verification_auc_eval": verification_auc(held_emb, held_labels),
        "verification_auc_loss": verification_auc(
            embed_all(load_embedder(loss_identity_path), held_images), held_labels
        ),
    }
    pick = inversion_rows(data["image_index"][heldout], held_labels, inversion_identities)
    images, labels = held_images[pick], held_labels[pick]
    cameras = to_tensor(data["yaw"][heldout][pick])[:, None]
    encoder = load_inversion_encoder(encoder_path, generator)
    lpips = load_lpips(lpips_net, lpips_random)
    for method in ("encoder", "optimisation"):
        config = InversionConfig(method, inversion.steps, inversion.lr, inversion.lpips_weight)
        report[f"inversion_{method}"], ws = inversion_quality(
            generator,
            encoder,
            embed,
            lpips,
            images,
            cameras,
            labels,
            (held_emb, held_labels),
            config,
        )
    features = load_features(features_path)
    train_images = to_tensor(to_float_images(data["images"][~heldout]))
    real = image_features(train_images, features, 200)
    z = torch.randn(samples, generator.z_dim, generator=rng)
    yaw_range = float(np.abs(data["yaw"]).max())
    cams = (torch.rand(samples, 1, generator=rng) * 2 - 1) * yaw_range
    with torch.no_grad():
        fake = torch.cat(
            [generator.generate(z[s : s + 200], cams[s : s + 200]) for s in range(0, samples, 200)]
        )
    order = torch.randperm(len(real), generator=rng).numpy()
    half = len(real) // 2
    report["frechet_generator_vs_data"] = frechet_distance(
        feature_statistics(image_features(fake, features, 200)), feature_statistics(real)
    )
    report["frechet_data_half_vs_half"] = frechet_distance(
        feature_statistics(real[order[:half]]), feature_statistics(real[order[half:]])
    )
    with torch.no_grad():
        w_all = generator.mapping(z)
        report["median_w_id_norm"] = float(
            (w_all - generator.w_avg).flatten(1).norm(dim=1).median()
        )
    write_json(out_json, report)
    save_png(out_png, target_grid(generator, images[::2][:6], ws[::2][:6]))
    return report


@torch.no_grad()
def target_grid(generator, sources: torch.Tensor, ws: torch.Tensor) -> np.ndarray:
    """Rows: source photo, its inversion, then UFO targets at GRID_DISTANCES; last row w_avg."""
    frontal = generator.frontal_camera(1)
    render = lambda w: generator.synthesis(w[None], frontal)["image"][0]  # noqa: E731
    rows = []
    for source, w_u in zip(sources, ws, strict=True):
        row = [source, render(w_u)]
        row += [render(ufo_target(w_u, generator.w_avg, d)) for d in GRID_DISTANCES]
        rows.append(row)
    rows.append([render(generator.w_avg)])
    return grid(rows)
