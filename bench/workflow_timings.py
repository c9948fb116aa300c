"""Benchmark: wall time of a whole workflow run and the per-rule job times.

    python bench/workflow_timings.py --configfile tests/config/config.yaml   # run, then report
    python bench/workflow_timings.py --benchmarks benchmarks                  # report a past run

A run happens in a fresh temporary directory (nothing cached), with --cores.
Per rule it prints the number of jobs, their summed and largest seconds, their
summed CPU seconds (what a shared machine's load does not inflate), and their
peak memory, from Snakemake's `benchmark:` files, and the fixed cost of a
job: the seconds its step takes to start and exit (`STEP.py --help`: interpreter,
imports, click), cold (a fresh `python`) and warm (forked from idunlearn.warm,
as the workflow starts steps), with the share of the rule's time that start is.
The steps that build LPIPS import torchvision later, so their cold start is a
lower bound. Peak memory needs IDUNLEARN_WARM=0: Snakemake measures the job's
own process tree, which a forked step is not in (nor its CPU seconds).

Machines of the same size differ in speed (two 2-core VMs here ran the same default
run in 21 and 32 minutes), so it also prints the machine's speed: the milliseconds of
one training step of the world's generator on one thread, the world's largest cost.
Compare runs, and the README's figures, at that speed.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def rule_table(benchmarks: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        rule = path.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "rule": rule,
                "s": float(record["s"]),
                "cpu_s": record["cpu_time"],
                "max_rss_mb": record["max_rss"],
            }
        )
    if not rows:
        raise click.ClickException(f"no benchmark files under {benchmarks}")
    table = pd.DataFrame(rows).replace("-", float("nan"))
    for column in ("cpu_s", "max_rss_mb"):
        table[column] = pd.to_numeric(table[column])
    return table.groupby("rule").agg(
        jobs=("s", "size"),
        total_s=("s", "sum"),
        max_s=("s", "max"),
        cpu_s=("cpu_s", "sum"),
        peak_mb=("max_rss_mb", "max"),
    )


def start_seconds(step: str, warm: bool, repeats: int = 3) -> float:
    """Median seconds of `STEP.py --help`, started cold or through the warm server."""
    script = ROOT / "scripts" / f"{step}.py"
    if warm:
        log = Path(tempfile.mkdtemp(prefix="idunlearn-bench-")) / "help.log"
        command = [sys.executable, "-m", "idunlearn.job", str(script.parent), str(log), step]
    else:
        command = [sys.executable, str(script)]
    env = {**os.environ, "IDUNLEARN_WARM": "1" if warm else "0"}
    if warm:  # the first call may start the server: not a step's start
        subprocess.run([*command, "--help"], env=env, check=True, capture_output=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([*command, "--help"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_step_ms(steps: int = 20) -> float:
    """Mean ms of a 1-thread step of `train_generator` as the default world fits it
    (batch 32, key points, feature weights) on random data: a fixed measure of the
    machine's speed that follows the training code."""
    import torch

    from idunlearn.training import Schedule, train_generator
    from idunlearn.world.renderer import IDENTITY_PARAMS, LANDMARK_NAMES, NUISANCE_PARAMS

    rng = torch.Generator().manual_seed(0)
    n, z_dim = 256, len(IDENTITY_PARAMS) + len(NUISANCE_PARAMS)
    data = {
        "images": torch.rand(n, 3, 64, 64, generator=rng) * 2 - 1,
        "codes": torch.randn(n, z_dim, generator=rng),
        "yaw": torch.rand(n, 1, generator=rng) * 0.4,
        "weights": 1 + torch.rand(n, 1, 64, 64, generator=rng),
        "points": torch.rand(n, len(LANDMARK_NAMES), 2, generator=rng) * 2 - 1,
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seconds = []
    with contextlib.redirect_stderr(io.StringIO()):  # the training's progress bar
        for count in (3, 3 + steps):  # the difference leaves out start-up and warm-up
            start = time.perf_counter()
            train_generator(**data, schedule=Schedule(count, 32, 1e-3), seed=0, w_norm=50.0)
            seconds.append(time.perf_counter() - start)
    torch.set_num_threads(threads)
    return 1000 * (seconds[1] - seconds[0]) / steps


def with_start_costs(table: pd.DataFrame) -> pd.DataFrame:
    """Cold and warm start per job of each rule that runs a step, and its share of the
    rule's summed time."""
    steps = [r for r in table.index if (ROOT / "scripts" / f"{r}.py").is_file()]
    table = table.copy()
    for mode in ("cold", "warm"):
        table[f"{mode}_start_s"] = pd.Series(
            {r: start_seconds(r, warm=mode == "warm") for r in steps}, dtype=float
        )
        table[f"{mode}_share"] = table["jobs"] * table[f"{mode}_start_s"] / table["total_s"]
    return table


@click.command()
@click.option("--configfile", type=click.Path(exists=True, dir_okay=False), help="run this config")
@click.option(
    "--cores", type=click.IntRange(min=1), default=2, show_default=True, help="snakemake --cores"
)
@click.option(
    "--target", multiple=True, help="run only these targets (e.g. results/world/quality.json)"
)
@click.option(
    "--benchmarks",
    type=click.Path(exists=True, file_okay=False),
    help="report an existing benchmarks/ folder instead of running",
)
@click.option(
    "--start-costs/--no-start-costs",
    default=True,
    show_default=True,
    help="also time each rule's step starting cold and warm (a few seconds per rule)",
)
@click.option(
    "--speed/--no-speed",
    default=True,
    show_default=True,
    help="also print the machine's speed: ms of a 1-thread step of the world's generator",
)
def main(
    configfile: str | None,
    cores: int,
    target: tuple[str, ...],
    benchmarks: str | None,
    start_costs: bool,
    speed: bool,
) -> None:
    """Time a workflow run (or read a past one) and print per-rule figures."""
    if benchmarks is None:
        if configfile is None:
            raise click.UsageError("give --configfile to run, or --benchmarks to report")
        workdir = Path(tempfile.mkdtemp(prefix="idunlearn-bench-"))
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(Path(configfile).resolve()),
            "--cores",
            str(cores),
            "-q",
            *target,
        ]
        start = time.perf_counter()
        subprocess.run(command, cwd=workdir, check=True)
        click.echo(f"wall time: {time.perf_counter() - start:.0f} s ({cores} cores) in {workdir}")
        benchmarks = str(workdir / "benchmarks")
    table = rule_table(Path(benchmarks))
    if start_costs:
        table = with_start_costs(table)
    click.echo(table.round(2).to_string())
    click.echo(f"summed job time: {table['total_s'].sum():.0f} s")
    if speed:
        click.echo(f"machine speed: {reference_step_ms():.0f} ms per reference step (1 thread)")


if __name__ == "__main__":
    main()
