"""The evaluation's metrics on closed forms, its no-face gate, and an end-to-end check on a
small trained world that GUIDE forgets (and that the check fails when nothing is unlearned)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.evaluation import (
    check_faces,
    evaluate,
    fid_latents,
    fid_reference,
    generated_features,
    identity_metrics,
    run_setting,
    second_metrics,
)
from idunlearn.io import UserError
from idunlearn.losses import LossConfig
from idunlearn.methods.base import Latents
from idunlearn.metrics import feature_statistics, frechet_distance
from idunlearn.perceptual import build_lpips
from idunlearn.recognition import AlignedEmbedder
from idunlearn.targets import ufo_target
from idunlearn.training import Schedule, train_generator, train_identity
from idunlearn.unlearning import UnlearnSchedule, unlearn
from idunlearn.world import renderer

from tiny import TinyGenerator

RUN = "scenario random, identity random00, method guide"


def centred_embed(images: torch.Tensor) -> torch.Tensor:
    """An identity stand-in for TinyGenerator: the image minus its mean (the camera adds a
    constant to every pixel, so a view changes nothing), unit norm."""
    flat = images.flatten(1)
    return F.normalize(flat - flat.mean(1, keepdim=True), dim=1)


def two_pixels(images: torch.Tensor) -> torch.Tensor:
    """FID features: two pixels of TinyGenerator's image, full-rank over its latents."""
    return images[:, 0].flatten(1)[:, :2]


class ShiftedGenerator(TinyGenerator):
    """G_s's image plus a constant: the same identity, brighter."""

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift

    def synthesis(self, ws, camera):
        out = super().synthesis(ws, camera)
        return {**out, "image": out["image"] + self.shift}


class SwappedGenerator(TinyGenerator):
    """Renders another person, w_v, whatever latent it is given: the identity is swapped."""

    def __init__(self, w_v: torch.Tensor) -> None:
        super().__init__()
        self.w_v = w_v

    def synthesis(self, ws, camera):
        return super().synthesis(self.w_v.expand_as(ws), camera)


def latent(a: float, b: float) -> torch.Tensor:
    """TinyGenerator's W+ latent [2, 2] with both rows (a, b)."""
    return torch.tensor([[a, b], [a, b]])


def run_evaluate_on(g_u, embed=centred_embed, w_others=None):
    """evaluate() of G_s = TinyGenerator against g_u at w_u = (1, 0), real statistics = G_s's
    own (so FID(real, G_s) = 0)."""
    g_s = TinyGenerator()
    z, cameras = fid_latents(g_s, 64, seed=3)
    real = feature_statistics(generated_features(g_s, z, cameras, two_pixels, 16))
    reference = fid_reference(g_s, real, two_pixels, n=64, seed=3, batch=16)
    w_u = latent(1.0, 0.0)
    w_others = torch.stack([latent(0.5, 0.5), latent(1.0, 1.0)]) if w_others is None else w_others
    source = g_s.synthesis(w_u[None], g_s.frontal_camera(1))["image"][0]
    return evaluate(
        g_s, g_u, w_u, w_others, source, g_s.frontal_camera(1)[0], embed, two_pixels, reference, 16
    )


