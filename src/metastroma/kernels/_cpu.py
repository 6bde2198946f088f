"""CPU (numba) kernels of the tissue engine: neighbour grid, mechanics, motility, lifecycle.

Every parallel loop writes only its own row, so results are bitwise identical for any
number of threads (STYLE.md §5). Sums over neighbours run in the fixed order of the
counting sort (each bin lists its cells in row order). Equations: SCIENCE.md §1.2
(potentials, Adams–Bashforth 2), §1.3 (persistent random walk), §3.1 (cycle and death).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from metastroma._typing import BoolArray, F64Array, I8Array, I64Array
from metastroma.kernels import rng

LIVE, APOPTOTIC, NECROTIC = 0, 1, 2  # values of the ``state`` column

# -------------------------------------------------------------------- neighbour grid


@njit(parallel=True, cache=True)
def bin_of_cells(
    pos: F64Array, n: int, lower: F64Array, bin_um: F64Array, n_bins: I64Array
) -> tuple[I64Array, I64Array, I64Array]:
    """Bins of the first ``n`` cells on the box of occupied bins of the domain grid.

    Per axis a cell's bin is ``floor((x − lower)/bin)`` clamped to ``[0, n_bins)``; the
    box runs from the lowest to the highest occupied bin per axis (found from the
    extreme coordinates: the bin is monotone in x). Flat indices are C order on the box,
    which keeps the domain grid's order.

    Returns
    -------
    bins : (n,) int64
        Flat bin of each cell in the box.
    k0 : (dim,) int64
        Domain-grid bin of the box's lower corner.
    box : (dim,) int64
        Bins of the box per axis (1 where there are no cells).
    """
    dim = pos.shape[1]
    k0 = np.zeros(dim, dtype=np.int64)
    box = np.ones(dim, dtype=np.int64)
    if n > 0:
        for a in range(dim):
            lo = pos[0, a]
            hi = pos[0, a]
            for i in range(1, n):
                x = pos[i, a]
                lo = min(lo, x)
                hi = max(hi, x)
            k_lo = min(
                max(int(np.floor((lo - lower[a]) / bin_um[a])), 0), n_bins[a] - 1
            )
            k_hi = min(
                max(int(np.floor((hi - lower[a]) / bin_um[a])), 0), n_bins[a] - 1
            )
            k0[a] = k_lo
            box[a] = k_hi - k_lo + 1
    out = np.empty(n, dtype=np.int64)
    for i in prange(n):
        b = 0
        for a in range(dim):
            k = int(np.floor((pos[i, a] - lower[a]) / bin_um[a]))
            k = min(max(k, 0), n_bins[a] - 1)
            b = b * box[a] + (k - k0[a])
        out[i] = b
    return out, k0, box


@njit(cache=True)
def counting_sort(bins: I64Array, n_total_bins: int) -> tuple[I64Array, I64Array]:
    """Stable counting sort of cells by bin.

    Returns
    -------
    start : (n_total_bins + 1,) int64
        Cells of bin b are ``order[start[b]:start[b + 1]]``.
    order : (n,) int64
        Rows, grouped by bin, in row order within each bin (stable).
    """
    n = bins.shape[0]
    start = np.zeros(n_total_bins + 1, dtype=np.int64)
    for i in range(n):
        start[bins[i] + 1] += 1
    for b in range(n_total_bins):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = bins[i]
        order[fill[b]] = i
        fill[b] += 1
    return start, order


# -------------------------------------------------------------------- mechanics


@njit(inline="always", cache=True)
def _scan(
    i: int,
    s0: int,
    s1: int,
    order: I64Array,
    pos: F64Array,
    radius: F64Array,
    kind: I8Array,
    reach: F64Array,
    cr_pair: F64Array,
    ca_pair: F64Array,
    adh: F64Array,
    three: bool,
) -> tuple[float, float, float]:
    """Sum of repulsion + adhesion velocities on i from the cells ``order[s0:s1]``.

    v = [c_r (1 − d/R_ij)² 1(d < R_ij) − c_a (1 − d/S_ij)² 1(d < S_ij)] (x_i − x_j)/d
    (SCIENCE.md §1.2); coincident centres are held 1e-5 µm apart as PhysiCell does. c_a is
    scaled by ``adh[i] adh[j]`` = √((1 − g_adh A_i)(1 − g_adh A_j)), the EMT loss (§4.9).
    """
    xi = pos[i, 0]
    yi = pos[i, 1]
    zi = pos[i, 2] if three else 0.0
    ri = radius[i]
    ki = kind[i]
    li = reach[ki] * ri
    ax = 0.0
    ay = 0.0
    az = 0.0
    for s in range(s0, s1):
        j = order[s]
        if j == i:
            continue
        dx = xi - pos[j, 0]
        dy = yi - pos[j, 1]
        dz = zi - pos[j, 2] if three else 0.0
        d2 = dx * dx + dy * dy + dz * dz
        kj = kind[j]
        r_ij = ri + radius[j]
        s_ij = li + reach[kj] * radius[j]
        cut = max(s_ij, r_ij)
        if d2 >= cut * cut:
            continue
        d = max(np.sqrt(d2), 1e-5)
        coef = 0.0
        if d < r_ij:
            t = 1.0 - d / r_ij
            coef += cr_pair[ki, kj] * t * t
        if d < s_ij:
            t = 1.0 - d / s_ij
            coef -= ca_pair[ki, kj] * adh[i] * adh[j] * t * t
        coef /= d
        ax += coef * dx
        ay += coef * dy
        az += coef * dz
    return ax, ay, az


@njit(parallel=True, cache=True)
def contact_velocity(
    pos: F64Array,
    radius: F64Array,
    kind: I8Array,
    n: int,
    reach: F64Array,
    cr_pair: F64Array,
    ca_pair: F64Array,
    lower: F64Array,
    bin_um: F64Array,
    n_bins: I64Array,
    start: I64Array,
    order: I64Array,
    bins: I64Array,
    adh: F64Array,
    out: F64Array,
    span: int = 1,
) -> None:
    """Cell–cell repulsion and adhesion velocity of each of the first ``n`` cells.

    Bins are in C order (last axis fastest), so the neighbour bins along the last axis
    are contiguous in the counting sort: each cell scans 2·span + 1 (2D) or (2·span + 1)²
    (3D) runs of rows, each run 2·span + 1 bins long.

    Parameters
    ----------
    pos : (capacity, dim) float64, µm
    radius : (capacity,) float64, µm
    kind : (capacity,) int8
    n : int
        Live rows.
    reach : (n_kinds,) float64
        Relative maximum adhesion distance ℓ per kind.
    cr_pair, ca_pair : (n_kinds, n_kinds) float64, µm/min
        c_r,ij = √(c_r,i c_r,j) and c_a,ij = √(c_a,i α_i(τ_j) c_a,j α_j(τ_i)).
    lower, bin_um, n_bins, start, order, bins
        The neighbour grid (span × bin edge ≥ the largest interaction distance).
    adh : (capacity,) float64
        Per-cell adhesion scale (1 without DDR2).
    out : (capacity, dim) float64, µm/min
        Overwritten for rows < n.
    span : int
        Bins scanned on each side of a cell's own bin.
    """
    three = pos.shape[1] == 3
    nbx = n_bins[0]
    nby = n_bins[1]
    nbz = n_bins[2] if three else 1
    for i in prange(n):
        b = bins[i]
        iz = b % nbz
        r = b // nbz
        iy = r % nby
        ix = r // nby
        ax = 0.0
        ay = 0.0
        az = 0.0
        # 2D and 3D are written out apart: a shared loop with a dummy middle axis in 2D
        # measured 35 % slower at 10^5-10^6 cells (benchmarks/run_benchmarks.py).
        for jx in range(max(ix - span, 0), min(ix + span + 1, nbx)):
            if three:
                for jy in range(max(iy - span, 0), min(iy + span + 1, nby)):
                    row = (jx * nby + jy) * nbz
                    lo = row + max(iz - span, 0)
                    hi = row + min(iz + span, nbz - 1)
                    vx, vy, vz = _scan(
                        i,
                        start[lo],
                        start[hi + 1],
                        order,
                        pos,
                        radius,
                        kind,
                        reach,
                        cr_pair,
                        ca_pair,
                        adh,
                        three,
                    )
                    ax += vx
                    ay += vy
                    az += vz
            else:
                lo = jx * nby + max(iy - span, 0)
                hi = jx * nby + min(iy + span, nby - 1)
                vx, vy, vz = _scan(
                    i,
                    start[lo],
                    start[hi + 1],
                    order,
                    pos,
                    radius,
                    kind,
                    reach,
                    cr_pair,
                    ca_pair,
                    adh,
                    three,
                )
                ax += vx
                ay += vy
        out[i, 0] = ax
        out[i, 1] = ay
        if three:
            out[i, 2] = az


@njit(inline="always", cache=True)
def _add_wall_velocity(
    i: int,
    pos: F64Array,
    radius: F64Array,
    lower: F64Array,
    upper: F64Array,
    wall_cr: float,
    dim: int,
    out: F64Array,
) -> None:
    """Virtual wall: c_BM (1 − d/R)² pushing inward when a wall is closer than R [C PC]."""
    r = radius[i]
    for a in range(dim):
        d = pos[i, a] - lower[a]
        if d < r:
            t = 1.0 - max(d, 0.0) / r
            out[i, a] += wall_cr * t * t
        d = upper[a] - pos[i, a]
        if d < r:
            t = 1.0 - max(d, 0.0) / r
            out[i, a] -= wall_cr * t * t


# -------------------------------------------------------------------- lifecycle


@njit(parallel=True, cache=True)
def lifecycle_step(
    seed: int,
    step: int,
    dt: float,
    n: int,
    cell_id: I64Array,
    kind: I8Array,
    state: I8Array,
    t_state: F64Array,
    phase: I8Array,
    t_phase: F64Array,
    oxygen: F64Array,
    rate_scale: F64Array,
    n_phases: I64Array,
    duration: F64Array,
    fixed: BoolArray,
    o2_dependent: BoolArray,
    c_prolif: F64Array,
    c_sat: F64Array,
    apoptosis_rate: F64Array,
    apoptosis_duration: F64Array,
    necrosis_mode: I64Array,
    c_necrosis: F64Array,
    c_necrosis_max: F64Array,
    necrosis_max_rate: F64Array,
    necrotic_duration: F64Array,
    divide: BoolArray,
    remove: BoolArray,
) -> None:
    """Advance death and the cycle of each cell by one phenotype step (SCIENCE.md §3.1).

    Order per cell, as PhysiCell's ``advance_bundled_phenotype_functions`` [C]: a live cell
    may die (apoptosis with probability r_A Δt, then necrosis: 'ramp' with probability
    r_N(c) Δt, 'deterministic' when c < c_N); a dead cell's clock advances (also in the
    step it died) and it is removed once its death phase has lasted its duration; a live
    cell's phase clock advances and it leaves the phase when a fixed duration is reached
    (≥, within 1e-9 min) or, for a stochastic phase, with probability Δt / duration, the
    first phase's rate scaled by clamp((c − c_P)/(c_S − c_P), 0, 1) if oxygen dependent.
    Leaving the last phase flags division; ``rate_scale`` multiplies the first phase's
    rate per cell (the DDR2 proliferation gain 1 + g_p A, §4.9). Per-kind tables are indexed by ``kind``;
    ``necrosis_mode`` is 0 off, 1 ramp, 2 deterministic.

    Parameters
    ----------
    divide, remove : (capacity,) bool
        Overwritten for rows < n.
    """
    for i in prange(n):
        k = kind[i]
        cid = cell_id[i]
        c = oxygen[i]
        divide[i] = False
        remove[i] = False
        if state[i] == LIVE:
            if rng.uniform01(seed, step, cid, rng.APOPTOSIS) < apoptosis_rate[k] * dt:
                state[i] = APOPTOTIC
                t_state[i] = 0.0
            elif necrosis_mode[k] == 1:
                span = c_necrosis[k] - c_necrosis_max[k]
                f = min(max((c_necrosis[k] - c) / span, 0.0), 1.0)
                if (
                    f > 0.0
                    and rng.uniform01(seed, step, cid, rng.NECROSIS)
                    < necrosis_max_rate[k] * f * dt
                ):
                    state[i] = NECROTIC
                    t_state[i] = 0.0
            elif necrosis_mode[k] == 2 and c < c_necrosis[k]:
                state[i] = NECROTIC
                t_state[i] = 0.0
        if state[i] != LIVE:
            t_state[i] += dt
            limit = (
                apoptosis_duration[k] if state[i] == APOPTOTIC else necrotic_duration[k]
            )
            if t_state[i] >= limit - 1e-9:
                remove[i] = True
            continue
        m = n_phases[k]
        if m == 0:
            continue
        p = phase[i]
        t_phase[i] += dt
        go = False
        if fixed[k, p]:
            go = t_phase[i] >= duration[k, p] - 1e-9
        else:
            rate = 1.0 / duration[k, p]
            if p == 0:
                rate *= rate_scale[i]
                if o2_dependent[k]:
                    rate *= min(
                        max((c - c_prolif[k]) / (c_sat[k] - c_prolif[k]), 0.0), 1.0
                    )
            go = rate > 0.0 and rng.uniform01(seed, step, cid, rng.CYCLE) < rate * dt
        if go:
            if p == m - 1:
                divide[i] = True
            phase[i] = (p + 1) % m
            t_phase[i] = 0.0


@njit(parallel=True, cache=True)
def place_daughters(
    seed: int,
    step: int,
    mothers: I64Array,
    first_row: int,
    first_id: int,
    cell_id: I64Array,
    pos: F64Array,
    radius: F64Array,
    lower: F64Array,
    upper: F64Array,
) -> None:
    """Split each mother along a random unit vector u (SCIENCE.md §1.2, division).

    The daughter (row ``first_row + m``, id ``first_id + m``) goes to x + ½R u and the
    mother to x − ½R u, keeping the centre of mass; both are kept inside the domain. Other
    columns are copied by the caller (daughters inherit state).
    """
    dim = pos.shape[1]
    for m in prange(mothers.shape[0]):
        i = mothers[m]
        d = first_row + m
        ux, uy, uz = rng.random_unit_vector(
            seed, step, cell_id[i], rng.DIVISION_DIR_A, rng.DIVISION_DIR_B, dim
        )
        h = 0.5 * radius[i]
        for a in range(dim):
            u = ux if a == 0 else (uy if a == 1 else uz)
            x = pos[i, a]
            pos[d, a] = min(max(x + h * u, lower[a]), upper[a])
            pos[i, a] = min(max(x - h * u, lower[a]), upper[a])
        cell_id[d] = first_id + m
