"""Vessel doorways and intravasation: the tissue's hand-off to the body scale (SCIENCE.md §5.6).

Cancer cells enter the blood only at doorways (TMEM sites; Harney 2015 [V], Wyckoff 2007
[V]). Doorways are fixed points at a density n_door per mm² of the x–y section (placed by
the seeded generator), at given positions, and optionally at every oxygen vessel; in 3D
each doorway is a vessel line along z, so distances to it are measured in x–y. A live
cancer cell within one diameter (``capture_radii`` R) of its nearest doorway leaves with
hazard

    h = h₀ (1 + g_i A)(1 + g_f a cos² ψ),

ψ the angle between its element's fibre director and the direction to the doorway
(Han 2016 [V]); per phenotype step the exit probability is 1 − e^{−h Δt}. With probability
p_cl the leaving cell takes its contacting cancer-cell neighbours (d < S_ij) along: a
cluster. Each exit is an event row (time, ids, cluster size, D and A of the cells, local
ρ, a, ψ) collected by the caller into ``events.parquet``; the cells are removed.

Lymphatic doorways (off by default) follow the same rule with the same h₀ and gains
(§5.6): random ones at n_lymph per mm² (own streams ``LYMPH_DOORWAY_X``/``_Y``, the same
exclusion radius) and given ones. They are appended after the blood doorways, so a cell
takes its nearest doorway of either kind, and each doorway's vessel (:class:`Vessel`)
names the vessel of its events. How many shed cells end in lymph at the body scale is
f_lymph (§7.3); tissue-scale lymphatic doorways only split the tissue's own exits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from metastroma._typing import F64Array, I8Array
from metastroma.config.models import Scenario
from metastroma.kernels import Backend, rng
from metastroma.tissue.ecm import EcmField
from metastroma.tissue.mechanics import NeighbourGrid
from metastroma.tissue.setup import PlacementError
from metastroma.tissue.state import Cells


class Vessel(IntEnum):
    """Vessel a doorway opens into, stored as ``int8`` per doorway; append, never renumber."""

    BLOOD = 0
    LYMPH = 1


#: ``events.parquet`` ``vessel`` value of each :class:`Vessel`, indexed by its value.
VESSEL_NAMES = ("blood", "lymph")


def _random_doorways(
    scenario: Scenario, density_per_mm2: float, streams: tuple[int, int], what: str
) -> F64Array:
    """(n, 2) random doorway positions (µm) at a density, away from the domain centre.

    n = density × (x–y area in mm²) rounded half up; uniform in the x–y section (the two
    streams keyed by the doorway index), at least ``exclusion_radius_um`` from the domain
    centre (redrawn with a new key until they are).

    Raises
    ------
    PlacementError
        If the exclusion leaves too little room; the message names ``what``.
    """
    cfg = scenario.intravasation
    lo = np.asarray(scenario.domain.lower_um[:2], dtype=np.float64)
    hi = np.asarray(scenario.domain.upper_um[:2], dtype=np.float64)
    area_mm2 = float(np.prod(hi - lo)) * 1e-6
    n = math.floor(density_per_mm2 * area_mm2 + 0.5)
    mid = 0.5 * (lo + hi)
    if n <= 0:
        return np.zeros((0, 2))
    found: list[F64Array] = []
    key = 0
    while sum(len(f) for f in found) < n and key < 1000 * n:
        ids = np.arange(key, key + 4 * n, dtype=np.int64)
        key += 4 * n
        u = np.stack(
            [
                rng.uniform01_many(scenario.seed, 0, ids, streams[0]),
                rng.uniform01_many(scenario.seed, 0, ids, streams[1]),
            ],
            axis=1,
        )
        p = lo + u * (hi - lo)
        ok = np.hypot(*(p - mid).T) >= cfg.exclusion_radius_um
        found.append(p[ok])
    pts = np.concatenate(found)[:n]
    if pts.shape[0] < n:
        raise PlacementError(
            f"intravasation.exclusion_radius_um = {cfg.exclusion_radius_um:g}: leaves "
            f"room for {pts.shape[0]} of the {n} random {what} (µm)"
        )
    return pts


def _given(points: list[list[float]]) -> F64Array:
    """(n, 2) x–y parts of configured points (a z is ignored)."""
    return np.asarray([p[:2] for p in points], dtype=np.float64).reshape(-1, 2)


def doorway_positions(
    scenario: Scenario, vessel_xy_um: F64Array | None = None
) -> F64Array:
    """(n_doors, 2) x–y positions of the blood doorways (µm).

    Random doorways: the expected count n_door × (x–y area in mm²) rounded half up to an
    integer, uniform in the x–y section (streams ``DOORWAY_X``/``DOORWAY_Y`` keyed by the
    doorway index), at least ``exclusion_radius_um`` from the domain centre (redrawn with a
    new key until they are). Then the given positions, then the oxygen vessels if asked.

    Raises
    ------
    PlacementError
        If the exclusion leaves too little room for the random doorways.
    """
    cfg = scenario.intravasation
    pts = _random_doorways(
        scenario,
        cfg.doorway_density_per_mm2,
        (rng.DOORWAY_X, rng.DOORWAY_Y),
        "doorways",
    )
    parts = [pts, _given(cfg.doorway_positions_um)]
    if cfg.doorways_on_oxygen_vessels and vessel_xy_um is not None:
        parts.append(np.asarray(vessel_xy_um, dtype=np.float64).reshape(-1, 2))
    return np.ascontiguousarray(np.concatenate(parts))


def lymphatic_doorway_positions(scenario: Scenario) -> F64Array:
    """(n_lymph, 2) x–y positions of the lymphatic doorways (µm).

    As :func:`doorway_positions` with ``lymphatic_doorway_density_per_mm2`` and streams
    ``LYMPH_DOORWAY_X``/``LYMPH_DOORWAY_Y`` (the same exclusion radius), then
    ``lymphatic_doorway_positions_um``; none by default.

    Raises
    ------
    PlacementError
        If the exclusion leaves too little room for the random lymphatic doorways.
    """
    cfg = scenario.intravasation
    pts = _random_doorways(
        scenario,
        cfg.lymphatic_doorway_density_per_mm2,
        (rng.LYMPH_DOORWAY_X, rng.LYMPH_DOORWAY_Y),
        "lymphatic doorways",
    )
    return np.ascontiguousarray(
        np.concatenate([pts, _given(cfg.lymphatic_doorway_positions_um)])
    )


def doorways(
    scenario: Scenario, vessel_xy_um: F64Array | None = None
) -> tuple[F64Array, I8Array]:
    """All doorways of a run: blood ones, then lymphatic ones, with their vessels.

    Parameters
    ----------
    scenario : Scenario
    vessel_xy_um : (n_vessels, 2) float64, µm, optional
        Oxygen vessel centres (blood doorways with ``doorways_on_oxygen_vessels``).

    Returns
    -------
    xy_um : (n_doors, 2) float64, µm
        :func:`doorway_positions` followed by :func:`lymphatic_doorway_positions`; a
        doorway's row is its ``doorway`` number in ``events.parquet``.
    vessel : (n_doors,) int8
        :class:`Vessel` of each doorway.

    Raises
    ------
    PlacementError
        If the exclusion leaves too little room for either kind of random doorway.
    """
    blood = doorway_positions(scenario, vessel_xy_um)
    lymph = lymphatic_doorway_positions(scenario)
    vessel = np.concatenate(
        [
            np.full(blood.shape[0], Vessel.BLOOD, dtype=np.int8),
            np.full(lymph.shape[0], Vessel.LYMPH, dtype=np.int8),
        ]
    )
    return np.ascontiguousarray(np.concatenate([blood, lymph])), vessel


#: Columns of ``events.parquet`` with scalar values (list columns are added apart).
EVENT_COLUMNS = (
    "event",
    "step",
    "t_min",
    "doorway",
    "vessel",
    "leader_id",
    "cluster_size",
    "x_um",
    "y_um",
    "ddr2_expression",
    "ddr2_activity",
    "ecm_density",
    "ecm_anisotropy",
    "psi_deg",
)


@dataclass
class ExitReport:
    """What one intravasation step did (all doorways, and the lymphatic share)."""

    events: list[dict[str, Any]]
    n_cells_left: int
    exposure_sum: float
    n_at_doorways: int
    n_events_lymph: int = 0
    n_cells_left_lymph: int = 0
    exposure_sum_lymph: float = 0.0


def intravasate(
    cells: Cells,
    scenario: Scenario,
    doors: F64Array,
    door_vessel: I8Array,
    grid: NeighbourGrid,
    reach: F64Array,
    field: EcmField | None,
    step: int,
    t_min: float,
    first_event: int,
    backend: Backend,
) -> ExitReport:
    """One phenotype step of exits at doorways; removes the leaving cells (stable).

    Parameters
    ----------
    doors : (n_doors, 2) float64, µm
    door_vessel : (n_doors,) int8
        :class:`Vessel` of each doorway (a cell takes its nearest doorway of either kind;
        a cluster goes into its leader's vessel).
    grid : NeighbourGrid
        Of the current positions (for clusters).
    first_event : int
        Number of the first event of this step (events are numbered over the run).

    Returns
    -------
    ExitReport
        Event rows (one per leaving cluster), cells removed, and Σ h/h₀ over the cells at
        doorways (the exposure that calibrates h₀: expected exits = h₀ Δt × exposure);
        the same three for the lymphatic doorways alone.
    """
    cfg = scenario.intravasation
    eff = scenario.ddr2.effects
    n = cells.n_live
    exits = np.zeros(n, dtype=np.bool_)
    door_of = np.zeros(n, dtype=np.int64)
    cos2 = np.zeros(n)
    exposure = np.zeros(n)
    ecm_on = field is not None
    f = field if field is not None else _NO_FIELD
    backend.doorway_hazard(
        scenario.seed,
        step,
        scenario.time.dt_phenotype_min,
        n,
        cells["cell_id"],
        cells["kind"],
        cells["state"],
        cells["pos_um"],
        cells["radius_um"],
        cells["ddr2_activity"],
        doors,
        cfg.capture_radii,
        cfg.base_hazard_per_min,
        eff.intravasation_gain if scenario.ddr2.enabled else 0.0,
        cfg.fibre_gain,
        ecm_on,
        f.lower_um,
        f.element_um,
        f.shape,
        f.aniso,
        f.fibre,
        exits,
        door_of,
        cos2,
        exposure,
    )
    rep = ExitReport([], 0, float(exposure.sum()), int(np.count_nonzero(door_of >= 0)))
    is_lymph = np.zeros(n, dtype=np.bool_)
    if np.any(door_vessel == Vessel.LYMPH):
        at = door_of >= 0
        is_lymph[at] = door_vessel[door_of[at]] == Vessel.LYMPH
        rep.exposure_sum_lymph = float(exposure[is_lymph].sum())
    if not exits.any():
        return rep
    leader_of = np.zeros(n, dtype=np.int64)
    backend.exit_clusters(
        scenario.seed,
        step,
        n,
        cells["cell_id"],
        cells["kind"],
        cells["state"],
        cells["pos_um"],
        cells["radius_um"],
        reach,
        exits,
        cfg.cluster_probability,
        grid.n_bins,
        grid.start,
        grid.order,
        grid.bins,
        leader_of,
        grid.span,
    )
    leaving = leader_of >= 0
    rows = np.flatnonzero(leaving)
    leaders = np.unique(leader_of[rows])
    ids = cells["cell_id"][:n]
    leaders = leaders[np.argsort(ids[leaders], kind="stable")]
    d_all = cells["ddr2_expression"][:n]
    a_all = cells["ddr2_activity"][:n]
    pos = cells["pos_um"][:n]
    el = (
        backend.elements_of_cells(cells["pos_um"], n, f.lower_um, f.element_um, f.shape)
        if ecm_on
        else None
    )
    for k, lead in enumerate(leaders.tolist()):  # one row per event (events are few)
        members = rows[leader_of[rows] == lead]
        members = members[np.argsort(ids[members], kind="stable")]
        psi = float(np.degrees(np.arccos(np.sqrt(min(max(cos2[lead], 0.0), 1.0)))))
        ev: dict[str, Any] = {
            "event": first_event + k,
            "step": step,
            "t_min": t_min,
            "doorway": int(door_of[lead]),
            "vessel": VESSEL_NAMES[int(door_vessel[door_of[lead]])],
            "leader_id": int(ids[lead]),
            "cluster_size": int(members.shape[0]),
            "x_um": float(pos[lead, 0]),
            "y_um": float(pos[lead, 1]),
            "ddr2_expression": float(d_all[lead]),
            "ddr2_activity": float(a_all[lead]),
            "ecm_density": float(f.rho[el[lead]]) if el is not None else float("nan"),
            "ecm_anisotropy": float(f.aniso[el[lead]])
            if el is not None
            else float("nan"),
            "psi_deg": psi if ecm_on else float("nan"),
            "cell_ids": ids[members].tolist(),
            "cells_ddr2_expression": d_all[members].tolist(),
            "cells_ddr2_activity": a_all[members].tolist(),
        }
        rep.events.append(ev)
        if is_lymph[lead]:
            rep.n_events_lymph += 1
            rep.n_cells_left_lymph += int(members.shape[0])
    keep = np.ones(cells.n_live, dtype=np.bool_)
    keep[:n] = ~leaving
    rep.n_cells_left = cells.compact(keep)
    return rep


class _NoField:
    """Stand-in arrays for the kernels when no collagen field is simulated."""

    lower_um = np.zeros(3)
    element_um = 1.0
    shape = np.ones(3, dtype=np.int64)
    rho = np.zeros(1)
    aniso = np.zeros(1)
    fibre = np.zeros((1, 3))


_NO_FIELD: Any = _NoField()
