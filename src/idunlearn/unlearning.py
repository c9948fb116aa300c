"""Per-identity unlearning: fine-tune the synthesis backbone of a copy of G_s.

G_s stays frozen; G_u = a deep copy whose `trainable_names()` parameters alone
receive gradients (EG3D: `backbone.synthesis`). Adam, as in the paper.
`run_unlearn` dispatches on the method's kind: GUIDE (`unlearn` below) or one of
the comparison methods of `idunlearn.comparisons`. The encoder method trains the
inversion encoder instead; its file then also holds the encoder (keys prefixed
`encoder.`) beside the unchanged trainable generator parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from idunlearn.backend import (
    Device,
    as_inversion_encoder,
    load_embedder,
    load_encoder_network,
    load_generator,
    load_lpips,
    resolve_device,
)
from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.comparisons.cascaded import unlearn_cascaded
from idunlearn.comparisons.common import retain_sample
from idunlearn.comparisons.encoder import unlearn_encoder
from idunlearn.comparisons.feature import unlearn_feature
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.identities import lookup, read_identities
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import ArtefactError
from idunlearn.loop import progress, take_step, trainable_copy
from idunlearn.losses import Embedder, LossConfig, Perceptual, draw_step, step_loss
from idunlearn.methods import Method, get_method
from idunlearn.targets import load_target
from idunlearn.world.build import training_split


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
    g_u = trainable_copy(g_s)
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=schedule.lr)
    history: list[dict[str, float]] = []
    bar = progress(schedule.steps, "unlearn", show_progress)
    for _ in bar:
        draws = draw_step(g_s, w_u, config, rng)
        losses = step_loss(g_u, g_s, w_u, w_t, draws, lpips, embed, config)
        history.append(take_step(optimizer, losses, bar))
    g_u.requires_grad_(False)
    return g_u, history


UNLEARNED_KIND = "unlearned-generator"


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
    dataset_path: str | None = None,
    identities_path: str | None = None,
    encoder_path: str | None = None,
) -> None:
    """Unlearn one identity with one method; save only the trained parameters.

    The comparison methods that use retain images (cascaded few_shot, encoder) need
    `dataset_path` and `identities_path`; the encoder method needs `encoder_path`.
    """
    method = get_method(method_config, method_name)
    if method.lr is not None:
        schedule = replace(schedule, lr=method.lr)
    dev = resolve_device(device)
    inversion = load_checkpoint(inversion_path, INVERSION_KIND)
    w_u = inversion["state_dict"]["w_u"].to(dev)
    g_s = load_generator(generator_path, dev)
    lpips = load_lpips(lpips_net, lpips_random).to(dev)
    if method.kind == "guide":
        g_u, history = unlearn(
            g_s,
            w_u,
            load_target(target_path).to(dev),
            lpips,
            load_embedder(loss_identity_path, dev),
            method.loss,
            schedule,
            seed,
        )
        state = g_u.trainable_state_dict()
        meta = {"method": method_name, "seed": seed, "steps": schedule.steps, "history": history}
        meta["reduction"] = method.loss.reduction  # named by captions (paper: sum, as the code)
    else:
        state, meta = run_comparison(
            method,
            g_s,
            inversion,
            lpips,
            loss_identity_path,
            schedule,
            seed,
            dataset_path,
            identities_path,
            encoder_path,
        )
    save_checkpoint(out, UNLEARNED_KIND, state, meta=meta)


ENCODER_PREFIX = "encoder."


def load_retain(
    dataset_path: str | None,
    identities_path: str | None,
    inversion_meta: dict[str, Any],
    n: int,
    rng: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A seeded sample of training images of identities other than the one unlearned
    (InD identities are training identities: their images are excluded)."""
    if dataset_path is None or identities_path is None:
        raise ValueError("this method needs --dataset and --identities (its retain images)")
    scenario, identity = inversion_meta["scenario"], inversion_meta["identity"]
    label = int(lookup(read_identities(identities_path), scenario, identity).label)
    return retain_sample(training_split(dataset_path), label if label >= 0 else None, n, rng)


