"""Figures 6-9 of GUIDE (CVPR 2024) and an ID/FID trade-off plot from the evaluation strips,
and the image helpers (strips, grids, saving) other figure modules build on."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import matplotlib
import matplotlib.axes
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure, SubFigure
from PIL import Image

from idunlearn.io import ArtefactError, atomic_path
from idunlearn.report.aggregate import (
    check_methods,
    paper_runs,
    read_metrics,
    require_methods,
    summarise,
)
from idunlearn.report.labels import (
    ablation_methods,
    method_label,
    ordered_scenarios,
    scenario_label,
)

matplotlib.use("Agg")

STRIP_TILES = ("source", "target", "before", "after")
STRIP_PAD = 2
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
TILE_INCH = 1.05


def split_strip(picture: np.ndarray, path: str | Path = "strip") -> dict[str, np.ndarray]:
    """The four tiles of an evaluation strip (source, target, before, after).

    A strip is 4 square tiles of side t with 2-px white gaps, scaled by an integer s:
    width s (4 (t + 2) + 2), height s (t + 4). Both are solved for, so any resolution works.
    """
    height, width = picture.shape[:2]
    tiles, pad = len(STRIP_TILES), STRIP_PAD
    denominator = width - tiles * height
    side = Fraction(pad * (height * (tiles + 1) - 2 * width), denominator) if denominator else 0
    scale = Fraction(height, side + 2 * pad) if side > 0 else 0
    if side <= 0 or side.denominator != 1 or scale.denominator != 1 or scale < 1:
        raise ArtefactError(f"{path}: a {width}x{height} image is not a strip of 4 square tiles")
    s, t = int(scale), int(side)
    return {
        name: picture[s * pad : s * (pad + t), s * (pad + j * (t + pad)) :][:, : s * t]
        for j, name in enumerate(STRIP_TILES)
    }


def read_strip(path: str | Path) -> dict[str, np.ndarray]:
    """The tiles of one strip PNG, named by what they show."""
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        with Image.open(path) as image:
            picture = np.asarray(image.convert("RGB"))
    except OSError as err:
        raise ArtefactError(f"unreadable image {path}: {err}") from err
    return split_strip(picture, path)


def strip_path(
    metrics: pd.DataFrame, evaluate_dir: str | Path, scenario: str, identity: str, method: str
) -> Path:
    """The strip of a run; an ablation alias (e.g. d0 = baseline) points at the run it shares."""
    run = method
    if "run" in metrics.columns:
        rows = metrics[
            (metrics["scenario"] == scenario)
            & (metrics["identity"] == identity)
            & (metrics["method"] == method)
        ]
        run = rows["run"].iloc[0] if len(rows) else method
    return Path(evaluate_dir) / scenario / identity / f"{run}.png"


def pick_identities(
    metrics: pd.DataFrame, scenario: str, methods: Sequence[str], limit: int
) -> list[str]:
    """The first `limit` identities (by name) that have runs of every method: stable picks."""
    runs = metrics[(metrics["scenario"] == scenario) & metrics["method"].isin(methods)]
    counts = runs.groupby("identity")["method"].nunique()
    return sorted(counts.index[counts == len(methods)])[:limit]


def image_grid(
    panel: Figure | SubFigure,
    rows: Sequence[Sequence[np.ndarray]],
    col_titles: Sequence[str],
    row_labels: Sequence[str],
) -> None:
    """Images in a grid of axes, titled on top and labelled on the left."""
    axes = panel.subplots(len(rows), len(col_titles), squeeze=False)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            ax = axes[i, j]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col_titles[j], fontsize=7)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=7)


def save_figure(figure: Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def qualitative_figure(
    metrics: pd.DataFrame,
    evaluate_dir: str | Path,
    methods: Sequence[str],
    out: str | Path,
    max_identities: int = 4,
) -> None:
    """Figures 6-8: per scenario, source and before once, then each method's target and after."""
    titles = ["source", "before\nG_s(w_u)"]
    for method in methods:
        titles += [f"{method_label(method)}\ntarget", f"{method_label(method)}\nafter"]
    sections = []
    for scenario in ordered_scenarios(metrics["scenario"]):
        identities = pick_identities(metrics, scenario, methods, max_identities)
        rows = []
        for identity in identities:
            strips = [
                read_strip(strip_path(metrics, evaluate_dir, scenario, identity, m))
                for m in methods
            ]
            row = [strips[0]["source"], strips[0]["before"]]
            rows.append(row + [strip[tile] for strip in strips for tile in ("target", "after")])
        if rows:
            sections.append((scenario_label(scenario), identities, rows))
    if not sections:
        raise ArtefactError(f"no identity has runs of every method ({', '.join(methods)})")
    heights = [len(rows) * TILE_INCH + 0.7 for _, _, rows in sections]
    figure = Figure(figsize=(len(titles) * TILE_INCH + 0.6, sum(heights)), layout="constrained")
    panels = figure.subfigures(len(sections), 1, height_ratios=heights, squeeze=False)[:, 0]
    for panel, (name, identities, rows) in zip(panels, sections, strict=True):
        panel.suptitle(name, fontsize=9, fontweight="bold")
        image_grid(panel, rows, titles, identities)
    save_figure(figure, out)


