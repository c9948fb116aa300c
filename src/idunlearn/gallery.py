"""Retained faces: what unlearning one identity did to everybody else's faces.

The reference code's users asked whether non-target faces changing is expected. The
gallery answers with pictures beside ID_others: the same fixed faces for every method
and scenario (seeded random z, and other identities' latents), rendered frontally by
G_s and by each method's system, with the per-face ID (evaluation network, mean over
the evaluation views, as Table 1's ID) between the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from idunlearn.backend import load_embedder, load_generator, resolve_device
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import write_json
from idunlearn.loop import progress
from idunlearn.metrics import identity_similarity, view_embeddings
from idunlearn.pictures import gallery_figure
from idunlearn.render import Faces, System, faces_of_inversion, faces_of_z, unlearned_system
from idunlearn.visual import to_uint8


def retained_faces(
    g_s: GeneratorAdapter, inversions: Sequence[str], num_random: int, seed: int
) -> Faces:
    """`num_random` z from `seed`, then the source latent of each inversion file."""
    z = torch.randn(num_random, g_s.z_dim, generator=torch.Generator().manual_seed(seed))
    faces = faces_of_z(g_s, z, [f"z {k}" for k in range(num_random)])
    for path in inversions:
        faces = faces + faces_of_inversion(path, g_s.w_avg.device, others=False)
    return faces


@torch.no_grad()
def frontal_renders(generator: GeneratorAdapter, ws: torch.Tensor) -> np.ndarray:
    """[B, H, W, 3] uint8 frontal images."""
    images = generator.synthesis(ws, generator.frontal_camera(len(ws)))["image"]
    return np.stack([to_uint8(image) for image in images])


def face_ids(
    g_s: GeneratorAdapter, system: System, faces: Faces, embed, before: Sequence[torch.Tensor]
) -> list[float]:
    """Per face: mean over the evaluation views of cos(E(G_s(w)), E(system's render));
    `before` holds G_s's side (view_embeddings), the same for every system."""
    ws_after = system.latents(faces)
    ids = identity_similarity(g_s, system.generator, faces.ws, embed, ws_after, before=before)
    return [float(value) for value in ids]


def run_gallery(
    generator_path: str,
    runs: Sequence[tuple[str, str, str]],  # (method, unlearned file, evaluation strip)
    inversions: Sequence[str],  # other identities' inversion files
    encoder_path: str | None,
    eval_identity_path: str,
    num_random: int,
    seed: int,
    title: str,
    out_png: str,
    out_json: str,
    device: str = "cpu",
) -> None:
    """The gallery figure of one forgotten identity and its per-face IDs as JSON."""
    dev = resolve_device(device)
    g_s = load_generator(generator_path, dev)
    embed = load_embedder(eval_identity_path, dev)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # EG3D draws noise per pass
        faces = retained_faces(g_s, inversions, num_random, seed)
        before = frontal_renders(g_s, faces.ws)
        source = view_embeddings(g_s, faces.ws, embed)
        after, ids = {}, {}
        for k in progress(len(runs), "gallery"):  # one system a step: minutes on EG3D
            method, unlearned, _ = runs[k]
            system = unlearned_system(g_s, unlearned, encoder_path, dev)
            after[method] = frontal_renders(system.generator, system.latents(faces))
            ids[method] = face_ids(g_s, system, faces, embed, source)
    methods = [method for method, _, _ in runs]
    strips = [strip for _, _, strip in runs]
    gallery_figure(title, methods, strips, faces.labels, before, after, ids, out_png)
    mean = {method: float(np.mean(values)) for method, values in ids.items()}
    write_json(out_json, {"faces": list(faces.labels), "id": ids, "mean_id": mean, "seed": seed})
