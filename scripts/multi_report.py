"""The multi-identity table (csv, md, tex) and its two figures."""

import click

from idunlearn.cli import step
from idunlearn.report.multi import write_multi

FILE = click.Path(dir_okay=False)


@click.command()
@click.option(
    "--evaluation",
    "evaluations",
    type=FILE,
    multiple=True,
    required=True,
    help="multi_evaluate JSON",
)
@click.option("--attack", "attacks", type=FILE, multiple=True, help="multi_attack JSON")
@click.option("--grid", required=True, help="the table's N values, comma-separated")
@click.option(
    "--tables-dir", type=click.Path(file_okay=False), required=True, help="multi.* land here"
)
@click.option("--n-figure", type=FILE, required=True, help="forget/retain ID and FID_pre against N")
@click.option("--sequential-figure", type=FILE, required=True, help="ID over sequential arrivals")
@click.option("--caption", required=True, help="the table's caption")
@step
def main(evaluations, attacks, grid, tables_dir, n_figure, sequential_figure, caption):
    """Rows (method, mode, N); sequential rows are the state after arrival N."""
    try:
        ns = [int(n) for n in grid.split(",")]
    except ValueError:
        raise click.BadParameter(f"--grid: not comma-separated integers: {grid!r}") from None
    write_multi(evaluations, attacks, ns, tables_dir, n_figure, sequential_figure, caption)


if __name__ == "__main__":
    main()
