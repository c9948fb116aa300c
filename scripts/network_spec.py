"""Write the spec of one real-setting network: its family and its verified files."""

import click

from idunlearn.backend import NETWORK_FAMILIES, write_spec
from idunlearn.cli import step
from idunlearn.faces import EVAL_DETECTORS


def focal_value(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """`computed` (EG3D's FOV_to_intrinsics, as GUIDE) or a normalised focal length."""
    if value is None or value == "computed":
        return value
    try:
        return float(value)
    except ValueError as err:
        raise click.BadParameter(f"'computed' or a number, got {value!r}") from err


@click.command()
@click.option(
    "--role",
    type=click.Choice(sorted(NETWORK_FAMILIES)),
    required=True,
    help="the network's role in the workflow",
)
@click.option("--family", required=True, help="eg3d, goae, average, arcface, ...")
@click.option("--weights", type=click.Path(dir_okay=False), help="downloaded weights")
@click.option("--sha256", help="the weights' configured SHA-256")
@click.option("--code-root", type=click.Path(file_okay=False), help="code the weights need")
@click.option("--w-avg", type=click.Path(dir_okay=False), help="w_avg file (EG3D)")
@click.option("--look-at", type=click.Choice(["reference", "eg3d"]), help="generator: camera pivot")
@click.option("--focal", callback=focal_value, help="generator: 'computed' or a number")
@click.option("--noise-mode", type=click.Choice(["random", "const"]), help="generator: noise")
@click.option(
    "--detector",
    type=click.Choice(EVAL_DETECTORS),
    help="evaluation identity network: the face detector and fit of its crops",
)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="network spec JSON")
@step
def main(
    role, family, weights, sha256, code_root, w_avg, look_at, focal, noise_mode, detector, out
):
    """Every step loads the network through this file, so it is the one place that
    says which weights, code and w_avg belong together, how a generator renders and which
    detector aligns the evaluation network's faces."""
    given = {"look_at": look_at, "focal": focal, "noise_mode": noise_mode}
    render = {key: value for key, value in given.items() if value is not None}
    write_spec(out, role, family, weights, sha256, code_root, w_avg, render, detector)


if __name__ == "__main__":
    main()
