"""HTML pages for the report: the tables, each identity's metrics, the world's quality."""

import click

from idunlearn.cli import step
from idunlearn.pages import write_pages

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--table", "tables", type=FILE, multiple=True, help="a tables step Markdown file")
@click.option("--metrics", type=FILE, required=True, help="results/metrics/all.csv")
@click.option(
    "--identity",
    "identities",
    type=(str, str),
    multiple=True,
    help="SCENARIO IDENTITY: write its metrics page",
)
@click.option("--quality", type=FILE, default=None, help="the world's quality.json")
@click.option(
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="folder of the HTML pages",
)
@step
def main(tables, metrics, identities, quality, outdir):
    """tables/{name}.html, identities/{scenario}/{identity}.html, quality.html."""
    for path in write_pages(tables, metrics, identities, outdir, quality):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
