"""Check the EG3D and GOAE adapters against the real NVlabs/GOAE code, with random weights.

Builds a TriPlaneGenerator from the fetched NVlabs/eg3d code (reduced sizes, or
the ffhqrebalanced512-128 architecture with --size full), pickles it the NVlabs
way and loads it back through `load_eg3d`, compares the camera labels with
EG3D's own camera_utils, runs mapping and synthesis (tri-plane shape), then a
few GUIDE unlearning steps (random-backbone LPIPS, a pooled-pixel embedder)
and checks that only `backbone.synthesis` changed. With --goae-root it also
builds GOAE's encoder (needs timm and yacs) and inverts a random image.
Prints one JSON object; on CUDA it includes peak memory.

    python bench/eg3d_check.py --code-root resources/eg3d --goae-root resources/goae
    python bench/eg3d_check.py --code-root ... --size full --steps 0          # one CPU forward
    python bench/eg3d_check.py --code-root ... --size full --device cuda --steps 5
"""

from __future__ import annotations

import json
import math
import pickle
import tempfile
import time
from pathlib import Path

import click
import torch
import torch.nn.functional as F

from idunlearn.encoders.goae import GOAEInverter, build_goae_encoder
from idunlearn.generators.eg3d import (
    EG3D_LOOK_AT,
    REFERENCE_FOCAL,
    EG3DAdapter,
    camera_labels,
    import_from,
    load_eg3d,
)
from idunlearn.losses import LossConfig
from idunlearn.perceptual import build_lpips
from idunlearn.unlearning import UnlearnSchedule, unlearn

# EG3D train.py --cfg=ffhq with --gen_pose_cond=True --gpc_reg_prob=0.8 (docs/models.md)
FFHQ_RENDERING = {
    "image_resolution": 512,
    "disparity_space_sampling": False,
    "clamp_mode": "softplus",
    "superresolution_module": "training.superresolution.SuperresolutionHybrid8XDC",
    "c_gen_conditioning_zero": False,
    "gpc_reg_prob": 0.8,
    "c_scale": 1.0,
    "superresolution_noise_mode": "none",
    "density_reg": 0.25,
    "density_reg_p_dist": 0.004,
    "reg_type": "l1",
    "decoder_lr_mul": 1.0,
    "sr_antialias": True,
    "depth_resolution": 48,
    "depth_resolution_importance": 48,
    "ray_start": 2.25,
    "ray_end": 3.3,
    "box_warp": 1,
    "avg_camera_radius": 2.7,
    "avg_camera_pivot": [0, 0, 0.2],
}
SIZES = {
    # ffhqrebalanced512-128: cbase 32768, cmax 512, 512 px output, 128 px neural rendering
    "full": {"channel_base": 32768, "channel_max": 512, "img": 512, "nr": 128, "depth": 48},
    # same structure (96 x 256 x 256 tri-planes), thin channels, 2x super-resolution, few samples
    "small": {"channel_base": 1024, "channel_max": 32, "img": 128, "nr": 32, "depth": 8},
    # thin channels, the real SuperresolutionHybrid8XDC (its 256/128 channels are fixed)
    "small512": {"channel_base": 1024, "channel_max": 32, "img": 512, "nr": 64, "depth": 6},
}
SR_MODULE = {512: "SuperresolutionHybrid8XDC", 128: "SuperresolutionHybrid2X"}


def build_triplane(code_root: Path, size: str) -> torch.nn.Module:
    """A random-weight TriPlaneGenerator with the kwargs EG3D's train.py passes."""
    s = SIZES[size]
    triplane = import_from(code_root / "eg3d", "training.triplane")
    rendering = FFHQ_RENDERING | {
        "image_resolution": s["img"],
        "superresolution_module": f"training.superresolution.{SR_MODULE[s['img']]}",
        "depth_resolution": s["depth"],
        "depth_resolution_importance": s["depth"],
    }
    widths = {"channel_base": s["channel_base"], "channel_max": s["channel_max"]}
    torch.manual_seed(0)
    G = triplane.TriPlaneGenerator(
        z_dim=512,
        c_dim=25,
        w_dim=512,
        img_resolution=s["img"],
        img_channels=3,
        sr_num_fp16_res=4,
        mapping_kwargs={"num_layers": 2},
        rendering_kwargs=rendering,
        sr_kwargs=widths | {"fused_modconv_default": "inference_only"},
        fused_modconv_default="inference_only",
        num_fp16_res=0,
        conv_clamp=None,
        **widths,
    )
    G.neural_rendering_resolution = s["nr"]
    return G


def roundtrip_pickle(G: torch.nn.Module, code_root: Path, workdir: Path) -> EG3DAdapter:
    """Pickle as NVlabs snapshots are pickled (G, D, G_ema) and load through load_eg3d."""
    path = workdir / "network.pkl"
    with open(path, "wb") as f:
        pickle.dump({"G": G, "D": G, "G_ema": G}, f)
    w_avg = torch.randn(14, 512)
    torch.save(w_avg, workdir / "w_avg.pt")
    adapter = load_eg3d(path, code_root, w_avg_path=workdir / "w_avg.pt")
    assert torch.equal(adapter.w_avg, w_avg) and adapter.G.training
    return adapter


