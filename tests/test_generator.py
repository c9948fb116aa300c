import math

import pytest
import torch

from idunlearn.checkpoints import save_checkpoint
from idunlearn.generators.synthetic import SyntheticGenerator, load_generator, save_generator
from idunlearn.io import ArtefactError


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return SyntheticGenerator(z_dim=7).eval()


def test_interface_shapes(generator):
    z = torch.randn(3, 7)
    ws = generator.mapping(z, generator.frontal_camera(3))
    assert ws.shape == (3, generator.num_ws, generator.w_dim)
    assert generator.w_avg.shape == (generator.num_ws, generator.w_dim)
    out = generator.synthesis(ws, torch.zeros(3, 1))
    assert out["image"].shape == (3, 3, 64, 64)
    assert out["features"].shape == (3, 32, 32, 32)
    assert generator.eval_cameras().shape == (11, 1)
    cams = generator.sample_train_cameras(100, torch.Generator().manual_seed(0))
    assert cams.abs().max() <= math.pi / 12


def test_camera_changes_the_image(generator):
    ws = generator.mapping(torch.randn(1, 7))
    a = generator.synthesis(ws, torch.zeros(1, 1))["image"]
    b = generator.synthesis(ws, torch.full((1, 1), 0.2))["image"]
    assert not torch.allclose(a, b)


def test_rescale_w_sets_the_latent_scale_without_changing_images(generator):
    g = SyntheticGenerator(z_dim=7)
    g.load_state_dict(generator.state_dict())
    z = torch.randn(256, 7, generator=torch.Generator().manual_seed(1))
    cam = torch.zeros(4, 1)
    before = g.synthesis(g.mapping(z[:4]), cam)["image"]
    g.rescale_w(50.0, z)
    norms = (g.mapping(z) - g.w_avg).flatten(1).norm(dim=1)
    assert norms.median().item() == pytest.approx(50.0, rel=1e-4)
    assert torch.allclose(g.synthesis(g.mapping(z[:4]), cam)["image"], before, atol=1e-5)


def test_checkpoint_round_trip_and_errors(tmp_path, generator):
    path = tmp_path / "g.pt"
    save_generator(path, generator)
    loaded = load_generator(path)
    ws = generator.mapping(torch.randn(2, 7))
    cam = torch.zeros(2, 1)
    assert torch.equal(loaded.synthesis(ws, cam)["image"], generator.synthesis(ws, cam)["image"])
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtefactError, match="corrupt checkpoint: .*bad.pt"):
        load_generator(tmp_path / "bad.pt")
    save_checkpoint(tmp_path / "other.pt", "synthetic-encoder", {})
    with pytest.raises(ArtefactError, match="expected 'synthetic-generator'"):
        load_generator(tmp_path / "other.pt")
    with pytest.raises(ArtefactError, match="missing checkpoint"):
        load_generator(tmp_path / "absent.pt")


class Pickled:
    """Not a tensor: a weights-only load refuses a file holding one."""


def test_a_refused_weights_only_load_says_so_not_corrupt(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"kind": "synthetic-generator", "state_dict": {}, "x": Pickled()}, path)
    with pytest.raises(ArtefactError) as err:
        load_generator(path)
    message = str(err.value)
    assert message.startswith(f"checkpoint {path} holds objects a weights-only load refuses")
    assert "(GLOBAL test_generator.Pickled)" in message and "corrupt" not in message
