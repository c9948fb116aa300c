"""Face detection and alignment with facenet-pytorch's MTCNN (weights ship in its wheel;
the package is imported only when a detector is made).

The alignments use the same five MTCNN landmarks (left eye, right eye, nose, left and
right mouth corner, left meaning image-left):
- FFHQ-style crops of in-the-wild photos (the oriented quad of the FFHQ dataset script,
  computed from the eye centres and mouth corners that dlib gave there);
- EG3D-style crops (EG3D's in-the-wild preprocessing: a 3D mean-face fit, no rotation),
  the framing of EG3D's re-cropped FFHQ that its generator and GOAE were trained on;
- 112 x 112 ArcFace crops for the evaluation network (a similarity transform onto the
  standard ArcFace template). The evaluation's detector and fit are either GUIDE's own
  (`idunlearn.reference_mtcnn`, the arithmetic behind the paper's ID numbers) or
  facenet-pytorch's MTCNN with a least-squares fit of the landmarks onto the template
  (`EVAL_DETECTORS`).

Coordinates are pixel-index coordinates: pixel (i, j) has its centre at x = j, y = i.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.ndimage import gaussian_filter

from idunlearn.io import ArtefactError, UserError, atomic_path

if TYPE_CHECKING:  # facenet-pytorch is imported where a detector is made (faces env only)
    from facenet_pytorch import MTCNN

    from idunlearn.reference_mtcnn import ReferenceMTCNN

    Detector: TypeAlias = MTCNN | ReferenceMTCNN  # both answer facenet's `detect`

# the 5-point template of a 112 x 112 ArcFace crop (96 x 112 template shifted 8 px right)
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
# rows 35:223, columns 32:220 of a 256 FFHQ-aligned image: the face, as GUIDE's ID loss crops it
FFHQ_FACE_BOX_256 = (35, 223, 32, 220)
# Deep3DFaceRecon's five landmarks of the BFM mean face (x right, y up), which EG3D's
# in-the-wild preprocessing fits to the MTCNN landmarks
MEAN_FACE_LANDMARKS_3D = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],
        [0.30979887, 0.28972036, 0.13179526],
        [0.0032535, -0.04617932, 0.55244243],
        [-0.25216928, -0.38133916, 0.22405732],
        [0.2484662, -0.38128236, 0.22235769],
    ]
)
CROPS = ("ffhq", "eg3d")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class FaceNotFoundError(ArtefactError):
    """MTCNN found no face in an image that must contain one."""


# GUIDE's ID metric (id_sim.py via guide/mtcnn, TreB1eN's MTCNN): lenient stage thresholds,
# min face 20, pyramid factor 0.707; facenet-pytorch's NMS (0.5 per scale, then 0.7, 0.7 and
# 0.7 'Min') equals that code's nms_thresholds [0.7, 0.7, 0.7].
EVAL_THRESHOLDS = (0.15, 0.25, 0.35)
EVAL_MIN_FACE = 20
EVAL_FACTOR = 0.707
# the evaluation's detector and fit (config real.eval_detector, recorded in the network spec):
# reference = GUIDE's MTCNN arithmetic and cp2tform fit (what evaluate_id.py computes);
# facenet = facenet-pytorch's MTCNN with the thresholds above and a landmarks -> template fit
EVAL_DETECTORS = ("reference", "facenet")
Fit = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (landmarks, template) -> [2, 3]


def make_detector(device: str | torch.device = "cpu") -> MTCNN:
    """MTCNN for photos that must hold a face (alignment of in-the-wild images): strict stage
    thresholds (0.6, 0.7, 0.8), so that no false face is aligned; the most probable face is
    listed first."""
    from facenet_pytorch import MTCNN

    return MTCNN(thresholds=[0.6, 0.7, 0.8], select_largest=False, device=device).eval()


def make_eval_detector(device: str | torch.device = "cpu") -> MTCNN:
    """facenet-pytorch's MTCNN with the thresholds, min face and pyramid factor of GUIDE's ID
    metric (not its arithmetic: `idunlearn.reference_mtcnn` has that); the most probable
    face is listed first."""
    from facenet_pytorch import MTCNN

    return MTCNN(
        thresholds=list(EVAL_THRESHOLDS),
        min_face_size=EVAL_MIN_FACE,
        factor=EVAL_FACTOR,
        select_largest=False,
        device=device,
    ).eval()


class EvalAlignment(NamedTuple):
    """How the evaluation finds the five landmarks and fits the template to them."""

    detector: Detector
    fit: Fit


def make_eval_alignment(name: str, device: str | torch.device = "cpu") -> EvalAlignment:
    """The evaluation's detector and similarity fit by name (`EVAL_DETECTORS`)."""
    if name == "reference":
        from idunlearn.reference_mtcnn import ReferenceMTCNN, reference_similarity

        return EvalAlignment(ReferenceMTCNN(device), reference_similarity)
    if name == "facenet":
        return EvalAlignment(make_eval_detector(device), similarity_transform)
    raise ValueError(f"evaluation detector must be one of {EVAL_DETECTORS}, got {name!r}")


