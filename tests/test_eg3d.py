"""EG3DAdapter against a stand-in with TriPlaneGenerator's calls and attribute layout.

The real NVlabs code is checked by bench/eg3d_check.py (not in CI: it needs the
fetched repository).
"""

import hashlib
import math
import pickle
import sys

import numpy as np
import pytest
import torch
from torch import nn

from idunlearn.backend import load_generator, write_spec
from idunlearn.evaluation import evaluate, fid_reference
from idunlearn.generators.eg3d import (
    CAMERA_RADIUS,
    EG3D_LOOK_AT,
    NUM_EVAL_VIEWS,
    REFERENCE_FOCAL,
    TRAIN_PITCH,
    YAW_RANGE,
    EG3DAdapter,
    camera_labels,
    load_eg3d,
    rebuild_generator,
    render_options,
)
from idunlearn.io import UserError
from idunlearn.losses import LossConfig
from idunlearn.seeding import seed_everything
from idunlearn.unlearning import UnlearnSchedule, unlearn

from tiny import flat_embed, squared_perceptual

PLANE_CHANNELS, PLANE_RES, NUM_WS, W_DIM, Z_DIM, IMAGE = 6, 8, 4, 8, 8, 16


class StandInBackboneSynthesis(nn.Module):
    """ws -> 'tri-planes' [B, 6, 8, 8]; takes noise_mode like StyleGAN2's SynthesisNetwork."""

    def __init__(self) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(PLANE_CHANNELS, PLANE_RES, PLANE_RES))
        self.affine = nn.Linear(NUM_WS * W_DIM, PLANE_CHANNELS)
        self.noise_strength = nn.Parameter(torch.tensor(0.1))

    def forward(self, ws, update_emas=False, noise_mode="random"):
        style = self.affine(ws.flatten(1))[:, :, None, None]
        noise = torch.randn_like(self.const) if noise_mode == "random" else 0.0
        return self.const * style + self.noise_strength * noise


