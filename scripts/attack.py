"""Attack one unlearned identity: re-inversion, latent search and relearning, one JSON."""

import click

from idunlearn.attacks import AttackConfig, run_attack
from idunlearn.cli import device_option, seed_option, step, threads_option
from idunlearn.inversion import InversionConfig

FILE = click.Path(dir_okay=False)


def parse_ks(ctx, param, value):
    try:
        ks = tuple(sorted({int(k) for k in value.split(",")}))
    except ValueError as err:
        raise click.BadParameter(f"expected comma-separated step counts, got {value!r}") from err
    if min(ks) < 0:
        raise click.BadParameter(f"step counts must be >= 0, got {value!r}")
    return ks


@click.command()
@click.option("--generator", type=FILE, required=True, help="G_s checkpoint")
@click.option("--unlearned", type=FILE, required=True, help="the method's unlearn output")
@click.option("--inversion", type=FILE, required=True, help="w_u, source image and camera")
@click.option("--encoder", type=FILE, required=True, help="the inversion encoder")
@click.option(
    "--loss-identity",
    type=FILE,
    required=True,
    help="identity network of the latent-search objective (never used to score)",
)
@click.option(
    "--eval-identity", type=FILE, required=True, help="identity network that scores every attack"
)
@click.option("--scenario", required=True)
@click.option("--identity", required=True)
@click.option("--method", required=True)
@click.option(
    "--inversion-method",
    type=click.Choice(["encoder", "optimisation"]),
    default="optimisation",
    show_default=True,
    help="how the system inverted the source: the attacks use the other inversion(s)",
)
@click.option("--inversion-lr", type=click.FloatRange(min=0, min_open=True), default=0.05)
@click.option("--lpips-weight", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option("--reinvert-steps", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--search-radius", type=click.FloatRange(min=0), default=15.0, show_default=True)
@click.option("--search-steps", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--search-step-size", type=click.FloatRange(min=0), default=1.5, show_default=True)
@click.option(
    "--relearn-ks", callback=parse_ks, default="10,50,100", show_default=True, help="ID after k"
)
@click.option("--relearn-lr", type=click.FloatRange(min=0, min_open=True), default=1e-4)
@click.option("--lpips-net", type=click.Choice(["alex", "vgg", "squeeze"]), default="alex")
@click.option("--lpips-random/--lpips-pretrained", default=True, show_default=True)
@click.option("--out", type=FILE, required=True)
@click.option(
    "--out-renders", type=FILE, default=None, help="also an .npz of each attack's recovered render"
)
@seed_option
@device_option
@threads_option
@step
def main(
    generator,
    unlearned,
    inversion,
    encoder,
    loss_identity,
    eval_identity,
    scenario,
    identity,
    method,
    inversion_method,
    inversion_lr,
    lpips_weight,
    reinvert_steps,
    search_radius,
    search_steps,
    search_step_size,
    relearn_ks,
    relearn_lr,
    lpips_net,
    lpips_random,
    out,
    out_renders,
    seed,
    device,
):
    """ID after each attack (evaluation network, Table 1's formula) as one JSON record."""
    run_attack(
        generator,
        unlearned,
        inversion,
        encoder,
        loss_identity,
        eval_identity,
        scenario,
        identity,
        method,
        InversionConfig(inversion_method, reinvert_steps, inversion_lr, lpips_weight),
        AttackConfig(
            reinvert_steps, search_radius, search_steps, search_step_size, relearn_ks, relearn_lr
        ),
        lpips_net,
        lpips_random,
        seed,
        out,
        device,
        out_renders,
    )


if __name__ == "__main__":
    main()
