"""Invert one identity's source image (and its other images) into W+."""

import click

from idunlearn.cli import device_option, lpips_options, seeded, step, threads_option
from idunlearn.identities import SAMPLE, SCENARIOS
from idunlearn.inversion import InversionConfig, run_invert


@click.command()
@click.option("--identities", type=click.Path(dir_okay=False), required=True, help="identity TSV")
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    help="synthetic dataset, or the identity's faces file (real setting); not for random",
)
@click.option(
    "--generator",
    type=click.Path(dir_okay=False),
    required=True,
    help="generator G_s: world checkpoint or network spec",
)
@click.option(
    "--encoder",
    type=click.Path(dir_okay=False),
    required=True,
    help="inversion encoder: world checkpoint or network spec",
)
@click.option(
    "--scenario",
    type=click.Choice([*SCENARIOS, SAMPLE]),
    required=True,
    help="random | ind | ood | guide_sample",
)
@click.option("--identity", required=True, help="identity name, e.g. ood03")
@click.option(
    "--method",
    type=click.Choice(["encoder", "optimisation"]),
    default="optimisation",
    show_default=True,
    help="the encoder's w alone, or W+ optimisation started from it",
)
@click.option(
    "--steps",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="W+ optimisation steps (0 or --method encoder: the encoder's w)",
)
@click.option(
    "--lr",
    type=float,
    default=0.05,
    show_default=True,
    help="Adam learning rate of the optimisation",
)
@click.option(
    "--lpips-weight", type=float, default=1.0, show_default=True, help="LPIPS weight beside L2"
)
@lpips_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="w_u, source image and camera (.pt), written atomically",
)
@device_option
@threads_option
@seeded
@step
def main(
    identities,
    dataset,
    generator,
    encoder,
    scenario,
    identity,
    method,
    steps,
    lr,
    lpips_weight,
    lpips_net,
    lpips_random,
    out,
    device,
):
    """Random identities take w_u = mapping(z); the others are inverted from their photos."""
    run_invert(
        identities,
        dataset,
        generator,
        encoder,
        scenario,
        identity,
        InversionConfig(method, steps, lr, lpips_weight),
        lpips_net,
        lpips_random,
        out,
        device,
    )


if __name__ == "__main__":
    main()
