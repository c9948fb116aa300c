import pytest
import torch

from idunlearn.io import UserError
from idunlearn.targets import target_for_key, target_latent, ufo_target


def test_ufo_extrapolates_by_d_along_the_identity_direction():
    w_avg = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    w_u = torch.tensor([[4.0, 1.0], [1.0, 5.0]])  # w_id = [[3, 0], [0, 4]], ||.||_F = 5
    expected = torch.tensor([[1 - 6.0, 1.0], [1.0, 1 - 8.0]])  # w_avg - 10 * w_id / 5
    assert torch.allclose(ufo_target(w_u, w_avg, 10.0), expected)


def test_negative_d_interpolates_towards_the_source_and_zero_is_the_average():
    w_avg = torch.zeros(2, 2)
    w_u = torch.tensor([[3.0, 0.0], [0.0, 4.0]])
    assert torch.allclose(ufo_target(w_u, w_avg, -5.0), w_u)
    assert torch.allclose(ufo_target(w_u, w_avg, 0.0), w_avg)


def test_ufo_norm_is_frobenius_over_all_of_w_plus_per_batch_item():
    w_avg = torch.zeros(2, 2)
    batch = torch.stack(
        [torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])]
    )
    out = ufo_target(batch, w_avg, 1.0)
    assert torch.allclose(out.flatten(1).norm(dim=1), torch.ones(2))


def test_target_kinds():
    w_avg = torch.ones(2, 2)
    w_u = torch.zeros(2, 2)
    assert torch.equal(target_latent(w_u, w_avg, "average", 30.0), w_avg)
    with pytest.raises(ValueError, match="unknown target kind 'nope'"):
        target_latent(w_u, w_avg, "nope", 1.0)


def test_target_keys_name_the_target():
    w_avg = torch.zeros(2, 2)
    w_u = torch.tensor([[3.0, 0.0], [0.0, 4.0]])
    assert torch.equal(target_for_key(w_u, w_avg, "average"), w_avg)
    assert torch.allclose(target_for_key(w_u, w_avg, "ufo_d-15"), ufo_target(w_u, w_avg, -15.0))
    assert torch.allclose(target_for_key(w_u, w_avg, "ufo_d2.5"), ufo_target(w_u, w_avg, 2.5))
    with pytest.raises(UserError, match="unknown target key 'ufo_dx'"):
        target_for_key(w_u, w_avg, "ufo_dx")
