"""The tissue simulation: the processes composed in a fixed, documented order.

One *phenotype block* is one phenotype step followed by the mechanics steps it contains
(Δt_ph / Δt_mech, 60 by default), as PhysiCell runs diffusion, then phenotype, then
mechanics [C PC main loop]:

1. **Oxygen** (``tissue.oxygen``): cells' uptake deposited onto voxels, one implicit step of
   Δt_ph, each cell reads its voxel's concentration.
2. **Lifecycle** (``tissue.lifecycle``): death, cycle, division (daughters appended in the
   mothers' row order), removal of cells whose death phase has ended (stable compaction).
3. **Mechanics**, Δt_ph/Δt_mech times (``tissue.mechanics``, ``tissue.motility``):
   a. every ``sort_every_steps`` steps, rows are reordered by neighbour-grid bin;
   b. the neighbour grid is built (stable counting sort);
   c. contact velocities (repulsion + adhesion) from the positions at the start of the step;
   d. motility re-orientation and velocity, wall, Adams–Bashforth 2 integration.

The state is ``cells`` (struct of arrays), the oxygen field and ``step``; nothing else
persists between steps, so a checkpoint of these resumes bitwise identically. Random draws
are keyed by (seed, step, cell id, stream). This module does no I/O: the runner
(``metastroma.runner``) schedules outputs and checkpoints between blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.models import Scenario
from metastroma.kernels import Backend, get_backend
from metastroma.tissue.lifecycle import (
    LifecycleTables,
    advance_lifecycle,
    lifecycle_tables,
)
from metastroma.tissue.mechanics import (
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
)
from metastroma.tissue.setup import initial_cells
from metastroma.tissue.state import COLUMNS, Cells


@dataclass
class BlockReport:
    """Counts of one phenotype block."""

    n_divided: int
    n_removed: int


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
        self.lower = np.asarray(scenario.domain.lower_um, dtype=np.float64)
        self.upper = np.asarray(scenario.domain.upper_um, dtype=np.float64)
        self.bin_um, self.n_bins = neighbour_grid_shape(
            self.lower, self.upper, self.mech.max_interaction_um
        )
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
        oxygen = make_oxygen_field(scenario)
        read_oxygen(cells, oxygen)
        return cls(scenario, cells, oxygen, 0, backend)

    @property
    def t_min(self) -> float:
        """Simulated time (min)."""
        return self.step * self.dt_mech

    # ------------------------------------------------------------------ steps

    def phenotype_step(self) -> BlockReport:
        """Oxygen, then death, cycle, division and removal (steps 1–2 of the order)."""
        update_oxygen(self.cells, self.oxygen, self.life, self.dt_ph)
        if self.motility.uses_gradient:
            self._grad = unit_gradient(self.oxygen)
        rep = advance_lifecycle(
            self.cells,
            self.life,
            self.scenario.seed,
            self.step,
            self.dt_ph,
            self.lower,
            self.upper,
            self.backend,
        )
        self.cells = rep.cells
        return BlockReport(rep.n_divided, rep.n_removed)

    def neighbour_grid(self) -> NeighbourGrid:
        """Neighbour grid of the current positions."""
        return build_neighbour_grid(
            self.cells, self.lower, self.bin_um, self.n_bins, self.backend
        )

    def mechanics_step(self) -> None:
        """One mechanics step (step 3 of the order); advances ``step`` by one."""
        cells = self.cells
        grid = self.neighbour_grid()
        if self.step % self.scenario.numerics.sort_every_steps == 0:
            grid = sort_by_bin(cells, grid)
        contact_velocity(cells, self.mech, grid, self.backend)
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
            self.motility.speed,
            self.motility.persistence,
            self.motility.bias,
            self._grad,
            self._o2_lower,
            float(self.oxygen.grid.voxel_um),
            self._o2_shape,
            self.lower,
            self.upper,
            self.scenario.domain.wall,
            self.scenario.domain.wall_repulsion_um_per_min,
            self.scenario.numerics.integrator == "ab2",
        )
        self.step += 1

    def advance_block(self) -> BlockReport:
        """One phenotype step and the mechanics steps it contains."""
        if self.step % self.k_mech != 0:
            raise RuntimeError(f"step {self.step} is not at a phenotype boundary")
        rep = self.phenotype_step()
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
        return cls(scenario, cells, oxygen, step, backend)
