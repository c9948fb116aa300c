import json
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import IOFile
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

from idunlearn.configcheck import config_problems, schema_message
from idunlearn.identities import (
    SAMPLE,
    SCENARIOS,
    forget_names,
    identity_names,
    retain_names,
)
from idunlearn.job import outdate_restored
from idunlearn.methods import all_methods, canonical_names, settings_json
from idunlearn.seeding import derive_seed
from idunlearn.world.dataset import WorldSpec

try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as err:  # its text is the whole schema: name the key and value
    raise WorkflowError(schema_message(err)) from None
if problems := config_problems(config):
    raise WorkflowError("config: " + "; ".join(problems))

SYNTHETIC = config["generator"] == "synthetic"
SCRIPTS = Path(workflow.basedir) / "scripts"
# Every rule's shell is `run_step {log:q} <script name> <flags>`: the step runs under
# the interpreter Snakemake runs in (its conda env's python with --sdm conda), its
# output goes to the log, and a failure puts its one-line Error on the console
# (idunlearn.job). A shell function of the prefix, not a variable of the rules: a moved
# repository or another interpreter is not a change of any job.
CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PY = "python" if CONDA else shlex.quote(sys.executable)
# (doubled braces: Snakemake formats the prefix with each command)
RUN_STEP = (
    f'run_step() {{{{ {PY} -m idunlearn.job {shlex.quote(str(SCRIPTS))} "$@"; }}}}; '
)
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
# The schedule keys of each world network, in the order of the training CLIs' flags.
SCHEDULE_KEYS = ("steps", "batch_size", "lr")
# How the generator is fit besides its schedule, in the order of train_generator's flags.
GENERATOR_FIT_KEYS = ("feature_weight", "fresh_share", "coords", "point_weight")
METHODS = all_methods(config)
CANONICAL = canonical_names(config)
TABLE_METHODS = list(config["methods"])
ABLATION_METHODS = [name for name in METHODS if name not in config["methods"]]
# every torch step runs where unlearning does (unlearn.device: cpu | cuda | auto), with the
# GPU's deterministic switches or not (deterministic)
# the no-face gate of every step that scores renders with the evaluation network
NO_FACE_FLAG = "--max-no-face-share {}".format(
    config["evaluation"]["max_no_face_share"]
)
DEVICE_FLAG = "--device {} {}".format(
    config["unlearn"]["device"],
    "--deterministic" if config["deterministic"] else "--nondeterministic",
)
# torch threads of a job: the config's, even where --cores gives the job fewer slots, since
# the thread count decides how float sums split: a 1-core run then oversubscribes instead
# of training another world (the same config makes the same numbers on any machine); the
# world's two 2-thread jobs pass world.threads (world.smk)
JOB_THREADS = f"--threads {config['threads']}"
LPIPS_FLAGS = "--lpips-net {} {}".format(
    config["lpips"]["net"],
    "--lpips-random" if config["lpips"]["random_backbone"] else "--lpips-pretrained",
)


def method_settings(wildcards):
    """The job's method's own resolved settings, canonical JSON quoted for the shell: a
    change to one method reruns only that method's jobs."""
    return shlex.quote(settings_json(config, wildcards.method))


# The reference code's sample identity (real setting): its methods, none without the key.
SAMPLE_METHODS = config.get(SAMPLE, {}).get("methods", [])


wildcard_constraints:
    scenario="|".join((*SCENARIOS, SAMPLE)),
    identity=r"[a-z_]+\d+",
    method="|".join(re.escape(name) for name in sorted(METHODS, key=len, reverse=True)),
    role="loss|eval",
    mode="simultaneous|sequential",
    n=r"[1-9]\d*",
    target=r"average|ufo_d-?[0-9.]+",


def keep(path):
    """An output a failing rerun must not take with it: Snakemake backs it up and puts
    it back if the job fails (the steps write atomically, so a kill leaves it whole);
    onerror below dates the put-back copy back so that the next run redoes the job."""
    return update(path)


def flags(block, *keys):
    """`--key value` for `keys` of a config block in this order: a canonical param (the
    text of a dict would change with the config's key order and rerun the job)."""
    return " ".join(
        f"--{k.replace('_', '-')} {shlex.quote(str(block[k]))}" for k in keys
    )


def seed_for(*parts):
    """A job's seed: derived from the root seed and the job's name."""
    return derive_seed(config["seed"], *parts)


SAMPLE_INDEX = f"results/real/{SAMPLE}_index.tsv"


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
    sample = identity_names(SAMPLE, 1)[0]
    return runs + [(SAMPLE, sample, method) for method in SAMPLE_METHODS]


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
        files["dataset"] = f"{WORLD}/dataset.npz"
        files["identities"] = rules.select_identities.output[0]
    if method.needs_encoder:
        files["encoder"] = network("encoder")
    return files


