"""The GOAE encoder adapter against a stand-in encoder with GOAEncoder's call signature."""

import sys

import pytest
import torch
from torch import nn

from idunlearn.encoders.goae import INPUT_SIZE, GOAEInverter, load_goae_encoder

from tiny import TinyGenerator


class StandInGOAEncoder(nn.Module):
    """image [B, 3, 256, 256] -> (ws offset [B, 2, 2], ws_base), with dropout as in Swin."""

    def __init__(self, swin_config=None, mlp_layer=2, ws_dim=2, stage_list=(1, 2, 3)):
        super().__init__()
        self.config, self.mlp_layer, self.stage_list = swin_config, mlp_layer, list(stage_list)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(3 * 16, ws_dim * 2)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        ws = self.fc(self.drop(self.pool(x).flatten(1))).view(len(x), -1, 2)
        return ws, ws[:, :1].repeat(1, ws.shape[1], 1)


def test_output_is_offset_plus_w_avg_on_a_256_input():
    torch.manual_seed(0)
    encoder, w_avg = StandInGOAEncoder(), torch.randn(2, 2)
    invert = GOAEInverter(encoder, w_avg)
    images = torch.rand(3, 3, 512, 512) * 2 - 1
    ws = invert(images)
    assert encoder.seen == [(3, 3, INPUT_SIZE, INPUT_SIZE)]
    resized = nn.functional.interpolate(
        images, size=256, mode="bicubic", antialias=True, align_corners=False
    )
    torch.testing.assert_close(ws, encoder(resized)[0] + w_avg)
    assert ws.shape == (3, 2, 2)


def test_encoder_runs_in_eval_mode_so_inversion_is_repeatable():
    invert = GOAEInverter(StandInGOAEncoder(), torch.zeros(2, 2))
    images = torch.rand(2, 3, 256, 256)
    assert not invert.encoder.training
    assert not any(p.requires_grad for p in invert.parameters())
    torch.testing.assert_close(invert(images), invert(images), rtol=0, atol=0)
    assert invert.encoder.seen == [(2, 3, 256, 256)] * 2  # 256 input is not resampled


@pytest.fixture
def fake_goae_root(tmp_path, monkeypatch):
    """A code root with GOAE's layout: goae/configs/{swin_config.py,swinv2.yaml},
    goae/training/goae.py defining GOAEncoder."""
    code = tmp_path / "goae_repo" / "goae"
    (code / "configs").mkdir(parents=True)
    (code / "training").mkdir()
    (code / "configs" / "swinv2.yaml").write_text("DATA:\n  IMG_SIZE: 256\n")
    (code / "configs" / "swin_config.py").write_text(
        "def get_config(args):\n    return {'cfg': args.cfg}\n"
    )
    (code / "training" / "goae.py").write_text(
        "from test_goae import StandInGOAEncoder as GOAEncoder  # noqa: F401\n"
    )
    monkeypatch.setattr(sys, "path", [*sys.path])
    return code.parent


def test_load_goae_encoder_builds_as_goae_infer_and_loads_weights(tmp_path, fake_goae_root):
    weights = StandInGOAEncoder().state_dict()
    torch.save(weights, tmp_path / "encoder_FFHQ.pt")
    generator = TinyGenerator()
    invert = load_goae_encoder(tmp_path / "encoder_FFHQ.pt", fake_goae_root, generator, "cpu")
    encoder = invert.encoder
    assert encoder.config["cfg"].endswith("goae/configs/swinv2.yaml")
    assert encoder.mlp_layer == 2 and encoder.stage_list == [10000, 20000, 30000]
    for name, value in weights.items():
        assert torch.equal(encoder.state_dict()[name], value), name
    torch.testing.assert_close(invert.w_avg, generator.w_avg)
    assert invert(torch.zeros(1, 3, 512, 512)).shape == (1, 2, 2)
