import numpy as np
import pytest
import torch

from idunlearn.metrics import (
    feature_statistics,
    frechet_distance,
    identity_rank_score,
    identity_similarity,
    roc_auc,
    verification_auc,
    view_embeddings,
)

from tiny import TinyGenerator, flat_embed


def test_frechet_distance_closed_form():
    # equal covariances: FD = ||mu1 - mu2||^2; diagonal ones add sum(s1 + s2 - 2 sqrt(s1 s2))
    mu1, mu2 = np.zeros(2), np.array([3.0, 4.0])
    assert frechet_distance((mu1, np.eye(2)), (mu2, np.eye(2))) == pytest.approx(25.0)
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    assert frechet_distance((mu1, s1), (mu1, s2)) == pytest.approx((1 + 4 - 4) + (4 + 9 - 12))


def test_feature_statistics_and_errors():
    mu, sigma = feature_statistics(np.array([[0.0, 0.0], [2.0, 2.0]]))
    assert np.allclose(mu, [1, 1]) and np.allclose(sigma, [[2, 2], [2, 2]])
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(np.zeros((1, 3)))


def test_roc_auc_hand_values():
    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert roc_auc(np.array([1.0, 1.0]), np.array([0, 1])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        roc_auc(np.array([1.0]), np.array([1]))


def test_verification_auc_perfect_for_separated_identities():
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=float)
    assert verification_auc(emb, np.array([0, 0, 1, 1])) == 1.0


def test_identity_rank_score():
    gallery = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    labels = np.array([0, 1, 2])
    query = np.array(
        [[1, 0.2, 0.1], [0.5, 0.4, 0]]
    )  # 1st: own best; 2nd (label 1): beats only id 2
    scores = identity_rank_score(query, np.array([0, 1]), gallery, labels)
    assert np.allclose(scores, [1.0, 0.5])


def test_identity_similarity_is_one_for_an_unchanged_generator():
    g = TinyGenerator()
    ws = g.mapping(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))
    assert torch.allclose(identity_similarity(g, g, ws, flat_embed), torch.ones(2))


def test_identity_similarity_from_g_s_embeddings_given_once():
    """The gallery renders G_s once for all systems: the same values as rendering it each
    time, and the given embeddings are the ones used (another generator's give others)."""
    g_s, g_u = TinyGenerator(), TinyGenerator()
    with torch.no_grad():
        g_u.gain.mul_(torch.tensor([[1.0, -1.0], [2.0, 1.0]]))
    ws = g_s.mapping(torch.tensor([[1.0, 2.0], [0.5, -1.0], [-1.0, 0.3]]))
    plain = identity_similarity(g_s, g_u, ws, flat_embed)
    assert not torch.allclose(plain, torch.ones(3))
    before = view_embeddings(g_s, ws, flat_embed)
    assert len(before) == len(g_s.eval_cameras())
    assert torch.equal(identity_similarity(g_s, g_u, ws, flat_embed, before=before), plain)
    others = view_embeddings(g_u, ws, flat_embed)
    assert torch.allclose(
        identity_similarity(g_s, g_u, ws, flat_embed, before=others), torch.ones(3)
    )
    with pytest.raises(ValueError, match="1 embeddings of G_s for 2 evaluation views"):
        identity_similarity(g_s, g_u, ws, flat_embed, before=before[:1])
