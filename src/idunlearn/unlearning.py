"""Per-identity unlearning: fine-tune the synthesis backbone of a copy of G_s.

G_s stays frozen; G_u = a deep copy whose `trainable_names()` parameters alone
receive gradients (EG3D: `backbone.synthesis`). Adam, as in the paper.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from tqdm import tqdm

from idunlearn.backend import load_embedder, load_generator, load_lpips
from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import INVERSION_KIND
from idunlearn.losses import Embedder, LossConfig, Perceptual, draw_step, step_loss
from idunlearn.methods import get_method
from idunlearn.targets import load_target


@dataclass(frozen=True)
class UnlearnSchedule:
    steps: int = 1000
    lr: float = 1e-4


def unlearn(
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,  # [num_ws, w_dim], the latent to forget
    w_t: torch.Tensor,  # [num_ws, w_dim], its target
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
    schedule: UnlearnSchedule,
    seed: int,
    show_progress: bool = True,
) -> tuple[GeneratorAdapter, list[dict[str, float]]]:
    """Return the unlearned generator G_u and the per-step loss history."""
    rng = torch.Generator().manual_seed(seed)
    g_s.requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    g_u.freeze_all_but_trainable()
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=schedule.lr)
    history: list[dict[str, float]] = []
    steps = tqdm(
        range(schedule.steps),
        desc="unlearn",
        mininterval=5.0,
        ascii=True,
        disable=not show_progress,
    )
    for _ in steps:
        draws = draw_step(g_s, w_u, config, rng)
        losses = step_loss(g_u, g_s, w_u, w_t, draws, lpips, embed, config)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
        steps.set_postfix(loss=f"{history[-1]['total']:.4f}", refresh=False)
    g_u.requires_grad_(False)
    return g_u, history


UNLEARNED_KIND = "unlearned-generator"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("unlearn.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


def run_unlearn(
    generator_path: str,
    inversion_path: str,
    target_path: str,
    loss_identity_path: str,
    method_name: str,
    method_config: dict,
    schedule: UnlearnSchedule,
    lpips_net: str,
    lpips_random: bool,
    device: str,
    seed: int,
    out: str,
) -> None:
    """Unlearn one identity with one method; save only the trained parameters."""
    method = get_method(method_config, method_name)
    dev = resolve_device(device)
    w_u = load_checkpoint(inversion_path, INVERSION_KIND)["state_dict"]["w_u"].to(dev)
    g_s = load_generator(generator_path).to(dev)
    g_u, history = unlearn(
        g_s,
        w_u,
        load_target(target_path).to(dev),
        load_lpips(lpips_net, lpips_random).to(dev),
        load_embedder(loss_identity_path).to(dev),
        method.loss,
        schedule,
        seed,
    )
    meta = {"method": method_name, "seed": seed, "steps": schedule.steps, "history": history}
    save_checkpoint(out, UNLEARNED_KIND, g_u.trainable_state_dict(), meta=meta)


def load_unlearned(generator_path: str, unlearned_path: str) -> GeneratorAdapter:
    """G_u = the pretrained file with the unlearned trainable parameters put back."""
    g_u = load_generator(generator_path)
    g_u.load_trainable_state_dict(load_checkpoint(unlearned_path, UNLEARNED_KIND)["state_dict"])
    return g_u
