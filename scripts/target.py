"""Compute one identity's target latents: w_avg and UFO targets at each configured d."""

import click

from idunlearn.cli import step
from idunlearn.targets import run_target


@click.command()
@click.option("--inversion", type=click.Path(dir_okay=False), required=True)
@click.option("--generator", type=click.Path(dir_okay=False), required=True)
@click.option("--keys", required=True, help="comma-separated: average, ufo_d30, ...")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@step
def main(inversion, generator, keys, out):
    """w_t = w_avg - d (w_u - w_avg) / ||w_u - w_avg||_F (UFO), or w_avg (baseline)."""
    run_target(inversion, generator, [k for k in keys.split(",") if k], out)


if __name__ == "__main__":
    main()
