"""The synthetic world's renderer: shapes, determinism, and identity/nuisance/pose separation."""

from __future__ import annotations

import numpy as np
import pytest

from idunlearn.world.renderer import (
    IDENTITY_PARAMS,
    LANDMARK_NAMES,
    NUISANCE_PARAMS,
    YAW_LIMIT,
    landmarks,
    render,
    sample_identity_codes,
    sample_nuisance_codes,
)

K_ID, K_NU = len(IDENTITY_PARAMS), len(NUISANCE_PARAMS)
LM = {name: i for i, name in enumerate(LANDMARK_NAMES)}


def zeros_id(n: int = 1) -> np.ndarray:
    return np.zeros((n, K_ID), dtype=np.float32)


def zeros_nu(n: int = 1) -> np.ndarray:
    return np.zeros((n, K_NU), dtype=np.float32)


def batch(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ident = sample_identity_codes(n, rng)
    nuis = sample_nuisance_codes(n, rng)
    yaw = rng.uniform(-YAW_LIMIT, YAW_LIMIT, n).astype(np.float32)
    return ident, nuis, yaw


def inner_face_box(lm: np.ndarray) -> tuple[slice, slice]:
    """Pixels between the eyes and the mouth: always inside the face, never hair or background."""
    x0 = int(np.ceil(lm[LM["eye_left"], 0]))
    x1 = int(np.floor(lm[LM["eye_right"], 0])) + 1
    y0 = int(np.ceil(lm[LM["eye_left"], 1])) - 1
    y1 = int(np.floor(lm[LM["mouth_left"], 1])) + 1
    return slice(y0, y1), slice(x0, x1)


def test_parameter_names() -> None:
    assert len(IDENTITY_PARAMS) >= 10
    assert len(set(IDENTITY_PARAMS)) == K_ID
    assert len(set(NUISANCE_PARAMS)) == K_NU
    assert not set(IDENTITY_PARAMS) & set(NUISANCE_PARAMS)
    assert YAW_LIMIT == 0.5


def test_samplers_shape_dtype_and_determinism() -> None:
    a = sample_identity_codes(7, np.random.default_rng(3))
    b = sample_identity_codes(7, np.random.default_rng(3))
    c = sample_identity_codes(7, np.random.default_rng(4))
    assert a.shape == (7, K_ID) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    n = sample_nuisance_codes(5, np.random.default_rng(3))
    assert n.shape == (5, K_NU) and n.dtype == np.float32
    assert np.array_equal(n, sample_nuisance_codes(5, np.random.default_rng(3)))
    big = sample_identity_codes(4000, np.random.default_rng(0))
    assert abs(float(big.mean())) < 0.03 and abs(float(big.std()) - 1.0) < 0.03


def test_render_shape_dtype_range() -> None:
    ident, nuis, yaw = batch(6)
    img = render(ident, nuis, yaw)
    assert img.shape == (6, 3, 64, 64) and img.dtype == np.float32
    assert img.min() >= -1.0 and img.max() <= 1.0
    assert np.isfinite(img).all()
    small = render(ident[:2], nuis[:2], yaw[:2], size=32)
    assert small.shape == (2, 3, 32, 32)
    assert render(ident[:0], nuis[:0], yaw[:0]).shape == (0, 3, 64, 64)


def test_render_rejects_bad_shapes() -> None:
    ident, nuis, yaw = batch(3)
    with pytest.raises(ValueError):
        render(ident[:, :-1], nuis, yaw)
    with pytest.raises(ValueError):
        render(ident, nuis[:2], yaw)
    with pytest.raises(ValueError):
        render(ident, nuis, yaw[:2])


def test_render_is_deterministic_and_batch_independent() -> None:
    ident, nuis, yaw = batch(150, seed=1)  # more than one internal chunk
    first = render(ident, nuis, yaw)
    assert np.array_equal(first, render(ident, nuis, yaw))
    part = render(ident[129:133], nuis[129:133], yaw[129:133])
    assert np.array_equal(first[129:133], part)


def test_average_face_is_a_plausible_symmetric_face() -> None:
    img = render(zeros_id(), zeros_nu(), np.zeros(1))[0]
    lm = landmarks(zeros_id(), np.zeros(1))[0]
    rows, cols = inner_face_box(lm)
    face = img[:, rows, cols].reshape(3, -1).mean(axis=1)
    corners = np.stack([img[:, :4, :4], img[:, :4, -4:]]).reshape(2, 3, -1).mean(axis=(0, 2))
    assert np.abs(face - corners).max() > 0.2
    # Frontal with neutral light: mirror symmetric about the vertical midline.
    np.testing.assert_allclose(img, img[:, :, ::-1], atol=1e-4)
    # The landmarks are ordered sensibly on the image.
    assert lm[LM["eye_left"], 0] < lm[LM["nose_tip"], 0] < lm[LM["eye_right"], 0]
    assert lm[LM["eye_left"], 1] < lm[LM["nose_tip"], 1] < lm[LM["mouth_left"], 1]
    assert lm[LM["mouth_left"], 1] < lm[LM["chin"], 1] < 64
    assert 0 < lm[LM["face_left"], 0] < lm[LM["eye_left"], 0]
    assert lm[LM["eye_right"], 0] < lm[LM["face_right"], 0] < 64


def test_landmarks_depend_on_identity_and_yaw_only() -> None:
    ident, _, _ = batch(4, seed=2)
    yaw = np.zeros(4, dtype=np.float32)
    lm = landmarks(ident, yaw)
    assert lm.shape == (4, len(LANDMARK_NAMES), 2) and lm.dtype == np.float32
    assert np.array_equal(lm, landmarks(ident, yaw))
    assert not np.allclose(lm[0], lm[1])
    for k, name in enumerate(IDENTITY_PARAMS):
        if name.startswith(("skin", "hair")) or name in (
            "nose_width",
            "brow_thickness",
            "brow_slant",
        ):
            continue  # colour, hairstyle, nose and brow shape leave the points alone
        moved = ident[:1].copy()
        moved[0, k] += 1.0
        assert not np.allclose(landmarks(moved, yaw[:1]), lm[:1]), name
    assert not np.allclose(landmarks(ident, yaw + 0.3), lm)
    assert lm[:, :, 0].min() >= 0 and lm.max() <= 63


def test_expression_changes_pixels_only_at_its_landmarks() -> None:
    """Nuisance moves no feature: the eye/mouth changes of an expression sit on the landmarks."""
    ident, _, yaw = batch(8, seed=3)
    lm = landmarks(ident, yaw)
    for param, points in (("eye_openness", ("eye_left", "eye_right")), ("mouth_open", None)):
        lo, hi = zeros_nu(8), zeros_nu(8)
        lo[:, NUISANCE_PARAMS.index(param)] = -2.0
        hi[:, NUISANCE_PARAMS.index(param)] = 2.0
        diff = np.abs(render(ident, hi, yaw) - render(ident, lo, yaw)).sum(axis=1)
        ys, xs = np.mgrid[:64, :64]
        for i in range(8):
            w = diff[i] / diff[i].sum()
            centre = np.array([(w * xs).sum(), (w * ys).sum()])
            if points is None:
                target = 0.5 * (lm[i, LM["mouth_left"]] + lm[i, LM["mouth_right"]])
            else:
                target = 0.5 * (lm[i, LM[points[0]]] + lm[i, LM[points[1]]])
            assert np.abs(centre - target).max() < 1.5, (param, i, centre, target)


def test_background_and_lighting_leave_the_face_geometry_alone() -> None:
    ident, _, yaw = batch(6, seed=4)
    base = zeros_nu(6)
    other = base.copy()
    for name in ("background_hue", "background_lightness", "shirt_hue"):
        other[:, NUISANCE_PARAMS.index(name)] = 2.0
    a, b = render(ident, base, yaw), render(ident, other, yaw)
    lm = landmarks(ident, yaw)
    for i in range(6):
        rows, cols = inner_face_box(lm[i])
        np.testing.assert_allclose(a[i][:, rows, cols], b[i][:, rows, cols], atol=1e-5)
        assert np.abs(a[i] - b[i]).max() > 0.1  # but the background did change


def test_every_code_dimension_has_a_visible_monotone_effect() -> None:
    for k_dims, make in ((K_ID, "identity"), (K_NU, "nuisance")):
        codes = np.zeros((3 * k_dims, k_dims), dtype=np.float32)
        for k in range(k_dims):
            codes[3 * k + 1, k] = 1.0
            codes[3 * k + 2, k] = 2.0
        n = 3 * k_dims
        if make == "identity":
            img = render(codes, zeros_nu(n), np.zeros(n))
        else:
            img = render(zeros_id(n), codes, np.zeros(n))
        for k in range(k_dims):
            base, one, two = img[3 * k : 3 * k + 3]
            d1 = np.sqrt(((one - base) ** 2).mean())
            d2 = np.sqrt(((two - base) ** 2).mean())
            assert d1 > 0.005, (make, k)
            assert d2 > d1, (make, k)


def test_identity_parameters_change_the_face_region() -> None:
    """Each identity parameter shows in the face: the landmarks' bounding box (brows to chin)."""
    lm0 = landmarks(zeros_id(), np.zeros(1))[0]
    x0, y0 = np.floor(lm0.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(lm0.max(axis=0)).astype(int) + 2
    base = render(zeros_id(), zeros_nu(), np.zeros(1))[0]
    for k, name in enumerate(IDENTITY_PARAMS):
        if name in ("hair_length", "hair_volume"):
            continue  # these shape the hair around the face
        for value in (-2.0, 2.0):
            moved = zeros_id()
            moved[0, k] = value
            img = render(moved, zeros_nu(), np.zeros(1))[0]
            change = np.abs(img[:, y0:y1, x0:x1] - base[:, y0:y1, x0:x1]).max()
            assert change > 0.05, (name, value)


def test_identity_dominates_nuisance_in_the_face() -> None:
    """Another person differs far more in the face than the same person in another photo."""
    n = 64
    rng = np.random.default_rng(5)
    id_a, id_b = sample_identity_codes(n, rng), sample_identity_codes(n, rng)
    nu_a, nu_b = sample_nuisance_codes(n, rng), sample_nuisance_codes(n, rng)
    yaw = rng.uniform(-0.4, 0.4, n).astype(np.float32)
    same_nuisance_other_person = render(id_b, nu_a, yaw)
    reference = render(id_a, nu_a, yaw)
    same_person_other_photo = render(id_a, nu_b, yaw)
    lm = landmarks(id_a, yaw)
    d_identity, d_nuisance = [], []
    for i in range(n):
        rows, cols = inner_face_box(lm[i])
        ref = reference[i][:, rows, cols]
        d_identity.append(((same_nuisance_other_person[i][:, rows, cols] - ref) ** 2).mean())
        d_nuisance.append(((same_person_other_photo[i][:, rows, cols] - ref) ** 2).mean())
    assert np.mean(d_identity) > 3.0 * np.mean(d_nuisance)


def test_yaw_turns_the_head() -> None:
    ident, _, _ = batch(16, seed=6)
    front = landmarks(ident, np.zeros(16))
    right = landmarks(ident, np.full(16, 0.4))
    left = landmarks(ident, np.full(16, -0.4))
    shift = right[:, :, 0] - front[:, :, 0]
    # Vertical positions are untouched; a turn to image-right moves every central point right.
    np.testing.assert_allclose(right[:, :, 1], front[:, :, 1], atol=1e-4)
    nose, chin = shift[:, LM["nose_tip"]], shift[:, LM["chin"]]
    eyes = shift[:, [LM["eye_left"], LM["eye_right"]]].mean(axis=1)
    mouth = shift[:, [LM["mouth_left"], LM["mouth_right"]]].mean(axis=1)
    outline = np.abs(shift[:, [LM["face_left"], LM["face_right"]]]).max(axis=1)
    assert (nose > eyes).all() and (nose > mouth).all() and (nose > chin).all()
    assert (chin > outline).all() and (nose > 2.0).all() and (outline < 1.0).all()
    # The far side of the face narrows, the near side widens.
    far = right[:, LM["face_right"], 0] - right[:, LM["nose_tip"], 0]
    near = right[:, LM["nose_tip"], 0] - right[:, LM["face_left"], 0]
    far0 = front[:, LM["face_right"], 0] - front[:, LM["nose_tip"], 0]
    assert (far < far0 - 2.0).all() and (near > far0 + 2.0).all()
    # Symmetric: turning the other way mirrors the shifts of the nose.
    np.testing.assert_allclose(
        left[:, LM["nose_tip"], 0] - front[:, LM["nose_tip"], 0], -nose, atol=1e-3
    )


def test_yaw_changes_the_image_but_not_identity_colours() -> None:
    ident, nuis, _ = batch(4, seed=7)
    a = render(ident, nuis, np.zeros(4))
    b = render(ident, nuis, np.full(4, 0.4))
    assert np.abs(a - b).mean() > 0.01
    lm_a, lm_b = landmarks(ident, np.zeros(4)), landmarks(ident, np.full(4, 0.4))
    for i in range(4):
        # The skin colour at the cheek below the near eye is the same person's skin.
        xa, ya = np.rint(lm_a[i, LM["eye_left"]] + [0, 4]).astype(int)
        xb, yb = np.rint(lm_b[i, LM["eye_left"]] + [0, 4]).astype(int)
        np.testing.assert_allclose(a[i, :, ya, xa], b[i, :, yb, xb], atol=0.15)
