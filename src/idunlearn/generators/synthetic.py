"""The synthetic world's generator: a small StyleGAN-like network at 64 x 64.

It has what GUIDE needs from EG3D: a mapping network z -> W+ with a tracked
w_avg, a camera (here a yaw angle) that conditions synthesis, a synthesis
*backbone* whose 32 x 32 feature map plays the role of the tri-planes and is
the only part unlearning trains, and a frozen *head* (the role of EG3D's
decoder and super-resolution) that turns the features into the image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.generators.base import GeneratorAdapter

CHECKPOINT_KIND = "synthetic-generator"
YAW_TRAIN_RANGE = math.pi / 12  # as EG3D's unlearning cameras: yaw noise U(-pi/12, pi/12)
NUM_EVAL_VIEWS = 11
COORD_PLANES = ("x", "y", "one")


def yaw_embedding(camera: torch.Tensor) -> torch.Tensor:
    """[B, 1] yaw -> [B, 2] (sin, cos), a smooth conditioning signal."""
    return torch.cat([torch.sin(camera), torch.cos(camera)], dim=1)


class ModulatedConv(nn.Module):
    """3x3 (or 1x1) convolution modulated by a style, with demodulation.

    Uses the non-fused form (scale inputs, shared conv, scale outputs), which is
    cheaper than grouped convolutions on a CPU and equal in value.
    """

    def __init__(
        self,
        in_channels: int,  # channels of the input feature map
        out_channels: int,  # channels produced
        w_dim: int,  # width of the W latent that sets the style
        kernel: int = 3,  # 3 for feature convs, 1 for toRGB
        demodulate: bool = True,  # False for toRGB, as in StyleGAN2
        activate: bool = True,  # leaky ReLU after the bias
    ) -> None:
        super().__init__()
        self.affine_w = nn.Linear(w_dim, in_channels)
        self.affine_cam = nn.Linear(2, in_channels, bias=False)
        nn.init.zeros_(self.affine_w.bias)
        with torch.no_grad():
            self.affine_w.bias.add_(1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2
        self.demodulate = demodulate
        self.activate = activate

    def forward(self, x: torch.Tensor, w: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
        style = self.affine_w(w) + self.affine_cam(cam)  # [B, in]
        weight = self.weight * self.scale
        x = x * style[:, :, None, None]
        x = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # sum over (in, kh, kw) of (weight * style)^2, per sample and output channel
            w2 = weight.pow(2).sum(dim=(2, 3))  # [out, in]
            demod = torch.rsqrt(style.pow(2) @ w2.t() + 1e-8)  # [B, out]
            x = x * demod[:, :, None, None]
        x = x + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * math.sqrt(2) if self.activate else x


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling, bit for bit torch's, in about half its CPU time: torch's
    kernel is slow on NCHW tensors and fast on channels-last ones; the result goes back to
    NCHW, so the convolutions that follow see what they always saw."""
    x = x.contiguous(memory_format=torch.channels_last)
    y = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return y.contiguous()


