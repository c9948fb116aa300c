"""The GOAE inversion encoder (jiangyzy/GOAE, `encoder_FFHQ.pt`) as image -> W+.

GOAE's encoder maps a 256 x 256 face in [-1, 1] to an offset from w_avg in
EG3D's W+ [14, 512]. GUIDE uses only this encoder (not GOAE's AFA feature
refinement): `w_u = encoder(image_256)[0] + w_avg`, with w_avg from
`w_avg_ffhqrebalanced512-128.pt` (GOAE's own inference adds the mapping's
w_avg buffer instead); the adapter adds the generator adapter's w_avg, which
is either, depending on how the generator was loaded.

Departure, on purpose: GUIDE runs the encoder in train mode (dropout and
drop-path active, so its inversion is random); this adapter runs it in eval
mode, as GOAE's own infer.py does, so an inversion is repeatable.

Read against (pinned; the assets step fetches these trees):
- jiangyzy/GOAE  ba7ef3d652aef73e7995d29a0261e5d08df406e2 (goae/infer.py,
  goae/training/goae.py, goae/configs/*, goae/training/dataset_face.py)
- KU-VGI/GUIDE   8c2034840a0c987effa06d459a14caf821dc7173 (unlearn.py, goae/)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.generators.base import GeneratorAdapter

INPUT_SIZE = 256  # the Swin backbone's fixed input (swinv2.yaml DATA.IMG_SIZE)
STAGE_LIST = [10000, 20000, 30000]  # GOAE's Net.set_encoder and GUIDE; the stage ends at "fine"
MLP_LAYER = 2  # infer_config.py --mlp_layer


def resize_for_encoder(images: torch.Tensor) -> torch.Tensor:
    """Any square size -> 256 x 256, antialiased bicubic: the reference resizes the
    aligned 512 image with PIL's default (bicubic) filter before encoding."""
    if images.shape[-1] == INPUT_SIZE and images.shape[-2] == INPUT_SIZE:
        return images
    return F.interpolate(
        images, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", antialias=True, align_corners=False
    )


class GOAEInverter(nn.Module):
    """images [B, 3, H, W] in [-1, 1] -> W+ [B, num_ws, w_dim] = encoder offset + w_avg."""

    def __init__(self, encoder: nn.Module, w_avg: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        self.register_buffer("w_avg", w_avg.detach().clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_for_encoder(images.to(self.w_avg.device, torch.float32))
        offset, _ = self.encoder(x)  # GOAEncoder returns (ws, ws_base)
        return offset + self.w_avg


def import_file(path: Path, name: str):
    """Load one source file as module `name` (GOAE's `training` package would clash
    with EG3D's, which the generator already imported)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_goae_encoder(code_root: str | Path) -> nn.Module:
    """An untrained GOAEncoder configured as GOAE's infer.py builds it (swinv2.yaml,
    mlp_layer 2, stage_list [10000, 20000, 30000]).

    `code_root` is a checkout of jiangyzy/GOAE. Its `goae/` folder is appended to
    sys.path for its `models` and `configs` modules; training/goae.py also imports
    EG3D's `training.triplane`, `legacy` and `torch_utils`, which resolve to the
    NVlabs/eg3d code `load_eg3d` put on sys.path (so load the generator first).
    Needs `timm` and `yacs`, as GOAE does.
    """
    code_dir = (Path(code_root) / "goae").resolve()
    if str(code_dir) not in sys.path:
        sys.path.append(str(code_dir))
    swin_config = import_file(code_dir / "configs" / "swin_config.py", "goae_swin_config")
    config = swin_config.get_config(SimpleNamespace(cfg=str(code_dir / "configs" / "swinv2.yaml")))
    goae = import_file(code_dir / "training" / "goae.py", "goae_training_goae")
    return goae.GOAEncoder(config, mlp_layer=MLP_LAYER, stage_list=STAGE_LIST)


def load_goae_encoder(
    path: str | Path,
    code_root: str | Path,
    generator: GeneratorAdapter,
    device: str | torch.device = "cpu",
) -> GOAEInverter:
    """GOAE's encoder with the weights at `path` (a plain state dict, loaded with
    weights_only), in eval mode, frozen, on `device`."""
    encoder = build_goae_encoder(code_root)
    state = torch.load(path, map_location="cpu", weights_only=True)
    encoder.load_state_dict(state, strict=True)
    return GOAEInverter(encoder, generator.w_avg.detach().cpu()).to(device)
