"""Score one multi unlearning: every forgotten identity, the retain set, FID."""

import click

from idunlearn.cli import device_option, max_no_face_option, seeded, step, threads_option
from idunlearn.multi import MultiEvalJob, run_multi_evaluate

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option("--unlearned", type=FILE, required=True, help="multi_unlearn output")
@click.option(
    "--forget", type=FILE, multiple=True, required=True, help="a forgotten identity's inversion"
)
@click.option(
    "--retain", type=FILE, multiple=True, required=True, help="a retain identity's inversion"
)
@click.option(
    "--eval-identity",
    type=FILE,
    required=True,
    help="evaluation identity network (not the loss one)",
)
@click.option("--features", type=FILE, required=True, help="FID feature network")
@click.option("--reference", type=FILE, required=True, help="FID reference statistics")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=100, show_default=True, help="FID batch"
)
@max_no_face_option
@device_option
@click.option("--out", type=FILE, required=True, help="metrics JSON, written atomically")
@threads_option
@seeded
@step
def main(
    generator,
    unlearned,
    forget,
    retain,
    eval_identity,
    features,
    reference,
    batch_size,
    max_no_face_share,
    device,
    out,
):
    """ID and ID_others per forgotten identity (mean, worst, CI), retain ID, FID_pre, dFID_real."""
    run_multi_evaluate(
        MultiEvalJob(
            generator,
            unlearned,
            tuple(forget),
            tuple(retain),
            eval_identity,
            features,
            reference,
            out,
            batch_size,
            device,
            max_no_face_share,
        )
    )


if __name__ == "__main__":
    main()
