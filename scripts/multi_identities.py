"""Pick the multi experiment's forgotten identities (in arrival order) and its retain set."""

import click

from idunlearn.cli import seed_option, step
from idunlearn.identities import select_multi
from idunlearn.io import atomic_path
from idunlearn.world.dataset import load_dataset


@click.command()
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    required=True,
    help="the synthetic world's dataset",
)
@click.option(
    "--forget",
    type=click.IntRange(min=1),
    required=True,
    help="forgotten identities: the grid's largest N (smaller sets are their prefixes)",
)
@click.option(
    "--retain", type=click.IntRange(min=1), required=True, help="retain identities, never forgotten"
)
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="identity table TSV, atomic"
)
@seed_option
@step
def main(dataset, forget, retain, out, seed):
    """Held-out identities in one seeded order: multi00.. (forgotten), retain00.. (kept)."""
    data = load_dataset(dataset)
    table = select_multi(
        data["identity"], data["heldout"], data["image_index"], forget, retain, seed
    )
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


if __name__ == "__main__":
    main()
