"""Align face photos to the generator's framing: FFHQ (or EG3D) crops of in-the-wild photos,
or a plain resize of images that are already aligned (FFHQ, CelebAHQ)."""

import click

from idunlearn.cli import step, threads_option
from idunlearn.faces import CROPS, align_path


@click.command()
@click.option("--src", type=click.Path(exists=True), required=True, help="an image or a directory")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="output directory")
@click.option(
    "--resolution",
    type=click.IntRange(min=16),
    default=512,
    show_default=True,
    help="output image size in pixels",
)
@click.option(
    "--already-aligned", is_flag=True, help="only resize (the images are FFHQ-aligned already)"
)
@click.option(
    "--crop",
    type=click.Choice(CROPS),
    default="ffhq",
    show_default=True,
    help="framing of in-the-wild photos: the FFHQ dataset's, or EG3D's re-cropped FFHQ",
)
@threads_option
@step
def main(src, out, resolution, already_aligned, crop):
    """Each input becomes <out>/<stem>.png; a photo without a face is an error."""
    for path in align_path(src, out, resolution, already_aligned, crop):
        click.echo(path)


if __name__ == "__main__":
    main()
