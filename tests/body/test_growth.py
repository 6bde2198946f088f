"""Growth laws, inverses, size conversions, per-patient sampling and the growth config."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy.integrate import solve_ivp

from metastroma.body.growth import (
    PatientGrowth,
    cells_at,
    cells_on_grid,
    cells_to_diameter_mm,
    diameter_mm_to_cells,
    gompertz_cells,
    sample_patient_growth,
    time_to_cells,
)
from metastroma.config.body_growth import DetectionConfig, EmissionConfig, GrowthConfig


def cohort(
    law: str, rate: list[float], n0: float = 1.0, plateau: float = 3e12, g: float = 0.5
) -> PatientGrowth:
    r = np.asarray(rate, dtype=np.float64)
    return PatientGrowth(
        law=law,  # type: ignore[arg-type]  # tests pass the literal as str
        rate=r,
        initial_cells=np.full(r.size, n0),
        plateau_cells=np.full(r.size, plateau),
        power_exponent=g,
    )


def rhs(law: str, rate: float, plateau: float, g: float):  # type: ignore[no-untyped-def]
    def f(_t: float, y: np.ndarray) -> np.ndarray:
        ln_n = y[0]  # integrate ln N: well scaled across 12 decades
        if law == "exponential":
            return np.array([rate])
        if law == "gompertz":
            return np.array([rate * (math.log(plateau) - ln_n)])
        return np.array([rate * math.exp((g - 1.0) * ln_n)])

    return f


# ------------------------------------------------------------------ closed forms


def test_hand_values() -> None:
    t = np.array([[0.0, 100.0]])
    np.testing.assert_allclose(
        cells_at(cohort("exponential", [0.01], n0=10.0), t), [[10.0, 10.0 * math.e]]
    )
    # Gompertz: N(t) = N0 exp(L (1 - e^{-bt})); at bt = ln 2, half of L is reached
    b = 1e-3
    n = cells_at(
        cohort("gompertz", [b], n0=1.0, plateau=1e12), np.array([[math.log(2) / b]])
    )
    np.testing.assert_allclose(n, [[1e6]], rtol=1e-12)
    # power law γ = 1/2: N = (1 + a t / 2)^2
    n = cells_at(cohort("power", [2.0], n0=1.0, g=0.5), np.array([[9.0]]))
    np.testing.assert_allclose(n, [[100.0]], rtol=1e-12)


@pytest.mark.parametrize(
    ("law", "rate", "g"),
    [
        ("exponential", 7.1e-3, 0.5),
        ("gompertz", 9.9e-4, 0.5),
        ("gompertz", 4e-3, 0.5),
        ("power", 290.0, 0.5),
        ("power", 5.0, 0.7),
    ],
)
def test_closed_form_matches_ode(law: str, rate: float, g: float) -> None:
    n0, plateau = 1.0, 3e12
    t_eval = np.linspace(0.0, 3000.0, 31)
    sol = solve_ivp(
        rhs(law, rate, plateau, g),
        (0.0, 3000.0),
        [math.log(n0)],
        t_eval=t_eval,
        rtol=1e-10,
        atol=1e-12,
    )
    assert sol.success
    closed = cells_on_grid(cohort(law, [rate], n0=n0, plateau=plateau, g=g), t_eval)[0]
    assert closed[-1] > 1e6 * n0  # the case really grows
    np.testing.assert_allclose(np.log(closed), sol.y[0], rtol=1e-7, atol=1e-7)


def test_gompertz_approaches_plateau_and_default_doubling_at_2cm() -> None:
    n = gompertz_cells(1e5, 1.0, 3e12, 9.9e-4)
    np.testing.assert_allclose(n, 3e12, rtol=1e-9)
    # SCIENCE.md §9.1: Norton's median b gives a doubling ≈ 106 d at 2 cm (4e9 cells)
    g = cohort("gompertz", [9.9e-4, 9.9e-4])
    t = time_to_cells(g, np.array([4e9, 8e9]))
    assert 100.0 < t[1] - t[0] < 115.0


@pytest.mark.parametrize("law", ["exponential", "gompertz", "power"])
def test_time_to_size_round_trip(law: str) -> None:
    rates = {
        "exponential": [3e-3, 7e-3, 2e-2],
        "gompertz": [5e-4, 1e-3, 4e-3],
        "power": [50.0, 290.0, 1e3],
    }[law]
    g = cohort(law, rates)
    targets = np.array([1e3, 4.2e9, 1e11])
    t = time_to_cells(g, targets)
    assert np.all(np.isfinite(t)) and np.all(t > 0)
    np.testing.assert_allclose(cells_at(g, t), targets, rtol=1e-9)
    # and the other way round, on a grid
    times = np.array([[10.0, 500.0, 2000.0]] * 3)
    np.testing.assert_allclose(
        time_to_cells(g, cells_at(g, times)[:, 1]), times[:, 1], rtol=1e-9
    )


def test_gompertz_never_reaches_plateau() -> None:
    g = cohort("gompertz", [1e-3, 1e-3], plateau=1e10)
    t = time_to_cells(g, np.array([1e10, 2e10]))
    assert np.all(np.isinf(t))


def test_cells_at_rejects_wrong_leading_dimension() -> None:
    with pytest.raises(ValueError, match="n_patients"):
        cells_at(cohort("exponential", [1e-2, 2e-2]), np.zeros(3))


# ------------------------------------------------------------------ size conversions


def test_diameter_cells_convention() -> None:
    # 1 cm³ = 10³ mm³ holds 1e9 cells at the default 1e6 cells/mm³ (SCIENCE.md §9.2)
    d_1cm3 = cells_to_diameter_mm(1e9, GrowthConfig().cells_per_mm3)
    np.testing.assert_allclose(d_1cm3, 12.4, atol=0.01)  # Table 9.3's 12.4 mm
    np.testing.assert_allclose(
        diameter_mm_to_cells(20.0, 1e6), 4.19e9, rtol=1e-3
    )  # §9.5's N_d
    np.testing.assert_allclose(diameter_mm_to_cells(20.0, 1e5), 4.19e8, rtol=1e-3)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(
    d=st.floats(1e-3, 200.0, allow_nan=False),
    c=st.sampled_from([1e5, 1e6]),
)
def test_diameter_cells_round_trip(d: float, c: float) -> None:
    np.testing.assert_allclose(
        cells_to_diameter_mm(diameter_mm_to_cells(d, c), c), d, rtol=1e-12
    )


# ------------------------------------------------------------------ patient variability


@pytest.mark.parametrize("law", ["exponential", "gompertz", "power"])
def test_patient_draws_do_not_depend_on_cohort_size(law: str) -> None:
    cfg = GrowthConfig(law=law)  # type: ignore[arg-type]
    small = sample_patient_growth(cfg, np.arange(10), seed=7)
    big = sample_patient_growth(cfg, np.arange(10_000), seed=7)
    np.testing.assert_array_equal(small.rate, big.rate[:10])
    # nor on order: patient 3 alone gets its own value
    alone = sample_patient_growth(cfg, np.array([3]), seed=7)
    assert alone.rate[0] == small.rate[3]
    other_seed = sample_patient_growth(cfg, np.arange(10), seed=8)
    assert not np.any(other_seed.rate == small.rate)


def test_lognormal_prior_median_and_sigma() -> None:
    cfg = GrowthConfig()
    g = sample_patient_growth(cfg, np.arange(40_000), seed=1)
    log_rate = np.log(g.rate)
    n = log_rate.size
    se_mean = cfg.gompertz_rate_sigma_log / math.sqrt(n)
    assert (
        abs(log_rate.mean() - math.log(cfg.gompertz_rate_median_per_day)) < 4 * se_mean
    )
    se_sd = cfg.gompertz_rate_sigma_log / math.sqrt(2 * n)
    assert abs(log_rate.std() - cfg.gompertz_rate_sigma_log) < 4 * se_sd


def test_default_time_10_to_20_mm_matches_weedon_fekjaer() -> None:
    # Table 9.1: time 10 → 20 mm median 0.79 y, mean ≈ 1.7 y (log-normal σ 1.26)
    for law in ("gompertz", "exponential", "power"):
        cfg = GrowthConfig(law=law)  # type: ignore[arg-type]
        g = sample_patient_growth(cfg, np.arange(20_000), seed=3)
        n10, n20 = diameter_mm_to_cells(np.array([10.0, 20.0]), cfg.cells_per_mm3)
        years = (time_to_cells(g, n20) - time_to_cells(g, n10)) / 365.25
        assert 0.70 < np.median(years) < 0.88, law
        assert 1.4 < years.mean() < 2.1, law  # K12 tolerance 1.3–2.1 y


def test_sample_rejects_bad_ids() -> None:
    with pytest.raises(ValueError, match="patient_ids"):
        sample_patient_growth(GrowthConfig(), np.array([-1, 2]), seed=0)
    with pytest.raises(ValueError, match="patient_ids"):
        sample_patient_growth(GrowthConfig(), np.array([0.5]), seed=0)


# ------------------------------------------------------------------ configs


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (GrowthConfig, "gompertz_rate_median_per_day", -1e-3),
        (GrowthConfig, "exponential_rate_median_per_day", 0.0),
        (GrowthConfig, "power_exponent", 1.0),
        (GrowthConfig, "law", "logistic"),
        (GrowthConfig, "cells_per_mm3", "1e6"),
        (GrowthConfig, "gompertz_rate_sigma_log", -0.1),
        (EmissionConfig, "gamma", 1.5),
        (EmissionConfig, "gamma", -0.1),
        (EmissionConfig, "mu_median_per_day", -1e-12),
        (DetectionConfig, "primary_clinical_mm", 0.0),
        (DetectionConfig, "lethal_burden_cells", -1.0),
    ],
)
def test_bad_config_names_the_field(model: type, field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        model(**{field: value})
    assert field in str(err.value)


def test_unknown_key_and_plateau_below_start_are_refused() -> None:
    with pytest.raises(ValidationError, match="growth_rate"):
        GrowthConfig(growth_rate=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="gompertz_plateau_cells"):
        GrowthConfig(initial_cells=1e9, gompertz_plateau_cells=1e9)


def test_primary_detection_default_gives_the_t_stage_mix() -> None:
    # median 18 mm, σ_log 0.55: about 57 % T1 (≤ 20 mm) and 3 % T3 (> 50 mm)
    from scipy.stats import norm

    cfg = DetectionConfig()
    z = lambda d: math.log(d / cfg.primary_clinical_mm) / cfg.primary_clinical_sigma_log  # noqa: E731
    assert 0.5 < norm.cdf(z(20.0)) < 0.65
    assert 0.01 < norm.sf(z(50.0)) < 0.05
    assert 10.0 <= cfg.primary_clinical_mm <= 20.0  # SCIENCE.md Table 9.3 range
