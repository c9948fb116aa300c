"""Small-n inference: the t interval, the paired t test and Holm's correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from idunlearn.stats import LEVEL, holm, paired_t_test, t_interval


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
