"""Which identities each scenario unlearns, chosen once, seeded, and written to a table.

Identity names (`random00`, `ind03`, `ood01`) depend only on the counts, so the
workflow's DAG is known before the table exists; the table says what each
name points at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from idunlearn.io import ArtefactError, UserError
from idunlearn.seeding import derive_seed

SCENARIOS = ("random", "ind", "ood")
# The reference code's sample identity (KU-VGI/GUIDE data/CelebAHQ/512): one person whose
# listed photos are indexed in order, the first the source (real setting, config guide_sample).
SAMPLE = "guide_sample"
COLUMNS = ["scenario", "identity", "label", "source_index", "other_indices", "z_seed"]
# The multi experiment's held-out identities: multi00.. (forgotten, in arrival order), retain00..
FORGET, RETAIN, MULTI_SCENARIO = "multi", "retain", "ood"


def identity_names(scenario: str, count: int) -> list[str]:
    return [f"{scenario}{k:02d}" for k in range(count)]


def _pick(labels: np.ndarray, count: int, rng: np.random.Generator, what: str) -> np.ndarray:
    unique = np.unique(labels)
    if count > len(unique):
        raise UserError(f"{count} {what} identities asked for, the dataset has {len(unique)}")
    return np.sort(rng.choice(unique, size=count, replace=False))


def select_identities(
    identity: np.ndarray,  # dataset label per image
    heldout: np.ndarray,  # dataset held-out flag per image
    image_index: np.ndarray,  # index of each image within its identity (0 = source photo)
    counts: dict[str, int],
    seed: int,
) -> pd.DataFrame:
    """Random: a z seed per identity. InD / OOD: a training / held-out identity whose
    image 0 is the source and whose other images give ID_others."""
    rows = _random_rows(counts.get("random", 0), seed)
    for scenario, pool in (("ind", ~heldout), ("ood", heldout)):
        rng = np.random.default_rng(derive_seed(seed, "select", scenario))
        chosen = _pick(identity[pool], counts.get(scenario, 0), rng, scenario)
        for name, label in zip(identity_names(scenario, len(chosen)), chosen, strict=True):
            images = np.flatnonzero(identity == label)
            source = images[image_index[images] == 0][0]
            others = " ".join(str(i) for i in images if i != source)
            rows.append([scenario, name, int(label), int(source), others, -1])
    return pd.DataFrame(rows, columns=COLUMNS)


def _random_rows(count: int, seed: int) -> list[list]:
    return [
        ["random", name, -1, -1, "", derive_seed(seed, "random", k)]
        for k, name in enumerate(identity_names("random", count))
    ]


def select_real_identities(
    num_ffhq: int,  # images in the FFHQ index (InD sources)
    celebahq: pd.DataFrame,  # CelebAHQ index: columns `index` and `identity` (CelebA id)
    counts: dict[str, int],
    seed: int,
    min_images: int = 4,
    sample_images: int = 0,
) -> pd.DataFrame:
    """The real setting's table, in the synthetic one's columns. Random: z seeds. InD: FFHQ
    images (label = source_index = FFHQ index). OOD: CelebA identities with at least
    `min_images` CelebAHQ images; the lowest-indexed image is the source, the rest give
    ID_others (indices into the CelebAHQ index). `sample_images` > 0 adds the SAMPLE
    identity: source 0 and others 1.. of its own index."""
    rows = _random_rows(counts.get("random", 0), seed)
    rng = np.random.default_rng(derive_seed(seed, "select", "ind"))
    chosen = _pick(np.arange(num_ffhq), counts.get("ind", 0), rng, "ind")
    for name, index in zip(identity_names("ind", len(chosen)), chosen, strict=True):
        rows.append(["ind", name, int(index), int(index), "", -1])
    sizes = celebahq.groupby("identity")["index"].count()
    eligible = sizes.index[sizes >= min_images].to_numpy()
    rng = np.random.default_rng(derive_seed(seed, "select", "ood"))
    chosen = _pick(eligible, counts.get("ood", 0), rng, f"ood (>= {min_images} images)")
    for name, label in zip(identity_names("ood", len(chosen)), chosen, strict=True):
        images = np.sort(celebahq.loc[celebahq["identity"] == label, "index"].to_numpy())
        others = " ".join(str(i) for i in images[1:])
        rows.append(["ood", name, int(label), int(images[0]), others, -1])
    if sample_images:
        others = " ".join(str(i) for i in range(1, sample_images))
        rows.append([SAMPLE, identity_names(SAMPLE, 1)[0], -1, 0, others, -1])
    return pd.DataFrame(rows, columns=COLUMNS)


def read_identities(path: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype={"other_indices": str}, keep_default_na=False)
    except FileNotFoundError as err:
        raise ArtefactError(f"missing identity table: {path}") from err
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ArtefactError(f"identity table {path} lacks columns {sorted(missing)}")
    return table


def lookup(table: pd.DataFrame, scenario: str, name: str) -> pd.Series:
    rows = table[(table["scenario"] == scenario) & (table["identity"] == name)]
    if rows.empty:
        raise UserError(f"identity {name!r} of scenario {scenario!r} is not in the identity table")
    return rows.iloc[0]


def forget_names(count: int) -> list[str]:
    return [f"{FORGET}{k:02d}" for k in range(count)]


def retain_names(count: int) -> list[str]:
    return [f"{RETAIN}{k:02d}" for k in range(count)]


def forget_sets(grid: Sequence[int]) -> dict[int, list[str]]:
    """N -> the names of the N forgotten identities: prefixes of one order, so nested."""
    return {n: forget_names(n) for n in sorted(set(grid))}


def select_multi(
    identity: np.ndarray,  # dataset label per image
    heldout: np.ndarray,  # dataset held-out flag per image
    image_index: np.ndarray,  # index of each image within its identity (0 = source photo)
    forget: int,
    retain: int,
    seed: int,
) -> pd.DataFrame:
    """An identity table (identities.COLUMNS, scenario ood): one seeded permutation of the
    held-out identities; its first `forget` are multi00.. in arrival order, the next
    `retain` are retain00.."""
    labels = np.unique(identity[heldout])
    if forget + retain > len(labels):
        raise UserError(
            f"multi: {forget} forgotten + {retain} retained identities asked for,"
            f" the world has {len(labels)} held-out identities"
        )
    order = np.random.default_rng(derive_seed(seed, "multi")).permutation(labels)
    names = forget_names(forget) + retain_names(retain)
    rows = []
    for name, label in zip(names, order[: forget + retain], strict=True):
        images = np.flatnonzero(identity == label)
        source = images[image_index[images] == 0][0]
        others = " ".join(str(i) for i in images if i != source)
        rows.append([MULTI_SCENARIO, name, int(label), int(source), others, -1])
    return pd.DataFrame(rows, columns=COLUMNS)
