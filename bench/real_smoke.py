"""The real setting end to end on the real network code with random weights (issue 12).

From local copies of NVlabs/eg3d, jiangyzy/GOAE and KU-VGI/GUIDE (git repositories,
or plain folders, which are committed into a local repository first), this makes
every asset of config/paper.yaml in its public file's format with random weights:

- ffhqrebalanced512-128.pkl: a TriPlaneGenerator of the EG3D code (thin channels,
  few depth samples; SuperresolutionHybrid2X at 128 px, or the real
  SuperresolutionHybrid8XDC at 512 px with --sr 8xdc), noise_strength and w_avg
  non-zero, pickled as NVlabs snapshots are ({G, D, G_ema}; D is G again: only
  its being a module is checked);
- w_avg [14, 512]; GOAE's encoder state dict; IR-SE50 and IR-101 state dicts;
  facenet-pytorch's InceptionResnetV1 (VGGFace2 layout, 8631 logits); pytorch-fid's
  FID Inception and torchvision's VGG16 state dicts;
- CelebA's identity file and CelebAHQ's mapping for a CelebAHQ folder holding the
  GUIDE sample's five real photos (one identity: the OOD identity); an FFHQ-layout
  folder of the same photos and their mirror images (10 real photos: InD and FID).

The weights are served by file:// URLs with their SHA-256, the code by file:// git
repositories at their commits, the label files as manual assets; the workflow then
runs config/paper.yaml + config/paper-smoke.yaml + the generated smoke.yaml in
<workdir>/run, then the pre-flight, --report and the per-rule times.

    nice -n 15 python bench/real_smoke.py --eg3d resources/code/eg3d \
        --goae resources/code/goae --guide resources/code/guide --workdir /tmp/smoke
"""

from __future__ import annotations

import importlib.util
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import click
import torch
import yaml
from PIL import Image, ImageOps

from idunlearn.assets import fetch_code, sha256_of

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SAMPLE = [f"data/CelebAHQ/512/aligned_{k}.jpg" for k in range(1, 6)]
GIT = ["git", "-c", "user.name=idunlearn", "-c", "user.email=smoke@localhost"]


def bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(GIT + list(args), cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def as_repository(src: Path, dest: Path) -> dict[str, str]:
    """`code:` entry of a local copy: its own repository at HEAD, or (a plain folder, e.g.
    a tree whose large assets the mirror lacks) a new repository of its files."""
    if subprocess.run(["git", "rev-parse"], cwd=src, capture_output=True).returncode == 0:
        return {"repo": src.resolve().as_uri(), "commit": git("rev-parse", "HEAD", cwd=src)}
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"))
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-qm", f"files of {src}", cwd=dest)
    return {"repo": dest.resolve().as_uri(), "commit": git("rev-parse", "HEAD", cwd=dest)}


def random_triplane(code_root: Path, size: str) -> torch.nn.Module:
    """The EG3D generator with what training leaves non-zero: noise strengths and w_avg."""
    G = bench_module("eg3d_check").build_triplane(code_root, size)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(0.1)
        w_avg = G.backbone.mapping.w_avg
        w_avg.copy_(torch.randn(w_avg.shape, generator=generator))
    return G


def fid_inception_state() -> dict[str, torch.Tensor]:
    """pytorch-fid's FID Inception architecture, random weights (no download)."""
    import pytorch_fid.inception as fid

    with (
        mock.patch.object(fid, "load_state_dict_from_url", lambda *a, **k: None),
        mock.patch.object(torch.nn.Module, "load_state_dict", lambda self, *a, **k: None),
    ):
        return fid.fid_inception_v3().state_dict()


def facenet_state() -> dict[str, torch.Tensor]:
    """facenet-pytorch's VGGFace2 file layout: the network and its 8631-way logits."""
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=True, num_classes=8631).state_dict()


def weights(served: Path, code: dict[str, Path], size: str) -> dict[str, Path]:
    """Every weight file, random, in its public file's format, under `served`."""
    import torchvision

    from idunlearn.encoders.goae import build_goae_encoder
    from idunlearn.nets.irse import Backbone

    torch.manual_seed(0)
    files = {key: served / name for key, name in FILES.items()}
    G = random_triplane(code["eg3d"], size)
    with open(files["eg3d"], "wb") as f:
        pickle.dump({"G": G, "D": G, "G_ema": G}, f)  # legacy.py wants a module as D
    torch.save(G.backbone.mapping.w_avg.detach().repeat(14, 1), files["w_avg"])
    torch.save(build_goae_encoder(code["goae"]).state_dict(), files["goae"])
    torch.save(Backbone(112, 50, "ir_se").state_dict(), files["arcface"])
    torch.save(Backbone(112, 100, "ir", affine=False).state_dict(), files["curricularface"])
    torch.save(facenet_state(), files["facenet"])
    torch.save(fid_inception_state(), files["inception"])
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), files["vgg16"])
    return files


# served names: none publishes a hash prefix (theirs would not match random weights)
FILES = {
    "eg3d": "eg3d-random.pkl",
    "w_avg": "w_avg-random.pt",
    "goae": "goae-random.pt",
    "arcface": "ir_se50-random.pth",
    "curricularface": "ir101-random.pth",
    "facenet": "facenet-random.pt",
    "inception": "fid_inception-random.pth",
    "vgg16": "vgg16-random.pth",
}