class Face(NamedTuple):
    box: np.ndarray  # [4]: left, top, right, bottom
    landmarks: np.ndarray  # [5, 2]


def detect_faces(detector: Detector, images: np.ndarray) -> list[Face | None]:
    """The most probable face of each uint8 image [B, H, W, 3], or None where there is none."""
    boxes, _, points = detector.detect(images, landmarks=True)
    return [
        None if b is None else Face(np.asarray(b[0], np.float64), np.asarray(p[0], np.float64))
        for b, p in zip(boxes, points, strict=True)
    ]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] uint8, as a saved PNG would hold it."""
    scaled = (images.detach().clamp(-1, 1) + 1) * 127.5
    return scaled.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift [2, 3] taking points src onto dst
    (Umeyama, reflections excluded)."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / src_c.var(0).sum()
    shift = dst_mean - scale * rotation @ src_mean
    return np.concatenate([scale * rotation, shift[:, None]], axis=1)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_affine(images: torch.Tensor, matrices: np.ndarray, size: int) -> torch.Tensor:
    """Resample [B, C, H, W] so that source point p lands at matrices[b] @ [p, 1] in a
    size x size output (bilinear, zeros outside the source)."""
    batch, _, height, width = images.shape
    full = np.concatenate([matrices, np.tile([[[0.0, 0.0, 1.0]]], (batch, 1, 1))], axis=1)
    inverse = torch.as_tensor(np.linalg.inv(full)[:, :2], dtype=images.dtype)
    axis = torch.arange(size, dtype=images.dtype)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    out_points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)
    src = torch.einsum("bij,nj->bni", inverse, out_points)  # [B, size*size, 2]
    extent = torch.tensor([width, height], dtype=images.dtype)
    grid = ((src + 0.5) / extent * 2 - 1).reshape(batch, size, size, 2)
    return F.grid_sample(
        images, grid.to(images.device), mode="bilinear", padding_mode="zeros", align_corners=False
    )


def crop_matrix(left: float, top: float, width: float, height: float, size: int) -> np.ndarray:
    """The affine [2, 3] that maps the box (edges at left, top, left+width, top+height) onto a
    size x size output."""
    sx, sy = size / width, size / height
    return np.array([[sx, 0.0, sx * (0.5 - left) - 0.5], [0.0, sy, sy * (0.5 - top) - 0.5]])


def loss_crop_matrix(height: int, width: int, size: int) -> np.ndarray:
    """The fixed face box of GUIDE's ID loss (FFHQ_FACE_BOX_256, scaled to the image) onto
    size x size: where the face of an FFHQ-aligned image is when no detector says so."""
    top, bottom, left, right = FFHQ_FACE_BOX_256
    sy, sx = height / 256, width / 256
    return crop_matrix(left * sx, top * sy, (right - left) * sx, (bottom - top) * sy, size)


def align_arcface(
    images: torch.Tensor, detector: Detector, fit: Fit = similarity_transform
) -> tuple[torch.Tensor, torch.Tensor]:
    """112 x 112 ArcFace crops [B, 3, 112, 112] of images in [-1, 1], and which had a face;
    `fit` maps (landmarks, template) to the crop's [2, 3] transform.

    Detection sees the 8-bit image (the reference detects on saved PNGs); the warp samples
    the float image. An image without a detected face (an unlearned generator may render
    none) gets the fixed FFHQ face box instead of being dropped; the caller counts these.
    """
    faces = detect_faces(detector, to_uint8(images))
    fallback = loss_crop_matrix(images.shape[2], images.shape[3], 112)
    matrices = [
        fallback if face is None else fit(face.landmarks, ARCFACE_TEMPLATE_112) for face in faces
    ]
    return _warp_crops(images, matrices, 112), _found(faces)


def align_box(
    images: torch.Tensor, detector: MTCNN, size: int = 160
) -> tuple[torch.Tensor, torch.Tensor]:
    """facenet-style crops [B, 3, size, size] of images in [-1, 1], and which had a face: the
    MTCNN box cut as facenet-pytorch's `extract_face` cuts it with no margin (edges truncated
    to whole pixels inside the image), stretched to size x size (bilinear on the float image).
    A miss gets the fixed FFHQ face box; the caller counts these."""
    height, width = images.shape[2], images.shape[3]
    fallback = loss_crop_matrix(height, width, size)
    faces = detect_faces(detector, to_uint8(images))
    matrices = [
        fallback if face is None else box_matrix(face.box, size, width, height) for face in faces
    ]
    return _warp_crops(images, matrices, size), _found(faces)


def box_matrix(box: np.ndarray, size: int, width: int, height: int) -> np.ndarray:
    """`extract_face`'s crop (margin 0) of a width x height image onto size x size."""
    left, top = int(max(box[0], 0)), int(max(box[1], 0))
    right, bottom = int(min(box[2], width)), int(min(box[3], height))
    return crop_matrix(left, top, right - left, bottom - top, size)


