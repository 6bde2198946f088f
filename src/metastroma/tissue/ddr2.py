"""DDR2 in cancer and benign cells, MSC genotype, and what DDR2 activity does (SCIENCE.md §4).

Per epithelial cell: expression D ∈ [0, D_max], activity A ∈ [0, D], basal D₀ and
competence χ (1 cancer, 0 benign; G10 [V]). Per MSC: genotype δ (1 DDR2+, 0 DDR2-null),
constant and never induced. At each phenotype step (§4.7, §4.8):

    dD/dt = χ [k_ind n/(n + K_c) + k_hyp H(c)] (D_max − D) − k_deg (D − D₀),
    dA/dt = k_on ρ/(ρ + K_ρ) (1 − θ_I) (D − A) − k_off A,   0 ≤ A ≤ D,

n the number of MSCs in direct contact (d < S_ij; no diffusible term, G3 [V]; zero in a
'transwell' scenario), c the cell's oxygen, ρ the collagen density of its ECM element (the
scenario's uniform ρ₀ when no collagen field is simulated), θ_I the inhibitor occupancy.
Both are solved with the exact exponential update holding n, c, ρ and θ_I over the step
(kernel ``ddr2_update``). Knockouts and knockdowns set D₀ and D_max per cell at placement
(§8.1), so daughters inherit them.

Effects of A (Table 4.4) are per-kind tables read by the kernels: contact-guidance
sensitivity s = s₀ + (s₁ − s₀) A, speed × (1 + g_v A), persistence × (1 + g_T A)
(1 + g_γ γ), adhesion × (1 − g_adh A), cycle rate × (1 + g_p A), intravasation × (1 + g_i A).
MSCs follow fibres with s = δ (§4.10).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from metastroma._typing import BoolArray, F64Array
from metastroma.config.models import CellKind, Scenario
from metastroma.kernels import Backend
from metastroma.tissue.mechanics import N_KINDS, NeighbourGrid
from metastroma.tissue.state import Cells


class GuidanceTables(NamedTuple):
    """Per-kind motility modifiers (index = ``CellKind``); x = A, or δ for MSCs.

    s = sens_base + sens_slope x; speed × (1 + speed_gain x); persistence × (1 +
    persist_gain x)(1 + gamma_gain γ).
    """

    sens_base: F64Array
    sens_slope: F64Array
    speed_gain: F64Array
    persist_gain: F64Array
    gamma_gain: F64Array
    drive_is_genotype: BoolArray


def guidance_tables(scenario: Scenario, msc_occupancy: float = 0.0) -> GuidanceTables:
    """Contact-guidance and DDR2 gains per kind (SCIENCE.md §4.9, §4.10, §5.5).

    Cancer and benign cells: s = s₀ + (s₁ − s₀) A with the DDR2 gains on speed and
    persistence. MSCs: s = δ (1 − θ_I), no speed or persistence gains [A]: an inhibitor
    blocks stromal DDR2 as well (SCIENCE.md Table 4.3, Grither 2018), and MSC DDR2 is a
    genotype, not an ODE, so its function is scaled by the free receptor fraction. With
    the collagen field off the sensitivities are unused (there is no fibre to follow).
    """
    eff = scenario.ddr2.effects
    k = N_KINDS
    t = GuidanceTables(
        sens_base=np.zeros(k),
        sens_slope=np.zeros(k),
        speed_gain=np.zeros(k),
        persist_gain=np.zeros(k),
        gamma_gain=np.zeros(k),
        drive_is_genotype=np.zeros(k, np.bool_),
    )
    for kind in (CellKind.CANCER, CellKind.BENIGN):
        t.sens_base[kind] = eff.guidance_sensitivity_off
        t.sens_slope[kind] = eff.guidance_sensitivity_on - eff.guidance_sensitivity_off
        t.gamma_gain[kind] = eff.alignment_persistence_gain
        if scenario.ddr2.enabled:
            t.speed_gain[kind] = eff.speed_gain
            t.persist_gain[kind] = eff.persistence_gain
    t.sens_slope[CellKind.MSC] = 1.0 - msc_occupancy
    t.drive_is_genotype[CellKind.MSC] = True
    return t


def init_ddr2_columns(cells: Cells, scenario: Scenario, first: int, last: int) -> None:
    """Set D₀, D_max, χ, D = D₀, A = 0 (epithelial) and δ (MSCs) for rows [first, last).

    With DDR2 disabled every value is 0 (no expression, no activity), except the MSC
    genotype, which still gates deposition and remodelling.
    """
    cfg = scenario.ddr2
    kind = cells["kind"][first:last]
    sl = slice(first, last)
    for k, c in ((CellKind.CANCER, cfg.cancer), (CellKind.BENIGN, cfg.benign)):
        m = kind == k
        on = cfg.enabled
        cells["ddr2_basal"][sl][m] = c.basal_effective if on else 0.0
        cells["ddr2_max"][sl][m] = c.max_effective if on else 0.0
        cells["ddr2_competence"][sl][m] = c.competence if on else 0.0
        cells["ddr2_expression"][sl][m] = c.basal_effective if on else 0.0
        cells["ddr2_activity"][sl][m] = 0.0
    cells["msc_genotype"][sl][kind == CellKind.MSC] = scenario.msc_rules.genotype
    cells["adhesion_scale"][sl] = 1.0


def update_ddr2(
    cells: Cells,
    scenario: Scenario,
    grid: NeighbourGrid | None,
    reach: F64Array,
    rho_at_cell: F64Array,
    t_min: float,
    dt_min: float,
    backend: Backend,
) -> None:
    """One phenotype step of the DDR2 ODEs for every live epithelial cell (in place).

    Parameters
    ----------
    grid : NeighbourGrid or None
        Of the current positions, bins at least ``contact_range_factor`` × max S_ij wide;
        None when no MSC can be in contact (no MSC type, or a transwell): contacts are 0.
    reach : (n_kinds,) float64
        ℓ per kind (``MechanicsTables.reach``).
    rho_at_cell : (n,) float64
        Collagen density under each live cell.
    t_min : float, min
        Time at the start of the step (sets θ_I).
    """
    cfg = scenario.ddr2
    n = cells.n_live
    contacts = cells["msc_contacts"]
    if cfg.contact == "direct" and grid is not None:
        backend.count_msc_contacts(
            cells["pos_um"],
            cells["radius_um"],
            cells["kind"],
            cells["state"],
            n,
            reach,
            cfg.contact_range_factor,
            grid.bin_um,
            grid.n_bins,
            grid.start,
            grid.order,
            grid.bins,
            contacts,
            grid.span,
        )
    else:
        contacts[:n] = 0
    if not cfg.enabled:
        return
    backend.ddr2_update(
        n,
        cells["kind"],
        cells["state"],
        cells["ddr2_expression"],
        cells["ddr2_activity"],
        cells["ddr2_basal"],
        cells["ddr2_max"],
        cells["ddr2_competence"],
        contacts,
        cells["msc_contact_min"],
        cells["oxygen_mmhg"],
        np.ascontiguousarray(rho_at_cell, dtype=np.float64),
        cfg.induction_per_min,
        cfg.contact_saturation,
        cfg.hypoxic_induction_per_min,
        cfg.hypoxic_threshold_mmhg,
        cfg.hypoxic_saturation_mmhg,
        cfg.decay_per_min,
        cfg.activation_per_min,
        cfg.deactivation_per_min,
        cfg.collagen_half_activation,
        cfg.occupancy_at(t_min),
        dt_min,
    )
    a = cells["ddr2_activity"][:n]
    cells["adhesion_scale"][:n] = np.sqrt(
        np.clip(1.0 - cfg.effects.adhesion_loss * a, 0.0, 1.0)
    )


def proliferation_scale(cells: Cells, scenario: Scenario) -> F64Array:
    """(capacity,) cycle-rate multiplier 1 + g_p A (1 where g_p = 0; §4.9)."""
    out = np.ones(cells.capacity)
    g = scenario.ddr2.effects.proliferation_gain
    if scenario.ddr2.enabled and g > 0:
        n = cells.n_live
        out[:n] = 1.0 + g * cells["ddr2_activity"][:n]
    return out


def steady_expression(
    n_contacts: float,
    k_ind: float,
    k_c: float,
    k_deg: float,
    d0: float,
    d_max: float = 1.0,
    competence: float = 1.0,
) -> float:
    """D* of §4.7 for a fixed contact count (no hypoxia): the closed form the tests use."""
    kt = competence * k_ind * n_contacts / (n_contacts + k_c)
    return (kt * d_max + k_deg * d0) / (kt + k_deg)


def steady_activity(
    expression: float, rho: float, k_on: float, k_off: float, k_rho: float, theta: float
) -> float:
    """A* = k_a D/(k_a + k_off), k_a = k_on ρ/(ρ + K_ρ)(1 − θ) (§4.8)."""
    kp = k_on * rho / (rho + k_rho) * (1.0 - theta)
    return kp * expression / (kp + k_off) if kp + k_off > 0 else 0.0
