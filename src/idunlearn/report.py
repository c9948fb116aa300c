"""The paper's tables and figures from the per-run metrics and image strips.

Tables 1-4 of GUIDE (CVPR 2024) are rebuilt from `results/metrics/all.csv` with the paper's
numbers beside ours; Figures 6-9 and an ID/FID trade-off plot from the evaluation strips.
Tables are tidy DataFrames first (one row per scenario, method and metric), formatted last,
so the CSV keeps numbers and the Markdown/LaTeX keep the paper's look.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import matplotlib
import matplotlib.axes
import numpy as np
import pandas as pd
import seaborn as sns
import yaml
from matplotlib.figure import Figure, SubFigure
from PIL import Image

from idunlearn.identities import SAMPLE
from idunlearn.io import ArtefactError, atomic_path, read_json

matplotlib.use("Agg")

SCENARIOS = {"random": "Random", "ind": "InD", "ood": "OOD", SAMPLE: "GUIDE sample"}
METRICS = {"id": "ID", "id_others": "ID_others", "fid_pre": "FID_pre", "dfid_real": "dFID_real"}
KEY_COLUMNS = ("scenario", "identity", "method")
VALUE_COLUMNS = (
    "id",
    "id_others",
    "id_source_before",
    "id_source_after",
    "fid_pre",
    "fid_real",
    "dfid_real",
)
# Attack columns (rule attack): `{id,id_others,src}_{attack}`, e.g. id_reinv_optim,
# id_relearn_50; their ID is Table 1's formula with the attacked generator and latent.
ATTACK_COLUMN = re.compile(r"^(id|id_others|src)_(reinv_encoder|reinv_optim|search|relearn_(\d+))$")
ATTACK_ORDER = ("reinv_encoder", "reinv_optim", "search", "relearn")
ATTACK_LABELS = {"reinv_encoder": "reinv-enc", "reinv_optim": "reinv-opt", "search": "search"}
ATTACK_NOTE = (
    "Attack columns (blank: method not attacked) give the ID after an attack, by the same "
    "formula as ID: mean over the evaluation views of cos(E(G_s(w_u)), E(G'(w'))), E the "
    "evaluation identity network, G' the attacked generator and w' the attacker's latent; "
    "higher means the identity came back. reinv-enc / reinv-opt: the source image (ID_others: "
    "each other image, against its own G_s(w_o)) inverted again on G_u by the encoder / by W+ "
    "optimisation from the encoder's estimate; search: the best latent of a projected "
    "gradient ascent in an L2 ball around the system's latent of the source (w_u; encoder "
    "method: E_u(x)) on the loss identity network's similarity to the source photo; "
    "relearn-k: G_u's unlearned parameters (encoder method: the encoder) fine-tuned k steps "
    "to reconstruct the source image (L2 + LPIPS)."
)
# The real setting's second, independent ID network (facenet beside CurricularFace).
SECOND_EVALUATOR_COLUMNS = ("id_second", "id_others_second")
PAPER_LABELS = {
    "baseline": "Baseline",
    "extrapolated": "+ extrapolated w_t",
    "adjacency": "+ L_adj",
    "guide": "+ L_global (GUIDE)",
    "local": "L_local",
    "local_global": "L_local + L_global",
    "cascaded": "Cascaded GAN unlearning",
    "feature": "Feature unlearning",
    "encoder": "Encoder unlearning (I2I)",
}
# Comparison methods (no paper numbers: their "(paper)" cells stay blank) and what a reader
# must know to read their rows; keyed by the default config's method names.
METHOD_NOTES = {
    "cascaded": (
        "Cascaded GAN unlearning runs without its adversarial (fake-label discriminator) "
        "term: the synthetic world's generator has no discriminator"
    ),
    "feature": "Feature unlearning: the feature is the identity's latent direction",
    "encoder": (
        "Encoder unlearning trains the inversion encoder only: its ID uses the unlearned "
        "encoder's latent of each image on G_s, and its FID_pre / dFID_real are measured on "
        "the untouched generator"
    ),
}
GLOBAL_ABLATION = ("local", "local_global")
REDUCTIONS = {
    "mean": "L_adj and L_global averaged over their draws (paper eqs. 7-8)",
    "sum": "L_adj and L_global summed over their draws (reference code)",
}
STRIP_TILES = ("source", "target", "before", "after")
STRIP_PAD = 2
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
TILE_INCH = 1.05


@dataclass(frozen=True)
class TableSpec:
    """What one paper table shows; which rows it gets is decided in `write_tables`."""

    name: str
    title: str
    metrics: tuple[str, ...]
    digits: int
    by_scenario: bool  # one column group per scenario (Table 1) or a single scenario
    match_scenario: bool  # the paper's cells are per scenario (Tables 1-2), not ablations (3-4)
    reference: str = "GUIDE, CVPR 2024"  # where the "(paper)" cells come from


TABLES = (
    TableSpec(
        "table1",
        "Table 1: single-image unlearning",
        ("id", "fid_pre", "dfid_real"),
        digits=2,
        by_scenario=True,
        match_scenario=True,
    ),
    TableSpec(
        "table2",
        "Table 2: multi-image test (ID_others: the identity's other images)",
        ("id", "id_others", "fid_pre", "dfid_real"),
        digits=2,
        by_scenario=False,
        match_scenario=True,
    ),
    TableSpec(
        "table3",
        "Table 3: alpha_max ablation (w_t = w_avg, L_local + L_adj)",
        ("id", "id_others"),
        digits=4,
        by_scenario=False,
        match_scenario=False,
    ),
    TableSpec(
        "table4",
        "Table 4: L_global ablation (w_t = w_avg)",
        ("fid_pre", "dfid_real"),
        digits=2,
        by_scenario=False,
        match_scenario=False,
    ),
    TableSpec(
        SAMPLE,
        "The reference code's sample identity (KU-VGI/GUIDE data/CelebAHQ/512, source "
        "aligned_1.jpg)",
        ("id", "id_others", "fid_pre", "dfid_real"),
        digits=4,
        by_scenario=False,
        match_scenario=True,
        reference="the GUIDE code's README (evaluate_id.py / evaluate_fid.py, seed 0)",
    ),
)


def attack_columns(
    columns: Iterable[str], prefixes: Sequence[str] = ("id", "id_others", "src")
) -> list[str]:
    """The attack columns among `columns` with one of `prefixes`, by attack, k, then prefix."""

    def key(name: str) -> tuple[int, int, int]:
        match = ATTACK_COLUMN.match(name)
        attack = "relearn" if match.group(3) else match.group(2)
        k = int(match.group(3)) if match.group(3) else 0
        return ATTACK_ORDER.index(attack), k, ("id", "id_others", "src").index(match.group(1))

    found = [c for c in columns if (m := ATTACK_COLUMN.match(c)) and m.group(1) in prefixes]
    return sorted(dict.fromkeys(found), key=key)


def metric_label(metric: str) -> str:
    """A column head: the paper's metric name, or e.g. "ID reinv-opt", "ID relearn-50"."""
    if metric in METRICS:
        return METRICS[metric]
    match = ATTACK_COLUMN.match(metric)
    if not match:
        return metric
    attack = f"relearn-{match.group(3)}" if match.group(3) else ATTACK_LABELS[match.group(2)]
    return f"{METRICS[match.group(1)] if match.group(1) in METRICS else match.group(1)} {attack}"


