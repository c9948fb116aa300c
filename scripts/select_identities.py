"""Pick the identities each scenario unlearns and write them to a TSV table."""

import click

from idunlearn.cli import seed_option, step
from idunlearn.identities import select_identities
from idunlearn.io import atomic_path
from idunlearn.world.dataset import load_dataset


@click.command()
@click.option("--dataset", type=click.Path(dir_okay=False), required=True)
@click.option("--random", "n_random", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--ind", "n_ind", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--ood", "n_ood", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@seed_option
@step
def main(dataset, n_random, n_ind, n_ood, out, seed):
    """Random: z seeds; InD: training identities; OOD: held-out identities."""
    data = load_dataset(dataset)
    table = select_identities(
        data["identity"],
        data["heldout"],
        data["image_index"],
        {"random": n_random, "ind": n_ind, "ood": n_ood},
        seed,
    )
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


if __name__ == "__main__":
    main()
