"""EG3D (NVlabs, ffhqrebalanced512-128) behind the GeneratorAdapter interface.

The adapter wraps an NVlabs `TriPlaneGenerator` and speaks its camera labels:
25 numbers, the flattened OpenCV cam2world matrix (16) and the intrinsics
normalised by image size (9). The cameras, the trained parameters and w_avg
follow GUIDE's reference code (KU-VGI/GUIDE unlearn.py, pinned below: cameras
looking at [0, 0, 0], the focal FOV_to_intrinsics(18.837), every `backbone.synthesis`
parameter trained, w_avg from `w_avg_ffhqrebalanced512-128.pt`); each departure is an
argument.

Read against (pinned; the assets step fetches these trees):
- NVlabs/eg3d        7cf1fd1e99e1061e8b6ba850f91c94fe56e7afe4 (training/triplane.py,
  camera_utils.py, legacy.py, gen_samples.py, train.py)
- KU-VGI/GUIDE       8c2034840a0c987effa06d459a14caf821dc7173 (unlearn.py)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import UserError

CAMERA_RADIUS = 2.7
# EG3D's FOV_to_intrinsics(18.837), as every GUIDE script computes it: 1 / (tan(fov / 2) *
# sqrt(2)) with pi and sqrt(2) rounded to 3.14159 and 1.414 there (4.2633910 as float32; the
# rounded 4.26339 is another float32).
REFERENCE_FOV = 18.837
REFERENCE_FOCAL = 1 / (math.tan(REFERENCE_FOV * 3.14159 / 360) * 1.414)
FRONTAL_YAW = FRONTAL_PITCH = math.pi / 2
TRAIN_PITCH = math.pi / 2 - 0.2  # GUIDE's angle_p = -0.2 around the frontal pitch
YAW_RANGE = math.pi / 12  # GUIDE's angle_y_abs: training yaw noise and the eval sweep
NUM_EVAL_VIEWS = 11
# GUIDE reads rendering_kwargs["avg_cam_pivot"], a key EG3D lacks, so it looks at the origin;
# EG3D's own pivot for FFHQ is avg_camera_pivot = [0, 0, 0.2].
REFERENCE_LOOK_AT = (0.0, 0.0, 0.0)
EG3D_LOOK_AT = (0.0, 0.0, 0.2)
LOOK_AT = {"reference": REFERENCE_LOOK_AT, "eg3d": EG3D_LOOK_AT}  # config eg3d.look_at
NOISE_MODES = ("random", "const")  # config eg3d.noise_mode
TRAINED_PREFIX = "backbone.synthesis"  # GUIDE: `if "backbone.synthesis" in name`


def camera_origin(yaw: torch.Tensor, pitch: torch.Tensor, radius: float) -> torch.Tensor:
    """[B] yaw, pitch -> [B, 3] camera positions on EG3D's orbit (y up).

    EG3D treats pitch as an area-uniform parameter, not the polar angle: the
    polar angle from +y is arccos(1 - 2 pitch / pi) (equal to pitch only at pi/2).
    yaw = pitch = pi/2 puts the camera on +z, in front of the face.
    """
    pitch = pitch.clamp(1e-5, math.pi - 1e-5)
    polar = torch.arccos(1 - 2 * pitch / math.pi)
    azimuth = math.pi - yaw
    return radius * torch.stack(
        [
            torch.sin(polar) * torch.cos(azimuth),
            torch.cos(polar),
            torch.sin(polar) * torch.sin(azimuth),
        ],
        dim=1,
    )


def look_at_cam2world(origin: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B, 3] origins looking at a [3] point -> [B, 4, 4] OpenCV cam2world (x right,
    y down, z forward), no roll."""
    forward = nn.functional.normalize(target - origin, dim=1)
    world_up = origin.new_tensor([0.0, 1.0, 0.0]).expand_as(forward)
    right = nn.functional.normalize(torch.linalg.cross(forward, world_up, dim=1), dim=1)
    down = torch.linalg.cross(forward, right, dim=1)
    pose = torch.eye(4, dtype=origin.dtype, device=origin.device).repeat(len(origin), 1, 1)
    pose[:, :3, :3] = torch.stack([right, down, forward], dim=2)
    pose[:, :3, 3] = origin
    return pose


def normalized_intrinsics(focal: float) -> torch.Tensor:
    """Pinhole intrinsics in units of the image size, principal point at the centre."""
    return torch.tensor([[focal, 0.0, 0.5], [0.0, focal, 0.5], [0.0, 0.0, 1.0]])


def camera_labels(
    yaw: torch.Tensor,
    pitch: torch.Tensor,
    look_at: Sequence[float] = REFERENCE_LOOK_AT,
    radius: float = CAMERA_RADIUS,
    focal: float = REFERENCE_FOCAL,
) -> torch.Tensor:
    """[B] yaw, pitch -> EG3D's [B, 25] labels: cam2world (16) + intrinsics (9)."""
    origin = camera_origin(yaw.float(), pitch.float(), radius)
    pose = look_at_cam2world(origin, origin.new_tensor(list(look_at)))
    intrinsics = normalized_intrinsics(focal).to(origin).flatten().expand(len(origin), -1)
    return torch.cat([pose.flatten(1), intrinsics], dim=1)


