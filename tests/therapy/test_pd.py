"""Pharmacodynamics (SCIENCE.md §8.4) and the θ_I phases handed to the tissue (§4.8).

Levels (STYLE.md §7): Emax/Hill properties with hypothesis (monotone, bounded, I(IC50) =
I_max/2, Hill slope); an untreated control is exactly 0; free vs total basis; the effect
compartment's closed form against solve_ivp (distinct, coincident and nearly coincident
rates) and its direct-model limit; steady-state means against quadrature; the tissue
phases validate in a scenario and keep the time average of θ_I(t).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml
from _ode_reference import integrate_doses
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy.integrate import quad
from scipy.optimize import brentq

from metastroma.config import scenario_from_dict
from metastroma.config.therapy import (
    DRUGS,
    DrugConfig,
    InhibitorConfig,
    PdConfig,
    ScheduleConfig,
)
from metastroma.therapy import apply_inhibitor_to_tissue
from metastroma.therapy.pd import (
    effect_site_concentration_ng_per_ml,
    exposure,
    exposure_basis,
    fraction_time_above_ic50,
    inhibition,
    mean_inhibition_steady_state,
    occupancy,
    steady_state_exposure,
    tissue_inhibitor_phases,
)
from metastroma.therapy.pk import concentration_ng_per_ml, dose_times_h

REPO = Path(__file__).resolve().parents[2]
SET_A = DRUGS["dasatinib_a"]
BID = ScheduleConfig(dose_mg=70.0, interval_h=12.0)


def ode_effect_site(
    t_eval: np.ndarray, drug: DrugConfig, schedule: ScheduleConfig, ke0: float
) -> np.ndarray:
    """Effect-site concentration (ng/mL) by the numerical reference."""
    doses = dose_times_h(schedule, float(t_eval.max()))
    return integrate_doses(t_eval, drug, doses, schedule.dose_mg, ke0)


# --------------------------------------------------------------------------- Emax / Hill


@given(
    c1=st.floats(0.0, 1e6),
    c2=st.floats(0.0, 1e6),
    hill=st.floats(0.5, 3.0),
    imax=st.floats(0.0, 1.0),
    ic50=st.floats(0.01, 1000.0),
)
def test_inhibition_monotone_and_bounded(
    c1: float, c2: float, hill: float, imax: float, ic50: float
) -> None:
    pd = PdConfig(hill=hill, imax=imax)
    lo, hi = sorted((c1, c2))
    i_lo, i_hi = inhibition(np.array([lo, hi]), pd, ic50)
    assert 0.0 <= i_lo <= i_hi <= imax
    assert float(inhibition(ic50, pd, ic50)) == imax / 2
    assert float(inhibition(0.0, pd, ic50)) == 0.0


@pytest.mark.parametrize("hill", [0.5, 1.0, 2.0, 3.0])
def test_hill_coefficient_is_the_log_slope(hill: float) -> None:
    pd = PdConfig(hill=hill, imax=0.8)
    c = np.array([0.25, 1.0, 4.0]) * 7.0
    i = inhibition(c, pd, 7.0)
    np.testing.assert_allclose(
        i,
        0.8
        * 4.0 ** (hill * np.array([-1, 0, 1]))
        / (1 + 4.0 ** (hill * np.array([-1, 0, 1]))),
    )
    odds = i / (0.8 - i)  # = (C/IC50)^n
    np.testing.assert_allclose(np.diff(np.log(odds)) / np.log(4.0), hill, rtol=1e-12)
    assert float(inhibition(np.inf, pd, 7.0)) == 0.8


def test_inhibition_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        inhibition(np.array([1.0, -1e-9]), PdConfig(), 1.0)
    with pytest.raises(ValueError, match="must be > 0"):
        inhibition(1.0, PdConfig(), 0.0)


def test_pd_config_validation() -> None:
    with pytest.raises(ValidationError, match=r"ke0_per_h = 0.5: must be in 1–10"):
        PdConfig(ke0_per_h=0.5)
    with pytest.raises(ValidationError, match="must be a number"):
        PdConfig.model_validate({"ke0_per_h": True})
    with pytest.raises(ValidationError, match=r"greater than or equal to 0\.3"):
        PdConfig(penetration=0.1)
    with pytest.raises(ValidationError, match="less than or equal to 3"):
        PdConfig(hill=4.0)


# --------------------------------------------------------------------------- control, basis


@pytest.mark.parametrize("ke0", [None, 3.0])
def test_zero_dose_gives_exactly_zero_occupancy(ke0: float | None) -> None:
    inh = InhibitorConfig(
        schedule=ScheduleConfig(dose_mg=0.0, interval_h=12.0),
        pd=PdConfig(ke0_per_h=ke0, hill=0.5),
    )
    t = np.linspace(0.0, 200.0, 2001)
    assert np.all(occupancy(t, inh) == 0.0)
    assert tissue_inhibitor_phases(inh, 2880.0) == [
        {"start_min": 0.0, "occupancy": 0.0}
    ]


def test_free_and_total_basis_differ_by_fu() -> None:
    t = np.linspace(0.0, 72.0, 721)
    free = InhibitorConfig(
        schedule=BID, pd=PdConfig(ic50_basis="free", penetration=0.6)
    )
    total = InhibitorConfig(
        schedule=BID, pd=PdConfig(ic50_basis="total", penetration=0.6)
    )
    ef, et = exposure(t, free), exposure(t, total)
    assert (ef.basis, et.basis, ef.site) == ("free", "total", "plasma")
    assert ef.scale == pytest.approx(0.04 * 0.6) and et.scale == pytest.approx(0.6)
    on = et.c_nmol_per_l > 0
    assert on.sum() > 600
    np.testing.assert_allclose(
        ef.c_nmol_per_l[on] / et.c_nmol_per_l[on], 0.04, rtol=1e-14
    )
    # total basis at IC50 = the free basis with an IC50 f_u times smaller
    scaled = free.model_copy(
        update={"drug": SET_A.model_copy(update={"ic50_nmol_per_l": 1.4 * 0.04})}
    )
    np.testing.assert_allclose(occupancy(t, total), occupancy(t, scaled), rtol=1e-13)
    assert occupancy(t, total).mean() > occupancy(t, free).mean() + 0.3
    # the exposure is the PK concentration in nM, times the basis factor
    c = concentration_ng_per_ml(t, SET_A, BID)
    np.testing.assert_allclose(
        ef.c_nmol_per_l, c * 0.04 * 0.6 / 488.0 * 1e3, rtol=1e-14
    )
    np.testing.assert_allclose(
        exposure_basis(c, SET_A, total.pd).c_nmol_per_l, et.c_nmol_per_l, rtol=1e-14
    )


# --------------------------------------------------------------------------- effect compartment


@pytest.mark.parametrize(
    ("ka", "ke", "ke0"),
    [
        (4.35, 0.193, 2.0),  # distinct
        (4.35, 0.193, 4.35),  # k_e0 = k_a
        (4.35, 0.193, 4.35 * (1 + 3e-7)),  # nearly, merged
        (4.35, 0.193, 4.35 * (1 + 3e-5)),  # nearly, not merged
        (2.0, 2.0, 5.0),  # k_a = k_e
        (2.0, 2.0, 2.0),  # all three
        (1.0, 0.5, 1.0 + 1e-12),  # all but merged pairwise
    ],
)
def test_effect_compartment_closed_form_equals_ode(
    ka: float, ke: float, ke0: float
) -> None:
    drug = DrugConfig(ka_per_h=ka, ke_per_h=ke, volume_l=800.0)
    sched = ScheduleConfig(
        dose_mg=70.0, interval_h=12.0, start_day=0.25, stop_day=3, missed_doses=[2]
    )
    t = np.linspace(0.0, 96.0, 961)
    closed = effect_site_concentration_ng_per_ml(t, drug, sched, ke0)
    ode = ode_effect_site(t, drug, sched, ke0)
    assert ode.max() > 10.0
    np.testing.assert_allclose(closed, ode, rtol=1e-7, atol=1e-9 * ode.max())


def test_large_ke0_approaches_direct_model() -> None:
    t = np.linspace(0.0, 48.0, 2881)
    c = concentration_ng_per_ml(t, SET_A, BID)
    gaps = [
        np.abs(effect_site_concentration_ng_per_ml(t, SET_A, BID, k) - c).max()
        / c.max()
        for k in (1.0, 10.0, 100.0, 1e3, 1e4)
    ]
    assert gaps[0] > 0.5  # a slow effect site lags visibly
    assert all(a > 2.5 * b for a, b in itertools.pairwise(gaps))
    assert gaps[-2] / gaps[-1] > 9.0  # the lag is O(1/k_e0)
    assert gaps[-1] < 1e-3


def test_effect_site_delays_and_damps_occupancy() -> None:
    t = np.linspace(0.0, 24.0, 2401)
    direct = occupancy(t, InhibitorConfig(schedule=BID))
    delayed = occupancy(t, InhibitorConfig(schedule=BID, pd=PdConfig(ke0_per_h=1.0)))
    assert (
        exposure(t, InhibitorConfig(schedule=BID, pd=PdConfig(ke0_per_h=1.0))).site
        == "effect"
    )
    assert t[np.argmax(delayed[t < 12])] > t[np.argmax(direct[t < 12])] + 0.5
    assert delayed.max() < direct.max()


@pytest.mark.parametrize("ke0", [None, 1.0, 4.35])
def test_steady_state_exposure_is_limit_of_many_doses(ke0: float | None) -> None:
    pd = PdConfig(ke0_per_h=ke0, penetration=0.8)
    u = np.linspace(0.0, 12.0, 121)[:-1]
    inh = InhibitorConfig(schedule=BID, pd=pd)
    many = exposure(40 * 12.0 + u, inh).c_nmol_per_l
    ss = steady_state_exposure(SET_A, pd, 70.0, 12.0, u)
    np.testing.assert_allclose(ss.c_nmol_per_l, many, rtol=1e-10)


# --------------------------------------------------------------------------- steady-state PD


@pytest.mark.parametrize(
    "pd",
    [
        PdConfig(),
        PdConfig(hill=2.0, imax=0.9, ke0_per_h=2.0),
        PdConfig(ic50_basis="total"),
    ],
)
def test_mean_inhibition_and_time_above_ic50_against_quadrature(pd: PdConfig) -> None:
    drug, dose, tau = SET_A, 100.0, 24.0

    def expo(u: float) -> float:
        return float(
            steady_state_exposure(drug, pd, dose, tau, np.array([u])).c_nmol_per_l[0]
        )

    def inh(u: float) -> float:
        return float(inhibition(expo(u), pd, drug.ic50_nmol_per_l))

    mean, _ = quad(inh, 0.0, tau, points=[0.5, 1.0, 2.0], limit=200, epsrel=1e-11)
    assert mean_inhibition_steady_state(drug, pd, dose, tau) == pytest.approx(
        mean / tau, abs=1e-6
    )
    # exact share of time above the IC50 from the crossing times (rises once, falls once)
    g = lambda u: expo(u) - drug.ic50_nmol_per_l  # noqa: E731
    u = np.linspace(0.0, tau, 2401)
    vals = np.array([g(x) for x in u])
    if np.all(vals > 0):
        share = 1.0
    else:
        k = np.flatnonzero(np.diff(np.sign(vals)) != 0)
        assert k.size == 2
        up = brentq(g, u[k[0]], u[k[0] + 1], xtol=1e-13)
        down = brentq(g, u[k[1]], u[k[1] + 1], xtol=1e-13)
        share = (down - up) / tau
    assert fraction_time_above_ic50(drug, pd, dose, tau) == pytest.approx(
        share, abs=3e-5
    )


# --------------------------------------------------------------------------- tissue phases


def _time_average(
    inh: InhibitorConfig, t_end_min: float, offset_h: float = 0.0
) -> float:
    t_h = np.linspace(0.0, t_end_min / 60.0, 400_001)
    return float(np.trapezoid(occupancy(t_h + offset_h, inh), t_h) / t_h[-1])


@pytest.mark.parametrize(
    ("inh", "t_end_min", "step_min", "offset_h"),
    [
        (InhibitorConfig(schedule=BID), 2880.0, 60.0, 0.0),
        (
            InhibitorConfig(
                drug="dasatinib_b",
                schedule=ScheduleConfig(start_day=0.3, missed_doses=[1]),
            ),
            4000.0,
            90.0,
            0.0,
        ),
        (
            InhibitorConfig(
                schedule=ScheduleConfig(interval_h=7.3),
                pd=PdConfig(ke0_per_h=3.0, hill=2.0),
            ),
            1500.0,
            25.0,
            100.0,
        ),
        (
            InhibitorConfig(
                schedule=ScheduleConfig(dose_mg=20.0, start_day=0.25, stop_day=1.5),
                pd=PdConfig(hill=0.5, imax=0.9),
            ),
            2880.0,
            60.0,
            0.0,
        ),
        (
            InhibitorConfig(
                drug="generic_ddr2",
                schedule=ScheduleConfig(dose_mg=800.0, interval_h=12.0),
            ),
            2880.0,
            60.0,
            0.0,
        ),
    ],
)
def test_phases_validate_and_keep_the_time_average(
    inh: InhibitorConfig, t_end_min: float, step_min: float, offset_h: float
) -> None:
    phases = tissue_inhibitor_phases(inh, t_end_min, step_min, pk_offset_h=offset_h)
    starts = np.array([p["start_min"] for p in phases])
    values = np.array([p["occupancy"] for p in phases])
    assert starts[0] == 0.0 and np.all(np.diff(starts) > 0)
    assert len(phases) > 10 and values.max() > 0.1  # a real schedule, not a constant
    lengths = np.diff(np.append(starts, t_end_min))
    run_mean = float(lengths @ values / t_end_min)
    assert run_mean == pytest.approx(_time_average(inh, t_end_min, offset_h), abs=2e-7)
    # each phase is the exact mean of θ over its step (spot checks by adaptive quadrature)
    pts = [float(x) for x in dose_times_h(inh.schedule, offset_h + t_end_min / 60.0)]
    for i in (1, len(phases) // 2, len(phases) - 1):
        a, b = starts[i] / 60.0 + offset_h, (starts[i] + lengths[i]) / 60.0 + offset_h
        inside = [p for p in pts if a < p < b]
        val, _ = quad(
            lambda x: float(occupancy(np.array([x]), inh)[0]),
            a,
            b,
            points=inside or None,
            epsabs=1e-13,
            epsrel=1e-12,
            limit=200,
        )
        if lengths[i] == pytest.approx(step_min) or i == len(phases) - 1:
            assert values[i] == pytest.approx(val / (b - a), abs=1e-10)
    # the tissue scenario accepts them, and reads the same θ back
    wt = yaml.safe_load((REPO / "scenarios" / "ddr2_wt_msc_2d.yaml").read_text())
    wt["time"]["duration_min"] = t_end_min
    sc = scenario_from_dict(
        apply_inhibitor_to_tissue(wt, inh, step_min=step_min, pk_offset_h=offset_h)
    )
    assert [p.model_dump() for p in sc.ddr2.inhibitor] == phases
    assert sc.ddr2.occupancy_at(starts[3] + 0.5 * lengths[3]) == values[3]


def test_phase_last_step_is_short_and_offset_shifts_time() -> None:
    inh = InhibitorConfig(schedule=BID)
    phases = tissue_inhibitor_phases(inh, 150.0, 60.0)
    assert [p["start_min"] for p in phases] == [0.0, 60.0, 120.0]
    val, _ = quad(
        lambda x: float(occupancy(np.array([x]), inh)[0]), 2.0, 2.5, epsrel=1e-12
    )
    assert phases[2]["occupancy"] == pytest.approx(val / 0.5, abs=1e-10)
    # a run starting on day 5 of BID dosing = the same schedule read 120 h later
    shifted = tissue_inhibitor_phases(inh, 600.0, 60.0, pk_offset_h=120.0)
    direct = tissue_inhibitor_phases(inh, 120 * 60.0 + 600.0, 60.0)[120:]
    np.testing.assert_allclose(
        [p["occupancy"] for p in shifted], [p["occupancy"] for p in direct], rtol=1e-12
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t_end_min": 0.0}, "t_end_min = 0.0"),
        ({"t_end_min": 10.0, "step_min": -1.0}, "step_min"),
        ({"t_end_min": 10.0, "pk_offset_h": -1.0}, "pk_offset_h"),
    ],
)
def test_phase_arguments_checked(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tissue_inhibitor_phases(InhibitorConfig(), **kwargs)


def test_inhibitor_time_course_figure(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    from metastroma.config.therapy import InhibitorConfig
    from metastroma.viz.therapy import plot_inhibitor_time_course

    qd = InhibitorConfig.model_validate(
        {"drug": "dasatinib_a", "schedule": {"dose_mg": 100, "interval_h": 24}}
    )
    path = plot_inhibitor_time_course({"100 mg QD": qd}, tmp_path / "pk.png", days=2)
    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert img[..., :3].std() > 0.05  # something is drawn
    with pytest.raises(ValueError):
        plot_inhibitor_time_course({}, tmp_path / "none.png")
