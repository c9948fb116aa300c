"""Forgetting many identities in one generator.

The settings of SUGAR (WACV 2026, arXiv 2512.06562) and ROVER (AAAI 2026).

Forget sets are nested prefixes of one seeded order of held-out identities (the set of 5
holds the set of 2), and a fixed retain set, disjoint from them, is never forgotten.
Two modes per method:
- simultaneous: one G_u from G_s; each step's objective is the mean of the identities'
  terms (all of them, or a uniform seeded subset per step: the same expected weight);
- sequential: identities arrive one at a time; arrival k starts from arrival k-1's G_u
  and trains on identity k alone (G_s stays the frozen teacher).
With one identity both are exactly the single-identity run of the method and seed.
Each (method, mode, N) is scored on every forgotten identity (ID, ID_others), on the
retain identities (ID of G_s vs G_u: high is good), FID_pre and dFID_real, and attacked by
relearning on the forgotten identities' source images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch

from idunlearn.attacks import relearn
from idunlearn.backend import (
    load_embedder,
    load_features,
    load_generator,
    load_lpips,
    resolve_device,
)
from idunlearn.checkpoints import load_checkpoint, save_checkpoint
from idunlearn.evaluation import (
    NO_FACE_GROUPS,
    FaceCount,
    check_faces,
    fid_metrics,
    identity_metrics,
)
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import INVERSION_KIND
from idunlearn.io import ArtefactError, UserError, read_npz, write_json
from idunlearn.loop import trainable_copy
from idunlearn.methods import KINDS, MULTI_KINDS, implementation, method_from_settings
from idunlearn.methods.base import Method
from idunlearn.metrics import identity_similarity
from idunlearn.stats import half_width
from idunlearn.system import UNLEARNED_KIND, load_inversion
from idunlearn.unlearning import UnlearnSchedule, train

FACE_KEYS = ("views_", "no_face_")  # identity_metrics' counts of views and misses
MODES = ("simultaneous", "sequential")


def multi_implementation(method: Method) -> ModuleType:
    """The kind's module, whose multi_loss, multi_start and multi_terms run it here."""
    if not KINDS[method.kind].multi:
        raise UserError(
            f"multi: method {method.name!r} is of kind {method.kind}, whose objective covers"
            f" one identity (multi kinds: {', '.join(MULTI_KINDS)})"
        )
    return implementation(method.kind)


def start_generator(
    module: ModuleType,
    method: Method,
    g_s: GeneratorAdapter,
    state: dict[str, torch.Tensor] | None,
    seed: int,
) -> GeneratorAdapter:
    """The G_u an unlearning trains, as the method's single-identity run makes it, with a
    previous arrival's trained state put back (sequential)."""
    g_u = module.multi_start(g_s, method.options, seed)
    if state is not None:
        g_u.load_trainable_state_dict({k: v.to(g_s.w_avg.device) for k, v in state.items()})
        g_u.freeze_all_but_trainable()
    return g_u


@dataclass(frozen=True)
class MultiJob:
    """One multi unlearn job: a method on the forgotten identities' inversions, in arrival
    order (sequential: the last one is the arrival; the previous G_u comes from `previous`)."""

    generator: str
    inversions: tuple[str, ...]
    loss_identity: str
    method: str
    settings: str  # methods.settings_json of the method
    mode: str
    out: str
    seed: int
    previous: str | None = None
    per_step: int | None = None  # simultaneous: identities per step (None: all)
    steps: int = 1000
    lr: float = 1e-4  # unless the method sets its own
    lpips_net: str = "alex"
    lpips_random: bool = True
    device: str = "cpu"


def previous_state(job: MultiJob) -> dict[str, torch.Tensor] | None:
    """Sequential arrival k > 1: the trained state of arrival k - 1 (checked to be it)."""
    if job.mode != "sequential" or len(job.inversions) == 1:
        if job.previous is not None:
            raise UserError("multi: --previous is for sequential arrivals after the first")
        return None
    if job.previous is None:
        raise UserError(f"multi: sequential arrival {len(job.inversions)} needs --previous")
    payload = load_checkpoint(job.previous, UNLEARNED_KIND)
    arrived = payload["meta"].get("n")
    if arrived != len(job.inversions) - 1 or payload["meta"].get("method") != job.method:
        raise ArtefactError(
            f"{job.previous}: holds {payload['meta'].get('method')} after {arrived} arrivals,"
            f" not {job.method} after {len(job.inversions) - 1}"
        )
    return payload["state_dict"]


