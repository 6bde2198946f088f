r"""Pharmacokinetics: one compartment with first-order absorption, any dosing schedule.

SCIENCE.md §8.3. An oral dose D enters a gut depot, is absorbed at rate k_a into a plasma
compartment of apparent volume V/F and eliminated at k_e = CL/V (time in h)::

    C(t) = F D k_a / (V (k_a − k_e)) · [e^{−k_e t} − e^{−k_a t}],
    t_max = ln(k_a/k_e)/(k_a − k_e),  AUC = F D / CL,  t½ = ln 2 / k_e.

At k_a = k_e the bracket over (k_a − k_e) becomes its limit t e^{−k t}. The model is
linear, so any schedule (start and stop day, missed doses) is the superposition of the
single-dose curves of the doses actually taken, a closed form [D]. Within a dosing
interval at steady state (t in [0, τ))::

    C_ss(t) = F D k_a / (V (k_a − k_e)) · [e^{−k_e t}/(1 − e^{−k_e τ}) − e^{−k_a t}/(1 − e^{−k_a τ})],
    C_ss,avg = F D / (CL τ).

Units: doses in mg, volumes in L, so F D / V is in mg/L = 10³ ng/mL; concentrations are
returned in ng/mL and converted to nM by C[nM] = C[ng/mL] / MW × 10³. The free
concentration at the tissue is f_u · C · penetration (penetration 0.3–1 [A]).

How it is computed. The response to a unit impulse of a chain of first-order
compartments with rates k_1, ..., k_m (absorption, elimination and, for the effect
compartment of :mod:`metastroma.therapy.pd`, k_e0) is the convolution
e^{−k_1 t} * ... * e^{−k_m t}, a sum of terms c t^p e^{−k t}. Partial fractions give the
coefficients; rates that coincide (within a relative 10⁻⁵, where the distinct-rate
formula would lose digits to cancellation) are merged and give the t^p terms of a
repeated root, so k_a = k_e is exact and nearly equal rates stay accurate (≈ 10⁻¹⁰
relative). Summing a term over all doses of a regimen gives the steady state in closed
form (geometric series); summing over the doses of a schedule is vectorised over a
(times × doses) array, chunked in time, and skips doses so old that their contribution is
below e^{−60} of their peak.

References
----------
SCIENCE.md §8.2 (Table 8.2, dasatinib), §8.3 (equations, Table 8.3 fits, Table 8.4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.therapy import DrugConfig, ScheduleConfig

__all__ = [
    "SingleDoseSummary",
    "SteadyStateSummary",
    "concentration_ng_per_ml",
    "dose_times_h",
    "free_concentration",
    "ng_per_ml_to_nmol_per_l",
    "single_dose_summary",
    "steady_state",
    "steady_state_summary",
]

#: Rates closer than this (relative) are merged into a repeated root.
_MERGE_RTOL = 1.0e-5
#: A dose contributes nothing once its slowest rate has decayed by e^{−_HORIZON_RATE_TIMES}.
_HORIZON_RATE_TIMES = 60.0
#: Entries of one (times × doses) block.
_BLOCK = 1 << 20


# --------------------------------------------------------------------------- exponential chains


class _ExpTerms(NamedTuple):
    """A sum Σ_j coef_j t^power_j e^{−rate_j t} (t ≥ 0; 0 before)."""

    coef: F64Array
    power: F64Array
    rate: F64Array


def _merge_rates(rates: Sequence[float]) -> list[tuple[float, int]]:
    """Group rates that coincide within ``_MERGE_RTOL``: ``[(mean rate, multiplicity)]``."""
    ks = sorted(float(k) for k in rates)
    groups: list[list[float]] = [[ks[0]]]
    for k in ks[1:]:
        if k - groups[-1][-1] <= _MERGE_RTOL * k:
            groups[-1].append(k)
        else:
            groups.append([k])
    return [(sum(g) / len(g), len(g)) for g in groups]


def _chain_terms(rates: Sequence[float]) -> _ExpTerms:
    """Impulse response e^{−k_1 t} * ... * e^{−k_m t} (convolution) as exponential terms.

    Parameters
    ----------
    rates : sequence of float, 1/h
        Positive rates k_i; a rate may repeat up to three times.

    Returns
    -------
    _ExpTerms
        Coefficients (units h^{m−1−p}), powers p and rates, by partial fractions of
        ∏_i 1/(s + r_i)^{m_i}: for the pole −r_j of multiplicity m_j and
        G_j(s) = ∏_{i≠j} (s + r_i)^{−m_i}, the term t^{m_j−1−l}/(m_j−1−l)! e^{−r_j t} has
        coefficient G_j^{(l)}(−r_j)/l!.
    """
    groups = _merge_rates(rates)
    if any(m > 3 for _, m in groups):
        raise ValueError("a rate may repeat at most three times in a chain")
    coef: list[float] = []
    power: list[float] = []
    rate: list[float] = []
    for j, (rj, mj) in enumerate(groups):
        others = [(ri, mi) for i, (ri, mi) in enumerate(groups) if i != j]
        g0 = math.prod((ri - rj) ** (-mi) for ri, mi in others)  # G_j(−r_j)
        d1 = -sum(mi / (ri - rj) for ri, mi in others)  # G'/G at −r_j
        d2 = sum(mi / (ri - rj) ** 2 for ri, mi in others)  # −(G'/G)' at −r_j
        derivs = [g0, g0 * d1, g0 * (d1 * d1 + d2)]  # G, G', G''
        for ell in range(mj):
            p = mj - 1 - ell
            coef.append(derivs[ell] / math.factorial(ell) / math.factorial(p))
            power.append(float(p))
            rate.append(rj)
    return _ExpTerms(np.array(coef), np.array(power), np.array(rate))


def _eval_terms(terms: _ExpTerms, t: F64Array) -> F64Array:
    """Σ_j coef_j t^p_j e^{−rate_j t} at each element of ``t`` (any shape); 0 where t < 0."""
    tp = np.maximum(t, 0.0)
    out = np.zeros(np.shape(t))
    for c, p, r in zip(terms.coef, terms.power, terms.rate, strict=True):
        out += c * tp**p * np.exp(-r * tp)
    return np.where(t >= 0.0, out, 0.0)


def _steady_terms(terms: _ExpTerms, t: F64Array, tau: float) -> F64Array:
    """Σ_{n≥0} of the terms at t + nτ (every earlier dose of a regimen), closed form.

    With q = e^{−rτ}: Σ q^n = 1/(1−q), Σ n q^n = q/(1−q)², Σ n² q^n = q(1+q)/(1−q)³.
    """
    tt = np.asarray(t, dtype=np.float64)
    out = np.zeros(tt.shape)
    for c, p, r in zip(terms.coef, terms.power, terms.rate, strict=True):
        q = math.exp(-r * tau)
        one_q = -math.expm1(-r * tau)
        s0, s1, s2 = 1.0 / one_q, q / one_q**2, q * (1.0 + q) / one_q**3
        if p == 0:
            poly = s0 + 0.0 * tt
        elif p == 1:
            poly = tt * s0 + tau * s1
        else:
            poly = tt * tt * s0 + 2.0 * tt * tau * s1 + tau * tau * s2
        out += c * poly * np.exp(-r * tt)
    return out


def _superpose(
    terms: _ExpTerms, t_h: F64Array, doses_h: F64Array, amplitude: float
) -> F64Array:
    """Σ_doses amplitude · terms(t − t_dose) at the times ``t_h`` (1-D), chunked in time."""
    t_h = np.asarray(t_h, dtype=np.float64)
    out = np.zeros(t_h.shape)
    if doses_h.size == 0 or amplitude == 0.0 or t_h.size == 0:
        return out
    doses = np.sort(doses_h)
    order = np.argsort(t_h, kind="stable")
    ts = t_h[order]
    window_h = _HORIZON_RATE_TIMES / float(np.min(terms.rate))
    res = np.zeros(ts.shape)
    n_chunk = max(1, _BLOCK // max(1, doses.size))
    for lo in range(0, ts.size, n_chunk):  # chunks of times, not single time points
        tc = ts[lo : lo + n_chunk]
        first = np.searchsorted(doses, tc[0] - window_h, side="left")
        last = np.searchsorted(doses, tc[-1], side="right")
        if last <= first:
            continue
        dt = tc[:, None] - doses[None, first:last]  # (n_times, n_doses)
        res[lo : lo + n_chunk] = _eval_terms(terms, dt).sum(axis=1)
    # the sum is ≥ 0; cancellation between terms can leave −1e-18 just after a dose
    out[order] = amplitude * np.maximum(res, 0.0)
    return out


# --------------------------------------------------------------------------- units


def ng_per_ml_to_nmol_per_l(
    c_ng_per_ml: F64Array | float, molecular_weight_g_per_mol: float
) -> F64Array:
    """Convert a mass concentration to molar: C[nM] = C[ng/mL] / MW × 10³.

    Parameters
    ----------
    c_ng_per_ml : array_like, ng/mL
    molecular_weight_g_per_mol : float, g/mol

    Returns
    -------
    ndarray, nM (nmol/L), the shape of ``c_ng_per_ml``.

    Examples
    --------
    >>> float(ng_per_ml_to_nmol_per_l(488.0, 488.0))
    1000.0
    """
    return (
        np.asarray(c_ng_per_ml, dtype=np.float64) / molecular_weight_g_per_mol * 1.0e3
    )


def free_concentration(
    c_ng_per_ml: F64Array | float, drug: DrugConfig, penetration: float = 1.0
) -> F64Array:
    """Free (unbound) concentration at the tissue, f_u · C · penetration.

    Parameters
    ----------
    c_ng_per_ml : array_like, ng/mL
        Total plasma concentration.
    drug : DrugConfig
        Gives f_u.
    penetration : float
        Tumour/stroma penetration factor, 0.3–1 [A] (``PdConfig.penetration``).

    Returns
    -------
    ndarray, ng/mL, the shape of ``c_ng_per_ml``.
    """
    return np.asarray(c_ng_per_ml, dtype=np.float64) * (
        drug.fraction_unbound * penetration
    )


# --------------------------------------------------------------------------- schedules


def dose_times_h(schedule: ScheduleConfig, horizon_h: float) -> F64Array:
    """Times of the doses taken at or before ``horizon_h``.

    Dose k is scheduled at 24·start_day + k·interval_h while before 24·stop_day (or
    without end if ``stop_day`` is None); doses listed in ``missed_doses`` are left out.

    Parameters
    ----------
    schedule : ScheduleConfig
    horizon_h : float, h
        Last time of interest, from hour 0 of day 0.

    Returns
    -------
    (n_doses,) float64, h
        Increasing dose times.

    Examples
    --------
    >>> s = ScheduleConfig(dose_mg=70, interval_h=12, start_day=1, missed_doses=[1])
    >>> dose_times_h(s, 60.0).tolist()
    [24.0, 48.0, 60.0]
    """
    start = 24.0 * schedule.start_day
    if horizon_h < start:
        return np.zeros(0)
    n = math.floor((horizon_h - start) / schedule.interval_h + 1e-9) + 1
    if schedule.n_scheduled is not None:
        n = min(n, schedule.n_scheduled)
    k = np.arange(n)
    if schedule.missed_doses:
        k = k[~np.isin(k, schedule.missed_doses)]
    return np.asarray(start + k * schedule.interval_h, dtype=np.float64)


def _amplitude_ng_per_ml(drug: DrugConfig, dose_mg: float) -> float:
    """F D k_a / V in ng/mL per h (the factor of the convolution e^{−k_a t} * e^{−k_e t})."""
    return 1.0e3 * drug.bioavailability * dose_mg * drug.ka_per_h / drug.volume_l


def concentration_ng_per_ml(
    t_h: F64Array, drug: DrugConfig, schedule: ScheduleConfig
) -> F64Array:
    """Total plasma concentration under a schedule: superposed single-dose curves.

    Parameters
    ----------
    t_h : (n,) float64, h
        Times from hour 0 of day 0 (any order; before the first dose C = 0).
    drug : DrugConfig
    schedule : ScheduleConfig

    Returns
    -------
    (n,) float64, ng/mL
        C(t) = Σ_doses F D k_a/(V (k_a − k_e)) [e^{−k_e (t − t_d)} − e^{−k_a (t − t_d)}]
        over the doses taken at t_d ≤ t (SCIENCE.md §8.3); exactly 0 for a 0 mg dose.
    """
    t_h = np.asarray(t_h, dtype=np.float64)
    if t_h.ndim != 1:
        raise ValueError(f"t_h: must be 1-D, got shape {t_h.shape}")
    horizon = float(t_h.max()) if t_h.size else 0.0
    doses = dose_times_h(schedule, horizon)
    terms = _chain_terms([drug.ka_per_h, drug.ke_per_h])
    return _superpose(terms, t_h, doses, _amplitude_ng_per_ml(drug, schedule.dose_mg))


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class SingleDoseSummary:
    """Exposure after one dose (SCIENCE.md §8.3; compare Table 8.3)."""

    cmax_ng_per_ml: float
    tmax_h: float
    auc_ng_h_per_ml: float
    half_life_h: float
    """Elimination half-life ln 2 / k_e (the terminal one unless k_a < k_e, flip-flop)."""
    clearance_l_per_h: float


@dataclass(frozen=True)
class SteadyStateSummary:
    """Exposure over one dosing interval at steady state (SCIENCE.md §8.3; Table 8.4).

    ``free_*`` values are f_u · C · penetration; ``*_nmol_per_l`` the same in nM.
    """

    dose_mg: float
    interval_h: float
    tmax_h: float
    cmax_ng_per_ml: float
    cmin_ng_per_ml: float
    cavg_ng_per_ml: float
    free_cmax_ng_per_ml: float
    free_cmin_ng_per_ml: float
    free_cavg_ng_per_ml: float
    free_cmax_nmol_per_l: float
    free_cmin_nmol_per_l: float
    free_cavg_nmol_per_l: float
    penetration: float


def _peak_time_h(ka: float, ke: float, tau: float | None) -> float:
    """Time of the maximum of the single-dose (tau None) or steady-state curve."""
    (r1, _), *rest = _merge_rates([ka, ke])
    if not rest:  # k_a = k_e = k
        if tau is None:
            return 1.0 / r1
        q = math.exp(-r1 * tau)
        return max(0.0, 1.0 / r1 - tau * q / -math.expm1(-r1 * tau))
    ratio = ka / ke
    if tau is not None:
        ratio *= math.expm1(-ke * tau) / math.expm1(-ka * tau)
    return max(0.0, math.log(ratio) / (ka - ke))


def single_dose_summary(drug: DrugConfig, dose_mg: float) -> SingleDoseSummary:
    """Cmax, tmax, AUC = F D / CL and t½ of one dose.

    Parameters
    ----------
    drug : DrugConfig
    dose_mg : float, mg

    Returns
    -------
    SingleDoseSummary
        Cmax in ng/mL, tmax in h (ln(k_a/k_e)/(k_a − k_e), 1/k at k_a = k_e), AUC in
        ng·h/mL, t½ in h, CL/F in L/h.
    """
    tmax = _peak_time_h(drug.ka_per_h, drug.ke_per_h, None)
    terms = _chain_terms([drug.ka_per_h, drug.ke_per_h])
    cmax = _amplitude_ng_per_ml(drug, dose_mg) * float(
        _eval_terms(terms, np.array([tmax]))[0]
    )
    cl = drug.clearance_l_per_h
    return SingleDoseSummary(
        cmax_ng_per_ml=cmax,
        tmax_h=tmax,
        auc_ng_h_per_ml=1.0e3 * drug.bioavailability * dose_mg / cl,
        half_life_h=drug.half_life_h,
        clearance_l_per_h=cl,
    )


def steady_state(
    drug: DrugConfig, dose_mg: float, interval_h: float, t_in_interval_h: F64Array
) -> F64Array:
    """Steady-state total plasma concentration within a dosing interval (closed form).

    Parameters
    ----------
    drug : DrugConfig
    dose_mg : float, mg
    interval_h : float, h
        Dosing interval τ > 0.
    t_in_interval_h : array_like, h
        Times since the last dose, in [0, τ] (τ gives the trough, as 0 does).

    Returns
    -------
    ndarray, ng/mL, the shape of ``t_in_interval_h``
        C_ss(t) of SCIENCE.md §8.3, the limit of the superposition of infinitely many
        doses.
    """
    if interval_h <= 0:
        raise ValueError(f"interval_h = {interval_h}: must be > 0 (h)")
    t = np.asarray(t_in_interval_h, dtype=np.float64)
    if t.size and (t.min() < 0.0 or t.max() > interval_h * (1 + 1e-12)):
        raise ValueError(f"t_in_interval_h: must lie in [0, {interval_h:g}] (h)")
    t = np.where(t >= interval_h, 0.0, t)  # C_ss(τ) = C_ss(0)
    terms = _chain_terms([drug.ka_per_h, drug.ke_per_h])
    return _amplitude_ng_per_ml(drug, dose_mg) * _steady_terms(terms, t, interval_h)


def steady_state_summary(
    drug: DrugConfig, dose_mg: float, interval_h: float, penetration: float = 1.0
) -> SteadyStateSummary:
    """Cmax, Cmin, Cavg (total and free, ng/mL and nM) and tmax at steady state.

    Parameters
    ----------
    drug : DrugConfig
    dose_mg : float, mg
    interval_h : float, h
    penetration : float
        Tumour penetration factor in the free values, 0.3–1 [A].

    Returns
    -------
    SteadyStateSummary
        Cmax at t_max = ln[k_a (1 − e^{−k_e τ}) / (k_e (1 − e^{−k_a τ}))]/(k_a − k_e),
        Cmin = C_ss(0) (the trough before a dose), Cavg = F D / (CL τ).
    """
    tmax = _peak_time_h(drug.ka_per_h, drug.ke_per_h, interval_h)
    cmax, cmin = steady_state(drug, dose_mg, interval_h, np.array([tmax, 0.0]))
    cavg = (
        1.0e3 * drug.bioavailability * dose_mg / (drug.clearance_l_per_h * interval_h)
    )
    free = free_concentration(np.array([cmax, cmin, cavg]), drug, penetration)
    free_nm = ng_per_ml_to_nmol_per_l(free, drug.molecular_weight_g_per_mol)
    return SteadyStateSummary(
        dose_mg=dose_mg,
        interval_h=interval_h,
        tmax_h=tmax,
        cmax_ng_per_ml=float(cmax),
        cmin_ng_per_ml=float(cmin),
        cavg_ng_per_ml=cavg,
        free_cmax_ng_per_ml=float(free[0]),
        free_cmin_ng_per_ml=float(free[1]),
        free_cavg_ng_per_ml=float(free[2]),
        free_cmax_nmol_per_l=float(free_nm[0]),
        free_cmin_nmol_per_l=float(free_nm[1]),
        free_cavg_nmol_per_l=float(free_nm[2]),
        penetration=penetration,
    )
