import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import update_config
from tinyworld import build_world

from idunlearn.checkpoints import load_checkpoint
from idunlearn.evaluation import EvaluateJob, run_evaluate
from idunlearn.io import UserError
from idunlearn.methods import (
    KINDS,
    Kind,
    Method,
    all_methods,
    canonical_names,
    get_method,
    kind_keys,
    method_from_settings,
    settings_json,
)
from idunlearn.methods.base import Context, Files, Result
from idunlearn.system import UNLEARNED_KIND, UnlearnJob, run_unlearn

CONFIG = yaml.safe_load(Path("config/config.yaml").read_text())
# the comparison methods are an overlay, merged as Snakemake merges --configfile files
update_config(CONFIG, yaml.safe_load(Path("config/comparisons.yaml").read_text()))


def test_table_methods_are_cumulative_as_in_the_paper():
    m = {name: method.options for name, method in all_methods(CONFIG).items()}
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
    with pytest.raises(UserError, match="method 'nope' is not configured"):
        get_method(CONFIG, "nope")


@pytest.mark.parametrize(
    ("settings", "message"),
    [("{", "settings are not JSON"), ('["guide"]', "settings must be a JSON object")],
)
def test_settings_that_are_not_a_json_object_are_a_users_error(settings, message):
    with pytest.raises(UserError, match=f"^method 'm': {message}"):
        method_from_settings("m", settings)


def test_comparison_methods_have_their_kind_and_options():
    m = all_methods(CONFIG)
    assert list(CONFIG["methods"])[-4:] == ["cascaded", "feature", "encoder", "adapter"]
    assert m["guide"].kind == "guide" and m["guide"].lr is None
    assert m["cascaded"].kind == "cascaded" and m["cascaded"].options.substitute == "average"
    assert m["cascaded"].options.unlearn_steps == 50 and m["cascaded"].options.learn_steps == 50
    assert m["feature"].kind == "feature" and m["feature"].options.threshold is None
    assert m["encoder"].kind == "encoder" and m["encoder"].lr == 0.001
    assert m["encoder"].needs_encoder and m["encoder"].needs_retain_images
    assert not m["cascaded"].needs_retain_images  # zero_shot: no real images
    assert not m["guide"].needs_retain_images and not m["guide"].needs_encoder
    # comparison methods read only the average target file (for the evaluation strip)
    assert {m[k].target_key for k in ("cascaded", "feature", "encoder")} == {"average"}
    # the adapter is trained with GUIDE's full objective towards the UFO target
    objective = m["adapter"].options.objective
    assert m["adapter"].target_key == "ufo_d30" and m["adapter"].needs == m["guide"].needs
    assert objective.loss == m["guide"].options.loss


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
        ({"kind": "adapter", "substitute": "average"}, "kind adapter: unknown key.*substitute"),
        ({"kind": "encoder", "width": 3}, "kind encoder: unknown key.*width"),
        ({"target": "ufo", "width": 3}, "kind guide: unknown key.*width"),
        ({"kind": "adapter", "width": 0}, "width and ode_steps must be"),
        ({"kind": "adapter", "strength": -1.0}, "strength"),
        ({"kind": "cascaded", "substitute": "mean"}, "substitute must be"),
        ({"kind": "cascaded", "phase": "one_shot"}, "phase must be"),
    ],
)
def test_bad_method_entries_are_named(entry, message):
    with pytest.raises(UserError, match=message):
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


@pytest.mark.parametrize("kind", ["cascaded", "feature", "encoder", "adapter", "sugar"])
def test_schema_keys_and_defaults_of_each_kind_are_the_registry_s(kind):
    """The schema's per-kind block names exactly the module's keys, with its defaults."""
    from dataclasses import fields

    schema = yaml.safe_load(SCHEMA.read_text())
    blocks = schema["properties"]["methods"]["additionalProperties"]["allOf"]
    block = next(b for b in blocks if b["if"]["properties"]["kind"]["const"] == kind)
    properties = block["then"]["properties"]
    assert set(properties) == set(kind_keys(kind))
    options = KINDS[kind].Options()
    for f in fields(options):
        if f.name in properties and "default" in properties[f.name]:
            default = properties[f.name]["default"]
            value = getattr(options, f.name)
            assert (list(value) if isinstance(value, tuple) else value) == default, f.name


