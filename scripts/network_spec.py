"""Write the spec of one real-setting network: its family and its verified files."""

import click

from idunlearn.backend import NETWORK_FAMILIES, write_spec
from idunlearn.cli import step


@click.command()
@click.option(
    "--role",
    type=click.Choice(sorted(NETWORK_FAMILIES)),
    required=True,
    help="the network's role in the workflow",
)
@click.option("--family", required=True, help="eg3d, goae, average, arcface, ...")
@click.option("--weights", type=click.Path(dir_okay=False), help="downloaded weights")
@click.option("--sha256", help="the weights' configured SHA-256")
@click.option("--code-root", type=click.Path(file_okay=False), help="code the weights need")
@click.option("--w-avg", type=click.Path(dir_okay=False), help="w_avg file (EG3D)")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="network spec JSON")
@step
def main(role, family, weights, sha256, code_root, w_avg, out):
    """Every step loads the network through this file, so it is the one place that
    says which weights, code and w_avg belong together."""
    write_spec(out, role, family, weights, sha256, code_root, w_avg)


if __name__ == "__main__":
    main()
