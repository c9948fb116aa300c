"""Pre-flight: one screen that says whether a configured run can start, before it does.

A real run needs ten downloads (some behind logins), code checkouts, two datasets
fetched by hand and a GPU; the first missing piece otherwise shows up as a failed
job hours in. Everything here only reads: nothing is downloaded or written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from idunlearn.assets import AssetSpec, published_prefix, sha256_of
from idunlearn.faces import IMAGE_SUFFIXES
from idunlearn.io import UserError

# The reference's cost of one identity (1000 unlearning steps, RTX 3090; GUIDE README).
REFERENCE_SECONDS = 15 * 60
REFERENCE_STEPS = 1000
GPU_RULES = ("unlearn", "evaluate", "invert", "attack", "fid_reference", "fid_real")


@dataclass(frozen=True)
class Check:
    """One line of the screen; `problem` is set when the run cannot start because of it."""

    group: str
    name: str
    status: str
    detail: str
    problem: bool = False


def load_config(paths: Iterable[str | Path]) -> dict:
    """The configs merged as Snakemake merges --configfile files (later keys win, nested)."""
    merged: dict = {}
    for path in paths:
        _update(merged, yaml.safe_load(Path(path).read_text()) or {})
    return merged


def _update(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value


def where_to_get(spec: AssetSpec) -> str:
    if spec.source == "url":
        return spec.url or ""
    if spec.source in ("gdrive", "gdrive_folder"):
        return f"Google Drive {spec.source} {spec.gdrive_id}"
    return f"by hand ({spec.instructions}) to {spec.manual_path or 'resources/manual/' + spec.file}"


def check_asset(spec: AssetSpec, resources: Path) -> Check:
    """verified / MISMATCH / unverified <hash> / missing (with where to get it)."""
    path = resources / spec.file
    kept = path.with_name(path.name + ".unverified")
    if not path.is_file() and not kept.is_file():
        return Check("asset", spec.key, "missing", f"{spec.file}: {where_to_get(spec)}", True)
    actual = sha256_of(path if path.is_file() else kept)
    prefix = published_prefix(spec.published_name())
    if prefix and not actual.startswith(prefix):
        return Check("asset", spec.key, "MISMATCH", f"{spec.file}: {actual} (name: {prefix})", True)
    if not spec.sha256:
        detail = f"{spec.file}: {actual} (record it as assets.{spec.key}.sha256)"
        return Check("asset", spec.key, "unverified", detail, True)
    if actual != spec.sha256.lower():
        return Check("asset", spec.key, "MISMATCH", f"{spec.file}: {actual}", True)
    return Check("asset", spec.key, "verified", spec.file)


def check_code(key: str, entry: dict, code_root: Path) -> Check:
    """A checkout at the pinned commit, or missing (fetch_code makes it from `repo`)."""
    path = code_root / key
    where = f"{entry['repo']} @{entry['commit'][:8]}"
    if not path.is_dir():
        return Check("code", key, "missing", f"{where} (rule fetch_code)", True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True
    ).stdout.strip()
    if head != entry["commit"]:
        return Check(
            "code", key, "WRONG", f"{path} is at {head or 'no commit'}, want {where}", True
        )
    return Check("code", key, "present", f"{path} @{head[:8]}")


def count_images(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def check_dataset(key: str, root: Path, instructions: str) -> Check:
    """A folder filled by hand, and how many images it holds."""
    found = count_images(root) if root.is_dir() else 0
    if not found:
        return Check("dataset", key, "missing", f"{root} (0 images): {instructions}", True)
    return Check("dataset", key, "present", f"{root} ({found} images)")


def check_gpus(device: str) -> Check:
    """Visible GPUs and their memory; none is a problem only when the config asks for cuda."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not count:
        return Check("gpu", "cuda", "none", "no GPU visible (runs on the CPU)", device == "cuda")
    names = []
    for i in range(count):
        props = torch.cuda.get_device_properties(i)
        names.append(f"{props.name} {props.total_memory / 2**30:.0f} GiB")
    return Check("gpu", "cuda", f"{count} visible", ", ".join(names))