def run_multi_unlearn(job: MultiJob) -> None:
    """Unlearn the job's identities (simultaneous) or its last arrival (sequential) and save
    the trained state, named like an unlearn output, with the mode, N and identities."""
    if job.mode not in MODES:
        raise UserError(f"multi: unknown mode {job.mode!r} (expected {', '.join(MODES)})")
    method = method_from_settings(job.method, job.settings)
    module = multi_implementation(method)
    loss = module.multi_loss(method.options)
    schedule = UnlearnSchedule(job.steps, job.lr if method.lr is None else method.lr)
    state = previous_state(job)
    dev = resolve_device(job.device)
    g_s = load_generator(job.generator, dev)
    inversions = [load_checkpoint(path, INVERSION_KIND) for path in job.inversions]
    w_us = torch.stack([inv["state_dict"]["w_u"] for inv in inversions]).to(dev)
    n = len(inversions)
    trained = [n - 1] if job.mode == "sequential" else list(range(n))
    embed = load_embedder(job.loss_identity, dev)
    lpips = load_lpips(job.lpips_net, job.lpips_random).to(dev)
    g_u = start_generator(module, method, g_s, state, job.seed)
    # one step term per trained identity: GUIDE's towards its target, or SUGAR's
    terms = module.multi_terms(g_s, w_us, trained, lpips, embed, method.options, job.seed)
    per_step = job.per_step if job.mode == "simultaneous" else None
    history = train(g_u, terms, loss, schedule, job.seed, per_step)
    meta = {
        "method": method.name,
        "kind": method.kind,
        "settings": job.settings,
        "mode": job.mode,
        "n": n,
        "identities": [inv["meta"]["identity"] for inv in inversions],
        "seed": job.seed,
        "lr": schedule.lr,
        "steps": schedule.steps,
        "per_step": per_step,
        "history": history,
        "reduction": loss.reduction,
    }
    save_checkpoint(job.out, UNLEARNED_KIND, g_u.trainable_state_dict(), meta=meta)


# --- evaluation and the relearning attack -------------------------------------------------


def summary(values: Sequence[float], worst: str) -> dict[str, float]:
    """Mean, worst (`max` or `min`) and the half-width of the 95 % t interval of the mean
    (NaN for one): N is 2-10, where the normal 1.96 would be up to 6.5 times too narrow."""
    array = np.asarray(values, dtype=float)
    return {
        "mean": float(array.mean()),
        "worst": float(getattr(array, worst)()),
        "ci": half_width(array),
    }


@dataclass(frozen=True)
class MultiEvalJob:
    """One multi evaluation: a multi unlearn output on its forgotten and retain identities."""

    generator: str
    unlearned: str
    forget: tuple[str, ...]  # the forgotten identities' inversions
    retain: tuple[str, ...]  # the retain identities' inversions
    eval_identity: str
    features: str
    reference: str
    out: str
    batch: int = 100
    device: str = "cpu"
    max_no_face_share: float = 1.0  # fail above this share of no-face views (`check_faces`)


def multi_run(meta: dict) -> str:
    """How a multi job's errors name its run."""
    return f"multi: method {meta['method']}, mode {meta['mode']}, n {meta['n']}"


def load_multi(generator: str, unlearned: str, dev: torch.device) -> tuple[dict, GeneratorAdapter]:
    """The multi unlearn output's meta and its system's G_u (G_s is `.g_s` of the system)."""
    payload = load_checkpoint(unlearned, UNLEARNED_KIND)
    meta = payload["meta"]
    if "mode" not in meta:
        raise ArtefactError(f"{unlearned} is not a multi unlearn output (no mode recorded)")
    method = method_from_settings(meta["method"], meta["settings"])
    g_s = load_generator(generator, dev)
    return meta, implementation(method.kind).system(
        g_s, payload["state_dict"], method.options, None, dev
    )


