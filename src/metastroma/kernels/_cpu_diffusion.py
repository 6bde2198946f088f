"""Numba CPU kernels for implicit diffusion on a voxel grid.

These are the hot loops behind :mod:`metastroma.tissue.diffusion`, which documents
the equation, its discretisation and the boundary convention. Here a field is a flat
C-order ``float64`` array over an ``(nx, ny, nz)`` grid (``nz = 1`` in 2D), so the flat
index of voxel ``(i, j, k)`` is ``i * sx + j * sy + k`` with strides ``sx = ny * nz``
and ``sy = nz``.

The backward-Euler system is written as ``A x = b`` over all voxels, with identity-free
rows for the held (Dirichlet) voxels: ``(A x)_p = 0`` and ``b_p = 0`` there, so held
voxels take no part in the solve and their values enter ``b`` of their free neighbours.
Each voxel's stencil is encoded once per solve in a ``uint16`` flag word:

- bits 0-5: the neighbour in direction ``-x, +x, -y, +y, -z, +z`` is a free voxel;
- bits 6-11: the neighbour in that direction is a held voxel;
- bit 12: the voxel itself is free.

Determinism: every ``prange`` iteration writes only its own output elements. Dot
products are summed serially inside each of ``N_BLOCKS`` fixed, contiguous blocks of
the flat index, then the block partials are summed serially, so results are bitwise
identical for any number of numba threads. No NumPy reduction (``np.sum``, ``np.dot``)
and no ``prange`` reduction appears in a ``parallel=True`` function, where numba would
split it by thread.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

N_BLOCKS = 64
"""Number of fixed blocks for dot products and reductions (independent of threads)."""

FREE_NB_BITS = 0x003F
HELD_NB_SHIFT = 6
IS_FREE = 0x1000


@njit(inline="always", cache=True)
def _block_start(n: int, b: int) -> int:
    """First flat index of block ``b`` of ``N_BLOCKS`` over ``n`` items."""
    return (b * n) // N_BLOCKS


@njit(cache=True)
def _serial_sum(partials: np.ndarray) -> float:
    """Sum ``partials`` left to right (deterministic, never split by threads)."""
    s = 0.0
    for b in range(partials.size):
        s += partials[b]
    return s


@njit(inline="always", cache=True)
def _free_neighbour_sum(x: np.ndarray, p: int, f: int, sx: int, sy: int) -> float:
    """Sum of ``x`` over the free neighbours of voxel ``p`` (flag word ``f``)."""
    s = 0.0
    if f & 1:
        s += x[p - sx]
    if f & 2:
        s += x[p + sx]
    if f & 4:
        s += x[p - sy]
    if f & 8:
        s += x[p + sy]
    if f & 16:
        s += x[p - 1]
    if f & 32:
        s += x[p + 1]
    return s


@njit(inline="always", cache=True)
def _held_neighbour_sum(x: np.ndarray, p: int, f: int, sx: int, sy: int) -> float:
    """Sum of ``x`` over the held (Dirichlet) neighbours of voxel ``p``."""
    s = 0.0
    if f & 64:
        s += x[p - sx]
    if f & 128:
        s += x[p + sx]
    if f & 256:
        s += x[p - sy]
    if f & 512:
        s += x[p + sy]
    if f & 1024:
        s += x[p - 1]
    if f & 2048:
        s += x[p + 1]
    return s


@njit(inline="always", cache=True)
def _n_held_neighbours(f: int) -> int:
    """Count the held neighbours encoded in flag word ``f``."""
    n = 0
    for d in range(6):
        if f & (1 << (HELD_NB_SHIFT + d)):
            n += 1
    return n


@njit(cache=True, parallel=True)
def block_dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two flat arrays, summed in ``N_BLOCKS`` fixed blocks.

    Parameters
    ----------
    a, b : (n,) float64

    Returns
    -------
    float
        ``Σ a b``; the same bits for any number of threads.
    """
    n = a.size
    partials = np.zeros(N_BLOCKS)
    for blk in prange(N_BLOCKS):
        s = 0.0
        for p in range(_block_start(n, blk), _block_start(n, blk + 1)):
            s += a[p] * b[p]
        partials[blk] = s
    return _serial_sum(partials)


