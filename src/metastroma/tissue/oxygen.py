"""Oxygen field coupled to the cells: uptake deposited to voxels, concentration gathered back.

SCIENCE.md §2.1 (BioFVM form): ∂c/∂t = D ∇²c − λ c − Σ_i U_i (V_i/V_vox) c + Σ_v S_v (c* − c),
Dirichlet c_far on the domain edge, vessel voxels Dirichlet at c* or finite sources. One
implicit step per phenotype step (``tissue.diffusion.solve_oxygen_step``). Dead cells take
up a tenth of their rate (PC ``start_death``) [C]. V_vox = Δx³ in 2D too (the 2D grid is
one voxel thick, as in PhysiCell).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.config.models import Scenario
from metastroma.kernels import LIVE, rng
from metastroma.tissue.diffusion import (
    DiffusionParams,
    SolveReport,
    VoxelGrid,
    gather_at_cells,
    make_voxel_grid,
    solve_oxygen_step,
    sum_per_voxel,
    voxel_index,
)
from metastroma.tissue.lifecycle import LifecycleTables
from metastroma.tissue.state import Cells

DEAD_UPTAKE_FACTOR = 0.1  # [C] PC Cell::start_death scales uptake by 0.1


@dataclass
class OxygenField:
    """The oxygen concentration and its fixed geometry (vessels, supply)."""

    grid: VoxelGrid
    params: DiffusionParams
    c: F64Array
    fixed: BoolArray | None
    fixed_value: float
    supply: F64Array | None
    supply_target: float
    enabled: bool
    rtol: float
    last: SolveReport | None = None


def vessel_voxels(scenario: Scenario, grid: VoxelGrid) -> I64Array:
    """Flat voxel indices of the scenario's vessels.

    Listed positions mark the voxel holding each. Random vessels (``density_per_mm2``) are
    drawn uniformly in the x–y section at that density (histology counts vessels per mm²
    of a section); in 3D each is a straight vessel along z, marking its whole voxel column.
    """
    v = scenario.oxygen.vessels
    dim = scenario.dim
    lower = np.asarray(scenario.domain.lower_um)
    upper = np.asarray(scenario.domain.upper_um)
    pts = [np.asarray(v.positions_um, dtype=np.float64).reshape(-1, dim)]
    if v.density_per_mm2 > 0:
        area_mm2 = float(np.prod((upper[:2] - lower[:2]) / 1000.0))
        ids = np.arange(round(v.density_per_mm2 * area_mm2), dtype=np.int64)
        uxy = np.stack(
            [
                rng.uniform01_many(scenario.seed, 0, ids, s)
                for s in (rng.VESSEL_X, rng.VESSEL_Y)
            ],
            axis=1,
        )
        xy = lower[:2] + uxy * (upper[:2] - lower[:2])
        if dim == 2:
            pts.append(xy)
        else:
            zs = grid.lower_um[2] + (0.5 + np.arange(grid.shape[2])) * grid.voxel_um
            col = np.repeat(xy, zs.size, axis=0)
            pts.append(np.column_stack([col, np.tile(zs, xy.shape[0])]))
    allp = np.concatenate(pts, axis=0)
    if allp.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(voxel_index(allp, allp.shape[0], grid))


def make_oxygen_field(scenario: Scenario) -> OxygenField:
    """Initial oxygen field (c_0 everywhere, edges and vessels set by the first solve)."""
    o = scenario.oxygen
    d = scenario.domain
    grid = make_voxel_grid(d.lower_um, d.upper_um, d.voxel_um)
    params = DiffusionParams(
        o.diffusivity_um2_per_min, o.decay_per_min, o.dirichlet_edges, o.far_field_mmhg
    )
    c = np.full(grid.shape, o.initial_mmhg, dtype=np.float64)
    vox = vessel_voxels(scenario, grid)
    fixed = supply = None
    if vox.size:
        if o.vessels.mode == "dirichlet":
            fixed = np.zeros(grid.shape, dtype=np.bool_)
            fixed.reshape(-1)[vox] = True
        else:
            supply = np.zeros(grid.shape, dtype=np.float64)
            supply.reshape(-1)[vox] = o.vessels.supply_per_min
    return OxygenField(
        grid,
        params,
        c,
        fixed,
        o.vessels.target_mmhg,
        supply,
        o.vessels.target_mmhg,
        o.enabled,
        o.solver_rtol,
    )


def cell_uptake_per_voxel(
    cells: Cells,
    field: OxygenField,
    tables: LifecycleTables,
    vox: I64Array | None = None,
) -> F64Array:
    """u(x) = Σ_i U_i V_i / V_vox over the cells in each voxel (1/min), grid-shaped.

    ``vox`` is each live cell's voxel (``voxel_index``), computed here if not given.
    """
    if vox is None:
        vox = voxel_index(cells["pos_um"], cells.n_live, field.grid)
    kind = cells.live("kind")
    r = cells.live("radius_um")
    vol = 4.0 / 3.0 * np.pi * r**3
    rate = tables.uptake_per_min[kind] * np.where(
        cells.live("state") == LIVE, 1.0, DEAD_UPTAKE_FACTOR
    )
    per_vox = sum_per_voxel(
        vox, rate * vol / field.grid.voxel_volume_um3, field.grid.n_voxels
    )
    return per_vox.reshape(field.grid.shape)


def update_oxygen(
    cells: Cells, field: OxygenField, tables: LifecycleTables, dt_min: float
) -> None:
    """One implicit oxygen step with the cells' uptake; then each cell reads its voxel."""
    vox = voxel_index(
        cells["pos_um"], cells.n_live, field.grid
    )  # cells do not move here
    if field.enabled:
        uptake = cell_uptake_per_voxel(cells, field, tables, vox)
        field.last = solve_oxygen_step(
            field.c,
            dt_min,
            field.grid,
            field.params,
            uptake,
            supply_per_min=field.supply,
            supply_target_mmhg=field.supply_target,
            fixed=field.fixed,
            fixed_value_mmhg=field.fixed_value,
            rtol=field.rtol,
        )
    read_oxygen(cells, field, vox)


def read_oxygen(cells: Cells, field: OxygenField, vox: I64Array | None = None) -> None:
    """Each live cell reads the concentration of its voxel into ``oxygen_mmhg``."""
    n = cells.n_live
    if vox is None:
        vox = voxel_index(cells["pos_um"], n, field.grid)
    cells["oxygen_mmhg"][:n] = gather_at_cells(field.c.reshape(-1), vox)


def unit_gradient(field: OxygenField) -> F64Array:
    """Unit oxygen gradient per voxel, (n_voxels, dim); zero where the gradient vanishes."""
    parts = list(np.gradient(field.c, field.grid.voxel_um))
    g = np.stack(parts, axis=-1).reshape(-1, field.grid.dim)
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    return np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)
