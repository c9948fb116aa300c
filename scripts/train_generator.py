"""Train the synthetic world's generator (mapping, backbone, head) on its dataset."""

import click

from idunlearn.cli import schedule_options, seeded, step, threads_option
from idunlearn.training import Schedule
from idunlearn.world.build import build_generator


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's dataset .npz (dataset rule)",
)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="generator checkpoint")
@click.option(
    "--w-norm",
    type=float,
    default=50.0,
    show_default=True,
    help="median ||w - w_avg||_F after training",
)
@schedule_options
@threads_option
@seeded
@step
def main(dataset, out, w_norm, steps, batch_size, lr, seed):
    """Fit G(z, yaw) to the dataset's images from their known codes."""
    build_generator(dataset, out, Schedule(steps, batch_size, lr), seed, w_norm)


if __name__ == "__main__":
    main()