@njit(cache=True, parallel=True)
def assemble_system(
    x: np.ndarray,
    is_held: np.ndarray,
    nx: int,
    ny: int,
    nz: int,
    r: float,
    dt: float,
    decay: float,
    uptake: np.ndarray,
    supply: np.ndarray,
    target: np.ndarray,
    flags: np.ndarray,
    diag: np.ndarray,
    rhs: np.ndarray,
) -> None:
    """Build the stencil flags, diagonal and right-hand side of one implicit step.

    Parameters
    ----------
    x : (n,) float64, mmHg
        Field at the start of the step, with held voxels already at their values.
    is_held : (n,) bool
        Dirichlet voxels (fixed mask and, if chosen, the domain edge).
    nx, ny, nz : int
        Grid shape (``nz = 1`` in 2D).
    r : float
        ``D Δt / dx²``, dimensionless.
    dt : float, min
    decay : float, 1/min
    uptake, supply : (n,) float64, 1/min
    target : (n,) float64, mmHg
        Supply target ``c*``.
    flags : (n,) uint16
        Output: stencil flag words (module docstring).
    diag : (n,) float64
        Output: ``1 + Δt (λ + u + S) + r × (number of in-domain neighbours)`` for free
        voxels, 1 for held voxels.
    rhs : (n,) float64, mmHg
        Output: ``c⁰ + Δt S c* + r Σ_held-neighbours c``; 0 for held voxels.
    """
    sy = nz
    sx = ny * nz
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                p = i * sx + j * sy + k
                if is_held[p]:
                    flags[p] = 0
                    diag[p] = 1.0
                    rhs[p] = 0.0
                    continue
                f = IS_FREE
                n_nb = 0
                if i > 0:
                    n_nb += 1
                    f |= 64 if is_held[p - sx] else 1
                if i < nx - 1:
                    n_nb += 1
                    f |= 128 if is_held[p + sx] else 2
                if j > 0:
                    n_nb += 1
                    f |= 256 if is_held[p - sy] else 4
                if j < ny - 1:
                    n_nb += 1
                    f |= 512 if is_held[p + sy] else 8
                if k > 0:
                    n_nb += 1
                    f |= 1024 if is_held[p - 1] else 16
                if k < nz - 1:
                    n_nb += 1
                    f |= 2048 if is_held[p + 1] else 32
                flags[p] = f
                diag[p] = 1.0 + dt * (decay + uptake[p] + supply[p]) + r * n_nb
                rhs[p] = (
                    x[p]
                    + dt * supply[p] * target[p]
                    + r * _held_neighbour_sum(x, p, f, sx, sy)
                )


@njit(cache=True, parallel=True)
def apply_operator(
    x: np.ndarray,
    flags: np.ndarray,
    diag: np.ndarray,
    r: float,
    sx: int,
    sy: int,
    out: np.ndarray,
) -> None:
    """Matrix-free product ``out = A x`` (0 on held voxels).

    Parameters
    ----------
    x : (n,) float64
    flags : (n,) uint16
        From :func:`assemble_system`.
    diag : (n,) float64
        From :func:`assemble_system`.
    r : float
        ``D Δt / dx²``.
    sx, sy : int
        Flat strides of the first two axes.
    out : (n,) float64
        Output.
    """
    for p in prange(x.size):
        f = flags[p]
        if f & IS_FREE:
            out[p] = diag[p] * x[p] - r * _free_neighbour_sum(x, p, f, sx, sy)
        else:
            out[p] = 0.0


