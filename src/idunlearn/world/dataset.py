"""The synthetic world's dataset: rendered photos of known identities, with their ground truth.

Training ("in-domain") identities come first, held-out ("out-of-domain") identities after them;
no trained network ever sees a held-out identity. Image 0 of every identity is a neutral frontal
"passport photo" (yaw 0, all-zero nuisance code): the source image that gets unlearned.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

import numpy as np

from idunlearn.io import ArtefactError, UserError, read_npz, write_npz
from idunlearn.world.renderer import (
    IDENTITY_PARAMS,
    NUISANCE_PARAMS,
    YAW_LIMIT,
    render,
    sample_identity_codes,
    sample_nuisance_codes,
)

#: Arrays every dataset file holds (``spec_json`` is written too but is optional on reading).
REQUIRED_KEYS: tuple[str, ...] = (
    "images",
    "identity",
    "identity_codes",
    "nuisance_codes",
    "yaw",
    "heldout",
    "image_index",
)

# Images rendered per call; bounds the float32 working memory, results do not depend on it.
_RENDER_BLOCK = 1024


@dataclass(frozen=True)
class WorldSpec:
    """Sizes of the synthetic world; together with ``seed`` they determine the dataset exactly."""

    num_identities: int = 500  # training identities ("in-domain")
    images_per_identity: int = 8
    num_heldout: int = 50  # never seen by any trained net (the "out-of-domain" people)
    heldout_images: int = 6
    yaw_range: float = 0.4  # dataset yaws ~ U(-yaw_range, yaw_range), radians
    image_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_identities", "images_per_identity", "heldout_images", "image_size"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"WorldSpec.{name} must be at least 1, got {getattr(self, name)}")
        if int(self.num_heldout) < 0:
            raise UserError(f"WorldSpec.num_heldout must be >= 0, got {self.num_heldout}")
        if not 0.0 <= float(self.yaw_range) <= YAW_LIMIT:
            raise UserError(
                f"WorldSpec.yaw_range must lie in [0, {YAW_LIMIT}], got {self.yaw_range}"
            )
        if int(self.image_size) < 8:
            raise UserError(f"WorldSpec.image_size must be at least 8, got {self.image_size}")
        if int(self.seed) < 0:
            raise UserError(f"WorldSpec.seed must be >= 0, got {self.seed}")

    @property
    def num_images(self) -> int:
        return (
            self.num_identities * self.images_per_identity + self.num_heldout * self.heldout_images
        )


def build_dataset(spec: WorldSpec) -> dict[str, np.ndarray]:
    """Render the world described by ``spec``.

    One ``np.random.default_rng(spec.seed)`` is drawn from in a fixed order: identity codes of
    all identities (training then held-out), nuisance codes of all images, yaws of all images.
    Image 0 of each identity then has its nuisance and yaw overwritten with zeros, so every
    draw sequence is the same whatever the sizes of the other fields.

    Rows are grouped by identity (label ``i`` occupies a contiguous block, images in order).
    """
    rng = np.random.default_rng(spec.seed)
    n_total = spec.num_identities + spec.num_heldout
    counts = np.array(
        [spec.images_per_identity] * spec.num_identities + [spec.heldout_images] * spec.num_heldout,
        dtype=np.int64,
    )
    n_images = int(counts.sum())

    identity_table = sample_identity_codes(n_total, rng)
    nuisance = sample_nuisance_codes(n_images, rng)
    yaw = rng.uniform(-spec.yaw_range, spec.yaw_range, n_images).astype(np.float32)

    labels = np.repeat(np.arange(n_total, dtype=np.int64), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    image_index = np.arange(n_images, dtype=np.int64) - starts
    source = image_index == 0
    nuisance[source] = 0.0
    yaw[source] = 0.0
    identity_codes = identity_table[labels]

    size = spec.image_size
    images = np.empty((n_images, size, size, 3), dtype=np.uint8)
    for start in range(0, n_images, _RENDER_BLOCK):
        sl = slice(start, start + _RENDER_BLOCK)
        rendered = render(identity_codes[sl], nuisance[sl], yaw[sl], size=size)
        images[sl] = to_uint8_images(rendered)

    return {
        "images": images,
        "identity": labels,
        "identity_codes": identity_codes.astype(np.float32),
        "nuisance_codes": nuisance.astype(np.float32),
        "yaw": yaw,
        "heldout": labels >= spec.num_identities,
        "image_index": image_index,
    }


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC (round to nearest)."""
    scaled = np.rint((np.clip(images, -1.0, 1.0) + 1.0) * 127.5)
    return scaled.astype(np.uint8).transpose(0, 2, 3, 1)


def to_float_images(images_uint8: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> float32 NCHW in [-1, 1], the layout and range networks train on."""
    arr = np.asarray(images_uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected images of shape [N, H, W, 3], got {arr.shape}")
    out = arr.transpose(0, 3, 1, 2).astype(np.float32)
    out /= 127.5
    out -= 1.0
    return out


def _check(data: dict[str, np.ndarray], where: str) -> None:
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ArtefactError(f"{where}: dataset lacks required array(s) {', '.join(missing)}")
    n = len(data["images"])
    wrong = [key for key in REQUIRED_KEYS if len(data[key]) != n]
    if wrong:
        raise ArtefactError(f"{where}: arrays {', '.join(wrong)} do not have {n} rows like images")
    if data["identity_codes"].shape[1:] != (len(IDENTITY_PARAMS),):
        raise ArtefactError(f"{where}: identity_codes has shape {data['identity_codes'].shape}")
    if data["nuisance_codes"].shape[1:] != (len(NUISANCE_PARAMS),):
        raise ArtefactError(f"{where}: nuisance_codes has shape {data['nuisance_codes'].shape}")


def save_dataset(
    path: str | os.PathLike[str], data: dict[str, np.ndarray], spec: WorldSpec
) -> None:
    """Write the dataset atomically, with ``spec`` as a one-element JSON string array."""
    _check(data, f"dataset to be written to {path}")
    arrays = {key: np.asarray(val) for key, val in data.items() if key != "spec_json"}
    arrays["spec_json"] = np.array([json.dumps(asdict(spec), sort_keys=True)])
    write_npz(path, **arrays)


def load_dataset(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a dataset file; raise :class:`ArtefactError` naming it if it is incomplete."""
    data = read_npz(path)
    _check(data, str(path))
    return data


def spec_of(data: dict[str, np.ndarray]) -> WorldSpec:
    """The :class:`WorldSpec` stored in a loaded dataset (from its ``spec_json`` array)."""
    if "spec_json" not in data:
        raise ArtefactError("dataset has no spec_json array")
    stored = json.loads(str(np.asarray(data["spec_json"]).reshape(-1)[0]))
    known = {f.name for f in fields(WorldSpec)}
    return WorldSpec(**{k: v for k, v in stored.items() if k in known})
