"""The orderings the GUIDE paper states, tested on our runs with paired bootstrap CIs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from idunlearn.report.aggregate import Bootstrap, bootstrap_ci, paired_difference
from idunlearn.report.labels import ablation_methods

ALPHA_OPTIMUM = "alpha15"  # Table 3: alpha_max = 15 gives the lowest ID of the grid


@dataclass(frozen=True)
class Claim:
    """`method` lowers `metric` below `versus`, as the paper's table `paper_table` shows."""

    name: str
    statement: str
    method: str
    versus: str
    metric: str
    paper_table: str
    ablation: bool = False  # tested on the ablation scenario only (Tables 3-4)


CLAIMS = (
    Claim(
        "ufo_target",
        "UFO target lowers ID vs the average target",
        "extrapolated",
        "baseline",
        "id",
        "table1",
    ),
    Claim(
        "adjacency", "L_adj lowers ID_others", "adjacency", "extrapolated", "id_others", "table2"
    ),
    Claim("global", "L_global lowers FID_pre", "guide", "adjacency", "fid_pre", "table1"),
    Claim("global", "L_global lowers dFID_real", "guide", "adjacency", "dfid_real", "table1"),
    *(
        Claim(
            "global_ablation",
            f"L_global lowers {label} (Table 4)",
            "local_global",
            "local",
            metric,
            "table4",
            ablation=True,
        )
        for metric, label in (("fid_pre", "FID_pre"), ("dfid_real", "dFID_real"))
    ),
)
CLAIM_COLUMNS = [
    "claim",
    "statement",
    "scenario",
    "method",
    "versus",
    "metric",
    "n",
    "mean_diff",
    "ci_low",
    "ci_high",
    "verdict",
    "paper_diff",
    "n_needed",
]


def alpha_claims(methods: Sequence[str]) -> list[Claim]:
    """Table 3's optimum as one claim per other alpha_max run: alpha15 has the lower ID."""
    grid = ablation_methods(methods, "alpha")
    if ALPHA_OPTIMUM not in grid:
        return []
    statement = "alpha_max = 15 gives the lowest ID (Table 3)"
    return [
        Claim("alpha_max", statement, ALPHA_OPTIMUM, other, "id", "table3", True)
        for other in grid
        if other != ALPHA_OPTIMUM
    ]


def verdict(n: int, low: float, high: float) -> str:
    """holds: the CI excludes 0 on the claimed (lower) side; reversed: on the other side."""
    if n < 2:
        return "not resolved"  # one identity has no spread: its interval is a point
    if high < 0:
        return "holds"
    if low > 0:
        return "reversed"
    return "not resolved"


def identities_needed(n: int, mean: float, low: float, high: float) -> float:
    """Identities at which an unresolved difference of this mean and spread would resolve:
    a CI's half-width shrinks as 1/sqrt(n), so n (half-width / |mean|)^2. NaN when the
    verdict is already in or there is nothing to extrapolate from (n < 2, mean 0)."""
    if n < 2 or mean == 0 or verdict(n, low, high) != "not resolved":
        return np.nan
    return float(math.ceil(n * ((high - low) / 2 / abs(mean)) ** 2))


def paper_difference(paper: pd.DataFrame, claim: Claim, scenario: str) -> float:
    """The same difference in the paper's table; Tables 3-4 match by method only."""
    rows = paper[(paper["table"] == claim.paper_table) & (paper["metric"] == claim.metric)]
    if not claim.ablation:
        rows = rows[rows["scenario"] == scenario]
    means = rows.set_index("method")["paper_mean"]
    if claim.method not in means.index or claim.versus not in means.index:
        return np.nan
    return float(means[claim.method] - means[claim.versus])


def build_claims(
    metrics: pd.DataFrame,
    paper: pd.DataFrame,
    scenarios: Sequence[str],
    ablation_scenario: str,
    boot: Bootstrap,
) -> pd.DataFrame:
    """One row per claim and scenario that has paired runs; claims without them are left out."""
    ablation_runs = metrics.loc[metrics["scenario"] == ablation_scenario, "method"]
    rows = []
    for claim in (*CLAIMS, *alpha_claims(list(ablation_runs))):
        for scenario in [ablation_scenario] if claim.ablation else scenarios:
            diff = paired_difference(metrics, scenario, claim.method, claim.versus, claim.metric)
            if diff.empty:
                continue
            low, high = bootstrap_ci(diff.to_numpy(), boot)
            rows.append(
                [
                    claim.name,
                    claim.statement,
                    scenario,
                    claim.method,
                    claim.versus,
                    claim.metric,
                    len(diff),
                    float(diff.mean()),
                    low,
                    high,
                    verdict(len(diff), low, high),
                    paper_difference(paper, claim, scenario),
                    identities_needed(len(diff), float(diff.mean()), low, high),
                ]
            )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
