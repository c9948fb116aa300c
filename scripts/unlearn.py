"""Unlearn one identity from the generator with one named method."""

import click

from idunlearn.cli import device_option, lpips_options, seeded, step, threads_option
from idunlearn.methods.base import Files
from idunlearn.system import UnlearnJob, run_unlearn

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option("--inversion", type=FILE, required=True, help="w_u file")
@click.option("--target", type=FILE, default=None, help="w_t file (the GUIDE objective's kinds)")
@click.option(
    "--loss-identity",
    type=FILE,
    default=None,
    help="identity network used by the ID loss (never the evaluation one)",
)
@click.option("--method", required=True, help="the method's name (labels the file)")
@click.option(
    "--settings", required=True, help="the method's resolved settings (methods.settings_json)"
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="unlearning steps (paper 1000)",
)
@click.option(
    "--lr",
    type=float,
    default=1e-4,
    show_default=True,
    help="Adam learning rate (paper 1e-4), unless the method sets one",
)
@lpips_options
@device_option
@click.option(
    "--dataset",
    type=FILE,
    default=None,
    help="world dataset: retain images (cascaded few_shot, encoder methods only)",
)
@click.option(
    "--identities",
    type=FILE,
    default=None,
    help="identity table: which images are the forgotten person's (with --dataset)",
)
@click.option(
    "--encoder",
    type=FILE,
    default=None,
    help="inversion encoder file (encoder method only: the network it unlearns)",
)
@click.option(
    "--out",
    type=FILE,
    required=True,
    help="unlearned generator G_u checkpoint, written atomically",
)
@threads_option
@seeded
@step
def main(
    generator,
    inversion,
    target,
    loss_identity,
    method,
    settings,
    steps,
    lr,
    lpips_net,
    lpips_random,
    device,
    dataset,
    identities,
    encoder,
    out,
    seed,
):
    """Unlearn with the method's module (GUIDE and the adapter: the GUIDE objective; the
    comparison methods: their own); save what it trained only."""
    run_unlearn(
        UnlearnJob(
            generator=generator,
            inversion=inversion,
            method=method,
            settings=settings,
            out=out,
            seed=seed,
            steps=steps,
            lr=lr,
            lpips_net=lpips_net,
            lpips_random=lpips_random,
            device=device,
            files=Files(target, loss_identity, dataset, identities, encoder),
        )
    )


if __name__ == "__main__":
    main()