def check_disk(path: Path) -> Check:
    free = shutil.disk_usage(path).free / 2**30
    return Check("disk", str(path), "free", f"{free:.1f} GiB")


def measured_seconds(benchmarks: Path, rule: str) -> float | None:
    """Mean wall seconds of a rule's finished jobs (Snakemake benchmark files), if any."""
    files = sorted((benchmarks / rule).rglob("*.tsv")) if (benchmarks / rule).is_dir() else []
    seconds = [pd.read_csv(f, sep="\t")["s"].mean() for f in files]
    return sum(seconds) / len(seconds) if seconds else None


def gpu_hours(jobs: dict[str, int], benchmarks: Path, steps: int) -> tuple[float, str]:
    """Estimated GPU-hours of the DAG's GPU rules: measured per job where benchmarks exist,
    else unlearning at the reference's 15 min per 1000 steps (other rules then not counted)."""
    total, basis = 0.0, []
    for rule in GPU_RULES:
        if not jobs.get(rule):
            continue
        seconds = measured_seconds(benchmarks, rule)
        if seconds is None and rule == "unlearn":
            seconds = REFERENCE_SECONDS * steps / REFERENCE_STEPS
            basis.append("unlearn: the reference's 15 min per 1000 steps (RTX 3090)")
        elif seconds is None:
            continue
        else:
            basis.append(f"{rule}: measured {seconds:.1f} s/job")
        total += jobs[rule] * seconds
    return total / 3600, "; ".join(basis) or "nothing measured"


def dag_jobs(snakefile: Path, configfiles: list[str], cwd: Path) -> dict[str, int]:
    """Job counts per rule of the configured DAG (a Snakemake dry run, no lock taken)."""
    command = [sys.executable, "-m", "snakemake", "-n", "--nolock", "-s", str(snakefile)]
    command += ["--configfile", *configfiles] if configfiles else []
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    out = result.stdout + result.stderr
    if result.returncode != 0:
        raise UserError(f"dry run of {snakefile} failed: {out.strip().splitlines()[-1]}")
    if "Job stats:" not in out:
        return {}  # nothing to do: every output exists
    stats = out[out.index("Job stats:") :]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
    counts.pop("total", None)
    return counts


def checks(config: dict, root: Path) -> list[Check]:
    """Every asset, code checkout and manual dataset folder of `config`, GPUs and disk."""
    resources = root / "resources"
    found = [
        check_asset(AssetSpec.from_config(key, entry), resources)
        for key, entry in config.get("assets", {}).items()
    ]
    found += [check_code(k, e, resources / "code") for k, e in config.get("code", {}).items()]
    real = config.get("real", {})
    for key in ("ffhq_dir", "celebahq_dir"):
        if key in real:
            how = real.get(key.replace("_dir", "_instructions"), "")
            found.append(check_dataset(key, root / real[key], how))
    return found + [check_gpus(config["unlearn"]["device"]), check_disk(root)]


def screen(found: list[Check], jobs: dict[str, int], hours: float, basis: str) -> str:
    """The one screen: a line per check, the DAG's size and cost, what is missing."""
    lines = [f"  {c.group:<8}{c.name:<20}{c.status:<11}{c.detail}" for c in found]
    gpu_jobs = ", ".join(f"{jobs[r]} {r}" for r in GPU_RULES if jobs.get(r))
    lines.append(f"  {'dag':<8}{'jobs':<20}{sum(jobs.values()):<11}{gpu_jobs or 'none on a GPU'}")
    lines.append(f"  {'dag':<8}{'gpu-hours':<20}{hours:<11.1f}{basis}")
    problems = [f"{c.group} {c.name} ({c.status})" for c in found if c.problem]
    lines.append("ready" if not problems else f"NOT READY: {', '.join(problems)}")
    return "\n".join(lines)
