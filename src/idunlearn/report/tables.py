"""Tables 1-4 of GUIDE (CVPR 2024), the attack table and the claims table.

Tables are tidy DataFrames first (one row per scenario, method and metric with n, mean, std
and the t interval), formatted last, so the CSV keeps numbers in separate columns and the
Markdown/LaTeX keep the paper's look ("mean ± std [low, high]", an n column per scenario).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from idunlearn.identities import SAMPLE
from idunlearn.io import atomic_path
from idunlearn.report.aggregate import (
    PAPER_COLUMNS,
    check_methods,
    paper_runs,
    read_metrics,
    read_paper_numbers,
    require_methods,
    summarise,
)
from idunlearn.report.captions import (
    READ_ME_NOTE,
    Setting,
    attacks_caption,
    claims_caption,
    no_face_note,
    table_caption,
)
from idunlearn.report.claims import build_claims
from idunlearn.report.labels import (
    GLOBAL_ABLATION,
    ablation_methods,
    attack_columns,
    method_label,
    metric_label,
    ordered_scenarios,
    scenario_label,
)

CLAIM_HEADS = [
    "Claim",
    "Scenario",
    "Comparison",
    "n",
    "Difference [95% CI]",
    "p (Holm)",
    "Verdict",
    "n to hold",
    "Paper",
]
SECOND_REFERENCE = "readme"  # paper_numbers.yaml key of the reference code's README numbers


@dataclass(frozen=True)
class TableSpec:
    """What one paper table shows; which rows it gets is decided in `write_tables`."""

    name: str
    title: str
    metrics: tuple[str, ...]
    digits: int
    by_scenario: bool  # one column group per scenario (Table 1) or a single scenario
    match_scenario: bool  # the paper's cells are per scenario (Tables 1-2), not ablations (3-4)
    second_reference: bool = False  # a "(ref. code)" column beside "(paper)" (Table 2)
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
        second_reference=True,
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
ATTACKS = TableSpec(
    "attacks",
    "Attacks",
    (),
    digits=2,
    by_scenario=False,
    match_scenario=False,
)


def build_table(
    summary: pd.DataFrame,
    paper: pd.DataFrame,
    spec: TableSpec,
    scenarios: Sequence[str],
    methods: Sequence[str],
) -> pd.DataFrame:
    """Our cells of one table with the paper's beside them, one row per scenario/method/metric.

    Tables 1-2 match the paper by scenario; the ablations (3-4) by method and metric only,
    since the paper ran them on one scenario (CelebAHQ) whatever ours is. With a second
    reference, its means join as `ref_mean` (by scenario).
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
    if spec.second_reference:
        keys = ["scenario", "method", "metric"]
        ref = paper.loc[paper["table"] == SECOND_REFERENCE, [*keys, "paper_mean"]]
        table = table.merge(ref.rename(columns={"paper_mean": "ref_mean"}), on=keys, how="left")
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


def with_ci(text: str, low: float, high: float, digits: int) -> str:
    """`text` followed by its interval, "[low, high]"; just `text` without one (one
    identity has no spread, so no interval)."""
    if not text or pd.isna(low):
        return text
    return f"{text} [{low:.{digits}f}, {high:.{digits}f}]"


def our_cell(row: pd.Series, row_n: int, digits: int) -> str:
    """mean ± std [low, high]; "(n=k)" after it where k differs from the row's n column."""
    text = mean_std(row["mean"], row["std"], digits)
    text = with_ci(text, row["ci_low"], row["ci_high"], digits)
    return f"{text} (n={row['n']})" if text and row["n"] != row_n else text


