import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from idunlearn.checkpoints import save_checkpoint
from idunlearn.generators.synthetic import (
    SyntheticGenerator,
    load_generator,
    save_generator,
    upsample2x,
)
from idunlearn.io import ArtefactError
from idunlearn.training import GeneratorData, image_gradient_l1, image_l1, weighted_mean
from idunlearn.world import renderer
from idunlearn.world.build import feature_weights, fresh_renders, key_points


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


# -- how the generator is fit: feature weights, fresh renders, coordinate planes -------------


def test_weighted_mean_and_gradient_l1_by_hand():
    values = torch.tensor([[[[1.0, 3.0]]]])
    assert weighted_mean(values, torch.tensor([[[[1.0, 3.0]]]])).item() == pytest.approx(2.5)
    a = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    b = torch.zeros_like(a)
    weights = torch.tensor([[[[1.0, 3.0], [2.0, 5.0]]]])
    # dx = [1, 2] weighed by the left pixels [1, 2]; dy = [2, 3] by the upper ones [1, 3]
    assert image_gradient_l1(a, b, weights).item() == pytest.approx(5 / 3 + 11 / 4)
    assert image_gradient_l1(a, b).item() == pytest.approx(1.5 + 2.5)
    assert image_gradient_l1(a, b, torch.ones_like(a)).item() == pytest.approx(4.0)
    # pixels |a| = [0, 1, 2, 4] under the same weights: 27 / 11
    assert image_l1(a, b, weights).item() == pytest.approx(27 / 11 + 5 / 3 + 11 / 4)
    assert image_l1(a, b, None).item() == pytest.approx(7 / 4 + 4.0)


def test_feature_weights_peak_on_the_small_features():
    rng = np.random.default_rng(0)
    identity = renderer.sample_identity_codes(3, rng)
    yaw = np.array([0.0, 0.3, -0.3], dtype=np.float32)
    weights = feature_weights(identity, yaw, 64, 8.0)
    assert weights.shape == (3, 1, 64, 64)
    points = renderer.landmarks(identity, yaw, 64)
    for name in ("eye_left", "eye_right", "brow_left", "nose_tip"):
        x, y = np.rint(points[:, renderer.LANDMARK_NAMES.index(name)]).astype(int).T
        assert (weights[np.arange(3), 0, y, x] > 1 + 8.0 * 0.9).all(), name
    assert weights[:, 0, 0, 0].max() < 1.001 and weights.min() >= 1.0  # corners: weight 1
    assert torch.equal(feature_weights(identity, yaw, 64, 0.0), torch.ones(3, 1, 64, 64))


def test_fresh_renders_are_the_renderers_quantised_images_of_seeded_codes():
    draw = fresh_renders(64, 0.4, 8.0, points=True)
    drawn = draw(4, np.random.default_rng(3))
    images, codes, yaw, weights, points = drawn
    again = draw(4, np.random.default_rng(3))
    assert all(torch.equal(x, y) for x, y in zip(drawn, again, strict=True))
    k = len(renderer.IDENTITY_PARAMS)
    rendered = renderer.render(codes[:, :k].numpy(), codes[:, k:].numpy(), yaw[:, 0].numpy())
    assert (images - torch.from_numpy(rendered)).abs().max() <= 1 / 127.5  # uint8 steps
    assert yaw.abs().max() <= 0.4 and weights.shape == (4, 1, 64, 64)
    assert torch.equal(points, key_points(codes[:, :k].numpy(), yaw[:, 0].numpy(), 64))
    plain = fresh_renders(64, 0.4, None, points=False)(2, np.random.default_rng(0))
    assert plain[3] is None and plain[4] is None


def test_key_points_are_the_landmarks_at_pixel_centres_in_minus_one_to_one():
    rng = np.random.default_rng(0)
    identity, yaw = renderer.sample_identity_codes(3, rng), np.zeros(3, np.float32)
    pixels = renderer.landmarks(identity, yaw, 64)
    points = key_points(identity, yaw, 64)
    assert points.shape == (3, len(renderer.LANDMARK_NAMES), 2)
    # pixel 0's centre is -1 + 1/64, pixel 63's is 1 - 1/64
    assert torch.allclose(points, torch.from_numpy((pixels + 0.5) / 32 - 1))
    assert points.abs().max() < 1