# --- inputs -------------------------------------------------------------------------------


def read_metrics(path: str | Path) -> pd.DataFrame:
    """The per-run metrics table, checked so a bad file fails here, naming itself."""
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        frame = pd.read_csv(path, dtype={key: str for key in KEY_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ArtefactError(f"unreadable metrics file {path}: {err}") from err
    missing = [col for col in (*KEY_COLUMNS, *VALUE_COLUMNS) if col not in frame.columns]
    if missing:
        raise ArtefactError(f"metrics file {path} lacks column(s): {', '.join(missing)}")
    if frame.empty:
        raise ArtefactError(f"metrics file {path} has no rows")
    blank = [col for col in KEY_COLUMNS if frame[col].isna().any()]
    if blank:
        raise ArtefactError(f"metrics file {path}: empty cells in column(s) {', '.join(blank)}")
    for col in (*VALUE_COLUMNS, *attack_columns(frame.columns)):
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise ArtefactError(f"metrics file {path}: column {col} is not numeric")
    duplicated = frame.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        row = frame.loc[duplicated, list(KEY_COLUMNS)].iloc[0]
        raise ArtefactError(f"metrics file {path}: duplicate row for {'/'.join(row)}")
    return frame


def read_paper_numbers(path: str | Path) -> pd.DataFrame:
    """The paper's numbers (table -> scenario -> method -> metric -> {mean, std}) as rows."""
    path = Path(path)
    if not path.is_file():
        raise ArtefactError(f"missing file: {path}")
    try:
        tree = yaml.safe_load(path.read_text())
        rows = [
            (table, scenario, method, metric, float(cell["mean"]), float(cell.get("std", math.nan)))
            for table, scenarios in tree.items()
            for scenario, methods in scenarios.items()
            for method, metrics in methods.items()
            for metric, cell in metrics.items()
        ]
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as err:
        raise ArtefactError(
            f"paper numbers {path} are not table -> scenario -> method -> metric -> "
            f"{{mean, std}} ({type(err).__name__}: {err})"
        ) from err
    columns = ["table", "scenario", "method", "metric", "paper_mean", "paper_std"]
    return pd.DataFrame(rows, columns=columns)


def check_methods(methods: Iterable[str]) -> list[str]:
    """Method names from the command line, stripped; empty or repeated names are errors."""
    names = [name.strip() for name in methods]
    if not names or not all(names):
        raise ValueError(f"method names must be non-empty: {','.join(names)!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"method names repeated: {', '.join(repeated)}")
    return names


def paper_runs(metrics: pd.DataFrame) -> pd.DataFrame:
    """The runs of the paper's scenarios: the guide_sample identity has its own table."""
    return metrics[metrics["scenario"] != SAMPLE]


def require_methods(metrics: pd.DataFrame, methods: Sequence[str], path: str | Path) -> None:
    """Table 1's methods must exist in every scenario: a gap is a failed or forgotten run."""
    present = set(zip(metrics["scenario"], metrics["method"], strict=True))
    gaps = [
        f"{method} ({scenario})"
        for scenario in ordered_scenarios(metrics["scenario"])
        for method in methods
        if (scenario, method) not in present
    ]
    if gaps:
        raise ArtefactError(f"metrics file {path} lacks method(s): {', '.join(gaps)}")


# --- aggregation --------------------------------------------------------------------------


def ordered_scenarios(scenarios: Iterable[str]) -> list[str]:
    """The paper's order (Random, InD, OOD), unknown scenarios after it by name."""
    present = set(scenarios)
    known = [name for name in SCENARIOS if name in present]
    return known + sorted(present - set(SCENARIOS))


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std (ddof 1) and count of each metric per scenario and method, long form."""
    value_vars = [*METRICS, *attack_columns(metrics.columns, ("id", "id_others"))]
    long = metrics.melt(id_vars=["scenario", "method"], value_vars=value_vars, var_name="metric")
    grouped = long.groupby(["scenario", "method", "metric"], sort=False)["value"]
    summary = grouped.agg(n="count", mean="mean", std="std").reset_index()
    summary["n"] = summary["n"].astype(int)
    return summary


def ablation_methods(names: Iterable[str], prefix: str) -> list[str]:
    """Names `{prefix}{value:g}` (alpha15, d-15) sorted by value: the rows of an ablation grid."""
    pattern = re.compile(rf"^{re.escape(prefix)}(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$")
    values = {name: float(m.group(1)) for name in set(names) if (m := pattern.match(name))}
    return sorted(values, key=values.__getitem__)


def method_label(name: str) -> str:
    """The paper's row name of a method; ablation names read as their parameter."""
    if name in PAPER_LABELS:
        return PAPER_LABELS[name]
    for prefix, symbol in (("alpha", "alpha_max"), ("d", "d")):
        if ablation_methods([name], prefix):
            return f"{symbol} = {name[len(prefix) :]}"
    return name


def build_table(
    summary: pd.DataFrame,
    paper: pd.DataFrame,
    spec: TableSpec,
    scenarios: Sequence[str],
    methods: Sequence[str],
) -> pd.DataFrame:
    """Our cells of one table with the paper's beside them, one row per scenario/method/metric.

    Tables 1-2 match the paper by scenario; the ablations (3-4) by method and metric only,
    since the paper ran them on one scenario (CelebAHQ) whatever ours is.
    """
    grid = pd.DataFrame(
        [(s, m, k) for s in scenarios for m in methods for k in spec.metrics],
        columns=["scenario", "method", "metric"],
    )
    ours = grid.merge(summary, on=["scenario", "method", "metric"], how="left")
    ours["n"] = ours["n"].fillna(0).astype(int)
    on = ["scenario", "method", "metric"] if spec.match_scenario else ["method", "metric"]
    theirs = paper.loc[paper["table"] == spec.name, [*on, "paper_mean", "paper_std"]]
    table = ours.merge(theirs, on=on, how="left")
    table.insert(0, "table", spec.name)
    table.insert(3, "label", table["method"].map(method_label))
    return table


# --- formatting ---------------------------------------------------------------------------


def mean_std(mean: float, std: float, digits: int) -> str:
    """A cell as the paper prints it (m ± s); just m without a spread, empty without a mean."""
    if pd.isna(mean):
        return ""
    if pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_table(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Wide, formatted: a row per method, ours then "(paper)" per scenario and metric."""
    columns: dict[str, list[str]] = {"Method": list(dict.fromkeys(table["label"]))}
    for scenario in dict.fromkeys(table["scenario"]):
        for metric in spec.metrics:
            cells = table[(table["scenario"] == scenario) & (table["metric"] == metric)]
            head = metric_label(metric)
            if spec.by_scenario:
                head = f"{SCENARIOS.get(scenario, scenario)} {head}"
            columns[head] = [
                mean_std(m, s, spec.digits)
                for m, s in zip(cells["mean"], cells["std"], strict=True)
            ]
            if metric not in METRICS:
                continue  # an attack column: the paper has none
            columns[f"{head} (paper)"] = [
                mean_std(m, s, spec.digits)
                for m, s in zip(cells["paper_mean"], cells["paper_std"], strict=True)
            ]
    return pd.DataFrame(columns)


def table_caption(table: pd.DataFrame, spec: TableSpec, reduction: str) -> str:
    """Everything a reader needs to read the numbers: n, direction, scenario(s), loss reduction."""
    counts = sorted(set(table.loc[table["n"] > 0, "n"]))
    n = "0" if not counts else f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    names = [SCENARIOS.get(s, s) for s in dict.fromkeys(table["scenario"])]
    scenarios = f"scenario{'s' if len(names) > 1 else ''} {', '.join(names)}"
    paper_note = "" if spec.match_scenario else ", run on CelebAHQ (OOD)"
    notes = [METHOD_NOTES[m] for m in dict.fromkeys(table["method"]) if m in METHOD_NOTES]
    if notes:
        notes = ["comparison methods have no paper numbers (blank)", *notes]
    attacks = f" {ATTACK_NOTE}" if any(m not in METRICS for m in spec.metrics) else ""
    return (
        f"{spec.title}; {scenarios}. Ours: mean ± std over n = {n} identities per cell; "
        f"(paper): {spec.reference}{paper_note}. ID (identity similarity before vs after) lower "
        f"is better, i.e. more forgotten; FID_pre and dFID_real lower is better. "
        f"{REDUCTIONS[reduction]}."
        + "".join(f" {note[0].upper()}{note[1:]}." for note in notes)
        + attacks
    )


def to_markdown(frame: pd.DataFrame, caption: str) -> str:
    """A GitHub Markdown table with its caption as the line above."""
    lines = [caption, "", "| " + " | ".join(frame.columns) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(frame.columns) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in frame.astype(str).itertuples(index=False)]
    return "\n".join(lines) + "\n"


def tex_escape(text: str) -> str:
    """Plain text as LaTeX: the characters our labels and captions use."""
    for char, tex in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%")):
        text = text.replace(char, tex)
    return text.replace("#", r"\#").replace("±", r"$\pm$")


def to_latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table environment (needs \\usepackage{booktabs})."""
    row = " & ".join
    body = [
        row(tex_escape(str(cell)) for cell in cells) + r" \\"
        for cells in frame.itertuples(index=False)
    ]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(caption)}}}",
        rf"\label{{tab:{label}}}",
        r"\begin{tabular}{l" + "r" * (len(frame.columns) - 1) + "}",
        r"\toprule",
        row(tex_escape(col) for col in frame.columns) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_table(table: pd.DataFrame, spec: TableSpec, reduction: str, outdir: Path) -> list[Path]:
    """{name}.csv (tidy numbers), {name}.md and {name}.tex (formatted, captioned)."""
    caption = table_caption(table, spec, reduction)
    frame = format_table(table, spec)
    paths = [outdir / f"{spec.name}.{ext}" for ext in ("csv", "md", "tex")]
    with atomic_path(paths[0]) as tmp:
        table.to_csv(tmp, index=False)
    write_text(paths[1], to_markdown(frame, caption))
    write_text(paths[2], to_latex(frame, caption, spec.name))
    return paths


def write_tables(
    metrics_path: str | Path,
    paper_path: str | Path,
    methods: Sequence[str],
    ablation_scenario: str,
    reduction: str,
    outdir: str | Path,
) -> list[str]:
    """Tables 1-4 (and the guide_sample table) into `outdir`; one log line per table
    written or skipped.

    A missing Table 1 method is an error; an ablation table without runs (ablations off),
    Table 2 without an `ood` scenario or the sample table without its runs is skipped, so
    its files are not written. The sample's runs appear in its own table only.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, not {reduction!r}")
    methods = check_methods(methods)
    every_run = read_metrics(metrics_path)
    summary = summarise(every_run)
    sample_runs = set(every_run.loc[every_run["scenario"] == SAMPLE, "method"])
    metrics = paper_runs(every_run)
    require_methods(metrics, methods, metrics_path)
    paper = read_paper_numbers(paper_path)
    ablation_runs = metrics.loc[metrics["scenario"] == ablation_scenario, "method"]
    rows = {
        "table1": (ordered_scenarios(metrics["scenario"]), methods),
        "table2": (["ood"], methods if (metrics["scenario"] == "ood").any() else []),
        "table3": ([ablation_scenario], ablation_methods(ablation_runs, "alpha")),
        "table4": ([ablation_scenario], [m for m in GLOBAL_ABLATION if m in set(ablation_runs)]),
        SAMPLE: (
            [SAMPLE],
            [m for m in methods if m in sample_runs] + sorted(sample_runs - {*methods}),
        ),
    }
    log = []
    attack_metrics = {
        "table1": tuple(attack_columns(metrics.columns, ("id",))),
        "table2": tuple(attack_columns(metrics.columns, ("id", "id_others"))),
    }
    for spec in TABLES:
        spec = replace(spec, metrics=spec.metrics + attack_metrics.get(spec.name, ()))
        scenarios, names = rows[spec.name]
        if not names:
            log.append(f"skipped {spec.name}: no runs for it in scenario {scenarios[0]}")
            continue
        table = build_table(summary, paper, spec, scenarios, names)
        paths = write_table(table, spec, reduction, Path(outdir))
        log.append(f"wrote {', '.join(str(p) for p in paths)}")
    return log


# --- figures ------------------------------------------------------------------------------


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
            sections.append((SCENARIOS.get(scenario, scenario), identities, rows))
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
        f"{SCENARIOS.get(scenario, scenario)}: target w_t at distance d (d < 0 interpolates,\n"
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
    ax.set_title(f"{SCENARIOS.get(scenario, scenario)}: {TRADEOFF_AXES[metric]}")
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


def aggregate(
    records: list[str], aliases: dict[str, str], out: str, attacks: Sequence[str] = ()
) -> None:
    """One tidy CSV of all evaluation records; `aliases` maps extra method names to the run
    they share (the `run` column keeps the run, for the figures' image strips). The attack
    records' columns are joined on (scenario, identity, run), so aliases get them too;
    runs that were not attacked are blank there."""
    table = pd.DataFrame([read_json(path) for path in records])
    table["run"] = table["method"]
    attack_cols: list[str] = []
    if attacks:
        attacked = pd.DataFrame([read_json(path) for path in attacks])
        attack_cols = attack_columns(attacked.columns)
        attacked = attacked[[*KEY_COLUMNS, *attack_cols]].rename(columns={"method": "run"})
        if attacked.duplicated(["scenario", "identity", "run"]).any():
            raise ArtefactError("attack records: more than one record for a run")
        table = table.merge(attacked, on=["scenario", "identity", "run"], how="left")
    extra = [table[table["method"] == run].assign(method=name) for name, run in aliases.items()]
    table = pd.concat([table, *extra], ignore_index=True)
    second = [col for col in SECOND_EVALUATOR_COLUMNS if col in table.columns]
    table = table[[*KEY_COLUMNS, "run", *VALUE_COLUMNS, *second, *attack_cols]]
    table = table.sort_values(["scenario", "method", "identity"], kind="stable")
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
