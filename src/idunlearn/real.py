"""The real setting's datasets: FFHQ and CelebAHQ indexed once, then read by index.

The datasets sit behind licence forms, so they are never downloaded here: the
user puts them in place and the index steps say where when they are missing.
An index is a TSV of image paths (and, for CelebAHQ, the CelebA identity of
each image) that identity selection, face preparation and the real FID
statistics read, so no step walks a 70,000-image folder twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from idunlearn.backend import load_features, resolve_device
from idunlearn.faces import IMAGE_SUFFIXES, make_detector
from idunlearn.identities import lookup, read_identities
from idunlearn.io import ArtefactError, UserError, atomic_path, npz_keys, write_npz
from idunlearn.metrics import feature_statistics
from idunlearn.world.dataset import to_float_images

if TYPE_CHECKING:
    from facenet_pytorch import MTCNN


def missing_dataset(root: Path, what: str, instructions: str) -> ArtefactError:
    return ArtefactError(
        f"{root} does not exist: {what} must be downloaded by hand ({instructions.rstrip('.')}):"
        f" put it at {root} (or set its path in the config's `real:` block) and run again"
    )


def index_ffhq(root: Path, instructions: str) -> pd.DataFrame:
    """Every image under `root` (any depth), sorted by path: FFHQ's own numbering."""
    if not root.is_dir():
        raise missing_dataset(root, "FFHQ", instructions)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ArtefactError(f"{root}: no .png or .jpg images in it")
    return pd.DataFrame({"index": range(len(paths)), "path": [str(p) for p in paths]})


def index_listed(root: Path, images: list[str]) -> pd.DataFrame:
    """The listed images under `root` (a code checkout), in the given order."""
    paths = [root / name for name in images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ArtefactError(f"{root}: listed image(s) missing: {', '.join(missing)}")
    return pd.DataFrame({"index": range(len(paths)), "path": [str(p) for p in paths]})


def read_celeba_identities(path: Path) -> pd.DataFrame:
    """CelebA's `identity_CelebA.txt`: `<celeba file> <identity id>` per line."""
    return _read_table(path, ["celeba_file", "identity"], header=None)


def read_celebahq_mapping(path: Path) -> pd.DataFrame:
    """`CelebA-HQ-to-CelebA-mapping.txt`: a header, then `idx orig_idx orig_file`."""
    table = _read_table(path, ["index", "orig_index", "celeba_file"], header=0)
    return table[["index", "celeba_file"]]


def _read_table(path: Path, names: list[str], header: int | None) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=r"\s+", header=header, names=names, dtype=str)
    except FileNotFoundError as err:
        raise ArtefactError(f"missing file: {path}") from err
    if table.isna().any().any():
        raise ArtefactError(f"{path}: expected {len(names)} columns on every line")
    return table


def index_celebahq(
    root: Path, identities_path: Path, mapping_path: Path, instructions: str
) -> pd.DataFrame:
    """CelebAHQ images (`<root>/<idx>.jpg` or `.png`) with their CelebA identity."""
    if not root.is_dir():
        raise missing_dataset(root, "CelebAHQ", instructions)
    mapping = read_celebahq_mapping(mapping_path)
    labels = read_celeba_identities(identities_path)
    table = mapping.merge(labels, on="celeba_file", how="left", validate="one_to_one")
    unlabelled = table.loc[table["identity"].isna(), "celeba_file"]
    if len(unlabelled):
        raise ArtefactError(
            f"{identities_path}: no identity for {len(unlabelled)} CelebAHQ images "
            f"(first: {unlabelled.iloc[0]})"
        )
    table["index"] = table["index"].astype(int)
    table["identity"] = table["identity"].astype(int)
    table["path"] = [str(_image_path(root, i)) for i in table["index"]]
    return table[["index", "path", "celeba_file", "identity"]]


def _image_path(root: Path, index: int) -> Path:
    for suffix in (".jpg", ".png"):
        if (path := root / f"{index}{suffix}").is_file():
            return path
    raise ArtefactError(f"{root}: CelebAHQ image {index} (.jpg or .png) is missing")


def write_index(table: pd.DataFrame, out: str) -> None:
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def read_index(path: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t").set_index("index", drop=False)
    except FileNotFoundError as err:
        raise ArtefactError(f"missing dataset index: {path}") from err


def load_image(path: str, resolution: int, detector: MTCNN | None = None) -> np.ndarray:
    """uint8 [R, R, 3]: FFHQ is aligned already (resize only, no detector); with a detector
    the photo is aligned first (FFHQ crop from its MTCNN landmarks)."""
    from PIL import Image

    from idunlearn.faces import align_image, resize_aligned

    try:
        image = Image.open(path).convert("RGB")
    except OSError as err:
        raise ArtefactError(f"unreadable image: {path} ({err})") from err
    if detector is None:
        return np.asarray(resize_aligned(image, resolution, path))
    return np.asarray(align_image(image, resolution, detector, name=path))


def is_faces_file(path: str) -> bool:
    """A `faces` file (not a synthetic dataset)."""
    return "faces" in npz_keys(path)


def run_faces(
    identities_path: str,
    scenario: str,
    identity: str,
    index_path: str,
    resolution: int,
    align: bool,
    out: str,
) -> None:
    """The identity's source photo, then its other photos, as `faces` [K, R, R, 3] uint8."""
    row = lookup(read_identities(identities_path), scenario, identity)
    index = read_index(index_path)
    indices = [int(row.source_index)] + [int(i) for i in str(row.other_indices).split()]
    detector = make_detector() if align else None
    faces = [load_image(index.loc[i, "path"], resolution, detector) for i in indices]
    write_npz(out, faces=np.stack(faces))


def _batches(paths: list[str], resolution: int, batch: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(paths), batch):
        images = [load_image(p, resolution) for p in paths[start : start + batch]]
        yield torch.from_numpy(to_float_images(np.stack(images)))


@torch.no_grad()
def run_fid_real(
    index_path: str,
    features_path: str,
    count: int,
    resolution: int,
    batch: int,
    out: str,
    device: str = "cpu",
) -> None:
    """Frechet statistics of the first `count` FFHQ images at the generator's resolution,
    computed once for every dFID_real (streamed: 5,000 512-pixel images do not fit). The
    images are read on the CPU; the feature network runs on `device`."""
    dev = resolve_device(device)
    paths = list(read_index(index_path)["path"])
    if count > len(paths):
        raise UserError(f"{count} real images asked for, {index_path} lists {len(paths)}")
    features = load_features(features_path, dev)
    feats = np.concatenate(
        [features(images).cpu().numpy() for images in _batches(paths[:count], resolution, batch)]
    )
    mu, sigma = feature_statistics(feats)
    write_npz(out, real_mu=mu, real_sigma=sigma, n=np.array(count))
