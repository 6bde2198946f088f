"""The tissue simulation: the processes composed in a fixed, documented order.

One *phenotype block* is one phenotype step followed by the mechanics steps it contains
(Δt_ph / Δt_mech, 60 by default), as PhysiCell runs diffusion, then phenotype, then
mechanics [C PC main loop]:

1. **Oxygen** (``tissue.oxygen``): cells' uptake deposited onto voxels, one implicit step of
   Δt_ph, each cell reads its voxel's concentration.
2. **Tumour edge** (``tissue.edge``): the density level set of the live cancer cells on the
   ECM grid, its boundary band and normals; the edge speed u_n (moving average of the
   growth of the bulk's equivalent radius) for compression wrapping.
3. **DDR2** (``tissue.ddr2``): MSC contacts counted on the neighbour grid, the exact update
   of expression D and activity A, then the adhesion scale √(1 − g_adh A).
4. **Intravasation** (``tissue.vessels``): exits at doorways, clusters, events; the leaving
   cells are removed (stable compaction).
5. **Lifecycle** (``tissue.lifecycle``): death, cycle (rate × (1 + g_p A)), division
   (daughters appended in the mothers' row order, inheriting DDR2 state), removal of cells
   whose death phase has ended (stable compaction).
6. **MSC recruitment** (``msc_rules.recruitment_per_min``): new MSCs at the domain edge.
7. **Collagen relaxation** (``tissue.ecm``) over Δt_ph.
8. **Mechanics**, Δt_ph/Δt_mech times (``tissue.mechanics``, ``tissue.motility``,
   ``tissue.ecm``):
   a. every ``sort_every_steps`` steps, rows are reordered by neighbour-grid bin;
   b. the neighbour grid is built (stable counting sort);
   c. contact velocities (repulsion + adhesion) from the positions at the start of the step;
   d. motility re-orientation, DDR2 gains and contact guidance on the element under each
      cell, wall, Adams–Bashforth 2 integration;
   e. collagen writes by the cells from their new elements, with the motility of d.

The state is ``cells`` (struct of arrays), the oxygen field, the collagen field, the edge
speed, the exit counters and ``step``; nothing else persists between steps, so a checkpoint
of these resumes bitwise identically. Random draws
are keyed by (seed, step, cell id, stream). This module does no I/O: the runner
(``metastroma.runner``) schedules outputs and checkpoints between blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from metastroma._typing import F64Array
from metastroma.config.models import CellKind, Scenario
from metastroma.kernels import (
    CELLS_PER_THREAD,
    LIVE,
    VOXELS_PER_THREAD,
    Backend,
    get_backend,
    rng,
    thread_budget,
    threads_for,
)
from metastroma.tissue.ddr2 import (
    GuidanceTables,
    guidance_tables,
    init_ddr2_columns,
    proliferation_scale,
    update_ddr2,
)
from metastroma.tissue.ecm import (
    EcmField,
    EcmTables,
    ecm_tables,
    make_ecm_field,
    relax,
    remodel_step,
    values_at_cells,
)
from metastroma.tissue.edge import TumourEdge, tumour_edge
from metastroma.tissue.lifecycle import (
    LifecycleTables,
    advance_lifecycle,
    lifecycle_tables,
)
from metastroma.tissue.mechanics import (
    N_KINDS,
    MechanicsTables,
    NeighbourGrid,
    build_neighbour_grid,
    contact_velocity,
    mechanics_tables,
    neighbour_grid_shape,
    sort_by_bin,
)
from metastroma.tissue.motility import MotilityTables, motility_tables
from metastroma.tissue.oxygen import (
    OxygenField,
    make_oxygen_field,
    read_oxygen,
    unit_gradient,
    update_oxygen,
    vessel_voxels,
)
from metastroma.tissue.setup import initial_cells
from metastroma.tissue.state import COLUMNS, Cells
from metastroma.tissue.vessels import doorways, intravasate

#: Neighbour bins scanned on each side of a cell's bin; bins are reach / span wide
#: (``mechanics.neighbour_grid_shape``). 2 tests ~30 % fewer pairs than 1 in 2D.
NEIGHBOUR_SPAN = 2


@dataclass
class BlockReport:
    """Counts of one phenotype block, and the exit events it produced."""

    n_divided: int
    n_removed: int
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExitCounters:
    """Running totals over the run (persisted in checkpoints).

    Attributes
    ----------
    events, cells : int
        Exit events and cells that left (into blood or lymph).
    cancer_cell_min : float, cell·min
        Σ live cancer cells × Δt_ph: the denominator of the tumour-average exit rate.
    exposure_min : float, min
        Σ over phenotype steps of Δt_ph Σ h_i/h₀ over cells at doorways: expected exits
        = h₀ × exposure_min (calibration of h₀, E4).
    recruited : int
        MSCs recruited.
    events_lymph, cells_lymph : int
        The exit events and cells among ``events``, ``cells`` at lymphatic doorways.
    exposure_lymph_min : float, min
        The part of ``exposure_min`` at lymphatic doorways.
    """

    events: int = 0
    cells: int = 0
    cancer_cell_min: float = 0.0
    exposure_min: float = 0.0
    recruited: int = 0
    events_lymph: int = 0
    cells_lymph: int = 0
    exposure_lymph_min: float = 0.0


class TissueSimulation:
    """Cells and oxygen of one scenario, advanced one phenotype block at a time.

    Examples
    --------
    >>> from metastroma.config import Scenario
    >>> sim = TissueSimulation.from_scenario(Scenario())
    >>> _ = sim.advance_block()
    >>> sim.step
    60
    """

    def __init__(
        self,
        scenario: Scenario,
        cells: Cells,
        oxygen: OxygenField,
        step: int = 0,
        backend: Backend | None = None,
        ecm: EcmField | None = None,
        counters: ExitCounters | None = None,
        edge_state: tuple[float, float] | None = None,
    ) -> None:
        self.scenario = scenario
        self.cells = cells
        self.oxygen = oxygen
        self.step = step
        self.backend = backend or get_backend("cpu")
        self.dt_mech = scenario.time.dt_mechanics_min
        self.dt_ph = scenario.time.dt_phenotype_min
        self.k_mech = scenario.time.mechanics_per_phenotype
        self.mech: MechanicsTables = mechanics_tables(scenario)
        self.motility: MotilityTables = motility_tables(scenario)
        self.life: LifecycleTables = lifecycle_tables(scenario)
        self._msc_occupancy = (
            scenario.ddr2.occupancy_at(self.t_min) if scenario.ddr2.enabled else 0.0
        )
        self.guide: GuidanceTables = guidance_tables(scenario, self._msc_occupancy)
        self.ecm_rates: EcmTables = ecm_tables(scenario, self._msc_occupancy)
        self.ecm: EcmField | None = ecm
        self.lower = np.asarray(scenario.domain.lower_um, dtype=np.float64)
        self.upper = np.asarray(scenario.domain.upper_um, dtype=np.float64)
        contact_um = scenario.ddr2.contact_range_factor * self.mech.max_adhesion_um
        self.bin_um, self.n_bins = neighbour_grid_shape(
            self.lower,
            self.upper,
            max(self.mech.max_interaction_um, contact_um),
            NEIGHBOUR_SPAN,
        )
        self.counters = counters or ExitCounters()
        self.edge_speed_um_per_min = edge_state[0] if edge_state else 0.0
        self.edge_radius_um = edge_state[1] if edge_state else math.nan
        self.edge: TumourEdge | None = None
        self.doors = np.zeros((0, 2))
        self.door_vessel = np.zeros(0, dtype=np.int8)  # tissue.vessels.Vessel per door
        if scenario.intravasation.enabled:
            vox = vessel_voxels(scenario, oxygen.grid)
            centres = _voxel_centres_xy(oxygen, vox)
            self.doors, self.door_vessel = doorways(scenario, centres)
        self._no_field = make_placeholder_field(scenario.dim)
        self._elem = np.zeros(cells.capacity, dtype=np.int64)
        self._writers = True  # set at each phenotype step
        self._cells_write = True
        n_el = ecm.n_elements if ecm is not None else 1
        self._no_band = np.zeros(n_el, dtype=np.bool_)
        self._no_normal = np.zeros((n_el, scenario.dim))
        self._o2_lower = np.asarray(oxygen.grid.lower_um, dtype=np.float64)
        self._o2_shape = np.asarray(oxygen.grid.shape, dtype=np.int64)
        self._grad: F64Array = np.zeros((1, scenario.dim))
        if self.motility.uses_gradient:
            self._grad = unit_gradient(oxygen)

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        csv_positions: dict[int, F64Array] | None = None,
        backend: Backend | None = None,
    ) -> TissueSimulation:
        """Initial state of a scenario (cells placed, oxygen at its initial value)."""
        cells = initial_cells(scenario, csv_positions)
        init_ddr2_columns(cells, scenario, 0, cells.n_live)
        oxygen = make_oxygen_field(scenario)
        read_oxygen(cells, oxygen)
        ecm = make_ecm_field(scenario) if scenario.ecm.enabled else None
        return cls(scenario, cells, oxygen, 0, backend, ecm)

    @property
    def t_min(self) -> float:
        """Simulated time (min)."""
        return self.step * self.dt_mech

    # ------------------------------------------------------------------ steps

    def phenotype_step(self) -> BlockReport:
        """Steps 1–7 of the order: oxygen, edge, DDR2, exits, lifecycle, recruits, relax."""
        with thread_budget() as cap:
            return self._phenotype_step(cap)

    def _phenotype_step(self, cap: int) -> BlockReport:
        sc = self.scenario
        numba.set_num_threads(threads_for(self.oxygen.c.size, VOXELS_PER_THREAD, cap))
        update_oxygen(self.cells, self.oxygen, self.life, self.dt_ph)
        per_thread = CELLS_PER_THREAD[sc.dim]
        numba.set_num_threads(threads_for(self.cells.n_live, per_thread, cap))
        if self.motility.uses_gradient:
            self._grad = unit_gradient(self.oxygen)
        self._update_edge()
        theta = sc.ddr2.occupancy_at(self.t_min) if sc.ddr2.enabled else 0.0
        if theta != self._msc_occupancy:  # the inhibitor blocks MSC DDR2 too
            self._msc_occupancy = theta
            self.guide = guidance_tables(sc, theta)
            self.ecm_rates = ecm_tables(sc, theta)
        # the phenotype step needs neighbours only to count MSC contacts and to gather
        # exit clusters; an engine-only scenario builds no grid here
        counts_contacts = sc.cell_types.msc is not None and sc.ddr2.contact == "direct"
        need_grid = counts_contacts or sc.intravasation.enabled
        grid = self.neighbour_grid() if need_grid else None
        if self.ecm is not None:
            _, rho = values_at_cells(self.cells, self.ecm, self.backend)
        else:
            rho = np.full(self.cells.n_live, sc.ecm.initial_density)
        update_ddr2(
            self.cells,
            sc,
            grid,
            self.mech.reach,
            rho,
            self.t_min,
            self.dt_ph,
            self.backend,
        )
        events: list[dict[str, Any]] = []
        kind = self.cells.live("kind")
        live = self.cells.live("state") == LIVE
        n_cancer = int(np.count_nonzero(live & (kind == CellKind.CANCER)))
        self.counters.cancer_cell_min += n_cancer * self.dt_ph
        if sc.intravasation.enabled:
            assert grid is not None
            rep_x = intravasate(
                self.cells,
                sc,
                self.doors,
                self.door_vessel,
                grid,
                self.mech.reach,
                self.ecm,
                self.step,
                self.t_min,
                self.counters.events,
                self.backend,
            )
            events = rep_x.events
            self.counters.events += len(events)
            self.counters.cells += rep_x.n_cells_left
            self.counters.exposure_min += rep_x.exposure_sum * self.dt_ph
            self.counters.events_lymph += rep_x.n_events_lymph
            self.counters.cells_lymph += rep_x.n_cells_left_lymph
            self.counters.exposure_lymph_min += rep_x.exposure_sum_lymph * self.dt_ph
        rep = advance_lifecycle(
            self.cells,
            self.life,
            sc.seed,
            self.step,
            self.dt_ph,
            self.lower,
            self.upper,
            self.backend,
            proliferation_scale(self.cells, sc),
        )
        self.cells = rep.cells
        self._recruit_mscs(n_cancer)
        if self.ecm is not None:
            relax(self.ecm, sc, self.dt_ph, self.backend)
            self._writers, self._cells_write = self._collagen_writers_possible()
        return BlockReport(rep.n_divided, rep.n_removed, events)

    def _collagen_writers_possible(self) -> tuple[bool, bool]:
        """(any collagen write this block, any cell writes) — wrapping counts in the first.

        A kind writes if it is present and moves with a realignment or anisotropy rate,
        or deposits; wrapping needs a band and an advancing edge. When nothing writes,
        the mechanics steps skip the collagen writes; when only wrapping acts, they skip
        binning the cells (no cell would write).
        """
        r = self.ecm_rates
        present = np.bincount(self.cells.live("kind"), minlength=N_KINDS) > 0
        moves = self.motility.speed > 0
        writes = (moves & ((r.realign_per_um > 0) | (r.aniso_per_um > 0))) | (
            r.deposit_per_min > 0
        )
        wraps = (
            self.scenario.ecm.wrapping
            and self.edge_speed_um_per_min > 0
            and self.edge is not None
            and bool(self.edge.band.any())
        )
        cells_write = bool(np.any(present & writes))
        return cells_write or wraps, cells_write

    def _update_edge(self) -> None:
        """Tumour edge on the ECM grid and the moving-average edge speed u_n (§5.4).

        u_n is an exponential moving average (time constant ``edge_speed_window_min``)
        of the growth rate of the bulk's equivalent radius √(A/π) (∛(3V/4π) in 3D).
        """
        if self.ecm is None:
            return
        cells = self.cells
        kind = cells.live("kind")
        cancer = (kind == CellKind.CANCER) & (cells.live("state") == LIVE)
        pos = cells.live("pos_um")[cancer]
        ct = self.scenario.cell_types.cancer
        radius = ct.radius_um if ct is not None else 8.41
        f = self.ecm
        self.edge = tumour_edge(
            pos,
            f.lower_um,
            f.element_um,
            tuple(int(x) for x in f.shape),
            self.scenario.ecm.band_um,
            radius,
        )
        # u_n follows the bulk's equivalent radius (the level set, not the invaders)
        r_now = self.edge.radius_um
        if r_now > 0 and math.isfinite(self.edge_radius_um):
            raw = (r_now - self.edge_radius_um) / self.dt_ph
            w = 1.0 - math.exp(-self.dt_ph / self.scenario.ecm.edge_speed_window_min)
            self.edge_speed_um_per_min += w * (raw - self.edge_speed_um_per_min)
        self.edge_radius_um = r_now if r_now > 0 else math.nan

    def _recruit_mscs(self, n_cancer: int) -> None:
        """MSCs recruited at k_rec per cancer cell per minute, entering at the domain edge.

        Each live cancer cell recruits with probability k_rec Δt_ph (stream ``RECRUIT``
        keyed by its id); recruits appear at uniform points of the domain's boundary
        (streams ``RECRUIT_POS_*`` keyed by the recruit's new id), in order of the
        recruiting cells' rows.
        """
        k_rec = self.scenario.msc_rules.recruitment_per_min
        msc = self.scenario.cell_types.msc
        if k_rec <= 0 or n_cancer == 0 or msc is None:
            return
        cells = self.cells
        n = cells.n_live
        cancer = np.flatnonzero(
            (cells.live("kind") == CellKind.CANCER) & (cells.live("state") == LIVE)
        )
        u = rng.uniform01_many(
            self.scenario.seed, self.step, cells["cell_id"][cancer], rng.RECRUIT
        )
        m = int(np.count_nonzero(u < k_rec * self.dt_ph))
        if m == 0:
            return
        cells = cells.reserve(m)
        ids = np.arange(cells.next_id, cells.next_id + m, dtype=np.int64)
        rows = slice(n, n + m)
        cells["pos_um"][rows] = _boundary_points(
            self.scenario.seed, self.step, ids, self.lower, self.upper
        )
        cells["cell_id"][rows] = ids
        cells["kind"][rows] = int(CellKind.MSC)
        cells["radius_um"][rows] = msc.radius_um
        cells.n_live = n + m
        cells.next_id += m
        init_ddr2_columns(cells, self.scenario, n, n + m)
        self.cells = cells
        self.counters.recruited += m

    def neighbour_grid(self) -> NeighbourGrid:
        """Neighbour grid of the current positions."""
        return build_neighbour_grid(
            self.cells,
            self.lower,
            self.bin_um,
            self.n_bins,
            self.backend,
            NEIGHBOUR_SPAN,
        )

    def mechanics_step(self) -> None:
        """One mechanics step (step 3 of the order); advances ``step`` by one."""
        cells = self.cells
        grid = self.neighbour_grid()
        if self.step % self.scenario.numerics.sort_every_steps == 0:
            grid = sort_by_bin(cells, grid)
        contact_velocity(cells, self.mech, grid, self.backend)
        f = self.ecm if self.ecm is not None else self._no_field
        ecm_cfg = self.scenario.ecm
        g = self.guide
        self.backend.motility_and_integrate(
            self.scenario.seed,
            self.step,
            self.dt_mech,
            cells.n_live,
            cells["cell_id"],
            cells["kind"],
            cells["state"],
            cells["pos_um"],
            cells["radius_um"],
            cells["vel_um_per_min"],
            cells["vel_prev_um_per_min"],
            cells["has_prev"],
            cells["direction"],
            cells["motility_um_per_min"],
            cells["ddr2_activity"],
            cells["msc_genotype"],
            self.motility.speed,
            self.motility.persistence,
            self.motility.bias,
            g.sens_base,
            g.sens_slope,
            g.speed_gain,
            g.persist_gain,
            g.gamma_gain,
            g.drive_is_genotype,
            self._grad,
            self._o2_lower,
            float(self.oxygen.grid.voxel_um),
            self._o2_shape,
            self.ecm is not None,
            f.lower_um,
            float(f.element_um),
            f.shape,
            f.rho,
            f.aniso,
            f.fibre,
            ecm_cfg.guidance,
            ecm_cfg.normalised_speed,
            ecm_cfg.density_speed_window,
            ecm_cfg.motility_density_low,
            ecm_cfg.motility_density_ideal,
            ecm_cfg.motility_density_high,
            ecm_cfg.microtrack_speed_gain,
            ecm_cfg.microtrack_max_density,
            self.lower,
            self.upper,
            self.scenario.domain.wall,
            self.scenario.domain.wall_repulsion_um_per_min,
            self.scenario.numerics.integrator == "ab2",
            self._elements(cells.capacity),
        )
        if self.ecm is not None and self._writers:
            edge = self.edge
            band = edge.band.ravel() if edge is not None else self._no_band
            normal = (
                edge.normal.reshape(-1, self.scenario.dim)
                if edge is not None
                else self._no_normal
            )
            remodel_step(
                cells,
                self.ecm,
                self.ecm_rates,
                self.scenario,
                band,
                normal,
                max(0.0, self.edge_speed_um_per_min),
                self.backend,
                self._elem,
                self._cells_write,
            )
        self.step += 1

    def _elements(self, capacity: int) -> np.ndarray:
        """Scratch array for each cell's ECM element (grown with the cell arrays)."""
        if self._elem.shape[0] < capacity:
            self._elem = np.zeros(capacity, dtype=np.int64)
        return self._elem

    def advance_block(self) -> BlockReport:
        """One phenotype step and the mechanics steps it contains.

        Small tumours run their kernels on fewer threads than numba's count (the cap):
        waking a sleeping OpenMP thread costs more than a few hundred cells' work
        (``kernels.threads_for``). Results do not depend on it.
        """
        if self.step % self.k_mech != 0:
            raise RuntimeError(f"step {self.step} is not at a phenotype boundary")
        rep = self.phenotype_step()
        per_thread = CELLS_PER_THREAD[self.scenario.dim]
        with thread_budget() as cap:
            numba.set_num_threads(threads_for(self.cells.n_live, per_thread, cap))
            for _ in range(self.k_mech):
                self.mechanics_step()
        return rep

    # ------------------------------------------------------------------ state

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything a bitwise-identical continuation needs, as named arrays."""
        n = self.cells.n_live
        out = {f"cells/{name}": arr[:n].copy() for name, arr in self.cells.cols.items()}
        out["oxygen/c"] = self.oxygen.c.copy()
        out["scalars"] = np.array([self.step, self.cells.next_id, n], dtype=np.int64)
        if self.ecm is not None:
            out.update(self.ecm.state_arrays())
        c = self.counters
        out["stroma/counts"] = np.array([c.events, c.cells, c.recruited], np.int64)
        out["stroma/floats"] = np.array(
            [
                c.cancer_cell_min,
                c.exposure_min,
                self.edge_speed_um_per_min,
                self.edge_radius_um,
            ]
        )
        out["stroma/lymph_counts"] = np.array([c.events_lymph, c.cells_lymph], np.int64)
        out["stroma/lymph_floats"] = np.array([c.exposure_lymph_min])
        return out

    @classmethod
    def from_state_arrays(
        cls,
        scenario: Scenario,
        arrays: dict[str, np.ndarray],
        backend: Backend | None = None,
    ) -> TissueSimulation:
        """Rebuild a simulation from :meth:`state_arrays` (the checkpoint)."""
        step, next_id, n = (int(x) for x in arrays["scalars"])
        cells = Cells.empty(
            scenario.dim, max(64, int(n * scenario.numerics.initial_capacity_factor))
        )
        for name in COLUMNS:
            key = f"cells/{name}"
            if key not in arrays:
                raise KeyError(f"checkpoint lacks column {name!r}")
            cells.cols[name][:n] = arrays[key]
        cells.n_live = n
        cells.next_id = next_id
        oxygen = make_oxygen_field(scenario)
        oxygen.c[...] = arrays["oxygen/c"]
        ecm = None
        if scenario.ecm.enabled:
            ecm = make_ecm_field(scenario)
            ecm.restore(arrays)
        ev, nc, rec = (int(x) for x in arrays["stroma/counts"])
        cmin, expo, speed, radius = (float(x) for x in arrays["stroma/floats"])
        ev_l, nc_l = (int(x) for x in arrays["stroma/lymph_counts"])
        (expo_l,) = (float(x) for x in arrays["stroma/lymph_floats"])
        counters = ExitCounters(ev, nc, cmin, expo, rec, ev_l, nc_l, expo_l)
        return cls(
            scenario, cells, oxygen, step, backend, ecm, counters, (speed, radius)
        )


def _voxel_centres_xy(oxygen: OxygenField, vox: np.ndarray) -> F64Array:
    """x–y centres (µm) of flat voxel indices (the oxygen vessels)."""
    g = oxygen.grid
    idx = np.unravel_index(np.asarray(vox, dtype=np.int64), tuple(g.shape))
    return np.stack(
        [g.lower_um[a] + (idx[a] + 0.5) * g.voxel_um for a in range(2)], axis=1
    )


def _boundary_points(
    seed: int, step: int, ids: np.ndarray, lower: F64Array, upper: F64Array
) -> F64Array:
    """Uniform points on the boundary of the box [lower, upper] keyed by ``ids``.

    A face is chosen with probability proportional to its size (stream ``RECRUIT_FACE``),
    the coordinates uniformly (one stream per axis); the face's own axis is then set to
    its side.
    """
    dim = lower.shape[0]
    streams = (rng.RECRUIT_POS_A, rng.RECRUIT_POS_B, rng.RECRUIT_POS_C)
    ext = upper - lower
    pos = (
        lower
        + np.stack(
            [rng.uniform01_many(seed, step, ids, streams[a]) for a in range(dim)],
            axis=1,
        )
        * ext
    )
    size = np.array([np.prod(np.delete(ext, a)) for a in range(dim)])
    cum = np.cumsum(np.repeat(size, 2)) / (2.0 * size.sum())
    u = rng.uniform01_many(seed, step, ids, rng.RECRUIT_FACE)
    face = np.minimum(np.searchsorted(cum, u, side="right"), 2 * dim - 1)
    axis, side = face // 2, face % 2
    rows = np.arange(ids.shape[0])
    pos[rows, axis] = np.where(side == 0, lower[axis], upper[axis])
    return pos


def make_placeholder_field(dim: int) -> EcmField:
    """A one-element field handed to the kernels when no collagen is simulated."""
    return EcmField(
        lower_um=np.zeros(dim),
        element_um=1.0,
        shape=np.ones(dim, dtype=np.int64),
        rho=np.zeros(1),
        aniso=np.zeros(1),
        fibre=np.zeros((1, dim)),
        written=np.zeros(1, dtype=np.bool_),
    )