def _warp_crops(images: torch.Tensor, matrices: list[np.ndarray], size: int) -> torch.Tensor:
    # shifted to [0, 2] so that the zero border is black, as cv2.warpAffine's in the reference
    return warp_affine(images.detach().clamp(-1, 1) + 1, np.stack(matrices), size) - 1


def _found(faces: list[Face | None]) -> torch.Tensor:
    return torch.tensor([face is not None for face in faces])


# --- FFHQ-style alignment of in-the-wild photos -------------------------------------------


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ crop [4, 2] (upper-left, lower-left, lower-right, upper-right corner):
    an oriented square around the eyes and mouth, as the FFHQ dataset script defines it."""
    eye_left, eye_right, _, mouth_left, mouth_right = landmarks
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (mouth_left + mouth_right) / 2 - eye_avg
    # x: the eye line, tilted by the eye-mouth axis; its length sets the crop size
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8) / np.hypot(*x)
    y = np.array([-x[1], x[0]])
    center = eye_avg + eye_to_mouth * 0.1
    return np.stack([center - x - y, center - x + y, center + x + y, center + x - y])


def quad_matrix(quad: np.ndarray, size: int) -> np.ndarray:
    """The similarity [2, 3] that maps the quad onto a size x size output: corner quad[0] to
    the output's outer upper-left corner, quad[3] to its upper-right one."""
    axes = np.stack([quad[3] - quad[0], quad[1] - quad[0]])  # the square's x and y edges
    linear = axes * (size / np.hypot(*axes[0]) ** 2)
    return np.concatenate([linear, (-linear @ quad[0] - 0.5)[:, None]], axis=1)


def _reflect_pad(image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror the photo where the crop leaves it, fading the mirrored band to a blur and to the
    median colour (as the FFHQ script does) so that no hard copy of the face appears."""
    qsize = np.hypot(*(quad[3] - quad[0]))
    border = max(int(np.rint(qsize * 0.1)), 3)
    height, width = image.shape[:2]
    low = np.floor(quad.min(0)).astype(int) - border
    high = np.ceil(quad.max(0)).astype(int) + border
    left, top = max(-low[0], 0), max(-low[1], 0)
    right, bottom = max(high[0] - width, 0), max(high[1] - height, 0)
    if not (left or top or right or bottom):
        return image, quad
    padded = np.pad(image, ((top, bottom), (left, right), (0, 0)), mode="reflect")
    ys, xs = np.ogrid[: padded.shape[0], : padded.shape[1]]
    outside_x = np.maximum(left - xs, xs - (left + width - 1)).clip(0) / max(left, right, 1)
    outside_y = np.maximum(top - ys, ys - (top + height - 1)).clip(0) / max(top, bottom, 1)
    weight = np.maximum(outside_x, outside_y)[..., None].clip(0, 1)
    blur = gaussian_filter(padded, [qsize * 0.02, qsize * 0.02, 0])
    padded = padded + (blur - padded) * (3 * weight).clip(0, 1)
    padded = padded + (np.median(padded, axis=(0, 1)) - padded) * weight
    return padded, quad + [left, top]


def align_ffhq(image: Image.Image, landmarks: np.ndarray, resolution: int) -> Image.Image:
    """The FFHQ crop of `image` at resolution x resolution."""
    quad = ffhq_quad(landmarks)
    shrink = int(np.hypot(*(quad[3] - quad[0])) / resolution / 2)
    if shrink > 1:  # box-filter big photos first so that the final sampling stays bounded
        image = image.reduce(shrink)
        quad = (quad + 0.5) / shrink - 0.5
    pixels, quad = _reflect_pad(np.asarray(image, dtype=np.float32), quad)
    qsize = np.hypot(*(quad[3] - quad[0]))
    supersample = max(1, int(np.ceil(qsize / resolution)))
    source = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None]
    size = resolution * supersample
    warped = warp_affine(source, quad_matrix(quad, size)[None], size)
    warped = F.interpolate(warped, size=resolution, mode="area")
    return Image.fromarray(warped[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy())


# --- EG3D-style crop (dataset_preprocessing/ffhq/crop_images_in_the_wild.py) ---------------


def eg3d_box(landmarks: np.ndarray, width: int, height: int) -> tuple[float, ...]:
    """EG3D's in-the-wild crop as a box (left, top, right, bottom; pixel edges) of the photo.

    EG3D fits the mean face's 3D landmarks to the five 2D ones (weak perspective, least
    squares: scale s and shift t), scales the photo by 300 / s, cuts 1024 x 1024 around t
    and keeps the central 700 x 700; no rotation. The same integer roundings are kept.
    """
    up = np.stack([landmarks[:, 0], height - 1 - landmarks[:, 1]], axis=1)
    design = np.zeros((10, 8))
    design[0::2, :3] = design[1::2, 4:7] = MEAN_FACE_LANDMARKS_3D
    design[0::2, 3] = design[1::2, 7] = 1
    k = np.linalg.lstsq(design, up.reshape(-1), rcond=None)[0]
    scale = 300 / ((np.linalg.norm(k[:3]) + np.linalg.norm(k[4:7])) / 2)
    tx, ty = k[3], k[7]
    w, h = int(width * scale), int(height * scale)
    left = int(w / 2 - 512 + (tx - width / 2) * scale) + 162
    top = int(h / 2 - 512 + (height / 2 - ty) * scale) + 162
    sx, sy = w / width, h / height
    return left / sx, top / sy, (left + 700) / sx, (top + 700) / sy


def align_eg3d(image: Image.Image, landmarks: np.ndarray, resolution: int) -> Image.Image:
    """EG3D's crop of `image` at resolution x resolution; black where it leaves the photo."""
    left, top, right, bottom = eg3d_box(landmarks, *image.size)
    pad_x = int(np.ceil(max(-left, right - image.size[0], 0)))
    pad_y = int(np.ceil(max(-top, bottom - image.size[1], 0)))
    if pad_x or pad_y:
        canvas = Image.new("RGB", (image.size[0] + 2 * pad_x, image.size[1] + 2 * pad_y))
        canvas.paste(image, (pad_x, pad_y))
        image, left, top, right, bottom = (
            canvas,
            left + pad_x,
            top + pad_y,
            right + pad_x,
            bottom + pad_y,
        )
    box = (left, top, right, bottom)
    return image.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box)