def datasets(guide: Path, manual: Path) -> dict[str, Path]:
    """CelebAHQ (the GUIDE sample as one identity) with its label files, and FFHQ."""
    photos = [Image.open(guide / name).convert("RGB") for name in SAMPLE]
    celebahq = manual / "CelebA-HQ-img"
    ffhq = manual / "ffhq" / "00000"
    celebahq.mkdir(parents=True)
    ffhq.mkdir(parents=True)
    mapping = ["idx         orig_idx        orig_file"]
    identities = []
    for k, photo in enumerate(photos):
        photo.save(celebahq / f"{k}.jpg", quality=95)
        mapping.append(f"{k}    {k}    {k + 1:06d}.jpg")
        identities.append(f"{k + 1:06d}.jpg 1")
        photo.save(ffhq / f"{2 * k:05d}.png")
        ImageOps.mirror(photo).save(ffhq / f"{2 * k + 1:05d}.png")
    (manual / "identity_CelebA.txt").write_text("\n".join(identities) + "\n")
    (manual / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(mapping) + "\n")
    return {"celebahq": celebahq, "ffhq": ffhq.parent}


def smoke_config(
    files: dict[str, Path], code: dict, data: dict, manual: Path, resolution: int
) -> dict:
    """The generated override: assets by file:// URL with their SHA-256, code, datasets."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assets = {}
    for key, entry in paper["assets"].items():
        if key in files:
            url = files[key].resolve().as_uri()
            assets[key] = {"file": entry["file"], "source": "url", "url": url}
        else:  # the label files, picked up where a user would put them by hand
            files[key] = (manual / entry["file"]).resolve()
            assets[key] = {**entry, "manual_path": str(files[key])}
        assets[key]["sha256"] = sha256_of(files[key])
    real = {"ffhq_dir": str(data["ffhq"]), "celebahq_dir": str(data["celebahq"])}
    return {"assets": assets, "code": code, "real": real | {"resolution": resolution}}


def snakemake(run: Path, configfiles: list[Path], *args: str) -> tuple[int, float]:
    """One Snakemake call in `run`; its output goes to run/snakemake.log."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    command += ["--configfile", *map(str, configfiles)]
    start = time.perf_counter()
    with open(run / "snakemake.log", "a") as log:
        code = subprocess.run(command, cwd=run, stdout=log, stderr=subprocess.STDOUT).returncode
    return code, time.perf_counter() - start


def preflight(run: Path, configfiles: list[Path]) -> int:
    command = [sys.executable, str(ROOT / "scripts" / "preflight.py"), "--root", str(run)]
    for path in configfiles:
        command += ["--configfile", str(path)]
    with open(run / "preflight.txt", "a") as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode


@click.command()
@click.option(
    "--eg3d", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option(
    "--goae", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option(
    "--guide", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--sr", type=click.Choice(["2x", "8xdc"]), default="2x", show_default=True)
@click.option("--cores", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--run/--no-run", "run_workflow", default=True, help="build only with --no-run")
def main(eg3d, goae, guide, workdir, sr, cores, run_workflow) -> None:
    """Build the assets, then run the workflow and print its times per rule."""
    if workdir.exists():
        raise click.UsageError(f"{workdir} exists: give a new folder")
    repos, build, served = workdir / "repos", workdir / "build", workdir / "served"
    for path in (repos, build, served):
        path.mkdir(parents=True)
    code = {k: as_repository(p, repos / k) for k, p in (("eg3d", eg3d), ("goae", goae))}
    code["guide"] = as_repository(guide, repos / "guide")
    trees = {}
    for key, entry in code.items():
        fetch_code(entry["repo"], entry["commit"], build / key)
        trees[key] = build / key
    start = time.perf_counter()
    files = weights(served, trees, "small" if sr == "2x" else "small512")
    data = datasets(trees["guide"], workdir / "manual")
    resolution = 128 if sr == "2x" else 512
    override = smoke_config(files, code, data, workdir / "manual", resolution)
    (workdir / "smoke.yaml").write_text(yaml.safe_dump(override, sort_keys=False))
    click.echo(f"assets built in {time.perf_counter() - start:.0f} s: {workdir / 'smoke.yaml'}")
    if not run_workflow:
        return
    run = workdir / "run"
    run.mkdir()
    configs = [ROOT / "config" / "paper.yaml", ROOT / "config" / "paper-smoke.yaml"]
    configs.append(workdir / "smoke.yaml")
    before = preflight(run, configs)
    status, seconds = snakemake(run, configs, "--cores", str(cores), "--keep-going")
    click.echo(f"workflow exit {status} after {seconds:.0f} s (log: {run / 'snakemake.log'})")
    after = preflight(run, configs)
    report, _ = snakemake(run, configs, "--report", "report.html")
    click.echo(f"pre-flight before {before}, after {after}; report exit {report}")
    table = bench_module("workflow_timings").rule_table(run)
    click.echo(table.to_string())
    if status or after or report:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
