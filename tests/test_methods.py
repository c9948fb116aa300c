import copy
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


def test_comparison_methods_have_their_kind_and_options():
    m = all_methods(CONFIG)
    assert [name for name in CONFIG["methods"]][-3:] == ["cascaded", "feature", "encoder"]
    assert m["guide"].kind == "guide" and m["guide"].options is None and m["guide"].lr is None
    assert m["cascaded"].kind == "cascaded" and m["cascaded"].options.substitute == "average"
    assert m["cascaded"].options.unlearn_steps == 50 and m["cascaded"].options.learn_steps == 50
    assert m["feature"].kind == "feature" and m["feature"].options.threshold is None
    assert m["encoder"].kind == "encoder" and m["encoder"].lr == 0.001
    assert m["encoder"].needs_encoder and m["encoder"].needs_retain_images
    assert not m["cascaded"].needs_retain_images  # zero_shot: no real images
    assert not m["guide"].needs_retain_images and not m["guide"].needs_encoder
    # comparison methods read only the average target file (for the evaluation strip)
    assert {m[k].target_key for k in ("cascaded", "feature", "encoder")} == {"average"}


def test_different_kinds_never_alias_equal_options_do():
    config = {
        "loss": CONFIG["loss"],
        "methods": {
            "baseline": {"target": "average"},
            "cascaded": {"kind": "cascaded"},
            "cascaded_again": {"kind": "cascaded", "substitute": "average"},
            "few": {"kind": "cascaded", "phase": "few_shot"},
            "feature": {"kind": "feature"},
            "encoder": {"kind": "encoder"},
            "encoder_fast": {"kind": "encoder", "lr": 0.01},
        },
    }
    canonical = canonical_names(config)
    assert canonical["cascaded_again"] == "cascaded"
    for name in ("baseline", "cascaded", "few", "feature", "encoder", "encoder_fast"):
        assert canonical[name] == name


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "cascaded", "adj_weight": 1.0}, "unknown key.*adj_weight"),
        ({"target": "ufo", "substitute": "average"}, "unknown key.*substitute"),
        ({"kind": "nope"}, "unknown kind 'nope'"),
        ({"kind": "cascaded", "substitute": "mean"}, "substitute must be"),
        ({"kind": "cascaded", "phase": "one_shot"}, "phase must be"),
    ],
)
def test_bad_method_entries_are_named(entry, message):
    with pytest.raises(ValueError, match=message):
        all_methods({"loss": {}, "methods": {"m": entry}})


SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def validated(change):
    from snakemake.utils import validate

    config = copy.deepcopy(CONFIG)
    change(config)
    validate(config, str(SCHEMA))
    return config


def test_schema_fills_defaults_of_the_comparison_kinds_only():
    config = validated(lambda c: None)
    assert config["methods"]["guide"] == CONFIG["methods"]["guide"]  # guide entries as written
    assert config["methods"]["cascaded"]["psi"] == 0.5
    assert config["methods"]["feature"]["num_near"] == 3
    assert config["methods"]["encoder"]["batch_size"] == 16
    # and the filled-in defaults are the dataclasses' own
    assert all_methods(config) == all_methods(CONFIG)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c["methods"]["guide"].update(substitute="average"), "substitute"),
        (lambda c: c["methods"]["cascaded"].update(adj_weight=1.0), "adj_weight"),
        (lambda c: c["methods"]["cascaded"].update(substitute="mean"), "mean"),
        (lambda c: c["methods"]["feature"].update(kind="features"), "features"),
        (lambda c: c["methods"]["encoder"].update(psi=0.3), "psi"),
        (lambda c: c["methods"]["encoder"].update(lr=0), "lr"),
    ],
)
def test_schema_rejects_bad_comparison_keys_naming_them(change, named):
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match=named):
        validated(change)
