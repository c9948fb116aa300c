"""Tables 1-4 of the GUIDE paper from the per-run metrics, the paper's numbers beside ours."""

import click

from idunlearn.cli import step
from idunlearn.report import REDUCTIONS, write_tables


@click.command()
@click.option(
    "--metrics",
    type=click.Path(dir_okay=False),
    required=True,
    help="per-run metrics CSV (one row per scenario, identity and method)",
)
@click.option(
    "--paper",
    type=click.Path(dir_okay=False),
    required=True,
    help="the paper's numbers (config/paper_numbers.yaml)",
)
@click.option(
    "--methods",
    type=str,
    default="baseline,extrapolated,adjacency,guide",
    show_default=True,
    help="Table 1/2 rows, comma-separated; each must have runs in every scenario",
)
@click.option(
    "--ablation-scenario",
    type=str,
    default="ood",
    show_default=True,
    help="scenario of the alpha_max (Table 3) and L_global (Table 4) ablations",
)
@click.option(
    "--reduction",
    type=click.Choice(sorted(REDUCTIONS)),
    default="mean",
    show_default=True,
    help="how the runs reduced L_adj/L_global over draws (stated in the captions)",
)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="writes table{1..4}.{csv,md,tex}; tables without runs are skipped",
)
@step
def main(metrics, paper, methods, ablation_scenario, reduction, outdir):
    """Write each table as tidy CSV (mean, std, n, paper mean/std) and as Markdown and LaTeX
    ("mean ± std" cells, a "(paper)" column beside each of ours, a caption). A Table 1 method
    missing from the metrics is an error; ablation tables without runs are skipped and logged."""
    for line in write_tables(
        metrics, paper, methods.split(","), ablation_scenario, reduction, outdir
    ):
        click.echo(line)


if __name__ == "__main__":
    main()
