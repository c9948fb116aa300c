"""Collect every evaluation JSON into one tidy CSV, one row per (scenario, identity, method)."""

import click

from idunlearn.cli import step
from idunlearn.report import aggregate


@click.command()
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="metrics CSV, one row per run"
)
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    help="NAME=RUN: also list RUN's rows under the method name NAME",
)
@click.option(
    "--attack",
    "attacks",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="an attack record (rule attack); its ID columns join its run's rows",
)
@click.argument("records", nargs=-1, type=click.Path(dir_okay=False))
@step
def main(out, aliases, attacks, records):
    """Ablation rows that run the same job as another method appear under both names."""
    aggregate(list(records), dict(a.split("=", 1) for a in aliases), out, list(attacks))


if __name__ == "__main__":
    main()
