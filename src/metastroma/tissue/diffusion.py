r"""Oxygen diffusion, decay, uptake and supply on a voxel grid, one implicit step.

Model
-----
Oxygen ``c`` (mmHg) obeys the BioFVM reaction-diffusion equation (SCIENCE.md §2.1;
Ghaffarizadeh et al. 2016)::

    ∂c/∂t = D ∇²c − λ c − u(x) c + S(x) (c* − c)

with ``D`` the diffusivity (µm²/min), ``λ`` the background decay (1/min), ``u`` the
per-voxel uptake rate (1/min; the caller computes ``u = Σ_i U_i V_i / V_vox`` over the
cells in each voxel with :func:`sum_per_voxel`) and ``S ≥ 0`` a per-voxel supply rate
(1/min) toward a target ``c*`` (mmHg): finite vessel sources. Parameter values and
sources are in SCIENCE.md §2.2 and the oxygen config.

Grid
----
A field is an array of shape ``(nx, ny)`` or ``(nx, ny, nz)``, float64, mmHg; index
``[i, j(, k)]`` is the voxel whose centre is at ``lower_um + (i + 0.5) dx`` along x (the
first axis), and so on. The voxel volume is ``V = dx³`` in 2D as in 3D: a 2D grid is one
voxel thick (the PhysiCell/BioFVM convention), so amounts are ``c × dx³`` mmHg·µm³.

Discretisation
--------------
Backward Euler in time and the 5-point (2D) or 7-point (3D) Laplacian in space; with
``r = D Δt / dx²`` each free voxel ``p`` satisfies::

    (1 + Δt (λ + u_p + S_p)) c¹_p − r Σ_{q ∈ nb(p)} (c¹_q − c¹_p) = c⁰_p + Δt S_p c*_p

where ``nb(p)`` are the in-domain face neighbours. The scheme is unconditionally
stable (``r = 1500`` at the 6-min phenotype step, ``D = 10⁵ µm²/min``, ``dx = 20 µm``),
monotone and positive: a non-negative start with non-negative sources stays
non-negative.

Boundaries
----------
Dirichlet voxels are held at a value and are not solved for (BioFVM convention:
Dirichlet nodes are voxels, not faces). They are the ``fixed`` mask (vessel voxels in
the ``S → ∞`` limit, at ``fixed_value_mmhg``) and, with ``dirichlet_edges``, the
outermost layer of voxels (the far field, at ``edge_value_mmhg``); where both apply,
the fixed mask wins. Their values move to the right-hand side of their free
neighbours. Without ``dirichlet_edges`` the domain edge is zero-flux (Neumann): a
missing neighbour simply drops out of the stencil.

Solver
------
The free-voxel system is symmetric positive definite (diagonally dominant, positive
diagonal). It is solved matrix-free by Jacobi-preconditioned conjugate gradients
(:mod:`metastroma.kernels._cpu_diffusion`), warm-started from ``c⁰``, until
``‖b − A c¹‖₂ ≤ rtol ‖b‖₂`` (true residual, free voxels). Dot products are summed in a
fixed number of blocks, so the result has the same bits on 1 or 2 numba threads.

Mass balance
------------
Summing the voxel equations over the free voxels cancels the free-free fluxes, leaving::

    change = supply + boundary_inflow − uptake − decay

to solver tolerance (:class:`SolveReport`); ``boundary_inflow`` is the diffusive flux
from held voxels into free ones, ``Δt D dx Σ (c_held − c_free)`` over held-free faces.

References
----------
.. [1] Ghaffarizadeh A, Friedman SH, Macklin P. BioFVM: an efficient, parallelized
   diffusive transport solver for 3-D biological simulations. Bioinformatics
   2016;32(8):1256-1258.
.. [2] SCIENCE.md §2 (oxygen: equation, boundary conditions, parameters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.kernels import _cpu_diffusion as _k

__all__ = [
    "DiffusionParams",
    "SolveReport",
    "SolverDidNotConvergeError",
    "VoxelGrid",
    "gather_at_cells",
    "make_voxel_grid",
    "solve_oxygen_step",
    "sum_per_voxel",
    "voxel_index",
]


class SolverDidNotConvergeError(RuntimeError):
    """The conjugate-gradient solve missed its tolerance within ``max_iter`` iterations.

    Attributes
    ----------
    iterations : int
        Iterations done.
    relative_residual : float
        ``‖b − A c‖₂ / ‖b‖₂`` reached.
    rtol : float
        Tolerance asked for.
    """

    def __init__(self, iterations: int, relative_residual: float, rtol: float) -> None:
        self.iterations = iterations
        self.relative_residual = relative_residual
        self.rtol = rtol
        super().__init__(
            f"oxygen solve did not converge: relative residual {relative_residual:.3e}"
            f" > rtol {rtol:.3e} after {iterations} CG iterations (raise max_iter,"
            " loosen rtol or shorten dt_min)"
        )


class VoxelGrid(NamedTuple):
    """A regular voxel grid in 2D or 3D.

    Attributes
    ----------
    lower_um : tuple of float, µm
        Lower corner of the domain, one value per axis (x first).
    voxel_um : float, µm
        Voxel edge length ``dx``.
    shape : tuple of int
        ``(nx, ny)`` or ``(nx, ny, nz)``.
    """

    lower_um: tuple[float, ...]
    voxel_um: float
    shape: tuple[int, ...]

    @property
    def dim(self) -> int:
        """Number of spatial dimensions, 2 or 3."""
        return len(self.shape)

    @property
    def n_voxels(self) -> int:
        """Total number of voxels."""
        return math.prod(self.shape)

    @property
    def voxel_volume_um3(self) -> float:
        """Voxel volume ``dx³``, µm³, in 2D too (a 2D grid is one voxel thick)."""
        return float(self.voxel_um) ** 3

    @property
    def upper_um(self) -> tuple[float, ...]:
        """Upper corner of the domain, µm."""
        return tuple(
            lo + n * self.voxel_um
            for lo, n in zip(self.lower_um, self.shape, strict=True)
        )

    def centres(self, axis: int) -> F64Array:
        """Voxel-centre coordinates along one axis.

        Parameters
        ----------
        axis : int
            0 (x), 1 (y) or 2 (z).

        Returns
        -------
        (shape[axis],) float64, µm
            ``lower_um[axis] + (i + 0.5) voxel_um``.

        Examples
        --------
        >>> make_voxel_grid([0.0, 0.0], [60.0, 40.0], 20.0).centres(0).tolist()
        [10.0, 30.0, 50.0]
        """
        i = np.arange(self.shape[axis], dtype=np.float64)
        out: F64Array = self.lower_um[axis] + (i + 0.5) * self.voxel_um
        return out


def make_voxel_grid(
    lower_um: Sequence[float], upper_um: Sequence[float], voxel_um: float
) -> VoxelGrid:
    """Build the voxel grid that tiles a box exactly.

    Parameters
    ----------
    lower_um, upper_um : sequence of float, µm
        Corners of the box, length 2 or 3 (x first).
    voxel_um : float, µm
        Voxel edge, > 0.

    Returns
    -------
    VoxelGrid
        ``shape[a] = round((upper_um[a] − lower_um[a]) / voxel_um)``.

    Raises
    ------
    ValueError
        If the dimensions disagree or are not 2 or 3, ``voxel_um ≤ 0``, a side is not
        positive, or a side is not a whole number of voxels (relative tolerance 1e-9).

    Examples
    --------
    >>> make_voxel_grid([0.0, 0.0, -100.0], [200.0, 100.0, 100.0], 20.0).shape
    (10, 5, 10)
    """
    lo = tuple(float(v) for v in lower_um)
    hi = tuple(float(v) for v in upper_um)
    if len(lo) != len(hi) or len(lo) not in (2, 3):
        raise ValueError(
            f"lower_um {lo} and upper_um {hi} must both have length 2 or 3"
        )
    if not voxel_um > 0 or not math.isfinite(voxel_um):
        raise ValueError(f"voxel_um = {voxel_um}: must be > 0 and finite (µm)")
    shape = []
    for axis, (a, b) in enumerate(zip(lo, hi, strict=True)):
        n = (b - a) / voxel_um
        if not n > 0 or not math.isfinite(n):
            raise ValueError(f"axis {axis}: upper_um {b} must exceed lower_um {a} (µm)")
        n_int = round(n)
        if n_int < 1 or abs(n - n_int) > 1e-9 * n:
            raise ValueError(
                f"axis {axis}: side {b - a} µm is {n} voxels of {voxel_um} µm;"
                " must be a whole number"
            )
        shape.append(int(n_int))
    return VoxelGrid(lower_um=lo, voxel_um=float(voxel_um), shape=tuple(shape))


class DiffusionParams(NamedTuple):
    """Parameters of one diffusing field (values and sources in the oxygen config).

    Attributes
    ----------
    diffusivity_um2_per_min : float, µm²/min
        ``D > 0``.
    decay_per_min : float, 1/min
        Background decay ``λ ≥ 0``.
    dirichlet_edges : bool
        Hold the outermost voxel layer at ``edge_value_mmhg`` (far field); otherwise
        the domain edge is zero-flux.
    edge_value_mmhg : float, mmHg
        Far-field value.
    """

    diffusivity_um2_per_min: float
    decay_per_min: float
    dirichlet_edges: bool
    edge_value_mmhg: float


@dataclass(frozen=True)
class SolveReport:
    """Diagnostics of one implicit step.

    Balance terms are amounts over the whole step, mmHg·µm³ (concentration × volume),
    summed over the free (not held) voxels.

    Attributes
    ----------
    iterations : int
        CG iterations.
    relative_residual : float
        ``‖b − A c¹‖₂ / ‖b‖₂`` of the result.
    change : float
        ``Σ (c¹ − c⁰) V``.
    decay : float
        ``Δt Σ λ c¹ V``.
    uptake : float
        ``Δt Σ u c¹ V``.
    supply : float
        ``Δt Σ S (c* − c¹) V`` (negative where ``c¹ > c*``).
    boundary_inflow : float
        ``Δt ×`` diffusive flux from held (Dirichlet) voxels into free voxels.
    """

    iterations: int
    relative_residual: float
    change: float
    decay: float
    uptake: float
    supply: float
    boundary_inflow: float

    @property
    def imbalance(self) -> float:
        """``change − (supply + boundary_inflow − uptake − decay)``, mmHg·µm³."""
        return self.change - (
            self.supply + self.boundary_inflow - self.uptake - self.decay
        )


def _field(name: str, value: F64Array | float, shape: tuple[int, ...]) -> F64Array:
    """Flat, contiguous float64 copy of a scalar or an array of the grid's shape."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(math.prod(shape), float(arr))
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; the grid's is {shape}")
    return np.ascontiguousarray(arr).reshape(-1)


