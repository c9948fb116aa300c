"""Load the networks a step needs from their files, whatever generator family they are.

Method code sees a GeneratorAdapter and plain callables (embedders, encoder,
feature extractor); this module is the one place that knows which files hold
which network. A `.pt` file is a network of the synthetic world; a `.json` file
is a network spec of the real setting (written by the `network_spec` rule:
family, weights and their SHA-256, code root), whose family picks the adapter.
The real adapters are imported only when used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from idunlearn.assets import check_file
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.generators.synthetic import load_generator as load_synthetic_generator
from idunlearn.io import ArtefactError, UserError, write_json
from idunlearn.perceptual import build_lpips
from idunlearn.world.build import load_encoder, load_feature_net, load_identity_net

Images = Callable[[torch.Tensor], torch.Tensor]
Device = str | torch.device
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> torch.device:
    """The torch device a step runs on: `auto` is CUDA where visible, else the CPU. Asking
    for CUDA where there is none fails at once, not after an hour on the CPU."""
    if name not in DEVICES:
        raise UserError(f"unknown device {name!r} (one of {', '.join(DEVICES)})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


NETWORK_FAMILIES = {
    "generator": ("eg3d",),
    "encoder": ("goae", "average"),
    "identity": ("arcface", "curricularface", "facenet"),
    "features": ("inception",),
}


def is_spec(path: str) -> bool:
    return Path(path).suffix == ".json"


def read_spec(path: str, role: str) -> dict[str, Any]:
    """A network spec, checked to name a family that can play `role`."""
    try:
        spec = json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise ArtefactError(f"missing network spec: {path}") from err
    except json.JSONDecodeError as err:
        raise ArtefactError(f"not valid JSON: {path} ({err.msg})") from err
    if spec.get("family") not in NETWORK_FAMILIES[role]:
        raise ArtefactError(
            f"{path}: family {spec.get('family')!r} is not a {role} "
            f"(one of {', '.join(NETWORK_FAMILIES[role])})"
        )
    return spec


def write_spec(
    out: str,
    role: str,
    family: str,
    weights: str | None,
    sha256: str | None,
    code_root: str | None = None,
    w_avg: str | None = None,
    render: dict[str, object] | None = None,
    detector: str | None = None,
) -> None:
    """Record which files make up a real network, after checking the weights' hash; a
    generator's spec also holds how it renders (config `eg3d`: look_at, focal, noise_mode),
    the evaluation identity network's which face detector aligns its crops
    (config `real.eval_detector`)."""
    if family not in NETWORK_FAMILIES[role]:
        raise UserError(f"family {family!r} is not a {role} ({', '.join(NETWORK_FAMILIES[role])})")
    if weights:
        check_file(weights, sha256)
    spec = {"family": family, "weights": weights, "sha256": sha256}
    spec |= {"code_root": code_root, "w_avg": w_avg}
    if render:
        spec["render"] = render
    if detector:
        spec["detector"] = detector
    write_json(out, spec)


def load_generator(path: str, device: Device = "cpu") -> GeneratorAdapter:
    """The generator, frozen, on `device` (seeded draws stay on the CPU: the adapter moves
    them)."""
    if is_spec(path):
        spec = read_spec(path, "generator")
        check_file(spec["weights"], spec["sha256"])  # the pickle runs code: verify first
        from idunlearn.generators.eg3d import load_eg3d, render_options

        options = render_options(**spec.get("render", {}))
        generator = load_eg3d(spec["weights"], spec["code_root"], spec.get("w_avg"), **options)
    else:
        generator = load_synthetic_generator(path)
    generator.requires_grad_(False)
    return generator.to(device)


def load_embedder(path: str, device: Device = "cpu") -> Images:
    """Identity network on `device` -> images in [-1, 1] to unit-norm embeddings. The
    evaluation embedders (MTCNN-aligned) move their crops there; the others take images
    on `device`."""
    if not is_spec(path):
        return load_identity_net(path).to(device)
    spec = read_spec(path, "identity")
    from idunlearn import recognition

    if spec["family"] == "facenet":  # a state dict (no code runs), verified like every asset
        check_file(spec["weights"], spec["sha256"])
        return recognition.facenet_embedder(spec["weights"], device=device)
    from idunlearn.nets.irse import load_backbone

    if spec["family"] == "arcface":  # IR-SE50, the loss network
        backbone = load_backbone(spec["weights"], 50, "ir_se")
        return recognition.arcface_loss_embedder(backbone).to(device)
    from idunlearn.faces import make_eval_alignment  # CurricularFace sees MTCNN-aligned crops

    backbone = load_backbone(spec["weights"], 100, "ir").to(device)
    # a spec written before the key existed was evaluated with facenet-pytorch's MTCNN
    alignment = make_eval_alignment(spec.get("detector", "facenet"), device)
    return recognition.curricularface_embedder(backbone, alignment)


def load_encoder_network(path: str, device: Device = "cpu") -> torch.nn.Module:
    """The synthetic world's inversion encoder as a module on `device`, forward(images,
    w_avg) -> W+ (eval, frozen): the encoder method trains it."""
    if is_spec(path):
        raise ArtefactError(f"{path}: only the synthetic world's encoder can be unlearned")
    return load_encoder(path).to(device)


class OffsetEncoder(torch.nn.Module):
    """The world's encoder with the generator's w_avg bound: images -> W+ latents. A module,
    so that its parameters can be trained (encoder method, relearning attack)."""

    def __init__(self, encoder: torch.nn.Module, w_avg: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("w_avg", w_avg.detach().clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images, self.w_avg)


def as_inversion_encoder(encoder: torch.nn.Module, generator: GeneratorAdapter) -> OffsetEncoder:
    """An encoder module as a module images -> W+ latents of `generator`."""
    return OffsetEncoder(encoder, generator.w_avg)


def load_inversion_encoder(
    path: str, generator: GeneratorAdapter, device: Device = "cpu"
) -> Images:
    """Images (on `device`) -> W+ latents of `generator`, computed on `device`."""
    if not is_spec(path):
        return as_inversion_encoder(load_encoder_network(path), generator).to(device)
    spec = read_spec(path, "encoder")
    if spec["family"] == "average":  # optimisation-only inversion starts from w_avg
        w_avg = generator.w_avg.detach().to(device)
        return lambda images: w_avg.expand(len(images), *w_avg.shape).clone()
    from idunlearn.encoders.goae import load_goae_encoder

    return load_goae_encoder(spec["weights"], spec["code_root"], generator, device)


def load_features(path: str, device: Device = "cpu") -> Images:
    """FID features computed on `device`, from images on any device (real images are read
    on the CPU)."""
    if not is_spec(path):
        net = load_feature_net(path).to(device)
        return lambda images: net.features(images.to(device))
    return inception_features(read_spec(path, "features")["weights"], device)


def inception_features(weights: str, device: Device = "cpu") -> Images:
    """pytorch-fid's Inception pool3 (2048-d) from a local weights file, images in [-1, 1],
    computed on `device`.

    pytorch-fid loads its weights through torch.hub; pointing the hub at the
    file's `<hub>/checkpoints/` folder makes it read the verified local copy.
    """
    from pytorch_fid.inception import InceptionV3

    hub = Path(weights).resolve().parent.parent
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    finally:
        torch.hub.set_dir(previous)
    net.requires_grad_(False).to(device)
    return lambda images: net(((images.to(device) + 1) / 2).clamp(0, 1))[0].flatten(1)


def load_lpips(
    net: str, random_backbone: bool
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return build_lpips(net=net, random_backbone=random_backbone)
