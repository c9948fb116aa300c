"""Evaluation of one unlearned generator: ID, ID_others, FID_pre and dFID_real.

Only the evaluation identity network is used here, never the loss one. The
G_s-side and real-side Frechet statistics are the same for every identity and
method, so `fid_reference` computes them once and every evaluation reuses them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from idunlearn.backend import load_embedder, load_features, load_generator, resolve_device
from idunlearn.checkpoints import load_checkpoint
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import npz_keys, read_npz, write_json, write_npz
from idunlearn.loop import progress
from idunlearn.metrics import feature_statistics, frechet_distance, identity_similarity
from idunlearn.targets import load_target
from idunlearn.unlearning import (
    load_unlearned,
    load_unlearned_encoder,
    system_latents,
    unlearned_target,
)
from idunlearn.visual import save_strip
from idunlearn.world.build import training_split

Images = Callable[[torch.Tensor], torch.Tensor]
YAW_FID_RANGE = float(np.pi / 12)  # FID cameras: yaw ~ U(-pi/12, pi/12), as in the paper


def fid_latents(
    generator: GeneratorAdapter, n: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed z and cameras on which G_s and every G_u are compared."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.z_dim, generator=rng)
    cameras = generator.sample_train_cameras(n, rng)
    return z, cameras


@torch.no_grad()
def generated_features(
    generator: GeneratorAdapter,
    z: torch.Tensor,
    cameras: torch.Tensor,
    features: Images,
    batch: int,
) -> np.ndarray:
    out = []
    for start in progress(range(0, len(z), batch), "FID samples"):
        zb, cb = z[start : start + batch], cameras[start : start + batch]
        ws = generator.mapping(zb, generator.frontal_camera(len(zb)))
        out.append(features(generator.synthesis(ws, cb)["image"]).cpu().numpy())
    return np.concatenate(out)


@torch.no_grad()
def image_features(images: torch.Tensor, features: Images, batch: int) -> np.ndarray:
    return np.concatenate(
        [features(images[s : s + batch]).cpu().numpy() for s in range(0, len(images), batch)]
    )


def real_statistics(
    dataset_path: str, features: Images, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Real-image statistics: of the synthetic world's training images, or read from the
    real setting's precomputed file (`fid_real`: FFHQ, too large to hold here)."""
    if "real_mu" in npz_keys(dataset_path):
        data = read_npz(dataset_path)
        return data["real_mu"], data["real_sigma"]
    real = training_split(dataset_path)["images"]
    return feature_statistics(image_features(real, features, batch))


def fid_reference(
    g_s: GeneratorAdapter,
    real_stats: tuple[np.ndarray, np.ndarray],
    features: Images,
    n: int,
    seed: int,
    batch: int,
) -> dict[str, np.ndarray]:
    """Statistics of G_s samples (real ones given), and FID(real, G_s)."""
    z, cameras = fid_latents(g_s, n, seed)
    gen_mu, gen_sigma = feature_statistics(generated_features(g_s, z, cameras, features, batch))
    real_mu, real_sigma = real_stats
    fid_real = frechet_distance((real_mu, real_sigma), (gen_mu, gen_sigma))
    return {
        "gen_mu": gen_mu,
        "gen_sigma": gen_sigma,
        "real_mu": real_mu,
        "real_sigma": real_sigma,
        "fid_real_gs": np.array(fid_real),
        "n": np.array(n),
        "seed": np.array(seed),
    }


def identity_metrics(
    g_s: GeneratorAdapter,
    g_u: GeneratorAdapter,
    w_u: torch.Tensor,
    w_others: torch.Tensor,
    w_u_after: torch.Tensor,
    w_others_after: torch.Tensor,
    embed: Images,
) -> dict[str, float]:
    """ID and ID_others (NaN without other images) as one identity network sees them."""
    result = {"id": float(identity_similarity(g_s, g_u, w_u[None], embed, w_u_after[None])[0])}
    result["id_others"] = (
        float(identity_similarity(g_s, g_u, w_others, embed, w_others_after).mean())
        if len(w_others)
        else float("nan")
    )
    return result