def camera_agreement(code_root: Path) -> dict[str, float]:
    """Max |ours - EG3D camera_utils| over yaws, pitches and both pivots."""
    cu = import_from(code_root / "eg3d", "camera_utils")
    intrinsics = cu.FOV_to_intrinsics(18.837).reshape(-1, 9)
    worst = 0.0
    for pivot in [(0.0, 0.0, 0.0), EG3D_LOOK_AT]:
        for yaw in torch.linspace(math.pi / 2 - 0.5, math.pi / 2 + 0.5, 5).tolist():
            for pitch in [math.pi / 2 - 0.2, math.pi / 2, math.pi / 2 + 0.3]:
                pose = cu.LookAtPoseSampler.sample(yaw, pitch, torch.tensor(pivot), radius=2.7)
                theirs = torch.cat([pose.reshape(-1, 16), intrinsics], dim=1)
                ours = camera_labels(torch.tensor([yaw]), torch.tensor([pitch]), look_at=pivot)
                worst = max(worst, float((ours - theirs).abs().max()))
    return {
        "camera_max_abs_diff": worst,
        "eg3d_focal": float(intrinsics[0, 0]),
        "our_focal": REFERENCE_FOCAL,
    }


def timed(fn, device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def pooled_embed(images: torch.Tensor) -> torch.Tensor:
    """A stand-in identity embedder: unit-norm 8 x 8 pooled pixels."""
    return F.normalize(F.adaptive_avg_pool2d(images, 8).flatten(1), dim=1)


def forward_check(adapter: EG3DAdapter, device: torch.device) -> dict:
    z = torch.randn(1, adapter.z_dim)
    with torch.no_grad():
        ws, t_map = timed(lambda: adapter.mapping(z, adapter.frontal_camera(1)), device)
        cam = adapter.eval_cameras()[:1]
        out, t_syn = timed(lambda: adapter.synthesis(ws, cam), device)
    return {
        "ws_shape": list(ws.shape),
        "planes_shape": list(out["features"].shape),
        "image_shape": list(out["image"].shape),
        "image_range": [float(out["image"].min()), float(out["image"].max())],
        "mapping_s": t_map,
        "synthesis_s": t_syn,
        "trainable_tensors": len(adapter.trainable_names()),
        "trainable_numel": sum(p.numel() for p in adapter.trainable_parameters()),
        "all_numel": sum(p.numel() for p in adapter.parameters()),
    }


def unlearn_check(adapter: EG3DAdapter, steps: int, device: torch.device) -> dict:
    """GUIDE's full objective (L_local + L_adj + L_global); only backbone.synthesis may move."""
    before = {n: p.detach().clone() for n, p in adapter.named_parameters()}
    with torch.no_grad():
        w_u = adapter.mapping(torch.randn(1, adapter.z_dim), adapter.frontal_camera(1))[0]
    w_id = w_u - adapter.w_avg
    w_t = adapter.w_avg - 30 * w_id / w_id.norm()
    lpips = build_lpips("vgg", random_backbone=True).to(device)
    config = LossConfig(adj_weight=1.0, global_weight=1.0, reduction="sum")
    (g_u, history), seconds = timed(
        lambda: unlearn(
            adapter, w_u, w_t, lpips, pooled_embed, config, UnlearnSchedule(steps=steps), 0, False
        ),
        device,
    )
    changed = {n for n, p in g_u.named_parameters() if not torch.equal(p, before[n])}
    return {
        "unlearn_steps": steps,
        "seconds_per_step": seconds / steps,
        "losses": history[-1],
        "changed_tensors": len(changed),
        "only_backbone_synthesis_changed": bool(changed)
        and changed <= set(adapter.trainable_names()),
    }


def goae_check(goae_root: Path, adapter: EG3DAdapter, device: torch.device) -> dict:
    encoder, t_build = timed(lambda: build_goae_encoder(goae_root), device)
    invert = GOAEInverter(encoder, adapter.w_avg.detach().cpu()).to(device)
    images = torch.rand(1, 3, 512, 512, device=device) * 2 - 1
    with torch.no_grad():
        ws, t_inv = timed(lambda: invert(images), device)
        again = invert(images)
    return {
        "goae_ws_shape": list(ws.shape),
        "goae_params": sum(p.numel() for p in encoder.parameters()),
        "goae_deterministic": bool(torch.equal(ws, again)),
        "goae_build_s": t_build,
        "goae_invert_s": t_inv,
    }


@click.command()
@click.option(
    "--code-root",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="checkout of NVlabs/eg3d (holds eg3d/)",
)
@click.option(
    "--goae-root",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="checkout of jiangyzy/GOAE (holds goae/); needs timm and yacs",
)
@click.option("--size", type=click.Choice(sorted(SIZES)), default="small", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option(
    "--steps",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="unlearning steps to time (0: forward only)",
)
@click.option("--threads", type=click.IntRange(min=1), default=None)
def main(
    code_root: Path, goae_root: Path | None, size: str, device: str, steps: int, threads: int | None
) -> None:
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    report: dict = {"size": size, "device": device}
    report |= camera_agreement(code_root)
    with tempfile.TemporaryDirectory() as tmp:
        (adapter, report["build_and_load_s"]) = timed(
            lambda: roundtrip_pickle(build_triplane(code_root, size), code_root, Path(tmp)), dev
        )
    adapter = adapter.to(dev)
    report |= forward_check(adapter, dev)
    if steps:
        report |= unlearn_check(adapter, steps, dev)
    if goae_root is not None:
        report |= goae_check(goae_root, adapter, dev)
    if dev.type == "cuda":
        report["cuda_max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
