"""Benchmark: one multi-identity unlearning step against N, for GUIDE and SUGAR.

A simultaneous step covers every forgotten identity (one batched GUIDE/SUGAR term each),
so its cost should grow about linearly in N; a sequential arrival costs one identity's
steps. Prints seconds per step per (method, N) and the ratio to N = 1, on the default
world's random-weight synthetic generator (the cost, not the result).

    python bench/multi_step.py --ns 1,2,5,10 --steps 5 --threads 1
"""

from __future__ import annotations

import time

import click
import torch

from idunlearn.loop import trainable_copy
from idunlearn.losses import LossConfig
from idunlearn.methods.options import SugarOptions as Options
from idunlearn.methods.sugar import sugar_term, train_targets
from idunlearn.targets import ufo_target
from idunlearn.unlearning import UnlearnSchedule, guide_term, train


def seconds_per_step(g_s, terms, config, steps) -> float:
    """Wall time per step of `train` (one warm-up step first, not counted)."""
    train(trainable_copy(g_s), terms, config, UnlearnSchedule(1, 1e-4), 0, show_progress=False)
    start = time.perf_counter()
    train(trainable_copy(g_s), terms, config, UnlearnSchedule(steps, 1e-4), 0, show_progress=False)
    return (time.perf_counter() - start) / steps


@click.command()
@click.option("--ns", default="1,2,5,10", show_default=True, help="forget-set sizes N")
@click.option(
    "--steps", type=click.IntRange(min=1), default=5, show_default=True, help="timed steps"
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch threads"
)
def main(ns: str, steps: int, threads: int) -> None:
    """GUIDE (L_local + L_adj + L_global) and SUGAR (local + adjacency + EWC) per step."""
    from idunlearn.generators.synthetic import SyntheticGenerator
    from idunlearn.nets.cnn import IdentityNet
    from idunlearn.perceptual import build_lpips

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g_s = SyntheticGenerator(z_dim=19).requires_grad_(False)
    embed = IdentityNet().eval().requires_grad_(False)
    lpips = build_lpips("alex")
    sizes = [int(n) for n in ns.split(",")]
    w_us = g_s.mapping(torch.randn(max(sizes), 19))
    guide = LossConfig(adj_weight=1.0, global_weight=1.0)
    sugar = Options(trigger_steps=0)
    targets = train_targets(g_s, w_us, embed, sugar, 0)
    click.echo(f"multi step, synthetic generator, {threads} thread(s), CPU: s/step (x N = 1)")
    base: dict[str, float] = {}
    for n in sizes:
        w_ts = ufo_target(w_us[:n], g_s.w_avg, 30.0)
        runs = {
            "guide": (
                [guide_term(g_s, w_us[i], w_ts[i], lpips, embed, guide) for i in range(n)],
                guide,
            ),
            "sugar": (
                [sugar_term(g_s, w_us[i], targets, lpips, embed, sugar.loss) for i in range(n)],
                sugar.loss,
            ),
        }
        for name, (terms, config) in runs.items():
            seconds = seconds_per_step(g_s, terms, config, steps)
            base.setdefault(name, seconds)
            click.echo(
                f"  {name:6s} N = {n:3d}  {seconds:7.3f} s/step  ({seconds / base[name]:5.2f}x)"
            )


if __name__ == "__main__":
    main()
