"""Benchmark: wall time of a whole workflow run, per-rule job figures, warm vs cold starts.

    python bench/workflow_timings.py --configfile config/config.yaml            # run, report
    python bench/workflow_timings.py --configfile config/config.yaml --warm-and-cold
    python bench/workflow_timings.py --run-dir .                                  # a past run

A run happens in a fresh temporary directory (nothing cached), with --cores.
Per rule it prints the number of jobs, their summed and largest seconds, their summed CPU
seconds (what a shared machine's load does not inflate) and their peak memory, from the
`<log>.usage.json` each step leaves beside its log (`idunlearn.job`: the step's own
`wait4` figures, warm or cold; Snakemake's `benchmark:` files measure only the job's
client when the step was forked from the warm server). With --start-costs it adds each
rule's fixed cost per job: the seconds its step takes to start and exit (`STEP.py
--help`: interpreter, imports, click), cold (a fresh `python`) and warm (forked from
idunlearn.warm), and the share of the rule's time that start is.

--warm-and-cold runs the config twice from nothing, IDUNLEARN_WARM=0 then 1, on the same
machine, and prints both walls, the steps' summed seconds and CPU seconds, and the
machine's busy CPU seconds during each run (/proc/stat: Snakemake and the warm server's
one-off imports included): what warm starts save, measured.

Machines of the same size differ in speed (two 2-core VMs ran the same default run in 21
and 32 minutes), so it also prints the machine's speed: the milliseconds of one training
step of the world's generator on one thread, the world's largest cost. Compare runs, and
the README's figures, at that speed.
"""

from __future__ import annotations

import contextlib
import io
import json
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


def rule_table(run_dir: Path) -> pd.DataFrame:
    """Per step: jobs, summed and largest seconds, CPU seconds, peak MB, how started."""
    records = [json.loads(p.read_text()) for p in sorted(run_dir.glob("logs/**/*.usage.json"))]
    if not records:
        raise click.ClickException(f"no step usage files (logs/**/*.usage.json) under {run_dir}")
    table = pd.DataFrame(records)
    return table.groupby("step").agg(
        jobs=("wall_s", "size"),
        total_s=("wall_s", "sum"),
        max_s=("wall_s", "max"),
        cpu_s=("cpu_s", "sum"),
        peak_mb=("max_rss_mb", "max"),
        warm=("start", lambda s: int((s == "warm").sum())),
    )


def busy_cpu_seconds() -> float:
    """Seconds all CPUs of this machine spent busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_config(configfile: str, cores: int, targets: tuple[str, ...], warm: bool) -> dict:
    """Run the config in a fresh folder; its wall, busy machine CPU and the folder."""
    workdir = Path(tempfile.mkdtemp(prefix=f"idunlearn-bench-{'warm' if warm else 'cold'}-"))
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
        *targets,
    ]
    env = {**os.environ, "IDUNLEARN_WARM": "1" if warm else "0"}
    cpu, start = busy_cpu_seconds(), time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True)
    return {
        "wall_s": time.perf_counter() - start,
        "machine_cpu_s": busy_cpu_seconds() - cpu,
        "workdir": workdir,
    }


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


def with_start_costs(table: pd.DataFrame, total: str = "total_s") -> pd.DataFrame:
    """Cold and warm start per job of each rule that runs a step, and its share of the
    rule's summed time (column `total`)."""
    steps = [r for r in table.index if (ROOT / "scripts" / f"{r}.py").is_file()]
    table = table.copy()
    for mode in ("cold", "warm"):
        table[f"{mode}_start_s"] = pd.Series(
            {r: start_seconds(r, warm=mode == "warm") for r in steps}, dtype=float
        )
        table[f"{mode}_share"] = table["jobs"] * table[f"{mode}_start_s"] / table[total]
    return table


def comparison(runs: dict[str, dict]) -> pd.DataFrame:
    """Per rule, each mode's summed seconds and CPU seconds; a totals row last."""
    tables = {mode: rule_table(run["workdir"]) for mode, run in runs.items()}
    columns = {f"{mode}_{c}": t[c] for mode, t in tables.items() for c in ("total_s", "cpu_s")}
    table = pd.DataFrame({"jobs": next(iter(tables.values()))["jobs"], **columns})
    table.loc["(all steps)"] = table.sum()
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
    "--run-dir",
    type=click.Path(exists=True, file_okay=False),
    help="report an existing run's folder (its logs/**/*.usage.json) instead of running",
)
@click.option(
    "--warm-and-cold",
    is_flag=True,
    help="run the config twice from nothing, steps started cold then warm, and compare",
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
    run_dir: str | None,
    warm_and_cold: bool,
    start_costs: bool,
    speed: bool,
) -> None:
    """Time a workflow run (or read a past one) and print per-rule figures."""
    if run_dir is None and configfile is None:
        raise click.UsageError("give --configfile to run, or --run-dir to report")
    if warm_and_cold:
        runs = {m: run_config(configfile, cores, target, m == "warm") for m in ("cold", "warm")}
        table = comparison(runs)
        if start_costs:
            table = with_start_costs(table, total="warm_total_s")
        click.echo(table.round(2).to_string())
        for mode, run in runs.items():
            click.echo(
                f"{mode}: wall {run['wall_s']:.0f} s, machine busy {run['machine_cpu_s']:.0f}"
                f" CPU-s ({cores} cores) in {run['workdir']}"
            )
    else:
        if run_dir is None:
            run = run_config(
                configfile, cores, target, warm=os.environ.get("IDUNLEARN_WARM") != "0"
            )
            click.echo(
                f"wall time: {run['wall_s']:.0f} s, machine busy {run['machine_cpu_s']:.0f}"
                f" CPU-s ({cores} cores) in {run['workdir']}"
            )
            run_dir = run["workdir"]
        table = rule_table(Path(run_dir))
        if start_costs:
            table = with_start_costs(table)
        click.echo(table.round(2).to_string())
        click.echo(f"summed job time: {table['total_s'].sum():.0f} s")
    if speed:
        click.echo(f"machine speed: {reference_step_ms():.0f} ms per reference step (1 thread)")


if __name__ == "__main__":
    main()
