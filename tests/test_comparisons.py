"""The comparison methods: their losses against hand-computed values, and their loops."""

import copy

import pytest
import torch
from tinyworld import build_world

from idunlearn.checkpoints import load_checkpoint, save_checkpoint, save_module
from idunlearn.generators.synthetic import SyntheticGenerator
from idunlearn.io import ArtefactError, UserError
from idunlearn.methods import adapter, settings_json
from idunlearn.methods import encoder as enc
from idunlearn.methods.base import Files
from idunlearn.methods.cascaded import (
    CascadedConfig,
    projection_substitute,
    reconstruction,
    truncation_substitute,
    unlearn_cascaded,
)
from idunlearn.methods.encoder import (
    EncoderConfig,
    encoder_loss,
    gaussian_like,
    unlearn_encoder,
)
from idunlearn.methods.feature import (
    FeatureConfig,
    feature_loss,
    midpoint_threshold,
    ms_ssim,
    neighbours,
    projection,
    target_direction,
    translate,
    unlearn_feature,
)
from idunlearn.methods.options import AdapterOptions
from idunlearn.methods.retain import retain_indices
from idunlearn.nets.cnn import InversionEncoder
from idunlearn.system import UNLEARNED_KIND, UnlearnJob, load_system, run_unlearn
from idunlearn.unlearning import UnlearnSchedule, unlearn
from idunlearn.world.build import ENCODER_KIND

from tiny import TinyEncoder, flat_embed, squared_perceptual

# --- losses, by hand ----------------------------------------------------------------------


def test_truncation_and_average_substitutes():
    w_u, w_avg = torch.tensor([[4.0, 2.0]]), torch.tensor([[2.0, 0.0]])
    assert torch.equal(truncation_substitute(w_u, w_avg, 0.5), torch.tensor([[3.0, 1.0]]))
    assert torch.equal(truncation_substitute(w_u, w_avg, 0.0), w_avg)
    assert torch.equal(truncation_substitute(w_u, w_avg, -1.0), torch.tensor([[0.0, -2.0]]))


def test_projection_substitute_is_the_nearest_latent_not_matched_as_the_person():
    w_u = torch.zeros(1, 2)
    bank = torch.tensor([[[1.0, 0.0]], [[2.0, 0.0]], [[0.0, 3.0]]])
    similarity = torch.tensor([0.9, 0.2, 0.1])  # the nearest one is still the person
    assert torch.equal(projection_substitute(w_u, bank, similarity, 0.5), bank[1])
    # every latent matched as the person: the least similar one
    fallback = projection_substitute(w_u, bank, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert torch.equal(fallback, bank[2])


def test_cascaded_reconstruction_is_mse_plus_weighted_perceptual():
    a = torch.zeros(2, 3, 2, 2)
    b = torch.cat([torch.ones(1, 3, 2, 2), 2 * torch.ones(1, 3, 2, 2)])
    # per sample: MSE = 1 and 4; the squared stand-in for LPIPS is the same
    assert torch.allclose(reconstruction(a, b, squared_perceptual, 0.5), torch.tensor([1.5, 6.0]))
    assert torch.allclose(reconstruction(a, b, squared_perceptual, 0.0), torch.tensor([1.0, 4.0]))


def test_ms_ssim_of_identical_images_is_one_and_of_constants_is_the_luminance_term():
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.allclose(ms_ssim(x, x, scales=2, window=3), torch.ones(2), atol=1e-5)
    # constant images a, b: every cs = C2 / C2 = 1, SSIM = luminance = (2ab + C1)/(a²+b²+C1)
    a, b = torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.25)
    c1 = (0.01 * 2.0) ** 2
    luminance = (2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1)
    w = torch.tensor([0.0448, 0.2856])
    w_last = float(w[1] / w.sum())  # two scales: the first two weights, renormalised
    expected = luminance**w_last
    assert ms_ssim(a, b, scales=2, window=3).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(UserError, match="too small"):
        ms_ssim(a, b, scales=3, window=3)