@njit(cache=True, parallel=True)
def _restart(
    x: np.ndarray,
    rhs: np.ndarray,
    flags: np.ndarray,
    diag: np.ndarray,
    r: float,
    sx: int,
    sy: int,
    res: np.ndarray,
    z: np.ndarray,
    p_dir: np.ndarray,
    part_rz: np.ndarray,
    part_rr: np.ndarray,
) -> None:
    """Set ``r = b − A x`` (true residual), ``z = M⁻¹ r``, ``p = z``; block partials."""
    n = x.size
    for blk in prange(N_BLOCKS):
        s_rz = 0.0
        s_rr = 0.0
        for p in range(_block_start(n, blk), _block_start(n, blk + 1)):
            f = flags[p]
            if f & IS_FREE:
                ax = diag[p] * x[p] - r * _free_neighbour_sum(x, p, f, sx, sy)
                ri = rhs[p] - ax
            else:
                ri = 0.0
            zi = ri / diag[p]
            res[p] = ri
            z[p] = zi
            p_dir[p] = zi
            s_rz += ri * zi
            s_rr += ri * ri
        part_rz[blk] = s_rz
        part_rr[blk] = s_rr


@njit(cache=True, parallel=True)
def _matvec_dot(
    p_dir: np.ndarray,
    flags: np.ndarray,
    diag: np.ndarray,
    r: float,
    sx: int,
    sy: int,
    q: np.ndarray,
    part: np.ndarray,
) -> None:
    """``q = A p`` and the block partials of ``p · q``."""
    n = p_dir.size
    for blk in prange(N_BLOCKS):
        s = 0.0
        for p in range(_block_start(n, blk), _block_start(n, blk + 1)):
            f = flags[p]
            if f & IS_FREE:
                qi = diag[p] * p_dir[p] - r * _free_neighbour_sum(p_dir, p, f, sx, sy)
            else:
                qi = 0.0
            q[p] = qi
            s += p_dir[p] * qi
        part[blk] = s


@njit(cache=True, parallel=True)
def _update(
    alpha: float,
    x: np.ndarray,
    res: np.ndarray,
    z: np.ndarray,
    p_dir: np.ndarray,
    q: np.ndarray,
    diag: np.ndarray,
    part_rz: np.ndarray,
    part_rr: np.ndarray,
) -> None:
    """Do ``x += a p``, ``r −= a q``, ``z = M⁻¹ r``; block partials of r·z and r·r."""
    n = x.size
    for blk in prange(N_BLOCKS):
        s_rz = 0.0
        s_rr = 0.0
        for p in range(_block_start(n, blk), _block_start(n, blk + 1)):
            x[p] += alpha * p_dir[p]
            ri = res[p] - alpha * q[p]
            zi = ri / diag[p]
            res[p] = ri
            z[p] = zi
            s_rz += ri * zi
            s_rr += ri * ri
        part_rz[blk] = s_rz
        part_rr[blk] = s_rr


@njit(cache=True, parallel=True)
def _new_direction(beta: float, z: np.ndarray, p_dir: np.ndarray) -> None:
    """``p = z + β p``."""
    for p in prange(z.size):
        p_dir[p] = z[p] + beta * p_dir[p]


@njit(cache=True, parallel=True)
def _zero_free(x: np.ndarray, flags: np.ndarray) -> None:
    """Set the free voxels of ``x`` to 0 (the solution when ``b = 0``)."""
    for p in prange(x.size):
        if flags[p] & IS_FREE:
            x[p] = 0.0


