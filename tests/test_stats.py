"""Small-n inference: the t interval, the paired t test, Holm, and by simulation the error
rate and power of the claims' verdicts and the cells' intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from idunlearn import report
from idunlearn.stats import ALPHA, LEVEL, holm, paired_t_test, t_interval

TRIALS = 2000


def test_t_interval_is_the_mean_plus_minus_t_quantile_times_the_standard_error():
    # [0, 1]: mean 0.5, std 1 / sqrt(2); t_{1, 0.975} = 12.706 -> 0.5 +- 6.353
    assert t_interval([0.0, 1.0]) == pytest.approx((0.5 - 6.35310, 0.5 + 6.35310))
    values = np.random.default_rng(7).normal(size=20)
    sem = values.std(ddof=1) / math.sqrt(len(values))
    expected = scipy_stats.t.interval(LEVEL, len(values) - 1, values.mean(), sem)
    assert t_interval(values) == pytest.approx(expected)
    assert t_interval([*values, math.nan]) == t_interval(values)  # NaN dropped
    assert t_interval([0.3, 0.3, 0.3]) == (0.3, 0.3)  # no spread: a point


def test_no_interval_without_two_values():
    for values in ([0.42], [math.nan], []):
        assert all(math.isnan(v) for v in t_interval(values))


def test_paired_t_test_agrees_with_scipys_one_sample_test():
    diff = np.array([-0.05, -0.06, -0.07, -0.01])
    test = paired_t_test(diff)
    reference = scipy_stats.ttest_1samp(diff, 0.0)
    assert (test.n, test.mean, test.std) == (
        4,
        pytest.approx(-0.0475),
        pytest.approx(diff.std(ddof=1)),
    )
    assert test.p == pytest.approx(reference.pvalue)
    ci = reference.confidence_interval(LEVEL)
    assert (test.low, test.high) == pytest.approx((ci.low, ci.high))


def test_paired_t_test_without_spread_or_identities():
    assert paired_t_test([1.0, 1.0, 1.0]).p == 0.0  # every identity the same non-zero gain
    assert paired_t_test([0.0, 0.0, 0.0]).p == 1.0  # no difference at all
    one = paired_t_test([-0.3])
    assert one.n == 1 and one.mean == -0.3 and math.isnan(one.p) and math.isnan(one.low)


def test_holm_multiplies_the_ith_smallest_p_by_m_minus_i_plus_one_monotonically():
    # m = 4 tests (NaN is none): 0.005 * 4, 0.01 * 3, 0.03 * 2, then 0.04 * 1 lifted to 0.06
    adjusted = holm([0.01, 0.04, 0.03, math.nan, 0.005])
    assert adjusted[[0, 1, 2, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[3])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([]).size == 0


# --- simulation ---------------------------------------------------------------------------


def tolerance(rate: float, trials: int) -> float:
    """`rate` plus three Monte-Carlo standard errors of a rate estimated from `trials`."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / trials)


@pytest.mark.parametrize("n", [2, 3, 8])
def test_null_differences_hold_no_more_often_than_the_nominal_rate(n):
    """With no true difference a claim may falsely hold at most ALPHA / 2 of the time (the
    lower tail of a two-sided test), in its verdict and in the table cells' interval. A 95 %
    percentile bootstrap held in 24 % of these trials at n = 2, 14 % at 3 and 7 % at 8."""
    rng = np.random.default_rng(20241 + n)
    samples = rng.normal(size=(TRIALS, n))
    verdicts = [report.judge([paired_t_test(x)])[1][0] for x in samples]
    below = [t_interval(x)[1] < 0 for x in samples]
    bound = tolerance(ALPHA / 2, TRIALS)
    assert np.mean([v == "holds" for v in verdicts]) <= bound
    assert np.mean(below) <= bound
    if n < report.MIN_IDENTITIES:
        assert set(verdicts) == {"too few identities"}
    else:  # and not far below: the test is exact for normal differences
        assert np.mean([v == "holds" for v in verdicts]) >= ALPHA / 2 - (bound - ALPHA / 2)


FAMILY = 45  # about the default claims table: 15 claims x 3 scenarios


def test_holm_keeps_a_whole_table_of_null_claims_at_the_family_wise_rate():
    """45 null rows at the default's 8 identities: some verdict in the table is false at most
    ALPHA of the time (uncorrected: 1 - 0.95^45, ~90 %)."""
    trials = 300
    rng = np.random.default_rng(45)
    false = 0
    for table in rng.normal(size=(trials, FAMILY, 8)):
        verdicts = report.judge([paired_t_test(x) for x in table])[1]
        false += any(v in ("holds", "reversed") for v in verdicts)
    assert false / trials <= tolerance(ALPHA, trials)


def test_a_true_effect_in_a_table_of_null_claims_is_found():
    """One row lowers the metric by 2.5 standard deviations at 8 identities, among 44 null
    rows: it must hold at least as often as Bonferroni's level ALPHA / 45 promises (Holm
    rejects whatever Bonferroni does), by the noncentral t: 87 %."""
    trials, n, effect = 300, 8, -2.5
    critical = scipy_stats.t.ppf(1 - ALPHA / FAMILY / 2, n - 1)
    power = scipy_stats.nct.cdf(-critical, n - 1, effect * math.sqrt(n))
    rng = np.random.default_rng(8)
    found = 0
    for table in rng.normal(size=(trials, FAMILY, n)):
        table[0] += effect
        found += report.judge([paired_t_test(x) for x in table])[1][0] == "holds"
    assert found / trials >= power - 3 * math.sqrt(power * (1 - power) / trials)
