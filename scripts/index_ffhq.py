"""Index the FFHQ images (InD sources and real FID statistics) once."""

from pathlib import Path

import click

from idunlearn.cli import step
from idunlearn.real import index_ffhq, write_index


@click.command()
@click.option("--root", type=click.Path(), required=True, help="folder of FFHQ images")
@click.option("--instructions", default="", help="where to get FFHQ, for the missing-data error")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="FFHQ index TSV")
@step
def main(root, instructions, out):
    """Sorted paths, so an FFHQ index is the image's own number."""
    write_index(index_ffhq(Path(root), instructions), out)


if __name__ == "__main__":
    main()
