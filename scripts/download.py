"""Fetch one asset of the real setting to resources/<file>, verified against its SHA-256."""

import json

import click

from idunlearn.assets import AssetSpec, install
from idunlearn.cli import step


@click.command()
@click.option("--key", required=True, help="the asset's key in the config's `assets:` block")
@click.option("--spec", "spec_json", required=True, help="the asset's config entry as JSON")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="where the verified asset lands (resources/<file>)",
)
@step
def main(key, spec_json, out):
    """A wrong hash keeps the file as <out>.bad; a missing one prints the hash to record."""
    sha = install(AssetSpec.from_config(key, json.loads(spec_json)), out)
    click.echo(f"{out}: SHA-256 {sha} verified")


if __name__ == "__main__":
    main()
