"""The synthetic world's dataset: layout, ground truth, determinism and the file round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from idunlearn.io import ArtefactError, UserError, read_npz, write_npz
from idunlearn.world.dataset import (
    REQUIRED_KEYS,
    WorldSpec,
    build_dataset,
    load_dataset,
    save_dataset,
    spec_of,
    to_float_images,
)
from idunlearn.world.quality import inversion_rows
from idunlearn.world.renderer import IDENTITY_PARAMS, NUISANCE_PARAMS, render

TINY = WorldSpec(
    num_identities=5, images_per_identity=3, num_heldout=2, heldout_images=2, yaw_range=0.3, seed=7
)


@pytest.fixture(scope="module")
def tiny() -> dict[str, np.ndarray]:
    return build_dataset(TINY)


def test_keys_shapes_dtypes(tiny: dict[str, np.ndarray]) -> None:
    n = 5 * 3 + 2 * 2
    assert n == TINY.num_images
    assert set(tiny) == set(REQUIRED_KEYS)
    assert tiny["images"].shape == (n, 64, 64, 3) and tiny["images"].dtype == np.uint8
    assert tiny["identity"].shape == (n,) and tiny["identity"].dtype == np.int64
    assert tiny["identity_codes"].shape == (n, len(IDENTITY_PARAMS))
    assert tiny["identity_codes"].dtype == np.float32
    assert tiny["nuisance_codes"].shape == (n, len(NUISANCE_PARAMS))
    assert tiny["nuisance_codes"].dtype == np.float32
    assert tiny["yaw"].shape == (n,) and tiny["yaw"].dtype == np.float32
    assert tiny["heldout"].shape == (n,) and tiny["heldout"].dtype == np.bool_
    assert tiny["image_index"].shape == (n,) and tiny["image_index"].dtype == np.int64


def test_labels_heldout_and_image_index(tiny: dict[str, np.ndarray]) -> None:
    labels = tiny["identity"]
    assert np.array_equal(labels, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6])
    assert np.array_equal(tiny["heldout"], labels >= 5)
    assert np.array_equal(tiny["image_index"], [0, 1, 2] * 5 + [0, 1] * 2)
    # One identity code per person, different between people.
    for label in range(7):
        codes = tiny["identity_codes"][labels == label]
        assert (codes == codes[0]).all()
    assert len(np.unique(tiny["identity_codes"], axis=0)) == 7
    assert np.abs(tiny["yaw"]).max() <= TINY.yaw_range


def test_image_zero_is_the_frontal_neutral_photo(tiny: dict[str, np.ndarray]) -> None:
    first = tiny["image_index"] == 0
    assert (tiny["yaw"][first] == 0).all()
    assert (tiny["nuisance_codes"][first] == 0).all()
    assert (tiny["yaw"][~first] != 0).all()
    assert (np.abs(tiny["nuisance_codes"][~first]).sum(axis=1) > 0).all()
    # The stored images are the renderings of the stored ground truth.
    again = render(tiny["identity_codes"], tiny["nuisance_codes"], tiny["yaw"])
    again_u8 = np.rint((again + 1.0) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.array_equal(again_u8, tiny["images"])


def test_determinism_from_seed(tiny: dict[str, np.ndarray]) -> None:
    again = build_dataset(TINY)
    for key in REQUIRED_KEYS:
        assert np.array_equal(again[key], tiny[key]), key
    other = build_dataset(WorldSpec(**{**TINY.__dict__, "seed": 8}))
    assert not np.array_equal(other["identity_codes"], tiny["identity_codes"])


def test_to_float_images(tiny: dict[str, np.ndarray]) -> None:
    x = to_float_images(tiny["images"])
    assert x.shape == (19, 3, 64, 64) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    rendered = render(tiny["identity_codes"][:2], tiny["nuisance_codes"][:2], tiny["yaw"][:2])
    assert np.abs(x[:2] - rendered).max() <= 0.5 / 127.5 + 1e-6
    edges = to_float_images(np.array([0, 255], dtype=np.uint8).reshape(1, 1, 2, 1).repeat(3, 3))
    assert edges.min() == -1.0 and edges.max() == 1.0
    with pytest.raises(ValueError):
        to_float_images(tiny["images"][0])


def test_save_load_round_trip(tmp_path, tiny: dict[str, np.ndarray]) -> None:
    path = tmp_path / "sub" / "world.npz"
    save_dataset(path, tiny, TINY)
    loaded = load_dataset(path)
    for key in REQUIRED_KEYS:
        assert np.array_equal(loaded[key], tiny[key]), key
        assert loaded[key].dtype == tiny[key].dtype, key
    assert json.loads(str(loaded["spec_json"][0]))["num_identities"] == 5
    assert spec_of(loaded) == TINY
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_load_missing_key_names_the_file(tmp_path, tiny: dict[str, np.ndarray]) -> None:
    path = tmp_path / "broken.npz"
    write_npz(path, **{k: v for k, v in tiny.items() if k != "yaw"})
    with pytest.raises(ArtefactError, match="broken.npz") as info:
        load_dataset(path)
    assert "yaw" in str(info.value)
    with pytest.raises(ArtefactError, match="absent.npz"):
        load_dataset(tmp_path / "absent.npz")


def test_load_mismatched_rows_is_an_artefact_error(tmp_path, tiny: dict[str, np.ndarray]) -> None:
    path = tmp_path / "short.npz"
    save_dataset(path, tiny, TINY)
    data = read_npz(path)
    data["yaw"] = data["yaw"][:-1]
    write_npz(path, **data)
    with pytest.raises(ArtefactError, match="short.npz"):
        load_dataset(path)


def test_spec_validation() -> None:
    with pytest.raises(UserError):
        WorldSpec(yaw_range=0.9)
    with pytest.raises(UserError):
        WorldSpec(images_per_identity=0)
    assert WorldSpec().num_images == 500 * 8 + 50 * 6


def test_the_quality_check_inverts_two_images_of_the_first_people() -> None:
    labels = np.array([5, 5, 5, 6, 6, 7, 7])
    image_index = np.array([0, 1, 2, 0, 1, 0, 1])
    assert inversion_rows(image_index, labels, 2).tolist() == [0, 1, 3, 4]
    assert inversion_rows(image_index, labels, None).tolist() == [0, 1, 3, 4, 5, 6]
    assert inversion_rows(image_index, labels, 10).tolist() == [0, 1, 3, 4, 5, 6]