def evaluate(
    g_s: GeneratorAdapter,
    g_u: GeneratorAdapter,
    w_u: torch.Tensor,  # [num_ws, w_dim]
    w_others: torch.Tensor,  # [K, num_ws, w_dim], K may be 0
    source_image: torch.Tensor,  # [3, H, W]
    source_camera: torch.Tensor,  # [camera_dim]
    embed: Images,
    features: Images,
    reference: dict[str, np.ndarray],
    batch: int,
    w_u_system: torch.Tensor | None = None,  # the unlearned system's latent of the source
    w_others_system: torch.Tensor | None = None,  # ... and of the other images
) -> dict[str, float]:
    """All metrics of one (identity, method) run; NaN where a metric does not apply.

    ID compares G_s(w_u) with G_u at the system's latent of the same image: w_u itself for
    the methods that unlearn the generator, E_u(image) for the encoder method (whose G_u is
    G_s), given as `w_u_system` / `w_others_system`.
    """
    w_u_after = w_u if w_u_system is None else w_u_system
    w_others_after = w_others if w_others_system is None else w_others_system
    result = identity_metrics(g_s, g_u, w_u, w_others, w_u_after, w_others_after, embed)
    with torch.no_grad():
        source_emb = embed(source_image[None])
        cam = source_camera[None]
        before = embed(g_s.synthesis(w_u[None], cam)["image"])
        after = embed(g_u.synthesis(w_u_after[None], cam)["image"])
    result["id_source_before"] = float(torch.cosine_similarity(source_emb, before)[0])
    result["id_source_after"] = float(torch.cosine_similarity(source_emb, after)[0])
    z, cameras = fid_latents(g_s, int(reference["n"]), int(reference["seed"]))
    u_stats = feature_statistics(generated_features(g_u, z, cameras, features, batch))
    result["fid_pre"] = frechet_distance((reference["gen_mu"], reference["gen_sigma"]), u_stats)
    fid_real_gu = frechet_distance((reference["real_mu"], reference["real_sigma"]), u_stats)
    result["fid_real"] = fid_real_gu
    result["dfid_real"] = fid_real_gu - float(reference["fid_real_gs"])
    return result


def run_fid_reference(
    generator_path: str,
    features_path: str,
    dataset_path: str,
    n: int,
    seed: int,
    batch: int,
    out: str,
    device: str = "cpu",
) -> None:
    """G_s and the feature network run on `device`; z and cameras are drawn on the CPU, so
    the statistics name the same samples on any device."""
    dev = resolve_device(device)
    features = load_features(features_path, dev)
    real = real_statistics(dataset_path, features, batch)
    stats = fid_reference(load_generator(generator_path, dev), real, features, n, seed, batch)
    write_npz(out, **stats)


def run_evaluate(
    generator_path: str,
    unlearned_path: str,
    inversion_path: str,
    target_path: str,
    eval_identity_path: str,
    features_path: str,
    reference_path: str,
    batch: int,
    out_json: str,
    out_png: str,
    labels: dict[str, str],
    encoder_path: str | None = None,
    second_identity_path: str | None = None,
    device: str = "cpu",
) -> None:
    """Metrics of one run as JSON, and a [source, target, before, after] strip as PNG.

    A second, independent evaluation network (real setting: facenet beside CurricularFace)
    adds `id_second` and `id_others_second`.

    The strip's target is the latent the method trained w_u towards (GUIDE: w_t; the
    comparison methods store theirs); `after` is G_u at the system's latent of the source.
    Every network and the inversion's tensors are on `device`.
    """
    dev = resolve_device(device)
    g_s = load_generator(generator_path, dev)
    g_u = load_unlearned(g_s, unlearned_path)
    state = load_checkpoint(inversion_path, INVERSION_KIND)["state_dict"]
    inv = {key: value.to(dev) for key, value in state.items()}
    w_t = unlearned_target(unlearned_path)
    w_t = (load_target(target_path) if w_t is None else w_t).to(dev)
    encoder = load_unlearned_encoder(encoder_path, unlearned_path, g_s, dev)
    w_u_system, w_others_system = system_latents(inv, encoder)
    metrics = evaluate(
        g_s,
        g_u,
        inv["w_u"],
        inv["w_others"],
        inv["source_image"],
        inv["source_camera"],
        load_embedder(eval_identity_path, dev),
        load_features(features_path, dev),
        read_npz(reference_path),
        batch,
        w_u_system,
        w_others_system,
    )
    if second_identity_path:
        second = identity_metrics(
            g_s,
            g_u,
            inv["w_u"],
            inv["w_others"],
            w_u_system,
            w_others_system,
            load_embedder(second_identity_path, dev),
        )
        metrics |= {f"{key}_second": value for key, value in second.items()}
    write_json(out_json, {**labels, **metrics})
    frontal = g_s.frontal_camera(1)
    with torch.no_grad():
        images = [
            inv["source_image"],
            g_s.synthesis(w_t[None], frontal)["image"][0],
            g_s.synthesis(inv["w_u"][None], frontal)["image"][0],
            g_u.synthesis(w_u_system[None], frontal)["image"][0],
        ]
    save_strip(out_png, [image.cpu() for image in images])
