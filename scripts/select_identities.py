"""Pick the identities each scenario unlearns and write them to a TSV table."""

import click

from idunlearn.cli import seed_option, step
from idunlearn.identities import select_identities, select_real_identities
from idunlearn.io import atomic_path
from idunlearn.real import read_index
from idunlearn.world.dataset import load_dataset


def synthetic_table(dataset, counts, seed):
    data = load_dataset(dataset)
    return select_identities(data["identity"], data["heldout"], data["image_index"], counts, seed)


@click.command()
@click.option("--dataset", type=click.Path(dir_okay=False), help="the synthetic world's dataset")
@click.option("--ffhq-index", type=click.Path(dir_okay=False), help="real setting: FFHQ index")
@click.option(
    "--celebahq-index", type=click.Path(dir_okay=False), help="real setting: CelebAHQ index"
)
@click.option(
    "--min-images",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="real OOD identities need this many CelebAHQ images",
)
@click.option(
    "--sample-index",
    type=click.Path(dir_okay=False),
    help="real setting: the guide_sample identity's photo index (adds that identity)",
)
@click.option(
    "--random",
    "n_random",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="random identities (mapped z seeds)",
)
@click.option(
    "--ind",
    "n_ind",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="in-domain identities (training / FFHQ)",
)
@click.option(
    "--ood",
    "n_ood",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="out-of-domain identities (held-out / CelebAHQ)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="identity table TSV, written atomically",
)
@seed_option
@step
def main(
    dataset, ffhq_index, celebahq_index, min_images, sample_index, n_random, n_ind, n_ood, out, seed
):
    """Random: z seeds; InD: training identities (FFHQ images); OOD: held-out identities
    (CelebA identities with several CelebAHQ images)."""
    counts = {"random": n_random, "ind": n_ind, "ood": n_ood}
    if dataset:
        table = synthetic_table(dataset, counts, seed)
    elif ffhq_index and celebahq_index:
        num_ffhq = len(read_index(ffhq_index))
        sample_images = len(read_index(sample_index)) if sample_index else 0
        table = select_real_identities(
            num_ffhq, read_index(celebahq_index), counts, seed, min_images, sample_images
        )
    else:
        raise click.UsageError("give --dataset, or --ffhq-index and --celebahq-index")
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


if __name__ == "__main__":
    main()
