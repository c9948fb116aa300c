import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from idunlearn.io import UserError
from idunlearn.losses import LossConfig, StepDraws, draw_step, local_terms, step_loss

from tiny import TinyGenerator, flat_embed, squared_perceptual

ROOT = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_step", ROOT / "bench" / "unlearning_step.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_local_terms_match_hand_computation():
    feats_u = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    feats_s = torch.tensor([[[[1.0, 0.0], [3.0, 0.0]]]])  # MSE = (4 + 16) / 4 = 5
    image_u = torch.zeros(1, 3, 2, 2)
    image_s = torch.ones(1, 3, 2, 2)  # squared perceptual = 1
    embed = lambda x: torch.tensor([[1.0, 0.0]]) if x.sum() == 0 else torch.tensor([[0.6, 0.8]])  # noqa: E731
    config = LossConfig(feature_weight=0.01, lpips_weight=1.0, id_weight=0.1)
    value = local_terms(
        {"features": feats_u, "image": image_u},
        {"features": feats_s, "image": image_s},
        squared_perceptual,
        embed,
        config,
    )
    assert value.item() == pytest.approx(0.01 * 5 + 1.0 * 1 + 0.1 * (1 - 0.6))


def test_adjacency_draws_have_length_alpha_and_point_at_mapped_latents():
    g = TinyGenerator()
    w_u = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    config = LossConfig(adj_weight=1.0, global_weight=1.0, alpha_max=3.0, num_adj=4, num_global=3)
    draws = draw_step(g, w_u, config, torch.Generator().manual_seed(0))
    assert draws.deltas.shape == (4, 2, 2) and draws.w_global.shape == (3, 2, 2)
    norms = draws.deltas.flatten(1).norm(dim=1)
    assert torch.all(norms <= 3.0) and torch.all(norms > 0)
    # each w_global row is a mapped latent: both W+ rows equal (TinyGenerator broadcasts)
    assert torch.equal(draws.w_global[:, 0], draws.w_global[:, 1])


def test_switched_off_terms_draw_nothing():
    g = TinyGenerator()
    draws = draw_step(g, torch.ones(2, 2), LossConfig(), torch.Generator().manual_seed(0))
    assert len(draws.deltas) == 0 and len(draws.w_global) == 0


def test_step_loss_hand_computed_for_the_tiny_generator():
    g_s = TinyGenerator().requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    with torch.no_grad():
        g_u.gain.mul_(2.0)
    w_u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w_t = torch.zeros(2, 2)
    draws = StepDraws(
        camera=torch.zeros(1, 1),
        deltas=torch.zeros(0, 2, 2),
        w_global=torch.tensor([[[1.0, 1.0], [1.0, 1.0]]]),
    )
    config = LossConfig(feature_weight=1.0, lpips_weight=1.0, id_weight=0.0, global_weight=2.0)
    out = step_loss(g_u, g_s, w_u, w_t, draws, squared_perceptual, flat_embed, config)
    # local: features_u = w_u * 2 gain = [[2, 0], [0, -2]], features_s = 0 -> MSE = 8 / 4 = 2;
    # images = 0.5 * features -> squared perceptual = (1 + 1) / 4 = 0.5
    assert out["local"].item() == pytest.approx(2.0 + 0.5)
    # global: w = ones; features_u = 2 gain = [[2, 4], [1, -2]], features_s = [[1, 2], [.5, -1]];
    # image diff = 0.5 * [[1, 2], [.5, -1]] -> squared mean = (0.25 + 1 + 0.0625 + 0.25) / 4
    assert out["global"].item() == pytest.approx(1.5625 / 4)
    assert out["total"].item() == pytest.approx(2.5 + 2.0 * 1.5625 / 4)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batched_and_sequential_steps_agree_in_loss_and_gradients(reduction):
    from idunlearn.generators.synthetic import SyntheticGenerator

    torch.manual_seed(0)
    g_s = SyntheticGenerator(
        z_dim=5, w_dim=8, mapping_width=16, channels=(8, 8), head_channels=4
    ).requires_grad_(False)
    w_u = g_s.mapping(torch.randn(1, 5))[0]
    w_t = g_s.w_avg.clone() - 0.3
    config = LossConfig(adj_weight=1.0, global_weight=1.0, alpha_max=2.0, reduction=reduction)
    draws = draw_step(g_s, w_u, config, torch.Generator().manual_seed(3))
    bench = load_bench()
    results = []
    for fn in (step_loss, bench.sequential_step_loss):
        g_u = copy.deepcopy(g_s)
        with torch.no_grad():  # move G_u off G_s so every term is non-zero
            for p in g_u.trainable_parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
        g_u.freeze_all_but_trainable()
        loss = fn(g_u, g_s, w_u, w_t, draws, squared_perceptual, flat_embed, config)
        loss["total"].backward()
        results.append((loss, [p.grad.clone() for p in g_u.trainable_parameters()]))
    (batched, grads_b), (sequential, grads_s) = results
    for key in ("total", "local", "adj", "global"):
        assert batched[key].item() == pytest.approx(sequential[key].item(), rel=1e-5)
    for a, b in zip(grads_b, grads_s, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_reduction_is_validated():
    with pytest.raises(UserError, match="reduction"):
        LossConfig(reduction="median")