def test_settings_round_trip_and_do_not_depend_on_key_order():
    for name, method in all_methods(CONFIG).items():
        assert method_from_settings(name, settings_json(CONFIG, name)) == method, name
    reordered = yaml.safe_load(yaml.safe_dump(CONFIG, sort_keys=True))
    reordered["methods"] = dict(reversed(list(reordered["methods"].items())))
    reordered["methods"]["cascaded"] = dict(reversed(list(CONFIG["methods"]["cascaded"].items())))
    for name in all_methods(CONFIG):
        assert settings_json(reordered, name) == settings_json(CONFIG, name)
    # a method's settings hold its own options only: another method's change leaves them
    changed = copy.deepcopy(CONFIG)
    changed["methods"]["feature"]["num_positive"] = 9
    assert settings_json(changed, "feature") != settings_json(CONFIG, "feature")
    assert all(
        settings_json(changed, n) == settings_json(CONFIG, n)
        for n in CONFIG["methods"]
        if n != "feature"
    )


@dataclass(frozen=True)
class EchoOptions:
    """A stand-in kind: it 'trains' by storing its own option as the state."""

    value: float = 1.0

    @property
    def needs(self) -> frozenset[str]:
        return frozenset()


def test_run_unlearn_dispatches_on_the_registry(tmp_path, monkeypatch):
    import types

    calls = []

    def unlearn(context: Context) -> Result:
        calls.append(context.method)
        return Result({"v": torch.tensor(context.method.options.value)}, {"steps": 0})

    echo = types.ModuleType("echo_kind")
    echo.unlearn = unlearn
    monkeypatch.setitem(sys.modules, "echo_kind", echo)
    monkeypatch.setitem(KINDS, "echo", Kind("echo", EchoOptions, "echo_kind"))
    files = build_world(tmp_path)
    config = {"methods": {"e": {"kind": "echo", "value": 2.5}}}
    out = tmp_path / "e.pt"
    run_unlearn(
        UnlearnJob(
            files["generator"], files["inversion"], "e", settings_json(config, "e"), str(out), 0
        )
    )
    assert calls == [Method("e", "echo", EchoOptions(2.5))]
    saved = load_checkpoint(out, UNLEARNED_KIND)
    assert saved["state_dict"] == {"v": torch.tensor(2.5)} and saved["meta"]["kind"] == "echo"
    with pytest.raises(UserError, match="kind echo: unknown key.*valu"):
        all_methods({"methods": {"e": {"kind": "echo", "valu": 1}}})


# --- fair scoring: a method that did nothing scores ID = 1 and FID_pre = 0 -------------------

DID_NOTHING = {
    "guide": {"target": "ufo", "adj_weight": 1.0, "global_weight": 1.0},
    "cascaded": {"kind": "cascaded", "unlearn_steps": 1, "learn_steps": 1, "batch_size": 2},
    "feature": {"kind": "feature", "num_positive": 2, "num_negative": 2},
    "encoder": {"kind": "encoder", "retain_size": 4, "batch_size": 2},
    "adapter": {"kind": "adapter", "width": 2, "ode_steps": 1},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.mark.parametrize("kind", list(DID_NOTHING))
def test_a_method_that_did_nothing_scores_id_one_and_fid_pre_zero(world, tmp_path, kind):
    """lr 0: each kind's system after unlearning is its system before, and is scored so
    (the encoder method against G_s(E_s(x)), not against the stored inversion)."""
    config = {"loss": {}, "methods": {kind: DID_NOTHING[kind]}}
    settings = settings_json(config, kind)
    target = world["ufo_d30"] if kind in ("guide", "adapter") else world["average"]
    unlearned = tmp_path / "u.pt"
    job = UnlearnJob(
        world["generator"],
        world["inversion"],
        kind,
        settings,
        str(unlearned),
        seed=0,
        steps=2,
        lr=0.0,
        files=Files(
            target, world["identity"], world["dataset"], world["identities"], world["encoder"]
        ),
    )
    run_unlearn(job)
    out = tmp_path / "m.json"
    run_evaluate(
        EvaluateJob(
            generator=world["generator"],
            unlearned=str(unlearned),
            method=kind,
            settings=settings,
            inversion=world["inversion"],
            target=target,
            eval_identity=world["identity"],
            features=world["features"],
            reference=world["reference"],
            out_json=str(out),
            out_png=str(tmp_path / "m.png"),
            labels={"method": kind},
            batch=10,
            encoder=world["encoder"],
        )
    )
    metrics = json.loads(out.read_text())
    assert metrics["id"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["id_others"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["fid_pre"] == pytest.approx(0.0, abs=1e-6)
