"""Tables 1-4 of the GUIDE paper, the attack table and the claims table from the per-run
metrics, the paper's numbers beside ours."""

import click

from idunlearn.cli import step
from idunlearn.report import Setting, write_tables


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
    "--setting",
    type=str,
    required=True,
    help="JSON object naming the setting for the captions: generator, image_size, "
    "unlearn_steps, fid_samples, reduction (and for EG3D generator_file, eval_identity, "
    "second_identity, eg3d)",
)
@click.option(
    "--outdir",
    type=click.Path(file_okay=False),
    required=True,
    help="writes table{1..4}.{csv,md,tex}, attacks.{csv,md,tex} and claims.{csv,md}; "
    "tables without runs are skipped",
)
@step
def main(metrics, paper, methods, ablation_scenario, setting, outdir):
    """Write each table as tidy CSV (n, mean, std, ci_low, ci_high, paper mean/std) and as
    Markdown and LaTeX ("mean ± std [low, high]" cells, an n column, a "(paper)" column beside
    each of ours, a caption naming the setting; the intervals are Student's t). claims.{csv,md}:
    each ordering the paper states as a paired per-identity difference, its paired t test
    Holm-adjusted across the table and its verdict. A Table 1 method missing from the
    metrics is an error; tables without runs are skipped and logged.

    \b
    Example:
      python scripts/tables.py --metrics results/metrics/all.csv
        --paper config/paper_numbers.yaml --outdir results/tables --setting
        '{"fid_samples": 500, "generator": "synthetic", "image_size": 64,
        "reduction": "mean", "unlearn_steps": 100}'
    """
    for line in write_tables(
        metrics,
        paper,
        methods.split(","),
        ablation_scenario,
        Setting.from_json(setting),
        outdir,
    ):
        click.echo(line)


if __name__ == "__main__":
    main()
