"""The evaluation's GUIDE detector and crop (`idunlearn.reference_mtcnn`) against a slow,
literal transcription of the reference's arithmetic written here (KU-VGI/GUIDE 8c20348,
mtcnn/mtcnn.py detect_faces and align, mtcnn_pytorch/src/first_stage.py, box_utils.py,
get_nets.py, align_trans.py, matlab_cp2tform.py), on a real face and on noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from idunlearn.backend import load_embedder, write_spec
from idunlearn.faces import (
    ARCFACE_TEMPLATE_112,
    align_arcface,
    detect_faces,
    loss_crop_matrix,
    make_eval_alignment,
    make_eval_detector,
    similarity_transform,
    warp_affine,
)
from idunlearn.reference_mtcnn import pyramid_scales, reference_similarity

pytest.importorskip("facenet_pytorch")  # the MTCNN weights ship in its wheel


@pytest.fixture(scope="module")
def alignment():
    return make_eval_alignment("reference")


@pytest.fixture(scope="module")
def face_512() -> np.ndarray:
    """The astronaut's face filling a 512 x 512 image, as in a close 512-px EG3D render:
    so close that the detector's boxes cross the border (the reference clips them)."""
    photo = Image.fromarray(pytest.importorskip("skimage.data").astronaut())
    return np.asarray(photo.crop((150, 30, 300, 180)).resize((512, 512), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, 512, 512, 3), dtype=np.uint8)


def as_images(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> [B, 3, H, W] in [-1, 1], as a generator renders them."""
    return torch.from_numpy(pixels.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1


# --- the reference's detector, one window, box and point at a time -----------------------


def slow_nms(boxes: list[list[float]], overlap: float, mode: str = "union") -> list[int]:
    """box_utils.nms: take the best left, drop every other with overlap > threshold."""
    left = [int(i) for i in np.argsort([box[4] for box in boxes])]  # increasing score
    picks = []
    while left:
        best = left.pop()
        picks.append(best)
        x1, y1, x2, y2 = boxes[best][:4]
        area = (x2 - x1 + 1) * (y2 - y1 + 1)
        kept = []
        for other in left:
            u1, v1, u2, v2 = boxes[other][:4]
            other_area = (u2 - u1 + 1) * (v2 - v1 + 1)
            inter_w = max(0.0, min(x2, u2) - max(x1, u1) + 1)
            inter = inter_w * max(0.0, min(y2, v2) - max(y1, v1) + 1)
            base = min(area, other_area) if mode == "min" else area + other_area - inter
            if inter / base <= overlap:
                kept.append(other)
        left = kept
    return picks


def slow_calibrate(box: list[float], offsets) -> list[float]:
    w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
    return [box[0] + offsets[0] * w, box[1] + offsets[1] * h] + [
        box[2] + offsets[2] * w,
        box[3] + offsets[3] * h,
        box[4],
    ]


def slow_square(box: list[float]) -> list[float]:
    """box_utils.convert_to_square, then the caller's np.round."""
    w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
    side = max(w, h)
    x1, y1 = box[0] + w / 2 - side / 2, box[1] + h / 2 - side / 2
    return [float(np.round(v)) for v in (x1, y1, x1 + side - 1, y1 + side - 1)] + [box[4]]


def slow_cutout(image: np.ndarray, box: list[float], size: int) -> np.ndarray:
    """box_utils.get_image_boxes for one box: row by row, zeros outside the image; and, as
    correct_bboxes writes through views of the boxes, the box clipped to the image."""
    x1, y1, x2, y2 = (int(v) for v in box[:4])
    canvas = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), dtype=np.uint8)
    cols = range(max(x1, 0), min(x2, image.shape[1] - 1) + 1)
    for row in range(max(y1, 0), min(y2, image.shape[0] - 1) + 1):
        canvas[row - y1, cols.start - x1 : cols.stop - x1] = image[row, cols.start : cols.stop]
    box[:4] = [max(box[0], 0), max(box[1], 0)] + [
        min(box[2], image.shape[1] - 1.0),
        min(box[3], image.shape[0] - 1.0),
    ]
    resized = np.asarray(Image.fromarray(canvas).resize((size, size), Image.BILINEAR), np.float32)
    return (resized.transpose(2, 0, 1) - 127.5) * 0.0078125


