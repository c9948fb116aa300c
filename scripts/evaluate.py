"""Evaluate one unlearned generator: ID, ID_others, FID_pre, dFID_real, and an image strip."""

import click

from idunlearn.cli import device_option, max_no_face_option, seeded, step, threads_option
from idunlearn.evaluation import EvaluateJob, run_evaluate


@click.command()
@click.option("--generator", type=click.Path(dir_okay=False), required=True, help="G_s checkpoint")
@click.option(
    "--unlearned",
    type=click.Path(dir_okay=False),
    required=True,
    help="the method's unlearned generator (unlearn rule)",
)
@click.option(
    "--inversion",
    type=click.Path(dir_okay=False),
    required=True,
    help="w_u, source image and camera (invert rule)",
)
@click.option("--target", type=click.Path(dir_okay=False), required=True, help="w_t file")
@click.option(
    "--eval-identity",
    type=click.Path(dir_okay=False),
    required=True,
    help="evaluation identity network (never the loss one)",
)
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    required=True,
    help="feature network of FID: world checkpoint or network spec",
)
@click.option(
    "--reference", type=click.Path(dir_okay=False), required=True, help="FID reference statistics"
)
@click.option(
    "--encoder",
    type=click.Path(dir_okay=False),
    default=None,
    help="inversion encoder file (needed when the unlearned file holds an encoder)",
)
@click.option(
    "--second-identity",
    type=click.Path(dir_okay=False),
    default=None,
    help="a second evaluation network, with its own detector (id_second, no_face_*_second)",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="generator samples per batch of the FID and ID_others metrics",
)
@max_no_face_option
@click.option("--scenario", required=True, help="random | ind | ood")
@click.option("--identity", required=True, help="identity name of the identity table, e.g. ood00")
@click.option("--method", required=True, help="method name of the config (or an ablation)")
@click.option(
    "--settings", required=True, help="the method's resolved settings (methods.settings_json)"
)
@click.option("--out-json", type=click.Path(dir_okay=False), required=True, help="metrics JSON")
@click.option(
    "--out-png",
    type=click.Path(dir_okay=False),
    required=True,
    help="image strip PNG (source, target, before, after)",
)
@device_option
@threads_option
@seeded
@step
def main(
    generator,
    unlearned,
    inversion,
    target,
    eval_identity,
    features,
    reference,
    encoder,
    second_identity,
    batch_size,
    max_no_face_share,
    scenario,
    identity,
    method,
    settings,
    out_json,
    out_png,
    device,
):
    """One JSON record per (scenario, identity, method)."""
    run_evaluate(
        EvaluateJob(
            generator=generator,
            unlearned=unlearned,
            method=method,
            settings=settings,
            inversion=inversion,
            target=target,
            eval_identity=eval_identity,
            features=features,
            reference=reference,
            out_json=out_json,
            out_png=out_png,
            labels={"scenario": scenario, "identity": identity, "method": method},
            batch=batch_size,
            encoder=encoder,
            second_identity=second_identity,
            device=device,
            max_no_face_share=max_no_face_share,
        )
    )


if __name__ == "__main__":
    main()
