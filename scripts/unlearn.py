"""Unlearn one identity from the generator with one named method."""

import json

import click

from idunlearn.cli import device_option, lpips_options, seed_option, step, threads_option
from idunlearn.unlearning import UnlearnSchedule, run_unlearn


@click.command()
@click.option("--generator", type=click.Path(dir_okay=False), required=True, help="G_s checkpoint")
@click.option("--inversion", type=click.Path(dir_okay=False), required=True, help="w_u file")
@click.option("--target", type=click.Path(dir_okay=False), required=True, help="w_t file")
@click.option(
    "--loss-identity",
    type=click.Path(dir_okay=False),
    required=True,
    help="identity network used by the ID loss (never the evaluation one)",
)
@click.option("--method", required=True, help="a method name of the config (or an ablation)")
@click.option(
    "--methods-json",
    required=True,
    help='JSON with the config keys "methods", "loss" and "ablations"',
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="unlearning steps (paper 1000)",
)
@click.option(
    "--lr", type=float, default=1e-4, show_default=True, help="Adam learning rate (paper 1e-4)"
)
@lpips_options
@device_option
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    default=None,
    help="world dataset: retain images (cascaded few_shot, encoder methods only)",
)
@click.option(
    "--identities",
    type=click.Path(dir_okay=False),
    default=None,
    help="identity table: which images are the forgotten person's (with --dataset)",
)
@click.option(
    "--encoder",
    type=click.Path(dir_okay=False),
    default=None,
    help="inversion encoder file (encoder method only: the network it unlearns)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="unlearned generator G_u checkpoint, written atomically",
)
@seed_option
@threads_option
@step
def main(
    generator,
    inversion,
    target,
    loss_identity,
    method,
    methods_json,
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
    """Fine-tune the synthesis backbone so that w_u renders its target (or, for the
    encoder method, the inversion encoder); save the trained parameters only."""
    run_unlearn(
        generator,
        inversion,
        target,
        loss_identity,
        method,
        json.loads(methods_json),
        UnlearnSchedule(steps, lr),
        lpips_net,
        lpips_random,
        device,
        seed,
        out,
        dataset_path=dataset,
        identities_path=identities,
        encoder_path=encoder,
    )


if __name__ == "__main__":
    main()
