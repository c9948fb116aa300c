"""The strength-sweep figure: ID against strength, and ID against FID_pre, per method."""

import click

from idunlearn.cli import step
from idunlearn.sweep_plot import run_sweep_figure


@click.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="the figure (PNG)")
@step
def main(records, out):
    """RECORDS: the strength_sweep JSON records to draw (mean over identities)."""
    run_sweep_figure(list(records), out)


if __name__ == "__main__":
    main()