def slow_detect(nets, image: np.ndarray) -> tuple[list[list[float]], list[np.ndarray]]:
    """mtcnn.py detect_faces with thresholds (0.15, 0.25, 0.35), NMS 0.7, min face 20."""
    pnet, rnet, onet = nets
    height, width = image.shape[:2]
    m, length, scales = 12 / 20, min(height, width) * 12 / 20, []
    while length > 12:
        scales.append(m * 0.707 ** len(scales))
        length *= 0.707
    candidates = []
    for scale in scales:
        size = (math.ceil(width * scale), math.ceil(height * scale))
        pixels = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR), np.float32)
        x = torch.from_numpy((pixels.transpose(2, 0, 1)[None] - 127.5) * 0.0078125)
        with torch.no_grad():
            x = pnet.prelu1(pnet.conv1(x))
            x = pnet.prelu3(pnet.conv3(pnet.prelu2(pnet.conv2(pnet.pool1(x)))))
            logit = pnet.conv4_1(x)[0, 1]  # get_nets.py line 73: softmax over the width
            probs = (torch.exp(logit) / torch.exp(logit).sum(dim=1, keepdim=True)).numpy()
            offsets = pnet.conv4_2(x)[0].numpy()
        windows = []
        for i, j in zip(*np.nonzero(probs > 0.15), strict=True):
            corner = [np.round((2 * j + 1.0) / scale), np.round((2 * i + 1.0) / scale)]
            far = [np.round((2 * j + 13.0) / scale), np.round((2 * i + 13.0) / scale)]
            windows.append(corner + far + [probs[i, j]] + list(offsets[:, i, j]))
        candidates += [windows[k] for k in slow_nms(windows, 0.5)]
    if not candidates:
        return [], []
    boxes = [
        slow_square(slow_calibrate(candidates[k][:5], candidates[k][5:]))
        for k in slow_nms(candidates, 0.7)
    ]
    for net, size, threshold in ((rnet, 24, 0.25), (onet, 48, 0.35)):
        crops = torch.from_numpy(np.stack([slow_cutout(image, box, size) for box in boxes]))
        with torch.no_grad():
            out = [o.numpy() for o in net(crops)]  # facenet's order: offsets, (points,) probs
        passed = [k for k in range(len(boxes)) if out[-1][k, 1] > threshold]
        scored = [boxes[k][:4] + [float(out[-1][k, 1])] for k in passed]
        if net is rnet:
            picks = slow_nms(scored, 0.7)
            boxes = [slow_square(slow_calibrate(scored[k], out[0][passed[k]])) for k in picks]
            if not boxes:
                return [], []
    points = []
    for k, box in zip(passed, scored, strict=True):
        w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
        row = out[1][k]
        points.append(np.array([[box[0] + w * row[p], box[1] + h * row[p + 5]] for p in range(5)]))
    final = [slow_calibrate(box, out[0][k]) for k, box in zip(passed, scored, strict=True)]
    picks = slow_nms(final, 0.7, mode="min")
    return [final[k] for k in picks], [points[k] for k in picks]


@pytest.fixture(scope="module")
def nets():
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    return PNet().eval(), RNet().eval(), ONet().eval()


# --- the reference's crop: template -> landmarks in closed form, sampled pixel by pixel ----


