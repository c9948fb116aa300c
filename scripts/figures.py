"""Figures 6-9 of the GUIDE paper and an ID/FID trade-off plot from the evaluation outputs."""

import click

from idunlearn.cli import step
from idunlearn.report import write_figures


@click.command()
@click.option(
    "--metrics",
    type=click.Path(dir_okay=False),
    required=True,
    help="per-run metrics CSV (one row per scenario, identity and method)",
)
@click.option(
    "--evaluate-dir",
    type=click.Path(file_okay=False),
    required=True,
    help="holds the strips {scenario}/{identity}/{method}.png (source, target, before, after)",
)
@click.option(
    "--methods",
    type=str,
    default="baseline,extrapolated,adjacency,guide",
    show_default=True,
    help="methods shown, comma-separated; each must have runs in every scenario",
)
@click.option(
    "--ablation-scenario",
    type=str,
    default="ood",
    show_default=True,
    help="scenario of the d ablation (runs named d-15, d0, d15, ...)",
)
@click.option(
    "--max-identities",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="identities (rows) per scenario in the image grids, the first by name",
)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="writes qualitative.png, tradeoff.png and, with d runs, d_ablation.png",
)
@step
def main(metrics, evaluate_dir, methods, ablation_scenario, max_identities, outdir):
    """qualitative.png: per scenario, source, before and each method's target and after image
    (Figures 6-8). d_ablation.png: targets and unlearned images across d (Figure 9), skipped
    and logged without d runs. tradeoff.png: ID vs FID_pre, mean ± std, one panel a scenario."""
    for line in write_figures(
        metrics, evaluate_dir, methods.split(","), ablation_scenario, outdir, max_identities
    ):
        click.echo(line)


if __name__ == "__main__":
    main()