def resize_aligned(image: Image.Image, resolution: int, name: str = "image") -> Image.Image:
    """An image that is already FFHQ-aligned (FFHQ, CelebAHQ) at resolution x resolution;
    `name` (its file) is what an error names."""
    image = image.convert("RGB")
    if image.size[0] != image.size[1]:
        width, height = image.size
        raise ArtefactError(f"{name}: an aligned image must be square, got {width}x{height}")
    if image.size[0] == resolution:
        return image
    return image.resize((resolution, resolution), Image.Resampling.LANCZOS)


def align_image(
    image: Image.Image, resolution: int, detector: MTCNN, name: str = "image", crop: str = "ffhq"
) -> Image.Image:
    """Detect the most probable face of an in-the-wild photo and return its FFHQ crop (the
    FFHQ dataset's framing) or its EG3D crop (EG3D's re-cropped FFHQ, which GOAE expects)."""
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    rgb = image.convert("RGB")
    (face,) = detect_faces(detector, np.asarray(rgb)[None])
    if face is None:
        raise FaceNotFoundError(f"no face found in {name}")
    align = align_ffhq if crop == "ffhq" else align_eg3d
    return align(rgb, face.landmarks, resolution)


def align_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    resolution: int,
    already_aligned: bool = False,
    detector: MTCNN | None = None,
    crop: str = "ffhq",
) -> None:
    """Align one image file (EXIF orientation applied) and write it, atomically, as PNG."""
    try:
        opened = Image.open(src)
    except UnidentifiedImageError as err:
        raise ArtefactError(f"not an image file: {src}") from err
    with opened:
        image = ImageOps.exif_transpose(opened)
        if already_aligned:
            result = resize_aligned(image, resolution, str(src))
        else:
            detector = detector or make_detector()
            result = align_image(image, resolution, detector, str(src), crop)
    with atomic_path(dst) as tmp:
        result.save(tmp, format="PNG")


def align_path(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    resolution: int,
    already_aligned: bool = False,
    crop: str = "ffhq",
) -> list[Path]:
    """Align one image file, or every image of a directory, into out_dir as <stem>.png."""
    src = Path(src)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ArtefactError(f"no images in {src}")
    elif src.is_file():
        files = [src]
    else:
        raise ArtefactError(f"missing file: {src}")
    outputs = [Path(out_dir) / f"{path.stem}.png" for path in files]
    if len(set(outputs)) < len(outputs):
        raise UserError(f"two images in {src} share a name stem; each becomes <stem>.png")
    detector = None if already_aligned else make_detector()
    for path, out in zip(files, outputs, strict=True):
        align_file(path, out, resolution, already_aligned, detector, crop)
    return outputs
