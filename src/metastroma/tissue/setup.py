"""Initial placement of cells (SCIENCE.md §1; PC template ``setup_tissue`` for 'box').

Random positions come from the counter-based generator keyed by (seed, step 0, cell id,
placement stream), so a placement does not depend on anything but the seed and the ids.
'ball' is uniform in a disc (2D) or ball (3D), 'ring' in an annulus (shell); with ``relax_overlaps`` the cells sit on a
hexagonal (2D) or face-centred cubic (3D) lattice of spacing 2R instead, the n points
nearest the centre. 'box' is uniform in the whole domain, as PhysiCell's template. 'csv'
takes positions read by the caller (tissue code reads no files).
"""

from __future__ import annotations

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.models import KIND_NAMES, Placement, Scenario
from metastroma.kernels import rng
from metastroma.tissue.state import Cells, grown

_STREAMS = (rng.PLACEMENT_X, rng.PLACEMENT_Y, rng.PLACEMENT_Z)


def _uniforms(seed: int, ids: np.ndarray, dim: int) -> F64Array:
    return np.stack(
        [rng.uniform01_many(seed, 0, ids, _STREAMS[a]) for a in range(dim)], axis=1
    )


def _lattice(n: int, spacing: float, dim: int) -> F64Array:
    """The ``n`` points of a hexagonal / fcc lattice nearest the origin."""
    if n == 0:
        return np.zeros((0, dim))
    # points per unit volume: hex 2/(√3 s²), fcc √2/s³; take a box holding ≥ 2n points
    half = spacing * (2.0 * n) ** (1.0 / dim)
    m = int(np.ceil(half / spacing)) + 2
    k = np.arange(-m, m + 1, dtype=np.float64)
    pts: F64Array
    if dim == 2:
        i, j = np.meshgrid(k, k, indexing="ij")
        x = spacing * (i + 0.5 * j)
        y = spacing * (np.sqrt(3.0) / 2.0) * j
        pts = np.stack([x.ravel(), y.ravel()], axis=1)
    else:
        gi, gj, gk = np.meshgrid(k, k, k, indexing="ij")
        a = spacing * np.sqrt(2.0)  # fcc cube edge for nearest-neighbour distance s
        base = np.stack([gi.ravel(), gj.ravel(), gk.ravel()], axis=1) * a
        offs = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]) * a
        pts = (base[:, None, :] + offs[None, :, :]).reshape(-1, 3)
    r2 = np.einsum("ij,ij->i", pts, pts)
    order = np.lexsort((pts[:, 0], pts[:, 1], r2))  # deterministic ties
    return pts[order[:n]]


class PlacementError(ValueError):
    """Initial positions fall outside the domain (nothing is moved silently)."""


def _inside(pos: F64Array, lower: F64Array, upper: F64Array, what: str) -> F64Array:
    out = np.flatnonzero(((pos < lower) | (pos > upper)).any(axis=1))
    if out.size:
        raise PlacementError(
            f"{out.size} of {pos.shape[0]} {what} positions lie outside the domain "
            f"(first: row {int(out[0])} at {np.round(pos[out[0]], 2).tolist()} µm)"
        )
    return pos


def placement_positions(
    p: Placement, scenario: Scenario, first_id: int, csv_positions: F64Array | None
) -> F64Array:
    """Positions (n, dim) µm of one placement; ids ``first_id ...`` key the random draws."""
    dim = scenario.dim
    lower = np.asarray(scenario.domain.lower_um)
    upper = np.asarray(scenario.domain.upper_um)
    if p.shape == "csv":
        assert csv_positions is not None
        return _inside(np.asarray(csv_positions, dtype=np.float64), lower, upper, "csv")
    ids = np.arange(first_id, first_id + p.n_cells, dtype=np.int64)
    if p.shape == "box":
        return lower + _uniforms(scenario.seed, ids, dim) * (upper - lower)
    centre = (
        np.asarray(p.center_um) if p.center_um is not None else 0.5 * (lower + upper)
    )
    radius = getattr(scenario.cell_types, p.kind).radius_um
    if p.relax_overlaps:
        lattice = centre + _lattice(p.n_cells, 2.0 * radius, dim)
        return _inside(lattice, lower, upper, "relax_overlaps lattice")
    u = _uniforms(scenario.seed, ids, dim)
    # radius uniform in area (volume) between the inner and outer radius
    r_in = p.inner_radius_um / p.radius_um if p.shape == "ring" else 0.0
    u[:, 0] = r_in**dim + (1.0 - r_in**dim) * u[:, 0]
    if dim == 2:
        r = p.radius_um * np.sqrt(u[:, 0])
        phi = 2.0 * np.pi * u[:, 1]
        off = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    else:
        r = p.radius_um * np.cbrt(u[:, 0])
        z = 2.0 * u[:, 1] - 1.0
        phi = 2.0 * np.pi * u[:, 2]
        s = np.sqrt(np.maximum(0.0, 1.0 - z * z))
        off = np.stack([r * s * np.cos(phi), r * s * np.sin(phi), r * z], axis=1)
    return _inside(centre + off, lower, upper, "ball")


def initial_cells(
    scenario: Scenario, csv_positions: dict[int, F64Array] | None = None
) -> Cells:
    """Build the initial ``Cells`` from the scenario's placements.

    Parameters
    ----------
    scenario : Scenario
    csv_positions : dict, optional
        Positions (n, dim) µm for each placement index with ``shape: csv``.
    """
    dim = scenario.dim
    csv_positions = csv_positions or {}
    blocks: list[tuple[str, F64Array]] = []
    next_id = 0
    for i, p in enumerate(scenario.initial_cells):
        try:
            pos = placement_positions(p, scenario, next_id, csv_positions.get(i))
        except PlacementError as err:
            raise PlacementError(f"initial_cells[{i}]: {err}") from err
        blocks.append((p.kind, pos))
        next_id += pos.shape[0]
    n = next_id
    capacity = grown(0, max(64, int(n * scenario.numerics.initial_capacity_factor)))
    cells = Cells.empty(dim, capacity)
    row = 0
    for kind_name, pos in blocks:
        m = pos.shape[0]
        ct = getattr(scenario.cell_types, kind_name)
        sl = slice(row, row + m)
        cells["pos_um"][sl] = pos
        cells["kind"][sl] = int(KIND_NAMES[kind_name])
        cells["radius_um"][sl] = ct.radius_um
        row += m
    cells["cell_id"][:n] = np.arange(n, dtype=np.int64)
    cells.n_live = n
    cells.next_id = n
    return cells
