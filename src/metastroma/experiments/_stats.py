"""Statistics of the experiments: bootstrap intervals, equivalence, monotone trends.

Every experiment reports its effects with 95 % bootstrap confidence intervals (SCIENCE.md
§11: "effects with 95 % bootstrap confidence intervals"). The resampling unit is the
replicate (one seeded simulation); cells of one replicate are not independent.

- :func:`bootstrap_mean_ci` — the mean of one arm.
- :func:`bootstrap_contrast_ci` — the difference or ratio of two arms' means; ``paired``
  resamples replicate pairs together, which is right when replicate r of both arms used
  the same seed (common random numbers: same initial cells, same doorways).
- :func:`bootstrap_stat_ci` — any statistic of one or several samples.
- :func:`tost_equivalence` — two one-sided t-tests that a difference lies within ±margin;
  :func:`pooled_sd` gives E7's margin ("within ±1 ensemble SD").
- :func:`monotone_check` — a dose–response or count–response is monotone: the point
  estimates are ordered, no step reverses significantly, and the overall change is
  significant.

Intervals use :func:`scipy.stats.bootstrap` with a fixed ``random_state`` (reproducible),
BCa by default and the percentile method where BCa is undefined. A sample with fewer than
two finite values has no interval (NaN); a constant sample has the degenerate interval
(value, value).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from metastroma._typing import F64Array

__all__ = [
    "CI",
    "MonotoneResult",
    "TostResult",
    "bootstrap_contrast_ci",
    "bootstrap_mean_ci",
    "bootstrap_stat_ci",
    "monotone_check",
    "pooled_sd",
    "tost_equivalence",
]

#: Bootstrap resamples per interval (fixed: intervals are reproducible to the last digit).
N_RESAMPLES = 4000
#: Seed of every bootstrap (``random_state``).
BOOTSTRAP_SEED = 20170131  # issue date of Gonzalez et al. 2017

Method = Literal["BCa", "percentile"]


@dataclass(frozen=True)
class CI:
    """A point estimate and its confidence interval.

    Attributes
    ----------
    estimate : float
        The statistic on the observed data.
    low, high : float
        Interval bounds (NaN if undefined: fewer than two values).
    n : int
        Replicates used (for two samples: the smaller count).
    method : str
        ``'BCa'``, ``'percentile'``, ``'degenerate'`` (constant data) or ``'none'``.
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str

    def excludes(self, value: float = 0.0) -> bool:
        """Whether the interval lies entirely on one side of ``value`` (False if NaN)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return False
        return self.low > value or self.high < value

    def overlaps(self, other: CI) -> bool:
        """Whether two intervals overlap (True if either is undefined)."""
        vals = (self.low, self.high, other.low, other.high)
        if not all(math.isfinite(v) for v in vals):
            return True
        return not (self.high < other.low or other.high < self.low)


def _finite(x: npt.ArrayLike) -> F64Array:
    arr = np.asarray(x, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


def _run_bootstrap(
    samples: tuple[F64Array, ...],
    statistic: Callable[..., float],
    paired: bool,
    confidence: float,
    method: Method,
    n_resamples: int,
) -> tuple[float, float, str]:
    """(low, high, method used); BCa falls back to percentile where it is undefined."""
    methods: list[Method] = (
        [method] if method == "percentile" else [method, "percentile"]
    )
    for m in methods:
        with warnings.catch_warnings():
            # constant resamples make BCa's acceleration 0/0; we fall back instead
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            res = stats.bootstrap(
                samples,
                statistic,
                paired=paired,
                vectorized=False,
                n_resamples=n_resamples,
                confidence_level=confidence,
                method=m,
                random_state=np.random.default_rng(BOOTSTRAP_SEED),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return lo, hi, m
    return _percentile_dropping_nan(samples, statistic, paired, confidence, n_resamples)


def _percentile_dropping_nan(
    samples: tuple[F64Array, ...],
    statistic: Callable[..., float],
    paired: bool,
    confidence: float,
    n_resamples: int,
) -> tuple[float, float, str]:
    """Percentile interval over the resamples where the statistic is finite.

    A ratio of means is undefined on resamples whose denominator is 0 (counts with
    zeros); scipy's interval is then NaN. This fallback drops those resamples (the
    method is reported as ``'percentile-finite'``) and needs 90 % of them finite.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    vals = np.empty(n_resamples)
    n0 = samples[0].size
    for k in range(n_resamples):  # a loop over resamples, not cells
        if paired:
            idx = rng.integers(0, n0, n0)
            vals[k] = statistic(*(s[idx] for s in samples))
        else:
            vals[k] = statistic(*(s[rng.integers(0, s.size, s.size)] for s in samples))
    ok = np.isfinite(vals)
    if ok.mean() < 0.9:
        return math.nan, math.nan, "none"
    alpha = 1.0 - confidence
    lo, hi = np.quantile(vals[ok], [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi), "percentile-finite"


def bootstrap_stat_ci(
    samples: Sequence[npt.ArrayLike],
    statistic: Callable[..., float],
    *,
    paired: bool = False,
    confidence: float = 0.95,
    method: Method = "BCa",
    n_resamples: int = N_RESAMPLES,
) -> CI:
    """Bootstrap interval of ``statistic(*samples)``.

    Parameters
    ----------
    samples : sequence of (n_k,) array_like
        One array per sample (arm); NaN and inf are dropped (for ``paired``, the pairs
        where any sample is not finite).
    statistic : callable
        ``statistic(*arrays) -> float``.
    paired : bool
        Resample the same indices in every sample (samples of equal length).
    confidence : float
        Two-sided level, default 0.95.
    method : {'BCa', 'percentile'}
    n_resamples : int
        Bootstrap resamples (default :data:`N_RESAMPLES`).

    Returns
    -------
    CI
        NaN bounds if a sample has fewer than two values; (est, est) if all are constant.
    """
    if paired:
        arrs = [np.asarray(s, dtype=np.float64).ravel() for s in samples]
        if len({a.size for a in arrs}) != 1:
            raise ValueError("paired samples must have equal lengths")
        ok = np.logical_and.reduce([np.isfinite(a) for a in arrs])
        arrs = [a[ok] for a in arrs]
    else:
        arrs = [_finite(s) for s in samples]
    n = min(a.size for a in arrs)
    if n == 0:
        return CI(math.nan, math.nan, math.nan, 0, "none")
    est = float(statistic(*arrs))
    if n < 2:
        return CI(est, math.nan, math.nan, n, "none")
    if all(np.ptp(a) == 0 for a in arrs):
        return CI(est, est, est, n, "degenerate")
    lo, hi, used = _run_bootstrap(
        tuple(arrs), statistic, paired, confidence, method, n_resamples
    )
    return CI(est, lo, hi, n, used)


def _mean(x: F64Array) -> float:
    return float(np.mean(x))


def bootstrap_mean_ci(
    x: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    method: Method = "BCa",
    n_resamples: int = N_RESAMPLES,
) -> CI:
    """Bootstrap interval of the mean of one sample (replicate values of one arm).

    Examples
    --------
    >>> ci = bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> ci.estimate, ci.low < 3.0 < ci.high
    (3.0, True)
    """
    return bootstrap_stat_ci(
        [x], _mean, confidence=confidence, method=method, n_resamples=n_resamples
    )


def _diff(a: F64Array, b: F64Array) -> float:
    return float(np.mean(a) - np.mean(b))


def _ratio(a: F64Array, b: F64Array) -> float:
    mb = float(np.mean(b))
    return float(np.mean(a)) / mb if mb != 0 else math.nan


def bootstrap_contrast_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    kind: Literal["difference", "ratio"] = "difference",
    paired: bool = False,
    confidence: float = 0.95,
    method: Method = "BCa",
) -> CI:
    """Bootstrap interval of mean(a) − mean(b) or mean(a) / mean(b).

    ``paired`` resamples replicate pairs (a_r, b_r) together: use it when replicate r of
    both arms ran with the same seed.

    Examples
    --------
    >>> ci = bootstrap_contrast_ci([2.0, 2.2, 1.9, 2.1], [1.0, 1.1, 0.9, 1.0])
    >>> round(ci.estimate, 2), ci.excludes(0.0)
    (1.05, True)
    """
    fn = _diff if kind == "difference" else _ratio
    return bootstrap_stat_ci(
        [a, b], fn, paired=paired, confidence=confidence, method=method
    )