def test_target_direction_threshold_and_translation_by_hand():
    positives = torch.tensor([[[2.0, 0.0]], [[4.0, 0.0]]])
    negatives = torch.tensor([[[1.0, 0.0]], [[-1.0, 0.0]]])
    e = target_direction(positives, negatives)  # (3, 0) - (0, 0), normalised
    assert torch.equal(e, torch.tensor([[1.0, 0.0]]))
    assert torch.equal(projection(positives, e), torch.tensor([2.0, 4.0]))
    t = midpoint_threshold(projection(positives, e), projection(negatives, e))
    assert t == pytest.approx(1.5)  # (3 + 0) / 2
    ws = torch.tensor([[[3.0, 1.0]], [[1.0, 5.0]]])
    moved, hit = translate(ws, e, t)
    assert hit.tolist() == [True, False]
    assert torch.equal(moved, torch.tensor([[[1.5, 1.0]], [[1.0, 5.0]]]))  # 3 - (3 - 1.5)


def test_neighbours_lie_on_the_segment_to_mapped_latents():
    w_u = torch.tensor([[2.0, 2.0]])
    w_r = torch.tensor([[[4.0, 0.0]], [[0.0, 0.0]]])
    out = neighbours(w_u, w_r, torch.tensor([0.5, 0.25]))
    assert torch.equal(out, torch.tensor([[[3.0, 1.0]], [[1.5, 1.5]]]))


def test_feature_loss_by_hand():
    u = torch.zeros(2, 1, 2, 2)
    t = torch.cat([torch.ones(1, 1, 2, 2), 3 * torch.ones(1, 1, 2, 2)])  # L1 = 1 and 3
    hit = torch.tensor([True, False])
    half = lambda a, b: torch.full((len(a),), 0.75)  # noqa: E731  (1 - MS-SSIM = 0.25)
    out = feature_loss(u, t, hit, 2.0, half)
    # hit: 2 (1 + 0.25) = 2.5; other: L1 = 3; mean over the batch
    assert out["total"].item() == pytest.approx((2.5 + 3.0) / 2)
    assert out["unlearn"].item() == pytest.approx(2.5) and out["recon"].item() == 3.0


def test_gaussian_like_keeps_per_channel_mean_and_std():
    image = torch.stack([torch.full((64, 64), 0.5), torch.linspace(-1, 1, 4096).view(64, 64)])
    image = torch.cat([image, torch.zeros(1, 64, 64)])[None]
    noise = gaussian_like(image, torch.Generator().manual_seed(0))
    assert noise.shape == image.shape
    flat, ref = noise.flatten(2)[0], image.flatten(2)[0]
    assert torch.allclose(flat.mean(1), ref.mean(1), atol=0.03)
    assert torch.allclose(flat.std(1), ref.std(1), atol=0.03)
    assert torch.equal(noise[0, 0], torch.full((64, 64), 0.5))  # std 0: the mean itself


def test_encoder_loss_by_hand():
    out = encoder_loss(
        torch.ones(1, 2, 2),
        torch.zeros(1, 2, 2),
        torch.full((2, 2, 2), 2.0),
        torch.zeros(2, 2, 2),
        0.5,
    )
    assert out["forget"].item() == 1.0 and out["retain"].item() == 4.0
    assert out["total"].item() == pytest.approx(4.0 + 0.5 * 1.0)


