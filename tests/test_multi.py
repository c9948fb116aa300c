"""Forgetting many identities: nested sets, the modes' one-identity equalities, EWC, SUGAR."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from tinyworld import build_world

from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.ewc import ewc_penalty, fisher_diagonal
from idunlearn.identities import forget_sets, select_multi
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import UserError
from idunlearn.loop import trainable_copy
from idunlearn.losses import LossConfig
from idunlearn.methods import settings_json
from idunlearn.methods.base import Files
from idunlearn.methods.options import SugarOptions
from idunlearn.methods.sugar import Targets, TriggerNet, train_targets, trigger_loss
from idunlearn.multi import (
    MultiAttackJob,
    MultiEvalJob,
    MultiJob,
    run_multi_attack,
    run_multi_evaluate,
    run_multi_unlearn,
    summary,
)
from idunlearn.recognition import AlignedEmbedder
from idunlearn.system import UNLEARNED_KIND, UnlearnJob, run_unlearn
from idunlearn.targets import ufo_target
from idunlearn.unlearning import UnlearnSchedule, guide_term, subset_picker, train

from tiny import TinyGenerator, flat_embed, squared_perceptual

METHODS = {
    "guide": {"target": "ufo", "adj_weight": 1.0, "global_weight": 1.0},
    "guide_ewc": {"target": "ufo", "adj_weight": 1.0, "ewc": 0.5, "fisher_samples": 2},
    "sugar": {"kind": "sugar", "trigger_width": 4, "trigger_steps": 2, "trigger_batch": 2},
    "adapter": {"kind": "adapter", "width": 2, "ode_steps": 1},
}
CONFIG = {"loss": {}, "methods": METHODS}


# --- which identities ---------------------------------------------------------------------


def test_forget_sets_are_nested_and_the_retain_set_is_disjoint_and_fixed():
    sets = forget_sets([5, 1, 2])
    assert list(sets) == [1, 2, 5]
    assert sets[5][:2] == sets[2] and sets[2][:1] == sets[1]
    labels = np.repeat(np.arange(12), 3)
    heldout = labels >= 4
    index = np.tile(np.arange(3), 12)
    table = select_multi(labels, heldout, index, forget=5, retain=3, seed=0)
    assert table["identity"].tolist()[:5] == sets[5]
    assert table.equals(select_multi(labels, heldout, index, 5, 3, seed=0))
    chosen = table["label"].tolist()
    assert len(set(chosen)) == 8 and all(label >= 4 for label in chosen)
    # asking for fewer forgotten identities keeps the order: the smaller set is a prefix
    smaller = select_multi(labels, heldout, index, forget=2, retain=3, seed=0)
    assert smaller["label"].tolist()[:2] == chosen[:2]
    assert (table["source_index"] == [np.flatnonzero(labels == lb)[0] for lb in chosen]).all()
    with pytest.raises(UserError, match="8 held-out"):
        select_multi(labels, heldout, index, forget=7, retain=3, seed=0)


# --- the multi world ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """build_world's files, and three more identities' inversions (multi00..multi02)."""
    root = tmp_path_factory.mktemp("multi")
    files = build_world(root)
    base = load_checkpoint(files["inversion"], INVERSION_KIND)["state_dict"]
    from idunlearn.backend import load_generator

    g = load_generator(files["generator"])
    w = g.mapping(torch.randn(9, g.z_dim, generator=torch.Generator().manual_seed(11)))
    files["forget"] = []
    for k in range(3):
        path = str(root / f"multi{k:02d}.pt")
        state = {**base, "w_u": w[3 * k], "w_others": w[3 * k + 1 : 3 * k + 3]}
        save_checkpoint(
            path, INVERSION_KIND, state, meta={"scenario": "ood", "identity": f"multi{k:02d}"}
        )
        files["forget"].append(path)
    files["retain"] = [files["inversion"]]
    return files


def multi_job(world, out, name, mode, n, seed=3, previous=None, **kw):
    return MultiJob(
        generator=world["generator"],
        inversions=tuple(world["forget"][:n]),
        loss_identity=world["identity"],
        method=name,
        settings=settings_json(CONFIG, name),
        mode=mode,
        out=str(out),
        seed=seed,
        previous=None if previous is None else str(previous),
        steps=kw.get("steps", 3),
        lr=kw.get("lr", 1e-2),
        per_step=kw.get("per_step"),
    )


def single_run(world, tmp_path, name, seed=3):
    """The single-identity unlearn job of multi00 (its target computed like the workflow's)."""
    from idunlearn.backend import load_generator
    from idunlearn.methods import get_method
    from idunlearn.targets import TARGET_KIND, target_for_key

    method = get_method(CONFIG, name)
    w_u = load_checkpoint(world["forget"][0], INVERSION_KIND)["state_dict"]["w_u"]
    w_avg = load_generator(world["generator"]).w_avg.detach()
    target = tmp_path / "target.pt"
    w_t = target_for_key(w_u, w_avg, method.target_key)
    save_checkpoint(target, TARGET_KIND, {"w_t": w_t}, meta={"key": method.target_key})
    out = tmp_path / "single.pt"
    run_unlearn(
        UnlearnJob(
            world["generator"],
            world["forget"][0],
            name,
            settings_json(CONFIG, name),
            str(out),
            seed,
            steps=3,
            lr=1e-2,
            files=Files(str(target), world["identity"]),
        )
    )
    return load_checkpoint(out, UNLEARNED_KIND)["state_dict"]


def state_of(path):
    return load_checkpoint(path, UNLEARNED_KIND)["state_dict"]


def same(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["guide", "guide_ewc", "sugar", "adapter"])
@pytest.mark.parametrize("mode", ["simultaneous", "sequential"])
def test_one_identity_is_the_single_identity_run(world, tmp_path, name, mode):
    single = single_run(world, tmp_path, name)
    run_multi_unlearn(multi_job(world, tmp_path / "m.pt", name, mode, 1))
    assert same(state_of(tmp_path / "m.pt"), single)
    # and the run did train: another seed gives other weights
    run_multi_unlearn(multi_job(world, tmp_path / "o.pt", name, mode, 1, seed=4))
    assert not same(state_of(tmp_path / "o.pt"), single)


def test_sequential_arrivals_start_from_the_previous_g_u(world, tmp_path):
    first, second = tmp_path / "s1.pt", tmp_path / "s2.pt"
    run_multi_unlearn(multi_job(world, first, "guide", "sequential", 1))
    run_multi_unlearn(multi_job(world, second, "guide", "sequential", 2, previous=first))
    meta = load_checkpoint(second, UNLEARNED_KIND)["meta"]
    assert meta["n"] == 2 and meta["identities"] == ["multi00", "multi01"]
    # identity 2 alone from G_s, same seed, is another generator: the start was arrival 1's
    alone = tmp_path / "alone.pt"
    job = multi_job(world, alone, "guide", "simultaneous", 1)
    run_multi_unlearn(replace(job, inversions=(world["forget"][1],)))
    assert not same(state_of(second), state_of(alone))
    with pytest.raises(UserError, match="needs --previous"):
        run_multi_unlearn(multi_job(world, tmp_path / "x.pt", "guide", "sequential", 2))
    with pytest.raises(Exception, match="after 1 arrivals, not guide after 2"):
        run_multi_unlearn(
            multi_job(world, tmp_path / "x.pt", "guide", "sequential", 3, previous=first)
        )


def test_simultaneous_covers_every_identity_and_lr_zero_scores_as_g_s(world, tmp_path, monkeypatch):
    out = tmp_path / "sim.pt"
    run_multi_unlearn(multi_job(world, out, "guide", "simultaneous", 3, lr=0.0))
    record = tmp_path / "e.json"
    job = MultiEvalJob(
        world["generator"],
        str(out),
        tuple(world["forget"]),
        tuple(world["retain"]),
        world["identity"],
        world["features"],
        world["reference"],
        str(record),
        batch=10,
    )
    run_multi_evaluate(job)
    metrics = json.loads(record.read_text())
    assert metrics["n"] == 3 and len(metrics["id_each"]) == 3
    assert metrics["id_mean"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["retain_id_mean"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["fid_pre"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["views_source"] > 0 and metrics["views_retain"] > 0
    assert metrics["no_face_source_after"] == metrics["no_face_retain_after"] == 0
    # trained: the forgotten identities move, more than the retained one
    run_multi_unlearn(multi_job(world, out, "guide", "simultaneous", 3, lr=5e-2, steps=5))
    run_multi_evaluate(job)
    trained = json.loads(record.read_text())
    assert trained["id_mean"] < 1.0 and trained["id_worst"] >= max(trained["id_each"]) - 1e-9
    attack = tmp_path / "a.json"
    run_multi_attack(
        MultiAttackJob(
            world["generator"],
            str(out),
            tuple(world["forget"]),
            world["identity"],
            str(attack),
            ks=(0, 2),
            lr=1e-2,
        )
    )
    scores = json.loads(attack.read_text())
    assert scores["relearn0_id_mean"] == pytest.approx(trained["id_mean"], abs=1e-6)
    assert scores["relearn2_id_mean"] != scores["relearn0_id_mean"]
    assert scores["views_source"] > 0 and scores["no_face_source_after"] == 0
    # a detector that finds no face: both steps stop at evaluate's gate, naming the run
    from idunlearn.backend import load_embedder

    network = load_embedder(world["identity"])
    blind = AlignedEmbedder(lambda x: (x, torch.zeros(len(x), dtype=torch.bool)), network)
    monkeypatch.setattr("idunlearn.multi.load_embedder", lambda path, device: blind)
    gate = r"^multi: method guide, mode simultaneous, n 3: no face detected in (\d+) of \1 source"
    with pytest.raises(UserError, match=gate):
        run_multi_evaluate(replace(job, max_no_face_share=0.5))
    attack_job = MultiAttackJob(
        world["generator"], str(out), tuple(world["forget"]), world["identity"], str(attack)
    )
    with pytest.raises(UserError, match=gate):
        run_multi_attack(replace(attack_job, ks=(0,), max_no_face_share=0.5))


def test_the_mean_id_carries_the_half_width_of_a_students_t_interval():
    # N = 2: t_{1, 0.975} = 12.706 times std / sqrt(2) (1.96 would be 6.5 times too narrow)
    cell = summary([0.1, 0.3], "max")
    assert (cell["mean"], cell["worst"]) == (pytest.approx(0.2), 0.3)
    assert cell["ci"] == pytest.approx(12.7062 * 0.1, rel=1e-5)
    assert np.isnan(summary([0.1], "max")["ci"])


# --- the step's identities ----------------------------------------------------------------


def test_a_per_step_subset_is_seeded_and_uniform():
    assert subset_picker(3, None, 0)() == [0, 1, 2] and subset_picker(3, 5, 0)() == [0, 1, 2]
    pick, again = subset_picker(5, 2, 7), subset_picker(5, 2, 7)
    draws = [pick() for _ in range(2000)]
    assert draws[:20] == [again() for _ in range(20)]
    assert all(len(d) == 2 and d == sorted(set(d)) for d in draws)
    counts = np.bincount(np.concatenate(draws), minlength=5) / len(draws)
    assert np.allclose(counts, 2 / 5, atol=0.04)  # each identity's expected weight: 1/5


def test_the_step_objective_is_the_mean_of_the_identities_terms():
    g = TinyGenerator()
    config = LossConfig()
    w = torch.tensor([[[1.0, 2.0], [0.0, 1.0]], [[2.0, -1.0], [1.0, 0.5]]])
    terms = [guide_term(g, w[i], g.w_avg, squared_perceptual, flat_embed, config) for i in (0, 1)]
    g_u = trainable_copy(g)
    history = train(g_u, terms, config, UnlearnSchedule(1, 0.0), seed=0, show_progress=False)
    rng = torch.Generator().manual_seed(0)
    each = [float(t(trainable_copy(g), rng)["total"].detach()) for t in terms]
    assert history[0]["total"] == pytest.approx(sum(each) / 2, rel=1e-6)


# --- EWC ----------------------------------------------------------------------------------


def test_ewc_penalty_is_the_fisher_weighted_squared_distance():
    params = [torch.tensor([1.0, 2.0]), torch.tensor([[0.5]])]
    anchors = [torch.tensor([0.0, 1.0]), torch.tensor([[1.5]])]
    fisher = [torch.tensor([2.0, 3.0]), torch.tensor([[4.0]])]
    # 2 * 1^2 + 3 * 1^2 + 4 * (-1)^2
    assert float(ewc_penalty(params, anchors, fisher)) == pytest.approx(9.0)


def test_fisher_is_the_mean_squared_feature_gradient_scaled_to_mean_one():
    g = trainable_copy(TinyGenerator())
    rng, again = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    (fisher,) = fisher_diagonal(g, 3, rng)
    # by hand: features = ws * gain, so d MSE / d gain = -2 / 4 * sum over ws rows of noise * w
    expected = torch.zeros(2, 2)
    for _ in range(3):
        w = g.mapping(torch.randn(1, 2, generator=again))
        g.sample_train_cameras(1, again)
        noise = torch.randn(1, 1, 2, 2, generator=again)
        expected += (-0.5 * noise[0, 0] * w[0]).pow(2)
    expected /= expected.mean()
    assert torch.allclose(fisher, expected, rtol=1e-5)
    assert float(fisher.mean()) == pytest.approx(1.0)


def test_ewc_holds_the_parameters_near_their_start():
    g = TinyGenerator()
    w = torch.tensor([[1.0, 2.0], [0.0, 1.0]])

    def moved(ewc):
        config = LossConfig(ewc=ewc, fisher_samples=4)
        g_u = trainable_copy(g)
        term = guide_term(g, w, g.w_avg, squared_perceptual, flat_embed, config)
        history = train(g_u, [term], config, UnlearnSchedule(30, 0.05), 0, show_progress=False)
        return float((g_u.gain - g.gain).pow(2).sum()), history

    free, history = moved(0.0)
    held, held_history = moved(10.0)
    assert "ewc" not in history[0] and held_history[0]["ewc"] == 0.0
    assert held < 0.5 * free


# --- SUGAR --------------------------------------------------------------------------------


def test_trigger_network_shapes_and_its_initial_targets_are_ufo():
    rng = torch.Generator().manual_seed(0)
    net = TriggerNet(num_ws=3, w_dim=4, width=5, rng=rng)
    assert net.inp.weight.shape == (5, 12) and net.out.weight.shape == (12, 5)
    ws = torch.randn(6, 3, 4, generator=rng)
    assert net(ws).shape == ws.shape and torch.equal(net(ws), ws)  # residual, B = 0
    w_avg = torch.randn(3, 4, generator=rng)
    targets = Targets(net, w_avg, 20.0)
    assert torch.allclose(targets(ws), ufo_target(ws, w_avg, 20.0), atol=1e-5)


def test_trained_trigger_gives_each_identity_its_own_target_at_distance_d(world):
    from idunlearn.backend import load_embedder, load_generator

    g = load_generator(world["generator"])
    embed = load_embedder(world["identity"])
    w_us = torch.stack(
        [load_checkpoint(p, INVERSION_KIND)["state_dict"]["w_u"] for p in world["forget"]]
    )
    untrained = train_targets(g, w_us, embed, SugarOptions(trigger_width=8, trigger_steps=0), 0)
    opts = SugarOptions(trigger_width=8, trigger_steps=20, trigger_lr=1e-2, trigger_batch=2)
    trained = train_targets(g, w_us, embed, opts, 0)
    w_t = trained(w_us)
    assert w_t.shape == w_us.shape
    distance = (w_t - g.w_avg).flatten(1).norm(dim=1)
    assert torch.allclose(distance, torch.full((3,), 20.0), rtol=1e-4)
    assert not torch.allclose(w_t[0], w_t[1]) and not torch.allclose(w_t, untrained(w_us))
    before = float(trigger_loss(g, untrained, w_us, embed))
    assert float(trigger_loss(g, trained, w_us, embed)) < before
    assert not any(p.requires_grad for p in trained.net.parameters())


# --- the table and figures ----------------------------------------------------------------


def test_the_multi_table_has_a_row_per_grid_n_with_the_attack_beside(tmp_path):
    from idunlearn.io import write_json
    from idunlearn.report.multi import write_multi

    def record(mode, n, ids):
        return {
            "method": "guide",
            "kind": "guide",
            "mode": mode,
            "n": n,
            "id_each": ids,
            "id_mean": float(np.mean(ids)),
            "id_worst": max(ids),
            "id_ci": float("nan") if n == 1 else 0.1,
            "id_others_mean": 0.5,
            "retain_id_mean": 0.9,
            "retain_id_worst": 0.8,
            "fid_pre": 1.0,
            "dfid_real": 0.5,
        }

    runs = [
        ("simultaneous", 2, [0.2, 0.4]),
        ("sequential", 1, [0.3]),
        ("sequential", 2, [0.5, 0.1]),
    ]
    paths = []
    for mode, n, ids in runs:
        paths.append(tmp_path / f"{mode}{n}.json")
        write_json(paths[-1], record(mode, n, ids))
    attack = tmp_path / "a.json"
    write_json(attack, {"method": "guide", "mode": "sequential", "n": 2, "relearn5_id_mean": 0.7})
    write_multi(paths, [attack], [2], tmp_path, tmp_path / "n.png", tmp_path / "s.png", "Cap.")
    table = pd.read_csv(tmp_path / "multi.csv")
    assert table[["mode", "n"]].values.tolist() == [["sequential", 2], ["simultaneous", 2]]
    assert table["relearn5_id_mean"].tolist()[0] == 0.7 and np.isnan(table["relearn5_id_mean"][1])
    markdown = (tmp_path / "multi.md").read_text()
    assert markdown.startswith("Cap.") and "| 0.300 ± 0.100 | 0.500 |" in markdown
    assert "ID after 5 relearn" in markdown
    assert (tmp_path / "n.png").stat().st_size > 0 and (tmp_path / "s.png").stat().st_size > 0
