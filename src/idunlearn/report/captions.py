"""What a reader needs beside the numbers: the setting they come from, n and CI, direction,
the loss reduction, notes on comparison methods, attacks and views without a face."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import pandas as pd

from idunlearn.io import UserError
from idunlearn.report.claims import MIN_IDENTITIES
from idunlearn.report.labels import NO_FACE_COLUMNS, scenario_label
from idunlearn.stats import ALPHA, LEVEL

REDUCTIONS = {
    "mean": "L_adj and L_global averaged over their draws (paper eqs. 7-8)",
    "sum": "L_adj and L_global summed over their draws (reference code)",
}
# Comparison methods (no paper numbers: their "(paper)" cells stay blank) and what a reader
# must know to read their rows; keyed by the default config's method names.
METHOD_NOTES = {
    "cascaded": (
        "Cascaded GAN unlearning runs without its adversarial (fake-label discriminator) "
        "term: the synthetic world's generator has no discriminator"
    ),
    "feature": "Feature unlearning: the feature is the identity's latent direction",
    "encoder": (
        "Encoder unlearning trains the inversion encoder only: its ID uses the unlearned "
        "encoder's latent of each image on G_s, and its FID_pre / dFID_real are measured on "
        "the untouched generator"
    ),
}
ATTACK_NOTE = (
    "Each attack column gives the ID after an attack, by the same formula as ID: mean over "
    "the evaluation views of cos(E(G_s(w_u)), E(G'(w'))), E the evaluation identity network, "
    "G' the attacked generator and w' the attacker's latent; higher means the identity came "
    "back; blank: not measured. reinv-enc / reinv-opt: the source image (ID_others: each other "
    "image, against its own G_s(w_o)) inverted again on G_u by the encoder / by W+ "
    "optimisation from the encoder's estimate; search: the best latent of a projected "
    "gradient ascent in an L2 ball around the system's latent of the source (w_u; encoder "
    "method: E_u(x)) on the loss identity network's similarity to the source photo; "
    "relearn-k: G_u's unlearned parameters (encoder method: the encoder) fine-tuned k steps "
    "to reconstruct the source image (L2 + LPIPS)."
)
READ_ME_NOTE = (
    "(ref. code): the GUIDE reference code's README numbers (KU-VGI/GUIDE @8c20348, "
    "evaluate_id.py / evaluate_fid.py, seed 0) for its one sample CelebAHQ identity "
    "(data/CelebAHQ/512/aligned_1-5.jpg), EG3D, reduction sum; one identity, so no std"
)
# The camera pivot of the real setting (config eg3d.look_at); absent: the code's default.
LOOK_AT = {
    "reference": "camera pivot of the reference code (the origin: GUIDE reads a key EG3D lacks)",
    "eg3d": "EG3D's own camera pivot (avg_camera_pivot 0, 0, 0.2)",
}
DEFAULT_LOOK_AT = "reference"
# how the ID network's crops were aligned (a caption must say: the ID numbers depend on it)
DETECTORS = {
    "reference": " on GUIDE's MTCNN crops",
    "facenet": " on facenet-pytorch's MTCNN crops",
}


@dataclass(frozen=True)
class Setting:
    """The setting the numbers come from, as report.smk passes it (sorted-key JSON)."""

    generator: str  # synthetic | eg3d
    image_size: int
    unlearn_steps: int
    fid_samples: int
    reduction: str
    generator_file: str = ""  # eg3d: the network pickle
    eval_identity: str = ""  # eg3d: the evaluation ID network
    eval_detector: str = ""  # eg3d: the MTCNN aligning its crops (config real.eval_detector)
    second_identity: str = ""  # eg3d: the second evaluator, if any
    eg3d: dict = field(default_factory=dict)  # eg3d: the config's eg3d block (look_at, ...)

    def __post_init__(self) -> None:
        if self.generator not in ("synthetic", "eg3d"):
            raise UserError(f"setting generator must be synthetic or eg3d, not {self.generator!r}")
        if self.reduction not in REDUCTIONS:
            raise UserError(
                f"setting reduction must be one of {', '.join(REDUCTIONS)}, not {self.reduction!r}"
            )

    @classmethod
    def from_json(cls, text: str) -> Setting:
        """Parsed and checked: an unknown or missing key is an error naming it."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"setting is not JSON: {err}") from err
        if not isinstance(values, dict):
            raise UserError("setting must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"setting: unknown key(s) {', '.join(unknown)}")
        try:
            return cls(**values)
        except TypeError as err:
            raise UserError(f"setting: {err}") from err

    def describe(self) -> str:
        """One sentence naming the setting, so synthetic and EG3D numbers never mix unnamed."""
        common = (
            f"{self.unlearn_steps} unlearning steps, FID over {self.fid_samples} samples, "
            f"{REDUCTIONS[self.reduction]}"
        )
        if self.generator == "synthetic":
            return (
                f"Setting: the embedded synthetic world ({self.image_size} x {self.image_size} "
                "renders; its trained feature network for the Frechet distances; its own loss "
                f"and evaluation identity networks), {common}."
            )
        second = f", {self.second_identity} as a second ID" if self.second_identity else ""
        detector = DETECTORS.get(self.eval_detector, "")
        return (
            f"Setting: EG3D ({self.generator_file}, {self.image_size} x {self.image_size}); "
            f"ArcFace in the loss, {self.eval_identity}{detector} for ID{second}; "
            f"Inception features for FID; {common}; {self.camera()}."
        )

    def camera(self) -> str:
        """The real setting's camera choices: the pivot, then any other eg3d key as set."""
        look_at = self.eg3d.get("look_at", DEFAULT_LOOK_AT)
        others = [f"{key} {value}" for key, value in sorted(self.eg3d.items()) if key != "look_at"]
        return "; ".join([LOOK_AT.get(look_at, f"camera pivot {look_at}"), *others])


def count_text(counts: Sequence[int]) -> str:
    """n of the cells: "3", or "2-3" when they differ, "0" without any."""
    values = sorted({int(n) for n in counts if n > 0})
    if not values:
        return "0"
    return f"{values[0]}" if len(values) == 1 else f"{values[0]}-{values[-1]}"


def uncertainty_text(counts: Sequence[int]) -> str:
    return (
        f"Ours: mean ± std [{LEVEL:.0%} Student's t interval of the mean, n - 1 degrees of "
        f"freedom; none for n = 1] over n = {count_text(counts)} identities per cell"
    )


def method_notes(methods: Sequence[str]) -> str:
    notes = [METHOD_NOTES[m] for m in dict.fromkeys(methods) if m in METHOD_NOTES]
    if notes:
        notes = ["comparison methods have no paper numbers (blank)", *notes]
    return "".join(f" {note[0].upper()}{note[1:]}." for note in notes)


def no_face_note(metrics: pd.DataFrame, scenarios: Sequence[str], methods: Sequence[str]) -> str:
    """The runs in which the evaluation detector missed a face in some view (empty if none):
    their ID was measured on the fixed FFHQ face box, which can look like forgetting."""
    rows = metrics[metrics["scenario"].isin(scenarios) & metrics["method"].isin(methods)]
    rows = rows[(rows[list(NO_FACE_COLUMNS[:4])] > 0).any(axis=1)]
    runs = []
    for row in rows.itertuples(index=False):
        counts = [
            f"{part} {when} {getattr(row, f'no_face_{part}_{when}'):g}/"
            f"{getattr(row, f'views_{part}'):g}"
            for part in ("source", "others")
            for when in ("before", "after")
            if getattr(row, f"no_face_{part}_{when}") > 0
        ]
        runs.append(f"{row.method} {row.scenario}/{row.identity} ({', '.join(counts)})")
    if not runs:
        return ""
    return (
        " No face found by the evaluation detector (the fixed FFHQ face box was scored instead) "
        f"in views of: {'; '.join(runs)}."
    )


def table_caption(
    table: pd.DataFrame,
    title: str,
    paper_note: str,
    setting: Setting,
    extra: str = "",
    reference: str = "GUIDE, CVPR 2024",
) -> str:
    """Everything a reader needs to read a paper table: setting, n and CI, direction;
    `reference`: where the "(paper)" cells come from."""
    names = [scenario_label(s) for s in dict.fromkeys(table["scenario"])]
    scenarios = f"scenario{'s' if len(names) > 1 else ''} {', '.join(names)}"
    return (
        f"{title}; {scenarios}. {uncertainty_text(table['n'])}; (paper): "
        f"{reference}{paper_note}. ID (identity similarity before vs after) lower is better, i.e. "
        f"more forgotten; FID_pre and dFID_real lower is better. {setting.describe()}"
        + method_notes(table["method"])
        + extra
    )


def claims_caption(claims: pd.DataFrame, setting: Setting) -> str:
    """The test, its family-wise correction and what each column means."""
    family = int((claims["n"] >= MIN_IDENTITIES).sum())
    return (
        "Claims: each ordering the GUIDE paper states, per scenario, tested on our runs as "
        "the paired per-identity difference (method - versus on the same identities) of the "
        f"metric: mean and {LEVEL:.0%} Student's t interval over identities. Every claim is "
        "that the method lowers the metric. p (Holm): the paired t test's two-sided p, "
        f"adjusted by Holm's step-down method across the table's {family} tested rows, so "
        "that for normal differences the chance of any false verdict in the table is at "
        f"most {ALPHA:.0%}. holds: p (Holm) < {ALPHA:g} and the difference is below 0; "
        "reversed: the same above 0; not resolved: otherwise; too few identities: "
        f"n < {MIN_IDENTITIES} (no verdict, left out of Holm's family: at n = 2 the t test "
        "has one degree of freedom and resolves only a mean many times the spread). The "
        "interval is not adjusted, so it can exclude 0 for a row not resolved. n to hold: "
        "for a difference below 0 not yet resolved, the identities at which one of this "
        f"mean and std would reach the Bonferroni level {ALPHA:g} / {len(claims)} (Holm's "
        "strictest threshold over all rows): a rough guide, not a power analysis; diff > 0: "
        "the difference is above 0, where more identities would point to reversed, not "
        "holds. Paper: the same difference in the paper's table (blank "
        "where it has none). Claims whose methods were not run are left out; the "
        f"per-identity values are in results/metrics/all.csv. {setting.describe()}"
    )


def attacks_caption(table: pd.DataFrame, setting: Setting) -> str:
    names = ", ".join(scenario_label(s) for s in dict.fromkeys(table["scenario"]))
    return (
        f"Attacks on the unlearned identity, per scenario ({names}) and attacked method, "
        f"the unattacked ID (ID_others) beside. {uncertainty_text(table['n'])}. "
        f"{ATTACK_NOTE} {setting.describe()}"
    )
