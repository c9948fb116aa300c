"""Evaluate one adapter run at each strength of its sweep: ID, ID_others, FID_pre, dFID_real."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.sweep import SweepJob, run_strength_sweep

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option("--unlearned", type=FILE, required=True, help="the adapter run's unlearn output")
@click.option("--inversion", type=FILE, required=True, help="w_u, w_others and their images")
@click.option("--eval-identity", type=FILE, required=True, help="evaluation identity network")
@click.option("--features", type=FILE, required=True, help="FID feature network")
@click.option("--reference", type=FILE, required=True, help="FID reference statistics")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="generator samples per batch",
)
@click.option("--scenario", required=True, help="labels the record")
@click.option("--identity", required=True, help="labels the record")
@click.option("--method", required=True, help="the method's name (labels the record)")
@click.option(
    "--settings", required=True, help="the method's resolved settings (methods.settings_json)"
)
@click.option("--out", type=FILE, required=True, help="the sweep's JSON record")
@device_option
@threads_option
@seeded
@step
def main(
    generator,
    unlearned,
    inversion,
    eval_identity,
    features,
    reference,
    batch_size,
    scenario,
    identity,
    method,
    settings,
    out,
    device,
):
    """One JSON record per (scenario, identity, adapter method): a row per strength."""
    run_strength_sweep(
        SweepJob(
            generator=generator,
            unlearned=unlearned,
            method=method,
            settings=settings,
            inversion=inversion,
            eval_identity=eval_identity,
            features=features,
            reference=reference,
            out=out,
            labels={"scenario": scenario, "identity": identity, "method": method},
            batch=batch_size,
            device=device,
        )
    )


if __name__ == "__main__":
    main()
