import json
import re
from pathlib import Path

from snakemake.utils import validate

from idunlearn.identities import SCENARIOS, identity_names
from idunlearn.methods import all_methods, canonical_names
from idunlearn.seeding import derive_seed

validate(config, "../schemas/config.schema.yaml")

SCRIPTS = Path(workflow.basedir) / "scripts"
PAPER_NUMBERS = str(Path(workflow.basedir) / "config" / "paper_numbers.yaml")
WORLD = "results/world"
# The world keys the dataset depends on (not the networks' schedules).
DATASET_KEYS = (
    "num_identities",
    "images_per_identity",
    "num_heldout",
    "heldout_images",
    "yaw_range",
)
METHODS = all_methods(config)
CANONICAL = canonical_names(config)
TABLE_METHODS = list(config["methods"])
ABLATION_METHODS = [name for name in METHODS if name not in config["methods"]]
LPIPS_FLAGS = "--lpips-net {} {}".format(
    config["lpips"]["net"],
    "--lpips-random" if config["lpips"]["random_backbone"] else "--lpips-pretrained",
)
METHODS_JSON = json.dumps(
    {key: config.get(key, {}) for key in ("methods", "loss", "ablations")},
    sort_keys=True,
)


wildcard_constraints:
    scenario="|".join(SCENARIOS),
    identity=r"[a-z]+\d+",
    method="|".join(re.escape(name) for name in sorted(METHODS, key=len, reverse=True)),
    role="loss|eval",
    target=r"average|ufo_d-?[0-9.]+",


def script_path(name):
    """The step CLI of a rule: scripts/<name>.py beside the Snakefile."""
    return str(SCRIPTS / f"{name}.py")


def seed_for(*parts):
    """A job's seed: derived from the root seed and the job's name."""
    return derive_seed(config["seed"], *parts)


def identities_of(scenario):
    return identity_names(scenario, config["identities"][scenario])


def requested_runs():
    """(scenario, identity, method name) of every table cell and ablation row."""
    runs = [
        (scenario, identity, method)
        for scenario in SCENARIOS
        for identity in identities_of(scenario)
        for method in TABLE_METHODS
    ]
    scenario = config.get("ablation_scenario", "ood")
    runs += [
        (scenario, identity, method)
        for identity in identities_of(scenario)
        for method in ABLATION_METHODS
    ]
    return runs


def evaluation_records():
    """One evaluation per distinct job: aliases (e.g. alpha0 = baseline) run once."""
    jobs = sorted({(s, i, CANONICAL[m]) for s, i, m in requested_runs()})
    return [f"results/evaluate/{s}/{i}/{m}.json" for s, i, m in jobs]


def method_aliases():
    requested = {m for _, _, m in requested_runs()}
    return [
        f"{name}={CANONICAL[name]}"
        for name in sorted(requested)
        if CANONICAL[name] != name
    ]


def get_target(wildcards):
    """The one target latent file a method needs (w_avg or UFO at its d)."""
    key = METHODS[wildcards.method].target_key
    return f"results/target/{wildcards.scenario}/{wildcards.identity}/{key}.pt"


def get_unlearn_extra(wildcards):
    """Inputs only some methods read: the dataset and identity table (retain images of
    cascaded few_shot and encoder), the inversion encoder (encoder). Other methods'
    jobs keep exactly the inputs they had."""
    method = METHODS[wildcards.method]
    files = {}
    if method.needs_retain_images:
        files["dataset"] = rules.dataset.output[0]
        files["identities"] = rules.select_identities.output[0]
    if method.needs_encoder:
        files["encoder"] = rules.train_encoder.output[0]
    return files


def get_evaluate_extra(wildcards):
    """The encoder method is evaluated through its unlearned encoder: it needs the file."""
    if METHODS[wildcards.method].needs_encoder:
        return {"encoder": rules.train_encoder.output[0]}
    return {}


def extra_flags(input, names):
    """`--name path` for each optional input present in the job."""
    return " ".join(f"--{name} {input[name]}" for name in names if name in input.keys())


def table_names():
    """Tables 1-2 always (Table 2 with OOD identities), 3-4 when their ablations are on."""
    ablations = config.get("ablations", {})
    names = ["table1"]
    names += ["table2"] if config["identities"]["ood"] > 0 else []
    names += ["table3"] if ablations.get("alpha_max") else []
    names += ["table4"] if ablations.get("global") else []
    return names


def figure_names():
    names = ["qualitative", "tradeoff"]
    return names + (["d_ablation"] if config.get("ablations", {}).get("d") else [])


def get_final_output():
    return [
        f"{WORLD}/quality.json",
        "results/metrics/all.csv",
        *(f"results/tables/{name}.md" for name in table_names()),
        *(f"results/figures/{name}.png" for name in figure_names()),
    ]
