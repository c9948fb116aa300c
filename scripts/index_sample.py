"""Index the reference code's sample photos (config guide_sample) in their listed order."""

from pathlib import Path

import click

from idunlearn.cli import step
from idunlearn.real import index_listed, write_index


@click.command()
@click.option("--root", type=click.Path(file_okay=False), required=True, help="code checkout")
@click.option("--image", "images", multiple=True, required=True, help="path in it; source first")
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="the sample's photo index TSV"
)
@step
def main(root, images, out):
    """Index 0 is the source photo, the others give ID_others."""
    write_index(index_listed(Path(root), list(images)), out)


if __name__ == "__main__":
    main()