def pooled_sd(*samples: npt.ArrayLike) -> float:
    """Pooled standard deviation √(Σ (n_k − 1) s_k² / Σ (n_k − 1)) of several samples."""
    num, den = 0.0, 0
    for s in samples:
        x = _finite(s)
        if x.size >= 2:
            num += float(np.var(x, ddof=1)) * (x.size - 1)
            den += x.size - 1
    return math.sqrt(num / den) if den > 0 else math.nan


@dataclass(frozen=True)
class TostResult:
    """Two one-sided t-tests of equivalence, |mean(a) − mean(b)| < margin.

    Attributes
    ----------
    difference : float
        mean(a) − mean(b).
    margin : float
        Equivalence margin (here 1 pooled SD unless given).
    p_value : float
        max of the two one-sided p-values; equivalent if below ``alpha``.
    low, high : float
        The (1 − 2α) confidence interval of the difference (90 % for α = 0.05);
        equivalence ⇔ it lies inside (−margin, margin).
    equivalent : bool
    """

    difference: float
    margin: float
    p_value: float
    low: float
    high: float
    equivalent: bool


def tost_equivalence(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    margin: float | None = None,
    alpha: float = 0.05,
) -> TostResult:
    """Welch two one-sided tests that mean(a) − mean(b) lies within ±margin.

    Parameters
    ----------
    a, b : array_like
        Replicate values of two arms.
    margin : float, optional
        Equivalence margin; default one pooled SD of the two samples (SCIENCE.md §11 E7,
        "difference within ±1 ensemble SD").
    alpha : float
        Level of each one-sided test.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
    >>> tost_equivalence(x, y).equivalent
    True
    >>> tost_equivalence(x, y + 2.0).equivalent
    False
    """
    x, y = _finite(a), _finite(b)
    m = pooled_sd(x, y) if margin is None else float(margin)
    if x.size < 2 or y.size < 2 or not math.isfinite(m):
        return TostResult(math.nan, m, math.nan, math.nan, math.nan, False)
    diff = float(x.mean() - y.mean())
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(vx + vy)
    if se == 0.0:
        eq = abs(diff) < m
        return TostResult(diff, m, 0.0 if eq else 1.0, diff, diff, eq)
    # Welch–Satterthwaite degrees of freedom
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    p_low = float(stats.t.sf((diff + m) / se, dof))  # H0: diff <= -m
    p_high = float(stats.t.cdf((diff - m) / se, dof))  # H0: diff >= +m
    p = max(p_low, p_high)
    q = float(stats.t.ppf(1.0 - alpha, dof))
    return TostResult(diff, m, p, diff - q * se, diff + q * se, p < alpha)


