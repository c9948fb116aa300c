"""Check out a public repository at a pinned commit into resources/code/<name>/."""

import click

from idunlearn.assets import fetch_code
from idunlearn.cli import step


@click.command()
@click.option("--repo", required=True, help="git URL (or local path) of the repository")
@click.option("--commit", required=True, help="full 40-character commit id")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="folder of the checkout (renamed into place when complete)",
)
@step
def main(repo, commit, out):
    """The commit id pins the code: git checks every file against it."""
    fetch_code(repo, commit, out)


if __name__ == "__main__":
    main()