def d_ablation_figure(
    metrics: pd.DataFrame,
    evaluate_dir: str | Path,
    scenario: str,
    out: str | Path,
    max_identities: int = 4,
) -> bool:
    """Figure 9: UFO targets and unlearned images across d; False (nothing written) if no runs."""
    methods = ablation_methods(metrics.loc[metrics["scenario"] == scenario, "method"], "d")
    identities = pick_identities(metrics, scenario, methods, max_identities) if methods else []
    if not identities:
        return False
    titles = ["source / before", *(method_label(m) for m in methods)]
    rows, labels = [], []
    for identity in identities:
        strips = [
            read_strip(strip_path(metrics, evaluate_dir, scenario, identity, m)) for m in methods
        ]
        rows.append([strips[0]["source"], *(strip["target"] for strip in strips)])
        rows.append([strips[0]["before"], *(strip["after"] for strip in strips)])
        labels += [f"{identity}\ntarget", f"{identity}\nafter"]
    figure = Figure(
        figsize=(len(titles) * TILE_INCH + 0.6, len(rows) * TILE_INCH + 0.7), layout="constrained"
    )
    figure.suptitle(
        f"{scenario_label(scenario)}: target w_t at distance d (d < 0 interpolates,\n"
        "d = 0 is w_avg, d > 0 extrapolates) and the unlearned image",
        fontsize=8,
    )
    image_grid(figure, rows, titles, labels)
    save_figure(figure, out)
    return True


TRADEOFF_AXES = {"id": "ID", "id_others": "ID_others"}


def tradeoff_panel(
    ax: matplotlib.axes.Axes,
    stats: pd.DataFrame,
    scenario: str,
    metric: str,
    methods: Sequence[str],
    colours: Sequence[tuple[float, float, float]],
) -> bool:
    """One scenario's methods at (metric, FID_pre) with their stds; False if none has a value."""
    drawn = False
    for k, method in enumerate(methods):
        if (scenario, method, metric) not in stats.index:
            continue
        x, y = stats.loc[(scenario, method, metric)], stats.loc[(scenario, method, "fid_pre")]
        if not np.isfinite(x["mean"]):
            continue
        ax.errorbar(
            x["mean"],
            y["mean"],
            xerr=np.nan_to_num(x["std"]),
            yerr=np.nan_to_num(y["std"]),
            fmt=MARKERS[k % len(MARKERS)],
            color=colours[k],
            capsize=3,
            label=method_label(method),
        )
        drawn = True
    ax.set_title(f"{scenario_label(scenario)}: {TRADEOFF_AXES[metric]}")
    ax.set_xlabel(f"{TRADEOFF_AXES[metric]} (lower: more forgotten)")
    return drawn


def tradeoff_figure(summary: pd.DataFrame, methods: Sequence[str], out: str | Path) -> None:
    """Every method by ID (top row) and ID_others (bottom row) against FID_pre, per
    scenario: forgetting of the photo and of the person against preservation."""
    scenarios = ordered_scenarios(summary["scenario"])
    colours = sns.color_palette("colorblind", len(methods))
    stats = summary.set_index(["scenario", "method", "metric"])
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        figure = Figure(figsize=(3.2 * len(scenarios), 6.4), layout="constrained")
        grid = figure.subplots(len(TRADEOFF_AXES), len(scenarios), squeeze=False)
        for row, metric in zip(grid, TRADEOFF_AXES, strict=True):
            for ax, scenario in zip(row, scenarios, strict=True):
                if not tradeoff_panel(ax, stats, scenario, metric, methods, colours):
                    ax.set_visible(False)  # e.g. Random identities have no other images
            shown = [ax for ax in row if ax.get_visible()]
            if shown:
                shown[0].set_ylabel("FID_pre (lower: better preserved)")
        handles, labels = grid[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(methods), 4))
    save_figure(figure, out)


def write_figures(
    metrics_path: str | Path,
    evaluate_dir: str | Path,
    methods: Sequence[str],
    ablation_scenario: str,
    outdir: str | Path,
    max_identities: int = 4,
) -> list[str]:
    """qualitative.png, tradeoff.png and (with d runs) d_ablation.png; one log line each."""
    methods = check_methods(methods)
    metrics = paper_runs(read_metrics(metrics_path))
    require_methods(metrics, methods, metrics_path)
    outdir = Path(outdir)
    qualitative_figure(metrics, evaluate_dir, methods, outdir / "qualitative.png", max_identities)
    tradeoff_figure(summarise(metrics), methods, outdir / "tradeoff.png")
    log = [f"wrote {outdir / 'qualitative.png'}", f"wrote {outdir / 'tradeoff.png'}"]
    d_out = outdir / "d_ablation.png"
    if d_ablation_figure(metrics, evaluate_dir, ablation_scenario, d_out, max_identities):
        log.append(f"wrote {d_out}")
    else:
        log.append(f"skipped {d_out}: no d* runs in scenario {ablation_scenario}")
    return log
