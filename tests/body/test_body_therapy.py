"""DDR2-directed treatment of virtual patients (body/therapy.py, the kernel's switch).

- the activity factor is the period mean of the §4.8 activation ODE under the regimen's
  steady-state blockade: checked against a numerical integration to the periodic state;
- dose 0 and activity factor 1 give the untreated cohort exactly;
- a treated history equals the untreated one up to the start of treatment (common random
  numbers), and the kernel's re-basing keeps colony sizes continuous at the switch;
- abolishing DDR2 activity from diagnosis lowers the number of colonies (new seeding),
  the ledger still balances.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from metastroma.body.cohort import build_plan, simulate_cohort, treatment_factors
from metastroma.body.therapy import CohortTherapy, inhibitor_activity_factor
from metastroma.config.cohort import CohortScenario
from metastroma.config.stroma import Ddr2Config
from metastroma.config.therapy import InhibitorConfig
from metastroma.therapy.pd import inhibition, steady_state_exposure

N = 3000


@pytest.fixture(scope="module")
def scenario() -> CohortScenario:
    return CohortScenario(seed=11, patients=N, follow_up_years=10)


@pytest.fixture(scope="module")
def control(scenario: CohortScenario):  # type: ignore[no-untyped-def]
    return simulate_cohort(scenario)


def _outcomes(p: pd.DataFrame) -> pd.DataFrame:
    return p[[c for c in p.columns if not c.startswith("treatment_")]]


# ------------------------------------------------------------------ activity factor


def _ode_factor(inh: InhibitorConfig, rho: float = 0.5) -> float:
    """Integrate dA/dt to its periodic state numerically and average the last period."""
    cfg = Ddr2Config()
    drug, pd_cfg, sched = inh.drug_config, inh.pd, inh.schedule
    tau_min = sched.interval_h * 60.0
    k = cfg.activation_per_min * rho / (rho + cfg.collagen_half_activation)
    koff = cfg.deactivation_per_min

    def theta(t_min: float) -> float:
        t_in = (t_min % tau_min) / 60.0
        e = steady_state_exposure(drug, pd_cfg, sched.dose_mg, sched.interval_h, [t_in])
        return float(inhibition(e.c_nmol_per_l, pd_cfg, drug.ic50_nmol_per_l)[0])

    def rhs(t: float, y: np.ndarray) -> list[float]:
        return [k * (1.0 - theta(t)) * (1.0 - y[0]) - koff * y[0], 1.0 * y[0]]

    n_periods = 12  # 1/k_off = 12 h: e^{-12 τ/12 h} is far below the tolerance
    sol = solve_ivp(
        rhs,
        (0.0, n_periods * tau_min),
        [k / (k + koff), 0.0],
        method="LSODA",
        rtol=1e-9,
        atol=1e-12,
        max_step=2.0,
        dense_output=True,
    )
    last = sol.sol((n_periods - 1) * tau_min)[1]
    mean_a = (sol.y[1, -1] - last) / tau_min
    return float(mean_a / (k / (k + koff)))


@pytest.mark.parametrize(
    ("drug", "dose", "interval"),
    [("dasatinib_a", 100.0, 24.0), ("dasatinib_b", 70.0, 12.0)],
)
def test_activity_factor_is_the_period_mean_of_the_activation_ode(
    drug: str, dose: float, interval: float
) -> None:
    inh = InhibitorConfig(drug=drug, schedule={"dose_mg": dose, "interval_h": interval})
    got = inhibitor_activity_factor(inh)
    assert got.factor == pytest.approx(_ode_factor(inh), rel=2e-4)
    # A integrates θ over the interval: not 1 − mean θ (SCIENCE.md §4.8)
    assert got.factor > got.instantaneous_factor + 0.1
    assert got.basis == "free"


def test_activity_factor_dose_zero_is_one_and_falls_with_dose() -> None:
    def f(dose: float, basis: str = "free") -> float:
        inh = InhibitorConfig(
            schedule={"dose_mg": dose, "interval_h": 24.0}, pd={"ic50_basis": basis}
        )
        return inhibitor_activity_factor(inh).factor

    assert f(0.0) == 1.0
    values = [f(d) for d in (10.0, 50.0, 100.0, 400.0, 4000.0)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert np.all(np.diff(values) < 0)
    # total concentration is 25× the free one: much stronger blockade
    assert f(100.0, "total") < f(100.0, "free") - 0.3


# ------------------------------------------------------------------ cohort switch


def test_factor_one_is_the_untreated_cohort_exactly(scenario, control) -> None:  # type: ignore[no-untyped-def]
    treated = simulate_cohort(scenario, therapy=CohortTherapy(1.0))
    pd.testing.assert_frame_equal(
        _outcomes(treated.patients), _outcomes(control.patients)
    )
    pd.testing.assert_frame_equal(treated.metastases, control.metastases)
    assert (treated.patients["treatment_start_day"] == 0.0).all()
    assert control.patients["treatment_start_day"].isna().all()


def test_dose_zero_inhibitor_is_control(scenario, control) -> None:  # type: ignore[no-untyped-def]
    f = inhibitor_activity_factor(InhibitorConfig(schedule={"dose_mg": 0.0}))
    treated = simulate_cohort(scenario, therapy=CohortTherapy(f.factor))
    pd.testing.assert_frame_equal(
        _outcomes(treated.patients), _outcomes(control.patients)
    )


def test_history_is_common_until_treatment_starts(scenario, control) -> None:  # type: ignore[no-untyped-def]
    th = CohortTherapy(0.0, start="distant_detection", duration_days=365.0)
    treated = simulate_cohort(scenario, therapy=th)
    p, c = treated.patients, control.patients
    started = p["treatment_start_day"].notna().to_numpy()
    met = c["time_to_distant_metastasis_days"].notna().to_numpy()
    np.testing.assert_array_equal(started, met)  # treated exactly when metastatic
    assert started.sum() > 100
    # never treated: the whole history is the untreated one
    pd.testing.assert_frame_equal(
        _outcomes(p[~started]), _outcomes(c[~started]), check_index_type=False
    )
    # treated: everything up to the start is shared
    for col in (
        "time_to_distant_metastasis_days",
        "metastatic_at_diagnosis",
        "node_positive",
        "diameter_mm_at_diagnosis",
        "sites_at_first_metastasis",
    ):
        pd.testing.assert_series_equal(p.loc[started, col], c.loc[started, col])
    lag = (
        p.loc[started, "treatment_start_day"]
        - c.loc[started, "time_to_distant_metastasis_days"]
    )
    assert lag.min() >= 0.0
    assert lag.max() <= scenario.time_step_days + 1e-9
    stop = p.loc[started, "treatment_stop_day"].dropna()
    on = stop - p.loc[stop.index, "treatment_start_day"]
    assert on.min() >= 365.0 - 1e-9
    assert on.max() <= 365.0 + scenario.time_step_days + 1e-9


def test_rebasing_keeps_colony_sizes_continuous(scenario, control) -> None:  # type: ignore[no-untyped-def]
    # growth gain 0: m_grow ≡ 1, so only shedding changes on treatment; colonies seeded
    # before the start must then end exactly as large as without treatment
    sc = scenario.model_copy(
        update={"ddr2": scenario.ddr2.model_copy(update={"growth_gain": 0.0})}
    )
    base = simulate_cohort(sc, 1000)
    th = CohortTherapy(0.2)
    plan = build_plan(sc)
    shed_f, growth_f = treatment_factors(sc, plan, th)
    assert np.all(growth_f == 1.0) and np.all(shed_f < 1.0)
    treated = simulate_cohort(sc, 1000, therapy=th)
    key = ["patient_id", "seeded_day", "organ"]
    before = base.metastases[base.metastases["seeded_day"] <= 0.0]
    t_before = treated.metastases[treated.metastases["seeded_day"] <= 0.0]
    a = before.sort_values(key).reset_index(drop=True)
    b = t_before.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) > 100
    alive = a["ended_day"].isna().to_numpy()
    same_end = (
        treated.patients.set_index("patient_id")
        .loc[a["patient_id"], "follow_up_days"]
        .to_numpy()
        == base.patients.set_index("patient_id")
        .loc[a["patient_id"], "follow_up_days"]
        .to_numpy()
    )
    sel = alive & same_end
    np.testing.assert_allclose(
        b.loc[sel, "cells_at_end"], a.loc[sel, "cells_at_end"], rtol=1e-9
    )
    # fewer new colonies after the start: the shedding of the survivors is lower
    assert len(treated.metastases) < len(base.metastases)


def test_abolishing_ddr2_from_diagnosis_cuts_new_colonies(scenario, control) -> None:  # type: ignore[no-untyped-def]
    treated = simulate_cohort(scenario, therapy=CohortTherapy(0.0))
    treated.ledger.check()
    n_t = treated.patients["n_colonies"].to_numpy()
    n_c = control.patients["n_colonies"].to_numpy()
    assert (n_t < n_c).sum() > 3 * (n_t > n_c).sum()
    # paired: colonies seeded after diagnosis fall by about r_intra(0)/r_intra(1) = 0.35
    after_c = (control.metastases["seeded_day"] > 0).sum()
    after_t = (treated.metastases["seeded_day"] > 0).sum()
    assert after_t < 0.6 * after_c
    # nothing changes before diagnosis
    pd.testing.assert_series_equal(
        treated.patients["metastatic_at_diagnosis"],
        control.patients["metastatic_at_diagnosis"],
    )


def test_bad_therapy_values_are_refused() -> None:
    with pytest.raises(ValueError, match="activity_factor"):
        CohortTherapy(1.5)
    with pytest.raises(ValueError, match="start"):
        CohortTherapy(0.5, start="surgery")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration_days"):
        CohortTherapy(0.5, duration_days=0.0)
    with pytest.raises(ValueError, match="delay_days"):
        CohortTherapy(0.5, delay_days=-1.0)
    assert math.isinf(CohortTherapy(0.5).duration_days)
