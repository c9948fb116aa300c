"""Relearn the forgotten identities of one multi unlearning from their source photos."""

import click

from idunlearn.cli import (
    device_option,
    lpips_options,
    max_no_face_option,
    seeded,
    step,
    step_counts,
    threads_option,
)
from idunlearn.multi import MultiAttackJob, run_multi_attack

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option("--unlearned", type=FILE, required=True, help="multi_unlearn output (the final G_u)")
@click.option(
    "--forget", type=FILE, multiple=True, required=True, help="a forgotten identity's inversion"
)
@click.option(
    "--eval-identity", type=FILE, required=True, help="evaluation identity network (scores)"
)
@click.option(
    "--relearn-ks",
    default="10,50,100",
    show_default=True,
    callback=step_counts,
    help="report ID after these relearning steps, comma-separated",
)
@click.option(
    "--relearn-lr", type=float, default=1e-4, show_default=True, help="relearning Adam rate"
)
@click.option(
    "--lpips-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="LPIPS weight beside the pixel MSE of the reconstruction",
)
@lpips_options
@max_no_face_option
@device_option
@click.option("--out", type=FILE, required=True, help="scores JSON, written atomically")
@threads_option
@seeded
@step
def main(
    generator,
    unlearned,
    forget,
    eval_identity,
    relearn_ks,
    relearn_lr,
    lpips_weight,
    lpips_net,
    lpips_random,
    max_no_face_share,
    device,
    out,
):
    """ID (mean, worst) of the forgotten identities after k steps of joint relearning."""
    run_multi_attack(
        MultiAttackJob(
            generator,
            unlearned,
            tuple(forget),
            eval_identity,
            out,
            relearn_ks,
            relearn_lr,
            lpips_weight,
            lpips_net,
            lpips_random,
            device,
            max_no_face_share,
        )
    )


if __name__ == "__main__":
    main()
