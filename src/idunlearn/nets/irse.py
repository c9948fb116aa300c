"""IR and IR-SE ResNet face-recognition backbones (ArcFace IR-SE50, CurricularFace IR-101).

Module and parameter names follow the public checkpoints so that they load with
strict=True:
- `model_ir_se50.pth` (ArcFace IR-SE50 of TreB1eN/InsightFace_Pytorch, as shipped with
  pSp/e4e; GUIDE's ID-loss network): `Backbone(112, 50, "ir_se")` with an affine final
  BatchNorm1d (`output_layer.4.weight`/`.bias` present).
- `CurricularFace_Backbone.pth` (HuangYG123/CurricularFace IR-101; GUIDE's evaluation
  network): `Backbone(112, 100, "ir")` with a non-affine final BatchNorm1d (running stats
  only). It was saved from `backbone.module`, so it carries no `module.` prefix; a
  DataParallel copy that does is accepted too.

Layout: `input_layer` (conv 3x3, BN, PReLU) -> `body` (one `Bottleneck` per unit) ->
`output_layer` (BN2d, Dropout, Flatten, Linear(512*7*7, 512), BN1d). A unit is
`shortcut_layer` (MaxPool2d(1, stride) when the width is unchanged, else 1x1 conv + BN)
plus `res_layer` (BN, conv 3x3, PReLU, conv 3x3 with the stride, BN[, SE]); the SE
module's `fc1`/`fc2` are bias-free 1x1 convs. `forward` returns the raw 512-d embedding
(the reference classes differ here: pSp L2-normalises, CurricularFace also returns the
conv features); callers normalise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from idunlearn.io import ArtefactError

# units per stage (widths 64, 128, 256, 512; the first unit of each stage has stride 2)
STAGE_UNITS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
STAGE_WIDTHS = (64, 128, 256, 512)
MODES = ("ir", "ir_se")


class SEModule(nn.Module):
    """Squeeze-and-excitation with 1x1 convs (the checkpoints store fc1/fc2 as conv weights)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * scale


class Bottleneck(nn.Module):
    """One IR unit: pre-activation residual branch plus a (possibly strided) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, se: bool) -> None:
        super().__init__()
        if c_in == c_out:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )
        layers: list[nn.Module] = [
            nn.BatchNorm2d(c_in),
            nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
            nn.PReLU(c_out),
            nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if se:
            layers.append(SEModule(c_out))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


def _body(num_layers: int, se: bool) -> nn.Sequential:
    units = []
    c_in = 64
    for width, count in zip(STAGE_WIDTHS, STAGE_UNITS[num_layers], strict=True):
        for index in range(count):
            units.append(Bottleneck(c_in, width, 2 if index == 0 else 1, se))
            c_in = width
    return nn.Sequential(*units)


class Backbone(nn.Module):
    """IR / IR-SE ResNet for 112x112 faces in [-1, 1]; outputs an unnormalised 512-d embedding.

    `affine` sets the final BatchNorm1d: True for ArcFace IR-SE50, False for CurricularFace.
    """

    def __init__(
        self,
        input_size: int = 112,
        num_layers: int = 50,
        mode: str = "ir_se",
        drop_ratio: float = 0.4,
        affine: bool = True,
    ) -> None:
        super().__init__()
        if input_size != 112:
            raise ValueError(f"input_size must be 112, got {input_size}")
        if num_layers not in STAGE_UNITS:
            raise ValueError(f"num_layers must be one of {sorted(STAGE_UNITS)}, got {num_layers}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)
        )
        self.body = _body(num_layers, se=mode == "ir_se")
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(512 * 7 * 7, 512),
            nn.BatchNorm1d(512, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.body(self.input_layer(x)))


def _read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The file's tensors, without a DataParallel `module.` prefix.

    The copy drops torch's per-module version metadata, so a file written before
    BatchNorm gained `num_batches_tracked` (torch < 0.4.1) still loads strictly.
    """
    if not os.path.isfile(path):
        raise ArtefactError(f"missing file: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        raise ArtefactError(f"not a torch state dict: {path} ({type(err).__name__})") from err
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ArtefactError(f"not a torch state dict: {path}")
    if state and all(key.startswith("module.") for key in state):
        return {key.removeprefix("module."): value for key, value in state.items()}
    return dict(state)


def load_backbone(path: str | os.PathLike[str], num_layers: int, mode: str) -> Backbone:
    """Build `Backbone(112, num_layers, mode)`, load `path` strictly and return it in eval mode.

    Whether the final BatchNorm1d is affine is read from the file (ArcFace: yes,
    CurricularFace: no); every other key and shape must match exactly.
    """
    state = _read_state_dict(path)
    affine = "output_layer.4.weight" in state
    model = Backbone(112, num_layers, mode, affine=affine)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        problem = " ".join(str(err).split())
        raise ArtefactError(
            f"{path} does not match Backbone(112, {num_layers}, {mode!r}): {problem[:300]}"
        ) from err
    return model.eval()
