"""Face-recognition embedders of the real setting: images [B, 3, H, W] in [-1, 1] -> unit-norm
embeddings [B, D].

- `arcface_loss_embedder`: GUIDE's ID loss (ArcFace IR-SE50 on a fixed crop; differentiable).
- `curricularface_embedder`: GUIDE's evaluation (MTCNN 5-point alignment, CurricularFace IR-101).
- `facenet_embedder`: facenet-pytorch's VGGFace2 InceptionResnetV1 on the crops of
  facenet-pytorch's own MTCNN (its default settings, not GUIDE's): a second evaluator with
  its own network, detector and crop, whose misses are counted and gated on their own.

The evaluation embedders never drop an image: where MTCNN finds no face (an unlearned
generator may well render none; the reference evaluation crashes on it) the image
is cropped at the fixed FFHQ face box and counted in `no_face`, so a report can say how many
scores rest on such crops.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.faces import FFHQ_FACE_BOX_256, EvalAlignment, align_arcface, align_box
from idunlearn.io import ArtefactError

if TYPE_CHECKING:  # facenet-pytorch is needed by the evaluators only, not by the ID loss
    from facenet_pytorch import MTCNN

Embedder = Callable[[torch.Tensor], torch.Tensor]
Aligner = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class ArcFaceLossEmbedder(nn.Module):
    """GUIDE's ID-loss features: bilinear resize to 256, crop rows 35:223 and columns 32:220,
    average-pool to 112, backbone, L2-normalise. Gradients flow to the images; the backbone
    is frozen. A module, so that `.to(device)` moves the backbone with it."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        top, bottom, left, right = FFHQ_FACE_BOX_256
        x = F.interpolate(images, size=(256, 256), mode="bilinear", align_corners=False)
        x = F.adaptive_avg_pool2d(x[:, :, top:bottom, left:right], 112)
        return F.normalize(self.backbone(x), dim=1)


def arcface_loss_embedder(backbone: nn.Module) -> ArcFaceLossEmbedder:
    return ArcFaceLossEmbedder(backbone)


class AlignedEmbedder:
    """An evaluation embedder: align (detector), embed, L2-normalise, under no_grad. The
    crops go to the network's device, so images may come from any device.

    `images` and `no_face` count, over all calls, the images seen and those where the
    detector found no face and the fixed crop was used instead.
    """

    def __init__(self, align: Aligner, network: nn.Module) -> None:
        self.align = align
        self.network = network.eval()
        self.images = 0
        self.no_face = 0

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        crops, found = self.align(images)
        self.images += len(found)
        self.no_face += int((~found).sum())
        param = next(self.network.parameters(), None)  # None: a parameter-free network
        if param is not None:
            crops = crops.to(param.device)
        return F.normalize(self.network(crops), dim=1)


def curricularface_embedder(backbone: nn.Module, alignment: EvalAlignment) -> AlignedEmbedder:
    """GUIDE's evaluation: MTCNN landmarks, similarity transform onto the 112 x 112 ArcFace
    template (both as `alignment` finds them), Normalize(0.5, 0.5) (the crop is already in
    [-1, 1]), CurricularFace IR-101."""
    align = functools.partial(align_arcface, detector=alignment.detector, fit=alignment.fit)
    return AlignedEmbedder(align, backbone)


class FixedStandardization(nn.Module):
    """facenet-pytorch's `fixed_image_standardization` ((x255 - 127.5) / 128) for x in [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (127.5 / 128.0)


FACENET_LOGITS = 8631  # the VGGFace2 file's classifier (unused, but part of its state dict)
FACENET_SIZE = 160  # the crop InceptionResnetV1 was trained on


def make_facenet_detector(device: str | torch.device = "cpu") -> MTCNN:
    """facenet-pytorch's MTCNN as its README sets it up for InceptionResnetV1
    (MTCNN(image_size=160, margin=0), library defaults otherwise: thresholds 0.6/0.7/0.7,
    min face 20, the largest face first). Its own settings, not GUIDE's, so that the second
    evaluator's detections do not repeat the first's."""
    from facenet_pytorch import MTCNN

    return MTCNN(image_size=FACENET_SIZE, margin=0, device=device).eval()


def load_facenet(weights: str | os.PathLike[str]) -> nn.Module:
    """InceptionResnetV1 with the VGGFace2 state dict at `weights` (a file the caller has
    checked: not facenet-pytorch's unverified $TORCH_HOME copy). Loaded as tensors only and
    strictly, so a file of another architecture, key or shape fails here."""
    from facenet_pytorch import InceptionResnetV1

    network = InceptionResnetV1(classify=True, num_classes=FACENET_LOGITS)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        network.load_state_dict(state)
    except RuntimeError as err:
        reason = str(err).splitlines()[-1].strip()  # the first missing key or wrong shape
        raise ArtefactError(f"{weights}: not facenet's VGGFace2 state dict ({reason})") from err
    network.classify = False  # the embedding, not the VGGFace2 logits
    return network


def facenet_embedder(
    weights: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> AlignedEmbedder:
    """InceptionResnetV1 (VGGFace2 weights from `weights`) on 160 x 160 crops of the box
    `make_facenet_detector` finds, with facenet's fixed standardisation, on `device`.
    Images without a detected face get the fixed FFHQ box and count in `no_face`."""
    network = nn.Sequential(FixedStandardization(), load_facenet(weights)).to(device)
    detector = make_facenet_detector(device)
    align = functools.partial(align_box, detector=detector, size=FACENET_SIZE)
    return AlignedEmbedder(align, network)
