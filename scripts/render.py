"""Render a pretrained or unlearned generator at seeds, z, latents, inversions or photos."""

import click

from idunlearn.cli import device_option, seeded, step, threads_option
from idunlearn.render import FaceSources, run_render

FILE = click.Path(dir_okay=False)


def parse_list(kind):
    """A click callback: "a,b,c" -> a tuple of `kind` (empty: None)."""

    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            return tuple(kind(item) for item in value.split(",") if item.strip())
        except ValueError as err:
            raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from err

    return parse


@click.command(
    epilog="""Example (the GUIDE-unlearned generator of identity ood00, four random faces
and the forgotten photo, over the evaluation yaw sweep):

\b
  python scripts/render.py --generator results/world/generator.pt \\
      --unlearned results/unlearn/ood/ood00/guide.pt --seeds 0,1,2,3 \\
      --inversion results/invert/ood/ood00.pt --out results/render/guide.png

The encoder method's file renders its system (G_s at the unlearned encoder's latent of
each face's image): add --encoder results/world/encoder.pt."""
)
@click.option("--generator", type=FILE, required=True, help="G_s: a world checkpoint or spec")
@click.option(
    "--unlearned",
    type=FILE,
    default=None,
    help="a results/unlearn/... file of any method (omit: render G_s itself)",
)
@click.option(
    "--encoder",
    type=FILE,
    default=None,
    help="the inversion encoder: for --photo, and for an unlearned file holding an encoder",
)
@click.option(
    "--seeds", callback=parse_list(int), default=None, help="z seeds, e.g. 0,1,2 (as Random's)"
)
@click.option("--z", "z_files", type=FILE, multiple=True, help="z file [B, z_dim] (.npy, .pt)")
@click.option(
    "--latent", "latent_files", type=FILE, multiple=True, help="W+ file [B, num_ws, w_dim]"
)
@click.option(
    "--inversion", type=FILE, multiple=True, help="an invert output: w_u and the other photos"
)
@click.option("--photo", type=FILE, multiple=True, help="an image file, inverted on G_s")
@click.option(
    "--invert-steps",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="W+ optimisation steps (L2) after the encoder, for --photo",
)
@click.option(
    "--yaws",
    callback=parse_list(float),
    default=None,
    help="yaws in radians from frontal, e.g. --yaws=-0.3,0,0.3 (default: the evaluation sweep)",
)
@click.option("--out", type=FILE, required=True, help="the PNG grid: a row a face, a column a view")
@click.option(
    "--views-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="also write one PNG per view here (face{i}_view{j}.png)",
)
@device_option
@threads_option
@seeded(default=0)
@step
def main(
    generator,
    unlearned,
    encoder,
    seeds,
    z_files,
    latent_files,
    inversion,
    photo,
    invert_steps,
    yaws,
    out,
    views_dir,
    seed,
    device,
):
    """Render any generator the workflow knows, pretrained or unlearned, to a PNG grid."""
    sources = FaceSources(seeds or (), z_files, latent_files, inversion, photo, invert_steps)
    for path in run_render(
        generator, unlearned, encoder, sources, yaws, out, views_dir, device, seed
    ):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
