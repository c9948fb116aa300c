from pathlib import Path

import pytest
import yaml

from idunlearn.methods import all_methods, canonical_names, get_method

CONFIG = yaml.safe_load(Path("config/config.yaml").read_text())


def test_table_methods_are_cumulative_as_in_the_paper():
    m = all_methods(CONFIG)
    assert m["baseline"].target == "average" and m["baseline"].loss.adj_weight == 0
    assert m["extrapolated"].target_key == "ufo_d30"
    assert m["adjacency"].loss.adj_weight == 1.0 and m["adjacency"].loss.global_weight == 0
    assert m["guide"].loss.adj_weight == 1.0 and m["guide"].loss.global_weight == 1.0
    assert m["guide"].loss.alpha_max == 15.0 and m["guide"].loss.num_adj == 2


def test_ablation_grids_expand_and_coinciding_runs_are_shared():
    canonical = canonical_names(CONFIG)
    assert canonical["alpha0"] == "baseline"
    assert canonical["local"] == "baseline"
    assert canonical["d0"] == "baseline"
    assert canonical["d30"] == "extrapolated"
    assert canonical["alpha15"] == "alpha15"
    assert canonical["local_global"] == "local_global"
    assert all_methods(CONFIG)["d-15"].target_key == "ufo_d-15"


def test_unknown_method_is_named():
    with pytest.raises(KeyError, match="method 'nope' is not configured"):
        get_method(CONFIG, "nope")
