"""The one place where unlearned systems are made and loaded.

`run_unlearn` (the unlearn step) loads G_s, the inversion and LPIPS, asks the method's
module to unlearn, and saves only what it changed. `load_system` (evaluate, attack and
renders) rebuilds G_u (and, for the encoder method, E_s and E_u) from that file, and
`Unlearned.latents` says how the system maps the identity's images to latents before
and after unlearning, so that every method is scored on the same system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from idunlearn.backend import load_generator, load_lpips, resolve_device
from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import ArtefactError
from idunlearn.methods import implementation, method_from_settings
from idunlearn.methods.base import Context, Files, Latents, System
from idunlearn.methods.options import Method
from idunlearn.unlearning import UnlearnSchedule

UNLEARNED_KIND = "unlearned-generator"


@dataclass(frozen=True)
class UnlearnJob:
    """One unlearn job: a method (its name and `settings_json`) on one identity's files."""

    generator: str
    inversion: str
    method: str
    settings: str  # the method's resolved settings, methods.settings_json
    out: str
    seed: int
    steps: int = 1000
    lr: float = 1e-4  # unless the method sets its own
    lpips_net: str = "alex"
    lpips_random: bool = True
    device: str = "cpu"
    files: Files = Files()  # target, loss identity, retain images, encoder: as the method needs


def run_unlearn(job: UnlearnJob) -> None:
    """Unlearn one identity with one method; save only what the method trained."""
    method = method_from_settings(job.method, job.settings)
    schedule = UnlearnSchedule(job.steps, job.lr if method.lr is None else method.lr)
    dev = resolve_device(job.device)
    inversion = load_checkpoint(job.inversion, INVERSION_KIND)
    g_s = load_generator(job.generator, dev)
    lpips = load_lpips(job.lpips_net, job.lpips_random).to(dev)
    context = Context(method, g_s, inversion, lpips, schedule, job.seed, job.files)
    result = implementation(method.kind).unlearn(context)
    meta: dict[str, Any] = {
        "method": method.name,
        "kind": method.kind,
        "seed": job.seed,
        "lr": schedule.lr,
        "settings": job.settings,  # renders rebuild the system from the file alone
        **result.meta,
    }
    if result.target is not None:
        meta["target_latent"] = result.target.detach().cpu()
    save_checkpoint(job.out, UNLEARNED_KIND, result.state, meta=meta)


@dataclass(frozen=True)
class Unlearned:
    """A loaded unlearned system, its method and the latent it aimed w_u at (None: the
    target file's w_t, GUIDE's objective)."""

    method: Method
    system: System
    target: torch.Tensor | None
    meta: dict[str, Any]  # what the unlearn job recorded (steps, reduction, history, ...)

    def latents(self, inversion: dict[str, torch.Tensor]) -> Latents:
        """The system's latents of the identity's images before and after unlearning."""
        return implementation(self.method.kind).latents(self.system, inversion)


def load_system(
    generator: str,
    unlearned: str,
    method: str,
    settings: str,
    encoder: str | None = None,
    device: str = "cpu",
) -> Unlearned:
    """G_s, and the unlearned system of `unlearned` (a run of `method` with `settings`,
    methods.settings_json) on `device`; `encoder` is the inversion encoder file (the
    encoder method's system needs it)."""
    dev = resolve_device(device)
    m = method_from_settings(method, settings)
    g_s = load_generator(generator, dev)
    payload = load_checkpoint(unlearned, UNLEARNED_KIND)
    system = implementation(m.kind).system(g_s, payload["state_dict"], m.options, encoder, dev)
    return Unlearned(m, system, payload["meta"].get("target_latent"), payload["meta"])


def system_of_file(
    g_s: GeneratorAdapter, unlearned: str, encoder: str | None, device: torch.device
) -> System:
    """The unlearned system of an unlearn output on an already loaded G_s, rebuilt from the
    method name and settings that the file records (renders and the gallery: no config)."""
    payload = load_checkpoint(unlearned, UNLEARNED_KIND)
    meta = payload["meta"]
    if "settings" not in meta:
        raise ArtefactError(f"{unlearned} records no method settings: rerun its unlearn job")
    m = method_from_settings(meta["method"], meta["settings"])
    return implementation(m.kind).system(g_s, payload["state_dict"], m.options, encoder, device)


def load_inversion(path: str, device: torch.device) -> dict[str, torch.Tensor]:
    """The inversion file's tensors on `device`."""
    state = load_checkpoint(path, INVERSION_KIND)["state_dict"]
    return {key: value.to(device) for key, value in state.items()}
