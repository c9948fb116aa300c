"""Render the synthetic world's dataset: training and held-out identities."""

import click

from idunlearn.cli import seed_option, step
from idunlearn.world.dataset import WorldSpec, build_dataset, save_dataset


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="dataset .npz")
@click.option(
    "--num-identities",
    type=click.IntRange(min=2),
    default=500,
    show_default=True,
    help="training identities",
)
@click.option(
    "--images-per-identity",
    type=click.IntRange(min=2),
    default=8,
    show_default=True,
    help="images per training identity",
)
@click.option(
    "--num-heldout",
    type=click.IntRange(min=2),
    default=50,
    show_default=True,
    help="held-out (out-of-domain) identities",
)
@click.option(
    "--heldout-images",
    type=click.IntRange(min=2),
    default=6,
    show_default=True,
    help="images per held-out identity",
)
@click.option(
    "--yaw-range",
    type=click.FloatRange(0, 0.5),
    default=0.4,
    show_default=True,
    help="poses: yaw ~ U(-range, range), radians",
)
@seed_option
@step
def main(out, num_identities, images_per_identity, num_heldout, heldout_images, yaw_range, seed):
    """Render N identities x M images plus held-out identities, with ground truth."""
    spec = WorldSpec(
        num_identities=num_identities,
        images_per_identity=images_per_identity,
        num_heldout=num_heldout,
        heldout_images=heldout_images,
        yaw_range=yaw_range,
        seed=seed,
    )
    save_dataset(out, build_dataset(spec), spec)


if __name__ == "__main__":
    main()
