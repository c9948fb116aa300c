"""The face detector and the similarity fit of GUIDE's ID metric (KU-VGI/GUIDE at 8c20348,
`evaluate_id.py` -> `id_sim.py` -> `mtcnn/`), written anew on facenet-pytorch's MTCNN
networks, whose weights are the reference's (its R- and O-Net dense layers stored in
facenet's flatten order).

The paper's ID numbers come out of that code, and its arithmetic is not facenet-pytorch's:
- P-Net's face probability is a softmax over the image width, not over the two classes
  (GUIDE's mtcnn/mtcnn_pytorch/src/get_nets.py line 73: `F.softmax(a, dim=-1)` on
  [1, 2, H, W]): a window passes only where its logit stands out in its row of the map;
- the pyramid resizes with PIL's bilinear filter to ceil(w * s) and stops at
  min_length <= 12 (mtcnn.py, first_stage.py);
- boxes: rounded P-Net windows, +1 widths, '>' overlaps, zero-padded cut-outs resized by
  PIL, rounded squares (box_utils.py), clipped to the image once cut out (`clip_boxes`);
  landmarks are not shifted by -1;
- the crop fits template -> landmarks by least squares and inverts it
  (matlab_cp2tform.py lines 68-116), where facenet-based code fits landmarks -> template.

`ReferenceMTCNN.detect` answers as facenet-pytorch's `MTCNN.detect` does, so that
`idunlearn.faces` takes either.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

# mtcnn/mtcnn.py `detect_faces`: min face 20, thresholds, NMS overlaps, pyramid factor
MIN_FACE = 20.0
THRESHOLDS = (0.15, 0.25, 0.35)
NMS_OVERLAPS = (0.7, 0.7, 0.7)
FACTOR = 0.707
CELL, STRIDE = 12, 2  # P-Net's window and stride in the scaled image

Detection = tuple[list[np.ndarray | None], list[np.ndarray | None], list[np.ndarray | None]]


def pyramid_scales(height: int, width: int, min_face: float = MIN_FACE) -> list[float]:
    """Scales of the image pyramid: down to a shorter side of 12 px, exclusive."""
    m = 12 / min_face
    length = min(height, width) * m
    scales = []
    while length > 12:
        scales.append(m * FACTOR ** len(scales))
        length *= FACTOR
    return scales


def nms(boxes: np.ndarray, overlap: float, mode: str = "union") -> np.ndarray:
    """Greedy NMS with +1 pixel areas; indices in decreasing score order (ties as numpy's
    argsort orders them, as the reference's box_utils.nms)."""
    x1, y1, x2, y2, score = boxes[:, :5].T
    area = (x2 - x1 + 1.0) * (y2 - y1 + 1.0)
    kept = np.zeros(len(boxes), dtype=bool)
    picks = []
    for i in np.argsort(score)[::-1]:
        if kept[i]:
            continue
        picks.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2) - np.maximum(x1[i], x1) + 1.0)
        h = np.maximum(0.0, np.minimum(y2[i], y2) - np.maximum(y1[i], y1) + 1.0)
        inter = w * h
        base = np.minimum(area[i], area) if mode == "min" else area[i] + area - inter
        kept |= inter / base > overlap
    return np.array(picks, dtype=np.int64)


