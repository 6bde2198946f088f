"""Cell mechanics: PhysiCell potentials, overdamped motion, neighbour grid (SCIENCE.md §1.2).

Overdamped motion with the drag folded into the coefficients, so forces are velocities:

    ẋ_i = Σ_j [v_r(ij) + v_a(ij)] + m_i,
    v_r(ij) =  c_r,ij (1 − d/R_ij)² (x_i − x_j)/d      for d < R_ij = R_i + R_j,
    v_a(ij) = −c_a,ij (1 − d/S_ij)² (x_i − x_j)/d      for d < S_ij = ℓ_i R_i + ℓ_j R_j,
    c_r,ij = √(c_r,i c_r,j),   c_a,ij = √(c_a,i α_i(τ_j) · c_a,j α_j(τ_i)),

integrated with Adams–Bashforth 2 (Euler on a cell's first step) [C PC
``Cell::update_position``]; a virtual wall at the domain edge repels cells closer than
their radius with c_BM (1 − d/R)² [C PC]. Pairs are found on a uniform grid whose bins are
at least the largest interaction distance, filled by a stable counting sort (no capacity
per bin), so each cell scans its own and the 3^dim − 1 surrounding bins.

Parameter values and sources: ``config.MechanicsConfig`` and docs/tissue-model.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from metastroma._typing import F64Array, I64Array
from metastroma.config.models import KIND_NAMES, Scenario
from metastroma.kernels import Backend
from metastroma.tissue.state import Cells

N_KINDS = len(KIND_NAMES)


class MechanicsTables(NamedTuple):
    """Per-kind and per-pair mechanics tables handed to the kernels.

    Attributes
    ----------
    reach : (n_kinds,) float64
        ℓ, relative maximum adhesion distance.
    cr_pair, ca_pair : (n_kinds, n_kinds) float64, µm/min
    max_interaction_um : float
        Largest max(R_ij, S_ij) over the defined kinds: the minimum bin edge.
    max_adhesion_um : float
        Largest S_ij over the defined kinds (the contact distance of §1.2).
    """

    reach: F64Array
    cr_pair: F64Array
    ca_pair: F64Array
    max_interaction_um: float
    max_adhesion_um: float


class NeighbourGrid(NamedTuple):
    """Uniform bins over the domain, filled by a stable counting sort.

    Attributes
    ----------
    lower : (dim,) float64, µm
        Lower corner of the box of occupied bins.
    bin_um : (dim,) float64, µm
    n_bins : (dim,) int64
        Bins of the box per axis.
    bins : (n,) int64
        Flat bin of each live row, in the box.
    start : (n_total + 1,) int64
    order : (n,) int64
        Rows grouped by bin, row order within a bin.
    span : int
        Bins to scan on each side of a cell's own bin (span × bin ≥ the reach).
    """

    lower: F64Array
    bin_um: F64Array
    n_bins: I64Array
    bins: I64Array
    start: I64Array
    order: I64Array
    span: int = 1


def mechanics_tables(scenario: Scenario) -> MechanicsTables:
    """Build the per-pair coefficient tables from the scenario's cell types."""
    reach = np.ones(N_KINDS)
    cr = np.zeros(N_KINDS)
    ca = np.zeros(N_KINDS)
    affinity = np.ones((N_KINDS, N_KINDS))
    radius = np.zeros(N_KINDS)
    defined = []
    for kind, ct in scenario.cell_types.items():
        m = ct.mechanics
        reach[kind] = m.relative_max_adhesion_distance
        cr[kind] = m.repulsion_um_per_min
        ca[kind] = m.adhesion_um_per_min
        radius[kind] = ct.radius_um
        for other, a in m.adhesion_affinity.items():
            affinity[kind, KIND_NAMES[other]] = a
        defined.append(int(kind))
    cr_pair = np.sqrt(np.outer(cr, cr))
    ca_pair = np.sqrt((ca[:, None] * affinity) * (ca[None, :] * affinity.T))
    dist = 0.0
    adh = 0.0
    for i in defined:
        for j in defined:
            s_ij = reach[i] * radius[i] + reach[j] * radius[j]
            dist = max(dist, s_ij, radius[i] + radius[j])
            adh = max(adh, s_ij)
    return MechanicsTables(reach, cr_pair, ca_pair, dist, adh)


def neighbour_grid_shape(
    lower_um: F64Array, upper_um: F64Array, reach_um: float, span: int = 1
) -> tuple[F64Array, I64Array]:
    """Bin edges (≥ ``reach_um / span``) and counts per axis that tile the domain.

    Scanning ``span`` bins on each side of a cell's bin then covers ``reach_um``. Bins of
    half the reach with ``span = 2`` cover a (5/6)^dim share of the area (volume) that
    reach-wide bins with ``span = 1`` do, so the contact kernels test fewer pairs
    (``NEIGHBOUR_SPAN``).
    """
    extent = np.asarray(upper_um, dtype=np.float64) - np.asarray(
        lower_um, dtype=np.float64
    )
    min_bin_um = max(reach_um / span, 1e-9)
    n_bins = np.maximum(1, np.floor(extent / min_bin_um)).astype(np.int64)
    return extent / n_bins, n_bins


def build_neighbour_grid(
    cells: Cells,
    lower_um: F64Array,
    bin_um: F64Array,
    n_bins: I64Array,
    backend: Backend,
    span: int = 1,
) -> NeighbourGrid:
    """Bin the live cells (stable counting sort) on the box of bins that holds them.

    The bins are the domain's (``neighbour_grid_shape``); only the box from the lowest to
    the highest occupied bin per axis is kept, so a small tumour in a large domain does
    not pay for empty bins. Flat indices keep the domain grid's C order, so the sort
    order is the same as on the whole grid.
    """
    n = cells.n_live
    bins, k0, box = backend.bin_of_cells(cells["pos_um"], n, lower_um, bin_um, n_bins)
    start, order = backend.counting_sort(bins, int(math.prod(box.tolist())))
    return NeighbourGrid(lower_um + k0 * bin_um, bin_um, box, bins, start, order, span)


def contact_velocity(
    cells: Cells, tables: MechanicsTables, grid: NeighbourGrid, backend: Backend
) -> None:
    """Fill ``cells['vel_um_per_min']`` (live rows) with the cell–cell contact velocity."""
    backend.contact_velocity(
        cells["pos_um"],
        cells["radius_um"],
        cells["kind"],
        cells.n_live,
        tables.reach,
        tables.cr_pair,
        tables.ca_pair,
        grid.lower,
        grid.bin_um,
        grid.n_bins,
        grid.start,
        grid.order,
        grid.bins,
        cells["adhesion_scale"],
        cells["vel_um_per_min"],
        grid.span,
    )


def sort_by_bin(cells: Cells, grid: NeighbourGrid) -> NeighbourGrid:
    """Reorder rows so that cells of a bin are adjacent (memory locality).

    As HOOMD's ``SFCPackTuner``; the order is the counting sort's, so it is deterministic.

    Returns
    -------
    NeighbourGrid
        The same grid for the reordered rows (bins permuted, ``order`` the identity).
    """
    cells.permute(grid.order)
    n = cells.n_live
    return grid._replace(bins=grid.bins[grid.order], order=np.arange(n, dtype=np.int64))