class SyntheticGenerator(GeneratorAdapter):
    """Mapping + backbone (to a 32 x 32 feature map) + head (to a 64 x 64 image).

    The backbone starts from a linear projection of the first W+ row to a
    16 x 16 map rather than from a learned constant: with the projection the
    network places facial features directly from w, which halved the training
    steps needed on a CPU compared with a StyleGAN-like 4 x 4 constant. With
    `points`, key points predicted from (w, yaw) enter every 3x3 conv as
    heatmaps: a linear projection places the face's small features only as
    blurred averages.
    """

    def __init__(
        self,
        z_dim: int,  # width of the noise: the renderer's identity + nuisance codes
        w_dim: int = 64,  # width of one W latent
        mapping_width: int = 128,  # hidden width of the mapping MLP
        channels: tuple[int, int] = (64, 32),  # backbone channels at 16 and 32 px
        head_channels: int = 16,  # channels of the head's one conv at 64 px
        coords: bool = False,  # feed (x, y, 1) planes to every 3x3 conv: places small features
        points: int = 0,  # key points predicted from (w, yaw), fed as heatmaps to every 3x3 conv
    ) -> None:
        super().__init__()
        self.init_kwargs = {
            "z_dim": z_dim,
            "w_dim": w_dim,
            "mapping_width": mapping_width,
            "channels": list(channels),
            "head_channels": head_channels,
            "coords": coords,
            "points": points,
        }
        self.coords, self.num_points = coords, points
        extra = (len(COORD_PLANES) if coords else 0) + points
        self.z_dim, self.w_dim, self.image_size = z_dim, w_dim, 64
        self.mapping_net = nn.Sequential(
            nn.Linear(z_dim, mapping_width),
            nn.LeakyReLU(0.2),
            nn.Linear(mapping_width, mapping_width),
            nn.LeakyReLU(0.2),
            nn.Linear(mapping_width, mapping_width),
            nn.LeakyReLU(0.2),
            nn.Linear(mapping_width, w_dim),
        )
        if points:
            # Where the small features go: a smooth function of (w, yaw) that a linear
            # projection to a 16 x 16 map cannot place sharply.
            self.project_points = nn.Sequential(
                nn.Linear(w_dim + 2, mapping_width),
                nn.LeakyReLU(0.2),
                nn.Linear(mapping_width, 2 * points),
            )
        c16, c32 = channels
        self.project = nn.Linear(w_dim, c16 * 16 * 16)
        self.project_cam = nn.Linear(2, c16 * 16 * 16, bias=False)
        self.backbone = nn.ModuleList(
            [
                ModulatedConv(c16 + extra, c16, w_dim),  # 16 px
                ModulatedConv(c16 + extra, c32, w_dim),  # 32 px
                ModulatedConv(c32 + extra, c32, w_dim),  # 32 px: the feature map
            ]
        )
        self.head = nn.ModuleList(
            [
                ModulatedConv(c32 + extra, head_channels, w_dim),
                ModulatedConv(head_channels, 3, w_dim, kernel=1, demodulate=False, activate=False),
            ]
        )
        self.num_ws = 1 + len(self.backbone) + len(self.head)  # projection, convs, toRGB
        self.register_buffer("w_avg_buffer", torch.zeros(w_dim))

    # -- GeneratorAdapter -------------------------------------------------------------------
    def mapping(self, z: torch.Tensor, camera: torch.Tensor | None = None) -> torch.Tensor:
        """The camera does not condition this mapping (EG3D's is fixed to the frontal one).
        z may come from a CPU generator: it moves to the network's device."""
        w = self.mapping_net(z.to(self.w_avg_buffer.device))
        return w[:, None, :].expand(-1, self.num_ws, -1)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.w_avg_buffer[None, :].expand(self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor, camera: torch.Tensor) -> dict[str, torch.Tensor]:
        camera = camera.to(ws.device)  # cameras are drawn on the CPU (seeded generator)
        features = self.backbone_forward(ws, camera)
        return {"image": self.head_forward(features, ws, camera), "features": features}

    def trainable_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if n.startswith(("project", "backbone."))]

    def adapter_stages(self) -> dict[str, tuple[nn.Module, int]]:
        """After each backbone conv (16, 32 and 32 px; the last one's map is the features)."""
        return {f"conv{i}": (conv, conv.bias.numel()) for i, conv in enumerate(self.backbone)}

    def sample_train_cameras(self, n: int, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, 1, generator=generator)
        return (2 * u - 1) * YAW_TRAIN_RANGE

    def eval_cameras(self) -> torch.Tensor:
        return torch.linspace(-YAW_TRAIN_RANGE, YAW_TRAIN_RANGE, NUM_EVAL_VIEWS)[:, None]

    def frontal_camera(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 1)

    def yaw_cameras(self, yaws: torch.Tensor) -> torch.Tensor:
        return yaws.float()[:, None]

    # -- network -----------------------------------------------------------------------------
    def key_points(self, ws: torch.Tensor, camera: torch.Tensor) -> torch.Tensor | None:
        """[B, points, 2] (x, y) in [-1, 1] (pixel centres, as align_corners=False), or None."""
        if not self.num_points:
            return None
        cam = yaw_embedding(camera.to(ws.device))
        return self.project_points(torch.cat([ws[:, 0], cam], dim=1)).view(len(ws), -1, 2)

    def backbone_forward(self, ws: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        cam = yaw_embedding(camera)
        points = self.key_points(ws, camera)
        x = self.project(ws[:, 0]) + self.project_cam(cam)
        x = F.leaky_relu(x.view(len(ws), -1, 16, 16), 0.2) * math.sqrt(2)
        x = self.backbone[0](self.planes(x, points), ws[:, 1], cam)
        x = upsample2x(x)
        x = self.backbone[1](self.planes(x, points), ws[:, 2], cam)
        return self.backbone[2](self.planes(x, points), ws[:, 3], cam)

    def planes(self, x: torch.Tensor, points: torch.Tensor | None) -> torch.Tensor:
        """x with the coordinate planes and the key points' heatmaps appended (when the
        network has them). A heatmap is a Gaussian one pixel of x's resolution wide."""
        b, _, h, w = x.shape
        extra = [x]
        if self.coords:
            ys = torch.linspace(-1, 1, h, device=x.device)[:, None].expand(h, w)
            xs = torch.linspace(-1, 1, w, device=x.device)[None, :].expand(h, w)
            grid = torch.stack([xs, ys, torch.ones_like(xs)])[None].expand(b, -1, -1, -1)
            extra.append(grid.to(x.dtype))
        if points is not None:
            ys = ((torch.arange(h, device=x.device) * 2 + 1) / h - 1).to(x.dtype)
            xs = ((torch.arange(w, device=x.device) * 2 + 1) / w - 1).to(x.dtype)
            inv_var = 0.5 * (h / 2) ** 2  # 1 / (2 sigma^2), sigma = one pixel = 2 / h
            gx = torch.exp(-inv_var * (xs[None, None, :] - points[..., 0:1]) ** 2)  # [B, K, w]
            gy = torch.exp(-inv_var * (ys[None, None, :] - points[..., 1:2]) ** 2)  # [B, K, h]
            extra.append(gy[..., :, None] * gx[..., None, :])
        return torch.cat(extra, dim=1) if len(extra) > 1 else x

    def head_forward(
        self, features: torch.Tensor, ws: torch.Tensor, camera: torch.Tensor
    ) -> torch.Tensor:
        cam = yaw_embedding(camera)
        x = upsample2x(features)
        first = 1 + len(self.backbone)
        x = self.head[0](self.planes(x, self.key_points(ws, camera)), ws[:, first], cam)
        return self.head[1](x, ws[:, first + 1], cam)

    def generate(self, z: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z, camera), camera)["image"]

    @torch.no_grad()
    def rescale_w(self, target_norm: float, z: torch.Tensor) -> float:
        """Rescale W so that the median ||w - w_avg||_F over `z` equals `target_norm`.

        An exact reparametrisation (the mapping's last layer is multiplied by k, the
        W weights of every consumer of w - projection, style affines - divided by k),
        so images do not change; it puts the synthetic W+ on a scale where the
        paper's d and alpha_max apply.
        """
        ws = self.mapping(z)
        norms = (ws - self.w_avg[None]).flatten(1).norm(dim=1)
        k = float(target_norm / norms.median())
        last = self.mapping_net[-1]
        last.weight.mul_(k)
        last.bias.mul_(k)
        self.w_avg_buffer.mul_(k)
        self.project.weight.div_(k)
        if self.num_points:
            self.project_points[0].weight[:, : self.w_dim].div_(k)
        for module in self.modules():
            if isinstance(module, ModulatedConv):
                module.affine_w.weight.div_(k)
        return k


def save_generator(path: str, generator: SyntheticGenerator, meta: dict | None = None) -> None:
    save_checkpoint(path, CHECKPOINT_KIND, generator.state_dict(), generator.init_kwargs, meta)


def load_generator(path: str) -> SyntheticGenerator:
    payload = load_checkpoint(path, CHECKPOINT_KIND)
    kwargs = dict(payload["init_kwargs"])
    kwargs["channels"] = tuple(kwargs["channels"])
    generator = SyntheticGenerator(**kwargs)
    generator.load_state_dict(payload["state_dict"], strict=True)
    return generator.eval()
