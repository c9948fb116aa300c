"""Target latents for unlearning: UFO (GUIDE eq. 3) and the w_avg baseline."""

from __future__ import annotations

import torch

from idunlearn.backend import load_generator
from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import UserError


def ufo_target(w_u: torch.Tensor, w_avg: torch.Tensor, d: float) -> torch.Tensor:
    """w_t = w_avg - d * (w_u - w_avg) / ||w_u - w_avg||_F, the norm taken over all of W+.

    d > 0 extrapolates past the average face, away from the source identity;
    d = 0 is the average face; d < 0 interpolates towards the source.
    `w_u` is [num_ws, w_dim] or a batch [B, num_ws, w_dim].
    """
    w_id = w_u - w_avg
    norm = w_id.flatten(start_dim=-2).norm(dim=-1)[..., None, None]
    return w_avg - d * w_id / norm.clamp_min(1e-12)


def target_latent(w_u: torch.Tensor, w_avg: torch.Tensor, kind: str, d: float) -> torch.Tensor:
    """The configured target: `average` (the baseline, w_avg) or `ufo` at distance d."""
    if kind == "average":
        return w_avg.expand_as(w_u).clone()
    if kind == "ufo":
        return ufo_target(w_u, w_avg, d)
    raise ValueError(f"unknown target kind {kind!r} (expected 'average' or 'ufo')")


TARGET_KIND = "target"


def target_for_key(w_u: torch.Tensor, w_avg: torch.Tensor, key: str) -> torch.Tensor:
    """The target a method names by key: `average`, or `ufo_d{d}` (e.g. ufo_d30, ufo_d-15)."""
    if key == "average":
        return target_latent(w_u, w_avg, "average", 0.0)
    if key.startswith("ufo_d"):
        try:
            d = float(key[len("ufo_d") :])
        except ValueError:
            d = None
        if d is not None:
            return target_latent(w_u, w_avg, "ufo", d)
    raise UserError(f"unknown target key {key!r} (expected 'average' or 'ufo_d<number>')")


def run_target(inversion_path: str, generator_path: str, key: str, out: str) -> None:
    """One identity's target latent w_t for one target key."""
    w_u = load_checkpoint(inversion_path, INVERSION_KIND)["state_dict"]["w_u"]
    w_avg = load_generator(generator_path).w_avg.detach()
    save_checkpoint(out, TARGET_KIND, {"w_t": target_for_key(w_u, w_avg, key)}, meta={"key": key})


def load_target(path: str) -> torch.Tensor:
    return load_checkpoint(path, TARGET_KIND)["state_dict"]["w_t"]
