"""Metastatic emission d(N) = μ N^γ and its Poisson draws, vectorised over a cohort.

Iwata, Kawasaki and Shigesada (2000) let a tumour of N cells found new metastases at rate
β(N) = m N^α; Benzekry's discrete algorithm uses d(V) = μ V^γ with a deterministic
accumulator (SCIENCE.md §9.4). metastroma keeps the intensity and draws: the number of
emissions in [t₀, t₁] is Poisson with mean Λ = ∫ μ N(t)^γ dt, and given the number, the
emission times are independent with density μ N(t)^γ / Λ (an inhomogeneous Poisson process).

Λ has a closed form for each growth law of :mod:`metastroma.body.growth`
(N₀, N∞, rates as there; q = 1 − γ_g, p = γ/q):

- exponential: μ N₀^γ e^{γa₀t₀} (e^{γa₀(t₁−t₀)} − 1)/(γa₀);
- Gompertz, L = ln(N∞/N₀): (μ N∞^γ / b) [E₁(γL e^{−bt₁}) − E₁(γL e^{−bt₀})], E₁ the
  exponential integral (substitute u = e^{−bt});
- power law, s(t) = N₀^q + q a t: μ (s₁^{p+1} − s₀^{p+1}) / ((p + 1) q a).

For curves without a closed form (surgery, therapy) :func:`cumulative_trapezoid` integrates
a sampled N(t) as Benzekry's code does. Draws are counter-based: patient k's count and times
depend on (seed, window, patient_id) and its own intensity only, never on the cohort size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.special import exp1
from scipy.stats import poisson

from metastroma._typing import F64Array, I64Array
from metastroma.body.growth import PatientGrowth, _as_patient_ids, lognormal_per_patient
from metastroma.config.body_growth import EmissionConfig
from metastroma.kernels import rng
from metastroma.kernels.rng import uniform01

# Body-scale random streams (see body/growth.py); append, never renumber.
STREAM_EMISSION_MU = rng.EMISSION_MU
STREAM_EMISSION_COUNT = rng.EMISSION_COUNT
STREAM_EMISSION_TIME = rng.EMISSION_TIME

#: Emissions per patient and window are indexed by 32 bits in the counter-based hash.
MAX_EMISSIONS_PER_WINDOW = 2**32
_HALF_ULP = 2.0**-54


@njit(cache=True)
def _uniform01_pairs(
    seed: int, steps: I64Array, ids: I64Array, stream: int
) -> F64Array:
    """``uniform01(seed, steps[i], ids[i], stream)`` for each i, in (0, 1)."""
    out = np.empty(ids.shape[0], dtype=np.float64)
    for i in range(ids.shape[0]):
        out[i] = uniform01(seed, steps[i], ids[i], stream) + _HALF_ULP
    return out


def emission_rate(cells: ArrayLike, mu_per_day: ArrayLike, gamma: float) -> F64Array:
    """Emission rate d(N) = μ N^γ, emissions/day; arguments broadcast (cells, cell^−γ day⁻¹)."""
    n = np.asarray(cells, dtype=np.float64)
    return np.asarray(
        np.asarray(mu_per_day, dtype=np.float64) * n**gamma, dtype=np.float64
    )


def sample_patient_mu(
    cfg: EmissionConfig, patient_ids: ArrayLike, seed: int
) -> F64Array:
    """Each patient's μ (cell^−γ day⁻¹), log-normal with the median and σ_log of ``cfg``.

    Returns
    -------
    (n_patients,) float64
        Patient k's value depends on (seed, k) only.
    """
    return lognormal_per_patient(
        cfg.mu_median_per_day, cfg.mu_sigma_log, patient_ids, seed, STREAM_EMISSION_MU
    )


def expected_emissions(
    growth: PatientGrowth,
    mu_per_day: ArrayLike,
    gamma: float,
    t0_day: ArrayLike,
    t1_day: ArrayLike,
) -> F64Array:
    """Expected number of emissions Λ = ∫_{t₀}^{t₁} μ N(t)^γ dt, in closed form.

    Parameters
    ----------
    growth : PatientGrowth
        n_patients rows; N(t) as in :func:`metastroma.body.growth.cells_at`.
    mu_per_day : float or (n_patients,) float64, cell^−γ day⁻¹
    gamma : float
        Emission exponent in [0, 1].
    t0_day, t1_day : float or (n_patients,) float64, days
        Window, 0 <= t₀ <= t₁ (time since N = N₀).

    Returns
    -------
    (n_patients,) float64
        Expected emissions per patient.
    """
    n = growth.n_patients
    mu = np.broadcast_to(np.asarray(mu_per_day, dtype=np.float64), (n,))
    t0 = np.broadcast_to(np.asarray(t0_day, dtype=np.float64), (n,))
    t1 = np.broadcast_to(np.asarray(t1_day, dtype=np.float64), (n,))
    if np.any(t1 < t0) or np.any(t0 < 0):
        raise ValueError("t0_day, t1_day: need 0 <= t0_day <= t1_day")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma = {gamma}: must be in [0, 1]")
    if gamma == 0.0:
        return np.asarray(mu * (t1 - t0), dtype=np.float64)
    n0, rate = growth.initial_cells, growth.rate
    if growth.law == "exponential":
        k = gamma * rate
        out = mu * n0**gamma * np.exp(k * t0) * np.expm1(k * (t1 - t0)) / k
    elif growth.law == "gompertz":
        c = gamma * np.log(growth.plateau_cells / n0)
        out = (
            mu
            * growth.plateau_cells**gamma
            / rate
            * (exp1(c * np.exp(-rate * t1)) - exp1(c * np.exp(-rate * t0)))
        )
    else:
        q = 1.0 - growth.power_exponent
        p1 = gamma / q + 1.0
        s0 = n0**q + q * rate * t0
        s1 = n0**q + q * rate * t1
        out = mu * (s1**p1 - s0**p1) / (p1 * q * rate)
    return np.asarray(out, dtype=np.float64)


def cumulative_on_grid(
    growth: PatientGrowth, mu_per_day: ArrayLike, gamma: float, t_grid_day: ArrayLike
) -> F64Array:
    """Exact cumulative intensity Λ(t_k) = ∫_{t_0}^{t_k} μ N^γ dt on a shared grid.

    Parameters
    ----------
    growth : PatientGrowth
    mu_per_day : float or (n_patients,) float64, cell^−γ day⁻¹
    gamma : float
    t_grid_day : (n_t,) float64, days, increasing, t_0 >= 0

    Returns
    -------
    (n_patients, n_t) float64
        Non-decreasing along axis 1, 0 in column 0.
    """
    grid = _check_grid(t_grid_day)
    n = growth.n_patients
    mu = np.broadcast_to(np.asarray(mu_per_day, dtype=np.float64), (n,))
    # Each interval in closed form, then a cumulative sum: no cancellation between
    # the large late values and the tiny early ones.
    t0 = np.broadcast_to(grid[:-1], (n, grid.size - 1))
    t1 = np.broadcast_to(grid[1:], (n, grid.size - 1))
    rows = PatientGrowth(
        law=growth.law,
        rate=np.repeat(growth.rate, grid.size - 1),
        initial_cells=np.repeat(growth.initial_cells, grid.size - 1),
        plateau_cells=np.repeat(growth.plateau_cells, grid.size - 1),
        power_exponent=growth.power_exponent,
    )
    pieces = expected_emissions(
        rows, np.repeat(mu, grid.size - 1), gamma, t0.ravel(), t1.ravel()
    ).reshape(n, grid.size - 1)
    out = np.zeros((n, grid.size), dtype=np.float64)
    np.cumsum(pieces, axis=1, out=out[:, 1:])
    return out


def cumulative_trapezoid(
    cells: ArrayLike, t_grid_day: ArrayLike, mu_per_day: ArrayLike, gamma: float
) -> F64Array:
    """Cumulative intensity of sampled sizes by the trapezoid rule (Benzekry's scheme).

    Λ(t_k) = Λ(t_{k−1}) + (t_k − t_{k−1}) [d(N_{k−1}) + d(N_k)] / 2, Λ(t_0) = 0.

    Parameters
    ----------
    cells : (n_patients, n_t) float64, cells
        Sizes on the grid (any curve: treated, resected (0 after surgery), ...).
    t_grid_day : (n_t,) float64, days, increasing
    mu_per_day : float or (n_patients,) float64, cell^−γ day⁻¹
    gamma : float

    Returns
    -------
    (n_patients, n_t) float64
    """
    grid = _check_grid(t_grid_day)
    n_cells = np.asarray(cells, dtype=np.float64)
    if n_cells.ndim != 2 or n_cells.shape[1] != grid.size:
        raise ValueError(
            f"cells: must be (n_patients, {grid.size}), got {n_cells.shape}"
        )
    mu = np.asarray(mu_per_day, dtype=np.float64)
    d = emission_rate(n_cells, mu[:, None] if mu.ndim == 1 else mu, gamma)
    out = np.zeros_like(d)
    np.cumsum(0.5 * (d[:, 1:] + d[:, :-1]) * np.diff(grid), axis=1, out=out[:, 1:])
    return out


@dataclass(frozen=True)
class EmissionDraws:
    """Emissions drawn for a cohort, flat over patients.

    Attributes
    ----------
    count : (n_patients,) int64
        Emissions per patient.
    patient_row : (n_emissions,) int64
        Row (0 … n_patients − 1) of the patient of each emission; sorted, and within a
        patient the emissions are in time order.
    time_day : (n_emissions,) float64, days
        Emission times, on the grid's time axis.
    """

    count: I64Array
    patient_row: I64Array
    time_day: F64Array


def draw_emissions(
    cumulative: ArrayLike,
    t_grid_day: ArrayLike,
    patient_ids: ArrayLike,
    seed: int,
    window: int = 0,
    max_emissions: int = 50_000_000,
) -> EmissionDraws:
    """Poisson emission counts and times for every patient at once.

    The count is Poisson(Λ(t_end)) by inversion of one counter-based uniform; each emission
    time inverts the normalised cumulative intensity Λ(t)/Λ(t_end) at its own uniform,
    found by a vectorised bisection over the grid and linear interpolation within the
    interval (piecewise-constant intensity between grid points).

    Parameters
    ----------
    cumulative : (n_patients, n_t) float64
        Λ on the grid, non-decreasing, 0 in column 0 (:func:`cumulative_on_grid`,
        :func:`cumulative_trapezoid`).
    t_grid_day : (n_t,) float64, days, increasing
    patient_ids : (n_patients,) int, >= 0
    seed : int
    window : int, >= 0
        Index of this draw (one per simulated window), so that successive windows of the
        same patient get independent draws.
    max_emissions : int
        Refuse (ValueError) to allocate more emissions than this in total; fast growers
        at the Gompertz plateau can ask for ~μ N∞ per day each.

    Returns
    -------
    EmissionDraws

    Notes
    -----
    Memory is the (n_patients, n_t) intensity plus O(n_emissions).
    """
    grid = _check_grid(t_grid_day)
    lam = np.asarray(cumulative, dtype=np.float64)
    ids = _as_patient_ids(patient_ids)
    n = ids.shape[0]
    if lam.shape != (n, grid.size):
        raise ValueError(f"cumulative: must be ({n}, {grid.size}), got {lam.shape}")
    if window < 0:
        raise ValueError(f"window = {window}: must be >= 0")
    total = lam[:, -1]
    if not np.all(np.isfinite(total)) or np.any(total < 0):
        raise ValueError("cumulative: must be finite and >= 0")

    u_count = _uniform01_pairs(
        int(seed), np.full(n, window, dtype=np.int64), ids, STREAM_EMISSION_COUNT
    )
    count = np.zeros(n, dtype=np.int64)
    pos = total > 0
    count[pos] = poisson.ppf(u_count[pos], total[pos]).astype(np.int64)
    if count.size and count.max() >= MAX_EMISSIONS_PER_WINDOW:
        raise ValueError(
            "cumulative: more than 2**32 emissions in one window; split it"
        )
    if int(count.sum()) > max_emissions:
        raise ValueError(
            f"{int(count.sum())} emissions drawn, more than max_emissions = {max_emissions}; "
            "shorten the window or lower mu"
        )

    row = np.repeat(np.arange(n, dtype=np.int64), count)
    first = np.cumsum(count) - count
    j = np.arange(row.size, dtype=np.int64) - first[row]  # index within the patient
    u = _uniform01_pairs(
        int(seed), window * MAX_EMISSIONS_PER_WINDOW + j, ids[row], STREAM_EMISSION_TIME
    )
    target = u * total[row]
    lo = np.zeros(row.size, dtype=np.int64)  # invariant: lam[lo] <= target < lam[hi]
    hi = np.full(row.size, grid.size - 1, dtype=np.int64)
    while np.any(hi - lo > 1):  # log2(n_t) passes over all emissions at once
        mid = (lo + hi) // 2
        below = lam[row, mid] <= target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    lam_lo, lam_hi = lam[row, lo], lam[row, hi]
    frac = (target - lam_lo) / (lam_hi - lam_lo)
    time = grid[lo] + frac * (grid[hi] - grid[lo])
    order = np.lexsort((time, row))
    return EmissionDraws(count=count, patient_row=row[order], time_day=time[order])


def _check_grid(t_grid_day: ArrayLike) -> F64Array:
    grid = np.asarray(t_grid_day, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0) or grid[0] < 0:
        raise ValueError("t_grid_day: must be 1-D, increasing, >= 0, with >= 2 points")
    return grid


__all__ = [
    "MAX_EMISSIONS_PER_WINDOW",
    "STREAM_EMISSION_COUNT",
    "STREAM_EMISSION_MU",
    "STREAM_EMISSION_TIME",
    "EmissionDraws",
    "cumulative_on_grid",
    "cumulative_trapezoid",
    "draw_emissions",
    "emission_rate",
    "expected_emissions",
    "sample_patient_mu",
]
