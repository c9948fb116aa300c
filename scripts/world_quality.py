"""Measure the synthetic world against its acceptance figures; write quality.json and a grid."""

import click

from idunlearn.cli import lpips_options, seeded, step, threads_option
from idunlearn.inversion import InversionConfig
from idunlearn.world.quality import run_world_quality


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's dataset .npz (dataset rule)",
)
@click.option(
    "--generator",
    type=click.Path(dir_okay=False),
    required=True,
    help="generator G_s: world checkpoint or network spec",
)
@click.option(
    "--loss-identity",
    type=click.Path(dir_okay=False),
    required=True,
    help="identity network of the ID loss",
)
@click.option(
    "--eval-identity",
    type=click.Path(dir_okay=False),
    required=True,
    help="identity network of the ID metrics",
)
@click.option(
    "--encoder",
    type=click.Path(dir_okay=False),
    required=True,
    help="inversion encoder: world checkpoint or network spec",
)
@click.option(
    "--features",
    type=click.Path(dir_okay=False),
    required=True,
    help="feature network of FID: world checkpoint or network spec",
)
@click.option(
    "--inversion-steps",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="W+ optimisation steps of the inversion check",
)
@click.option(
    "--inversion-lr",
    type=float,
    default=0.05,
    show_default=True,
    help="Adam learning rate of the inversion check",
)
@click.option(
    "--inversion-lpips",
    type=float,
    default=1.0,
    show_default=True,
    help="LPIPS weight of the inversion check",
)
@lpips_options
@click.option(
    "--inversion-identities",
    type=click.IntRange(min=1),
    default=None,
    help="held-out identities whose first two images are inverted (default: all)",
)
@click.option(
    "--samples",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="generator samples of the Frechet check",
)
@click.option(
    "--out-json",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's quality report JSON",
)
@click.option(
    "--out-png",
    type=click.Path(dir_okay=False),
    required=True,
    help="grid of targets (w_avg, UFO) PNG",
)
@threads_option
@seeded
@step
def main(
    dataset,
    generator,
    loss_identity,
    eval_identity,
    encoder,
    features,
    inversion_steps,
    inversion_lr,
    inversion_lpips,
    lpips_net,
    lpips_random,
    inversion_identities,
    samples,
    out_json,
    out_png,
    seed,
):
    """Verification AUC, inversion identity retrieval, Frechet distances, target grid."""
    report = run_world_quality(
        dataset,
        generator,
        loss_identity,
        eval_identity,
        encoder,
        features,
        InversionConfig("optimisation", inversion_steps, inversion_lr, inversion_lpips),
        lpips_net,
        lpips_random,
        samples,
        seed,
        out_json,
        out_png,
        inversion_identities,
    )
    click.echo(report)


if __name__ == "__main__":
    main()
