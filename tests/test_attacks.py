"""Attacks on an unlearned identity, on hand-checkable stand-ins (tests/tiny.py)."""

import copy
import json
import math
from dataclasses import replace

import pytest
import torch
from torch.nn import Flatten

from idunlearn import attacks
from idunlearn.inversion import InversionConfig
from idunlearn.io import UserError
from idunlearn.metrics import identity_similarity
from idunlearn.recognition import AlignedEmbedder

from tiny import TinyGenerator, flat_embed, squared_perceptual

C = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # ||C||_F = 5
RUN = "scenario ood, identity ood00, method guide"


def linear_encoder():
    """images [B, 3, 2, 2] -> W+ [B, 2, 2]: a module, like backend's OffsetEncoder."""
    torch.manual_seed(0)
    net = torch.nn.Linear(12, 4).requires_grad_(False)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), net, torch.nn.Unflatten(1, (2, 2)))
    return encoder, net


# --- ball projection ----------------------------------------------------------------------


def test_a_latent_outside_the_ball_is_projected_onto_the_sphere():
    center = torch.ones(2, 2)
    projected = attacks.project_to_ball(center + C, center, 2.0)
    # along C, at distance 2: center + C * 2 / 5
    assert torch.allclose(projected, center + torch.tensor([[1.2, 0.0], [0.0, 1.6]]))
    assert (projected - center).norm().item() == pytest.approx(2.0)


def test_a_latent_inside_the_ball_is_unchanged_and_batches_project_one_by_one():
    inside = 0.1 * C
    assert torch.equal(attacks.project_to_ball(inside, torch.zeros(2, 2), 2.0), inside)
    batch = attacks.project_to_ball(torch.stack([inside, C]), torch.zeros(2, 2), 2.0)
    assert torch.equal(batch[0], inside)
    assert torch.allclose(batch[1], 0.4 * C)
    zero = torch.zeros(2, 2)
    assert torch.equal(attacks.project_to_ball(zero, zero, 0.0), zero)  # no 0 / 0


# --- latent search ------------------------------------------------------------------------


def recording(objective):
    calls = []

    def wrapped(w):
        calls.append(w.detach().clone())
        return objective(w)

    return wrapped, calls


def test_latent_search_stays_in_the_ball_and_reaches_the_concave_optimum_on_it():
    # f(w) = -||w - C||^2 with C at distance 5 from the centre: the best point of the
    # radius-2 ball is 0.4 C (f = -9); steps of 0.5 along C reach it in 4 steps.
    objective, calls = recording(lambda w: -(w - C).pow(2).sum())
    result = attacks.latent_search(objective, torch.zeros(2, 2), 2.0, steps=10, step_size=0.5)
    assert all(w.norm().item() <= 2.0 + 1e-6 for w in calls)
    assert len(calls) == 11 and result["start"] == pytest.approx(-25.0)
    assert result["value"] == pytest.approx(-9.0)
    assert torch.allclose(result["latent"], 0.4 * C)
    assert result["values"][:5] == pytest.approx([-25.0, -20.25, -16.0, -12.25, -9.0])


def test_latent_search_never_returns_worse_than_its_start():
    center = torch.zeros(2, 2)
    # the optimum (0.2 C, distance 1) is inside the ball; large steps overshoot it
    objective = lambda w: -(w - 0.2 * C).pow(2).sum()  # noqa: E731
    result = attacks.latent_search(objective, center, 3.0, steps=7, step_size=0.7)
    assert result["value"] == max(result["values"]) >= result["start"]
    assert (result["latent"] - center).norm().item() <= 3.0 + 1e-6
    # zero steps: the start itself
    none = attacks.latent_search(objective, center, 3.0, steps=0, step_size=0.7)
    assert torch.equal(none["latent"], center) and none["value"] == none["start"]


# --- relearning ---------------------------------------------------------------------------


