"""Maths of the cohort kernel (kernels/_body.py) against independent references.

E₁ against scipy, the cumulative cell-days ∫N dt against numerical quadrature, its inverse,
the cheap lower bound of the inverse, the growth closed forms against body/growth.py, and
the counter-based Poisson draw against its mean and variance.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from metastroma.body.growth import (
    exponential_cells,
    exponential_time_to,
    gompertz_cells,
    gompertz_time_to,
    power_cells,
    power_time_to,
)
from metastroma.kernels import _body

LAWS = {
    "gompertz": _body.LAW_GOMPERTZ,
    "exponential": _body.LAW_EXPONENTIAL,
    "power": _body.LAW_POWER,
}
PLATEAU = 3.0e12
GAMMA_G = 0.5

# (law, founding cells, rate): a primary from one cell, a cluster colony, a big start, and
# a fast and a slow patient; rates in 1/day (power law: cells^(1−γ_g)/day).
CASES = [
    ("gompertz", 1.0, 9.9e-4),
    ("gompertz", 5.0, 3.0e-3),
    ("gompertz", 1.0e6, 1.0e-4),
    ("gompertz", 1.0, 2.0e-2),
    ("exponential", 1.0, 7.15e-3),
    ("exponential", 5.0, 2.0e-2),
    ("power", 1.0, 290.0),
    ("power", 5.0, 10.0),
]
TIMES_DAY = [1.0e-3, 0.5, 10.0, 300.0, 1500.0, 5000.0, 20000.0]


def _n(law: str, n0: float, rate: float, t: float) -> float:
    """N(t) from the closed forms of body/growth.py (the numpy reference)."""
    if law == "gompertz":
        return float(gompertz_cells(t, n0, PLATEAU, rate))
    if law == "exponential":
        return float(exponential_cells(t, n0, rate))
    return float(power_cells(t, n0, rate, GAMMA_G))


def _quad_cum(law: str, n0: float, rate: float, t: float) -> float:
    """∫₀ᵗ N ds by adaptive quadrature on log-spaced pieces (N spans many decades)."""
    edges = np.concatenate([[0.0], np.geomspace(min(1.0e-4, t / 2.0), t, 60)])
    return sum(
        integrate.quad(
            lambda s: _n(law, n0, rate, s), a, b, epsrel=1e-13, epsabs=0.0, limit=200
        )[0]
        for a, b in itertools.pairwise(edges)
    )


def test_exp1_matches_scipy() -> None:
    x = np.geomspace(1.0e-6, 700.0, 4001)
    ours = np.array([_body.exp1(float(v)) for v in x])
    np.testing.assert_allclose(ours, special.exp1(x), rtol=1e-13, atol=0.0)
    assert _body.exp1(0.0) == math.inf


@pytest.mark.parametrize(("law", "n0", "rate"), CASES)
@pytest.mark.parametrize("t", TIMES_DAY)
def test_cum_cells_matches_quadrature(
    law: str, n0: float, rate: float, t: float
) -> None:
    code = LAWS[law]
    ours = _body.cum_cells(code, n0, rate, PLATEAU, GAMMA_G, t)
    if law == "exponential" and rate * t > 700.0:
        pytest.skip("e^{at} overflows float64 here")
    if law == "gompertz" and rate * t > 700.0:
        pytest.skip("covered by test_cum_cells_finite_at_the_gompertz_plateau")
    ref = _quad_cum(law, n0, rate, t)
    assert ours == pytest.approx(ref, rel=1e-10)


def test_cum_cells_edge_cases() -> None:
    g = _body.LAW_GOMPERTZ
    assert _body.cum_cells(g, 1.0, 1e-3, PLATEAU, GAMMA_G, 0.0) == 0.0
    assert _body.cum_cells(g, 1.0, 1e-3, PLATEAU, GAMMA_G, -5.0) == 0.0
    # a colony that does not grow (organ growth multiplier 0) sheds from its n0 cells
    assert _body.cum_cells(g, 5.0, 0.0, PLATEAU, GAMMA_G, 40.0) == 200.0
    assert _body.inv_cum_cells(g, 5.0, 0.0, PLATEAU, GAMMA_G, 200.0) == 40.0


def test_cum_cells_finite_at_the_gompertz_plateau() -> None:
    rate, t = 0.05, 20000.0  # b·t = 1000: the tumour has sat at N∞ for decades
    ours = _body.cum_cells(_body.LAW_GOMPERTZ, 1.0, rate, PLATEAU, GAMMA_G, t)
    ref = _quad_cum("gompertz", 1.0, rate, t)
    assert math.isfinite(ours)
    assert ours == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(("law", "n0", "rate"), CASES)
def test_inv_cum_cells_inverts_cum_cells(law: str, n0: float, rate: float) -> None:
    code = LAWS[law]
    times = np.geomspace(1.0e-3, 2.0e4, 121)
    times = times[rate * times < 700.0]  # finite cumulative (exponential overflow)
    for t in times:  # over a time grid
        x = _body.cum_cells(code, n0, rate, PLATEAU, GAMMA_G, float(t))
        back = _body.inv_cum_cells(code, n0, rate, PLATEAU, GAMMA_G, x)
        assert back == pytest.approx(t, rel=1e-7 if t < 1.0 else 1e-10), (law, t)
    assert _body.inv_cum_cells(code, n0, rate, PLATEAU, GAMMA_G, 0.0) == 0.0


@pytest.mark.parametrize(("law", "n0", "rate"), CASES)
def test_event_time_lower_bound_is_below_the_inverse(
    law: str, n0: float, rate: float
) -> None:
    code = LAWS[law]
    xs = np.geomspace(1.0e-2, 1.0e17, 200)
    tight = 0
    for x in xs:  # over cumulative targets
        exact = _body.inv_cum_cells(code, n0, rate, PLATEAU, GAMMA_G, float(x))
        bound = _body.event_time_lower_bound(code, n0, rate, PLATEAU, GAMMA_G, float(x))
        assert 0.0 <= bound <= exact * (1.0 + 1e-12), (law, x, bound, exact)
        tight += bound >= 0.5 * exact
        if law != "gompertz":
            assert bound == exact  # exact for the closed-form inverses
    assert tight > len(xs) // 4  # a useful bound, not 0 everywhere


@pytest.mark.parametrize(("law", "n0", "rate"), CASES)
def test_cells_after_and_time_to_match_growth_module(
    law: str, n0: float, rate: float
) -> None:
    code = LAWS[law]
    times = np.array([0.0, 0.3, 7.0, 100.0, 1000.0, 4000.0])
    times = times[rate * times < 700.0]
    ours = np.array(
        [_body.cells_after(code, n0, rate, PLATEAU, GAMMA_G, float(t)) for t in times]
    )
    ref = np.array([_n(law, n0, rate, float(t)) for t in times])
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    targets = np.array([2.0 * n0, 1.0e7, 4.2e3, 5.2e8, 1.0e12])
    targets = targets[targets > n0]
    back = np.array(
        [_body.time_to(code, n0, rate, PLATEAU, GAMMA_G, float(n)) for n in targets]
    )
    if law == "gompertz":
        ref_t = gompertz_time_to(targets, n0, PLATEAU, rate)
    elif law == "exponential":
        ref_t = exponential_time_to(targets, n0, rate)
    else:
        ref_t = power_time_to(targets, n0, rate, GAMMA_G)
    np.testing.assert_allclose(back, ref_t, rtol=1e-12)
    # below the start: 0; Gompertz at or above the plateau: never; no growth: never
    assert _body.time_to(code, n0, rate, PLATEAU, GAMMA_G, n0 / 2.0) == 0.0
    assert _body.time_to(code, n0, 0.0, PLATEAU, GAMMA_G, 10.0 * n0) == math.inf
    if law == "gompertz":
        assert _body.time_to(code, n0, rate, PLATEAU, GAMMA_G, PLATEAU) == math.inf


@pytest.mark.parametrize("mean", [0.3, 4.0, 29.0, 250.0, 3000.0, 5.0e5])
def test_poisson_draw_mean_and_variance(mean: float) -> None:
    n = 4000
    seed, pid, stream = 17, 3, 1011
    x = np.array(
        [_body.poisson_draw(mean, seed, c, pid, stream) for c in range(n)], dtype=float
    )
    se = math.sqrt(mean / n)
    assert abs(x.mean() - mean) < 4.0 * se
    # sample variance of a Poisson count: sd ≈ mean·√(2/n) for large means
    assert abs(x.var(ddof=1) / mean - 1.0) < 4.0 * math.sqrt(2.0 / n + 1.0 / (mean * n))
    if mean < 30.0:  # inversion: the whole distribution
        k = np.arange(int(mean + 8.0 * math.sqrt(mean) + 5.0))
        observed = np.bincount(x.astype(int), minlength=k.size)[: k.size]
        expected = stats.poisson.pmf(k, mean) * n
        keep = expected > 5.0
        chi2 = float((((observed - expected) ** 2 / expected)[keep]).sum())
        assert stats.chi2.sf(chi2, int(keep.sum()) - 1) > 1e-3
    assert _body.poisson_draw(0.0, seed, 0, pid, stream) == 0
    assert _body.poisson_draw(-1.0, seed, 0, pid, stream) == 0