def run_multi_evaluate(job: MultiEvalJob) -> None:
    """Per forgotten identity ID and ID_others (and their mean, worst, CI); retain ID
    (mean, worst); FID_pre and dFID_real; the views scored and those without a detected
    face, summed over the forgotten identities (`views_*`, `no_face_*`) and of the retain
    ones (`*_retain*`). One JSON record; it fails, as evaluate does, above
    `max_no_face_share` of one side's views without a face."""
    dev = resolve_device(job.device)
    meta, system = load_multi(job.generator, job.unlearned, dev)
    embed = load_embedder(job.eval_identity, dev)
    forgotten = [load_inversion(path, dev) for path in job.forget]
    g_s, g_u = system.g_s, system.g_u
    per = [
        identity_metrics(g_s, g_u, i["w_u"], i["w_others"], i["w_u"], i["w_others"], embed)
        for i in forgotten
    ]
    retain_ws = torch.stack([load_inversion(path, dev)["w_u"] for path in job.retain])
    before, after = FaceCount(embed), FaceCount(embed)
    retain = identity_similarity(g_s, g_u, retain_ws, before, embed_after=after).tolist()
    counts = {key: sum(p[key] for p in per) for key in per[0] if key.startswith(FACE_KEYS)}
    counts |= {"views_retain": before.views}
    counts |= {"no_face_retain_before": before.no_face, "no_face_retain_after": after.no_face}
    check_faces(counts, job.max_no_face_share, multi_run(meta), (*NO_FACE_GROUPS, "retain"))
    record: dict[str, object] = {
        key: meta[key] for key in ("method", "kind", "mode", "n", "identities", "steps")
    } | counts
    record["id_each"] = [p["id"] for p in per]
    record["id_others_each"] = [p["id_others"] for p in per]
    record["retain_id_each"] = retain
    for name, values, worst in (
        ("id", record["id_each"], "max"),
        ("id_others", record["id_others_each"], "max"),
        ("retain_id", retain, "min"),
    ):
        record |= {f"{name}_{k}": v for k, v in summary(values, worst).items()}
    reference = read_npz(job.reference)
    record |= fid_metrics(system.g_u, load_features(job.features, dev), reference, job.batch)
    write_json(job.out, record)


@dataclass(frozen=True)
class MultiAttackJob:
    """Relearning on a multi unlearn output: Adam on the trained parameters for max(ks)
    steps of reconstructing every forgotten identity's source photo at once."""

    generator: str
    unlearned: str
    forget: tuple[str, ...]
    eval_identity: str
    out: str
    ks: tuple[int, ...] = (10, 50, 100)
    lr: float = 1e-4
    lpips_weight: float = 1.0
    lpips_net: str = "alex"
    lpips_random: bool = True
    device: str = "cpu"
    max_no_face_share: float = 1.0  # fail above this share of no-face views (`check_faces`)


def run_multi_attack(job: MultiAttackJob) -> None:
    """ID of the forgotten identities (mean, worst) after each k relearning steps; the views
    scored over all k and those without a detected face (`views_source`,
    `no_face_source_{before,after}`), gated as evaluate gates them."""
    dev = resolve_device(job.device)
    meta, system = load_multi(job.generator, job.unlearned, dev)
    embed = load_embedder(job.eval_identity, dev)
    lpips = load_lpips(job.lpips_net, job.lpips_random).to(dev)
    forgotten = [load_inversion(path, dev) for path in job.forget]
    w_us = torch.stack([i["w_u"] for i in forgotten])
    cameras = torch.stack([i["source_camera"] for i in forgotten])
    sources = torch.stack([i["source_image"] for i in forgotten])
    g_r = trainable_copy(system.g_u)  # relearning trains what unlearning trained

    before, after = FaceCount(embed), FaceCount(embed)

    def score() -> dict[str, float]:
        ids = identity_similarity(system.g_s, g_r, w_us, before, embed_after=after)
        return {"id_mean": float(ids.mean()), "id_worst": float(ids.max())}

    results = relearn(
        g_r.trainable_parameters(),
        lambda: g_r.synthesis(w_us, cameras)["image"],
        sources,
        lpips,
        job.lpips_weight,
        job.ks,
        job.lr,
        score,
    )
    counts = {"views_source": before.views, "no_face_source_before": before.no_face}
    counts["no_face_source_after"] = after.no_face
    check_faces(counts, job.max_no_face_share, multi_run(meta), ("source",))
    record: dict[str, object] = {key: meta[key] for key in ("method", "kind", "mode", "n")}
    record |= counts
    for k, scores in sorted(results.items()):
        record |= {f"relearn{k}_{key}": value for key, value in scores.items()}
    write_json(job.out, record)
