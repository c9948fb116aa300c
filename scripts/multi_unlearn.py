"""Unlearn many identities with one method: all at once, or the next sequential arrival."""

import click

from idunlearn.cli import device_option, lpips_options, seeded, step, threads_option
from idunlearn.multi import MODES, MultiJob, run_multi_unlearn

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option(
    "--inversion",
    "inversions",
    type=FILE,
    multiple=True,
    required=True,
    help="a forgotten identity's w_u file; repeated, in arrival order",
)
@click.option("--loss-identity", type=FILE, required=True, help="identity network of the ID loss")
@click.option("--method", required=True, help="the method's name (labels the file)")
@click.option(
    "--settings", required=True, help="the method's resolved settings (methods.settings_json)"
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    required=True,
    help="simultaneous: every identity, from G_s; sequential: the last one, from --previous",
)
@click.option(
    "--previous",
    type=FILE,
    default=None,
    help="sequential arrivals after the first: the previous arrival's output",
)
@click.option(
    "--per-step",
    type=click.IntRange(min=1),
    default=None,
    help="simultaneous: identities per step, a seeded uniform subset (default: all)",
)
@click.option(
    "--steps", type=click.IntRange(min=1), default=1000, show_default=True, help="unlearning steps"
)
@click.option(
    "--lr",
    type=float,
    default=1e-4,
    show_default=True,
    help="Adam learning rate, unless the method sets one",
)
@lpips_options
@device_option
@click.option("--out", type=FILE, required=True, help="the trained state, written atomically")
@threads_option
@seeded
@step
def main(
    generator,
    inversions,
    loss_identity,
    method,
    settings,
    mode,
    previous,
    per_step,
    steps,
    lr,
    lpips_net,
    lpips_random,
    device,
    out,
    seed,
):
    """One (method, mode, N) unlearning (sequential: arrival N, from arrival N - 1)."""
    run_multi_unlearn(
        MultiJob(
            generator=generator,
            inversions=tuple(inversions),
            loss_identity=loss_identity,
            method=method,
            settings=settings,
            mode=mode,
            out=out,
            seed=seed,
            previous=previous,
            per_step=per_step,
            steps=steps,
            lr=lr,
            lpips_net=lpips_net,
            lpips_random=lpips_random,
            device=device,
        )
    )


if __name__ == "__main__":
    main()
