"""Frechet statistics shared by every evaluation: G_s samples and real images, computed once."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.evaluation import run_fid_reference


@click.command()
@click.option(
    "--generator",
    type=click.Path(dir_okay=False),
    required=True,
    help="generator G_s: world checkpoint or network spec",
)
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    required=True,
    help="feature network of FID: world checkpoint or network spec",
)
@click.option("--dataset", type=click.Path(dir_okay=False), required=True, help="real images")
@click.option(
    "--samples",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="G_s samples in the FID reference statistics",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="samples per batch",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="G_s FID statistics .npz"
)
@device_option
@threads_option
@seeded
@step
def main(generator, features, dataset, samples, batch_size, out, seed, device):
    """The same z and cameras are regenerated from --seed by every evaluation."""
    run_fid_reference(generator, features, dataset, samples, seed, batch_size, out, device)


if __name__ == "__main__":
    main()
