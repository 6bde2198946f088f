r"""Pharmacodynamics: DDR2 inhibition by a drug concentration, and θ_I for the tissue.

SCIENCE.md §8.4. The fraction of DDR2 receptors blocked is an Emax/Hill function of the
exposure C::

    I(C) = I_max · C^n / (IC50^n + C^n),   default n = 1, I_max = 1 [A],

0 at C = 0, increasing, I_max / 2 at C = IC50, bounded by I_max. The exposure is the
plasma concentration of :mod:`metastroma.therapy.pk` on the basis the IC50 is compared
with (``PdConfig.ic50_basis``): free, f_u · C (default), or total, C; both times the
tumour penetration factor (0.3–1 [A]), and in nM. The basis used is returned with every
exposure (:class:`Exposure`) so that outputs can state it (§8.4).

Optional effect compartment (k_e0 = 1–10 /h [A]): dC_e/dt = k_e0 (C − C_e), C_e(0) = 0,
and I is evaluated at C_e. The compartment is linear, so each single-dose curve
F D k_a / V · (e^{−k_a t} * e^{−k_e t}) becomes k_e0 F D k_a / V ·
(e^{−k_a t} * e^{−k_e t} * e^{−k_e0 t}), a sum of three exponentials (repeated roots where
k_e0 meets k_a or k_e), superposed over the doses: a closed form as well.

At the tissue scale I is the receptor occupancy θ_I of the activation ODE (§4.8): the
tissue scenario takes θ_I as piecewise-constant phases (``ddr2.inhibitor``), and
:func:`tissue_inhibitor_phases` gives each phase the exact mean of θ_I(t) over its step
(Gauss–Legendre quadrature on pieces split at every dose, where θ has a kink), so a
tissue run follows a real dosing schedule. Keep the step short against τ_off = 12 h
(SCIENCE.md §4.8: the tissue's activity integrates θ_I(t) over a dosing interval).

References
----------
SCIENCE.md §4.8 (θ_I), §8.3 (PK), §8.4 (PD, Table 8.5), Table 8.4 (steady-state
inhibition of dasatinib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.therapy import (
    DrugConfig,
    InhibitorConfig,
    PdConfig,
    ScheduleConfig,
)
from metastroma.therapy.pk import (
    _amplitude_ng_per_ml,
    _chain_terms,
    _steady_terms,
    _superpose,
    concentration_ng_per_ml,
    dose_times_h,
    ng_per_ml_to_nmol_per_l,
)

#: Piece ends after each dose, as fractions of the longest piece: 2^-1 ... 2^-40.
_GRADING = 2.0 ** -np.arange(1, 41)
_GRADING.setflags(write=False)

__all__ = [
    "Exposure",
    "effect_site_concentration_ng_per_ml",
    "exposure",
    "exposure_basis",
    "fraction_time_above_ic50",
    "inhibition",
    "mean_inhibition_steady_state",
    "occupancy",
    "steady_state_exposure",
    "tissue_inhibitor_phases",
]


@dataclass(frozen=True)
class Exposure:
    """The concentration compared with the IC50, and on what basis.

    Attributes
    ----------
    c_nmol_per_l : ndarray, nM
        Exposure: ``scale`` × the total concentration, converted to nM.
    basis : {'free', 'total'}
        The IC50 basis used (``PdConfig.ic50_basis``).
    site : {'plasma', 'effect'}
        Plasma concentration, or that of the effect compartment (``PdConfig.ke0_per_h``).
    scale : float
        f_u · penetration (free) or penetration (total).
    """

    c_nmol_per_l: F64Array
    basis: Literal["free", "total"]
    site: Literal["plasma", "effect"]
    scale: float


def _scale(drug: DrugConfig, pd: PdConfig) -> float:
    """Factor from total plasma concentration to exposure on the chosen basis."""
    f_u = drug.fraction_unbound if pd.ic50_basis == "free" else 1.0
    return f_u * pd.penetration


def exposure_basis(
    c_ng_per_ml: F64Array | float, drug: DrugConfig, pd: PdConfig
) -> Exposure:
    """Turn a total concentration into the exposure compared with the IC50.

    Parameters
    ----------
    c_ng_per_ml : array_like, ng/mL
        Total concentration (plasma, or effect site).
    drug : DrugConfig
        Gives f_u and MW.
    pd : PdConfig
        Gives the basis ('free': f_u · C; 'total': C) and the penetration factor.

    Returns
    -------
    Exposure
        In nM, with ``site='plasma'`` (use :func:`exposure` for time courses).
    """
    s = _scale(drug, pd)
    c = ng_per_ml_to_nmol_per_l(
        np.asarray(c_ng_per_ml, dtype=np.float64) * s, drug.molecular_weight_g_per_mol
    )
    return Exposure(c, pd.ic50_basis, "plasma", s)


def inhibition(
    c_nmol_per_l: F64Array | float, pd: PdConfig, ic50_nmol_per_l: float
) -> F64Array:
    """Emax/Hill inhibition I = I_max C^n / (IC50^n + C^n).

    Parameters
    ----------
    c_nmol_per_l : array_like, nM
        Exposure, ≥ 0 (on the basis the IC50 refers to).
    pd : PdConfig
        I_max and n.
    ic50_nmol_per_l : float, nM
        > 0.

    Returns
    -------
    ndarray, dimensionless in [0, I_max], the shape of ``c_nmol_per_l``
        Exactly 0 at C = 0 and I_max / 2 at C = IC50; I_max at C = inf.

    Raises
    ------
    ValueError
        If a concentration is negative or NaN, or the IC50 is not positive.

    Examples
    --------
    >>> float(inhibition(1.4, PdConfig(), 1.4))
    0.5
    """
    c = np.asarray(c_nmol_per_l, dtype=np.float64)
    if not ic50_nmol_per_l > 0:
        raise ValueError(f"ic50_nmol_per_l = {ic50_nmol_per_l}: must be > 0 (nM)")
    if np.any(~(c >= 0.0)):
        raise ValueError("c_nmol_per_l: concentrations must be >= 0 and not NaN (nM)")
    with np.errstate(divide="ignore", over="ignore"):
        ratio = (ic50_nmol_per_l / c) ** pd.hill  # inf at C = 0 → I = 0 exactly
    return np.asarray(pd.imax / (1.0 + ratio), dtype=np.float64)


def effect_site_concentration_ng_per_ml(
    t_h: F64Array, drug: DrugConfig, schedule: ScheduleConfig, ke0_per_h: float
) -> F64Array:
    """Effect-compartment concentration C_e, dC_e/dt = k_e0 (C − C_e), C_e(0) = 0.

    Parameters
    ----------
    t_h : (n,) float64, h
        Times from hour 0 of day 0.
    drug : DrugConfig
    schedule : ScheduleConfig
    ke0_per_h : float, 1/h
        > 0.

    Returns
    -------
    (n,) float64, ng/mL
        C_e on the total basis (the basis factor is linear and applied afterwards):
        Σ_doses k_e0 F D k_a / V · (e^{−k_a t} * e^{−k_e t} * e^{−k_e0 t})(t − t_d).
    """
    if not ke0_per_h > 0:
        raise ValueError(f"ke0_per_h = {ke0_per_h}: must be > 0 (1/h)")
    t_h = np.asarray(t_h, dtype=np.float64)
    if t_h.ndim != 1:
        raise ValueError(f"t_h: must be 1-D, got shape {t_h.shape}")
    horizon = float(t_h.max()) if t_h.size else 0.0
    terms = _chain_terms([drug.ka_per_h, drug.ke_per_h, ke0_per_h])
    amp = ke0_per_h * _amplitude_ng_per_ml(drug, schedule.dose_mg)
    return _superpose(terms, t_h, dose_times_h(schedule, horizon), amp)


def exposure(t_h: F64Array, inhibitor: InhibitorConfig) -> Exposure:
    """Exposure at times ``t_h`` under the inhibitor's schedule (plasma or effect site).

    Parameters
    ----------
    t_h : (n,) float64, h
        Times from hour 0 of day 0.
    inhibitor : InhibitorConfig

    Returns
    -------
    Exposure
        (n,) nM on the inhibitor's basis, with penetration.
    """
    drug, pd = inhibitor.drug_config, inhibitor.pd
    if pd.ke0_per_h is None:
        c = concentration_ng_per_ml(t_h, drug, inhibitor.schedule)
        site: Literal["plasma", "effect"] = "plasma"
    else:
        c = effect_site_concentration_ng_per_ml(
            t_h, drug, inhibitor.schedule, pd.ke0_per_h
        )
        site = "effect"
    e = exposure_basis(c, drug, pd)
    return Exposure(e.c_nmol_per_l, e.basis, site, e.scale)


def occupancy(t_h: F64Array, inhibitor: InhibitorConfig) -> F64Array:
    """Receptor occupancy θ_I(t) = I(exposure(t)) (SCIENCE.md §4.8, §8.4).

    Parameters
    ----------
    t_h : (n,) float64, h
        Times from hour 0 of day 0.
    inhibitor : InhibitorConfig

    Returns
    -------
    (n,) float64, dimensionless in [0, I_max]
        Exactly 0 everywhere for a 0 mg dose, and before the first dose.
    """
    e = exposure(t_h, inhibitor)
    return inhibition(
        e.c_nmol_per_l, inhibitor.pd, inhibitor.drug_config.ic50_nmol_per_l
    )


# --------------------------------------------------------------------------- steady state


def steady_state_exposure(
    drug: DrugConfig,
    pd: PdConfig,
    dose_mg: float,
    interval_h: float,
    t_in_interval_h: F64Array,
) -> Exposure:
    """Steady-state exposure within a dosing interval (plasma or effect site), closed form.

    Parameters
    ----------
    drug : DrugConfig
    pd : PdConfig
    dose_mg : float, mg
    interval_h : float, h
        τ > 0.
    t_in_interval_h : array_like, h
        Times since the last dose, in [0, τ].

    Returns
    -------
    Exposure
        nM on ``pd``'s basis; the effect site when ``pd.ke0_per_h`` is set.
    """
    if interval_h <= 0:
        raise ValueError(f"interval_h = {interval_h}: must be > 0 (h)")
    t = np.asarray(t_in_interval_h, dtype=np.float64)
    if t.size and (t.min() < 0.0 or t.max() > interval_h * (1 + 1e-12)):
        raise ValueError(f"t_in_interval_h: must lie in [0, {interval_h:g}] (h)")
    t = np.where(t >= interval_h, 0.0, t)
    rates = [drug.ka_per_h, drug.ke_per_h]
    amp = _amplitude_ng_per_ml(drug, dose_mg)
    site: Literal["plasma", "effect"] = "plasma"
    if pd.ke0_per_h is not None:
        rates.append(pd.ke0_per_h)
        amp *= pd.ke0_per_h
        site = "effect"
    c = amp * _steady_terms(_chain_terms(rates), t, interval_h)
    e = exposure_basis(c, drug, pd)
    return Exposure(e.c_nmol_per_l, e.basis, site, e.scale)


def mean_inhibition_steady_state(
    drug: DrugConfig,
    pd: PdConfig,
    dose_mg: float,
    interval_h: float,
    n_grid: int = 20001,
) -> float:
    """Time-averaged inhibition over one dosing interval at steady state.

    Parameters
    ----------
    drug, pd : DrugConfig, PdConfig
    dose_mg : float, mg
    interval_h : float, h
    n_grid : int
        Points of the uniform grid on [0, τ] (trapezoid rule; error O(τ²/n²)).

    Returns
    -------
    float, dimensionless in [0, I_max]
        (1/τ) ∫_0^τ I(C_ss(t)) dt (SCIENCE.md Table 8.4, last column).
    """
    if n_grid < 3:
        raise ValueError(f"n_grid = {n_grid}: must be >= 3")
    t = np.linspace(0.0, interval_h, n_grid)
    e = steady_state_exposure(drug, pd, dose_mg, interval_h, t)
    inh = inhibition(e.c_nmol_per_l, pd, drug.ic50_nmol_per_l)
    return float(np.trapezoid(inh, t) / interval_h)


def fraction_time_above_ic50(
    drug: DrugConfig,
    pd: PdConfig,
    dose_mg: float,
    interval_h: float,
    n_grid: int = 100_000,
) -> float:
    """Share of a dosing interval at steady state with the exposure above the IC50.

    Parameters
    ----------
    drug, pd : DrugConfig, PdConfig
        The exposure is on ``pd``'s basis, with penetration (effect site if k_e0 is set).
    dose_mg : float, mg
    interval_h : float, h
    n_grid : int
        Midpoints of a uniform grid on [0, τ]; the error is below 2 / n_grid.

    Returns
    -------
    float in [0, 1]
        (SCIENCE.md Table 8.4, "share of time free C > IC50").
    """
    if n_grid < 1:
        raise ValueError(f"n_grid = {n_grid}: must be >= 1")
    t = (np.arange(n_grid, dtype=np.float64) + 0.5) * (interval_h / n_grid)
    e = steady_state_exposure(drug, pd, dose_mg, interval_h, t)
    return float(np.mean(e.c_nmol_per_l > drug.ic50_nmol_per_l))


# --------------------------------------------------------------------------- tissue bridge


def tissue_inhibitor_phases(
    inhibitor: InhibitorConfig,
    t_end_min: float,
    step_min: float = 60.0,
    *,
    pk_offset_h: float = 0.0,
    n_gauss: int = 8,
) -> list[dict[str, float]]:
    """Piecewise-constant θ_I phases for a tissue scenario's ``ddr2.inhibitor``.

    The run's [0, t_end_min] is cut into steps of ``step_min`` (the last may be shorter);
    each phase's occupancy is the mean of θ_I(t) over its step. Consecutive phases with the
    same occupancy are merged, so an untreated stretch is a single phase.

    Parameters
    ----------
    inhibitor : InhibitorConfig
    t_end_min : float, min
        End of the tissue run (``time.duration_min``), > 0.
    step_min : float, min
        Phase length, > 0; default 60 min (short against τ_off = 12 h and the dosing
        interval).
    pk_offset_h : float, h
        PK time at the tissue run's t = 0 (e.g. 24 × 6 to start on day 6 of treatment).
    n_gauss : int
        Gauss–Legendre nodes per quadrature piece; pieces are split at every dose, graded
        geometrically towards it (where θ rises steeply from 0) and at most 1/k_max long
        (k_max the fastest rate), so the mean is exact to about 10⁻¹⁰.

    Returns
    -------
    list of dict
        ``[{'start_min': float, 'occupancy': float}, ...]`` with increasing ``start_min``
        (the first 0) and occupancy in [0, I_max]; valid as ``InhibitorPhase`` entries.
    """
    if not (t_end_min > 0 and math.isfinite(t_end_min)):
        raise ValueError(f"t_end_min = {t_end_min}: must be a finite number > 0 (min)")
    if not step_min > 0:
        raise ValueError(f"step_min = {step_min}: must be > 0 (min)")
    if not pk_offset_h >= 0:
        raise ValueError(f"pk_offset_h = {pk_offset_h}: must be >= 0 (h)")
    drug, pd = inhibitor.drug_config, inhibitor.pd
    n_steps = math.ceil(t_end_min / step_min - 1e-9)
    starts = step_min * np.arange(n_steps)
    ends = np.minimum(starts + step_min, t_end_min)
    # quadrature pieces: step bounds, interior points at most 1/k_max apart, dose times
    k_max = max(drug.ka_per_h, drug.ke_per_h, pd.ke0_per_h or 0.0)
    h_max_min = 60.0 / k_max
    n_sub = max(1, math.ceil(step_min / h_max_min))
    frac = np.arange(1, n_sub) / n_sub
    interior = (starts[:, None] + (ends - starts)[:, None] * frac[None, :]).ravel()
    horizon_h = pk_offset_h + t_end_min / 60.0
    doses_min = (dose_times_h(inhibitor.schedule, horizon_h) - pk_offset_h) * 60.0
    doses_min = doses_min[(doses_min >= 0.0) & (doses_min < t_end_min)]
    # θ rises steeply after a dose given on an empty compartment (like C^n, n may be
    # 0.5): pieces graded geometrically towards each dose keep the quadrature exact
    graded = (doses_min[:, None] + h_max_min * _GRADING[None, :]).ravel()
    graded = graded[graded < t_end_min]
    bps = np.unique(np.concatenate([starts, [t_end_min], interior, doses_min, graded]))
    a, b = bps[:-1], bps[1:]
    x, w = np.polynomial.legendre.leggauss(n_gauss)
    nodes_min = 0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * x[None, :]
    theta = occupancy(nodes_min.ravel() / 60.0 + pk_offset_h, inhibitor)
    integral = 0.5 * (b - a) * (theta.reshape(nodes_min.shape) @ w)
    step_of_piece = np.searchsorted(starts, a, side="right") - 1
    total = np.bincount(step_of_piece, weights=integral, minlength=n_steps)
    mean = np.clip(total / (ends - starts), 0.0, pd.imax)
    keep = np.ones(n_steps, dtype=bool)
    keep[1:] = mean[1:] != mean[:-1]
    return [
        {"start_min": float(s), "occupancy": float(m)}
        for s, m in zip(starts[keep], mean[keep], strict=True)
    ]