class EG3DAdapter(GeneratorAdapter):
    """A TriPlaneGenerator as GUIDE uses it.

    - mapping: `G.mapping(z, c, truncation_psi=1)`, c = the frontal camera.
    - synthesis: `G.synthesis(ws, c, noise_mode=...)`; "image" is the
      super-resolved image (unclamped), "features" the tri-planes
      [B, 96, 256, 256] caught by a forward hook on `G.backbone.synthesis`,
      from the same pass that made the image (GUIDE's `get_planes` runs the
      backbone once more, with fresh noise, for the feature loss).
    - trained: every parameter whose name contains `backbone.synthesis`.
    - w_avg: the given [num_ws, w_dim] table (GUIDE loads
      `w_avg_ffhqrebalanced512-128.pt`), else the mapping's tracked w_avg.

    Train/eval mode is the wrapped module's: GUIDE trains and renders its
    training views in train mode (EG3D then runs non-fused modulated convs);
    `load_eg3d` returns the adapter in train mode for that reason.
    """

    def __init__(
        self,
        generator: nn.Module,  # an NVlabs TriPlaneGenerator (or a module with its interface)
        w_avg: torch.Tensor | None = None,  # [num_ws, w_dim]; None: the mapping's w_avg buffer
        look_at: Sequence[float] = REFERENCE_LOOK_AT,  # EG3D_LOOK_AT fixes GUIDE's pivot bug
        noise_mode: str = "random",  # per-pass noise maps as GUIDE; "const": repeatable renders
        focal: float = REFERENCE_FOCAL,
    ) -> None:
        super().__init__()
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        self.G = generator
        self.z_dim = int(generator.z_dim)
        self.w_dim = int(generator.w_dim)
        self.num_ws = int(generator.backbone.num_ws)
        self.image_size = int(generator.img_resolution)
        self.look_at = tuple(float(v) for v in look_at)
        self.noise_mode = noise_mode
        self.focal = focal
        if w_avg is None:
            w_avg = generator.backbone.mapping.w_avg.detach()[None].expand(self.num_ws, -1)
        if tuple(w_avg.shape) != (self.num_ws, self.w_dim):
            expected = [self.num_ws, self.w_dim]
            raise ValueError(f"w_avg must be {expected}, got {list(w_avg.shape)}")
        self.register_buffer("w_avg_table", w_avg.detach().clone().float())

    @property
    def device(self) -> torch.device:
        return self.w_avg_table.device

    def cameras(self, yaw: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        labels = camera_labels(yaw, pitch, look_at=self.look_at, focal=self.focal)
        return labels.to(self.device)

    # -- GeneratorAdapter ---------------------------------------------------------------------
    def setting(self) -> dict[str, object]:
        """The config names of the pivot (or its coordinates), the focal and the noise mode."""
        pivots = {pivot: name for name, pivot in LOOK_AT.items()}
        look_at = pivots.get(self.look_at, str(list(self.look_at)))
        return super().setting() | {
            "look_at": look_at,
            "focal": self.focal,
            "noise_mode": self.noise_mode,
        }

    def mapping(self, z: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """Inputs move to the generator's device: the unlearning loop draws z on a
        seeded CPU generator."""
        return self.G.mapping(z.to(self.device), camera.to(self.device), truncation_psi=1)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.w_avg_table

    def synthesis(self, ws: torch.Tensor, camera: torch.Tensor) -> dict[str, torch.Tensor]:
        caught: list[torch.Tensor] = []
        hook = self.G.backbone.synthesis.register_forward_hook(
            lambda _module, _inputs, output: caught.append(output)
        )
        try:
            out = self.G.synthesis(ws, camera.to(self.device), noise_mode=self.noise_mode)
        finally:
            hook.remove()
        return {"image": out["image"], "features": caught[-1]}

    def trainable_names(self) -> list[str]:
        return [name for name, _ in self.named_parameters() if TRAINED_PREFIX in name]

    def adapter_stages(self) -> dict[str, tuple[nn.Module, int]]:
        """After each synthesis block of `backbone.synthesis` (StyleGAN2's b4 ... b256) but the
        last, whose feature output nothing reads, and after the network itself (its output,
        the tri-planes)."""
        synthesis = self.G.backbone.synthesis
        blocks = [getattr(synthesis, f"b{res}") for res in synthesis.block_resolutions]
        stages = {
            f"b{res}": (block, int(block.out_channels))
            for res, block in zip(synthesis.block_resolutions[:-1], blocks[:-1], strict=True)
        }
        return {**stages, "planes": (synthesis, int(synthesis.img_channels))}

    def sample_train_cameras(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """yaw = pi/2 + U(-pi/12, pi/12) from `generator` alone, pitch pi/2 - 0.2."""
        noise = (2 * torch.rand(n, generator=generator, dtype=torch.float64) - 1) * YAW_RANGE
        return self.cameras(FRONTAL_YAW + noise, torch.full((n,), TRAIN_PITCH))

    def eval_cameras(self) -> torch.Tensor:
        sweep = torch.linspace(-YAW_RANGE, YAW_RANGE, NUM_EVAL_VIEWS, dtype=torch.float64)
        yaws = FRONTAL_YAW + sweep
        return self.cameras(yaws, torch.full((NUM_EVAL_VIEWS,), TRAIN_PITCH))

    def frontal_camera(self, n: int) -> torch.Tensor:
        return self.cameras(torch.full((n,), FRONTAL_YAW), torch.full((n,), FRONTAL_PITCH))

    def yaw_cameras(self, yaws: torch.Tensor) -> torch.Tensor:
        """As the evaluation sweep's cameras: yaw pi/2 + yaws, pitch pi/2 - 0.2."""
        yaws = yaws.double()
        return self.cameras(FRONTAL_YAW + yaws, torch.full((len(yaws),), TRAIN_PITCH))


def rebuild_generator(old: nn.Module, generator_class: type[nn.Module]) -> nn.Module:
    """A fresh `generator_class(*old.init_args, **old.init_kwargs)` holding `old`'s tensors.

    NVlabs pickles carry their own copy of the network code; rebuilding runs the
    code of the fetched repository instead (as gen_samples.py --reload_modules and
    GUIDE's unlearn.py do). Every parameter and buffer must match by name and shape.
    """
    new = generator_class(*old.init_args, **old.init_kwargs)
    source = dict(old.named_parameters()) | dict(old.named_buffers())
    target = dict(new.named_parameters()) | dict(new.named_buffers())
    if set(source) != set(target):
        missing = sorted(set(target) - set(source))[:3]
        extra = sorted(set(source) - set(target))[:3]
        raise KeyError(f"pickle does not match the code: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for name, tensor in target.items():
            if tensor.shape != source[name].shape:
                shapes = f"code {list(tensor.shape)} vs pickle {list(source[name].shape)}"
                raise ValueError(f"{name}: {shapes}")
            tensor.copy_(source[name])
    new.neural_rendering_resolution = old.neural_rendering_resolution
    new.rendering_kwargs = old.rendering_kwargs
    return new


def import_from(code_dir: Path, module_name: str):
    """Import `module_name` from `code_dir` (appended to sys.path, so it shadows nothing
    installed) and check that it really came from there."""
    code_dir = code_dir.resolve()
    if str(code_dir) not in sys.path:
        sys.path.append(str(code_dir))
    module = __import__(module_name, fromlist=["_"])
    origin = Path(module.__file__).resolve()
    if code_dir not in origin.parents:
        raise ImportError(f"{module_name} was imported from {origin}, not from {code_dir}")
    return module


def render_options(
    look_at: str = "reference", focal: str | float = "computed", noise_mode: str = "random"
) -> dict[str, object]:
    """The adapter's keyword arguments from the config's names (`eg3d` block, kept in the
    generator's network spec): look_at reference | eg3d, focal computed | a number."""
    if look_at not in LOOK_AT:
        raise UserError(f"eg3d.look_at must be one of {', '.join(LOOK_AT)}, got {look_at!r}")
    if isinstance(focal, str) and focal != "computed":
        raise UserError(f"eg3d.focal must be 'computed' or a number, got {focal!r}")
    value = REFERENCE_FOCAL if focal == "computed" else float(focal)
    return {"look_at": LOOK_AT[look_at], "focal": value, "noise_mode": noise_mode}


def load_eg3d(
    pkl_path: str | Path,
    code_root: str | Path,
    w_avg_path: str | Path | None = None,
    look_at: Sequence[float] = REFERENCE_LOOK_AT,
    noise_mode: str = "random",
    focal: float = REFERENCE_FOCAL,
) -> EG3DAdapter:
    """G_ema of an NVlabs EG3D pickle, rebuilt with the code at `code_root` (a checkout
    of NVlabs/eg3d; its `eg3d/` folder holds the `torch_utils`, `dnnlib` and `training`
    modules that the pickle refers to). Returned on CPU, in train mode, frozen.

    Unpickling runs code from the file: call this only on a file whose SHA-256 was
    verified against the published one (the assets step does so before).
    """
    code_dir = Path(code_root) / "eg3d"
    legacy = import_from(code_dir, "legacy")
    triplane = import_from(code_dir, "training.triplane")
    with open(pkl_path, "rb") as f:
        pickled = legacy.load_network_pkl(f)["G_ema"]
    generator = rebuild_generator(pickled, triplane.TriPlaneGenerator)
    generator.train().requires_grad_(False)
    w_avg = None
    if w_avg_path is not None:
        w_avg = torch.load(w_avg_path, map_location="cpu", weights_only=True).squeeze(0)
    return EG3DAdapter(generator, w_avg, look_at=look_at, noise_mode=noise_mode, focal=focal)
