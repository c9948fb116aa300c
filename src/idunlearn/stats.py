"""Inference over a handful of identities: Student's t interval of a mean, the paired t test
of a difference and Holm's step-down correction of a family of tests.

Why Student's t (bench/claims_null.py simulates it, 2000 trials per n): the differences
are over 2-10 identities, too few for resampling and, below 6, for exact permutation.
With null normal differences a 95 % percentile bootstrap interval lay wholly below 0 in
23 % of trials at n = 2 (its interval is [min, max] there), 13 % at 3, 10 % at 4 and 6 %
at 8, against the nominal 2.5 %; the t test, exact for normal differences, gave 2.1-3.0 %.
An exact sign-flip permutation test needs no normality but has only 2^n sign patterns:
its smallest two-sided p is 2 / 2^n, so it cannot reach 0.05 below n = 6, nor Holm's
strictest threshold over a 45-test table (0.05 / 45) below n = 11. The price of t is its
assumption: for skewed differences (a centred exponential) it errs 8-11 % of the time on
the side away from the long tail at n = 2-8, as the sign-flip test, which assumes
symmetry, does at n = 8 (10 %); heavy symmetric tails make it conservative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtr, stdtrit

ALPHA = 0.05  # two-sided level of every test (not 1 - 0.95, which is 0.05 + 4e-17)
LEVEL = 1 - ALPHA  # of every interval


def finite(values: Sequence[float]) -> np.ndarray:
    """The values as floats, NaNs (identities without the metric) dropped."""
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def t_quantile(n: int, level: float = LEVEL) -> float:
    """The two-sided `level` quantile of Student's t with n - 1 degrees of freedom (scipy's
    special function: scipy.stats.t.ppf gives the same ~50 times slower, which the
    simulations that check these tests would feel)."""
    return float(stdtrit(n - 1, (1 + level) / 2))


def half_width(values: Sequence[float], level: float = LEVEL) -> float:
    """Half-width of the t interval of the mean: t_{n-1} s / sqrt(n); NaN below two values,
    which have no spread to estimate."""
    x = finite(values)
    if len(x) < 2:
        return math.nan
    return t_quantile(len(x), level) * float(x.std(ddof=1)) / math.sqrt(len(x))


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The `level` t interval of the mean of `values` (NaNs dropped); (nan, nan) below two."""
    x = finite(values)
    half = half_width(x, level)
    if math.isnan(half):
        return math.nan, math.nan
    mean = float(x.mean())
    return mean - half, mean + half


@dataclass(frozen=True)
class PairedTest:
    """Student's paired t test of per-identity differences against 0 (two-sided)."""

    n: int
    mean: float
    std: float
    low: float  # the LEVEL t interval of the mean
    high: float
    p: float  # NaN below two identities


def paired_t_test(differences: Sequence[float]) -> PairedTest:
    """The test of `differences` (NaNs dropped). Differences without spread give p = 0 when
    they are all the same non-zero value (t is infinite) and p = 1 when all are 0."""
    x = finite(differences)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    low, high = t_interval(x)
    if n < 2:
        p = math.nan
    elif std == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        t = mean / (std / math.sqrt(n))
        p = float(2 * stdtr(n - 1, -abs(t)))
    return PairedTest(n, mean, std, low, high, p)


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: the i-th smallest of m is multiplied by m - i + 1
    and made monotone, so rejecting where the adjusted p < alpha keeps the chance of any
    false rejection in the family at most alpha. NaNs (no test) stay NaN and do not count
    in m."""
    p = np.asarray(p, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted
