"""The adapter method's strength sweep: one trained run evaluated at several strengths.

An adapter's integration time T scales how far its system moves from G_s (T = 0 is G_s),
so evaluating one unlearned file at each strength of its options' `sweep` traces a
forgetting (ID) vs preservation (FID_pre) curve without retraining. Each point is scored
by `evaluation.evaluate`, exactly as the method's evaluate job scores its own strength.
"""

from __future__ import annotations

from dataclasses import dataclass

from idunlearn.backend import load_embedder, load_features
from idunlearn.evaluation import evaluate_system
from idunlearn.io import UserError, read_npz, write_json
from idunlearn.sweep_plot import SWEEP_KEYS
from idunlearn.system import load_inversion, load_system


@dataclass(frozen=True)
class SweepJob:
    """One sweep job: an adapter run (name and settings_json) on one identity."""

    generator: str
    unlearned: str
    method: str
    settings: str
    inversion: str
    eval_identity: str
    features: str
    reference: str
    out: str
    labels: dict[str, str]
    batch: int = 100
    device: str = "cpu"


def run_strength_sweep(job: SweepJob) -> None:
    """ID, ID_others, FID_pre and dFID_real at each strength of the method's sweep, as JSON."""
    loaded = load_system(job.generator, job.unlearned, job.method, job.settings, None, job.device)
    sweep = getattr(loaded.method.options, "sweep", None)
    if not sweep:
        raise UserError(f"method {job.method!r} ({loaded.method.kind}) has no strength sweep")
    g_u = loaded.system.g_u
    dev = g_u.w_avg.device
    inv = load_inversion(job.inversion, dev)
    latents = loaded.latents(inv)
    embed, features = load_embedder(job.eval_identity, dev), load_features(job.features, dev)
    reference = read_npz(job.reference)
    rows = []
    for strength in sweep:
        g_u.set_strength(strength)
        metrics = evaluate_system(loaded, inv, latents, embed, features, reference, job.batch)
        rows.append({"strength": strength, **{key: metrics[key] for key in SWEEP_KEYS}})
    write_json(job.out, {**job.labels, "sweep": rows})
