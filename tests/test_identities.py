import numpy as np
import pytest

from idunlearn.identities import lookup, select_identities
from idunlearn.io import UserError


def world_labels():
    identity = np.repeat(np.arange(6), 3)
    heldout = identity >= 4
    image_index = np.tile(np.arange(3), 6)
    return identity, heldout, image_index


def test_selection_is_seeded_and_respects_the_splits():
    identity, heldout, image_index = world_labels()
    counts = {"random": 2, "ind": 2, "ood": 2}
    a = select_identities(identity, heldout, image_index, counts, seed=0)
    b = select_identities(identity, heldout, image_index, counts, seed=0)
    assert a.equals(b)
    ood = a[a.scenario == "ood"]
    assert set(ood.label) == {4, 5}
    assert all(image_index[s] == 0 for s in a[a.scenario != "random"].source_index)
    row = lookup(a, "ood", "ood01")
    others = [int(i) for i in row.other_indices.split()]
    assert len(others) == 2 and all(identity[i] == row.label for i in others)


def test_too_many_identities_and_unknown_names_are_errors():
    identity, heldout, image_index = world_labels()
    with pytest.raises(UserError, match="3 ood identities asked for, the dataset has 2"):
        select_identities(identity, heldout, image_index, {"ood": 3}, seed=0)
    table = select_identities(identity, heldout, image_index, {"ind": 1}, seed=0)
    with pytest.raises(UserError, match="identity 'ind07' of scenario 'ind'"):
        lookup(table, "ind", "ind07")
