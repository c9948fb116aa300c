"""Pre-flight: can the configured run start? Assets, code, datasets, GPUs, disk, DAG size."""

from pathlib import Path

import click

from idunlearn.cli import step
from idunlearn.preflight import checks, dag_jobs, gpu_hours, load_config, screen

SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


@click.command()
@click.option(
    "--configfile",
    "configfiles",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="as given to snakemake (repeatable; none: config/config.yaml)",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="the workflow's working directory (resources/, benchmarks/)",
)
@step
def main(configfiles, root):
    """Print one screen; exit 1 naming whatever is missing, unverified or wrong."""
    root = Path(root)
    files = list(configfiles) or [str(SNAKEFILE.parent / "config" / "config.yaml")]
    config = load_config(files)
    jobs = dag_jobs(SNAKEFILE, [str(Path(f).resolve()) for f in configfiles], root)
    hours, basis = gpu_hours(jobs, root / "benchmarks", config["unlearn"]["steps"])
    found = checks(config, root)
    click.echo(f"idunlearn pre-flight of {', '.join(files)} in {root.resolve()}")
    click.echo(screen(found, jobs, hours, basis))
    if any(c.problem for c in found):
        raise click.exceptions.Exit(1)


if __name__ == "__main__":
    main()
