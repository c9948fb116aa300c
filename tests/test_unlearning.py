import pytest
import torch

from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.generators.synthetic import SyntheticGenerator
from idunlearn.losses import LossConfig
from idunlearn.unlearning import UnlearnSchedule, unlearn

from tiny import flat_embed, squared_perceptual


def small_generator() -> SyntheticGenerator:
    torch.manual_seed(0)
    return SyntheticGenerator(
        z_dim=5, w_dim=8, mapping_width=16, channels=(8, 8), head_channels=4
    ).requires_grad_(False)


def run(g_s, seed=0, steps=3):
    w_u = g_s.mapping(torch.randn(1, 5, generator=torch.Generator().manual_seed(9)))[0]
    config = LossConfig(adj_weight=1.0, global_weight=1.0, alpha_max=1.0)
    return unlearn(
        g_s,
        w_u,
        g_s.w_avg.clone(),
        squared_perceptual,
        flat_embed,
        config,
        UnlearnSchedule(steps=steps, lr=1e-2),
        seed=seed,
        show_progress=False,
    )


def test_only_the_backbone_moves_and_g_s_stays_as_it_was():
    g_s = small_generator()
    before = {n: p.clone() for n, p in g_s.named_parameters()}
    g_u, history = run(g_s)
    trainable = set(g_s.trainable_names())
    assert trainable and all(n.startswith(("project", "backbone.")) for n in trainable)
    for name, param in g_u.named_parameters():
        moved = not torch.equal(param, before[name])
        assert moved == (name in trainable), name
    for name, param in g_s.named_parameters():
        assert torch.equal(param, before[name]), f"G_s changed: {name}"
    assert len(history) == 3 and all(h["adj"] > 0 and h["global"] >= 0 for h in history)


def test_same_seed_same_weights_other_seed_other_weights():
    g_s = small_generator()
    a, _ = run(g_s, seed=1)
    b, _ = run(g_s, seed=1)
    c, _ = run(g_s, seed=2)
    sa, sb, sc = a.trainable_state_dict(), b.trainable_state_dict(), c.trainable_state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_saved_trainable_parameters_reload_to_the_same_images(tmp_path):
    g_s = small_generator()
    g_u, _ = run(g_s)
    save_checkpoint(tmp_path / "u.pt", "unlearned-generator", g_u.trainable_state_dict())
    reloaded = small_generator()
    reloaded.load_trainable_state_dict(
        load_checkpoint(tmp_path / "u.pt", "unlearned-generator")["state_dict"]
    )
    ws = g_s.mapping(torch.randn(4, 5))
    cam = torch.zeros(4, 1)
    assert torch.equal(reloaded.synthesis(ws, cam)["image"], g_u.synthesis(ws, cam)["image"])


def test_a_trainable_state_of_another_network_is_rejected():
    g = small_generator()
    with pytest.raises(KeyError, match="missing"):
        g.load_trainable_state_dict({"backbone.0.weight": torch.zeros(1)})