def test_a_batch_takes_its_fresh_share_from_the_renders():
    images, codes, yaw = torch.zeros(6, 3, 4, 4), torch.zeros(6, 2), torch.zeros(6, 1)
    calls = []

    def fresh(n, rng):
        calls.append(n)
        return torch.ones(n, 3, 4, 4), torch.ones(n, 2), torch.ones(n, 1), None, torch.ones(n, 5, 2)

    points = torch.zeros(6, 5, 2)
    data = GeneratorData(images, codes, yaw, None, points, fresh, 0.5)
    batch = data.batch(torch.tensor([5, 1, 2, 3]), np.random.default_rng(0))
    real, z, cam, weights, where = batch
    assert calls == [2] and weights is None
    assert real[:2].eq(0).all() and real[2:].eq(1).all() and z[2:].eq(1).all()
    assert where.shape == (4, 5, 2) and where[:2].eq(0).all() and where[2:].eq(1).all()
    plain = GeneratorData(images, codes, yaw).batch(torch.tensor([5, 1]), None)
    assert len(plain[0]) == 2 and plain[3] is None and plain[4] is None


def test_coordinate_planes_feed_every_conv_and_survive_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    g = SyntheticGenerator(z_dim=7, coords=True).eval()
    assert g.backbone[0].weight.shape[1] == 64 + 3 and g.head[0].weight.shape[1] == 32 + 3
    planes = g.planes(torch.zeros(2, 5, 4, 4), None)
    assert planes.shape == (2, 8, 4, 4)
    assert planes[0, 5, 0].tolist() == pytest.approx([-1, -1 / 3, 1 / 3, 1])  # x
    assert planes[0, 7].eq(1).all()  # the ones plane
    save_generator(tmp_path / "g.pt", g)
    ws, cam = g.mapping(torch.randn(2, 7)), torch.zeros(2, 1)
    loaded = load_generator(tmp_path / "g.pt")
    assert torch.equal(loaded.synthesis(ws, cam)["image"], g.synthesis(ws, cam)["image"])
    assert SyntheticGenerator(z_dim=7).planes(planes, None).shape == planes.shape  # off: unchanged


def test_key_point_heatmaps_peak_where_the_points_are():
    torch.manual_seed(0)
    g = SyntheticGenerator(z_dim=7, points=2).eval()
    assert g.backbone[0].weight.shape[1] == 64 + 2 and g.head[0].weight.shape[1] == 32 + 2
    # pixel (x 1, y 2) of an 8 x 8 map has its centre at (-1 + 3/8, -1 + 5/8)
    points = torch.tensor([[[-0.625, -0.375], [0.875, 0.875]]])
    maps = g.planes(torch.zeros(1, 3, 8, 8), points)[0, 3:]
    assert maps.shape == (2, 8, 8) and maps[0, 2, 1] == pytest.approx(1.0)
    assert maps[1, 7, 7] == pytest.approx(1.0)
    assert maps[0, 2, 2] == pytest.approx(math.exp(-0.5))  # one pixel away: one sigma
    # sigma is one pixel at every resolution: at 16 x 16, pixel (14, 15) is half a pixel off
    # the second point in x and in y, (1/2)^2 sigma^2 in all
    at16 = g.planes(torch.zeros(1, 3, 16, 16), points)[0, 4, 15, 14]
    assert at16 == pytest.approx(math.exp(-0.25))


def test_key_points_follow_w_and_yaw_and_survive_rescaling_and_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    g = SyntheticGenerator(z_dim=7, points=3).eval()
    z, cam = torch.randn(4, 7), torch.tensor([[0.0], [0.1], [0.2], [-0.2]])
    ws = g.mapping(z)
    points = g.key_points(ws, cam)
    assert points.shape == (4, 3, 2)
    assert not torch.allclose(points, g.key_points(ws, torch.zeros(4, 1)))
    image = g.synthesis(ws, cam)["image"]
    with torch.no_grad():
        g.rescale_w(50.0, torch.randn(256, 7))
    assert torch.allclose(g.key_points(g.mapping(z), cam), points, atol=1e-5)
    assert torch.allclose(g.synthesis(g.mapping(z), cam)["image"], image, atol=1e-4)
    assert "project_points.0.weight" in g.trainable_names()  # unlearning may move them
    save_generator(tmp_path / "g.pt", g)
    loaded = load_generator(tmp_path / "g.pt")
    assert torch.equal(loaded.key_points(ws, cam), g.key_points(ws, cam))
    assert SyntheticGenerator(z_dim=7).key_points(ws, cam) is None


@pytest.mark.parametrize("shape", [(3, 5, 4, 4), (2, 8, 16, 16)])
def test_upsampling_is_torchs_bilinear_bit_for_bit_forward_and_backward(shape):
    """The faster layout must not change a number: not the image, not the gradient."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    ours = upsample2x(x)
    torchs = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
    assert ours.is_contiguous() and torch.equal(ours, torchs)
    grad = torch.randn_like(torchs)
    ours.backward(grad)
    torchs.backward(grad)
    assert torch.equal(x.grad, y.grad)
