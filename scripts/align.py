"""Align face photos to the generator's framing: FFHQ crops of in-the-wild photos, or a plain
resize of images that are already aligned (FFHQ, CelebAHQ)."""

import click

from idunlearn.cli import step, threads_option
from idunlearn.faces import align_path


@click.command()
@click.option("--src", type=click.Path(exists=True), required=True, help="an image or a directory")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="output directory")
@click.option("--resolution", type=click.IntRange(min=16), default=512, show_default=True)
@click.option(
    "--already-aligned", is_flag=True, help="only resize (the images are FFHQ-aligned already)"
)
@threads_option
@step
def main(src, out, resolution, already_aligned):
    """Each input becomes <out>/<stem>.png; a photo without a face is an error."""
    for path in align_path(src, out, resolution, already_aligned):
        click.echo(path)


if __name__ == "__main__":
    main()
