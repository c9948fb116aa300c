import numpy as np
import torch
import torch.nn.functional as F

from idunlearn.generators.synthetic import SyntheticGenerator
from idunlearn.inversion import InversionConfig, invert
from idunlearn.training import Schedule, train_encoder, train_generator, train_identity
from idunlearn.world import renderer
from idunlearn.world.build import key_points

from tiny import squared_perceptual


def tiny_world(n_identities=6, per_identity=4):
    rng = np.random.default_rng(0)
    identity = np.repeat(renderer.sample_identity_codes(n_identities, rng), per_identity, 0)
    nuisance = renderer.sample_nuisance_codes(len(identity), rng)
    yaw = rng.uniform(-0.3, 0.3, len(identity)).astype(np.float32)
    images = torch.from_numpy(renderer.render(identity, nuisance, yaw))
    codes = torch.from_numpy(np.concatenate([identity, nuisance], 1))
    return images, codes, torch.from_numpy(yaw)[:, None]


def test_encoder_then_optimisation_reconstructs_better_than_the_encoder_alone():
    torch.manual_seed(0)
    images, codes, yaw = tiny_world()
    generator = train_generator(images, codes, yaw, Schedule(40, 8, 3e-3), seed=0, w_norm=50.0)
    encoder_net = train_encoder(images, codes, generator, Schedule(20, 8, 1e-3), seed=0)
    encoder = lambda x: encoder_net(x, generator.w_avg)  # noqa: E731
    config = InversionConfig("optimisation", steps=30, lr=0.05, lpips_weight=1.0)
    targets, cams = images[:4], yaw[:4]
    by_encoder = InversionConfig("encoder")
    w_enc = invert(generator, encoder, targets, cams, squared_perceptual, by_encoder)
    w_opt = invert(generator, encoder, targets, cams, squared_perceptual, config)
    assert w_opt.shape == (4, generator.num_ws, generator.w_dim)
    with torch.no_grad():
        err_enc = F.mse_loss(generator.synthesis(w_enc, cams)["image"], targets)
        err_opt = F.mse_loss(generator.synthesis(w_opt, cams)["image"], targets)
    assert err_opt < 0.95 * err_enc
    # the generator's weights are not touched by inversion
    assert all(not p.requires_grad for p in generator.parameters())


def test_trained_generator_tracks_w_avg_and_has_the_configured_scale():
    images, codes, yaw = tiny_world()
    generator = train_generator(images, codes, yaw, Schedule(10, 8, 3e-3), seed=1, w_norm=20.0)
    ws = generator.mapping(torch.randn(512, codes.shape[1]))
    assert (ws - generator.w_avg).flatten(1).norm(dim=1).median().item() == pytest_approx(20.0)
    assert isinstance(generator, SyntheticGenerator)


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=0.15)


def test_identity_training_is_deterministic_despite_dropout():
    images, _, _ = tiny_world(n_identities=4, per_identity=3)
    labels = torch.arange(4).repeat_interleave(3)
    a = train_identity(images, labels, "resnet", Schedule(3, 6, 1e-3), seed=4, width=8)
    b = train_identity(images, labels, "resnet", Schedule(3, 6, 1e-3), seed=4, width=8)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_point_supervision_moves_the_generators_key_points_to_the_landmarks():
    """A flipped sign or a zero weight on the points' L1 leaves them where they started."""
    images, codes, yaw = tiny_world()
    k = len(renderer.IDENTITY_PARAMS)
    points = key_points(codes[:, :k].numpy(), yaw[:, 0].numpy(), 64)
    schedule = Schedule(60, 8, 3e-3)
    untrained = train_generator(images, codes, yaw, Schedule(1, 8, 0.0), 2, 20.0, points=points)
    trained = train_generator(images, codes, yaw, schedule, 2, 20.0, points=points)
    with torch.no_grad():
        before = (untrained.key_points(untrained.mapping(codes), yaw) - points).abs().mean()
        after = (trained.key_points(trained.mapping(codes), yaw) - points).abs().mean()
    assert trained.num_points == len(renderer.LANDMARK_NAMES)
    assert after < 0.5 * before