def test_retain_indices_exclude_the_forgotten_identity_and_are_seeded():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3])
    a = retain_indices(labels, 1, 4, torch.Generator().manual_seed(0))
    b = retain_indices(labels, 1, 4, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and len(a) == 4 and not (labels[a] == 1).any()
    assert len(retain_indices(labels, None, 100, torch.Generator().manual_seed(0))) == 7


# --- the loops ----------------------------------------------------------------------------


def small_generator() -> SyntheticGenerator:
    torch.manual_seed(0)
    return SyntheticGenerator(
        z_dim=5, w_dim=8, mapping_width=16, channels=(8, 8), head_channels=4
    ).requires_grad_(False)


def source_latent(g):
    return g.mapping(torch.randn(1, 5, generator=torch.Generator().manual_seed(9)))[0]


def fake_retain(g, n=6):
    z = torch.randn(n, 5, generator=torch.Generator().manual_seed(4))
    return {"images": torch.rand(n, 3, 64, 64) * 2 - 1, "codes": z, "yaw": torch.zeros(n, 1)}


def run_cascaded(g_s, seed, steps=2, **options):
    config = CascadedConfig(
        unlearn_steps=steps, learn_steps=steps, batch_size=2, bank_size=8, **options
    )
    retain = fake_retain(g_s) if config.phase == "few_shot" else None
    return unlearn_cascaded(
        g_s,
        source_latent(g_s),
        squared_perceptual,
        flat_embed,
        config,
        1e-2,
        torch.Generator().manual_seed(seed),
        retain,
        show_progress=False,
    )


def run_feature(g_s, seed, steps=3):
    config = FeatureConfig(
        num_positive=4, num_negative=4, id_threshold=-1.0, num_near=1, num_random=2
    )
    return unlearn_feature(
        g_s,
        source_latent(g_s),
        flat_embed,
        config,
        steps,
        1e-2,
        torch.Generator().manual_seed(seed),
        show_progress=False,
    )


def assert_only_backbone_moved(g_s, g_u, before):
    trainable = set(g_s.trainable_names())
    for name, param in g_u.named_parameters():
        assert (not torch.equal(param, before[name])) == (name in trainable), name
    for name, param in g_s.named_parameters():
        assert torch.equal(param, before[name]), f"G_s changed: {name}"


@pytest.mark.parametrize(
    "options",
    [
        {"substitute": "average", "phase": "zero_shot"},
        {"substitute": "truncation", "phase": "few_shot"},
        {"substitute": "projection", "id_threshold": 2.0, "phase": "zero_shot"},
    ],
)
def test_cascaded_trains_only_the_backbone_in_two_phases(options):
    g_s = small_generator()
    before = {n: p.clone() for n, p in g_s.named_parameters()}
    g_u, history, w_sub = run_cascaded(g_s, 0, **options)
    assert_only_backbone_moved(g_s, g_u, before)
    assert [h["phase"] for h in history] == [0.0, 0.0, 1.0, 1.0]
    assert w_sub.shape == (g_s.num_ws, g_s.w_dim)
    if options["substitute"] == "average":
        assert torch.equal(w_sub, g_s.w_avg)


def test_feature_trains_only_the_backbone_and_hits_w_u():
    g_s = small_generator()
    before = {n: p.clone() for n, p in g_s.named_parameters()}
    g_u, history, w_target, info = run_feature(g_s, 0)
    assert_only_backbone_moved(g_s, g_u, before)
    assert info["positives"] == 5  # w_u and the 4 candidates (threshold -1 keeps all)
    assert info["proj_w_u"] > info["threshold"]  # so w_u is translated at every step
    assert all(h["hits"] >= 1 for h in history)
    assert not torch.equal(w_target, source_latent(g_s))


def test_encoder_unlearning_moves_the_encoder_only():
    torch.manual_seed(0)
    encoder = TinyEncoder()
    original = copy.deepcopy(encoder.state_dict())
    w_avg = torch.zeros(2, 2)
    forget = torch.rand(1, 3, 2, 2)
    retain = torch.rand(8, 3, 2, 2)
    config = EncoderConfig(retain_size=8, batch_size=3)
    e_u, history, target = unlearn_encoder(
        encoder, w_avg, forget, retain, config, 5, 1e-1, torch.Generator().manual_seed(0), False
    )
    assert all(torch.equal(encoder.state_dict()[k], v) for k, v in original.items())
    assert any(not torch.equal(e_u.state_dict()[k], v) for k, v in original.items())
    assert len(history) == 5 and target.shape == (2, 2)


def test_same_seed_same_result_other_seed_other_result():
    g_s = small_generator()
    for run in (
        lambda s: run_cascaded(g_s, s, steps=1, substitute="projection", id_threshold=2.0)[0],
        lambda s: run_feature(g_s, s, steps=1)[0],
    ):
        a, b, c = (run(s).trainable_state_dict() for s in (1, 1, 2))
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert any(not torch.equal(a[k], c[k]) for k in a)
    forget, retain = torch.rand(1, 3, 2, 2), torch.rand(8, 3, 2, 2)
    states = []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        e_u, _, _ = unlearn_encoder(
            TinyEncoder(),
            torch.zeros(2, 2),
            forget,
            retain,
            EncoderConfig(batch_size=3),
            3,
            0.1,
            torch.Generator().manual_seed(seed),
            False,
        )
        states.append(e_u.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert any(not torch.equal(states[0][k], states[2][k]) for k in states[0])


# --- the unlearned encoder and the system's latents ------------------------------------------


def test_encoder_system_holds_e_s_and_e_u_and_scores_the_same_inverter(tmp_path):
    g = small_generator()
    torch.manual_seed(1)
    encoder = InversionEncoder(num_ws=g.num_ws, w_dim=g.w_dim, width=4).eval()
    save_module(tmp_path / "encoder.pt", ENCODER_KIND, encoder)
    trained = copy.deepcopy(encoder)
    with torch.no_grad():
        trained.head[-1].bias.add_(1.0)
    state = {f"{enc.PREFIX}{k}": v for k, v in trained.state_dict().items()}
    system = enc.system(g, state, EncoderConfig(), str(tmp_path / "encoder.pt"), "cpu")
    assert system.g_u is g
    images = torch.rand(3, 3, 64, 64)
    assert torch.allclose(system.encoder_u(images), trained(images, g.w_avg))
    assert torch.allclose(system.encoder_s(images), encoder(images, g.w_avg))
    inversion = {
        "w_u": torch.zeros(g.num_ws, g.w_dim),
        "w_others": torch.zeros(2, g.num_ws, g.w_dim),
        "source_image": images[0],
        "other_images": images[1:],
    }
    latents = enc.latents(system, inversion)
    # before: the pretrained encoder's latents (not the stored w_u), after: E_u's
    assert torch.allclose(latents.source_before, encoder(images[:1], g.w_avg)[0])
    assert torch.allclose(latents.others_before, encoder(images[1:], g.w_avg))
    assert torch.allclose(latents.source_after, trained(images[:1], g.w_avg)[0])
    assert torch.allclose(latents.others_after, trained(images[1:], g.w_avg))
    with pytest.raises(ArtefactError, match="does not fit"):
        enc.system(
            g,
            {f"{enc.PREFIX}x": torch.zeros(1)},
            EncoderConfig(),
            str(tmp_path / "encoder.pt"),
            "cpu",
        )


def test_run_unlearn_encoder_kind_changes_the_encoder_and_not_the_generator(tmp_path):
    files = build_world(tmp_path)
    config = {"methods": {"enc": {"kind": "encoder", "retain_size": 4, "batch_size": 2}}}
    out = tmp_path / "enc.pt"
    run_unlearn(
        UnlearnJob(
            generator=files["generator"],
            inversion=files["inversion"],
            method="enc",
            settings=settings_json(config, "enc"),
            out=str(out),
            seed=0,
            steps=2,
            lr=1e-2,
            files=Files(
                dataset=files["dataset"], identities=files["identities"], encoder=files["encoder"]
            ),
        )
    )
    state = load_checkpoint(out, UNLEARNED_KIND)["state_dict"]
    assert state and all(k.startswith(enc.PREFIX) for k in state)  # the encoder only
    loaded = load_system(
        files["generator"], str(out), "enc", settings_json(config, "enc"), files["encoder"]
    )
    images = torch.rand(2, 3, 64, 64)
    assert loaded.system.g_u is loaded.system.g_s
    assert not torch.allclose(loaded.system.encoder_u(images), loaded.system.encoder_s(images))


# --- adapter unlearning ---------------------------------------------------------------------


def adapted_images(g, ws, cameras):
    with torch.no_grad():
        return g.synthesis(ws, cameras)["image"]


def perturbed(g_u):
    """Trained-looking adapters: every adapter weight moved off its initial value."""
    with torch.no_grad():
        for p in g_u.trainable_parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return g_u


def test_adapter_starts_exactly_at_g_s_and_strength_zero_is_g_s():
    g = small_generator()
    ws = g.mapping(torch.randn(3, 5, generator=torch.Generator().manual_seed(2)))
    cameras = torch.tensor([[-0.2], [0.0], [0.2]])
    g_u = adapter.adapted(g, AdapterOptions(width=3), seed=0)
    assert set(g_u.adapters) == {"conv0", "conv1", "conv2"}
    assert torch.equal(adapted_images(g_u, ws, cameras), adapted_images(g, ws, cameras))
    perturbed(g_u)
    assert not torch.allclose(adapted_images(g_u, ws, cameras), adapted_images(g, ws, cameras))
    g_u.set_strength(0.0)
    assert torch.equal(adapted_images(g_u, ws, cameras), adapted_images(g, ws, cameras))
    # the strength is an integration time: half of it, a render between G_s and T = 1
    g_u.set_strength(1.0)
    full = (adapted_images(g_u, ws, cameras) - adapted_images(g, ws, cameras)).norm()
    g_u.set_strength(0.5)
    half = (adapted_images(g_u, ws, cameras) - adapted_images(g, ws, cameras)).norm()
    assert 0 < half < full


def test_adapter_state_is_the_adapters_only_and_round_trips(tmp_path):
    g = small_generator()
    opts = AdapterOptions(width=3, stages=("conv1",), ode_steps=2)
    g_u = perturbed(adapter.adapted(g, opts, seed=0))
    state = g_u.trainable_state_dict()
    assert state and all(k.startswith("adapters.conv1.") for k in state)
    save_checkpoint(tmp_path / "u.pt", UNLEARNED_KIND, state)
    loaded = load_checkpoint(tmp_path / "u.pt", UNLEARNED_KIND)["state_dict"]
    system = adapter.system(g, loaded, opts, None, torch.device("cpu"))
    ws = g.mapping(torch.randn(2, 5))
    cameras = torch.zeros(2, 1)
    assert torch.equal(adapted_images(system.g_u, ws, cameras), adapted_images(g_u, ws, cameras))
    # a copy (the relearning attack's) trains its own adapters, not the original's
    copied = copy.deepcopy(system.g_u)
    perturbed(copied)
    assert torch.equal(adapted_images(system.g_u, ws, cameras), adapted_images(g_u, ws, cameras))
    assert not torch.equal(adapted_images(copied, ws, cameras), adapted_images(g_u, ws, cameras))
    with pytest.raises(UserError, match="adapter stages conv9 unknown"):
        adapter.adapted(g, AdapterOptions(stages=("conv9",)), seed=0)


def test_adapter_unlearning_trains_the_adapters_only_with_guide_s_objective():
    g = small_generator()
    before = {n: p.clone() for n, p in g.named_parameters()}
    w_u = g.mapping(torch.randn(1, 5, generator=torch.Generator().manual_seed(9)))[0]
    opts = AdapterOptions(width=3)
    g_u, history = unlearn(
        g,
        w_u,
        g.w_avg.clone(),
        squared_perceptual,
        flat_embed,
        opts.objective.loss,
        UnlearnSchedule(steps=3, lr=1e-2),
        seed=0,
        show_progress=False,
        make_copy=lambda g_s: adapter.adapted(g_s, opts, 0),
    )
    assert len(history) == 3 and history[-1]["total"] < history[0]["total"]
    assert all(torch.equal(p, before[n]) for n, p in g.named_parameters())
    assert all(torch.equal(p, before[n]) for n, p in g_u.base.named_parameters())
    moved = [
        n for n, p in g_u.named_parameters() if n.startswith("adapters.") and p.abs().sum() > 0
    ]
    assert any(".out." in n for n in moved)  # the zero-initialised last layers were trained


def test_strength_sweep_goes_from_g_s_to_the_trained_adapters(tmp_path):
    from idunlearn.sweep import SweepJob, run_strength_sweep
    from idunlearn.sweep_plot import read_sweeps, run_sweep_figure

    files = build_world(tmp_path)
    config = {"methods": {"a": {"kind": "adapter", "width": 2, "ode_steps": 1, "sweep": [0, 1]}}}
    settings = settings_json(config, "a")
    unlearned = str(tmp_path / "a.pt")
    run_unlearn(
        UnlearnJob(
            files["generator"],
            files["inversion"],
            "a",
            settings,
            unlearned,
            0,
            steps=2,
            lr=0.05,
            files=Files(files["ufo_d30"], files["identity"]),
        )
    )
    out = str(tmp_path / "sweep.json")
    run_strength_sweep(
        SweepJob(
            files["generator"],
            unlearned,
            "a",
            settings,
            files["inversion"],
            files["identity"],
            files["features"],
            files["reference"],
            out,
            {"method": "a"},
            batch=10,
        )
    )
    table = read_sweeps([out])
    assert table["strength"].tolist() == [0.0, 1.0]
    assert table["id"][0] == pytest.approx(1.0, abs=1e-6) and table["fid_pre"][0] == pytest.approx(
        0.0, abs=1e-6
    )
    assert table["id"][1] < 1.0 - 1e-6
    run_sweep_figure([out], str(tmp_path / "sweep.png"))
    assert (tmp_path / "sweep.png").stat().st_size > 0