def test_an_untouched_generator_scores_id_one_and_zero_fid():
    metrics = run_evaluate_on(TinyGenerator())
    assert metrics["id"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["id_others"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["id_source_after"] == pytest.approx(metrics["id_source_before"], abs=1e-6)
    assert metrics["fid_pre"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["dfid_real"] == pytest.approx(0.0, abs=1e-6)
    # TinyGenerator's 2 views for the source and for each of the 2 other latents; no detector
    assert (metrics["views_source"], metrics["views_others"]) == (2, 4)
    no_face = [
        metrics[f"no_face_{g}_{w}"] for g in ("source", "others") for w in ("before", "after")
    ]
    assert no_face == [0, 0, 0, 0]


def test_a_swapped_identity_scores_the_cosine_of_the_two_people():
    # centred features of G_s at (1, 0) and (0, 1): 0.5 * [1, 0, 0.5, 0] and 0.5 * [0, 2, 0, -1]
    # minus their means -> [0.625, -0.375, 0.125, -0.375] and [-0.25, 1.75, -0.25, -1.25]
    # (x 0.5): cos = -0.375 / sqrt(0.6875 * 4.75) in every view
    metrics = run_evaluate_on(SwappedGenerator(latent(0.0, 1.0)))
    assert metrics["id"] == pytest.approx(-0.375 / math.sqrt(0.6875 * 4.75), abs=1e-6)
    assert metrics["id_source_before"] == pytest.approx(1.0, abs=1e-6)  # source = G_s(w_u)
    assert metrics["id_source_after"] == pytest.approx(metrics["id"], abs=1e-6)


def test_a_brighter_generator_keeps_its_identities_and_pays_the_shift_in_fid():
    # every image + 0.5: the two features' mean moves by (0.5, 0.5), their covariance stays,
    # so FID_pre = 0.5^2 + 0.5^2; FID(real, G_s) = 0 here, so dFID_real is the same
    metrics = run_evaluate_on(ShiftedGenerator(0.5))
    assert metrics["id"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["fid_pre"] == pytest.approx(0.5, abs=1e-6)
    assert metrics["dfid_real"] == pytest.approx(0.5, abs=1e-6)
    assert metrics["fid_real"] == pytest.approx(0.5, abs=1e-6)


def test_frechet_distance_of_gaussians_with_correlated_covariances():
    # sigma_1 = [[2, 1], [1, 2]] and sigma_2 = [[5, -3], [-3, 5]] share eigenvectors (1, +-1):
    # eigenvalues (3, 1) and (2, 8), so tr sqrt(s1 s2) = sqrt(6) + sqrt(8); means 3 apart
    s1, s2 = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[5.0, -3.0], [-3.0, 5.0]])
    mu1, mu2 = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    expected = 9.0 + (4.0 + 10.0) - 2 * (math.sqrt(6) + math.sqrt(8))
    assert frechet_distance((mu1, s1), (mu2, s2)) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance((mu2, s2), (mu1, s1)) == pytest.approx(expected, rel=1e-9)


class DarkGenerator(TinyGenerator):
    """Renders every image 3 darker: a stand-in detector (below) finds no face in it."""

    def synthesis(self, ws, camera):
        out = super().synthesis(ws, camera)
        return {**out, "image": out["image"] - 3.0}


def dark_blind(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An aligner whose detector finds a face only in images brighter than -0.5 on average."""
    return images, images.mean(dim=(1, 2, 3)) > -0.5


def test_views_without_a_face_are_counted_per_side_and_gate_the_run():
    embed = AlignedEmbedder(dark_blind, nn.Flatten())
    metrics = run_evaluate_on(DarkGenerator(), embed=embed)
    assert (metrics["views_source"], metrics["views_others"]) == (2, 4)
    assert (metrics["no_face_source_before"], metrics["no_face_source_after"]) == (0, 2)
    assert (metrics["no_face_others_before"], metrics["no_face_others_after"]) == (0, 4)
    with pytest.raises(UserError, match=f"^{RUN}: no face detected in 2 of 2 source views after"):
        check_faces(metrics, 0.5, RUN)
    check_faces(metrics, 1.0, RUN)  # a share of 1 never fails


def test_the_no_face_gate_fails_only_above_the_share():
    metrics = {"views_source": 4, "views_others": 0, "no_face_source_before": 2}
    metrics |= {"no_face_source_after": 0, "no_face_others_before": 0, "no_face_others_after": 0}
    check_faces(metrics, 0.5, RUN)  # 2 of 4 is not above one half
    with pytest.raises(UserError, match="2 of 4 source views before"):
        check_faces(metrics, 0.49, RUN)


def test_the_second_evaluators_misses_gate_the_run_on_their_own():
    """facenet's MTCNN may miss where the first detector found a face: its counts land in
    the record and pass the same gate, named as its own."""
    g_s, dark = TinyGenerator(), DarkGenerator()
    w_u = latent(1.0, 0.0)
    w_others = torch.stack([latent(0.5, 0.5), latent(1.0, 1.0), latent(0.0, 1.0)])
    latents = Latents(w_u, w_others, w_u, w_others)
    metrics = {"views_source": 2, "views_others": 6} | {
        f"no_face_{g}_{w}": 0 for g in ("source", "others") for w in ("before", "after")
    }
    second = second_metrics(g_s, dark, latents, AlignedEmbedder(dark_blind, nn.Flatten()))
    assert second["no_face_others_before_second"] == 0
    metrics |= second
    assert metrics["no_face_others_after_second"] == 6
    check_faces(metrics, 1.0, RUN)
    with pytest.raises(
        UserError,
        match=rf"^{RUN}: no face detected in 2 of 2 source views after unlearning \(second ev",
    ):
        check_faces(metrics, 0.5, RUN)


def test_the_record_names_the_setting_of_its_numbers():
    setting = run_setting(TinyGenerator(), {"steps": 7, "reduction": "sum"}, {"n": np.array(50)})
    assert setting == {
        "setting_image_size": 2,
        "setting_steps": 7,
        "setting_reduction": "sum",
        "setting_fid_samples": 50,
    }


# --- end to end on a small trained world --------------------------------------------------

PEOPLE, PER_PERSON = 6, 4
FORGOTTEN = (0, 2)  # the people unlearned, one at a time
UNLEARN = UnlearnSchedule(steps=20, lr=1e-3)


@pytest.fixture(scope="module")
def world():
    """A generator fitted to 6 rendered people (4 images each), and loss and evaluation
    identity networks trained on its renders (a generator this small renders blurry faces
    that networks trained on the photos cannot tell apart). One torch thread, as the
    workflow's jobs run: the numbers do not depend on it, the time on a shared CPU does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    identity = np.repeat(renderer.sample_identity_codes(PEOPLE, rng), PER_PERSON, 0)
    nuisance = renderer.sample_nuisance_codes(len(identity), rng)
    yaw = rng.uniform(-0.3, 0.3, len(identity)).astype(np.float32)
    images = torch.from_numpy(renderer.render(identity, nuisance, yaw))
    codes = torch.from_numpy(np.concatenate([identity, nuisance], 1))
    cameras = torch.from_numpy(yaw)[:, None]
    g_s = train_generator(images, codes, cameras, Schedule(40, 8, 3e-3), seed=0, w_norm=50.0)
    g_s.requires_grad_(False)
    latents = g_s.mapping(codes)
    with torch.no_grad():
        renders = g_s.synthesis(latents, cameras)["image"]
    labels = torch.arange(PEOPLE).repeat_interleave(PER_PERSON)
    schedule = Schedule(30, 16, 3e-3)
    nets = {
        role: train_identity(renders, labels, arch, schedule, seed=seed, width=8)
        for role, arch, seed in (("loss", "resnet", 2), ("eval", "plain", 1))
    }
    yield g_s, latents, nets
    torch.set_num_threads(threads)


def mean_id(world, method: str, schedule: UnlearnSchedule = UNLEARN) -> float:
    """ID over the forgotten people, each unlearned from its first image's latent."""
    g_s, latents, nets = world
    lpips = build_lpips("alex", random_backbone=True)
    guide = LossConfig(adj_weight=1.0, global_weight=1.0)
    ids = []
    for person in FORGOTTEN:
        w_u = latents[person * PER_PERSON]
        w_t, config = {
            "untouched": (None, None),
            "baseline": (g_s.w_avg.clone(), LossConfig()),
            "guide": (ufo_target(w_u, g_s.w_avg, 30.0), guide),
        }[method]
        g_u = g_s
        if w_t is not None:
            g_u, _ = unlearn(g_s, w_u, w_t, lpips, nets["loss"], config, schedule, 0, False)
        none = w_u.new_zeros(0, *w_u.shape)
        metrics = identity_metrics(g_s, g_u, w_u, none, w_u, none, nets["eval"])
        assert metrics["views_source"] == 11 and metrics["no_face_source_after"] == 0
        ids.append(metrics["id"])
    return float(np.mean(ids))


def test_guide_forgets_far_below_the_untouched_id_and_below_the_baseline(world):
    untouched, baseline, guide = (mean_id(world, m) for m in ("untouched", "baseline", "guide"))
    assert untouched == pytest.approx(1.0, abs=1e-6)
    assert guide < 0.5 * untouched
    assert guide < baseline - 0.05
