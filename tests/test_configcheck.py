"""Config checks before any job: counts the world cannot satisfy, unknown methods, and
schema errors in one line."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from idunlearn.configcheck import config_problems, schema_message

TINY = Path(__file__).resolve().parent / "config" / "config.yaml"


@pytest.fixture
def config() -> dict:
    return yaml.safe_load(TINY.read_text())


def test_the_tiny_config_has_no_problems(config):
    assert config_problems(config) == []


def test_more_identities_than_the_world_has_are_named_with_both_counts(config):
    config["identities"].update(ind=41, ood=6)  # the world: 40 training, 6 held-out
    assert config_problems(config) == [
        "identities.ind: 41 asked for, the world has 40 training identities (world.num_identities)"
    ]
    config["identities"].update(ind=40, ood=7)
    assert config_problems(config) == [
        "identities.ood: 7 asked for, the world has 6 held-out identities (world.num_heldout)"
    ]


def test_more_quality_inversions_than_held_out_identities_are_named(config):
    config["world"]["quality_inversions"] = 7
    assert config_problems(config) == [
        "world.quality_inversions: 7 asked for, the world has 6 held-out identities"
        " (world.num_heldout)"
    ]


def test_unknown_rendered_and_sample_methods_and_checkouts_are_named():
    paper = yaml.safe_load((TINY.parents[2] / "config" / "paper.yaml").read_text())
    assert config_problems(paper) == []
    paper["render"] = {"methods": ["guide", "gide"]}
    paper["guide_sample"].update(methods=["nope"], code="guid")
    problems = config_problems(paper)
    assert [p.split(":")[0] for p in problems] == [
        "render.methods",
        "guide_sample.methods",
        "guide_sample.code",
    ]
    assert problems[2].startswith("guide_sample.code: 'guid' is not a key of code (known: ")


def test_the_real_setting_counts_its_datasets_later(config):
    config["generator"] = "eg3d"
    config["identities"]["ood"] = 99
    config["multi"]["methods"] = []  # multi runs on the synthetic world only (test below)
    assert config_problems(config) == []


def test_unknown_attacked_methods_are_named_ablations_are_known(config):
    config["attacks"]["methods"] = ["guide", "gide", "alpha15", "nope"]
    (problem,) = config_problems(config)
    assert problem.startswith("attacks.methods: unknown method(s) gide, nope (known: ")
    assert "alpha15" in problem


def schema_error(instance) -> jsonschema.ValidationError:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"unlearn": {"type": "object", "properties": {"steps": {"type": "integer"}}}},
    }
    return next(iter(jsonschema.Draft202012Validator(schema).iter_errors(instance)))


def test_a_schema_error_names_the_key_and_the_value_in_one_line():
    assert schema_message(schema_error({"unlearn": {"steps": "many"}})) == (
        "config.unlearn.steps: 'many' is not of type 'integer' (value \"many\")"
    )
    assert schema_message(schema_error({"stpes": 3})) == (
        "config: Additional properties are not allowed ('stpes' was unexpected)"
    )


def test_a_wrapped_schema_error_is_found_through_its_context():
    try:
        try:
            raise schema_error({"unlearn": {"steps": 1.5}})
        except jsonschema.ValidationError:
            raise RuntimeError("Error validating config file.\n... the whole schema ...") from None
    except RuntimeError as wrapped:
        # `from None` hides the context from tracebacks but keeps it on the exception
        assert schema_message(wrapped).startswith("config.unlearn.steps: 1.5 is not of type")


def test_multi_methods_of_a_one_identity_kind_and_too_many_identities_are_named(config):
    config["multi"] = {"grid": [1, 5], "retain": 2, "methods": ["guide", "cascaded", "nope"]}
    problems = config_problems(config)
    assert "multi.methods: unknown method(s) nope" in problems[0]
    assert problems[1].startswith("multi.methods: cascaded of a one-identity kind")
    assert problems[2] == (
        "multi: max(grid) + retain = 7 identities, the world has 6 held-out ones"
        " (world.num_heldout)"
    )
    config["multi"]["methods"] = []
    assert config_problems(config) == []
    config["multi"]["methods"], config["generator"] = ["guide"], "eg3d"
    assert config_problems(config) == [
        "multi: runs on the synthetic world only (generator synthetic)"
    ]
