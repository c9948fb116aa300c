"""Train one of the world's identity networks (loss role: ArcFace; eval role: CurricularFace)."""

import click

from idunlearn.cli import schedule_options, seeded, step, threads_option
from idunlearn.training import Schedule
from idunlearn.world.build import IDENTITY_ROLES, build_identity


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the world's dataset .npz (dataset rule)",
)
@click.option(
    "--role",
    type=click.Choice(sorted(IDENTITY_ROLES)),
    required=True,
    help="loss: used by unlearning losses; eval: used only by metrics",
)
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="identity network checkpoint"
)
@schedule_options
@threads_option
@seeded
@step
def main(dataset, role, out, steps, batch_size, lr, seed):
    """Angular-margin training on the training identities' labels."""
    build_identity(dataset, out, role, Schedule(steps, batch_size, lr), seed)


if __name__ == "__main__":
    main()
