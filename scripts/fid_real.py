"""Frechet statistics of real FFHQ images, computed once for every dFID_real."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.real import run_fid_real


@click.command()
@click.option("--index", type=click.Path(dir_okay=False), required=True, help="FFHQ index")
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    required=True,
    help="feature network of FID: world checkpoint or network spec",
)
@click.option("--count", type=click.IntRange(min=10), required=True, help="real images used")
@click.option(
    "--resolution",
    type=click.IntRange(min=16),
    required=True,
    help="size the FFHQ images are resized to (EG3D: 512)",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="images per batch",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="FFHQ FID statistics .npz"
)
@device_option
@threads_option
@seeded
@step
def main(index, features, count, resolution, batch_size, out, device):
    """The first --count images of the index, resized as generated images are."""
    run_fid_real(index, features, count, resolution, batch_size, out, device)


if __name__ == "__main__":
    main()