def calibrate(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by the network's offsets, in units of their +1 widths."""
    out = boxes.copy()
    w = out[:, 2] - out[:, 0] + 1.0
    h = out[:, 3] - out[:, 1] + 1.0
    out[:, :4] += np.stack([w, h, w, h], axis=1) * offsets
    return out


def rounded_squares(boxes: np.ndarray) -> np.ndarray:
    """Each box as the square of its larger +1 side around its centre, corners rounded."""
    out = np.zeros_like(boxes)
    w = boxes[:, 2] - boxes[:, 0] + 1.0
    h = boxes[:, 3] - boxes[:, 1] + 1.0
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side - 1.0
    out[:, 3] = out[:, 1] + side - 1.0
    out[:, :4] = np.round(out[:, :4])
    out[:, 4] = boxes[:, 4]
    return out


def _preprocess(pixels: np.ndarray) -> torch.Tensor:
    """[N, H, W, 3] float32 -> the networks' [N, 3, H, W] input."""
    return torch.from_numpy((pixels - 127.5) * 0.0078125).permute(0, 3, 1, 2).contiguous()


def cutouts(image: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """The boxes' pixels (zeros outside the image), each resized to size x size by PIL's
    bilinear filter, preprocessed (box_utils.get_image_boxes)."""
    height, width = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int32)):
        canvas = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3), dtype=np.uint8)
        top, left = max(y1, 0), max(x1, 0)
        bottom, right = min(y2, height - 1), min(x2, width - 1)
        if bottom >= top and right >= left:  # else the box lies outside: all zeros
            canvas[top - y1 : bottom - y1 + 1, left - x1 : right - x1 + 1] = image[
                top : bottom + 1, left : right + 1
            ]
        resized = Image.fromarray(canvas).resize((size, size), Image.Resampling.BILINEAR)
        out[k] = np.asarray(resized, dtype=np.float32)
    return _preprocess(out)


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boxes clipped to the image. The reference does it as a side effect of cutting them
    out: box_utils.py correct_bboxes (lines 184-213) writes the clipped corners through
    views of its argument, so that R- and O-Net's offsets, and the landmarks, apply to the
    clipped box, not the square one that was cut out."""
    out = boxes.copy()
    out[:, 0:2] = np.maximum(out[:, 0:2], 0.0)
    out[:, 2] = np.minimum(out[:, 2], width - 1.0)
    out[:, 3] = np.minimum(out[:, 3], height - 1.0)
    return out


class ReferenceMTCNN:
    """GUIDE's ID-metric MTCNN (its thresholds, NMS and arithmetic) on facenet-pytorch's
    networks, one image at a time as the reference runs it."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

        self.device = torch.device(device)
        nets = (net().to(self.device).eval() for net in (PNet, RNet, ONet))
        self.pnet, self.rnet, self.onet = nets
        # the reference's P-Net normalises the face logit over the width (see the module doc)
        self.pnet.softmax4_1 = torch.nn.Softmax(dim=-1)

    @torch.no_grad()
    def _run(self, net: torch.nn.Module, batch: torch.Tensor) -> list[np.ndarray]:
        return [out.cpu().numpy() for out in net(batch.to(self.device))]

    def first_stage(self, image: np.ndarray) -> np.ndarray:
        """P-Net windows over the pyramid: [N, 9] (box, score, offsets), NMS per scale."""
        height, width = image.shape[:2]
        picture = Image.fromarray(image)
        found = []
        for scale in pyramid_scales(height, width):
            size = (math.ceil(width * scale), math.ceil(height * scale))
            pixels = np.asarray(picture.resize(size, Image.Resampling.BILINEAR), np.float32)
            offsets, probs = self._run(self.pnet, _preprocess(pixels[None]))
            rows, cols = np.nonzero(probs[0, 1] > THRESHOLDS[0])
            if len(rows) == 0:
                continue
            corner = np.stack([cols, rows], axis=1) * STRIDE + 1.0
            boxes = np.concatenate(
                [
                    np.round(corner / scale),
                    np.round((corner + CELL) / scale),
                    probs[0, 1, rows, cols, None],
                    offsets[0][:, rows, cols].T,
                ],
                axis=1,
            )
            found.append(boxes[nms(boxes, 0.5)])
        return np.concatenate(found) if found else np.zeros((0, 9))

    def detect_one(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes with scores [N, 5] and landmarks [N, 5, 2] of one uint8 image [H, W, 3],
        most probable first (mtcnn.py `detect_faces`)."""
        none = np.zeros((0, 5)), np.zeros((0, 5, 2))
        boxes = self.first_stage(image)
        if len(boxes) == 0:  # where the reference crashes (np.vstack of nothing)
            return none
        boxes = boxes[nms(boxes, NMS_OVERLAPS[0])]
        boxes = rounded_squares(calibrate(boxes[:, :5], boxes[:, 5:]))

        offsets, probs = self._run(self.rnet, cutouts(image, boxes, 24))
        boxes = clip_boxes(boxes, *image.shape[:2])
        keep = probs[:, 1] > THRESHOLDS[1]
        boxes, offsets = boxes[keep], offsets[keep]
        boxes[:, 4] = probs[keep, 1]
        keep = nms(boxes, NMS_OVERLAPS[1])
        boxes = rounded_squares(calibrate(boxes[keep], offsets[keep]))
        if len(boxes) == 0:
            return none

        offsets, points, probs = self._run(self.onet, cutouts(image, boxes, 48))
        boxes = clip_boxes(boxes, *image.shape[:2])
        keep = probs[:, 1] > THRESHOLDS[2]
        boxes, offsets, points = boxes[keep], offsets[keep], points[keep]
        boxes[:, 4] = probs[keep, 1]
        size = boxes[:, 2:4] - boxes[:, 0:2] + 1.0  # [N, 2]: +1 width and height
        points = points.reshape(-1, 2, 5).transpose(0, 2, 1)  # [N, 5, 2], in the clipped box
        landmarks = boxes[:, None, 0:2] + size[:, None] * points
        boxes = calibrate(boxes, offsets)
        keep = nms(boxes, NMS_OVERLAPS[2], mode="min")
        return boxes[keep], landmarks[keep]

    def detect(self, images: np.ndarray, landmarks: bool = True) -> Detection:
        """facenet-pytorch's `MTCNN.detect` answer for uint8 images [B, H, W, 3]: per image
        boxes [N, 4], probabilities [N] and landmarks [N, 5, 2], or None where none."""
        del landmarks  # always given, as facenet's detect(landmarks=True)
        result: Detection = ([], [], [])
        for image in images:
            boxes, points = self.detect_one(np.ascontiguousarray(image))
            found = len(boxes) > 0
            result[0].append(boxes[:, :4] if found else None)
            result[1].append(boxes[:, 4] if found else None)
            result[2].append(points if found else None)
        return result


def reference_similarity(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The [2, 3] similarity that takes the landmarks onto the template as the reference
    finds it (matlab_cp2tform.py get_similarity_transform_for_cv2, float32 points): the
    least-squares similarity template -> landmarks, inverted.

    The reference also fits a reflected transform and keeps it where it fits better; but it
    flips the template in place before comparing (matlab_cp2tform.py line 132), so both fits
    are scored against the mirrored template. That comparison is reproduced here too.
    """
    uv = np.float32(landmarks).astype(np.float64)
    xy = np.float32(template).astype(np.float64)
    direct = _inverse_fit(uv, xy)
    mirror = np.diag([-1.0, 1.0])
    reflected = mirror @ _inverse_fit(uv, xy @ mirror)  # x of its output flipped back
    targets = xy @ mirror  # the in-place flip: both are compared to the mirrored template
    norms = [np.linalg.norm(uv @ t[:, :2].T + t[:, 2] - targets) for t in (direct, reflected)]
    return direct if norms[0] <= norms[1] else reflected


def _inverse_fit(uv: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Least squares u = a x + b y + c, v = a y - b x + d (points xy -> uv), inverted: the
    [2, 3] map uv -> xy (matlab_cp2tform.py findNonreflectiveSimilarity)."""
    x, y = xy[:, 0], xy[:, 1]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate(
        [np.stack([x, y, ones, zeros], axis=1), np.stack([y, -x, zeros, ones], axis=1)]
    )
    a, b, c, d = np.linalg.lstsq(design, np.concatenate([uv[:, 0], uv[:, 1]]), rcond=None)[0]
    forward = np.array([[a, b, c], [-b, a, d], [0.0, 0.0, 1.0]])  # xy -> uv
    return np.linalg.inv(forward)[:2]
