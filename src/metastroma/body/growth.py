"""Tumour growth laws in closed form, size conversions and per-patient growth parameters.

A tumour's size N(t) (cells, t in days) follows one of three laws (SCIENCE.md §9.1):

- exponential, dN/dt = a₀ N:  N(t) = N₀ e^{a₀ t};
- Gompertz (default), dN/dt = b ln(N∞/N) N:  N(t) = N₀ exp[ln(N∞/N₀)(1 − e^{−bt})]
  (Norton 1988; the Benzekry 2014 form V₀ exp[(α/β)(1 − e^{−βt})] with β = b and
  α = b ln(N∞/N₀));
- power law, dN/dt = a N^γ_g, 0 < γ_g < 1:  N(t) = [N₀^{1−γ_g} + (1 − γ_g) a t]^{1/(1−γ_g)}
  (Hart 1998).

Each has a closed-form inverse, the time to reach a size (``inf`` when the size is never
reached: above the Gompertz plateau). Diameters and cell counts convert through a sphere,
N = (π/6) d³ · cells_per_mm3 (Benzekry's ``diam2cell`` at 10⁶ cells/mm³; §9.2).

Patient variability: the law's rate parameter is log-normal across patients. Patient k's
draw is a pure function of (seed, stream, patient_id) through the counter-based hash of
:mod:`metastroma.kernels.rng`, so it does not depend on the cohort size or on the order of
patients; uniforms become normals through the inverse normal CDF (``scipy.special.ndtri``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from metastroma._typing import F64Array, I64Array
from metastroma.config.body_growth import GrowthConfig, GrowthLaw
from metastroma.kernels import rng
from metastroma.kernels.rng import uniform01_many

# Body-scale random stream of this module; the numbers live in kernels/rng.py with all others.
STREAM_GROWTH_RATE = rng.GROWTH_RATE

_HALF_ULP = 2.0**-54  # shifts uniform01's [0, 1) into (0, 1) so that ndtri stays finite


@dataclass(frozen=True)
class PatientGrowth:
    """Growth parameters of a cohort, one row per patient.

    Attributes
    ----------
    law : {'gompertz', 'exponential', 'power'}
        One law for the whole cohort.
    rate : (n_patients,) float64
        Gompertz b (1/day), exponential a₀ (1/day) or power-law a (cells^(1−γ_g)/day).
    initial_cells : (n_patients,) float64, cells
        N₀, the size at t = 0.
    plateau_cells : (n_patients,) float64, cells
        Gompertz N∞ (> N₀); unused by the other laws.
    power_exponent : float
        γ_g of the power law, in (0, 1); unused by the other laws.
    """

    law: GrowthLaw
    rate: F64Array
    initial_cells: F64Array
    plateau_cells: F64Array
    power_exponent: float

    @property
    def n_patients(self) -> int:
        """Number of patients (rows)."""
        return int(self.rate.shape[0])


# ------------------------------------------------------------------ closed-form laws


def exponential_cells(
    t_day: ArrayLike, n0: ArrayLike, rate_per_day: ArrayLike
) -> F64Array:
    """Exponential growth N(t) = N₀ e^{a₀ t}; arguments broadcast (cells, days, 1/day)."""
    t = np.asarray(t_day, dtype=np.float64)
    a = np.asarray(rate_per_day, dtype=np.float64)
    return np.asarray(
        np.asarray(n0, dtype=np.float64) * np.exp(a * t), dtype=np.float64
    )


def gompertz_cells(
    t_day: ArrayLike, n0: ArrayLike, plateau_cells: ArrayLike, rate_per_day: ArrayLike
) -> F64Array:
    """Gompertz growth N(t) = N₀ exp[ln(N∞/N₀)(1 − e^{−bt})]; arguments broadcast.

    Parameters
    ----------
    t_day : array_like, days
    n0, plateau_cells : array_like, cells
        N₀ and N∞ (N∞ > N₀).
    rate_per_day : array_like, 1/day
        b.

    Returns
    -------
    ndarray float64, cells
        The broadcast shape of the arguments.
    """
    t = np.asarray(t_day, dtype=np.float64)
    n0_ = np.asarray(n0, dtype=np.float64)
    log_ratio = np.log(np.asarray(plateau_cells, dtype=np.float64) / n0_)
    b = np.asarray(rate_per_day, dtype=np.float64)
    return np.asarray(n0_ * np.exp(-log_ratio * np.expm1(-b * t)), dtype=np.float64)


def power_cells(
    t_day: ArrayLike, n0: ArrayLike, coefficient: ArrayLike, exponent: float
) -> F64Array:
    """Power-law growth N(t) = [N₀^{1−γ_g} + (1 − γ_g) a t]^{1/(1−γ_g)}; arguments broadcast.

    ``coefficient`` is a in cells^(1−γ_g)/day, ``exponent`` γ_g in (0, 1). Before the
    (virtual) birth time, where the bracket is negative, N is 0.
    """
    t = np.asarray(t_day, dtype=np.float64)
    q = 1.0 - exponent
    s = (
        np.asarray(n0, dtype=np.float64) ** q
        + q * np.asarray(coefficient, dtype=np.float64) * t
    )
    return np.asarray(np.maximum(s, 0.0) ** (1.0 / q), dtype=np.float64)


def exponential_time_to(
    cells: ArrayLike, n0: ArrayLike, rate_per_day: ArrayLike
) -> F64Array:
    """Time (days) for exponential growth from N₀ to ``cells``: ln(N/N₀)/a₀."""
    n = np.asarray(cells, dtype=np.float64)
    return np.asarray(
        np.log(n / np.asarray(n0, dtype=np.float64))
        / np.asarray(rate_per_day, dtype=np.float64),
        dtype=np.float64,
    )


def gompertz_time_to(
    cells: ArrayLike, n0: ArrayLike, plateau_cells: ArrayLike, rate_per_day: ArrayLike
) -> F64Array:
    """Time (days) for Gompertz growth from N₀ to ``cells``; ``inf`` at or above N∞.

    t = −ln[1 − ln(N/N₀)/ln(N∞/N₀)] / b.
    """
    n = np.asarray(cells, dtype=np.float64)
    n0_ = np.asarray(n0, dtype=np.float64)
    frac = np.log(n / n0_) / np.log(np.asarray(plateau_cells, dtype=np.float64) / n0_)
    b = np.asarray(rate_per_day, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -np.log1p(-np.minimum(frac, 1.0)) / b
    return np.asarray(np.where(frac >= 1.0, np.inf, t), dtype=np.float64)


def power_time_to(
    cells: ArrayLike, n0: ArrayLike, coefficient: ArrayLike, exponent: float
) -> F64Array:
    """Time (days) for power-law growth from N₀ to ``cells``: (N^{1−γ_g} − N₀^{1−γ_g}) / ((1 − γ_g) a)."""
    q = 1.0 - exponent
    n = np.asarray(cells, dtype=np.float64)
    n0_ = np.asarray(n0, dtype=np.float64)
    return np.asarray(
        (n**q - n0_**q) / (q * np.asarray(coefficient, dtype=np.float64)),
        dtype=np.float64,
    )


# ------------------------------------------------------------------ per-cohort wrappers


def _column(x: F64Array, ndim: int) -> F64Array:
    """Reshape a (n,) array to (n, 1, ...) so that it broadcasts against (n, ...) times."""
    return x.reshape(x.shape + (1,) * (ndim - 1))


def cells_at(growth: PatientGrowth, t_day: ArrayLike) -> F64Array:
    """Size of each patient's tumour at its own times.

    Parameters
    ----------
    growth : PatientGrowth
        n_patients rows.
    t_day : (n_patients,) or (n_patients, k) float64, days
        Time since N = N₀, per patient (row i belongs to patient i).

    Returns
    -------
    ndarray float64, cells
        The shape of ``t_day``.
    """
    t = np.asarray(t_day, dtype=np.float64)
    if t.ndim == 0 or t.shape[0] != growth.n_patients:
        raise ValueError(
            f"t_day: leading dimension must be n_patients = {growth.n_patients}, got shape {t.shape}"
        )
    n0, rate = _column(growth.initial_cells, t.ndim), _column(growth.rate, t.ndim)
    if growth.law == "exponential":
        return exponential_cells(t, n0, rate)
    if growth.law == "gompertz":
        plateau = _column(growth.plateau_cells, t.ndim)
        return gompertz_cells(t, n0, plateau, rate)
    return power_cells(t, n0, rate, growth.power_exponent)


def cells_on_grid(growth: PatientGrowth, t_grid_day: ArrayLike) -> F64Array:
    """Every patient's size on one shared time grid.

    Parameters
    ----------
    growth : PatientGrowth
    t_grid_day : (n_t,) float64, days

    Returns
    -------
    (n_patients, n_t) float64, cells
    """
    grid = np.asarray(t_grid_day, dtype=np.float64)
    if grid.ndim != 1:
        raise ValueError(f"t_grid_day: must be 1-D, got shape {grid.shape}")
    return cells_at(growth, np.broadcast_to(grid, (growth.n_patients, grid.shape[0])))


def time_to_cells(growth: PatientGrowth, cells: ArrayLike) -> F64Array:
    """Time (days) at which each patient's tumour reaches ``cells`` (inverse of :func:`cells_at`).

    Parameters
    ----------
    growth : PatientGrowth
    cells : float or (n_patients,) float64, cells
        Target size; a scalar applies to every patient.

    Returns
    -------
    (n_patients,) float64, days
        ``inf`` where the target is never reached (at or above the Gompertz plateau);
        negative where the target is below N₀.
    """
    n = np.broadcast_to(np.asarray(cells, dtype=np.float64), (growth.n_patients,))
    if growth.law == "exponential":
        return exponential_time_to(n, growth.initial_cells, growth.rate)
    if growth.law == "gompertz":
        return gompertz_time_to(
            n, growth.initial_cells, growth.plateau_cells, growth.rate
        )
    return power_time_to(n, growth.initial_cells, growth.rate, growth.power_exponent)


# ------------------------------------------------------------------ size conversions


def diameter_mm_to_cells(diameter_mm: ArrayLike, cells_per_mm3: float) -> F64Array:
    """Cells in a sphere of diameter d: N = (π/6) d³ · cells_per_mm3 (SCIENCE.md §9.2).

    >>> round(float(diameter_mm_to_cells(10.0, 1.0e6)) / 1e8, 6)  # 10 mm at 10⁶ cells/mm³
    5.235988
    """
    d = np.asarray(diameter_mm, dtype=np.float64)
    return np.asarray(np.pi / 6.0 * d**3 * cells_per_mm3, dtype=np.float64)


def cells_to_diameter_mm(cells: ArrayLike, cells_per_mm3: float) -> F64Array:
    """Diameter (mm) of a sphere holding ``cells`` cells: d = (6 N / (π · cells_per_mm3))^⅓."""
    n = np.asarray(cells, dtype=np.float64)
    return np.asarray(np.cbrt(6.0 * n / (np.pi * cells_per_mm3)), dtype=np.float64)


# ------------------------------------------------------------------ patient variability


def _as_patient_ids(patient_ids: ArrayLike) -> I64Array:
    ids = np.asarray(patient_ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"patient_ids: must be a 1-D integer array, got {ids.dtype} {ids.shape}"
        )
    if ids.size and ids.min() < 0:
        raise ValueError("patient_ids: must be >= 0")
    return np.ascontiguousarray(ids, dtype=np.int64)


def standard_normal_per_patient(
    patient_ids: ArrayLike, seed: int, stream: int, draw: int = 0
) -> F64Array:
    """One standard normal per patient, a pure function of (seed, stream, draw, patient_id).

    Parameters
    ----------
    patient_ids : (n_patients,) int, >= 0
    seed, stream : int
        Scenario seed and a named stream (``STREAM_*``).
    draw : int
        Index of the draw within the stream (the ``step`` of the counter-based hash).

    Returns
    -------
    (n_patients,) float64
        ndtri(u) with u uniform in (0, 1).
    """
    ids = _as_patient_ids(patient_ids)
    u = uniform01_many(int(seed), int(draw), ids, int(stream)) + _HALF_ULP
    return np.asarray(ndtri(u), dtype=np.float64)


def lognormal_per_patient(
    median: float,
    sigma_log: float,
    patient_ids: ArrayLike,
    seed: int,
    stream: int,
    draw: int = 0,
) -> F64Array:
    """Log-normal draws median · exp(σ Z), one per patient, counter-based (see above)."""
    z = standard_normal_per_patient(patient_ids, seed, stream, draw)
    return np.asarray(median * np.exp(sigma_log * z), dtype=np.float64)


def sample_patient_growth(
    cfg: GrowthConfig, patient_ids: ArrayLike, seed: int
) -> PatientGrowth:
    """Draw each patient's growth rate from the log-normal prior of ``cfg``.

    Parameters
    ----------
    cfg : GrowthConfig
        Law, medians and σ_log; values and sources in its field descriptions.
    patient_ids : (n_patients,) int, >= 0
        Stable patient identities: patient k's rate depends on (seed, k) only.
    seed : int
        Scenario seed.

    Returns
    -------
    PatientGrowth
        Rates in 1/day (power law: cells^(1−γ_g)/day); N₀ and N∞ from ``cfg`` for everyone.
    """
    ids = _as_patient_ids(patient_ids)
    rate = lognormal_per_patient(
        cfg.rate_median, cfg.rate_sigma_log, ids, seed, STREAM_GROWTH_RATE
    )
    n = ids.shape[0]
    return PatientGrowth(
        law=cfg.law,
        rate=rate,
        initial_cells=np.full(n, cfg.initial_cells),
        plateau_cells=np.full(n, cfg.gompertz_plateau_cells),
        power_exponent=cfg.power_exponent,
    )


__all__ = [
    "STREAM_GROWTH_RATE",
    "PatientGrowth",
    "cells_at",
    "cells_on_grid",
    "cells_to_diameter_mm",
    "diameter_mm_to_cells",
    "exponential_cells",
    "exponential_time_to",
    "gompertz_cells",
    "gompertz_time_to",
    "lognormal_per_patient",
    "power_cells",
    "power_time_to",
    "sample_patient_growth",
    "standard_normal_per_patient",
    "time_to_cells",
]
