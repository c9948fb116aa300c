"""Adapter unlearning (LEGATO, arXiv 2601.04282), trained with GUIDE's objective.

The pretrained generator stays frozen. After each chosen synthesis resolution stage of
the generator adapter (`GeneratorAdapter.adapter_stages`) a small residual adapter
refines the stage's output as a Neural ODE, dx/dt = f(x), integrated by Euler steps over
[0, T]: f is a 1x1-conv bottleneck of `width` channels whose last layer starts at zero, so
the untrained adapters leave G_u exactly equal to G_s. Only the adapters are trained, by
GUIDE's loop and loss (`unlearning.unlearn`, `losses.step_loss`) at T = 1; at evaluation
T = `strength` sets how much is forgotten (T = 0 is G_s again), so a sweep over strengths
traces a forgetting-vs-preservation curve without retraining. Saved: the adapters' weights.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import UserError
from idunlearn.loss_config import LossConfig
from idunlearn.losses import Embedder, Perceptual
from idunlearn.methods import guide
from idunlearn.methods.base import Context, Result, System, stored_latents
from idunlearn.methods.options import AdapterOptions
from idunlearn.seeding import derive_seed
from idunlearn.unlearning import StepTerm
from idunlearn.unlearning import unlearn as guide_loop


class ODEAdapter(nn.Module):
    """x -> x integrated along dx/dt = f(x) for time `strength`, f(x) = B(leaky(A(x)))."""

    def __init__(self, channels: int, width: int, steps: int, rng: torch.Generator) -> None:
        super().__init__()
        self.inp = nn.Conv2d(channels, width, 1)
        self.out = nn.Conv2d(width, channels, 1)
        with torch.no_grad():  # A: He-scaled from the seeded rng; B and the biases: zero
            self.inp.weight.copy_(torch.randn(width, channels, 1, 1, generator=rng))
            self.inp.weight.mul_((2.0 / channels) ** 0.5)
            for param in (self.inp.bias, self.out.weight, self.out.bias):
                param.zero_()
        self.steps = steps
        self.strength = 1.0

    def field(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype  # EG3D's early blocks may run in float16
        h = F.leaky_relu(self.inp(x.to(self.inp.weight.dtype)), 0.2)
        return self.out(h).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dt = self.strength / self.steps
        for _ in range(self.steps):
            x = x + dt * self.field(x)
        return x

    def hook(self, _module: nn.Module, _inputs: Any, output: Any) -> Any:
        """A forward hook refining a stage's output (a feature map, or a tuple's first item).
        A bound method, so a deep copy of the generator hooks the copied adapter."""
        if isinstance(output, tuple):
            return (self(output[0]), *output[1:])
        return self(output)


class AdaptedGenerator(GeneratorAdapter):
    """A private copy of G_s, frozen, with ODE adapters hooked after its stages; only the
    adapters are trainable (and saved)."""

    def __init__(self, g_s: GeneratorAdapter, opts: AdapterOptions, rng: torch.Generator) -> None:
        super().__init__()
        self.base = copy.deepcopy(g_s).requires_grad_(False)
        self.z_dim, self.num_ws = g_s.z_dim, g_s.num_ws
        self.w_dim, self.image_size = g_s.w_dim, g_s.image_size
        available = self.base.adapter_stages()
        names = list(available) if opts.stages is None else list(opts.stages)
        unknown = sorted(set(names) - set(available))
        if unknown:
            known = ", ".join(available)
            raise UserError(f"adapter stages {', '.join(unknown)} unknown (known: {known})")
        device = g_s.w_avg.device
        self.adapters = nn.ModuleDict(
            {n: ODEAdapter(available[n][1], opts.width, opts.ode_steps, rng) for n in names}
        ).to(device)
        for name in names:
            available[name][0].register_forward_hook(self.adapters[name].hook)
        self.freeze_all_but_trainable()

    def set_strength(self, strength: float) -> None:
        for adapter in self.adapters.values():
            adapter.strength = float(strength)

    def mapping(self, z: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        return self.base.mapping(z, camera)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.base.w_avg

    def synthesis(self, ws: torch.Tensor, camera: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.base.synthesis(ws, camera)

    def trainable_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if n.startswith("adapters.")]

    def sample_train_cameras(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.base.sample_train_cameras(n, generator)

    def eval_cameras(self) -> torch.Tensor:
        return self.base.eval_cameras()

    def frontal_camera(self, n: int) -> torch.Tensor:
        return self.base.frontal_camera(n)


def adapted(g_s: GeneratorAdapter, opts: AdapterOptions, seed: int) -> AdaptedGenerator:
    """G_s with fresh (zero-effect) adapters; the first layers drawn from the seed."""
    rng = torch.Generator().manual_seed(derive_seed(seed, "adapter"))
    return AdaptedGenerator(g_s, opts, rng)


def unlearn(context: Context) -> Result:
    opts = context.method.options
    objective = opts.objective
    g_u, history = guide_loop(
        context.g_s,
        context.w_u,
        context.target(),
        context.lpips,
        context.loss_identity(),
        objective.loss,
        context.schedule,
        context.seed,
        make_copy=lambda g_s: adapted(g_s, opts, context.seed),
    )
    meta = {
        "steps": context.schedule.steps,
        "history": history,
        "reduction": objective.loss.reduction,
    }
    return Result(g_u.trainable_state_dict(), meta)


def system(
    g_s: GeneratorAdapter,
    state: dict[str, torch.Tensor],
    opts: AdapterOptions,
    encoder_path: str | None,
    device: torch.device,
) -> System:
    """G_u = G_s with the saved adapters, integrated for T = `strength`."""
    g_u = adapted(g_s, opts, 0)
    g_u.load_trainable_state_dict({k: v.to(device) for k, v in state.items()})
    g_u.set_strength(opts.strength)
    return System(g_s, g_u)


latents = stored_latents


# --- many identities (idunlearn.multi): GUIDE's objective on fresh adapters -------------


def multi_loss(opts: AdapterOptions) -> LossConfig:
    return opts.objective.loss


def multi_start(g_s: GeneratorAdapter, opts: AdapterOptions, seed: int) -> GeneratorAdapter:
    return adapted(g_s, opts, seed)


def multi_terms(
    g_s: GeneratorAdapter,
    w_us: torch.Tensor,
    trained: Sequence[int],
    lpips: Perceptual,
    embed: Embedder,
    opts: AdapterOptions,
    seed: int,
) -> list[StepTerm]:
    return guide.multi_terms(g_s, w_us, trained, lpips, embed, opts.objective, seed)