@dataclass(frozen=True)
class MonotoneResult:
    """Whether group means change monotonically along an ordered factor.

    Attributes
    ----------
    means : (k,) float64
        Point estimates in factor order.
    ordered : bool
        The point estimates are non-decreasing (or non-increasing for ``decreasing``).
    reversals : int
        Consecutive steps whose bootstrap interval lies entirely against the direction.
    trend : CI
        Last minus first group.
    monotone : bool
        ``ordered`` (or, with ``allow_noise``, no significant reversal) and the trend
        interval excludes 0 in the expected direction.
    """

    means: F64Array
    ordered: bool
    reversals: int
    trend: CI
    monotone: bool


def monotone_check(
    groups: Sequence[npt.ArrayLike],
    *,
    decreasing: bool = False,
    allow_noise: bool = False,
    paired: bool = False,
) -> MonotoneResult:
    """Check that group means rise (or fall) monotonically along the group order.

    Parameters
    ----------
    groups : sequence of array_like
        Replicate values per level, in level order (dose, contact count).
    decreasing : bool
        Expect a fall instead of a rise.
    allow_noise : bool
        Accept unordered point estimates as long as no consecutive step reverses
        significantly (its 95 % interval lies wholly against the direction).
    paired : bool
        Replicates of the levels share seeds (paired bootstrap of the steps).

    Examples
    --------
    >>> monotone_check([[1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [3.0, 3.2, 2.9]]).monotone
    True
    >>> monotone_check([[1.0, 1.1], [3.0, 3.1], [2.0, 2.1]]).ordered
    False
    """
    arrs = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    if len(arrs) < 2:
        raise ValueError("monotone_check needs at least two groups")
    means = np.array(
        [float(np.nanmean(a)) if np.isfinite(a).any() else math.nan for a in arrs]
    )
    sign = -1.0 if decreasing else 1.0
    steps = np.diff(means) * sign
    ordered = bool(np.all(np.isfinite(steps)) and np.all(steps >= 0))
    reversals = 0
    for lo, hi in itertools.pairwise(arrs):
        ci = bootstrap_contrast_ci(
            hi, lo, paired=paired and lo.size == hi.size, method="percentile"
        )
        # a reversal: the whole interval of the step lies against the direction
        against = ci.high < 0 if sign > 0 else ci.low > 0
        if math.isfinite(ci.low) and math.isfinite(ci.high) and against:
            reversals += 1
    trend = bootstrap_contrast_ci(
        arrs[-1],
        arrs[0],
        paired=paired and arrs[0].size == arrs[-1].size,
        method="percentile",
    )
    significant = trend.excludes(0.0) and sign * trend.estimate > 0
    shape_ok = ordered or (allow_noise and reversals == 0)
    return MonotoneResult(means, ordered, reversals, trend, shape_ok and significant)