def test_relearning_records_the_requested_ks_and_moves_only_trainable_parameters():
    g_u = TinyGenerator().requires_grad_(False)
    before = {n: p.clone() for n, p in g_u.named_parameters()}
    w = torch.ones(2, 2)
    camera = torch.zeros(1, 1)
    seen = []

    def score(g):
        seen.append(g.gain.detach().clone())
        return {"id": float(len(seen)), "src": 0.0}

    curve = attacks.relearn_generator(
        g_u, w, camera, torch.zeros(3, 2, 2), squared_perceptual, 0.0, [3, 1], 0.1, score
    )
    assert list(curve) == [1, 3] and [s["id"] for s in curve.values()] == [1.0, 2.0]
    # image = 0.5 * gain (w = 1, camera 0) against a zero target: the MSE gradient has the
    # sign of gain, and Adam's first step is lr * sign(gradient).
    assert torch.allclose(seen[0], torch.tensor([[0.9, 1.9], [0.4, -0.9]]))
    for name, param in g_u.named_parameters():  # G_u itself is never changed
        assert torch.equal(param, before[name]) and not param.requires_grad, name


def test_relearning_only_touches_the_copy_s_trainable_parameters():
    g_u = TinyGenerator().requires_grad_(False)
    copies = []

    def score(g):
        copies.append({n: p.detach().clone() for n, p in g.named_parameters()})
        return {"id": 0.0, "src": 0.0}

    attacks.relearn_generator(
        g_u,
        torch.ones(2, 2),
        torch.zeros(1, 1),
        torch.zeros(3, 2, 2),
        squared_perceptual,
        1.0,
        [2],
        0.1,
        score,
    )
    after = copies[-1]
    assert not torch.equal(after["gain"], g_u.gain)
    assert torch.equal(after["head"], g_u.head)
    assert torch.equal(after["mapping_weight"], g_u.mapping_weight)


def test_encoder_relearning_trains_the_encoder_in_place_not_the_generator():
    encoder, net = linear_encoder()
    generator = TinyGenerator().requires_grad_(False)
    weights = net.weight.clone()
    gain = generator.gain.clone()
    latents = []
    curve = attacks.relearn_encoder(
        encoder,
        generator,
        torch.full((3, 2, 2), 0.5),
        torch.zeros(1, 1),
        squared_perceptual,
        1.0,
        [0, 2],
        0.1,
        lambda w: latents.append(w) or {"id": float(len(latents)), "src": 0.0},
    )
    assert list(curve) == [0, 2]
    assert latents[0].shape == (2, 2)
    assert not torch.equal(net.weight, weights) and not net.weight.requires_grad
    assert torch.equal(generator.gain, gain)


def test_relearn_encoder_needs_parameters():
    with pytest.raises(ValueError, match="no parameters"):
        attacks.relearn_encoder(
            lambda x: x, TinyGenerator(), torch.zeros(3, 2, 2), None, None, 1.0, [1], 0.1, None
        )


# --- re-inversion and scoring -------------------------------------------------------------