def slow_crop(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """align_trans.warp_and_crop_face: the least-squares u = a x + b y + c, v = a y - b x + d
    from the template (x, y) to the landmarks (u, v) (float32 points), which is where
    cv2.warpAffine, given its inverse, samples each crop pixel (bilinear, zeros outside)."""
    xy = np.float32(ARCFACE_TEMPLATE_112).astype(np.float64)
    uv = np.float32(landmarks).astype(np.float64)
    (x, y), (u, v) = (xy - xy.mean(0)).T, (uv - uv.mean(0)).T
    norm = (x * x + y * y).sum()
    a, b = (x * u + y * v).sum() / norm, (y * u - x * v).sum() / norm
    c = uv[:, 0].mean() - a * xy[:, 0].mean() - b * xy[:, 1].mean()
    d = uv[:, 1].mean() + b * xy[:, 0].mean() - a * xy[:, 1].mean()
    padded = np.pad(image.astype(np.float64), ((1, 2), (1, 2), (0, 0)))  # zeros outside
    crop = np.zeros((112, 112, 3))
    for row in range(112):
        for col in range(112):
            su, sv = a * col + b * row + c, -b * col + a * row + d
            if not (-1 < su < image.shape[1] and -1 < sv < image.shape[0]):
                continue
            j, i = math.floor(su), math.floor(sv)
            fu, fv = su - j, sv - i
            block = padded[i + 1 : i + 3, j + 1 : j + 3]
            crop[row, col] = (
                block[0, 0] * (1 - fu) * (1 - fv)
                + block[0, 1] * fu * (1 - fv)
                + block[1, 0] * (1 - fu) * fv
                + block[1, 1] * fu * fv
            )
    return crop


def grey_levels(crops: torch.Tensor) -> np.ndarray:
    return ((crops + 1) * 127.5).permute(0, 2, 3, 1).numpy()


# --- tests ---------------------------------------------------------------------------------


def test_the_pyramid_stops_above_12_px_as_the_reference():
    # 512 * 0.6 = 307.2 px, times 0.707 per level while above 12: ten levels
    assert pyramid_scales(512, 512) == pytest.approx([0.6 * 0.707**k for k in range(10)])
    assert len(pyramid_scales(100, 700)) == 5  # the shorter side counts: 60 * 0.707^5 < 12


def test_the_landmarks_of_a_face_are_the_reference_arithmetics(alignment, nets, face_512):
    boxes, points = slow_detect(nets, face_512)
    assert boxes, "the transcription finds the face"
    (face,) = detect_faces(alignment.detector, face_512[None])
    assert face is not None
    # to float precision: facenet's -1 shift of the landmarks, say, is caught
    assert np.abs(face.landmarks - points[0]).max() < 0.1
    assert np.abs(face.box - np.array(boxes[0][:4])).max() < 0.1
    # facenet-pytorch's arithmetic (the `facenet` option) puts them elsewhere
    (other,) = detect_faces(make_eval_detector(), face_512[None])
    assert np.abs(other.landmarks - face.landmarks).max() > 2.0


def test_noise_holds_no_face_for_the_reference_and_its_views_count_as_misses(
    alignment, nets, noise
):
    assert all(slow_detect(nets, image) == ([], []) for image in noise)
    assert detect_faces(alignment.detector, noise) == [None] * len(noise)
    crops, found = align_arcface(as_images(noise), alignment.detector, alignment.fit)
    assert not found.any()  # counted in no_face, and gated by evaluation.max_no_face_share
    fixed = warp_affine(as_images(noise) + 1, np.stack([loss_crop_matrix(512, 512, 112)] * 4), 112)
    assert torch.allclose(crops, fixed - 1)
    # facenet-pytorch's arithmetic, same thresholds, calls some of the noise a face
    assert any(face is not None for face in detect_faces(make_eval_detector(), noise))


def test_the_crop_of_a_face_is_the_references_to_a_few_grey_levels(alignment, face_512):
    (face,) = detect_faces(alignment.detector, face_512[None])
    crops, found = align_arcface(as_images(face_512[None]), alignment.detector, alignment.fit)
    assert found.tolist() == [True]
    difference = np.abs(grey_levels(crops)[0] - slow_crop(face_512, face.landmarks))
    assert difference.max() < 3 and difference.mean() < 0.5
    # the landmarks -> template fit (the `facenet` option's) zooms in and misses by far more
    zoomed = align_arcface(as_images(face_512[None]), alignment.detector, similarity_transform)[0]
    assert np.abs(grey_levels(zoomed)[0] - slow_crop(face_512, face.landmarks)).mean() > 3


def test_the_reference_fit_is_the_inverse_of_template_to_landmarks():
    angle, scale, shift = 0.2, 4.0, np.array([200.0, 150.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = ARCFACE_TEMPLATE_112 @ (scale * rotation).T + shift
    matrix = reference_similarity(landmarks, ARCFACE_TEMPLATE_112)
    back = landmarks @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(back - ARCFACE_TEMPLATE_112).max() < 1e-3  # float32 points
    # the reference scores its reflected fit against a template it flipped in place: a face
    # whose left and right landmarks are swapped gets the reflected transform
    swapped = reference_similarity(landmarks[[1, 0, 2, 4, 3]], ARCFACE_TEMPLATE_112)
    assert np.linalg.det(swapped[:, :2]) < 0


def test_the_facenet_option_keeps_facenet_pytorchs_detector_and_fit():
    facenet = make_eval_alignment("facenet")
    assert facenet.fit is similarity_transform and facenet.detector.thresholds == [0.15, 0.25, 0.35]
    with pytest.raises(ValueError, match="reference"):
        make_eval_alignment("mtcnn")


@pytest.mark.parametrize(
    ("detector", "fit"),
    [
        ("reference", reference_similarity),
        ("facenet", similarity_transform),
        (None, similarity_transform),  # a spec written before the key: what it was run with
    ],
)
def test_the_network_spec_picks_the_evaluation_detector(tmp_path, monkeypatch, detector, fit):
    monkeypatch.setattr("idunlearn.nets.irse.load_backbone", lambda *_: torch.nn.Identity())
    spec = str(tmp_path / "identity_eval.json")
    write_spec(spec, "identity", "curricularface", None, None, detector=detector)
    assert load_embedder(spec).align.keywords["fit"] is fit
