"""The experiments' statistics: bootstrap intervals, TOST equivalence, monotone checks."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from metastroma.experiments._stats import (
    CI,
    bootstrap_contrast_ci,
    bootstrap_mean_ci,
    bootstrap_stat_ci,
    monotone_check,
    pooled_sd,
    tost_equivalence,
)


def test_mean_ci_covers_the_true_mean_about_95_percent() -> None:
    rng = np.random.default_rng(11)
    n_trials, hits = 200, 0
    for _ in range(n_trials):
        x = rng.normal(3.0, 2.0, 20)
        ci = bootstrap_mean_ci(x, n_resamples=999)
        hits += ci.low <= 3.0 <= ci.high
    # nominal 95 %; the bootstrap undercovers a little at n = 20: a loose band
    assert 0.85 <= hits / n_trials <= 0.99


def test_mean_ci_shrinks_with_n() -> None:
    rng = np.random.default_rng(2)
    widths = []
    for n in (10, 40, 160):
        ci = bootstrap_mean_ci(rng.normal(0.0, 1.0, n))
        widths.append(ci.high - ci.low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4.0, rel=0.35)  # ∝ 1/√n


def test_intervals_are_reproducible() -> None:
    x = np.random.default_rng(5).normal(size=12)
    assert bootstrap_mean_ci(x) == bootstrap_mean_ci(x)


def test_degenerate_and_tiny_samples() -> None:
    ci = bootstrap_mean_ci([2.0, 2.0, 2.0])
    assert (ci.estimate, ci.low, ci.high, ci.method) == (2.0, 2.0, 2.0, "degenerate")
    one = bootstrap_mean_ci([1.0, math.nan])
    assert one.estimate == 1.0 and math.isnan(one.low) and one.method == "none"
    empty = bootstrap_mean_ci([])
    assert math.isnan(empty.estimate) and empty.n == 0


def test_difference_and_ratio_of_two_arms() -> None:
    rng = np.random.default_rng(8)
    a, b = rng.normal(2.0, 0.3, 15), rng.normal(1.0, 0.3, 15)
    d = bootstrap_contrast_ci(a, b)
    assert d.low < a.mean() - b.mean() < d.high
    assert d.excludes(0.0)
    r = bootstrap_contrast_ci(a, b, kind="ratio")
    assert r.low < 2.0 < r.high and r.excludes(1.0)
    # equal arms: the interval covers 0
    same = bootstrap_contrast_ci(a, a + rng.normal(0, 0.01, 15), paired=True)
    assert not same.excludes(0.0)


def test_paired_interval_is_narrower_with_common_random_numbers() -> None:
    rng = np.random.default_rng(3)
    shared = rng.normal(
        0.0, 1.0, 12
    )  # replicate-to-replicate variation both arms share
    a = shared + 0.3 + rng.normal(0, 0.05, 12)
    b = shared + rng.normal(0, 0.05, 12)
    unpaired = bootstrap_contrast_ci(a, b)
    paired = bootstrap_contrast_ci(a, b, paired=True)
    assert paired.high - paired.low < 0.3 * (unpaired.high - unpaired.low)
    assert paired.excludes(0.0) and not unpaired.excludes(0.0)


def test_ratio_with_zero_counts_drops_undefined_resamples() -> None:
    ci = bootstrap_contrast_ci([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 2.5], kind="ratio")
    assert ci.method in ("BCa", "percentile", "percentile-finite")
    assert math.isfinite(ci.low) and ci.low < ci.estimate < ci.high


def test_statistic_of_indices() -> None:
    rows = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    idx = np.arange(4, dtype=float)
    ci = bootstrap_stat_ci(
        [idx], lambda i: float(np.argmax(rows[i.astype(int)].mean(axis=0)))
    )
    assert ci.estimate == 1.0


def test_ci_helpers() -> None:
    a, b = CI(1.0, 0.5, 1.5, 5, "BCa"), CI(2.0, 1.6, 2.4, 5, "BCa")
    assert not a.overlaps(b) and a.excludes(0.0) and not a.excludes(1.0)
    assert a.overlaps(CI(1.4, 1.2, 1.6, 5, "BCa"))
    assert a.overlaps(CI(1.0, math.nan, math.nan, 1, "none"))


def test_tost_accepts_equal_means_and_rejects_shifted() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
    eq = tost_equivalence(x, y)
    assert eq.equivalent and eq.p_value < 0.05
    assert eq.margin == pytest.approx(pooled_sd(x, y))
    assert -eq.margin < eq.low < eq.high < eq.margin
    shifted = tost_equivalence(x, y + 1.5)
    assert not shifted.equivalent and shifted.p_value > 0.05
    # too few replicates cannot show equivalence within one SD
    small = tost_equivalence(x[:3], y[:3])
    assert not small.equivalent


def test_tost_with_an_explicit_margin() -> None:
    x = np.array([1.0, 1.1, 0.9, 1.05, 0.95] * 4)
    assert tost_equivalence(x, x + 0.01, margin=0.2).equivalent
    assert not tost_equivalence(x, x + 0.5, margin=0.2).equivalent


def test_pooled_sd() -> None:
    assert pooled_sd([1.0, 3.0], [2.0, 4.0]) == pytest.approx(math.sqrt(2.0))
    assert math.isnan(pooled_sd([1.0]))


def test_monotone_rising_falling_and_not() -> None:
    up = [[1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [3.0, 3.2, 2.9]]
    res = monotone_check(up)
    assert res.monotone and res.ordered and res.reversals == 0
    assert res.trend.excludes(0.0)
    down = [list(reversed(g)) for g in reversed(up)]
    assert monotone_check(down, decreasing=True).monotone
    assert not monotone_check(up, decreasing=True).monotone
    bumpy = [[1.0, 1.1, 0.9], [3.0, 3.1, 2.9], [2.0, 2.1, 1.9], [4.0, 4.1, 3.9]]
    res = monotone_check(bumpy)
    assert not res.ordered and res.reversals == 1 and not res.monotone
    assert not monotone_check(bumpy, allow_noise=True).monotone  # significant dip
    flat = [[1.0, 1.2, 0.8], [1.0, 1.2, 0.8], [1.0, 1.2, 0.8]]
    assert not monotone_check(flat).monotone  # no significant trend


def test_monotone_allows_noise_within_error() -> None:
    rng = np.random.default_rng(4)
    groups = [rng.normal(m, 0.5, 10) for m in (0.0, 1.0, 1.05, 2.0)]
    groups[2] = groups[2] - 0.1  # a small, insignificant dip
    res = monotone_check(groups, allow_noise=True)
    assert res.reversals == 0 and res.monotone


def test_monotone_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="two groups"):
        monotone_check([[1.0, 2.0]])


def test_doctests_of_the_experiments_modules_pass() -> None:
    import metastroma.experiments as package
    from metastroma.experiments import _common, _stats

    for module in (_stats, _common, package):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
