"""Emission intensity μN^γ: closed forms, grid integrals, Poisson counts and times."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from metastroma.body.emission import (
    cumulative_on_grid,
    cumulative_trapezoid,
    draw_emissions,
    emission_rate,
    expected_emissions,
    sample_patient_mu,
)
from metastroma.body.growth import (
    PatientGrowth,
    cells_at,
    cells_on_grid,
    diameter_mm_to_cells,
    sample_patient_growth,
    time_to_cells,
)
from metastroma.config.body_growth import EmissionConfig, GrowthConfig


def cohort(
    law: str, rate: np.ndarray | list[float], n0: float = 1.0, plateau: float = 3e12
) -> PatientGrowth:
    r = np.asarray(rate, dtype=np.float64)
    return PatientGrowth(
        law=law,  # type: ignore[arg-type]
        rate=r,
        initial_cells=np.full(r.size, n0),
        plateau_cells=np.full(r.size, plateau),
        power_exponent=0.5,
    )


def until_diagnosis(g: PatientGrowth, mu: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cumulative intensity of a primary resected at 20 mm (emission stops at surgery)."""
    t_diag = time_to_cells(g, diameter_mm_to_cells(20.0, 1e6))
    cells = np.where(grid[None, :] <= t_diag[:, None], cells_on_grid(g, grid), 0.0)
    return cumulative_trapezoid(cells, grid, mu, 1.0)


RATES = {"exponential": 7.1e-3, "gompertz": 9.9e-4, "power": 290.0}


@pytest.mark.parametrize("law", ["exponential", "gompertz", "power"])
@pytest.mark.parametrize("gamma", [1.0, 2.0 / 3.0, 0.0])
@pytest.mark.parametrize(("t0", "t1"), [(0.0, 3000.0), (1200.0, 1500.0)])
def test_closed_form_matches_quadrature(
    law: str, gamma: float, t0: float, t1: float
) -> None:
    g = cohort(law, [RATES[law]], n0=3.0)
    mu = 2e-12

    def integrand(t: float) -> float:
        return float(emission_rate(cells_at(g, np.array([t])), mu, gamma)[0])

    ref, _ = quad(integrand, t0, t1, epsrel=1e-11, limit=200)
    got = expected_emissions(g, mu, gamma, t0, t1)[0]
    assert ref > 0
    np.testing.assert_allclose(got, ref, rtol=1e-8)


def test_exponential_hand_value_and_section_9_5() -> None:
    # §9.5: exponential from 1 cell, μ∫V dt ≈ μ N_d/α (exactly μ (N_d − 1)/α)
    alpha = math.log(2) / 60.0
    g = cohort("exponential", [alpha])
    n_d = float(diameter_mm_to_cells(20.0, 1e6))
    t_d = time_to_cells(g, n_d)
    mu = 0.29 * alpha / n_d  # the derivation: mean 0.29 lethal metastases at 2 cm
    np.testing.assert_allclose(
        expected_emissions(g, mu, 1.0, 0.0, t_d), 0.29, rtol=1e-8
    )
    np.testing.assert_allclose(mu, 8e-13, rtol=0.01)  # §9.5's μ ≈ 8 × 10⁻¹³


@pytest.mark.parametrize("law", ["exponential", "gompertz", "power"])
def test_grid_cumulative_exact_and_trapezoid_converges(law: str) -> None:
    g = cohort(law, np.array([0.5, 1.0, 2.0]) * RATES[law])
    mu = np.array([1e-12, 3e-12, 5e-13])
    grid = np.linspace(0.0, 2500.0, 2001)
    exact = cumulative_on_grid(g, mu, 1.0, grid)
    assert exact.shape == (3, grid.size)
    assert np.all(np.diff(exact, axis=1) >= 0) and np.all(exact[:, 0] == 0)
    np.testing.assert_allclose(
        exact[:, -1], expected_emissions(g, mu, 1.0, 0.0, 2500.0), rtol=1e-10
    )
    np.testing.assert_allclose(
        exact[:, 1000], expected_emissions(g, mu, 1.0, 0.0, 1250.0), rtol=1e-10
    )
    trap = cumulative_trapezoid(cells_on_grid(g, grid), grid, mu, 1.0)
    np.testing.assert_allclose(trap[:, -1], exact[:, -1], rtol=1e-3)


def test_poisson_counts_mean_and_variance() -> None:
    n = 20_000
    g = cohort("gompertz", np.full(n, 9.9e-4))
    t_end = float(time_to_cells(cohort("gompertz", [9.9e-4]), 4.2e9)[0])
    grid = np.linspace(0.0, t_end, 51)
    lam = cumulative_on_grid(g, 3e-12, 1.0, grid)
    expected = lam[0, -1]
    assert 1.0 < expected < 3.0  # the case has emissions but not too many
    draws = draw_emissions(lam, grid, np.arange(n), seed=11)
    mean = draws.count.mean()
    assert abs(mean - expected) < 4 * math.sqrt(expected / n)
    # Poisson: variance = mean (SE of the sample variance ≈ sqrt(2 λ² + λ) / sqrt(n))
    assert abs(draws.count.var() - expected) < 4 * math.sqrt(
        (2 * expected**2 + expected) / n
    )
    assert draws.patient_row.size == draws.count.sum() == draws.time_day.size


