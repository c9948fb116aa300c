"""Prepare one identity's photos for inversion: aligned, at the generator's resolution."""

import click

from idunlearn.cli import step
from idunlearn.identities import SAMPLE
from idunlearn.real import run_faces


@click.command()
@click.option("--identities", type=click.Path(dir_okay=False), required=True, help="identity TSV")
@click.option(
    "--scenario",
    type=click.Choice(["ind", "ood", SAMPLE]),
    required=True,
    help="ind (FFHQ), ood (CelebAHQ) or guide_sample (the reference code's photos)",
)
@click.option("--identity", required=True, help="identity name, e.g. ood03")
@click.option("--index", type=click.Path(dir_okay=False), required=True, help="dataset index")
@click.option(
    "--resolution",
    type=click.IntRange(min=16),
    required=True,
    help="image size in pixels (EG3D: 512)",
)
@click.option("--align/--no-align", default=False, show_default=True, help="align faces first")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="the identity's prepared photos .npz",
)
@step
def main(identities, scenario, identity, index, resolution, align, out):
    """The source photo first, then the identity's other photos (ID_others)."""
    run_faces(identities, scenario, identity, index, resolution, align, out)


if __name__ == "__main__":
    main()
