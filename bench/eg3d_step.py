"""GPU benchmark of one GUIDE unlearning step at the paper's settings, ready to run.

The full ffhqrebalanced512-128 TriPlaneGenerator (random weights, built from the
NVlabs code and loaded back through the project's pickle path), N_a = N_g = 2,
LPIPS vgg and the IR-SE50 ID loss (random weights: same cost as the real ones).
Times seconds per step and peak GPU memory of the batched step (ours) and of the
reference-style one-pass-per-term loop (bench/unlearning_step.py), in fp32, TF32
and bf16 autocast; writes one JSON and prints a short table. Without --code-root
it times the synthetic world's generator instead (the CPU test of this harness).
--device auto (the default) is CUDA where visible, else the CPU.

    python bench/eg3d_step.py --code-root resources/code/eg3d --device cuda --steps 5 \
        --out results/bench/eg3d_step.json                       # about 2 minutes on one GPU
    python bench/eg3d_step.py --code-root resources/code/eg3d --size small --steps 2 --out x.json
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import torch

from idunlearn.backend import resolve_device
from idunlearn.cli import device_option
from idunlearn.generators.base import GeneratorAdapter
from idunlearn.io import UserError, atomic_path
from idunlearn.losses import LossConfig, draw_step, step_loss
from idunlearn.nets.irse import Backbone
from idunlearn.perceptual import build_lpips
from idunlearn.recognition import ArcFaceLossEmbedder

BENCH = Path(__file__).resolve().parent
# bf16: the whole step under autocast; bf16-loss: only LPIPS and the ID network (EG3D's
# StyleGAN2 blocks assert fp32 activations outside their fp16 layers)
PRECISIONS = ("fp32", "tf32", "bf16", "bf16-loss")


def bench_module(name: str):
    """A sibling bench script as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def precision(name: str, device: torch.device) -> Iterator[None]:
    """fp32 (TF32 off), TF32 matmuls and convolutions (CUDA only), or bf16 autocast of the
    whole step (bf16-loss: the loss networks are wrapped by `in_bf16` instead)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = name == "tf32"
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if name == "bf16"
        else contextlib.nullcontext()
    )
    try:
        with autocast:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def in_bf16(fn: Callable, device: torch.device) -> Callable:
    """`fn` under bf16 autocast, its output back in fp32."""

    def wrapped(*args: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return fn(*args).float()

    return wrapped


def failure(err: Exception) -> str:
    """The error and where it was raised, for the JSON: a failed run is a result too."""
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return f"{type(err).__name__} {err} at {Path(frame.filename).name}:{frame.lineno}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_mode(
    loss_fn: Callable,
    g_s: GeneratorAdapter,
    w_u: torch.Tensor,
    w_t: torch.Tensor,
    lpips: Callable,
    embed: Callable,
    config: LossConfig,
    steps: int,
    device: torch.device,
    precision_name: str,
) -> dict:
    """One Adam step per draw (one warm-up, then `steps` timed); the same draws every run.
    A run that fails (bf16 through EG3D) is recorded with its error, not raised."""
    if precision_name == "bf16-loss":
        lpips, embed = in_bf16(lpips, device), in_bf16(embed, device)
    g_u = copy.deepcopy(g_s)
    g_u.freeze_all_but_trainable()
    optimizer = torch.optim.Adam(g_u.trainable_parameters(), lr=1e-4)
    rng = torch.Generator().manual_seed(0)
    draws = [draw_step(g_s, w_u, config, rng) for _ in range(steps + 1)]  # as unlearn() draws
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    losses: list[float] = []
    try:
        for i, d in enumerate(draws):
            if i == 1:
                sync(device)
                start = time.perf_counter()
            with precision(precision_name, device):
                loss = loss_fn(g_u, g_s, w_u, w_t, d, lpips, embed, config)["total"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        sync(device)
    except (RuntimeError, AssertionError) as err:
        return {"seconds_per_step": None, "peak_gib": None, "losses": losses, "error": failure(err)}
    seconds = (time.perf_counter() - start) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"seconds_per_step": seconds, "peak_gib": peak, "losses": losses}


def run_grid(
    g_s: GeneratorAdapter,
    lpips: Callable,
    embed: Callable,
    steps: int,
    device: torch.device,
    precisions: tuple[str, ...] = PRECISIONS,
) -> list[dict]:
    """Every (mode, precision) of GUIDE's full objective (N_a = N_g = 2, d = 30)."""
    sequential = bench_module("unlearning_step").sequential_step_loss
    config = LossConfig(adj_weight=1.0, global_weight=1.0, reduction="sum")
    with torch.no_grad():
        torch.manual_seed(0)
        z = torch.randn(1, g_s.z_dim, device=device)
        w_u = g_s.mapping(z, g_s.frontal_camera(1).to(device))[0]
        w_id = w_u - g_s.w_avg
        w_t = g_s.w_avg - 30 * w_id / w_id.norm()
    runs = []
    for mode, loss_fn in (("batched", step_loss), ("sequential", sequential)):
        for name in precisions:
            args = (g_s, w_u, w_t, lpips, embed, config, steps, device, name)
            runs.append({"mode": mode, "precision": name} | time_mode(loss_fn, *args))
    return runs