def get_evaluate_extra(wildcards):
    """The encoder method is evaluated through its unlearned encoder: it needs the file.
    The real setting adds its second evaluation network (facenet)."""
    files = {} if SYNTHETIC else {"second_identity": network("identity_second")}
    if METHODS[wildcards.method].needs_encoder:
        files["encoder"] = network("encoder")
    return files


def table_names():
    """Tables 1-2 always (Table 2 with OOD identities), 3-4 when their ablations are on,
    the attack table when methods are attacked (the claims table: rule tables)."""
    ablations = config.get("ablations", {})
    names = ["table1"]
    names += ["table2"] if config["identities"]["ood"] > 0 else []
    names += ["table3"] if ablations.get("alpha_max") else []
    names += ["table4"] if ablations.get("global") else []
    attacked = attacked_methods()
    names += ["attacks"] if any(CANONICAL[m] in attacked for m in TABLE_METHODS) else []
    return names + ([SAMPLE] if SAMPLE_METHODS else [])


def caption_setting():
    """The setting the tables' captions name (sorted-key JSON): synthetic world or EG3D,
    size, networks, steps, FID samples, loss reduction, EG3D's camera choices."""
    setting = {
        "generator": config["generator"],
        "unlearn_steps": config["unlearn"]["steps"],
        "fid_samples": config["evaluation"]["fid_samples"],
        "reduction": config["loss"].get("reduction", "mean"),
        "image_size": WorldSpec.image_size,
    }
    if not SYNTHETIC:
        setting |= {
            "image_size": config["real"]["resolution"],
            "generator_file": config["assets"]["eg3d"]["file"],
            "eval_identity": config["real"]["eval_identity"],
            # facenet as the ID network brings its own MTCNN: eval_detector is not used
            "eval_detector": (
                config["real"]["eval_detector"]
                if config["real"]["eval_identity"] == "curricularface"
                else ""
            ),
            "second_identity": "facenet",
            "eg3d": config.get("eg3d", {}),
        }
    return json.dumps(setting, sort_keys=True)


def figure_names():
    names = ["qualitative", "tradeoff"]
    return names + (["d_ablation"] if config.get("ablations", {}).get("d") else [])


def network(name):
    """A network's file: a world checkpoint, or (real setting) a network spec.

    name: generator, encoder, identity_loss, identity_eval or features.
    """
    return f"{WORLD}/{name}.pt" if SYNTHETIC else f"results/networks/{name}.json"


def get_select_identities_input(wildcards):
    """The synthetic dataset, or the real setting's FFHQ and CelebAHQ indices."""
    if SYNTHETIC:
        return {"dataset": f"{WORLD}/dataset.npz"}
    return {
        "ffhq_index": "results/real/ffhq_index.tsv",
        "celebahq_index": "results/real/celebahq_index.tsv",
        **({"sample_index": SAMPLE_INDEX} if SAMPLE_METHODS else {}),
    }


def select_identities_flags(input):
    """The dataset flags of select_identities (real: the indices and the OOD minimum)."""
    files = file_flags(
        input, ("dataset", "ffhq_index", "celebahq_index", "sample_index")
    )
    if SYNTHETIC:
        return files
    return f"{files} --min-images {config['real']['ood_min_images']}"


def get_invert_dataset(wildcards):
    """Where an identity's photos come from (none for random identities, real setting)."""
    if SYNTHETIC:
        return f"{WORLD}/dataset.npz"
    if wildcards.scenario == "random":
        return []
    return f"results/faces/{wildcards.scenario}/{wildcards.identity}.npz"


def get_fid_real(wildcards):
    """Real images for FID: the world's dataset, or precomputed FFHQ statistics."""
    return f"{WORLD}/dataset.npz" if SYNTHETIC else "results/fid/real.npz"


def get_lpips_weights(wildcards):
    """The real setting's LPIPS backbone weights, read from resources/torch (TORCH_HOME)."""
    return [] if SYNTHETIC or config["lpips"]["random_backbone"] else asset("vgg16")


def file_flags(input, keys):
    """`--key path` for each of `keys` given in a rule's input (optional inputs)."""
    given = [key for key in keys if key in input.keys() and len(input[key])]
    return " ".join(
        f"--{key.replace('_', '-')} {shlex.quote(str(input[key]))}" for key in given
    )


def attacked_methods():
    """Canonical names of the methods the attack rule runs on (config `attacks.methods`,
    checked against the configured methods by config_problems)."""
    return {CANONICAL[name] for name in config.get("attacks", {}).get("methods", [])}


