"""Names shared by aggregation, tables, figures and captions: columns, scenarios, labels."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from idunlearn.identities import SAMPLE

SCENARIOS = {"random": "Random", "ind": "InD", "ood": "OOD", SAMPLE: "GUIDE sample"}
METRICS = {"id": "ID", "id_others": "ID_others", "fid_pre": "FID_pre", "dfid_real": "dFID_real"}
KEY_COLUMNS = ("scenario", "identity", "method")
VALUE_COLUMNS = (
    "id",
    "id_others",
    "id_source_before",
    "id_source_after",
    "fid_pre",
    "fid_real",
    "dfid_real",
)
# Views where the evaluation detector found no face (the fixed FFHQ box was used), out of
# the views scored; an unlearned generator that renders non-faces must not pass silently.
NO_FACE_COLUMNS = (
    "no_face_source_before",
    "no_face_source_after",
    "no_face_others_before",
    "no_face_others_after",
    "views_source",
    "views_others",
)
# The real setting's second ID network (facenet beside CurricularFace, its own MTCNN), and
# the views its detector missed (out of the same views_* as the first's).
SECOND_EVALUATOR_COLUMNS = (
    "id_second",
    "id_others_second",
    *(f"{column}_second" for column in NO_FACE_COLUMNS[:4]),
)
# Attack columns (rule attack): `{id,id_others,src}_{attack}`, e.g. id_reinv_optim,
# id_relearn_50; their ID is Table 1's formula with the attacked generator and latent.
ATTACK_COLUMN = re.compile(r"^(id|id_others|src)_(reinv_encoder|reinv_optim|search|relearn_(\d+))$")
ATTACK_ORDER = ("reinv_encoder", "reinv_optim", "search", "relearn")
ATTACK_LABELS = {"reinv_encoder": "reinv-enc", "reinv_optim": "reinv-opt", "search": "search"}
PAPER_LABELS = {
    "baseline": "Baseline",
    "extrapolated": "+ extrapolated w_t",
    "adjacency": "+ L_adj",
    "guide": "+ L_global (GUIDE)",
    "local": "L_local",
    "local_global": "L_local + L_global",
    "cascaded": "Cascaded GAN unlearning",
    "feature": "Feature unlearning",
    "encoder": "Encoder unlearning (I2I)",
    "adapter": "Adapter unlearning (LEGATO)",
    "sugar": "SUGAR (WACV 2026)",
}
GLOBAL_ABLATION = ("local", "local_global")


def attack_columns(
    columns: Iterable[str], prefixes: Sequence[str] = ("id", "id_others", "src")
) -> list[str]:
    """The attack columns among `columns` with one of `prefixes`, by attack, k, then prefix."""

    def key(name: str) -> tuple[int, int, int]:
        match = ATTACK_COLUMN.match(name)
        attack = "relearn" if match.group(3) else match.group(2)
        k = int(match.group(3)) if match.group(3) else 0
        return ATTACK_ORDER.index(attack), k, ("id", "id_others", "src").index(match.group(1))

    found = [c for c in columns if (m := ATTACK_COLUMN.match(c)) and m.group(1) in prefixes]
    return sorted(dict.fromkeys(found), key=key)


def metric_label(metric: str) -> str:
    """A column head: the paper's metric name, or e.g. "ID reinv-opt", "ID relearn-50"."""
    if metric in METRICS:
        return METRICS[metric]
    match = ATTACK_COLUMN.match(metric)
    if not match:
        return metric
    attack = f"relearn-{match.group(3)}" if match.group(3) else ATTACK_LABELS[match.group(2)]
    return f"{METRICS[match.group(1)] if match.group(1) in METRICS else match.group(1)} {attack}"


def ordered_scenarios(scenarios: Iterable[str]) -> list[str]:
    """The paper's order (Random, InD, OOD), unknown scenarios after it by name."""
    present = set(scenarios)
    known = [name for name in SCENARIOS if name in present]
    return known + sorted(present - set(SCENARIOS))


def scenario_label(scenario: str) -> str:
    return SCENARIOS.get(scenario, scenario)


def ablation_methods(names: Iterable[str], prefix: str) -> list[str]:
    """Names `{prefix}{value:g}` (alpha15, d-15) sorted by value: the rows of an ablation grid."""
    pattern = re.compile(rf"^{re.escape(prefix)}(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$")
    values = {name: float(m.group(1)) for name in set(names) if (m := pattern.match(name))}
    return sorted(values, key=values.__getitem__)


def method_label(name: str) -> str:
    """The paper's row name of a method; ablation names read as their parameter."""
    if name in PAPER_LABELS:
        return PAPER_LABELS[name]
    for prefix, symbol in (("alpha", "alpha_max"), ("d", "d")):
        if ablation_methods([name], prefix):
            return f"{symbol} = {name[len(prefix) :]}"
    return name