class StandInMapping(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(Z_DIM + 25, W_DIM)
        self.register_buffer("w_avg", torch.randn(W_DIM))

    def forward(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        w = self.fc(torch.cat([z, c], dim=1))
        w = self.w_avg.lerp(w, truncation_psi)
        return w[:, None].repeat(1, NUM_WS, 1)


class StandInBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.num_ws = NUM_WS
        self.mapping = StandInMapping()
        self.synthesis = StandInBackboneSynthesis()


class StandInTriPlane(nn.Module):
    """Same call signatures and attribute structure as EG3D's TriPlaneGenerator."""

    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, rendering_kwargs):
        super().__init__()
        self.init_args = ()
        self.init_kwargs = {
            "z_dim": z_dim,
            "c_dim": c_dim,
            "w_dim": w_dim,
            "img_resolution": img_resolution,
            "img_channels": img_channels,
            "rendering_kwargs": rendering_kwargs,
        }
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.backbone = StandInBackbone()
        self.decoder = nn.Conv2d(PLANE_CHANNELS, 3, 1)
        self.camera_head = nn.Linear(c_dim, 3)
        self.superresolution = nn.Conv2d(3, 3, 3, padding=1)
        self.neural_rendering_resolution = PLANE_RES
        self.rendering_kwargs = rendering_kwargs
        self.depth_jitter = 0.0  # > 0: a stand-in for the renderer's random ray depths

    def mapping(self, z, c, truncation_psi=1, truncation_cutoff=None, update_emas=False):
        return self.backbone.mapping(z, c, truncation_psi, truncation_cutoff, update_emas)

    def synthesis(self, ws, c, neural_rendering_resolution=None, update_emas=False, **kwargs):
        planes = self.backbone.synthesis(ws, update_emas=update_emas, **kwargs)
        raw = self.decoder(planes) + self.camera_head(c)[:, :, None, None]
        raw = raw + self.depth_jitter * torch.rand_like(raw)
        up = nn.functional.interpolate(raw, size=self.img_resolution, mode="bilinear")
        return {"image": self.superresolution(up), "image_raw": raw, "image_depth": raw[:, :1]}


def standin() -> StandInTriPlane:
    torch.manual_seed(0)
    return StandInTriPlane(Z_DIM, 25, W_DIM, IMAGE, 3, {"avg_camera_pivot": [0, 0, 0.2]})


def yaw_pitch(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert EG3D's orbit: origin -> (yaw, pitch)."""
    origin = labels[:, :16].view(-1, 4, 4)[:, :3, 3]
    yaw = math.pi - torch.atan2(origin[:, 2], origin[:, 0])
    pitch = math.pi / 2 * (1 - origin[:, 1] / origin.norm(dim=1))
    return yaw, pitch


def test_frontal_camera_is_eg3d_canonical_label():
    """GOAE hard-codes the same frontal label (training/goae.py c_front, focal 4.2647)."""
    label = EG3DAdapter(standin()).frontal_camera(2)
    expected_pose = torch.tensor(
        [[1.0, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, CAMERA_RADIUS], [0, 0, 0, 1]]
    )
    assert label.shape == (2, 25)
    torch.testing.assert_close(label[0, :16].view(4, 4), expected_pose, atol=1e-6, rtol=0)
    intrinsics = torch.tensor([REFERENCE_FOCAL, 0, 0.5, 0, REFERENCE_FOCAL, 0.5, 0, 0, 1])
    torch.testing.assert_close(label[1, 16:], intrinsics)
    assert abs(REFERENCE_FOCAL - 4.2634) < 1e-4


def test_cameras_orbit_at_radius_and_look_at_the_pivot():
    yaw = torch.tensor([math.pi / 2 - 0.3, math.pi / 2 + 0.2])
    pitch = torch.tensor([TRAIN_PITCH, math.pi / 2 + 0.1])
    for pivot in [(0.0, 0.0, 0.0), EG3D_LOOK_AT]:
        pose = camera_labels(yaw, pitch, look_at=pivot)[:, :16].view(-1, 4, 4)
        origin, rotation = pose[:, :3, 3], pose[:, :3, :3]
        torch.testing.assert_close(origin.norm(dim=1), torch.full((2,), CAMERA_RADIUS))
        identity = torch.eye(3).expand(2, 3, 3)
        torch.testing.assert_close(rotation @ rotation.transpose(1, 2), identity)
        to_pivot = torch.nn.functional.normalize(torch.tensor(pivot) - origin, dim=1)
        torch.testing.assert_close(rotation[:, :, 2], to_pivot)  # OpenCV: z looks forward
        assert (rotation[:, 1, 1] < 0).all()  # OpenCV: image y points down (world y is up)
        assert (rotation[:, 1, 0].abs() < 1e-6).all()  # no roll: x stays horizontal


def test_eval_cameras_sweep_eleven_yaws_at_training_pitch():
    cameras = EG3DAdapter(standin()).eval_cameras()
    yaw, pitch = yaw_pitch(cameras)
    assert len(cameras) == NUM_EVAL_VIEWS == 11
    expected = math.pi / 2 + torch.linspace(-YAW_RANGE, YAW_RANGE, 11)
    torch.testing.assert_close(yaw, expected)
    torch.testing.assert_close(pitch, torch.full((11,), TRAIN_PITCH))


def test_train_cameras_come_from_the_passed_generator_only():
    adapter = EG3DAdapter(standin())
    first = adapter.sample_train_cameras(64, torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # global state must not matter
    again = adapter.sample_train_cameras(64, torch.Generator().manual_seed(3))
    other = adapter.sample_train_cameras(64, torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)
    yaw, pitch = yaw_pitch(first)
    assert ((yaw - math.pi / 2).abs() <= YAW_RANGE + 1e-5).all()
    assert (yaw - math.pi / 2).std() > YAW_RANGE / 3  # spread over the range, not constant
    torch.testing.assert_close(pitch, torch.full((64,), TRAIN_PITCH))


def test_synthesis_returns_sr_image_and_planes_of_the_same_pass():
    adapter = EG3DAdapter(standin(), noise_mode="random")
    ws = adapter.mapping(torch.randn(2, Z_DIM), adapter.frontal_camera(2))
    out = adapter.synthesis(ws, adapter.eval_cameras()[:2])
    assert ws.shape == (2, NUM_WS, W_DIM)
    assert out["image"].shape == (2, 3, IMAGE, IMAGE)
    assert out["features"].shape == (2, PLANE_CHANNELS, PLANE_RES, PLANE_RES)
    # with random noise two passes differ; the image must come from the caught planes
    g = adapter.G
    raw = g.decoder(out["features"]) + g.camera_head(adapter.eval_cameras()[:2])[:, :, None, None]
    image = g.superresolution(nn.functional.interpolate(raw, size=IMAGE, mode="bilinear"))
    torch.testing.assert_close(out["image"], image)
    assert not g.backbone.synthesis._forward_hooks  # the hook is removed after the pass


def test_mapping_uses_psi_one_and_w_avg_defaults_to_the_buffer():
    adapter = EG3DAdapter(standin())
    z, c = torch.randn(3, Z_DIM), adapter.frontal_camera(3)
    torch.testing.assert_close(adapter.mapping(z, c), adapter.G.mapping(z, c, truncation_psi=1))
    assert adapter.w_avg.shape == (NUM_WS, W_DIM)
    torch.testing.assert_close(adapter.w_avg[2], adapter.G.backbone.mapping.w_avg)
    table = torch.randn(NUM_WS, W_DIM)
    torch.testing.assert_close(EG3DAdapter(standin(), w_avg=table).w_avg, table)
    with pytest.raises(ValueError, match="w_avg must be"):
        EG3DAdapter(standin(), w_avg=torch.randn(W_DIM))


def test_trainable_names_are_exactly_backbone_synthesis():
    adapter = EG3DAdapter(standin())
    names = adapter.trainable_names()
    assert sorted(names) == sorted(
        f"G.backbone.synthesis.{n}" for n, _ in adapter.G.backbone.synthesis.named_parameters()
    )
    frozen = [n for n, _ in adapter.named_parameters() if n not in names]
    assert frozen and all("backbone.synthesis" not in n for n in frozen)


def test_trainable_state_roundtrips_through_a_file(tmp_path):
    adapter = EG3DAdapter(standin())
    state = adapter.trainable_state_dict()
    torch.save(state, tmp_path / "state.pt")
    with torch.no_grad():
        for p in adapter.trainable_parameters():
            p.add_(1.0)
    adapter.load_trainable_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    for name, value in adapter.trainable_state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)


def test_short_unlearning_run_changes_only_backbone_synthesis():
    g_s = EG3DAdapter(standin(), noise_mode="const")
    before = {n: p.detach().clone() for n, p in g_s.named_parameters()}
    w_u = g_s.mapping(torch.randn(1, Z_DIM), g_s.frontal_camera(1))[0].detach()
    config = LossConfig(adj_weight=1.0, global_weight=1.0, alpha_max=2.0)
    g_u, history = unlearn(
        g_s,
        w_u,
        g_s.w_avg.clone(),
        squared_perceptual,
        flat_embed,
        config,
        UnlearnSchedule(steps=3, lr=1e-2),
        seed=0,
        show_progress=False,
    )
    assert len(history) == 3 and all(math.isfinite(h["total"]) for h in history)
    changed = {n for n, p in g_u.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= set(g_s.trainable_names())
    assert all(torch.equal(p, before[n]) for n, p in g_s.named_parameters())


def test_rebuild_generator_copies_every_tensor_and_checks_names():
    old = standin()
    old.neural_rendering_resolution = 5
    new = rebuild_generator(old, StandInTriPlane)
    assert new is not old and new.neural_rendering_resolution == 5
    for (name, a), (_, b) in zip(old.state_dict().items(), new.state_dict().items(), strict=True):
        assert torch.equal(a, b), name

    class Wider(StandInTriPlane):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.extra = nn.Linear(1, 1)

    with pytest.raises(KeyError, match="missing"):
        rebuild_generator(old, Wider)


@pytest.fixture
def fake_eg3d_root(tmp_path, monkeypatch):
    """A code root whose eg3d/ has a `legacy` and a `training.triplane` like NVlabs'."""
    code = tmp_path / "eg3d_repo" / "eg3d"
    (code / "training").mkdir(parents=True)
    (code / "training" / "__init__.py").write_text("")
    (code / "training" / "triplane.py").write_text(
        "from test_eg3d import StandInTriPlane as TriPlaneGenerator  # noqa: F401\n"
    )
    (code / "legacy.py").write_text(
        "import pickle\n\n\ndef load_network_pkl(f):\n    return pickle.load(f)\n"
    )
    monkeypatch.setattr(sys, "path", [*sys.path])
    yield code.parent
    for name in ["legacy", "training", "training.triplane"]:
        sys.modules.pop(name, None)


def test_load_eg3d_rebuilds_g_ema_in_train_mode(tmp_path, fake_eg3d_root):
    pickled = standin().eval()
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump({"G_ema": pickled}, f)
    table = torch.randn(1, NUM_WS, W_DIM)  # GUIDE's file is [14, 512]; a leading 1 is accepted
    torch.save(table, tmp_path / "w_avg.pt")
    adapter = load_eg3d(tmp_path / "g.pkl", fake_eg3d_root, tmp_path / "w_avg.pt")
    assert adapter.G is not pickled and adapter.G.training
    assert not any(p.requires_grad for p in adapter.parameters())
    torch.testing.assert_close(adapter.w_avg, table[0])
    for name, value in pickled.state_dict().items():
        assert torch.equal(adapter.G.state_dict()[name], value), name


class StandInBlock(nn.Module):
    """A SynthesisBlock's interface: (x, img, ws) -> (x, img), img accumulating toRGB."""

    def __init__(self, channels: int, upsample: bool) -> None:
        super().__init__()
        self.out_channels = channels
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.torgb = nn.Conv2d(channels, PLANE_CHANNELS, 1)
        self.affine = nn.Linear(W_DIM, channels)
        self.upsample = upsample

    def forward(self, x, img, ws, **kwargs):
        if self.upsample:
            x = nn.functional.interpolate(x, scale_factor=2)
            img = nn.functional.interpolate(img, scale_factor=2)
        x = self.conv(x * self.affine(ws[:, 0])[:, :, None, None])
        y = self.torgb(x)
        return x, y if img is None else img + y


class StandInBlockSynthesis(nn.Module):
    """StyleGAN2's SynthesisNetwork layout: block_resolutions, blocks b4 and b8, planes out."""

    def __init__(self) -> None:
        super().__init__()
        self.block_resolutions, self.img_channels = [4, 8], PLANE_CHANNELS
        self.const = nn.Parameter(torch.randn(5, 4, 4))
        self.b4, self.b8 = StandInBlock(5, False), StandInBlock(5, True)

    def forward(self, ws, update_emas=False, noise_mode="random"):
        x, img = self.b4(self.const[None].expand(len(ws), -1, -1, -1), None, ws)
        return self.b8(x, img, ws)[1]


def test_adapters_hook_after_the_synthesis_blocks_and_start_at_g_s():
    from idunlearn.methods import adapter
    from idunlearn.methods.options import AdapterOptions

    generator = standin()
    generator.backbone.synthesis = StandInBlockSynthesis()
    g_s = EG3DAdapter(generator, noise_mode="const").requires_grad_(False)
    assert list(g_s.adapter_stages()) == ["b4", "planes"]  # b8's features: read by nothing
    g_u = adapter.adapted(g_s, AdapterOptions(width=2), seed=0)
    ws = g_s.mapping(torch.randn(2, Z_DIM), g_s.frontal_camera(2))
    cameras = g_s.eval_cameras()[:2]
    with torch.no_grad():
        before, start = g_s.synthesis(ws, cameras), g_u.synthesis(ws, cameras)
        assert torch.equal(start["image"], before["image"])
        assert torch.equal(start["features"], before["features"])
        for p in g_u.trainable_parameters():
            p.add_(0.1)
        after = g_u.synthesis(ws, cameras)
        assert not torch.allclose(after["features"], before["features"])
        g_u.set_strength(0.0)
        assert torch.equal(g_u.synthesis(ws, cameras)["image"], before["image"])
    assert set(g_u.trainable_names()) == {
        n for n, _ in g_u.adapters.named_parameters(prefix="adapters")
    }


def seeded_unlearn_and_evaluate(seed: int, before: int) -> tuple[dict, dict]:
    """GUIDE's unlearning and the evaluation of its result on the stand-in with random noise
    maps and depth jitter (both from torch's global RNG), after seeding as every job does;
    `before` sets the global state that whatever ran earlier left."""
    g_s = EG3DAdapter(standin(), noise_mode="random")
    g_s.G.depth_jitter = 0.05
    torch.manual_seed(before)
    seed_everything(seed)
    w_u = g_s.mapping(torch.randn(2, Z_DIM), g_s.frontal_camera(2)).detach()
    config = LossConfig(adj_weight=1.0, global_weight=1.0, alpha_max=2.0)
    schedule = UnlearnSchedule(steps=3, lr=1e-2)
    g_u, _ = unlearn(
        g_s, w_u[0], g_s.w_avg.clone(), squared_perceptual, flat_embed, config, schedule, 0, False
    )
    features = lambda images: images.mean(dim=(2, 3))  # noqa: E731
    real = (np.zeros(3), np.eye(3))
    reference = fid_reference(g_s, real, features, n=8, seed=1, batch=4)
    source = g_s.synthesis(w_u[:1], g_s.frontal_camera(1))["image"][0].detach()
    metrics = evaluate(
        g_s,
        g_u,
        w_u[0],
        w_u[1:],
        source,
        g_s.frontal_camera(1)[0],
        flat_embed,
        features,
        reference,
        batch=4,
    )
    return g_u.trainable_state_dict(), metrics


def test_seeded_runs_repeat_bit_for_bit_despite_random_noise_and_depth_jitter():
    state, metrics = seeded_unlearn_and_evaluate(5, before=98)
    again_state, again = seeded_unlearn_and_evaluate(5, before=99)  # the job's seed decides
    assert all(torch.equal(state[name], again_state[name]) for name in state)
    assert metrics == again
    other_state, other = seeded_unlearn_and_evaluate(6, before=98)
    assert any(not torch.equal(state[name], other_state[name]) for name in state)
    assert other["id"] != metrics["id"] and other["fid_pre"] != metrics["fid_pre"]


def test_the_focal_is_the_one_guide_computes_not_the_rounded_constant():
    assert np.float32(REFERENCE_FOCAL) == np.float32(4.2633910)
    assert np.float32(REFERENCE_FOCAL) != np.float32(4.26339)
    assert EG3DAdapter(standin()).frontal_camera(1)[0, 16] == torch.tensor(4.2633910)
    assert render_options()["focal"] == REFERENCE_FOCAL
    with pytest.raises(UserError, match="eg3d.look_at"):
        render_options(look_at="origin")
    with pytest.raises(UserError, match="eg3d.focal"):
        render_options(focal="rounded")


def test_the_generator_spec_carries_how_eg3d_renders(tmp_path, fake_eg3d_root):
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump({"G_ema": standin()}, f)
    sha = hashlib.sha256((tmp_path / "g.pkl").read_bytes()).hexdigest()
    args = ("generator", "eg3d", str(tmp_path / "g.pkl"), sha, str(fake_eg3d_root))
    render = {"look_at": "eg3d", "focal": 4.2647, "noise_mode": "const"}
    write_spec(str(tmp_path / "given.json"), *args, render=render)
    given = load_generator(str(tmp_path / "given.json"))
    assert (given.look_at, given.focal, given.noise_mode) == (EG3D_LOOK_AT, 4.2647, "const")
    assert given.setting() == {"image_size": IMAGE, **render}
    write_spec(str(tmp_path / "default.json"), *args)  # a spec written before the keys existed
    default = load_generator(str(tmp_path / "default.json")).setting()
    assert default == {
        "image_size": IMAGE,
        "look_at": "reference",
        "focal": REFERENCE_FOCAL,
        "noise_mode": "random",
    }
