"""Retained faces of one forgotten identity: G_s and each method's system, with per-face ID."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.gallery import run_gallery

FILE = click.Path(dir_okay=False)


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint or spec")
@click.option(
    "--run",
    "runs",
    type=(str, FILE, FILE),
    multiple=True,
    required=True,
    help="METHOD UNLEARNED STRIP: a method's unlearn output and evaluation strip",
)
@click.option(
    "--inversion", "inversions", type=FILE, multiple=True, help="another identity's inversion"
)
@click.option("--encoder", type=FILE, default=None, help="needed for the encoder method")
@click.option("--eval-identity", type=FILE, required=True, help="evaluation identity network")
@click.option(
    "--random-faces",
    type=click.IntRange(min=0),
    default=8,
    show_default=True,
    help="random z faces beside the other identities' latents",
)
@click.option("--title", required=True, help="the figure's title")
@click.option("--out-png", type=FILE, required=True, help="gallery figure PNG")
@click.option("--out-json", type=FILE, required=True, help="per-face ID of every method, JSON")
@device_option
@threads_option
@seeded
@step
def main(
    generator,
    runs,
    inversions,
    encoder,
    eval_identity,
    random_faces,
    seed,
    title,
    out_png,
    out_json,
    device,
):
    """One figure: the identity's strips beside the retained faces, ID under each."""
    run_gallery(
        generator,
        runs,
        inversions,
        encoder,
        eval_identity,
        random_faces,
        seed,
        title,
        out_png,
        out_json,
        device,
    )


if __name__ == "__main__":
    main()
