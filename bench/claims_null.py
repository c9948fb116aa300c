"""Simulation behind the claims' test: how often a claim with no true difference "holds",
and how often one with a true difference does, per number of identities n.

Four ways to decide that a paired difference lies below 0 at the two-sided 95 % level:
the 95 % percentile bootstrap interval (2000 resamples) wholly below 0 (the report's rule
before the t test), the exact sign-flip permutation test (all 2^n sign patterns),
Student's paired t test, and the report's verdict (`idunlearn.report.judge`: that t test,
a family of one, no verdict below its minimum n). Nominal false rate: 2.5 %. Null
differences are normal, heavy-tailed (Student's t, 3 df) or skewed (exponential minus
its mean, either side); the last rows have a true effect. Prints a Markdown table.

    python bench/claims_null.py --trials 2000
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import click
import numpy as np

from idunlearn.report import judge
from idunlearn.stats import ALPHA, paired_t_test

NULLS: dict[str, Callable[[np.random.Generator, tuple[int, int]], np.ndarray]] = {
    "normal": lambda rng, size: rng.normal(size=size),
    "t, 3 df": lambda rng, size: rng.standard_t(3, size=size),
    "exp - 1": lambda rng, size: rng.exponential(size=size) - 1,
    "1 - exp": lambda rng, size: 1 - rng.exponential(size=size),
}


def bootstrap_holds(x: np.ndarray, resamples: int = 2000) -> bool:
    """The old rule: the percentile interval of resampled means lies below 0."""
    rng = np.random.default_rng(0)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    return bool(np.percentile(means, 100 - 50 * ALPHA) < 0)


def sign_flip_holds(x: np.ndarray) -> bool:
    """Exact sign-flip test: the share of sign patterns whose |sum| reaches the observed."""
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=len(x))))
    p = np.mean(np.abs(signs @ x) >= abs(x.sum()) - 1e-12)
    return bool(p < ALPHA and x.mean() < 0)


def t_test_holds(x: np.ndarray) -> bool:
    """The paired t test at any n >= 2, for what the report's minimum n leaves out."""
    test = paired_t_test(x)
    return bool(test.p < ALPHA and test.mean < 0)


def report_holds(x: np.ndarray) -> bool:
    return judge([paired_t_test(x)])[1][0] == "holds"


RULES = {
    "bootstrap": bootstrap_holds,
    "sign-flip": sign_flip_holds,
    "t test": t_test_holds,
    "report": report_holds,
}


@click.command()
@click.option("--trials", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--effect", type=float, default=-1.0, show_default=True, help="in std units")
def main(trials: int, seed: int, effect: float) -> None:
    """Rows: the null (or the effect) and n; columns: the share of trials that hold."""
    print("| differences | n | " + " | ".join(RULES) + " |")
    print("|:---|---:|" + "---:|" * len(RULES))
    cases = [(name, draw, 0.0) for name, draw in NULLS.items()]
    cases.append((f"normal, mean {effect:+g} std", NULLS["normal"], effect))
    for name, draw, shift in cases:
        for n in (2, 3, 4, 8):
            samples = draw(np.random.default_rng([seed, n]), (trials, n)) + shift
            rates = [np.mean([rule(x) for x in samples]) for rule in RULES.values()]
            print(f"| {name} | {n} | " + " | ".join(f"{rate:.1%}" for rate in rates) + " |")


if __name__ == "__main__":
    main()
