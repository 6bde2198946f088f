"""Persistent random walk with optional bias up the oxygen gradient (SCIENCE.md §1.3).

At each mechanics step a live motile cell re-orients with probability Δt/T_p (always if
T_p < Δt): it draws ξ uniformly on the unit circle (2D) or sphere (3D) and sets

    u = b ĝ + (1 − b) ξ,   d̂ = u/|u|,   m = v d̂,

with ĝ the unit oxygen gradient and b the bias [C PC ``update_motility_vector``]. For a
free cell (b = 0) the mean squared displacement is

    ⟨|Δx|²⟩(t) = 2 v² T [t − T (1 − e^{−t/T})],   T = −Δt / ln(1 − Δt/T_p),

the effective persistence of the discrete rule (SCIENCE.md §1.3, [D]). Apoptotic and
necrotic cells do not move actively (PC ``start_death``). The kernel is
``kernels._cpu.motility_and_integrate``, which also integrates positions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.models import Scenario
from metastroma.tissue.mechanics import N_KINDS


class MotilityTables(NamedTuple):
    """Per-kind motility tables (index = ``CellKind``).

    Attributes
    ----------
    speed : (n_kinds,) float64, µm/min
        0 for kinds that do not move.
    persistence : (n_kinds,) float64, min
    bias : (n_kinds,) float64
    uses_gradient : bool
        Whether any kind is biased up the oxygen gradient.
    """

    speed: F64Array
    persistence: F64Array
    bias: F64Array
    uses_gradient: bool


def motility_tables(scenario: Scenario) -> MotilityTables:
    """Per-kind motility tables from the scenario."""
    speed = np.zeros(N_KINDS)
    persistence = np.ones(N_KINDS)
    bias = np.zeros(N_KINDS)
    for kind, ct in scenario.cell_types.items():
        m = ct.motility
        speed[kind] = m.speed_um_per_min if m.enabled else 0.0
        persistence[kind] = m.persistence_min
        bias[kind] = m.bias if m.bias_direction == "up_oxygen" else 0.0
    return MotilityTables(speed, persistence, bias, bool(np.any(bias > 0)))


def effective_persistence_min(persistence_min: float, dt_min: float) -> float:
    """T_p,eff = −Δt / ln(1 − Δt/T_p): the decorrelation time of the discrete rule [D]."""
    if persistence_min <= dt_min:
        return 0.0
    return -dt_min / float(np.log1p(-dt_min / persistence_min))


def persistent_walk_msd_um2(
    t_min: F64Array, speed_um_per_min: float, persistence_min: float
) -> F64Array:
    """⟨|Δx|²⟩(t) = 2 v² T [t − T (1 − e^{−t/T})] for any dimension (SCIENCE.md §1.3)."""
    t = np.asarray(t_min, dtype=np.float64)
    T = persistence_min
    return 2.0 * speed_um_per_min**2 * T * (t - T * (1.0 - np.exp(-t / T)))
