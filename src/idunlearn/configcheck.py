"""Config checks beyond the schema, run by the workflow before any job.

The schema checks each value alone; these check values against each other and against
the world or the disk, so that a config that cannot work fails in `snakemake -n`
instead of in a job (which would also replace a good output with nothing).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from idunlearn.methods import MULTI_KINDS, all_methods

# Every config list that names methods: (block, key).
METHOD_LISTS = (
    ("attacks", "methods"),
    ("multi", "methods"),
    ("render", "methods"),
    ("guide_sample", "methods"),
)
MAX_VALUE = 120  # characters of an offending value shown in a schema error


def schema_message(err: BaseException) -> str:
    """The schema error of snakemake's validate() in one line: the key, the problem and
    the value, not the whole schema (jsonschema's own text prints it). validate() raises
    its WorkflowError while handling the ValidationError: that is its __context__."""
    error = err if isinstance(err, jsonschema.ValidationError) else err.__context__
    if not isinstance(error, jsonschema.ValidationError):
        return str(err)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    text = f"config{where}: {error.message}"
    if not isinstance(error.instance, dict | list):
        text += f" (value {json.dumps(error.instance)[:MAX_VALUE]})"
    return text


def count_problems(config: dict[str, Any]) -> list[str]:
    """Identities per scenario that the synthetic world does not have."""
    if config["generator"] != "synthetic":
        return []  # the real datasets are counted when they are indexed (select_identities)
    world, wanted = config["world"], config["identities"]
    pools = (("ind", "num_identities", "training"), ("ood", "num_heldout", "held-out"))
    problems = [
        f"identities.{scenario}: {wanted[scenario]} asked for, the world has "
        f"{world[key]} {what} identities (world.{key})"
        for scenario, key, what in pools
        if wanted[scenario] > world[key]
    ]
    if world["quality_inversions"] > world["num_heldout"]:
        problems.append(
            f"world.quality_inversions: {world['quality_inversions']} asked for, the world"
            f" has {world['num_heldout']} held-out identities (world.num_heldout)"
        )
    return problems


def method_list_problems(config: dict[str, Any]) -> list[str]:
    """Names in a list of methods that no configured method or ablation has."""
    known = all_methods(config)
    problems = []
    for block, key in METHOD_LISTS:
        unknown = [name for name in config.get(block, {}).get(key, []) if name not in known]
        if unknown:
            problems.append(
                f"{block}.{key}: unknown method(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
    return problems


def multi_problems(config: dict[str, Any]) -> list[str]:
    """Multi methods of a kind whose objective covers one identity; more multi identities
    than the world holds; the real setting (its multi identities are not indexed yet)."""
    multi = config.get("multi", {})
    if not multi.get("methods"):
        return []
    known = all_methods(config)
    single = [n for n in multi["methods"] if n in known and known[n].kind not in MULTI_KINDS]
    problems = (
        [
            f"multi.methods: {', '.join(single)} of a one-identity kind (multi kinds: "
            f"{', '.join(MULTI_KINDS)})"
        ]
        if single
        else []
    )
    if config["generator"] != "synthetic":
        return [*problems, "multi: runs on the synthetic world only (generator synthetic)"]
    wanted = max(multi.get("grid", [1, 2, 5, 10])) + multi.get("retain", 10)
    if wanted > config["world"]["num_heldout"]:
        problems.append(
            f"multi: max(grid) + retain = {wanted} identities, the world has"
            f" {config['world']['num_heldout']} held-out ones (world.num_heldout)"
        )
    return problems


def code_problems(config: dict[str, Any]) -> list[str]:
    """A checkout named by the sample identity that the `code` block does not fetch."""
    sample = config.get("guide_sample")
    if sample is None or sample["code"] in config.get("code", {}):
        return []
    known = ", ".join(sorted(config.get("code", {}))) or "none"
    return [f"guide_sample.code: {sample['code']!r} is not a key of code (known: {known})"]


def config_problems(config: dict[str, Any]) -> list[str]:
    """Everything in a schema-valid config that cannot work, one message each."""
    return (
        count_problems(config)
        + method_list_problems(config)
        + multi_problems(config)
        + code_problems(config)
    )
