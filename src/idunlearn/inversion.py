"""GAN inversion: image -> W+ by the encoder, optionally refined by optimisation.

The optimisation-based inversion minimises L2 + LPIPS between G(w, camera) and
the image over a free W+ latent, starting from the encoder's estimate; it
needs no weights beyond the generator's, which is what the real setting uses
when the GOAE encoder is not available.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F

from idunlearn.backend import load_generator, load_inversion_encoder, load_lpips, resolve_device
from idunlearn.checkpoints import save_checkpoint
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.identities import lookup, read_identities
from idunlearn.io import UserError, read_npz
from idunlearn.loop import progress
from idunlearn.losses import Perceptual
from idunlearn.real import is_faces_file
from idunlearn.training import to_tensor
from idunlearn.world.dataset import load_dataset, to_float_images

Encoder = Callable[[torch.Tensor], torch.Tensor]  # images [B, 3, H, W] -> W+ [B, num_ws, w_dim]


@dataclass(frozen=True)
class InversionConfig:
    method: str = "optimisation"  # "encoder" or "optimisation"
    steps: int = 100
    lr: float = 0.05
    lpips_weight: float = 1.0


def optimise_latents(
    generator: GeneratorAdapter,
    images: torch.Tensor,
    cameras: torch.Tensor,
    w_init: torch.Tensor,
    lpips: Perceptual,
    config: InversionConfig,
) -> torch.Tensor:
    """Adam on W+ (one latent per image; the per-image losses are summed, so the
    images do not interact)."""
    generator.requires_grad_(False)
    ws = w_init.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([ws], lr=config.lr)
    for _ in progress(config.steps, "invert"):
        fake = generator.synthesis(ws, cameras)["image"]
        per_image = F.mse_loss(fake, images, reduction="none").flatten(1).mean(1)
        if config.lpips_weight > 0:
            per_image = per_image + config.lpips_weight * lpips(fake, images).flatten()
        optimizer.zero_grad(set_to_none=True)
        per_image.sum().backward()
        optimizer.step()
    return ws.detach()


def invert(
    generator: GeneratorAdapter,
    encoder: Encoder,
    images: torch.Tensor,
    cameras: torch.Tensor,
    lpips: Perceptual,
    config: InversionConfig,
) -> torch.Tensor:
    """W+ latents of `images` seen from `cameras`, by the configured method."""
    if config.method not in ("encoder", "optimisation"):
        raise UserError(f"unknown inversion method {config.method!r}")
    with torch.no_grad():
        w_init = encoder(images)
    if config.method == "encoder" or config.steps == 0:
        return w_init
    return optimise_latents(generator, images, cameras, w_init, lpips, config)


INVERSION_KIND = "inversion"


def identity_images(
    dataset_path: str | None, row: pd.Series, generator: GeneratorAdapter
) -> tuple[torch.Tensor, torch.Tensor]:
    """The identity's photos (source first) and the cameras they are inverted from.

    Synthetic: the dataset's images at the table's indices, from their own yaw.
    Real: the identity's prepared faces file (the `faces` rule), framed by the
    frontal camera (no per-photo pose estimate).
    """
    if dataset_path is None:
        raise UserError(f"identity {row.identity!r} is inverted from photos: give --dataset")
    if is_faces_file(dataset_path):
        images = to_tensor(to_float_images(read_npz(dataset_path)["faces"]))
        return images, generator.frontal_camera(len(images))
    data = load_dataset(dataset_path)
    indices = [int(row.source_index)] + [int(i) for i in str(row.other_indices).split()]
    images = to_tensor(to_float_images(data["images"][indices]))
    return images, to_tensor(data["yaw"][indices])[:, None]


def run_invert(
    identities_path: str,
    dataset_path: str | None,
    generator_path: str,
    encoder_path: str,
    scenario: str,
    identity: str,
    config: InversionConfig,
    lpips_net: str,
    lpips_random: bool,
    out: str,
    device: str = "cpu",
) -> None:
    """Source latent w_u (and w_others for the identity's other images) of one identity.

    Random: w_u = mapping(z) and its frontal image is the source. InD / OOD: the
    source photo and the other photos are inverted from their dataset cameras; the
    other photos are kept too (`other_images`), for the encoder method's evaluation.
    The networks run on `device`; z and the cameras are drawn on the CPU and the file
    holds CPU tensors, so it does not depend on where it was computed.
    """
    dev = resolve_device(device)
    row = lookup(read_identities(identities_path), scenario, identity)
    generator = load_generator(generator_path, dev)
    frontal = generator.frontal_camera(1)
    if scenario == "random":
        z = torch.randn(
            1, generator.z_dim, generator=torch.Generator().manual_seed(int(row.z_seed))
        )
        with torch.no_grad():
            w_u = generator.mapping(z, frontal)
            source = generator.synthesis(w_u, frontal)["image"]
        state = {"w_u": w_u[0], "source_image": source[0], "source_camera": frontal[0]}
        state["w_others"] = w_u.new_zeros(0, generator.num_ws, generator.w_dim)
        state["other_images"] = source.new_zeros(0, *source.shape[1:])
        state["other_cameras"] = frontal.new_zeros(0, *frontal.shape[1:])
    else:
        images, cameras = identity_images(dataset_path, row, generator)
        encoder = load_inversion_encoder(encoder_path, generator, dev)
        lpips = load_lpips(lpips_net, lpips_random).to(dev)
        ws = invert(generator, encoder, images.to(dev), cameras, lpips, config)
        state = {
            "w_u": ws[0],
            "w_others": ws[1:],
            "source_image": images[0],
            "source_camera": cameras[0],
            "other_images": images[1:],  # for methods whose latent of an image is E_u(image)
            "other_cameras": cameras[1:],  # and for the re-inversion attack
        }
    state = {key: value.cpu() for key, value in state.items()}
    save_checkpoint(out, INVERSION_KIND, state, meta={"scenario": scenario, "identity": identity})
