"""Cell cycle, apoptosis, hypoxic necrosis, division and removal (SCIENCE.md §3).

- **Cycle**: phases with fixed or exponential durations; division at the exit of the last
  phase. 'live' is one Poisson phase (PC code 5) at rate r(c) = r_ref clamp((c − c_P)/(c_S −
  c_P), 0, 1); 'flow_cytometry_separated' (PC code 6, the template's) is G0/G1 (stochastic,
  scaled by oxygen if asked), S, G2, M (fixed). A stochastic phase is left with probability
  r Δt per phenotype step, a fixed one when its clock reaches the duration [C PC
  ``Cycle_Model::advance_model``].
- **Apoptosis** at constant rate r_A; the cell is removed 516 min later [C].
- **Necrosis**: 'ramp' r_N(c) = r_N,max clamp((c_N − c)/(c_N − c_N,max), 0, 1), or
  'deterministic' once c < c_N [C]; removed after ``necrotic_removal_min`` [A].
- Dead cells take up oxygen at a tenth of their rate (PC ``start_death``) and still push.
- **Division** puts the daughter at x + ½R u and the mother at x − ½R u [A, SCIENCE.md §1.2];
  the daughter inherits the mother's inherited columns and gets the next ``cell_id``.

Rows are processed in parallel, each writing its own row; daughters are appended in the
mothers' row order, so ids and rows are the same for any thread count.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.config.models import Scenario
from metastroma.kernels import Backend
from metastroma.tissue.mechanics import N_KINDS
from metastroma.tissue.state import Cells

MAX_PHASES = 8
_NECROSIS_MODES = {"off": 0, "ramp": 1, "deterministic": 2}


class LifecycleTables(NamedTuple):
    """Per-kind cycle and death tables (index = ``CellKind``); see ``lifecycle_step``."""

    n_phases: I64Array
    duration: F64Array
    fixed: BoolArray
    o2_dependent: BoolArray
    c_prolif: F64Array
    c_sat: F64Array
    apoptosis_rate: F64Array
    apoptosis_duration: F64Array
    necrosis_mode: I64Array
    c_necrosis: F64Array
    c_necrosis_max: F64Array
    necrosis_max_rate: F64Array
    necrotic_duration: F64Array
    uptake_per_min: F64Array


def lifecycle_tables(scenario: Scenario) -> LifecycleTables:
    """Per-kind tables from the scenario's cell types."""
    k = N_KINDS
    t = LifecycleTables(
        n_phases=np.zeros(k, np.int64),
        duration=np.ones((k, MAX_PHASES)),
        fixed=np.zeros((k, MAX_PHASES), np.bool_),
        o2_dependent=np.zeros(k, np.bool_),
        c_prolif=np.zeros(k),
        c_sat=np.ones(k),
        apoptosis_rate=np.zeros(k),
        apoptosis_duration=np.zeros(k),
        necrosis_mode=np.zeros(k, np.int64),
        c_necrosis=np.zeros(k),
        c_necrosis_max=np.zeros(k),
        necrosis_max_rate=np.zeros(k),
        necrotic_duration=np.zeros(k),
        uptake_per_min=np.zeros(k),
    )
    for kind, ct in scenario.cell_types.items():
        cyc, death = ct.cycle, ct.death
        m = len(cyc.durations)
        t.n_phases[kind] = m
        t.duration[kind, :m] = cyc.durations
        t.fixed[kind, :m] = cyc.fixed
        t.o2_dependent[kind] = cyc.oxygen_dependent
        t.c_prolif[kind] = cyc.proliferation_threshold_mmhg
        t.c_sat[kind] = cyc.proliferation_saturation_mmhg
        t.apoptosis_rate[kind] = death.apoptosis_per_min
        t.apoptosis_duration[kind] = death.apoptosis_duration_min
        t.necrosis_mode[kind] = _NECROSIS_MODES[death.necrosis]
        t.c_necrosis[kind] = death.necrosis_threshold_mmhg
        t.c_necrosis_max[kind] = death.necrosis_max_mmhg
        t.necrosis_max_rate[kind] = death.necrosis_max_per_min
        t.necrotic_duration[kind] = death.necrotic_removal_min
        t.uptake_per_min[kind] = ct.oxygen_uptake_per_min
    return t


class LifecycleReport(NamedTuple):
    """What one phenotype step did (counts)."""

    n_divided: int
    n_removed: int
    cells: Cells


def advance_lifecycle(
    cells: Cells,
    tables: LifecycleTables,
    seed: int,
    step: int,
    dt_min: float,
    lower_um: F64Array,
    upper_um: F64Array,
    backend: Backend,
    rate_scale: F64Array | None = None,
) -> LifecycleReport:
    """One phenotype step of death, cycle, division and removal.

    ``rate_scale`` (capacity,) multiplies each cell's first-phase cycle rate (default 1).

    Returns
    -------
    LifecycleReport
        Counts, and the cells (a new object if the arrays had to grow).
    """
    n = cells.n_live
    divide = np.zeros(cells.capacity, dtype=np.bool_)
    remove = np.zeros(cells.capacity, dtype=np.bool_)
    if rate_scale is None:
        rate_scale = np.ones(cells.capacity)
    backend.lifecycle_step(
        seed,
        step,
        dt_min,
        n,
        cells["cell_id"],
        cells["kind"],
        cells["state"],
        cells["t_state_min"],
        cells["phase"],
        cells["t_phase_min"],
        cells["oxygen_mmhg"],
        rate_scale,
        tables.n_phases,
        tables.duration,
        tables.fixed,
        tables.o2_dependent,
        tables.c_prolif,
        tables.c_sat,
        tables.apoptosis_rate,
        tables.apoptosis_duration,
        tables.necrosis_mode,
        tables.c_necrosis,
        tables.c_necrosis_max,
        tables.necrosis_max_rate,
        tables.necrotic_duration,
        divide,
        remove,
    )
    mothers = np.flatnonzero(divide[:n]).astype(np.int64)
    n_div = int(mothers.shape[0])
    if n_div:
        cells = cells.reserve(
            n_div
        )  # overflow is a value: grow, then place all or none
        cells.inherit(mothers, n)
        backend.place_daughters(
            seed,
            step,
            mothers,
            n,
            cells.next_id,
            cells["cell_id"],
            cells["pos_um"],
            cells["radius_um"],
            lower_um,
            upper_um,
        )
        for name in (
            "has_prev",
            "direction",
        ):  # mothers restart their walk and integrator
            cells[name][mothers] = False if name == "has_prev" else 0.0
        cells.n_live = n + n_div
        cells.next_id += n_div
    n_removed = 0
    if remove[:n].any():
        keep = np.ones(cells.n_live, dtype=np.bool_)
        keep[:n] = ~remove[:n]
        n_removed = cells.compact(keep)
    return LifecycleReport(n_div, n_removed, cells)
