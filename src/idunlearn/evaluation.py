"""Evaluation of one unlearned generator: ID, ID_others, FID_pre and dFID_real.

Only the evaluation identity network is used here, never the loss one. The
G_s-side and real-side Frechet statistics are the same for every identity and
method, so `fid_reference` computes them once and every evaluation reuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from idunlearn.backend import load_embedder, load_features, load_generator, resolve_device
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import UserError, npz_keys, read_npz, write_json, write_npz
from idunlearn.loop import progress
from idunlearn.methods.base import Latents
from idunlearn.metrics import feature_statistics, frechet_distance, identity_similarity
from idunlearn.system import Unlearned, load_inversion, load_system
from idunlearn.targets import load_target
from idunlearn.visual import save_strip
from idunlearn.world.build import training_split

Images = Callable[[torch.Tensor], torch.Tensor]
YAW_FID_RANGE = float(np.pi / 12)  # FID cameras: yaw ~ U(-pi/12, pi/12), as in the paper
NO_FACE_GROUPS = ("source", "others")  # the images whose renders are scored ...
WHEN = ("before", "after")  # ... by G_s and by the unlearned system
EVALUATORS = ("", "_second")  # key suffixes of the evaluation network's counts, the second's


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


class FaceCount:
    """One side of an ID comparison (source or others, before or after): the views it embeds
    and those in which the evaluation detector found no face (`AlignedEmbedder.no_face`; an
    embedder without a detector, as the synthetic world's, finds every face)."""

    def __init__(self, embed: Images) -> None:
        self.embed = embed
        self.views = 0
        self.no_face = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        missed = getattr(self.embed, "no_face", 0)
        embeddings = self.embed(images)
        self.views += len(images)
        self.no_face += getattr(self.embed, "no_face", 0) - missed
        return embeddings


def identity_metrics(
    g_s: GeneratorAdapter,
    g_u: GeneratorAdapter,
    w_u: torch.Tensor,
    w_others: torch.Tensor,
    w_u_after: torch.Tensor,
    w_others_after: torch.Tensor,
    embed: Images,
) -> dict[str, float | int]:
    """ID and ID_others (NaN without other images) as one identity network sees them, and per
    side the views scored and those without a detected face (`views_*`, `no_face_*_*`)."""
    sides = {(group, when): FaceCount(embed) for group in NO_FACE_GROUPS for when in WHEN}
    source = sides["source", "before"], sides["source", "after"]
    others = sides["others", "before"], sides["others", "after"]
    sim = identity_similarity(g_s, g_u, w_u[None], source[0], w_u_after[None], source[1])
    result: dict[str, float | int] = {"id": float(sim[0])}
    result["id_others"] = (
        float(identity_similarity(g_s, g_u, w_others, others[0], w_others_after, others[1]).mean())
        if len(w_others)
        else float("nan")
    )
    for (group, when), count in sides.items():
        result[f"no_face_{group}_{when}"] = count.no_face
        result[f"views_{group}"] = count.views
    return result


def run_name(labels: dict[str, str]) -> str:
    """How a scored job's errors name its run: "scenario ood, identity ood00, method guide"."""
    return ", ".join(f"{key} {value}" for key, value in labels.items())


def check_share(missed: int, views: int, what: str, max_share: float, run: str) -> None:
    """The no-face gate of every scored step (evaluate, multi, attacks): fail where the
    detector missed the face in more than `max_share` of `views` (`what` names them). Those
    views are scored on the fixed FFHQ box, and a generator that renders non-faces would
    pass for one that forgot."""
    if views and missed > max_share * views:
        raise UserError(
            f"{run}: no face detected in {missed} of {views} {what}"
            f" (evaluation.max_no_face_share = {max_share})"
        )


def check_faces(
    metrics: dict[str, float | int],
    max_share: float,
    run: str,
    groups: Sequence[str] = NO_FACE_GROUPS,
) -> None:
    """`check_share` on each side (`groups` x before/after) of `identity_metrics`' counts,
    for the evaluation network and, where the record has its counts (`no_face_*_second`),
    for the second one."""
    for suffix in EVALUATORS:
        if suffix and f"no_face_source_before{suffix}" not in metrics:
            continue
        for group in groups:
            for when in WHEN:
                missed = int(metrics[f"no_face_{group}_{when}{suffix}"])
                what = f"{group} views {when} unlearning"
                what += f" ({suffix.strip('_')} evaluator)" if suffix else ""
                check_share(missed, int(metrics[f"views_{group}"]), what, max_share, run)


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
    return result | fid_metrics(g_u, features, reference, batch)


def fid_metrics(
    g_u: GeneratorAdapter, features: Images, reference: dict[str, np.ndarray], batch: int
) -> dict[str, float]:
    """FID_pre (G_s vs G_u on the reference's z and cameras), FID(real, G_u), dFID_real."""
    z, cameras = fid_latents(g_u, int(reference["n"]), int(reference["seed"]))
    u_stats = feature_statistics(generated_features(g_u, z, cameras, features, batch))
    fid_real_gu = frechet_distance((reference["real_mu"], reference["real_sigma"]), u_stats)
    return {
        "fid_pre": frechet_distance((reference["gen_mu"], reference["gen_sigma"]), u_stats),
        "fid_real": fid_real_gu,
        "dfid_real": fid_real_gu - float(reference["fid_real_gs"]),
    }


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


def run_setting(
    g_s: GeneratorAdapter, meta: dict[str, object], reference: dict[str, np.ndarray]
) -> dict[str, object]:
    """The `setting_*` keys of an evaluation record (None where a method has no such key)."""
    setting = g_s.setting() | {
        "steps": meta.get("steps"),
        "reduction": meta.get("reduction"),
        "fid_samples": int(reference["n"]),
    }
    return {f"setting_{key}": value for key, value in setting.items()}


def evaluate_system(
    loaded: Unlearned,
    inv: dict[str, torch.Tensor],
    latents: Latents,
    embed: Images,
    features: Images,
    reference: dict[str, np.ndarray],
    batch: int,
) -> dict[str, float | int]:
    """`evaluate` of a loaded system on one identity: G_s at the system's latents before
    unlearning vs G_u at its latents after (evaluate and the strength sweep share it)."""
    return evaluate(
        loaded.system.g_s,
        loaded.system.g_u,
        latents.source_before,
        latents.others_before,
        inv["source_image"],
        inv["source_camera"],
        embed,
        features,
        reference,
        batch,
        latents.source_after,
        latents.others_after,
    )


def second_metrics(
    g_s: GeneratorAdapter, g_u: GeneratorAdapter, latents: Latents, embed: Images
) -> dict[str, float | int]:
    """ID, ID_others and the no-face counts of a second evaluation network (`*_second`
    keys; its views are the first's), which `check_faces` gates like the first's."""
    second = identity_metrics(
        g_s,
        g_u,
        latents.source_before,
        latents.others_before,
        latents.source_after,
        latents.others_after,
        embed,
    )
    kept = ("id", "id_others", *(f"no_face_{g}_{w}" for g in NO_FACE_GROUPS for w in WHEN))
    return {f"{key}{EVALUATORS[1]}": second[key] for key in kept}


@dataclass(frozen=True)
class EvaluateJob:
    """One evaluate job: the unlearned file of a method (name and settings_json) on one
    identity, scored with the evaluation networks against the FID reference."""

    generator: str
    unlearned: str
    method: str
    settings: str  # methods.settings_json of the method
    inversion: str
    target: str  # w_t: the strip's target when the unlearned file holds none
    eval_identity: str
    features: str
    reference: str
    out_json: str
    out_png: str
    labels: dict[str, str]
    batch: int = 100
    encoder: str | None = None  # the inversion encoder (the encoder method's system)
    second_identity: str | None = None
    device: str = "cpu"
    max_no_face_share: float = 1.0  # fail above this share of no-face views (`check_faces`)


def run_evaluate(job: EvaluateJob) -> None:
    """Metrics of one run as JSON, and a [source, target, before, after] strip as PNG.

    ID compares the same system before and after unlearning (`Unlearned.latents`): G_s vs
    G_u at the stored inversions for the methods that change the generator, G_s(E_s(x))
    vs G_s(E_u(x)) for the encoder method. A second evaluation network with its own
    detector (real setting: facenet beside CurricularFace) adds `id_second`,
    `id_others_second` and its misses `no_face_*_second`. The run fails when either
    detector found no face in more than `max_no_face_share` of one side's views
    (`check_faces`). `setting_*` keys name what a caption must say: the generator's
    rendering (`GeneratorAdapter.setting`), the method's steps and loss reduction, the
    FID samples.
    The strip's target is the latent the method trained w_u towards (GUIDE: w_t).
    Every network and the inversion's tensors are on `device`.
    """
    loaded = load_system(
        job.generator, job.unlearned, job.method, job.settings, job.encoder, job.device
    )
    g_s, g_u = loaded.system.g_s, loaded.system.g_u
    dev = g_s.w_avg.device
    inv = load_inversion(job.inversion, dev)
    w_t = (load_target(job.target) if loaded.target is None else loaded.target).to(dev)
    latents = loaded.latents(inv)
    reference = read_npz(job.reference)
    embed, features = load_embedder(job.eval_identity, dev), load_features(job.features, dev)
    metrics = evaluate_system(loaded, inv, latents, embed, features, reference, job.batch)
    if job.second_identity:
        second = load_embedder(job.second_identity, dev)
        metrics |= second_metrics(g_s, g_u, latents, second)
    check_faces(metrics, job.max_no_face_share, run_name(job.labels))
    setting = run_setting(g_s, loaded.meta, reference)
    write_json(job.out_json, {**job.labels, **metrics, **setting})
    frontal = g_s.frontal_camera(1)
    with torch.no_grad():
        images = [
            inv["source_image"],
            g_s.synthesis(w_t[None], frontal)["image"][0],
            g_s.synthesis(latents.source_before[None], frontal)["image"][0],
            g_u.synthesis(latents.source_after[None], frontal)["image"][0],
        ]
    save_strip(job.out_png, [image.cpu() for image in images])
