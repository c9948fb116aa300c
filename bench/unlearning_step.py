"""Benchmark: one GUIDE step, batched (ours) vs the reference code's batch-1 passes.

Also home of `sequential_step_loss`, the reference-style implementation the
tests compare the batched step against. Prints seconds per step of each and
their ratio on the same draws.

    python bench/unlearning_step.py --steps 20 --threads 2
"""

from __future__ import annotations

import copy
import time

import click
import torch

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.losses import (
    Embedder,
    LossConfig,
    Perceptual,
    StepDraws,
    draw_step,
    local_terms,
    reduce,
    step_loss,
)


def sequential_step_loss(
    g_u: GeneratorAdapter,
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    w_t: torch.Tensor,
    draws: StepDraws,
    lpips: Perceptual,
    embed: Embedder,
    config: LossConfig,
) -> dict[str, torch.Tensor]:
    """The reference code's form: every term its own batch-1 forward pass."""

    def local(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out_u = g_u.synthesis(a[None], draws.camera)
        with torch.no_grad():
            out_s = g_s.synthesis(b[None], draws.camera)
        return local_terms(out_u, out_s, lpips, embed, config)[0]

    def global_term(w: torch.Tensor) -> torch.Tensor:
        image_u = g_u.synthesis(w[None], draws.camera)["image"]
        with torch.no_grad():
            image_s = g_s.synthesis(w[None], draws.camera)["image"]
        return lpips(image_u, image_s).flatten()[0]

    l_local = local(w_u, w_t)
    adj = [local(w_u + delta, w_t + delta) for delta in draws.deltas]
    glob = [global_term(w) for w in draws.w_global]
    l_adj = reduce(torch.stack(adj), config.reduction) if adj else l_local.new_zeros(())
    l_global = reduce(torch.stack(glob), config.reduction) if glob else l_local.new_zeros(())
    total = l_local + config.adj_weight * l_adj + config.global_weight * l_global
    return {"total": total, "local": l_local, "adj": l_adj, "global": l_global}


def time_steps(loss_fn, g_s, w_u, w_t, lpips, embed, config, steps, seed) -> float:
    g_u = copy.deepcopy(g_s)
    g_u.freeze_all_but_trainable()
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=1e-4)
    rng = torch.Generator().manual_seed(seed)
    draws = [draw_step(g_s, w_u, config, rng) for _ in range(steps + 2)]
    for i, d in enumerate(draws):
        if i == 2:  # two warm-up steps
            start = time.perf_counter()
        loss = loss_fn(g_u, g_s, w_u, w_t, d, lpips, embed, config)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


@click.command()
@click.option("--steps", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--lpips-net", type=click.Choice(["alex", "vgg"]), default="alex", show_default=True)
def main(steps: int, threads: int, lpips_net: str) -> None:
    """Random-weight synthetic generator and identity network: the cost, not the result."""
    from idunlearn.generators.synthetic import SyntheticGenerator
    from idunlearn.nets.cnn import IdentityNet
    from idunlearn.perceptual import build_lpips

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g_s = SyntheticGenerator(z_dim=19).requires_grad_(False)
    embed = IdentityNet().eval().requires_grad_(False)
    lpips = build_lpips(lpips_net)
    w_u = g_s.mapping(torch.randn(1, 19))[0]
    w_t = g_s.w_avg.clone()
    config = LossConfig(adj_weight=1.0, global_weight=1.0)
    batched = time_steps(step_loss, g_s, w_u, w_t, lpips, embed, config, steps, 0)
    sequential = time_steps(sequential_step_loss, g_s, w_u, w_t, lpips, embed, config, steps, 0)
    click.echo(f"GUIDE step (N_a = N_g = 2, LPIPS {lpips_net}, {threads} threads, CPU)")
    click.echo(f"  batched    {batched * 1000:8.1f} ms/step")
    click.echo(f"  sequential {sequential * 1000:8.1f} ms/step")
    click.echo(f"  speed-up   {sequential / batched:8.2f}x")


if __name__ == "__main__":
    main()
