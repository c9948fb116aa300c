"""Compute one identity's target latent for one target key: w_avg or UFO at distance d."""

import click

from idunlearn.cli import step
from idunlearn.targets import run_target


@click.command()
@click.option(
    "--inversion",
    type=click.Path(dir_okay=False),
    required=True,
    help="w_u, source image and camera (invert rule)",
)
@click.option(
    "--generator",
    type=click.Path(dir_okay=False),
    required=True,
    help="generator G_s (its w_avg and mapping)",
)
@click.option("--key", required=True, help="average, or ufo_d<d> such as ufo_d30 or ufo_d-15")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="target latent w_t .pt")
@step
def main(inversion, generator, key, out):
    """w_t = w_avg - d (w_u - w_avg) / ||w_u - w_avg||_F (UFO), or w_avg (baseline)."""
    run_target(inversion, generator, key, out)


if __name__ == "__main__":
    main()
