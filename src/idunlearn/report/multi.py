"""The multi-identity table and figures from the multi evaluate and attack records.

Rows: (method, mode, N) for N in the grid (sequential: after arrival N). Cells say what
a forgotten identity keeps (ID, lower is better; its worst; ID_others), what the retain
identities keep (retain ID: higher is better), FID_pre and dFID_real, and the forgotten
identities' ID after the longest relearning attack. The figures put forget ID, retain ID
and FID_pre against N, and each forgotten identity's ID over the sequential arrivals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from idunlearn.io import ArtefactError, read_json
from idunlearn.report.figures import save_figure
from idunlearn.report.labels import method_label
from idunlearn.report.tables import write_formats

matplotlib.use("Agg")

NUMBERS = (
    "id_mean",
    "id_worst",
    "id_ci",
    "id_others_mean",
    "retain_id_mean",
    "retain_id_worst",
    "fid_pre",
    "dfid_real",
)
KEYS = ("method", "mode", "n")
PANELS = {
    "id_mean": "forget ID (lower: forgotten)",
    "retain_id_mean": "retain ID (higher: kept)",
    "fid_pre": "FID_pre (lower: preserved)",
}
STYLES = {"simultaneous": "-", "sequential": "--"}


def read_records(paths: Sequence[str | Path], what: str) -> pd.DataFrame:
    """One row per record; a record without (method, mode, n) is named."""
    rows = []
    for path in paths:
        record = read_json(path)
        missing = [key for key in KEYS if key not in record]
        if missing:
            raise ArtefactError(f"{path}: not a multi {what} record (no {', '.join(missing)})")
        rows.append(record)
    return pd.DataFrame(rows)


def multi_table(
    evaluations: pd.DataFrame, attacks: pd.DataFrame, grid: Sequence[int]
) -> pd.DataFrame:
    """The tidy table: grid rows of the evaluations, with the attack columns beside."""
    rows = evaluations[evaluations["n"].isin(list(grid))]
    columns = [*KEYS, *NUMBERS]
    table = rows[columns]
    if len(attacks):
        relearn = [c for c in attacks.columns if c.startswith("relearn")]
        table = table.merge(attacks[[*KEYS, *relearn]], on=list(KEYS), how="left")
    return table.sort_values(list(KEYS)).reset_index(drop=True)


def cell(value: float, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def last_relearn(columns: Sequence[str]) -> str | None:
    """The attack column of the longest relearning (its mean ID)."""
    ks = [int(c[len("relearn") : -len("_id_mean")]) for c in columns if c.endswith("_id_mean")]
    return f"relearn{max(ks)}_id_mean" if ks else None


def format_multi(table: pd.DataFrame) -> pd.DataFrame:
    """The Markdown / LaTeX view: ID as mean ± the 95 % t interval's half-width, worst beside."""
    relearn = last_relearn([c for c in table.columns if c.startswith("relearn")])
    rows = []
    for _, row in table.iterrows():
        ident = cell(row["id_mean"])
        if math.isfinite(row["id_ci"]):
            ident += f" ± {cell(row['id_ci'])}"
        out = {
            "method": method_label(row["method"]),
            "mode": row["mode"],
            "N": str(int(row["n"])),
            "ID": ident,
            "ID worst": cell(row["id_worst"]),
            "ID_others": cell(row["id_others_mean"]),
            "retain ID": cell(row["retain_id_mean"]),
            "retain worst": cell(row["retain_id_worst"]),
            "FID_pre": cell(row["fid_pre"], 2),
            "dFID_real": cell(row["dfid_real"], 2),
        }
        if relearn:
            out[f"ID after {relearn[len('relearn') : -len('_id_mean')]} relearn"] = cell(
                row[relearn]
            )
        rows.append(out)
    return pd.DataFrame(rows)


def n_figure(table: pd.DataFrame, out: str | Path) -> None:
    """Forget ID, retain ID and FID_pre against N: a line per method, style per mode."""
    methods = list(dict.fromkeys(table["method"]))
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(3.2 * len(PANELS), 3.2), layout="constrained")
        axes = figure.subplots(1, len(PANELS))
        for ax, (metric, label) in zip(axes, PANELS.items(), strict=True):
            for (method, mode), rows in table.groupby(["method", "mode"], sort=False):
                rows = rows.sort_values("n")
                ax.plot(
                    rows["n"],
                    rows[metric],
                    STYLES.get(mode, ":"),
                    marker="o",
                    color=colours[method],
                    label=f"{method_label(method)} ({mode})",
                )
            ax.set_xlabel("N forgotten identities")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(label)
        handles, labels = axes[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4))
    save_figure(figure, out)


def sequential_figure(evaluations: pd.DataFrame, out: str | Path) -> None:
    """Per method: each forgotten identity's ID after every arrival (from its own), and the
    retain ID; a rising line is an identity that a later arrival brought back."""
    seq = evaluations[evaluations["mode"] == "sequential"].sort_values("n")
    methods = list(dict.fromkeys(seq["method"]))
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(3.4 * max(len(methods), 1), 3.2), layout="constrained")
        axes = np.atleast_1d(figure.subplots(1, max(len(methods), 1)))
        for ax, method in zip(axes, methods, strict=False):
            rows = seq[seq["method"] == method]
            arrivals = rows["n"].to_numpy()
            each = list(rows["id_each"])
            for j in range(int(arrivals.max())):
                xs = [a for a, ids in zip(arrivals, each, strict=True) if len(ids) > j]
                ys = [ids[j] for ids in each if len(ids) > j]
                ax.plot(xs, ys, marker=".", label=f"identity {j + 1}" if j < 10 else None)
            ax.plot(arrivals, rows["retain_id_mean"], "k--", label="retain ID")
            ax.set_title(method_label(method))
            ax.set_xlabel("arrival")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel("ID")
        if not methods:
            axes[0].set_title("no sequential runs")
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            figure.legend(handles, labels, loc="outside right upper")
    save_figure(figure, out)


def write_multi(
    evaluations: Sequence[str | Path],
    attacks: Sequence[str | Path],
    grid: Sequence[int],
    tables_dir: str | Path,
    n_png: str | Path,
    sequential_png: str | Path,
    caption: str,
) -> None:
    """multi.{csv,md,tex} under `tables_dir`, and the two figures."""
    records = read_records(evaluations, "evaluate")
    attacked = read_records(attacks, "attack") if attacks else pd.DataFrame(columns=list(KEYS))
    table = multi_table(records, attacked, grid)
    write_formats(table, format_multi(table), caption, "multi", Path(tables_dir))
    n_figure(table, n_png)
    sequential_figure(records, sequential_png)