@njit(cache=True)
def pcg_solve(
    x: np.ndarray,
    rhs: np.ndarray,
    flags: np.ndarray,
    diag: np.ndarray,
    r: float,
    sx: int,
    sy: int,
    rtol: float,
    max_iter: int,
) -> tuple[int, float, bool]:
    """Solve ``A x = b`` by Jacobi-preconditioned conjugate gradients, warm-started.

    The recursive residual drives the iteration; when it meets the tolerance, the true
    residual ``b − A x`` is recomputed and, if that misses the tolerance (loss of
    accuracy in the recurrence), CG restarts from the current ``x``.

    Parameters
    ----------
    x : (n,) float64
        Initial guess on entry (held voxels at their values), solution on return; held
        voxels are never changed.
    rhs : (n,) float64
        Right-hand side, 0 on held voxels.
    flags, diag : (n,) uint16, (n,) float64
        From :func:`assemble_system`.
    r : float
        ``D Δt / dx²``.
    sx, sy : int
        Flat strides of the first two axes.
    rtol : float
        Convergence when ``‖b − A x‖₂ ≤ rtol ‖b‖₂``.
    max_iter : int
        Most CG iterations (matrix-vector products), restarts included.

    Returns
    -------
    iterations : int
    relative_residual : float
        ``‖b − A x‖₂ / ‖b‖₂`` of the returned ``x`` (true residual); 0 if ``b = 0``.
    converged : bool
    """
    n = x.size
    res = np.empty(n)
    z = np.empty(n)
    p_dir = np.empty(n)
    q = np.empty(n)
    part_a = np.zeros(N_BLOCKS)
    part_b = np.zeros(N_BLOCKS)

    bb = block_dot(rhs, rhs)
    if bb == 0.0:
        _zero_free(x, flags)
        return 0, 0.0, True
    tol2 = rtol * rtol * bb
    it = 0
    while True:
        _restart(x, rhs, flags, diag, r, sx, sy, res, z, p_dir, part_a, part_b)
        rz = _serial_sum(part_a)
        rr = _serial_sum(part_b)
        if rr <= tol2 or it >= max_iter:
            break
        progressed = False
        while it < max_iter:
            _matvec_dot(p_dir, flags, diag, r, sx, sy, q, part_a)
            pq = _serial_sum(part_a)
            if not pq > 0.0:
                break  # breakdown (p = 0 or loss of positivity): restart
            alpha = rz / pq
            _update(alpha, x, res, z, p_dir, q, diag, part_a, part_b)
            it += 1
            progressed = True
            rz_new = _serial_sum(part_a)
            rr = _serial_sum(part_b)
            if rr <= tol2:
                break
            _new_direction(rz_new / rz, z, p_dir)
            rz = rz_new
        if not progressed:
            break
    return it, np.sqrt(rr / bb), rr <= tol2


@njit(cache=True, parallel=True)
def mass_balance_terms(
    c_new: np.ndarray,
    c_old: np.ndarray,
    flags: np.ndarray,
    r: float,
    sx: int,
    sy: int,
    dt: float,
    decay: float,
    uptake: np.ndarray,
    supply: np.ndarray,
    target: np.ndarray,
) -> tuple[float, float, float, float, float]:
    """Whole-grid balance terms of one step over the free voxels, per unit volume.

    Parameters
    ----------
    c_new, c_old : (n,) float64, mmHg
        Field after and before the step.
    flags : (n,) uint16
        From :func:`assemble_system`.
    r : float
        ``D Δt / dx²``.
    sx, sy : int
        Flat strides of the first two axes.
    dt : float, min
    decay : float, 1/min
    uptake, supply : (n,) float64, 1/min
    target : (n,) float64, mmHg

    Returns
    -------
    change, decay, uptake, supply, boundary_inflow : float, mmHg
        ``Σ (c¹ − c⁰)``, ``Δt Σ λ c¹``, ``Δt Σ u c¹``, ``Δt Σ S (c* − c¹)`` and
        ``r Σ (c_held − c¹)`` over free voxels and their held neighbours; multiply by
        the voxel volume for amounts.
    """
    n = c_new.size
    parts = np.zeros((5, N_BLOCKS))
    for blk in prange(N_BLOCKS):
        s_change = 0.0
        s_decay = 0.0
        s_uptake = 0.0
        s_supply = 0.0
        s_inflow = 0.0
        for p in range(_block_start(n, blk), _block_start(n, blk + 1)):
            f = flags[p]
            if not f & IS_FREE:
                continue
            c = c_new[p]
            s_change += c - c_old[p]
            s_decay += decay * c
            s_uptake += uptake[p] * c
            s_supply += supply[p] * (target[p] - c)
            n_held = _n_held_neighbours(f)
            if n_held > 0:
                s_inflow += _held_neighbour_sum(c_new, p, f, sx, sy) - n_held * c
        parts[0, blk] = s_change
        parts[1, blk] = s_decay
        parts[2, blk] = s_uptake
        parts[3, blk] = s_supply
        parts[4, blk] = s_inflow
    return (
        _serial_sum(parts[0]),
        dt * _serial_sum(parts[1]),
        dt * _serial_sum(parts[2]),
        dt * _serial_sum(parts[3]),
        r * _serial_sum(parts[4]),
    )


