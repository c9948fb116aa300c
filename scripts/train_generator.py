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
@click.option(
    "--feature-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="extra L1 weight on the eyes, brows, nose and mouth (0: plain L1)",
)
@click.option(
    "--fresh-share",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=0.0,
    show_default=True,
    help="share of every batch rendered from new codes (0: the dataset only)",
)
@click.option(
    "--coords",
    type=bool,
    default=False,
    show_default=True,
    help="coordinate planes into the generator's convolutions",
)
@click.option(
    "--point-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="L1 weight on the renderer's landmarks, which the generator then predicts (0: none)",
)
@schedule_options
@threads_option
@seeded
@step
def main(
    dataset,
    out,
    w_norm,
    feature_weight,
    fresh_share,
    coords,
    point_weight,
    steps,
    batch_size,
    lr,
    seed,
):
    """Fit G(z, yaw) to the dataset's images from their known codes."""
    schedule = Schedule(steps, batch_size, lr)
    fit = {"feature_weight": feature_weight, "fresh_share": fresh_share, "coords": coords}
    build_generator(dataset, out, schedule, seed, w_norm, **fit, point_weight=point_weight)


if __name__ == "__main__":
    main()
