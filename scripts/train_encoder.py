"""Train the world's inversion encoder image -> W+ (the role of GOAE)."""

import click

from idunlearn.cli import schedule_options, seeded, step, threads_option
from idunlearn.training import Schedule
from idunlearn.world.build import build_encoder


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's dataset .npz (dataset rule)",
)
@click.option(
    "--generator",
    type=click.Path(dir_okay=False),
    required=True,
    help="generator G_s: world checkpoint or network spec",
)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="encoder checkpoint")
@schedule_options
@threads_option
@seeded
@step
def main(dataset, generator, out, steps, batch_size, lr, seed):
    """Regress known latents from dataset images and fresh generator samples."""
    build_encoder(dataset, generator, out, Schedule(steps, batch_size, lr), seed)


if __name__ == "__main__":
    main()
