"""Train the world's feature network for Frechet distances (the role of Inception)."""

import click

from idunlearn.cli import schedule_options, seeded, step, threads_option
from idunlearn.training import Schedule
from idunlearn.world.build import build_features


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's dataset .npz (dataset rule)",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="feature network checkpoint"
)
@schedule_options
@threads_option
@seeded
@step
def main(dataset, out, steps, batch_size, lr, seed):
    """Features that must explain every render code and the pose."""
    build_features(dataset, out, Schedule(steps, batch_size, lr), seed)


if __name__ == "__main__":
    main()
