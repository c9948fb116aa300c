"""Index the CelebAHQ images with their CelebA identities (OOD sources) once."""

from pathlib import Path

import click

from idunlearn.cli import step
from idunlearn.real import index_celebahq, write_index


@click.command()
@click.option("--root", type=click.Path(), required=True, help="folder of CelebAHQ <idx>.jpg")
@click.option(
    "--identities", type=click.Path(dir_okay=False), required=True, help="identity_CelebA.txt"
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False),
    required=True,
    help="CelebA-HQ-to-CelebA-mapping.txt",
)
@click.option("--instructions", default="", help="where to get CelebAHQ, for the error")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="CelebAHQ index TSV")
@step
def main(root, identities, mapping, instructions, out):
    """One row per CelebAHQ image: index, path, CelebA file, CelebA identity."""
    table = index_celebahq(Path(root), Path(identities), Path(mapping), instructions)
    write_index(table, out)


if __name__ == "__main__":
    main()
