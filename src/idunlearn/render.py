"""Render any generator the workflow knows, pretrained or unlearned ("inference code").

A *system* is what a user of an unlearned model meets: a generator and the way it gets a
latent for a face. For the methods that unlearn the generator that is G_u at the face's
latent; for the encoder method it is G_s at the unlearned encoder's latent of the face's
image (E_u(photo), or E_u(G_s(w)) for a face given by a latent). Faces come from seeds
(z as the Random scenario draws it), z or W+ files, inversion files, or photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from idunlearn.backend import Device, load_generator, load_inversion_encoder, resolve_device
from idunlearn.checkpoints import load_checkpoint
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import INVERSION_KIND, Encoder, InversionConfig, optimise_latents
from idunlearn.io import ArtefactError, UserError
from idunlearn.loop import progress
from idunlearn.system import system_of_file
from idunlearn.visual import grid, save_png, to_uint8


@dataclass(frozen=True)
class System:
    """A generator as its user meets it: `generator` renders, `encoder` (the encoder
    method's E_u, else None) gives the latent of a face's image."""

    generator: GeneratorAdapter
    encoder: Encoder | None = None

    @torch.no_grad()
    def latents(self, faces: Faces) -> torch.Tensor:
        """The system's W+ latents of `faces`: their own, or E_u of their images."""
        return faces.ws if self.encoder is None else self.encoder(faces.images)


@dataclass(frozen=True)
class Faces:
    """Faces to render: W+ latents [B, num_ws, w_dim] on G_s, their frontal images
    [B, 3, H, W] (the photo where there is one) and a label each."""

    ws: torch.Tensor
    images: torch.Tensor
    labels: tuple[str, ...]

    def __add__(self, other: Faces) -> Faces:
        return Faces(
            torch.cat([self.ws, other.ws]),
            torch.cat([self.images, other.images]),
            self.labels + other.labels,
        )


def unlearned_system(
    g_s: GeneratorAdapter,
    unlearned_path: str | None,
    encoder_path: str | None = None,
    device: Device = "cpu",
) -> System:
    """The system of an unlearn output of any method kind (G_s itself without one): the
    one place that turns such a file into something that renders."""
    if unlearned_path is None:
        return System(g_s)
    system = system_of_file(g_s, unlearned_path, encoder_path, torch.device(device))
    return System(system.g_u, system.encoder_u)


@torch.no_grad()
def faces_of_latents(g_s: GeneratorAdapter, ws: torch.Tensor, labels: Sequence[str]) -> Faces:
    """Latents on G_s, with G_s's frontal renders as their images."""
    ws = ws.to(g_s.w_avg.device)
    images = g_s.synthesis(ws, g_s.frontal_camera(len(ws)))["image"]
    return Faces(ws, images, tuple(labels))


def z_of_seed(g_s: GeneratorAdapter, seed: int) -> torch.Tensor:
    """[1, z_dim]: the z a seed names, as the Random scenario draws an identity's z."""
    return torch.randn(1, g_s.z_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def faces_of_z(g_s: GeneratorAdapter, z: torch.Tensor, labels: Sequence[str]) -> Faces:
    ws = g_s.mapping(z.float(), g_s.frontal_camera(len(z)))
    return faces_of_latents(g_s, ws, labels)


def faces_of_seeds(g_s: GeneratorAdapter, seeds: Sequence[int]) -> Faces:
    z = torch.cat([z_of_seed(g_s, seed) for seed in seeds])
    return faces_of_z(g_s, z, [f"seed {seed}" for seed in seeds])


def read_array(path: str) -> torch.Tensor:
    """A tensor from a .npy file or a plain tensor saved by torch (.pt)."""
    if not Path(path).is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        if path.endswith(".npy"):
            return torch.from_numpy(np.load(path, allow_pickle=False)).float()
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # numpy and torch raise several unrelated types
        raise ArtefactError(f"unreadable array file: {path} ({type(err).__name__})") from err
    if not isinstance(value, torch.Tensor):
        raise ArtefactError(f"{path}: expected one tensor, found a {type(value).__name__}")
    return value.float()


def shaped(value: torch.Tensor, shape: tuple[int, ...], path: str, what: str) -> torch.Tensor:
    """`value` as [B, *shape] (a single one may drop the batch axis), or a clear error."""
    if tuple(value.shape) == shape:
        value = value[None]
    if value.dim() != len(shape) + 1 or tuple(value.shape[1:]) != shape:
        raise ArtefactError(
            f"{path}: expected {what} of shape {list(shape)}, got {list(value.shape)}"
        )
    return value


def faces_of_z_file(g_s: GeneratorAdapter, path: str) -> Faces:
    z = shaped(read_array(path), (g_s.z_dim,), path, "z")
    return faces_of_z(g_s, z, [f"{Path(path).stem} z{k}" for k in range(len(z))])


def faces_of_latent_file(g_s: GeneratorAdapter, path: str) -> Faces:
    ws = shaped(read_array(path), (g_s.num_ws, g_s.w_dim), path, "W+ latents")
    return faces_of_latents(g_s, ws, [f"{Path(path).stem} w{k}" for k in range(len(ws))])


def faces_of_inversion(path: str, device: Device = "cpu", others: bool = True) -> Faces:
    """An identity's inversion file: w_u with its source image, then (`others`) each other
    image with its latent."""
    inv = load_checkpoint(path, INVERSION_KIND)
    state, name = inv["state_dict"], inv["meta"].get("identity", Path(path).stem)
    ws, images = state["w_u"][None], state["source_image"][None]
    if others and len(state["w_others"]):
        ws = torch.cat([ws, state["w_others"]])
        images = torch.cat([images, state["other_images"]])
    labels = [name, *(f"{name} photo {k}" for k in range(1, len(ws)))]
    return Faces(ws.to(device), images.to(device), tuple(labels))


def read_photo(path: str, size: int) -> torch.Tensor:
    """An image file as [3, size, size] in [-1, 1] (resized; framed like the dataset)."""
    try:
        with Image.open(path) as image:
            picture = image.convert("RGB").resize((size, size), Image.BICUBIC)
    except FileNotFoundError as err:
        raise ArtefactError(f"missing photo: {path}") from err
    except OSError as err:
        raise ArtefactError(f"unreadable photo {path}: {err}") from err
    array = torch.from_numpy(np.asarray(picture, dtype=np.float32).copy())
    return array.permute(2, 0, 1) / 127.5 - 1


def faces_of_photos(
    g_s: GeneratorAdapter, encoder: Encoder, paths: Sequence[str], steps: int, lr: float
) -> Faces:
    """Photos inverted on G_s from the frontal camera: the encoder, then `steps` of L2 W+
    optimisation (the workflow's `invert` step adds LPIPS)."""
    dev = g_s.w_avg.device
    images = torch.stack([read_photo(path, g_s.image_size) for path in paths]).to(dev)
    with torch.no_grad():
        ws = encoder(images)
    if steps:
        config = InversionConfig("optimisation", steps, lr, lpips_weight=0.0)
        ws = optimise_latents(g_s, images, g_s.frontal_camera(len(images)), ws, None, config)
    return Faces(ws, images, tuple(Path(path).stem for path in paths))


def view_cameras(g_s: GeneratorAdapter, yaws: Sequence[float] | None) -> torch.Tensor:
    """The evaluation yaw sweep (None), or cameras at the chosen yaws (radians from
    frontal, at the sweep's pitch)."""
    if yaws is None:
        return g_s.eval_cameras()
    return g_s.yaw_cameras(torch.tensor(list(yaws), dtype=torch.float64))


@torch.no_grad()
def render_views(
    system: System, faces: Faces, cameras: torch.Tensor, seed: int = 0, batch: int = 16
) -> torch.Tensor:
    """[B, V, 3, H, W] on the CPU: each face's system latent seen from each camera.
    Seeded, for generators that draw noise per pass (EG3D)."""
    ws = system.latents(faces)
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in progress(math.ceil(len(ws) / batch), "render"):
            chunk = ws[start * batch : (start + 1) * batch]
            views = [
                system.generator.synthesis(chunk, cam[None].expand(len(chunk), -1))["image"]
                for cam in cameras
            ]
            rows.append(torch.stack(views, dim=1).cpu())
    return torch.cat(rows)


def save_renders(
    images: torch.Tensor, out: str, views_dir: str | None = None, scale: int = 2
) -> list[str]:
    """A PNG grid (a row a face, a column a view) and, with `views_dir`, one PNG per view
    named face{i}_view{j}.png; returns the paths written."""
    save_png(out, grid([list(row) for row in images]), scale)
    written = [out]
    if views_dir is not None:
        for i, row in enumerate(images):
            for j, image in enumerate(row):
                path = str(Path(views_dir) / f"face{i:02d}_view{j:02d}.png")
                save_png(path, to_uint8(image), scale)
                written.append(path)
    return written


@dataclass(frozen=True)
class FaceSources:
    """Where the faces of one render come from (any combination, in this order)."""

    seeds: tuple[int, ...] = ()
    z_files: tuple[str, ...] = ()
    latent_files: tuple[str, ...] = ()
    inversions: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()
    invert_steps: int = 0
    invert_lr: float = 0.05


def gather_faces(
    g_s: GeneratorAdapter, sources: FaceSources, encoder_path: str | None, device: Device
) -> Faces:
    parts = [faces_of_seeds(g_s, sources.seeds)] if sources.seeds else []
    parts += [faces_of_z_file(g_s, path) for path in sources.z_files]
    parts += [faces_of_latent_file(g_s, path) for path in sources.latent_files]
    parts += [faces_of_inversion(path, device) for path in sources.inversions]
    if sources.photos:
        if encoder_path is None:
            raise UserError("--photo needs --encoder (the pretrained inversion encoder)")
        encoder = load_inversion_encoder(encoder_path, g_s, device)
        parts.append(
            faces_of_photos(g_s, encoder, sources.photos, sources.invert_steps, sources.invert_lr)
        )
    if not parts:
        raise UserError("nothing to render: give --seeds, --z, --latent, --inversion or --photo")
    faces = parts[0]
    for part in parts[1:]:
        faces = faces + part
    return faces


def run_render(
    generator_path: str,
    unlearned_path: str | None,
    encoder_path: str | None,
    sources: FaceSources,
    yaws: Sequence[float] | None,
    out: str,
    views_dir: str | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> list[str]:
    """Render the system of `unlearned_path` (G_s without one) at `sources` over `yaws`."""
    dev = resolve_device(device)
    g_s = load_generator(generator_path, dev)
    system = unlearned_system(g_s, unlearned_path, encoder_path, dev)
    faces = gather_faces(g_s, sources, encoder_path, dev)
    images = render_views(system, faces, view_cameras(g_s, yaws), seed)
    return save_renders(images, out, views_dir)
