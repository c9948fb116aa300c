"""Attacks that test whether an unlearned identity is really gone.

Each attack tries to bring the identity back from the unlearned system and is scored
like Table 1's ID: the mean over the evaluation views of cos(E(G_s(w_u)), E(G'(w'))),
E the EVALUATION identity network, G' the attacked generator and w' the attacker's
latent (`metrics.identity_similarity`); with G' = G_u and w' = w_u it is exactly the
evaluation's ID.
Each is also scored by the cosine of E(G'(w', source camera)) to the source photo.

- Re-inversion: the source image (and the identity's other images) inverted again on the
  unlearned generator, by an inversion the method did not use: the encoder alone, and W+
  optimisation started from the encoder's estimate (`reinvert`).
- Latent search: projected gradient ascent inside an L2 (Frobenius over W+) ball around
  the system's latent of the source, maximising the LOSS identity network's similarity of
  the render to the source photo (`latent_search`); the best latent is scored.
- Relearning: k steps of Adam on the reconstruction of the source image (L2 + LPIPS) by
  the parameters that unlearning trained (`relearn_generator`); for a method that
  unlearns the inversion encoder instead (the generator is untouched), the encoder is
  relearned on ||G(E_u(x)) - x|| (`relearn_encoder`).

The loss identity network appears only inside the latent-search objective.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from idunlearn.backend import load_embedder, load_inversion_encoder, load_lpips
from idunlearn.evaluation import FaceCount, check_share, run_name
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.inversion import Encoder, InversionConfig, optimise_latents
from idunlearn.io import UserError, write_json, write_npz
from idunlearn.loop import progress
from idunlearn.losses import Embedder, Perceptual
from idunlearn.metrics import identity_similarity
from idunlearn.system import load_inversion, load_system
from idunlearn.visual import to_uint8

Scores = dict[str, float]


@dataclass(frozen=True)
class AttackConfig:
    """The attacks' budgets; defaults are the embedded world's (config/config.yaml)."""

    reinvert_steps: int = 100  # W+ optimisation steps of the optimisation re-inversion
    search_radius: float = 15.0  # L2 ball radius in W+ (Frobenius), around the system's latent
    search_steps: int = 30  # projected gradient-ascent steps
    search_step_size: float = 1.5  # length of each (normalised) gradient step in W+
    relearn_ks: tuple[int, ...] = field(default=(10, 50, 100))  # report ID after these steps
    relearn_lr: float = 1e-4  # Adam learning rate of relearning

    def __post_init__(self) -> None:
        if not self.relearn_ks or min(self.relearn_ks) < 0:
            raise UserError(f"relearn_ks must be non-negative step counts: {self.relearn_ks}")
        if self.search_radius < 0 or self.search_steps < 0 or self.reinvert_steps < 0:
            raise UserError("search radius and steps and re-inversion steps must be >= 0")


# --- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What every attack on one identity is scored against (evaluation network only).
    `before` counts the G_s renders every score embeds and the evaluation detector's misses
    in them (the attacked renders are counted per score)."""

    g_s: GeneratorAdapter
    w_u: torch.Tensor  # [num_ws, w_dim]
    photo: torch.Tensor  # E(source image), [1, D]
    camera: torch.Tensor  # the source camera, [1, camera_dim]
    embed: Embedder
    before: FaceCount = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "before", FaceCount(self.embed))

    @torch.no_grad()
    def score(self, generator: GeneratorAdapter, w: torch.Tensor) -> Scores:
        """{"id": the evaluation's ID of w on `generator`, "src": cosine to the source photo,
        "views", "no_face": the attacked renders embedded and those without a face}."""
        after = FaceCount(self.embed)
        ident = identity_similarity(
            self.g_s, generator, self.w_u[None], self.before, w[None], after
        )
        render = after(generator.synthesis(w[None], self.camera)["image"])
        src = float(F.cosine_similarity(render, self.photo)[0])
        return {"id": float(ident[0]), "src": src, "views": after.views, "no_face": after.no_face}

    @torch.no_grad()
    def render(self, generator: GeneratorAdapter, w: torch.Tensor) -> torch.Tensor:
        """What the attacker sees: G'(w') from the source camera, [3, H, W] on the CPU."""
        return generator.synthesis(w[None], self.camera)["image"][0].cpu()