def format_table(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Wide, formatted: a row per method; per scenario its n, then per metric ours, the
    paper's and (Table 2) the reference code's."""
    columns: dict[str, list[str]] = {"Method": list(dict.fromkeys(table["label"]))}
    for scenario in dict.fromkeys(table["scenario"]):
        prefix = f"{scenario_label(scenario)} " if spec.by_scenario else ""
        block = table[table["scenario"] == scenario]
        row_n = block.groupby("method", sort=False)["n"].max().tolist()
        columns[f"{prefix}n"] = [str(n) for n in row_n]
        for metric in spec.metrics:
            cells = block[block["metric"] == metric]
            head = f"{prefix}{metric_label(metric)}"
            columns[head] = [
                our_cell(row, n, spec.digits)
                for (_, row), n in zip(cells.iterrows(), row_n, strict=True)
            ]
            columns[f"{head} (paper)"] = [
                mean_std(m, s, spec.digits)
                for m, s in zip(cells["paper_mean"], cells["paper_std"], strict=True)
            ]
            if spec.second_reference:
                columns[f"{head} (ref. code)"] = [
                    mean_std(m, math.nan, spec.digits) for m in cells["ref_mean"]
                ]
    return pd.DataFrame(columns)


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


def write_formats(
    tidy: pd.DataFrame,
    frame: pd.DataFrame,
    caption: str,
    name: str,
    outdir: Path,
    exts: Sequence[str] = ("csv", "md", "tex"),
) -> list[Path]:
    """{name}.csv (tidy numbers), {name}.md and {name}.tex (formatted, captioned)."""
    paths = [outdir / f"{name}.{ext}" for ext in exts]
    writers = {
        "csv": lambda path: tidy.to_csv(path, index=False, float_format="%.6g"),
        "md": lambda path: path.write_text(to_markdown(frame, caption)),
        "tex": lambda path: path.write_text(to_latex(frame, caption, name)),
    }
    for path, ext in zip(paths, exts, strict=True):
        with atomic_path(path) as tmp:
            writers[ext](tmp)
    return paths


# --- the attack table ---------------------------------------------------------------------


def attack_metrics(columns: Sequence[str]) -> tuple[str, ...]:
    """Unattacked ID, then ID after each attack; the same for ID_others where it was attacked."""
    metrics = ("id", *attack_columns(columns, ("id",)))
    others = attack_columns(columns, ("id_others",))
    return metrics + (("id_others", *others) if others else ())


def attacked_methods(metrics: pd.DataFrame, scenario: str, methods: Sequence[str]) -> list[str]:
    """`methods` (in their order) with an attack value in `scenario`."""
    rows = metrics[metrics["scenario"] == scenario]
    hit = rows[rows[attack_columns(metrics.columns)].notna().any(axis=1)]["method"]
    return [method for method in methods if method in set(hit)]


def format_attacks(table: pd.DataFrame, digits: int) -> pd.DataFrame:
    """A row per scenario and method: n, then per metric "mean ± std [low, high]"."""
    rows = []
    for (scenario, label), cells in table.groupby(["scenario", "label"], sort=False):
        row_n = int(cells["n"].max())
        row = {"Scenario": scenario_label(scenario), "Method": label, "n": str(row_n)}
        for _, cell in cells.iterrows():
            row[metric_label(cell["metric"])] = our_cell(cell, row_n, digits)
        rows.append(row)
    return pd.DataFrame(rows)


def write_attack_table(
    metrics: pd.DataFrame,
    summary: pd.DataFrame,
    methods: Sequence[str],
    setting: Setting,
    outdir: Path,
) -> str:
    """attacks.{csv,md,tex}: method x attack per scenario; skipped without attack columns."""
    spec = replace(ATTACKS, metrics=attack_metrics(metrics.columns))
    if len(spec.metrics) == 1:
        return "skipped attacks: no attack columns in the metrics"
    blocks = [
        build_table(summary, pd.DataFrame(columns=PAPER_COLUMNS), spec, [s], names)
        for s in ordered_scenarios(metrics["scenario"])
        if (names := attacked_methods(metrics, s, methods))
    ]
    if not blocks:
        return "skipped attacks: no method of the table was attacked"
    table = pd.concat(blocks, ignore_index=True).drop(columns=["paper_mean", "paper_std"])
    caption = attacks_caption(table, setting)
    paths = write_formats(table, format_attacks(table, spec.digits), caption, "attacks", outdir)
    return f"wrote {', '.join(str(p) for p in paths)}"


# --- the claims table ---------------------------------------------------------------------


def claim_digits(metric: str) -> int:
    """Similarities to 4 places, FIDs to 2, as the paper's tables."""
    return 4 if metric.startswith("id") else 2


def difference_cell(row: pd.Series) -> str:
    digits = claim_digits(row["metric"])
    text = f"{row['mean_diff']:+.{digits}f}"
    return with_ci(text, row["ci_low"], row["ci_high"], digits)


def p_cell(p: float) -> str:
    """A p-value to two significant digits, "<0.001" below; blank without a test."""
    if pd.isna(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def to_hold_cell(row: pd.Series) -> str:
    """Identities to hold: "~k" for an unresolved difference on the claimed side; "diff > 0"
    on the other side, where no number of identities would make the claim hold."""
    if not pd.isna(row["n_needed"]):
        return f"~{int(row['n_needed'])}"
    unresolved = row["verdict"] in ("not resolved", "too few identities")
    return "diff > 0" if unresolved and row["mean_diff"] > 0 else ""


def format_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """A row per claim and scenario: the comparison, n, difference [CI], Holm's p, verdict,
    identities to hold, paper's."""
    rows = [
        {
            "Claim": row["statement"],
            "Scenario": scenario_label(row["scenario"]),
            "Comparison": (
                f"{method_label(row['method'])} - {method_label(row['versus'])}: "
                f"{metric_label(row['metric'])}"
            ),
            "n": str(row["n"]),
            "Difference [95% CI]": difference_cell(row),
            "p (Holm)": p_cell(row["p_holm"]),
            "Verdict": row["verdict"],
            "n to hold": to_hold_cell(row),
            "Paper": (
                ""
                if pd.isna(row["paper_diff"])
                else f"{row['paper_diff']:+.{claim_digits(row['metric'])}f}"
            ),
        }
        for _, row in claims.iterrows()
    ]
    return pd.DataFrame(rows, columns=CLAIM_HEADS)


# --- all tables ---------------------------------------------------------------------------


def table_rows(
    every_run: pd.DataFrame, methods: Sequence[str], ablation_scenario: str
) -> dict[str, tuple[list[str], list[str]]]:
    """(scenarios, methods) of each table; no methods: the table is skipped. The sample
    identity's runs appear in its own table only."""
    metrics = paper_runs(every_run)
    ablation_runs = metrics.loc[metrics["scenario"] == ablation_scenario, "method"]
    sample_runs = set(every_run.loc[every_run["scenario"] == SAMPLE, "method"])
    sample_methods = [m for m in methods if m in sample_runs] + sorted(sample_runs - {*methods})
    return {
        SAMPLE: ([SAMPLE], sample_methods),
        "table1": (ordered_scenarios(metrics["scenario"]), list(methods)),
        "table2": (["ood"], list(methods) if (metrics["scenario"] == "ood").any() else []),
        "table3": ([ablation_scenario], ablation_methods(ablation_runs, "alpha")),
        "table4": ([ablation_scenario], [m for m in GLOBAL_ABLATION if m in set(ablation_runs)]),
    }


def paper_table_caption(
    table: pd.DataFrame, spec: TableSpec, metrics: pd.DataFrame, setting: Setting
) -> str:
    paper_note = "" if spec.match_scenario else ", run on CelebAHQ (OOD)"
    if spec.second_reference:
        paper_note += f"; {READ_ME_NOTE}"
    methods = list(dict.fromkeys(table["method"]))
    no_face = no_face_note(metrics, list(dict.fromkeys(table["scenario"])), methods)
    return table_caption(table, spec.title, paper_note, setting, no_face, spec.reference)


def write_tables(
    metrics_path: str | Path,
    paper_path: str | Path,
    methods: Sequence[str],
    ablation_scenario: str,
    setting: Setting,
    outdir: str | Path,
) -> list[str]:
    """Tables 1-4, attacks and claims into `outdir`; one log line per table written or skipped.

    A missing Table 1 method is an error; an ablation table without runs (ablations off),
    Table 2 without an `ood` scenario, the sample table without its runs (guide_sample) or
    the attack table without attacks is skipped, so its files are not written. The claims
    table is always written (empty without claims). The sample identity's runs appear in
    its own table only.
    """
    outdir = Path(outdir)
    methods = check_methods(methods)
    every_run = read_metrics(metrics_path)
    metrics = paper_runs(every_run)
    require_methods(metrics, methods, metrics_path)
    paper = read_paper_numbers(paper_path)
    summary = summarise(every_run)
    rows = table_rows(every_run, methods, ablation_scenario)
    log = []
    for spec in TABLES:
        scenarios, names = rows[spec.name]
        if not names:
            log.append(f"skipped {spec.name}: no runs for it in scenario {scenarios[0]}")
            continue
        table = build_table(summary, paper, spec, scenarios, names)
        caption = paper_table_caption(table, spec, every_run, setting)
        paths = write_formats(table, format_table(table, spec), caption, spec.name, outdir)
        log.append(f"wrote {', '.join(str(p) for p in paths)}")
    log.append(write_attack_table(metrics, summary, methods, setting, outdir))
    claims = build_claims(metrics, paper, ordered_scenarios(metrics["scenario"]), ablation_scenario)
    caption = claims_caption(claims, setting)
    paths = write_formats(claims, format_claims(claims), caption, "claims", outdir, ("csv", "md"))
    log.append(f"wrote {', '.join(str(p) for p in paths)}")
    return log