def table(runs: list[dict]) -> str:
    """mode, precision, ms per step, peak GiB, and the batched speed-up per precision."""
    batched = {r["precision"]: r["seconds_per_step"] for r in runs if r["mode"] == "batched"}
    lines = ["mode        precision  ms/step   peak GiB  vs batched"]
    for r in runs:
        if r["seconds_per_step"] is None:
            lines.append(f"{r['mode']:<12}{r['precision']:<11}failed: {r['error'][:60]}")
            continue
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        base = batched[r["precision"]]
        ratio = f"{r['seconds_per_step'] / base:.2f}x" if base else "-"
        lines.append(
            f"{r['mode']:<12}{r['precision']:<11}{r['seconds_per_step'] * 1000:<10.1f}"
            f"{peak:<10}{ratio}"
        )
    return "\n".join(lines)


def eg3d_setup(code_root: Path, size: str, device: torch.device):
    """The TriPlaneGenerator (pickled and loaded as the real file), LPIPS vgg, IR-SE50."""
    check = bench_module("eg3d_check")
    with tempfile.TemporaryDirectory() as tmp:
        g_s = check.roundtrip_pickle(check.build_triplane(code_root, size), code_root, Path(tmp))
    embed = ArcFaceLossEmbedder(Backbone(112, 50, "ir_se"))
    return g_s.to(device).requires_grad_(False), embed.to(device)


def synthetic_setup(device: torch.device):
    from idunlearn.generators.synthetic import SyntheticGenerator
    from idunlearn.nets.cnn import IdentityNet

    torch.manual_seed(0)
    g_s = SyntheticGenerator(z_dim=19).requires_grad_(False).to(device)
    return g_s, IdentityNet().eval().requires_grad_(False).to(device)


@click.command()
@click.option(
    "--code-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="checkout of NVlabs/eg3d (holds eg3d/); none: the synthetic generator",
)
@click.option("--size", type=click.Choice(["full", "small"]), default="full", show_default=True)
@device_option
@click.option("--steps", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--precisions",
    default=",".join(PRECISIONS),
    show_default=True,
    help="comma-separated subset of fp32, tf32 (CUDA only), bf16, bf16-loss",
)
@click.option("--threads", type=click.IntRange(min=1), default=None)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(code_root, size, device, steps, precisions, threads, out) -> None:
    """Write the JSON to --out and print the table."""
    if threads:
        torch.set_num_threads(threads)
    names = tuple(p.strip() for p in precisions.split(","))
    if unknown := set(names) - set(PRECISIONS):
        raise click.BadParameter(f"unknown precision(s) {', '.join(sorted(unknown))}")
    try:
        dev = resolve_device(device)
    except UserError as err:
        raise click.BadParameter(str(err), param_hint="--device") from err
    if code_root is None:
        g_s, embed = synthetic_setup(dev)
        lpips, size = build_lpips("alex", random_backbone=True).to(dev), "synthetic"
    else:
        g_s, embed = eg3d_setup(code_root, size, dev)
        lpips = build_lpips("vgg", random_backbone=True).to(dev)
    runs = run_grid(g_s, lpips, embed, steps, dev, names)
    report = {
        "generator": size,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "steps": steps,
        "num_adj": 2,
        "num_global": 2,
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    click.echo(f"GUIDE step, {size} generator on {report['device']}, {steps} steps")
    click.echo(table(runs))


if __name__ == "__main__":
    main()
