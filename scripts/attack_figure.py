"""What each attack recovered of one forgotten identity, a row per attacked method."""

import click

from idunlearn.cli import step
from idunlearn.pictures import attack_figure

FILE = click.Path(dir_okay=False)


@click.command()
@click.option(
    "--attack",
    "attacks",
    type=(str, FILE, FILE),
    multiple=True,
    required=True,
    help="METHOD RECORD RENDERS: an attack job's JSON and .npz",
)
@click.option("--title", required=True, help="the figure's title")
@click.option("--out", type=FILE, required=True, help="figure PNG")
@step
def main(attacks, title, out):
    """Source photo, G_u at the system's latent, each attack's render with its ID."""
    methods, records, renders = zip(*attacks, strict=True)
    attack_figure(title, methods, records, renders, out)


if __name__ == "__main__":
    main()
