"""Face detection and alignment (FFHQ and EG3D crops, ArcFace and facenet crops) with MTCNN,
on a real photograph that ships with scikit-image."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from idunlearn.faces import (
    MEAN_FACE_LANDMARKS_3D,
    Face,
    FaceNotFoundError,
    align_box,
    align_eg3d,
    align_image,
    apply_affine,
    crop_matrix,
    detect_faces,
    eg3d_box,
    ffhq_quad,
    make_detector,
    make_eval_detector,
    quad_matrix,
    resize_aligned,
    similarity_transform,
    warp_affine,
)
from idunlearn.io import ArtefactError, UserError

ROOT = Path(__file__).resolve().parents[1]


def load_cli(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def detector():
    pytest.importorskip("facenet_pytorch")  # the faces env's MTCNN (see envs/faces.yaml)
    return make_detector()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    """A real photograph with one face (512 x 512) that ships with scikit-image."""
    return Image.fromarray(pytest.importorskip("skimage.data").astronaut())


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


@pytest.fixture(scope="module")
def astronaut_face(detector, astronaut) -> Face:
    (face,) = detect_faces(detector, np.asarray(astronaut)[None])
    assert face is not None
    return face


def landmarks(detector, image: Image.Image) -> np.ndarray:
    (face,) = detect_faces(detector, np.asarray(image)[None])
    assert face is not None
    return face.landmarks


def test_similarity_transform_recovers_a_known_one():
    src = np.array([[10.0, 20.0], [40.0, 22.0], [25.0, 40.0], [12.0, 55.0], [38.0, 57.0]])
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -8.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity_transform(src, src @ (scale * rotation).T + shift)
    assert np.allclose(matrix, np.concatenate([scale * rotation, shift[:, None]], axis=1))


def test_warp_affine_uses_pixel_centres():
    image = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    identity = np.tile(np.eye(2, 3), (2, 1, 1))
    assert torch.allclose(warp_affine(image, identity, 8), image)
    # the box with edges 2..6 by 1..5, resampled at its own size, is that block of pixels
    block = warp_affine(image, crop_matrix(2, 1, 4, 4, 4)[None].repeat(2, 0), 4)
    assert torch.allclose(block, image[:, :, 1:5, 2:6])
    shifted = warp_affine(image, np.tile([[1.0, 0, 3], [0, 1, 0]], (2, 1, 1)), 8)
    assert torch.equal(shifted[..., :3], torch.zeros(2, 3, 8, 3))  # zeros outside the source
    assert torch.allclose(shifted[..., 3:], image[..., :5])


def test_ffhq_quad_of_an_upright_face_is_an_axis_aligned_square():
    # eyes 40 apart at y = 100, mouth 50 below: the side is max(2 * 40, 1.8 * 50) * 2 = 180
    points = np.array([[80.0, 100], [120, 100], [100, 125], [85, 150], [115, 150]])
    quad = ffhq_quad(points)
    center = np.array([100.0, 100 + 50 * 0.1])
    assert np.allclose(quad, center + 90 * np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]]))
    assert np.allclose(apply_affine(quad_matrix(quad, 180), center), [89.5, 89.5])


def test_align_image_puts_the_landmarks_where_the_ffhq_crop_says(
    detector, astronaut, astronaut_face
):
    source = astronaut_face.landmarks
    aligned = align_image(astronaut, 256, detector, "astronaut.png")
    assert aligned.size == (256, 256) and aligned.mode == "RGB"
    expected = apply_affine(quad_matrix(ffhq_quad(source), 256), source)
    found = landmarks(detector, aligned)
    assert np.abs(found - expected).max() < 0.03 * 256
    left_eye, right_eye = found[0], found[1]
    assert abs(left_eye[1] - right_eye[1]) < 0.02 * 256  # eyes level
    assert abs((left_eye[0] + right_eye[0]) / 2 - 128) < 0.03 * 256  # face centred


def test_align_box_crops_the_mtcnn_box(detector, astronaut, astronaut_face):
    images = torch.from_numpy(np.asarray(astronaut).copy()).permute(2, 0, 1)[None] / 127.5 - 1
    crops, found = align_box(torch.cat([images, torch.zeros_like(images)]), detector)
    assert crops.shape == (2, 3, 160, 160) and found.tolist() == [True, False]
    from facenet_pytorch.models.utils.detect_face import extract_face

    facenet = extract_face(astronaut, astronaut_face.box, 160, 0)  # facenet-pytorch's own cut
    difference = (crops[0] + 1) * 127.5 - facenet
    assert difference.abs().mean() < 1  # the same pixels, up to PIL's antialiased resize


def test_eg3d_box_of_a_projected_mean_face():
    """Landmarks that are the mean face seen head-on at scale 150 around (256, 212) (y down):
    EG3D scales by 300 / 150 and keeps 700 px, so the box is 350 px wide around that point.
    The reference truncates the scaled photo's size to an integer: a scale a hair under 2
    (the last bits of lstsq depend on the BLAS build) makes it 1023 px, 700 * 512 / 1023 =
    350.34 px, so the width is checked to that rounding, not to the last bit."""
    points = MEAN_FACE_LANDMARKS_3D[:, :2] * [150, -150] + [256, 512 - 1 - 300]
    left, top, right, bottom = eg3d_box(points, 512, 512)
    assert right - left == pytest.approx(350, abs=0.5)
    assert bottom - top == pytest.approx(350, abs=0.5)
    assert (left + right) / 2 == pytest.approx(256, abs=1)
    assert (top + bottom) / 2 == pytest.approx(512 - 300, abs=1)


def test_align_eg3d_pads_black_where_the_box_leaves_the_photo(astronaut, astronaut_face):
    cut = astronaut.crop((0, 80, 512, 512))  # the crop box now starts 41 px above the photo
    source = astronaut_face.landmarks - [0, 80]
    left, top, right, bottom = eg3d_box(source, *cut.size)
    assert top < -30 and 0 < left < right < 512
    crop = np.asarray(align_eg3d(cut, source, 128))
    assert crop.shape == (128, 128, 3)
    band = int(-top / (bottom - top) * 128)  # rows of the output above the photo
    assert crop[: band - 4].max() == 0 and crop[band + 4 :].mean() > 60  # Lanczos support


def test_an_image_without_a_face_names_the_file(detector):
    grey = Image.new("RGB", (256, 256), (128, 128, 128))
    with pytest.raises(FaceNotFoundError, match="no face found in grey.png"):
        align_image(grey, 256, detector, "grey.png")
    assert issubclass(FaceNotFoundError, UserError)  # a one-line error of a step


def test_resize_aligned(astronaut):
    assert resize_aligned(astronaut, 128).size == (128, 128)
    assert resize_aligned(astronaut.convert("RGBA"), 512).mode == "RGB"
    with pytest.raises(ArtefactError, match="^wide.png: an aligned image must be square"):
        resize_aligned(Image.new("RGB", (20, 10)), 16, "wide.png")


def test_cli_aligns_a_directory_and_fails_in_one_line_without_a_face(tmp_path, astronaut):
    photos = tmp_path / "photos"
    photos.mkdir()
    astronaut.save(photos / "astronaut.jpg")
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "grey.png")
    runner = CliRunner()
    out = tmp_path / "aligned"
    result = runner.invoke(
        load_cli("align"),
        ["--src", str(photos), "--out", str(out), "--resolution", "128", "--crop", "eg3d"],
    )
    assert result.exit_code == 0, result.output
    assert size_of(out / "astronaut.png") == (128, 128)
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png"]  # no temporary left
    result = runner.invoke(
        load_cli("align"), ["--src", str(tmp_path / "grey.png"), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: no face found in {tmp_path / 'grey.png'}"
    result = runner.invoke(
        load_cli("align"),
        ["--src", str(tmp_path / "grey.png"), "--out", str(out), "--already-aligned"]
        + ["--resolution", "64"],
    )
    assert result.exit_code == 0, result.output
    assert size_of(out / "grey.png") == (64, 64)


def test_the_evaluation_detector_has_the_settings_of_guides_id_metric(astronaut):
    pytest.importorskip("facenet_pytorch")
    detector = make_eval_detector()
    assert detector.thresholds == [0.15, 0.25, 0.35]
    assert (detector.min_face_size, detector.factor) == (20, 0.707)
    assert make_detector().thresholds == [0.6, 0.7, 0.8]  # photos keep the strict ones
    (face,) = detect_faces(detector, np.asarray(astronaut)[None])
    assert face is not None