# --- re-inversion -------------------------------------------------------------------------


def reinvert(
    generator: GeneratorAdapter,
    encoder: Encoder,
    images: torch.Tensor,  # [B, 3, H, W]
    cameras: torch.Tensor,  # [B, camera_dim]
    lpips: Perceptual,
    config: InversionConfig,  # its steps, lr and LPIPS weight; its `method` is ignored
    kinds: Sequence[str],  # "encoder" and/or "optimisation"
    seed: int,
) -> dict[str, torch.Tensor]:
    """The images' W+ latents on `generator` by each inversion kind: [B, num_ws, w_dim] each.

    The optimisation starts from the encoder's estimate. Seeded, for generators that draw
    noise per pass (EG3D); the synthetic world's inversion has no random draw.
    """
    unknown = set(kinds) - {"encoder", "optimisation"}
    if unknown:
        raise UserError(f"unknown re-inversion kind(s): {', '.join(sorted(unknown))}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with torch.no_grad():
            w_init = encoder(images)
        out = {"encoder": w_init} if "encoder" in kinds else {}
        if "optimisation" in kinds:
            out["optimisation"] = optimise_latents(
                generator, images, cameras, w_init, lpips, config
            )
    return out


def reinversion_kinds(inversion_method: str, scenario: str) -> list[str]:
    """The inversions the system did not use: always optimisation on G_u; the encoder too
    unless the system inverted with the encoder alone (then E(x) would just be w_u again).
    Random identities were never inverted (w_u = mapping(z)): both kinds apply."""
    if inversion_method == "encoder" and scenario != "random":
        return ["optimisation"]
    return ["encoder", "optimisation"]


# --- latent search ------------------------------------------------------------------------


def project_to_ball(w: torch.Tensor, center: torch.Tensor, radius: float) -> torch.Tensor:
    """The nearest point of the L2 ball ||w - center||_F <= radius (norm over all of W+)."""
    offset = w - center
    norm = offset.flatten(start_dim=-2).norm(dim=-1)[..., None, None]
    return center + offset * (radius / norm.clamp_min(1e-12)).clamp(max=1.0)


def latent_search(
    objective: Callable[[torch.Tensor], torch.Tensor],  # [num_ws, w_dim] -> scalar
    center: torch.Tensor,  # [num_ws, w_dim]
    radius: float,
    steps: int,
    step_size: float,
) -> dict[str, object]:
    """Projected gradient ascent from `center`: w <- P(w + step_size * g / ||g||_F).

    Returns the best latent seen (the start included, so the objective never decreases)
    with its value, the start's value and every iterate's value.
    """
    w = center.detach().clone()
    values: list[float] = []
    best_w, best = w, -math.inf
    for step in progress(steps + 1, "search"):
        w = w.detach().requires_grad_(step < steps)
        value = objective(w)
        values.append(float(value.detach()))
        if values[-1] > best:
            best_w, best = w.detach().clone(), values[-1]
        if step == steps:
            break
        (grad,) = torch.autograd.grad(value, w)
        norm = grad.norm()
        if not torch.isfinite(norm) or norm == 0:
            break
        w = project_to_ball(w.detach() + step_size * grad / norm, center, radius)
    return {"latent": best_w, "value": best, "start": values[0], "values": values}


def similarity_objective(
    generator: GeneratorAdapter,
    camera: torch.Tensor,  # [1, camera_dim]
    embed_loss: Embedder,
    photo: torch.Tensor,  # [1, D], the loss network's embedding of the source photo
) -> Callable[[torch.Tensor], torch.Tensor]:
    """w -> cos(E_loss(G(w, camera)), E_loss(source photo)), differentiable in w."""

    def objective(w: torch.Tensor) -> torch.Tensor:
        render = embed_loss(generator.synthesis(w[None], camera)["image"])
        return F.cosine_similarity(render, photo)[0]

    return objective


# --- relearning ---------------------------------------------------------------------------


def relearn(
    parameters: Sequence[nn.Parameter],
    reconstruct: Callable[[], torch.Tensor],  # the source image as the current weights make it
    target: torch.Tensor,  # the source image, same shape
    lpips: Perceptual,
    lpips_weight: float,
    ks: Sequence[int],
    lr: float,
    score: Callable[[], Scores],
) -> dict[int, Scores]:
    """Adam on `parameters` for max(ks) steps of MSE + lpips_weight * LPIPS; `score()` after
    each step count in ks (0: before any step)."""
    ks = sorted(set(ks))
    optimizer = torch.optim.Adam(parameters, lr=lr)
    results = {0: score()} if 0 in ks else {}
    for step in progress(range(1, ks[-1] + 1), "relearn"):
        image = reconstruct()
        loss = F.mse_loss(image, target)
        if lpips_weight > 0:
            loss = loss + lpips_weight * lpips(image, target).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step in ks:
            results[step] = score()
    return results


def relearn_generator(
    g_u: GeneratorAdapter,
    w: torch.Tensor,  # [num_ws, w_dim], the system's latent of the source
    camera: torch.Tensor,  # [1, camera_dim], the source camera
    source: torch.Tensor,  # [3, H, W]
    lpips: Perceptual,
    lpips_weight: float,
    ks: Sequence[int],
    lr: float,
    score: Callable[[GeneratorAdapter], Scores],
) -> dict[int, Scores]:
    """Fine-tune a copy of G_u's trainable parameters (those unlearning trained) so that
    G(w, camera) reconstructs the source image; G_u itself is not changed."""
    g_r = copy.deepcopy(g_u)
    g_r.freeze_all_but_trainable()
    try:
        return relearn(
            g_r.trainable_parameters(),
            lambda: g_r.synthesis(w[None], camera)["image"],
            source[None],
            lpips,
            lpips_weight,
            ks,
            lr,
            lambda: score(g_r),
        )
    finally:
        g_r.requires_grad_(False)


def relearn_encoder(
    encoder: Encoder,
    generator: GeneratorAdapter,
    source: torch.Tensor,  # [3, H, W]
    camera: torch.Tensor,  # [1, camera_dim]
    lpips: Perceptual,
    lpips_weight: float,
    ks: Sequence[int],
    lr: float,
    score: Callable[[torch.Tensor], Scores],  # the encoder's latent of the source -> scores
) -> dict[int, Scores]:
    """Fine-tune the (unlearned) encoder IN PLACE on ||G(E(x), camera) - x|| (L2 + LPIPS);
    the generator stays frozen. Run it last: the encoder is changed."""
    parameters = list(encoder.parameters()) if isinstance(encoder, nn.Module) else []
    if not parameters:
        raise ValueError("the unlearned encoder exposes no parameters to relearn")
    for param in parameters:
        param.requires_grad_(True)
    generator.requires_grad_(False)

    def latent() -> torch.Tensor:
        with torch.no_grad():
            return encoder(source[None])[0]

    try:
        return relearn(
            parameters,
            lambda: generator.synthesis(encoder(source[None]), camera)["image"],
            source[None],
            lpips,
            lpips_weight,
            ks,
            lr,
            lambda: score(latent()),
        )
    finally:
        for param in parameters:
            param.requires_grad_(False)


# --- one job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackCase:
    """One (identity, method): the system attacked, what the attacker has, the budgets."""

    g_s: GeneratorAdapter
    g_u: GeneratorAdapter  # the unlearned generator (G_s itself for an encoder method)
    w_system: torch.Tensor  # [num_ws, w_dim]: the latent the system gives the source
    reference: Reference
    source: torch.Tensor  # [3, H, W]
    others: tuple[torch.Tensor, torch.Tensor]  # other images [K, 3, H, W], cameras [K, c]
    w_others: torch.Tensor  # [K, num_ws, w_dim]: their latents before unlearning
    encoder: Encoder  # the (pre-unlearning) inversion encoder the attacker has
    encoder_u: Encoder | None  # the unlearned encoder of an encoder method, else None
    embed_loss: Embedder
    lpips: Perceptual
    kinds: Sequence[str]
    inversion: InversionConfig
    config: AttackConfig
    seed: int
    # if given, receives what each attack recovered (`Reference.render`), keyed like the
    # scores (unattacked, reinv_encoder, reinv_optim, search, relearn_{k})
    renders: dict[str, torch.Tensor] | None = None


def attack_all(case: AttackCase) -> dict[str, float]:
    """Every attack on one (identity, method); flat keys `{id,id_others,src}_{attack}`, and
    per attack the views its renders were scored in and those without a detected face
    (`views_{attack}`, `no_face_{attack}`; the G_s side's as `*_before`); `case.renders`
    (if given) receives each attack's recovered render."""
    g_s, g_u, w_system, reference = case.g_s, case.g_u, case.w_system, case.reference
    source, others, w_others, encoder_u = case.source, case.others, case.w_others, case.encoder_u
    lpips, inversion, config, seed = case.lpips, case.inversion, case.config, case.seed
    result: dict[str, float] = {}
    seconds: dict[str, float] = {}
    shots = {} if case.renders is None else case.renders
    shots["unattacked"] = reference.render(g_u, w_system)
    unattacked = reference.score(g_u, w_system)
    result.update(id_unattacked=unattacked["id"], src_unattacked=unattacked["src"])
    faces = {"unattacked": unattacked}  # per attack, its renders' views and no-face count

    start = time.perf_counter()
    images = torch.cat([source[None], others[0]]) if len(others[0]) else source[None]
    cameras = torch.cat([reference.camera, others[1]])
    reinv = reinvert(
        g_u,
        case.encoder,
        images,
        cameras,
        lpips,
        replace(inversion, steps=config.reinvert_steps),
        case.kinds,
        seed,
    )
    for kind, ws in reinv.items():
        name = "reinv_encoder" if kind == "encoder" else "reinv_optim"
        scores = reference.score(g_u, ws[0])
        shots[name] = reference.render(g_u, ws[0])
        result[f"id_{name}"], result[f"src_{name}"] = scores["id"], scores["src"]
        result[f"distance_{name}"] = float((ws[0] - w_system).norm())  # ||w' - w||_F
        others_after = FaceCount(reference.embed)
        result[f"id_others_{name}"] = (
            float(
                identity_similarity(
                    g_s, g_u, w_others, reference.before, ws[1:], others_after
                ).mean()
            )
            if len(ws) > 1
            else math.nan
        )
        faces[name] = {
            "views": scores["views"] + others_after.views,
            "no_face": scores["no_face"] + others_after.no_face,
        }
    seconds["reinversion"] = time.perf_counter() - start

    start = time.perf_counter()
    with torch.no_grad():
        photo_loss = case.embed_loss(source[None])
    objective = similarity_objective(g_u, reference.camera, case.embed_loss, photo_loss)
    search = latent_search(
        objective, w_system, config.search_radius, config.search_steps, config.search_step_size
    )
    scores = reference.score(g_u, search["latent"])
    shots["search"] = reference.render(g_u, search["latent"])
    result.update(id_search=scores["id"], src_search=scores["src"])
    faces["search"] = scores
    result["search_objective_start"] = search["start"]
    result["search_objective_best"] = search["value"]
    result["search_distance"] = float((search["latent"] - w_system).norm())
    seconds["search"] = time.perf_counter() - start

    start = time.perf_counter()
    relearnt: list[torch.Tensor] = []  # a render per scored step count, in order

    def score_and_keep(generator: GeneratorAdapter, w: torch.Tensor) -> Scores:
        relearnt.append(reference.render(generator, w))
        return reference.score(generator, w)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if encoder_u is None:
            curve = relearn_generator(
                g_u,
                w_system,
                reference.camera,
                source,
                lpips,
                inversion.lpips_weight,
                config.relearn_ks,
                config.relearn_lr,
                lambda g: score_and_keep(g, w_system),
            )
        else:
            curve = relearn_encoder(
                encoder_u,
                g_u,
                source,
                reference.camera,
                lpips,
                inversion.lpips_weight,
                config.relearn_ks,
                config.relearn_lr,
                lambda w: score_and_keep(g_u, w),
            )
    for (k, scores), render in zip(curve.items(), relearnt, strict=True):
        result[f"id_relearn_{k}"], result[f"src_relearn_{k}"] = scores["id"], scores["src"]
        shots[f"relearn_{k}"] = render
        faces[f"relearn_{k}"] = scores
    seconds["relearn"] = time.perf_counter() - start
    result.update({f"seconds_{name}": value for name, value in seconds.items()})
    for name, counts in faces.items():
        result[f"views_{name}"], result[f"no_face_{name}"] = counts["views"], counts["no_face"]
    result["views_before"], result["no_face_before"] = (
        reference.before.views,
        reference.before.no_face,
    )
    return result


def check_attack_faces(result: dict[str, float], max_share: float, run: str) -> None:
    """`check_share` on the G_s renders (`*_before`) and on each attack's renders."""
    for name in [key.removeprefix("views_") for key in result if key.startswith("views_")]:
        what = "source views before unlearning" if name == "before" else f"views of attack {name}"
        check_share(
            int(result[f"no_face_{name}"]), int(result[f"views_{name}"]), what, max_share, run
        )


@dataclass(frozen=True)
class AttackJob:
    """One attack job: the unlearned file of a method (name and settings_json) on one
    identity, with the system's inversion (its method decides the re-inversions)."""

    generator: str
    unlearned: str
    method: str
    settings: str  # methods.settings_json of the method
    inversion_file: str
    encoder: str  # the inversion encoder the attacker has
    loss_identity: str
    eval_identity: str
    scenario: str
    identity: str
    inversion: InversionConfig
    config: AttackConfig
    out: str
    seed: int
    lpips_net: str = "alex"
    lpips_random: bool = True
    device: str = "cpu"
    out_renders: str | None = None  # .npz of the source and each attack's render (uint8)
    max_no_face_share: float = 1.0  # fail above this share of no-face views (`check_share`)


def run_attack(job: AttackJob) -> None:
    """Every attack on one (scenario, identity, method), as one JSON record; the networks
    and the inversion's tensors on `device`. Scored like the evaluation: against the
    system before unlearning (`Unlearned.latents`). `out_renders`: an .npz of the source
    photo and each attack's recovered render (uint8 [H, W, 3]), for the attack figure."""
    loaded = load_system(
        job.generator, job.unlearned, job.method, job.settings, job.encoder, job.device
    )
    g_s, g_u = loaded.system.g_s, loaded.system.g_u
    dev = g_s.w_avg.device
    inv = load_inversion(job.inversion_file, dev)
    latents = loaded.latents(inv)
    source, camera = inv["source_image"], inv["source_camera"][None]
    embed = load_embedder(job.eval_identity, dev)
    with torch.no_grad():
        photo = embed(source[None])
    reference = Reference(g_s, latents.source_before, photo, camera, embed)
    kinds = reinversion_kinds(job.inversion.method, job.scenario)
    renders = {"source": source.cpu()}
    result = attack_all(
        AttackCase(
            g_s=g_s,
            g_u=g_u,
            w_system=latents.source_after,
            reference=reference,
            source=source,
            others=(inv["other_images"], inv["other_cameras"]),
            w_others=latents.others_before,
            encoder=load_inversion_encoder(job.encoder, g_s, dev),
            encoder_u=loaded.system.encoder_u,
            embed_loss=load_embedder(job.loss_identity, dev),
            lpips=load_lpips(job.lpips_net, job.lpips_random).to(dev),
            kinds=kinds,
            inversion=job.inversion,
            config=job.config,
            seed=job.seed,
            renders=renders,
        )
    )
    labels = {"scenario": job.scenario, "identity": job.identity, "method": job.method}
    # gated before any output is written
    check_attack_faces(result, job.max_no_face_share, run_name(labels))
    if job.out_renders is not None:
        write_npz(job.out_renders, **{name: to_uint8(image) for name, image in renders.items()})
    settings = {**asdict(job.config), "reinversion_kinds": kinds, "seed": job.seed}
    write_json(job.out, {**labels, **result, "settings": settings})