def _nonnegative(name: str, arr: F64Array) -> None:
    """Raise ValueError unless every value is finite and ≥ 0."""
    if arr.size and not (np.all(arr >= 0.0) and np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must be finite and >= 0 (1/min); min {arr.min()}")


def solve_oxygen_step(
    c: F64Array,
    dt_min: float,
    grid: VoxelGrid,
    params: DiffusionParams,
    uptake_per_min: F64Array,
    supply_per_min: F64Array | None = None,
    supply_target_mmhg: F64Array | float = 0.0,
    fixed: BoolArray | None = None,
    fixed_value_mmhg: F64Array | float = 0.0,
    rtol: float = 1e-10,
    max_iter: int = 10_000,
) -> SolveReport:
    """Advance the field one backward-Euler step, in place.

    Solves ``(c¹ − c⁰)/Δt = D ∇²c¹ − λ c¹ − u c¹ + S (c* − c¹)`` on the free voxels
    (module docstring), with held voxels at their Dirichlet values.

    Parameters
    ----------
    c : (nx, ny) or (nx, ny, nz) float64, mmHg
        ``c⁰`` on entry, ``c¹`` on return; C-contiguous, ``grid.shape``. Held voxels
        (``fixed`` and, with ``params.dirichlet_edges``, the outermost layer) are set
        to their values. Unchanged if the solver raises.
    dt_min : float, min
        Time step, > 0.
    grid : VoxelGrid
    params : DiffusionParams
    uptake_per_min : grid.shape float64, 1/min
        Per-voxel uptake rate ``u ≥ 0`` (``Σ_i U_i V_i / V_vox``).
    supply_per_min : grid.shape float64, 1/min, optional
        Per-voxel supply rate ``S ≥ 0``; none if omitted.
    supply_target_mmhg : grid.shape float64 or float, mmHg
        Supply target ``c*``.
    fixed : grid.shape bool, optional
        Voxels held at ``fixed_value_mmhg`` (they win over the Dirichlet edge).
    fixed_value_mmhg : grid.shape float64 or float, mmHg
        Values of the fixed voxels (read where ``fixed`` is True).
    rtol : float
        Relative tolerance on the residual 2-norm, > 0.
    max_iter : int
        Most CG iterations, ≥ 0.

    Returns
    -------
    SolveReport
        Iterations, residual and the step's mass-balance terms.

    Raises
    ------
    SolverDidNotConvergeError
        If the residual misses ``rtol`` after ``max_iter`` iterations.
    ValueError
        On a wrong shape, dtype or layout, or a negative or non-finite rate.

    References
    ----------
    .. [1] Ghaffarizadeh et al. 2016, Bioinformatics 32:1256 (BioFVM); SCIENCE.md §2.

    Examples
    --------
    >>> grid = make_voxel_grid([0.0, 0.0], [60.0, 60.0], 20.0)
    >>> params = DiffusionParams(1.0e5, 0.1, True, 38.0)
    >>> c = np.zeros(grid.shape)
    >>> report = solve_oxygen_step(c, 6.0, grid, params, np.zeros(grid.shape))
    >>> round(float(c[1, 1]), 6)  # (4 r × 38) / (1 + 0.6 + 4 r), r = 1500
    37.989869
    """
    shape = tuple(grid.shape)
    if not isinstance(c, np.ndarray) or c.dtype != np.float64 or c.shape != shape:
        raise ValueError(f"c must be a float64 array of the grid's shape {shape}")
    if not c.flags.c_contiguous:
        raise ValueError("c must be C-contiguous (it is updated in place)")
    if not (dt_min > 0 and math.isfinite(dt_min)):
        raise ValueError(f"dt_min = {dt_min}: must be > 0 (min)")
    if not params.diffusivity_um2_per_min > 0:
        raise ValueError(
            f"diffusivity_um2_per_min = {params.diffusivity_um2_per_min}: must be > 0"
        )
    if not params.decay_per_min >= 0:
        raise ValueError(f"decay_per_min = {params.decay_per_min}: must be >= 0")
    if not rtol > 0:
        raise ValueError(f"rtol = {rtol}: must be > 0")
    if max_iter < 0:
        raise ValueError(f"max_iter = {max_iter}: must be >= 0")

    uptake = _field("uptake_per_min", uptake_per_min, shape)
    _nonnegative("uptake_per_min", uptake)
    if supply_per_min is None:
        supply = np.zeros(grid.n_voxels)
    else:
        supply = _field("supply_per_min", supply_per_min, shape)
        _nonnegative("supply_per_min", supply)
    target = _field("supply_target_mmhg", supply_target_mmhg, shape)

    x = c.copy()
    is_held = np.zeros(shape, dtype=np.bool_)
    if params.dirichlet_edges:
        for axis in range(len(shape)):
            lo: list[slice | int] = [slice(None)] * len(shape)
            hi: list[slice | int] = [slice(None)] * len(shape)
            lo[axis] = 0
            hi[axis] = -1
            is_held[tuple(lo)] = True
            is_held[tuple(hi)] = True
        x[is_held] = params.edge_value_mmhg
    if fixed is not None:
        fixed_arr = np.asarray(fixed)
        if fixed_arr.shape != shape or fixed_arr.dtype != np.bool_:
            raise ValueError(f"fixed must be a bool array of the grid's shape {shape}")
        values = np.asarray(fixed_value_mmhg, dtype=np.float64)
        if values.ndim == 0:
            x[fixed_arr] = float(values)
        elif values.shape == shape:
            x[fixed_arr] = values[fixed_arr]
        else:
            raise ValueError(
                f"fixed_value_mmhg has shape {values.shape}; the grid's is {shape}"
            )
        is_held |= fixed_arr

    nx, ny = shape[0], shape[1]
    nz = shape[2] if len(shape) == 3 else 1
    sy = nz
    sx = ny * nz
    dx = float(grid.voxel_um)
    dt = float(dt_min)
    decay = float(params.decay_per_min)
    r = float(params.diffusivity_um2_per_min) * dt / (dx * dx)

    x_flat = x.reshape(-1)
    c_old = c.reshape(-1)
    n = x_flat.size
    flags = np.empty(n, dtype=np.uint16)
    diag = np.empty(n)
    rhs = np.empty(n)
    _k.assemble_system(
        x_flat,
        is_held.reshape(-1),
        nx,
        ny,
        nz,
        r,
        dt,
        decay,
        uptake,
        supply,
        target,
        flags,
        diag,
        rhs,
    )
    iterations, rel_res, converged = _k.pcg_solve(
        x_flat, rhs, flags, diag, r, sx, sy, float(rtol), int(max_iter)
    )
    if not converged:
        raise SolverDidNotConvergeError(int(iterations), float(rel_res), float(rtol))
    terms = _k.mass_balance_terms(
        x_flat, c_old, flags, r, sx, sy, dt, decay, uptake, supply, target
    )
    c[...] = x
    vol = grid.voxel_volume_um3
    return SolveReport(
        iterations=int(iterations),
        relative_residual=float(rel_res),
        change=terms[0] * vol,
        decay=terms[1] * vol,
        uptake=terms[2] * vol,
        supply=terms[3] * vol,
        boundary_inflow=terms[4] * vol,
    )


def voxel_index(pos_um: F64Array, n: int, grid: VoxelGrid) -> I64Array:
    """Flat C-order voxel index of each of the first ``n`` positions.

    Parameters
    ----------
    pos_um : (capacity, dim) float64, µm
        Cell centres; rows ``n:`` are ignored.
    n : int
        Number of live rows, ``0 ≤ n ≤ capacity``.
    grid : VoxelGrid

    Returns
    -------
    (n,) int64
        ``np.ravel_multi_index(floor((pos − lower) / dx), shape)``; a position outside
        the grid is clamped to the nearest edge voxel.

    Raises
    ------
    ValueError
        If ``pos_um`` is not ``(capacity, grid.dim)`` or ``n`` is out of range.

    Examples
    --------
    >>> grid = make_voxel_grid([0.0, 0.0], [60.0, 40.0], 20.0)
    >>> voxel_index(np.array([[25.0, 5.0], [-3.0, 99.0]]), 2, grid).tolist()
    [2, 1]
    """
    pos = np.asarray(pos_um, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != grid.dim:
        raise ValueError(
            f"pos_um has shape {pos.shape}; expected (capacity, {grid.dim})"
        )
    if not 0 <= n <= pos.shape[0]:
        raise ValueError(f"n = {n}: must be in [0, {pos.shape[0]}]")
    out = np.empty(n, dtype=np.int64)
    _k.voxel_index_kernel(
        pos,
        int(n),
        np.asarray(grid.lower_um, dtype=np.float64),
        float(grid.voxel_um),
        np.asarray(grid.shape, dtype=np.int64),
        out,
    )
    return out


def _check_voxels(voxel_of_cell: I64Array, n_voxels: int) -> I64Array:
    """Contiguous int64 voxel indices, checked to lie in ``[0, n_voxels)``."""
    v = np.ascontiguousarray(voxel_of_cell, dtype=np.int64)
    if v.ndim != 1:
        raise ValueError(f"voxel_of_cell must be 1-D, got shape {v.shape}")
    if v.size and (v.min() < 0 or v.max() >= n_voxels):
        raise ValueError(
            f"voxel_of_cell spans [{v.min()}, {v.max()}]; must be in [0, {n_voxels})"
        )
    return v


def sum_per_voxel(voxel_of_cell: I64Array, values: F64Array, n_voxels: int) -> F64Array:
    """Sum cell values per voxel, deterministically (gather, not scatter).

    Cells are binned by a stable counting sort, then each voxel sums its own cells in
    row order, so the result has the same bits for any number of threads.

    Parameters
    ----------
    voxel_of_cell : (n,) int64
        Flat voxel index of each cell (:func:`voxel_index`), in ``[0, n_voxels)``.
    values : (n,) float64
        Per-cell quantity, e.g. ``U_i V_i / V_vox`` (1/min) for the uptake field.
    n_voxels : int

    Returns
    -------
    (n_voxels,) float64
        Flat C-order; reshape to ``grid.shape``.

    Raises
    ------
    ValueError
        On mismatched lengths or an index out of range.

    Examples
    --------
    >>> sum_per_voxel(np.array([2, 0, 2]), np.array([1.0, 2.0, 3.0]), 3).tolist()
    [2.0, 0.0, 4.0]
    """
    v = _check_voxels(voxel_of_cell, n_voxels)
    vals = np.ascontiguousarray(values, dtype=np.float64)
    if vals.shape != v.shape:
        raise ValueError(f"values has shape {vals.shape}; voxel_of_cell has {v.shape}")
    return _k.sum_per_voxel_kernel(v, vals, int(n_voxels))


def gather_at_cells(field: F64Array, voxel_of_cell: I64Array) -> F64Array:
    """Field value at each cell's voxel.

    Parameters
    ----------
    field : grid.shape or (n_voxels,) float64
        E.g. oxygen, mmHg; read in flat C order.
    voxel_of_cell : (n,) int64
        Flat voxel index of each cell (:func:`voxel_index`).

    Returns
    -------
    (n,) float64
        ``field.ravel()[voxel_of_cell]``, same unit as ``field``.

    Raises
    ------
    ValueError
        If an index is out of range.

    Examples
    --------
    >>> gather_at_cells(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([3, 0])).tolist()
    [4.0, 1.0]
    """
    flat = np.ascontiguousarray(field, dtype=np.float64).reshape(-1)
    v = _check_voxels(voxel_of_cell, flat.size)
    return _k.gather_kernel(flat, v)