def attacked_scenarios():
    """The scenarios whose identities are attacked (config `attacks.scenarios`)."""
    return config.get("attacks", {}).get("scenarios", [])  # the schema's default: all


def attack_records():
    """One attack record per distinct job of an attacked method in an attacked scenario,
    like evaluation_records."""
    attacked, scenarios = attacked_methods(), attacked_scenarios()
    jobs = sorted({(s, i, CANONICAL[m]) for s, i, m in requested_runs()})
    return [
        f"results/attack/{s}/{i}/{m}.json"
        for s, i, m in jobs
        if m in attacked and s in scenarios
    ]


def get_attack_flags(wildcards):
    """The attack CLI's budget flags from `attacks` and the system's `inversion` block."""
    a, inv = config["attacks"], config["inversion"]
    return (
        f"--inversion-method {inv['method']} --inversion-lr {inv['lr']}"
        f" --lpips-weight {inv['lpips_weight']} --reinvert-steps {a['reinversion']['steps']}"
        f" --search-radius {a['search']['radius']} --search-steps {a['search']['steps']}"
        f" --search-step-size {a['search']['step_size']}"
        f" --relearn-ks {','.join(str(k) for k in a['relearn']['ks'])}"
        f" --relearn-lr {a['relearn']['lr']}"
    )


def sweep_records():
    """One strength-sweep record per distinct run of a method whose options have a sweep."""
    jobs = sorted({(s, i, CANONICAL[m]) for s, i, m in requested_runs()})
    return [
        f"results/sweep/{s}/{i}/{m}.json"
        for s, i, m in jobs
        if getattr(METHODS[m].options, "sweep", None)
    ]


def get_final_output():
    return [
        *([f"{WORLD}/quality.json"] if SYNTHETIC else []),
        *(["results/figures/strength_sweep.png"] if sweep_records() else []),
        "results/metrics/all.csv",
        *(f"results/tables/{name}.md" for name in table_names()),
        *(f"results/figures/{name}.png" for name in figure_names()),
        *visual_outputs(),  # workflow/rules/render.smk
        *multi_outputs(),  # workflow/rules/multi.smk
    ]


# The multi-identity experiment (config `multi`; workflow/rules/multi.smk).
MULTI = config.get("multi", {})


def multi_methods():
    return MULTI.get("methods", [])


def multi_forget(n):
    """The first n forgotten identities' inversions (nested: arrival order)."""
    return [f"results/multi_invert/{name}.pt" for name in forget_names(int(n))]


def get_multi_forget(wildcards):
    return multi_forget(wildcards.n)


def multi_retain_inversions():
    names = retain_names(MULTI.get("retain", 10))
    return [f"results/multi_invert/{name}.pt" for name in names]


def get_multi_previous(wildcards):
    """Sequential arrival n > 1 starts from arrival n - 1's G_u."""
    if wildcards.mode != "sequential" or int(wildcards.n) == 1:
        return {}
    m = wildcards.method
    return {
        "previous": f"results/multi_unlearn/{m}/sequential/{int(wildcards.n) - 1}.pt"
    }


def multi_per_step_flag(wildcards):
    per_step = MULTI.get("per_step")
    return "" if per_step is None else f"--per-step {per_step}"


def repeated(flag, paths):
    """`flag path` for each path (a CLI option given once per file)."""
    return " ".join(f"{flag} {shlex.quote(str(path))}" for path in paths)


def multi_runs():
    """(method, mode, n): simultaneous at each N of the grid, sequential at every arrival."""
    grid = sorted(set(MULTI.get("grid", [])))
    modes = MULTI.get("modes", ["simultaneous", "sequential"])
    runs = []
    for method in multi_methods():
        runs += [(method, "simultaneous", n) for n in grid if "simultaneous" in modes]
        if "sequential" in modes and grid:
            runs += [(method, "sequential", n) for n in range(1, grid[-1] + 1)]
    return runs


def multi_records(kind):
    """Evaluations of every run; attacks on the final G_u of each N of the grid."""
    grid = set(MULTI.get("grid", []))
    runs = multi_runs()
    if kind == "attack":
        runs = [r for r in runs if r[2] in grid] if MULTI.get("relearn") else []
    return [f"results/multi_{kind}/{m}/{mode}/{n}.json" for m, mode, n in runs]


def multi_caption():
    retain = MULTI.get("retain", 0)
    per_step = MULTI.get("per_step")
    covered = "all" if per_step is None else f"{per_step} per step"
    return (
        f"Forgetting N held-out identities ({config['generator']}, {config['unlearn']['steps']}"
        f" steps per unlearning; simultaneous steps cover {covered}; sequential rows after"
        f" arrival N). ID of the forgotten identities (lower is better): mean ± half-width"
        " of the 95 % Student's t interval (N - 1 degrees of freedom) and worst; retain ID"
        f" over {retain} identities never forgotten"
        " (G_s vs G_u, higher is better); FID_pre, dFID_real over"
        f" {config['evaluation']['fid_samples']} samples; ID after relearning on every"
        " forgotten source photo."
    )


