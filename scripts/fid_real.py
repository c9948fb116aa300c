"""Frechet statistics of real FFHQ images, computed once for every dFID_real."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.real import run_fid_real


@click.command()
@click.option("--index", type=click.Path(dir_okay=False), required=True, help="FFHQ index")
@click.option("--features", type=click.Path(dir_okay=False), required=True)
@click.option("--count", type=click.IntRange(min=10), required=True, help="real images used")
@click.option("--resolution", type=click.IntRange(min=16), required=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@device_option
@threads_option
@seeded
@step
def main(index, features, count, resolution, batch_size, out, device):
    """The first --count images of the index, resized as generated images are."""
    run_fid_real(index, features, count, resolution, batch_size, out, device)


if __name__ == "__main__":
    main()