def test_reinversion_returns_latents_of_the_right_shape_deterministically():
    encoder, _ = linear_encoder()
    g_u = TinyGenerator().requires_grad_(False)
    images = torch.randn(3, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    cameras = torch.zeros(3, 1)
    config = InversionConfig("optimisation", steps=5, lr=0.05, lpips_weight=1.0)
    kinds = ["encoder", "optimisation"]
    a = attacks.reinvert(g_u, encoder, images, cameras, squared_perceptual, config, kinds, seed=3)
    b = attacks.reinvert(g_u, encoder, images, cameras, squared_perceptual, config, kinds, seed=3)
    assert set(a) == {"encoder", "optimisation"}
    for kind in kinds:
        assert a[kind].shape == (3, 2, 2)
        assert torch.equal(a[kind], b[kind])
    assert torch.equal(a["encoder"], encoder(images))
    assert not torch.equal(a["optimisation"], a["encoder"])
    only = attacks.reinvert(g_u, encoder, images, cameras, None, config, ["encoder"], seed=3)
    assert list(only) == ["encoder"]
    with pytest.raises(UserError, match="unknown re-inversion"):
        attacks.reinvert(g_u, encoder, images, cameras, None, config, ["gan"], seed=3)


def test_reinversion_kinds_leave_out_the_inversion_the_system_used():
    assert attacks.reinversion_kinds("optimisation", "ood") == ["encoder", "optimisation"]
    assert attacks.reinversion_kinds("encoder", "ind") == ["optimisation"]
    assert attacks.reinversion_kinds("encoder", "random") == ["encoder", "optimisation"]


def test_an_unattacked_score_is_the_evaluation_s_id():
    g_s = TinyGenerator().requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    with torch.no_grad():
        g_u.gain.mul_(torch.tensor([[1.0, -1.0], [2.0, 1.0]]))
    ws = torch.tensor([[[1.0, 0.5], [-0.5, 2.0]], [[0.2, 0.1], [1.0, 1.0]]])
    expected = identity_similarity(g_s, g_u, ws, flat_embed)
    camera = torch.zeros(1, 1)
    photos = [flat_embed(g_s.synthesis(w[None], camera)["image"]) for w in ws]
    references = [
        attacks.Reference(g_s, w, p, camera, flat_embed) for w, p in zip(ws, photos, strict=True)
    ]
    got = torch.tensor([ref.score(g_u, w)["id"] for ref, w in zip(references, ws, strict=True)])
    assert torch.allclose(got, expected)
    reference = attacks.Reference(
        g_s,
        ws[0],
        flat_embed(g_s.synthesis(ws[:1], torch.zeros(1, 1))["image"]),
        torch.zeros(1, 1),
        flat_embed,
    )
    scores = reference.score(g_s, ws[0])
    assert scores == pytest.approx({"id": 1.0, "src": 1.0, "views": 3, "no_face": 0})
    assert reference.score(g_u, ws[0])["id"] == pytest.approx(float(expected[0]))


def attack_case(g_u, embed=flat_embed) -> attacks.AttackCase:
    """Every attack, two steps each, on TinyGenerator's w_u = [[1, 0.5], [-0.5, 2]]."""
    g_s = TinyGenerator().requires_grad_(False)
    encoder, _ = linear_encoder()
    w_u = torch.tensor([[1.0, 0.5], [-0.5, 2.0]])
    camera = torch.zeros(1, 1)
    source = g_s.synthesis(w_u[None], camera)["image"][0]
    reference = attacks.Reference(g_s, w_u, embed(source[None]), camera, embed)
    return attacks.AttackCase(
        g_s=g_s,
        g_u=g_u,
        w_system=w_u,
        reference=reference,
        source=source,
        others=(source[None].repeat(2, 1, 1, 1), torch.zeros(2, 1)),
        w_others=w_u[None].repeat(2, 1, 1),
        encoder=encoder,
        encoder_u=None,
        embed_loss=flat_embed,
        lpips=squared_perceptual,
        kinds=["encoder", "optimisation"],
        inversion=InversionConfig("optimisation", 2, 0.05, 1.0),
        config=attacks.AttackConfig(
            reinvert_steps=2, search_radius=1.0, search_steps=2, relearn_ks=(1, 2)
        ),
        seed=0,
    )


def test_attack_all_runs_every_attack_and_names_its_columns():
    g_u = TinyGenerator().requires_grad_(False)
    with torch.no_grad():
        g_u.gain.mul_(-1.0)
    case = attack_case(g_u)
    g_s, w_u, source, encoder = case.g_s, case.w_system, case.source, case.encoder
    result = attacks.attack_all(case)
    expected = identity_similarity(g_s, g_u, w_u[None], flat_embed)[0]
    assert result["id_unattacked"] == pytest.approx(float(expected))
    for name in ("reinv_encoder", "reinv_optim", "search", "relearn_1", "relearn_2"):
        assert -1.0 <= result[f"id_{name}"] <= 1.0 and -1.0 <= result[f"src_{name}"] <= 1.0
        assert result[f"no_face_{name}"] == 0 and result[f"views_{name}"] > 0
    assert not math.isnan(result["id_others_reinv_optim"])
    assert result["search_objective_best"] >= result["search_objective_start"]
    assert result["search_distance"] <= 1.0 + 1e-6
    assert result["distance_reinv_encoder"] == pytest.approx(
        float((encoder(source[None])[0] - w_u).norm())
    )
    assert torch.equal(g_u.gain, -g_s.gain)  # relearning worked on a copy


class Faceless(TinyGenerator):
    """Renders 3 below TinyGenerator's: nothing `bright_only` calls a face."""

    def synthesis(self, ws, camera):
        out = super().synthesis(ws, camera)
        return {**out, "image": out["image"] - 3.0}


def bright_only(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An aligner whose detector finds a face only in images brighter than -1 on average."""
    return images, images.mean(dim=(1, 2, 3)) > -1.0


def test_every_attack_counts_its_renders_without_a_face_and_the_gate_stops_the_run():
    """An attack whose recovered renders hold no face is scored on the fixed box: counted
    per attack, and gated by evaluation.max_no_face_share as evaluate gates its views."""
    result = attacks.attack_all(attack_case(Faceless(), AlignedEmbedder(bright_only, Flatten())))
    assert result["views_unattacked"] == 3  # 2 evaluation views and the source-camera render
    assert result["views_reinv_optim"] == 3 + 2 * 2  # and the 2 other images' 2 views
    for name in ("unattacked", "reinv_encoder", "reinv_optim", "search", "relearn_1"):
        assert result[f"no_face_{name}"] == result[f"views_{name}"]
    assert result["no_face_before"] == 0 and result["views_before"] > 0  # G_s renders faces
    attacks.check_attack_faces(result, 1.0, RUN)
    with pytest.raises(
        UserError,
        match=rf"^{RUN}: no face detected in 3 of 3 views of attack unattacked \(evaluation",
    ):
        attacks.check_attack_faces(result, 0.5, RUN)


def test_run_attack_scores_the_system_before_and_after(tmp_path, monkeypatch):
    """An untouched system (lr 0) is unattacked at ID 1: the attacks score the system the
    method unlearned (encoder: G_s(E_s(x)) against G_s(E_u(x))); where the evaluation
    detector finds no face, the job stops at the gate before writing its record."""
    from tinyworld import build_world

    from idunlearn.methods import settings_json
    from idunlearn.methods.base import Files
    from idunlearn.system import UnlearnJob, run_unlearn

    world = build_world(tmp_path)
    kind, entry = "encoder", {"kind": "encoder", "retain_size": 4, "batch_size": 2}
    settings = settings_json({"methods": {kind: entry}}, kind)
    unlearned = str(tmp_path / "u.pt")
    files = Files(
        world["ufo_d30"], world["identity"], world["dataset"], world["identities"], world["encoder"]
    )
    run_unlearn(
        UnlearnJob(
            world["generator"],
            world["inversion"],
            kind,
            settings,
            unlearned,
            0,
            1,
            0.0,
            files=files,
        )
    )
    out = tmp_path / "attack.json"
    job = attacks.AttackJob(
        generator=world["generator"],
        unlearned=unlearned,
        method=kind,
        settings=settings,
        inversion_file=world["inversion"],
        encoder=world["encoder"],
        loss_identity=world["identity"],
        eval_identity=world["identity"],
        scenario="ood",
        identity="ood00",
        inversion=InversionConfig("optimisation", 1, 0.05, 1.0),
        config=attacks.AttackConfig(1, 1.0, 1, 0.5, (1,), 1e-4),
        out=str(out),
        seed=0,
    )
    attacks.run_attack(job)
    record = json.loads(out.read_text())
    assert record["method"] == kind and record["id_unattacked"] == pytest.approx(1.0, abs=1e-6)
    assert record["no_face_unattacked"] == 0 and record["views_unattacked"] > 0
    out.unlink()
    network = attacks.load_embedder(world["identity"])  # the loss network: it keeps its grads
    blind = AlignedEmbedder(lambda x: (x, torch.zeros(len(x), dtype=torch.bool)), network)
    monkeypatch.setattr(
        attacks, "load_embedder", lambda path, _: network if path == "loss" else blind
    )
    with pytest.raises(UserError, match=r"^scenario ood, identity ood00, method encoder: no face"):
        attacks.run_attack(replace(job, loss_identity="loss", max_no_face_share=0.5))
    assert not out.exists()
