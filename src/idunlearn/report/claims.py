"""The orderings the GUIDE paper states, tested on our runs with paired t tests, Holm-corrected
across the claims table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from idunlearn.report.aggregate import paired_difference
from idunlearn.report.labels import ablation_methods
from idunlearn.stats import ALPHA, PairedTest, holm, paired_t_test, t_quantile

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
    "p",
    "p_holm",
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


MIN_IDENTITIES = 3
"""Fewest identities for a verdict. One has no spread. Two have a t test with one degree of
freedom, exact if the differences are normal (two values cannot show it) but able to
resolve almost nothing: a row holds alone only if |mean| > t_1 / sqrt(2) = 9 standard
deviations of its differences, and at Holm's strictest threshold over a 45-row table
only past 405 (three identities: 2.5 and 17). A verdict at n = 2 would come from two
nearly equal differences, an accidentally small spread estimate, and "not resolved"
would say nothing about the claim; below this n a row says "too few identities"."""


def verdict(n: int, mean: float, p_holm: float) -> str:
    """holds: Holm's adjusted p < ALPHA and the difference is on the claimed (lower) side;
    reversed: the same on the other side; not resolved: otherwise."""
    if n < MIN_IDENTITIES:
        return "too few identities"
    if not p_holm < ALPHA:
        return "not resolved"
    return "holds" if mean < 0 else "reversed"


def identities_needed(test: PairedTest, verdict_text: str, family: int) -> float:
    """Identities at which a difference of this mean and std, on the claimed side, would
    reach Bonferroni's two-sided level ALPHA / family (the strictest of Holm's thresholds):
    the least n' >= MIN_IDENTITIES with |mean| sqrt(n') / std >= t_{n'-1}. NaN when the
    claim holds or was reversed, when the difference is on the wrong side (more identities
    would only confirm that) or when there is no spread to extrapolate from."""
    unresolved = verdict_text in ("not resolved", "too few identities")
    if not unresolved or not test.mean < 0 or not test.std > 0:
        return np.nan
    level = 1 - ALPHA / max(family, 1)

    def enough(n: int) -> bool:
        return -test.mean * math.sqrt(n) / test.std >= t_quantile(n, level)

    low, high = max(test.n, MIN_IDENTITIES), max(test.n, MIN_IDENTITIES)
    while not enough(high):  # t_{n-1} falls and sqrt(n) grows: double, then bisect
        low, high = high + 1, 2 * high
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle + 1, high)
    return float(high)


def paper_difference(paper: pd.DataFrame, claim: Claim, scenario: str) -> float:
    """The same difference in the paper's table; Tables 3-4 match by method only."""
    rows = paper[(paper["table"] == claim.paper_table) & (paper["metric"] == claim.metric)]
    if not claim.ablation:
        rows = rows[rows["scenario"] == scenario]
    means = rows.set_index("method")["paper_mean"]
    if claim.method not in means.index or claim.versus not in means.index:
        return np.nan
    return float(means[claim.method] - means[claim.versus])


def judge(tests: Sequence[PairedTest]) -> tuple[np.ndarray, list[str]]:
    """Holm-adjusted p-values and verdicts of a family of tests: the tests below
    MIN_IDENTITIES get no verdict and are left out of the family (NaN)."""
    p = [test.p if test.n >= MIN_IDENTITIES else np.nan for test in tests]
    adjusted = holm(p)
    return adjusted, [
        verdict(test.n, test.mean, p_holm) for test, p_holm in zip(tests, adjusted, strict=True)
    ]


def build_claims(
    metrics: pd.DataFrame,
    paper: pd.DataFrame,
    scenarios: Sequence[str],
    ablation_scenario: str,
) -> pd.DataFrame:
    """One row per claim and scenario that has paired runs (claims without them are left
    out): the paired t test of its differences; Holm across the rows with a verdict."""
    ablation_runs = metrics.loc[metrics["scenario"] == ablation_scenario, "method"]
    tested = []
    for claim in (*CLAIMS, *alpha_claims(list(ablation_runs))):
        for scenario in [ablation_scenario] if claim.ablation else scenarios:
            diff = paired_difference(metrics, scenario, claim.method, claim.versus, claim.metric)
            if not diff.empty:
                tested.append((claim, scenario, paired_t_test(diff.to_numpy())))
    rows = []
    for (claim, scenario, test), p_holm, verdict_text in zip(
        tested, *judge([test for _, _, test in tested]), strict=True
    ):
        rows.append(
            [
                claim.name,
                claim.statement,
                scenario,
                claim.method,
                claim.versus,
                claim.metric,
                test.n,
                test.mean,
                test.low,
                test.high,
                test.p,
                p_holm,
                verdict_text,
                paper_difference(paper, claim, scenario),
                identities_needed(test, verdict_text, len(tested)),
            ]
        )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