@njit(cache=True, parallel=True)
def voxel_index_kernel(
    pos: np.ndarray,
    n: int,
    lower: np.ndarray,
    dx: float,
    shape: np.ndarray,
    out: np.ndarray,
) -> None:
    """Flat C-order voxel index of the first ``n`` positions, clamped to the grid.

    Parameters
    ----------
    pos : (capacity, dim) float64, µm
    n : int
        Rows to index.
    lower : (dim,) float64, µm
        Lower corner of the grid.
    dx : float, µm
        Voxel edge.
    shape : (dim,) int64
        Grid shape.
    out : (n,) int64
        Output; a coordinate below the grid (or NaN) maps to voxel 0 on that axis, one
        at or above the upper edge to the last voxel.
    """
    dim = shape.size
    for c in prange(n):
        flat = 0
        for a in range(dim):
            t = (pos[c, a] - lower[a]) / dx
            m = shape[a]
            if not t >= 0.0:
                k = 0
            elif t >= m:
                k = m - 1
            else:
                k = int(t)  # t in [0, m): truncation is floor
            flat = flat * m + k
        out[c] = flat


@njit(cache=True)
def counting_sort_by_voxel(
    voxel_of_cell: np.ndarray, n_voxels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort of cells by voxel.

    Parameters
    ----------
    voxel_of_cell : (n,) int64
        Flat voxel index of each cell, in ``[0, n_voxels)``.
    n_voxels : int

    Returns
    -------
    start : (n_voxels + 1,) int64
        Cells of voxel ``v`` are ``order[start[v]:start[v + 1]]``.
    order : (n,) int64
        Cell rows sorted by voxel, in row order within each voxel.
    """
    n = voxel_of_cell.size
    start = np.zeros(n_voxels + 1, dtype=np.int64)
    for c in range(n):
        start[voxel_of_cell[c] + 1] += 1
    for v in range(n_voxels):
        start[v + 1] += start[v]
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for c in range(n):
        v = voxel_of_cell[c]
        order[fill[v]] = c
        fill[v] += 1
    return start, order


@njit(cache=True, parallel=True)
def sum_per_voxel_kernel(
    voxel_of_cell: np.ndarray, values: np.ndarray, n_voxels: int
) -> np.ndarray:
    """Per-voxel sums of cell values, each voxel summing its own cells in row order.

    Parameters
    ----------
    voxel_of_cell : (n,) int64
        In ``[0, n_voxels)``.
    values : (n,) float64
    n_voxels : int

    Returns
    -------
    (n_voxels,) float64
    """
    start, order = counting_sort_by_voxel(voxel_of_cell, n_voxels)
    out = np.empty(n_voxels)
    for v in prange(n_voxels):
        s = 0.0
        for m in range(start[v], start[v + 1]):
            s += values[order[m]]
        out[v] = s
    return out


@njit(cache=True, parallel=True)
def gather_kernel(field: np.ndarray, voxel_of_cell: np.ndarray) -> np.ndarray:
    """Value of a flat field at each cell's voxel.

    Parameters
    ----------
    field : (n_voxels,) float64
    voxel_of_cell : (n,) int64

    Returns
    -------
    (n,) float64
    """
    out = np.empty(voxel_of_cell.size)
    for c in prange(voxel_of_cell.size):
        out[c] = field[voxel_of_cell[c]]
    return out
