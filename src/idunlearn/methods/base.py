"""What a method module provides, and what the shared driver gives it.

A kind's options live in `idunlearn.methods.options` (torch-free, read at parse time): a
frozen dataclass whose defaults are the paper's, with a `needs` property (the files its
unlearn job reads besides G_s, the inversion and LPIPS: TARGET, LOSS_IDENTITY,
RETAIN_IMAGES, ENCODER). Its implementation module (guide, cascaded, feature, encoder,
adapter; the registry `idunlearn.methods.KINDS` names it) holds:
- `unlearn(context) -> Result`;
- `system(g_s, state, options, encoder_path, device) -> System`: the unlearned system
  rebuilt from its saved state, and `latents(system, inversion) -> Latents`: how that
  system maps the identity's images to latents before and after unlearning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from idunlearn.backend import load_embedder, load_encoder_network
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.identities import lookup, read_identities
from idunlearn.io import UserError
from idunlearn.losses import Embedder, Perceptual
from idunlearn.methods.options import Method
from idunlearn.methods.retain import retain_sample
from idunlearn.targets import load_target
from idunlearn.unlearning import UnlearnSchedule
from idunlearn.world.build import training_split

Encoder = Callable[[torch.Tensor], torch.Tensor]  # images -> W+ latents


@dataclass(frozen=True)
class Files:
    """The paths an unlearn job may read; None where the method does not need one."""

    target: str | None = None
    loss_identity: str | None = None
    dataset: str | None = None
    identities: str | None = None
    encoder: str | None = None


@dataclass(frozen=True)
class Context:
    """Everything `unlearn(context)` may use; files are read only when asked for."""

    method: Method
    g_s: GeneratorAdapter
    inversion: dict[str, Any]  # the inversion checkpoint: state_dict and meta
    lpips: Perceptual
    schedule: UnlearnSchedule  # its lr already the method's own
    seed: int
    files: Files

    @property
    def device(self) -> torch.device:
        return self.g_s.w_avg.device

    @property
    def w_u(self) -> torch.Tensor:
        return self.inversion["state_dict"]["w_u"].to(self.device)

    def target(self) -> torch.Tensor:
        return load_target(self.required("target", "--target")).to(self.device)

    def loss_identity(self) -> Embedder:
        return load_embedder(self.required("loss_identity", "--loss-identity"), self.device)

    def encoder_network(self) -> torch.nn.Module:
        return load_encoder_network(self.required("encoder", "--encoder"), self.device)

    def retain(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """A seeded sample of training images of identities other than the one unlearned
        (InD identities are training identities: their images are excluded)."""
        dataset = self.required("dataset", "--dataset and --identities")
        identities = self.required("identities", "--dataset and --identities")
        meta = self.inversion["meta"]
        label = int(lookup(read_identities(identities), meta["scenario"], meta["identity"]).label)
        return retain_sample(training_split(dataset), label if label >= 0 else None, n, rng)

    def required(self, name: str, flag: str) -> str:
        path = getattr(self.files, name)
        if path is None:
            raise UserError(f"method {self.method.name!r} ({self.method.kind}) needs {flag}")
        return path


@dataclass(frozen=True)
class Result:
    """What one unlearn run produced: the state to save (only what it changed), the
    method's meta (steps, history, ...) and the latent it aimed w_u at (None: w_t)."""

    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    target: torch.Tensor | None = None


@dataclass(frozen=True)
class System:
    """An unlearned system as evaluation, attacks and renders see it."""

    g_s: GeneratorAdapter
    g_u: GeneratorAdapter  # G_s itself for a method that leaves the generator alone
    encoder_s: Encoder | None = None  # the pretrained inverter the system uses (encoder kind)
    encoder_u: Encoder | None = None  # its unlearned version


@dataclass(frozen=True)
class Latents:
    """The system's latents of the identity's images: source [num_ws, w_dim] and
    others [K, num_ws, w_dim], before (for G_s) and after (for G_u) unlearning."""

    source_before: torch.Tensor
    others_before: torch.Tensor
    source_after: torch.Tensor
    others_after: torch.Tensor


def generator_system(
    g_s: GeneratorAdapter,
    state: dict[str, torch.Tensor],
    options: Any,
    encoder_path: str | None,
    device: torch.device,
) -> System:
    """G_u = a copy of G_s with the unlearned trainable parameters put back (the
    pretrained file is not read again: for EG3D that is a verified pickle)."""
    g_u = copy.deepcopy(g_s)
    g_u.load_trainable_state_dict({k: v.to(device) for k, v in state.items()})
    return System(g_s, g_u)


def stored_latents(system: System, inversion: dict[str, torch.Tensor]) -> Latents:
    """Methods that change the generator: the stored inversions, before and after."""
    return Latents(inversion["w_u"], inversion["w_others"], inversion["w_u"], inversion["w_others"])


def comparison_rng(seed: int) -> torch.Generator:
    """The comparison methods' one seeded generator; torch's global one is seeded too, so a
    stray draw stays reproducible."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
