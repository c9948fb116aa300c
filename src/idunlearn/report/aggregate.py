"""From the evaluation records to numbers: all.csv, per-cell summaries with t intervals, and
paired per-identity differences between two methods."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import yaml

from idunlearn.identities import SAMPLE
from idunlearn.io import ArtefactError, UserError, atomic_path, read_json
from idunlearn.report.labels import (
    KEY_COLUMNS,
    METRICS,
    NO_FACE_COLUMNS,
    SECOND_EVALUATOR_COLUMNS,
    VALUE_COLUMNS,
    attack_columns,
    ordered_scenarios,
)
from idunlearn.stats import t_interval

PAPER_COLUMNS = ["table", "scenario", "method", "metric", "paper_mean", "paper_std"]


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
    required = (*KEY_COLUMNS, *VALUE_COLUMNS, *NO_FACE_COLUMNS)
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise ArtefactError(f"metrics file {path} lacks column(s): {', '.join(missing)}")
    if frame.empty:
        raise ArtefactError(f"metrics file {path} has no rows")
    blank = [col for col in KEY_COLUMNS if frame[col].isna().any()]
    if blank:
        raise ArtefactError(f"metrics file {path}: empty cells in column(s) {', '.join(blank)}")
    for col in (*VALUE_COLUMNS, *NO_FACE_COLUMNS, *attack_columns(frame.columns)):
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise ArtefactError(f"metrics file {path}: column {col} is not numeric")
    duplicated = frame.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        row = frame.loc[duplicated, list(KEY_COLUMNS)].iloc[0]
        raise ArtefactError(f"metrics file {path}: duplicate row for {'/'.join(row)}")
    return frame


def read_paper_numbers(path: str | Path) -> pd.DataFrame:
    """Reference numbers (table -> scenario -> method -> metric -> {mean, std}) as rows; a
    "table" may also be a second reference (the reference code's README: `readme`)."""
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
    return pd.DataFrame(rows, columns=PAPER_COLUMNS)


def check_methods(methods: Iterable[str]) -> list[str]:
    """Method names from the command line, stripped; empty or repeated names are errors."""
    names = [name.strip() for name in methods]
    if not names or not all(names):
        raise UserError(f"method names must be non-empty: {','.join(names)!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"method names repeated: {', '.join(repeated)}")
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


# --- all.csv ------------------------------------------------------------------------------


def read_record(path: str, keys: Sequence[str]) -> dict:
    """One evaluation or attack record, which must hold `keys`."""
    record = read_json(path)
    missing = [key for key in keys if key not in record]
    if missing:
        raise ArtefactError(f"record {path} lacks key(s): {', '.join(missing)}")
    return record


def aggregate(
    records: list[str], aliases: dict[str, str], out: str, attacks: Sequence[str] = ()
) -> None:
    """One tidy CSV of all evaluation records; `aliases` maps extra method names to the run
    they share (the `run` column keeps the run, for the figures' image strips). The attack
    records' columns are joined on (scenario, identity, run), so aliases get them too;
    runs that were not attacked are blank there."""
    keys = (*KEY_COLUMNS, *VALUE_COLUMNS, *NO_FACE_COLUMNS)
    table = pd.DataFrame([read_record(path, keys) for path in records])
    table["run"] = table["method"]
    attack_cols: list[str] = []
    if attacks:
        attacked = pd.DataFrame([read_record(path, KEY_COLUMNS) for path in attacks])
        attack_cols = attack_columns(attacked.columns)
        attacked = attacked[[*KEY_COLUMNS, *attack_cols]].rename(columns={"method": "run"})
        if attacked.duplicated(["scenario", "identity", "run"]).any():
            raise ArtefactError("attack records: more than one record for a run")
        table = table.merge(attacked, on=["scenario", "identity", "run"], how="left")
    extra = [table[table["method"] == run].assign(method=name) for name, run in aliases.items()]
    table = pd.concat([table, *extra], ignore_index=True)
    second = [col for col in SECOND_EVALUATOR_COLUMNS if col in table.columns]
    table = table[[*KEY_COLUMNS, "run", *VALUE_COLUMNS, *NO_FACE_COLUMNS, *second, *attack_cols]]
    table = table.sort_values(["scenario", "method", "identity"], kind="stable")
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


# --- summaries ----------------------------------------------------------------------------


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, method and metric: n, mean, sample std (ddof 1) and the t interval of
    the mean over identities, long form (columns n, mean, std, ci_low, ci_high)."""
    value_vars = [*METRICS, *attack_columns(metrics.columns, ("id", "id_others"))]
    long = metrics.melt(id_vars=["scenario", "method"], value_vars=value_vars, var_name="metric")
    grouped = long.groupby(["scenario", "method", "metric"], sort=False)["value"]
    summary = grouped.agg(n="count", mean="mean", std="std").reset_index()
    summary["n"] = summary["n"].astype(int)
    keys = ["scenario", "method", "metric"]
    cis = pd.DataFrame(
        [(*key, *t_interval(values.to_numpy())) for key, values in grouped],
        columns=[*keys, "ci_low", "ci_high"],
    )
    return summary.merge(cis, on=keys, how="left")


def paired_difference(
    metrics: pd.DataFrame, scenario: str, method: str, versus: str, metric: str
) -> pd.Series:
    """`metric` of `method` minus that of `versus` per identity both ran (NaNs dropped),
    indexed by identity: the pairing removes the spread between identities."""
    rows = metrics[metrics["scenario"] == scenario]
    a = rows[rows["method"] == method].set_index("identity")[metric]
    b = rows[rows["method"] == versus].set_index("identity")[metric]
    return (a - b).dropna().sort_index()