def run_comparison(
    method: Method,
    g_s: GeneratorAdapter,
    inversion: dict[str, Any],
    lpips: Perceptual,
    loss_identity_path: str,
    schedule: UnlearnSchedule,
    seed: int,
    dataset_path: str | None,
    identities_path: str | None,
    encoder_path: str | None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """One comparison method (cascaded, feature, encoder) on G_s's device; every draw from
    one seeded rng. Returns the state to save and its meta."""
    dev = g_s.w_avg.device
    lr = schedule.lr
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # nothing should draw from it; a stray draw stays reproducible
    inv = inversion["state_dict"]
    w_u = inv["w_u"].to(dev)
    options = method.options
    meta: dict[str, Any] = {"method": method.name, "kind": method.kind, "seed": seed, "lr": lr}
    state = None
    if method.kind == "cascaded":
        retain = None
        if options.needs_retain_images:
            retain = load_retain(
                dataset_path, identities_path, inversion["meta"], options.retain_size, rng
            )
        g_u, history, w_target = unlearn_cascaded(
            g_s,
            w_u,
            lpips,
            load_embedder(loss_identity_path, dev),
            options,
            lr,
            rng,
            retain,
        )
        meta["steps"] = options.unlearn_steps + options.learn_steps
    elif method.kind == "feature":
        g_u, history, w_target, info = unlearn_feature(
            g_s, w_u, load_embedder(loss_identity_path, dev), options, schedule.steps, lr, rng
        )
        meta.update(steps=schedule.steps, direction=info)
    elif method.kind == "encoder":
        if encoder_path is None:
            raise ValueError("the encoder method needs --encoder (the inversion encoder file)")
        retain = load_retain(
            dataset_path, identities_path, inversion["meta"], options.retain_size, rng
        )
        e_u, history, w_target = unlearn_encoder(
            load_encoder_network(encoder_path, dev),
            g_s.w_avg.detach(),
            inv["source_image"][None].to(dev),
            retain["images"].to(dev),
            options,
            schedule.steps,
            lr,
            rng,
        )
        g_u = g_s  # untouched: its trainable parameters are stored so load_unlearned works
        state = {f"{ENCODER_PREFIX}{k}": v for k, v in e_u.state_dict().items()}
        meta["steps"] = schedule.steps
    else:
        raise ValueError(f"unknown method kind {method.kind!r}")
    meta.update(history=history, target_latent=w_target.detach().cpu())
    return {**g_u.trainable_state_dict(), **(state or {})}, meta


def load_unlearned(g_s: GeneratorAdapter, unlearned_path: str) -> GeneratorAdapter:
    """G_u = a copy of the loaded G_s with the unlearned trainable parameters put back
    (the pretrained file is not read again: for EG3D that is a verified pickle)."""
    g_u = copy.deepcopy(g_s)
    state = load_checkpoint(unlearned_path, UNLEARNED_KIND)["state_dict"]
    g_u.load_trainable_state_dict(
        {k: v.to(g_s.w_avg.device) for k, v in state.items() if not k.startswith(ENCODER_PREFIX)}
    )
    return g_u


Encoder = Callable[[torch.Tensor], torch.Tensor]  # images -> W+ latents


def load_unlearned_encoder(
    encoder_path: str | None,
    unlearned_path: str,
    generator: GeneratorAdapter,
    device: Device = "cpu",
) -> Encoder | None:
    """E_u as a callable images -> W+ of `generator` on `device` for the encoder method,
    None for the methods that unlearn the generator (their encoder is the pretrained one)."""
    state = load_checkpoint(unlearned_path, UNLEARNED_KIND)["state_dict"]
    encoder_state = {
        k[len(ENCODER_PREFIX) :]: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)
    }
    if not encoder_state:
        return None
    if encoder_path is None:
        raise ArtefactError(f"{unlearned_path} holds an unlearned encoder: pass the encoder file")
    encoder = load_encoder_network(encoder_path, device)
    try:
        encoder.load_state_dict(encoder_state, strict=True)
    except RuntimeError as err:
        raise ArtefactError(f"{unlearned_path}: the encoder does not fit {encoder_path}") from err
    return as_inversion_encoder(encoder.eval().requires_grad_(False), generator)


def unlearned_target(unlearned_path: str) -> torch.Tensor | None:
    """The latent a comparison method trained w_u towards (None for GUIDE's files)."""
    return load_checkpoint(unlearned_path, UNLEARNED_KIND)["meta"].get("target_latent")


@torch.no_grad()
def system_latents(
    inversion: dict[str, torch.Tensor], encoder: Encoder | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The unlearned system's latents of the identity's images: (source [num_ws, w_dim],
    others [K, num_ws, w_dim]).

    Generator methods: the stored inversions w_u and w_others. Encoder method: E_u of the
    source image and of the other images (Random: the source is G_s(w_u), frontal).
    """
    if encoder is None:
        return inversion["w_u"], inversion["w_others"]
    source = encoder(inversion["source_image"][None])[0]
    if len(inversion["w_others"]) == 0:
        return source, inversion["w_others"]
    if "other_images" not in inversion:
        raise ArtefactError("the inversion file has no other_images: re-run its invert job")
    return source, encoder(inversion["other_images"])
