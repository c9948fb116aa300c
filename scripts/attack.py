"""Attack one unlearned identity: re-inversion, latent search and relearning, one JSON."""

import click

from idunlearn.attacks import AttackConfig, AttackJob, run_attack
from idunlearn.cli import (
    device_option,
    lpips_options,
    max_no_face_option,
    seeded,
    step,
    step_counts,
    threads_option,
)
from idunlearn.inversion import InversionConfig

FILE = click.Path(dir_okay=False)


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
@click.option("--scenario", required=True, help="random | ind | ood")
@click.option("--identity", required=True, help="identity name of the identity table, e.g. ood00")
@click.option("--method", required=True, help="method name of the config (or an ablation)")
@click.option(
    "--settings", required=True, help="the method's resolved settings (methods.settings_json)"
)
@click.option(
    "--inversion-method",
    type=click.Choice(["encoder", "optimisation"]),
    default="optimisation",
    show_default=True,
    help="how the system inverted the source: the attacks use the other inversion(s)",
)
@click.option(
    "--inversion-lr",
    type=click.FloatRange(min=0, min_open=True),
    default=0.05,
    help="Adam learning rate of the re-inversion",
)
@click.option(
    "--lpips-weight",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="LPIPS weight beside L2 in the re-inversion",
)
@click.option(
    "--reinvert-steps",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="W+ optimisation steps of the re-inversion on G_u",
)
@click.option(
    "--search-radius",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="latent search: radius of the ball around w_u",
)
@click.option(
    "--search-steps",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="latent search: projected gradient steps",
)
@click.option(
    "--search-step-size",
    type=click.FloatRange(min=0),
    default=1.5,
    show_default=True,
    help="latent search: length of each step",
)
@click.option(
    "--relearn-ks", callback=step_counts, default="10,50,100", show_default=True, help="ID after k"
)
@click.option(
    "--relearn-lr",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    help="Adam learning rate of relearning on the source image",
)
@lpips_options
@max_no_face_option
@click.option("--out", type=FILE, required=True, help="output file, written atomically")
@click.option(
    "--out-renders", type=FILE, default=None, help="also an .npz of each attack's recovered render"
)
@device_option
@threads_option
@seeded
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
    settings,
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
    max_no_face_share,
    out,
    out_renders,
    seed,
    device,
):
    """ID after each attack (evaluation network, Table 1's formula) as one JSON record."""
    run_attack(
        AttackJob(
            generator=generator,
            unlearned=unlearned,
            method=method,
            settings=settings,
            inversion_file=inversion,
            encoder=encoder,
            loss_identity=loss_identity,
            eval_identity=eval_identity,
            scenario=scenario,
            identity=identity,
            inversion=InversionConfig(inversion_method, reinvert_steps, inversion_lr, lpips_weight),
            config=AttackConfig(
                reinvert_steps,
                search_radius,
                search_steps,
                search_step_size,
                relearn_ks,
                relearn_lr,
            ),
            out=out,
            seed=seed,
            lpips_net=lpips_net,
            lpips_random=lpips_random,
            device=device,
            out_renders=out_renders,
            max_no_face_share=max_no_face_share,
        )
    )


if __name__ == "__main__":
    main()
