"""Evaluation metrics, kept apart from feature extraction so they test on closed forms.

ID (GUIDE): mean over evaluation views of cos(E(G_s(w)), E(G_u(w))); lower is better.
FID: pytorch-fid's Frechet distance on feature statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from idunlearn.generators.base import GeneratorAdapter


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of [N, D] features, as pytorch-fid computes them."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need [N >= 2, D] features, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    stats_a: tuple[np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray]
) -> float:
    """pytorch-fid's Frechet distance (imported here: pytorch_fid.fid_score imports
    torchvision, ~4 s at every start of a step that only compares statistics)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(calculate_frechet_distance(stats_a[0], stats_a[1], stats_b[0], stats_b[1]))


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a, b, dim=-1)


def view_embedding(
    generator: GeneratorAdapter,
    ws: torch.Tensor,  # [B, num_ws, w_dim]
    camera: torch.Tensor,  # one evaluation view
    embed: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """E(generator(w, v)) at one view v: [B, D]."""
    return embed(generator.synthesis(ws, camera[None].expand(len(ws), -1))["image"])


@torch.no_grad()
def view_embeddings(
    generator: GeneratorAdapter,
    ws: torch.Tensor,  # [B, num_ws, w_dim]
    embed: Callable[[torch.Tensor], torch.Tensor],
) -> list[torch.Tensor]:
    """E(generator(w, v)) for each evaluation view v: one [B, D] tensor per view."""
    return [view_embedding(generator, ws, camera, embed) for camera in generator.eval_cameras()]


@torch.no_grad()
def identity_similarity(
    g_s: GeneratorAdapter,
    g_u: GeneratorAdapter,
    ws: torch.Tensor,  # [B, num_ws, w_dim]
    embed: Callable[[torch.Tensor], torch.Tensor],
    ws_after: torch.Tensor | None = None,  # G_u's latents, if not `ws` (encoder unlearning)
    embed_after: Callable[[torch.Tensor], torch.Tensor] | None = None,  # G_u's side, if not `embed`
    before: Sequence[torch.Tensor] | None = None,  # view_embeddings(g_s, ws, embed), if known
) -> torch.Tensor:
    """Per latent, mean over the evaluation views of cos(E(G_s(w, v)), E(G_u(w', v))): [B],
    w' = w unless `ws_after` gives the unlearned system's own latents of the same images.
    `embed_after` (the same network) lets a caller count what each side's renders gave;
    `before` lets a caller comparing several systems with one G_s render G_s once."""
    ws_after = ws if ws_after is None else ws_after
    embed_after = embed if embed_after is None else embed_after
    views = g_s.eval_cameras()
    if before is not None and len(before) != len(views):
        raise ValueError(f"{len(before)} embeddings of G_s for {len(views)} evaluation views")
    per_view = []
    for k, camera in enumerate(views):  # G_s, then G_u, per view: EG3D's noise draws in order
        source = view_embedding(g_s, ws, camera, embed) if before is None else before[k]
        per_view.append(cosine(source, view_embedding(g_u, ws_after, camera, embed_after)))
    return torch.stack(per_view).mean(0)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve from scores and boolean labels (Mann-Whitney U, ties halved)."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both positive and negative pairs")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    tied_rank = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(tied_rank, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def verification_auc(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC of cosine similarity on all same- vs different-identity pairs."""
    emb = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sims = emb @ emb.T
    upper = np.triu_indices(len(labels), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    return roc_auc(sims[upper], same)


def identity_rank_score(
    query: np.ndarray,  # [Q, D] embeddings of reconstructions
    query_labels: np.ndarray,  # [Q]
    gallery: np.ndarray,  # [G, D] embeddings of real images
    gallery_labels: np.ndarray,  # [G]
) -> np.ndarray:
    """Per query, the fraction of other identities whose prototype (mean real embedding)
    is less similar to the query than the query's own identity prototype."""
    ids = np.unique(gallery_labels)
    protos = np.stack([gallery[gallery_labels == i].mean(0) for i in ids])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    sims = q @ protos.T  # [Q, I]
    own = np.searchsorted(ids, query_labels)
    own_sim = sims[np.arange(len(q)), own]
    beaten = (sims < own_sim[:, None]).sum(1)
    return beaten / (len(ids) - 1)