def test_poisson_counts_heterogeneous_cohort() -> None:
    # log-normal growth and μ from the default priors: total count ≈ Σ Λ_k
    ids = np.arange(20_000)
    g = sample_patient_growth(GrowthConfig(), ids, seed=5)
    mu = sample_patient_mu(EmissionConfig(), ids, seed=5) * 10.0
    grid = np.linspace(0.0, 4000.0, 801)
    lam = until_diagnosis(g, mu, grid)
    draws = draw_emissions(lam, grid, ids, seed=5)
    total = lam[:, -1].sum()
    assert 500 < total < 1e6
    assert abs(draws.count.sum() - total) < 4 * math.sqrt(total)


@pytest.mark.parametrize("law", ["exponential", "gompertz"])
def test_emission_times_follow_normalised_intensity(law: str) -> None:
    n = 4_000
    rate = RATES[law]
    g = cohort(law, np.full(n, rate))
    t_end = 2500.0
    grid = np.linspace(0.0, t_end, 1001)
    mu = 3.0 / float(expected_emissions(cohort(law, [rate]), 1.0, 1.0, 0.0, t_end)[0])
    lam = cumulative_on_grid(g, mu, 1.0, grid)
    draws = draw_emissions(lam, grid, np.arange(n), seed=2024)
    times = draws.time_day
    assert times.size > 5_000
    assert np.all((times >= 0) & (times <= t_end))

    z = expected_emissions(cohort(law, [rate]), 1.0, 1.0, 0.0, t_end)[0]

    def cdf(t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(t)
        return (
            expected_emissions(cohort(law, np.full(t.size, rate)), 1.0, 1.0, 0.0, t) / z
        )

    assert stats.kstest(times, cdf).pvalue > 0.01
    # the test has power: the same times are far from uniform emission
    assert stats.kstest(times, stats.uniform(0, t_end).cdf).pvalue < 1e-6
    # within each patient, times are sorted and rows are grouped
    assert np.all(np.diff(draws.patient_row) >= 0)
    same = np.diff(draws.patient_row) == 0
    assert np.all(np.diff(times)[same] >= 0)


def test_patient_draws_do_not_depend_on_cohort_size() -> None:
    cfg_g, cfg_e = GrowthConfig(), EmissionConfig()
    grid = np.linspace(0.0, 4000.0, 401)

    def run(n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        ids = np.arange(n)
        g = sample_patient_growth(cfg_g, ids, seed=9)
        mu = sample_patient_mu(cfg_e, ids, seed=9) * 1e2  # enough emissions to compare
        d = draw_emissions(until_diagnosis(g, mu, grid), grid, ids, seed=9)
        per = [d.time_day[d.patient_row == k] for k in range(10)]
        return d.count[:10], per

    c10, t10 = run(10)
    cbig, tbig = run(10_000)
    assert c10.sum() > 10
    np.testing.assert_array_equal(c10, cbig)
    for a, b in zip(t10, tbig, strict=True):
        np.testing.assert_array_equal(a, b)


def test_windows_and_seeds_give_independent_draws() -> None:
    n = 2_000
    g = cohort("exponential", np.full(n, 7.1e-3))
    grid = np.linspace(0.0, 2000.0, 101)
    lam = cumulative_on_grid(g, 1e-7, 1.0, grid)
    a = draw_emissions(lam, grid, np.arange(n), seed=1, window=0)
    b = draw_emissions(lam, grid, np.arange(n), seed=1, window=1)
    c = draw_emissions(lam, grid, np.arange(n), seed=2, window=0)
    assert np.corrcoef(a.count, b.count)[0, 1] < 0.1
    assert np.corrcoef(a.count, c.count)[0, 1] < 0.1


def test_too_many_emissions_is_an_error_not_an_allocation() -> None:
    grid = np.linspace(0.0, 10.0, 11)
    lam = np.broadcast_to(np.linspace(0.0, 1e6, 11), (3, 11))
    with pytest.raises(ValueError, match="max_emissions"):
        draw_emissions(lam, grid, np.arange(3), seed=0, max_emissions=1_000_000)


def test_zero_intensity_gives_no_emissions() -> None:
    grid = np.linspace(0.0, 10.0, 11)
    lam = np.zeros((3, grid.size))
    d = draw_emissions(lam, grid, np.arange(3), seed=0)
    assert d.count.tolist() == [0, 0, 0] and d.time_day.size == 0


def test_bad_inputs_are_refused() -> None:
    grid = np.linspace(0.0, 10.0, 11)
    with pytest.raises(ValueError, match="cumulative"):
        draw_emissions(np.zeros((2, 5)), grid, np.arange(2), seed=0)
    with pytest.raises(ValueError, match="t_grid_day"):
        draw_emissions(np.zeros((2, 2)), np.array([1.0, 0.0]), np.arange(2), seed=0)
    with pytest.raises(ValueError, match="gamma"):
        expected_emissions(cohort("exponential", [1e-2]), 1e-12, 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="t0_day"):
        expected_emissions(cohort("exponential", [1e-2]), 1e-12, 1.0, 5.0, 1.0)