def multi_outputs():
    if not multi_runs():
        return []
    return [
        "results/tables/multi.md",
        "results/figures/multi_n.png",
        "results/figures/multi_sequential.png",
    ]


# The real setting (generator eg3d): assets, code checkouts and network specs.


def asset(key):
    """Where a configured asset lands once verified."""
    return f"resources/{config['assets'][key]['file']}"


def code_dir(key):
    return f"resources/code/{key}"


def needs_alignment(scenario):
    """CelebAHQ photos are aligned (real.align_ood), the sample's as its `align` says."""
    if scenario == SAMPLE:
        return config[SAMPLE]["align"]
    return scenario == "ood" and config["real"]["align_ood"]


def real_network(name):
    """(role, family, weights asset, code checkout, w_avg asset) of a real network."""
    real = config["real"]
    return {
        "generator": ("generator", "eg3d", "eg3d", "eg3d", "w_avg"),
        "encoder": (
            ("encoder", "goae", "goae", "goae", None)
            if real["inversion"] == "goae"
            else ("encoder", "average", None, None, None)
        ),
        "identity_loss": ("identity", "arcface", "arcface", None, None),
        "identity_eval": (
            "identity",
            real["eval_identity"],
            real["eval_identity"],
            None,
            None,
        ),
        # beside the first
        "identity_second": ("identity", "facenet", "facenet", None, None),
        "features": ("features", "inception", "inception", None, None),
    }[name]


def get_network_spec_input(wildcards):
    _, _, weights, code, w_avg = real_network(wildcards.network)
    files = {
        "weights": asset(weights) if weights else None,
        "w_avg": asset(w_avg) if w_avg else None,
    }
    files["code"] = code_dir(code) if code else None
    return {key: path for key, path in files.items() if path}


def network_spec_flags(wildcards):
    role, family, weights, code, _ = real_network(wildcards.network)
    text = f"--role {role} --family {family}"
    if weights and config["assets"][weights]["sha256"]:
        text += f" --sha256 {config['assets'][weights]['sha256']}"
    if code:
        # the adapters know their repository's layout
        text += f" --code-root {shlex.quote(code_dir(code))}"
    if role == "generator":
        # how EG3D renders: kept in its spec, so that every step renders alike
        e = config["eg3d"]
        text += f" --look-at {e['look_at']} --focal {e['focal']} --noise-mode {e['noise_mode']}"
    if wildcards.network == "identity_eval" and family == "curricularface":
        # the MTCNN and fit of its crops: kept in its spec, so that every evaluation aligns alike
        text += f" --detector {config['real']['eval_detector']}"
    return text


if not SYNTHETIC:
    needs_world = sorted(
        name
        for name, method in METHODS.items()
        if method.needs_retain_images or method.needs_encoder
    )
    if needs_world:
        raise WorkflowError(
            f"methods {', '.join(needs_world)} read the synthetic world's retain images or"
            " encoder: in the real setting use cascaded with phase zero_shot, or feature"
        )

if SAMPLE_METHODS:
    unknown = sorted(set(SAMPLE_METHODS) - set(METHODS))
    if SYNTHETIC or config[SAMPLE]["code"] not in config["code"] or unknown:
        raise WorkflowError(
            f"{SAMPLE}: needs generator eg3d, a `code:` entry {config[SAMPLE]['code']!r}"
            f" and known methods (unknown: {', '.join(unknown) or 'none'})"
        )

if not SYNTHETIC and config["real"]["inversion"] == "optimisation":
    if (
        config["inversion"]["method"] != "optimisation"
        or config["inversion"]["steps"] == 0
    ):
        raise WorkflowError(
            "real.inversion: optimisation starts from w_avg: set inversion.method:"
            " optimisation and inversion.steps > 0"
        )

# The real setting's jobs read torch hub weights (LPIPS' VGG, Inception) from the
# verified downloads, never from the internet or a user cache.
TORCH_HOME = shlex.quote(str(Path("resources/torch").resolve()))
shell.prefix(
    "set -euo pipefail; "
    + ("" if SYNTHETIC else f"export TORCH_HOME={TORCH_HOME}; ")
    + RUN_STEP
)


onerror:
    # The copy Snakemake put back of a failed job's kept output carries the failed run's
    # record (its inputs' checksums): drop it, so the dated-back file is redone next time.
    for path in outdate_restored([Path(f) for f in log]):
        workflow.persistence.cleanup_metadata(IOFile(str(path)))
