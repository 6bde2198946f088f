"""DDR2 expression and activity (SCIENCE.md §4.6–4.8): kernels against closed forms,
MSC contact counts against all pairs, and the scenario switches in full simulations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from metastroma.config import scenario_from_dict
from metastroma.config.models import CellKind, Scenario
from metastroma.config.stroma import Ddr2Config
from metastroma.kernels import get_backend
from metastroma.kernels._cpu_stroma import count_msc_contacts, ddr2_update
from metastroma.tissue.ddr2 import steady_activity, steady_expression
from metastroma.tissue.mechanics import (
    build_neighbour_grid,
    mechanics_tables,
    neighbour_grid_shape,
)
from metastroma.tissue.simulation import NEIGHBOUR_SPAN, TissueSimulation
from metastroma.tissue.state import Cells

CFG = Ddr2Config(enabled=True)
K_IND = CFG.induction_per_min
K_DEG = CFG.decay_per_min
K_C = CFG.contact_saturation
K_ON = CFG.activation_per_min
K_OFF = CFG.deactivation_per_min
K_RHO = CFG.collagen_half_activation
D0 = CFG.cancer.basal_expression


# ------------------------------------------------------------------ kernel helpers


def _rows(n: int, **cols: Any) -> dict[str, np.ndarray]:
    """Per-row arrays for ``ddr2_update``; scalars are broadcast to ``n`` rows."""
    spec = {
        "kind": (np.int8, CellKind.CANCER),
        "state": (np.int8, 0),
        "expression": (np.float64, D0),
        "activity": (np.float64, 0.0),
        "basal": (np.float64, D0),
        "d_max": (np.float64, 1.0),
        "competence": (np.float64, 1.0),
        "contacts": (np.int32, 0),
        "contact_min": (np.float64, 0.0),
        "oxygen": (np.float64, 38.0),
        "rho": (np.float64, 0.5),
    }
    out = {}
    for name, (dtype, default) in spec.items():
        out[name] = np.ascontiguousarray(
            np.broadcast_to(np.asarray(cols.get(name, default), dtype=dtype), (n,))
        ).copy()
    return out


def _step(r: dict[str, np.ndarray], dt: float, **par: float) -> None:
    """One ``ddr2_update`` of every row in ``r`` (in place)."""
    p = {
        "k_ind": K_IND,
        "k_c": K_C,
        "k_hyp": 0.0,
        "c_hyp": 15.0,
        "c_hyp_sat": 4.0,
        "k_deg": K_DEG,
        "k_on": K_ON,
        "k_off": K_OFF,
        "k_rho": K_RHO,
        "theta": 0.0,
    }
    p.update(par)
    ddr2_update(
        r["kind"].shape[0],
        r["kind"],
        r["state"],
        r["expression"],
        r["activity"],
        r["basal"],
        r["d_max"],
        r["competence"],
        r["contacts"],
        r["contact_min"],
        r["oxygen"],
        r["rho"],
        p["k_ind"],
        p["k_c"],
        p["k_hyp"],
        p["c_hyp"],
        p["c_hyp_sat"],
        p["k_deg"],
        p["k_on"],
        p["k_off"],
        p["k_rho"],
        p["theta"],
        dt,
    )


# ------------------------------------------------------------------ closed forms


def test_defaults_give_the_steady_states_and_time_scales_of_science_4_7_and_4_8() -> (
    None
):
    one = steady_expression(1, K_IND, K_C, K_DEG, D0)
    many = steady_expression(1e9, K_IND, K_C, K_DEG, D0)
    assert one == pytest.approx(0.57, abs=0.006)  # 0.565 (SCIENCE.md rounds up)
    assert one / D0 == pytest.approx(2.3, abs=0.05)
    assert many == pytest.approx(0.69, abs=0.005)
    assert many / D0 == pytest.approx(2.8, abs=0.05)
    tau_one = 1.0 / (K_IND / 2 + K_DEG)
    assert tau_one == pytest.approx(605.0, rel=0.01)
    assert steady_activity(1.0, 0.5, K_ON, K_OFF, K_RHO, 0.0) == pytest.approx(
        0.79, abs=0.005
    )
    assert steady_expression(0, K_IND, K_C, K_DEG, D0) == pytest.approx(D0, abs=1e-15)


def test_induction_needs_contact_and_saturates_with_the_contact_count() -> None:
    contacts = np.array([0, 1, 2, 5], dtype=np.int32)
    r = _rows(4, contacts=contacts)
    for _ in range(3000):  # 18000 min ≈ 30 relaxation times
        _step(r, 6.0)
    expected = [steady_expression(int(c), K_IND, K_C, K_DEG, D0) for c in contacts]
    np.testing.assert_allclose(r["expression"], expected, rtol=1e-12, atol=1e-15)
    assert r["expression"][0] == pytest.approx(D0, abs=1e-15)
    assert np.all(np.diff(r["expression"]) > 0.02)  # more contacts, more DDR2
    # contact time accumulates only with at least one contact
    np.testing.assert_array_equal(r["contact_min"], [0.0, 18000.0, 18000.0, 18000.0])


def test_iterated_update_reaches_the_steady_activity_of_each_density() -> None:
    rho = np.array([0.0, 0.1, 0.5, 1.0])
    r = _rows(4, contacts=1, rho=rho)
    for _ in range(3000):
        _step(r, 6.0)
    d_star = steady_expression(1, K_IND, K_C, K_DEG, D0)
    np.testing.assert_allclose(r["expression"], d_star, rtol=1e-12)
    a_star = [steady_activity(d_star, x, K_ON, K_OFF, K_RHO, 0.0) for x in rho]
    np.testing.assert_allclose(r["activity"], a_star, rtol=1e-12, atol=1e-15)
    assert r["activity"][0] == 0.0  # no collagen, no activation
    assert np.all(np.diff(r["activity"]) > 0.01)


@pytest.mark.parametrize("n_contacts", [0, 1, 4])
def test_expression_gap_shrinks_by_e_in_one_relaxation_time(n_contacts: int) -> None:
    kt = K_IND * n_contacts / (n_contacts + K_C)
    tau = 1.0 / (kt + K_DEG)
    d_star = steady_expression(n_contacts, K_IND, K_C, K_DEG, D0)
    start = 0.95  # above D* for every count: the gap has one sign
    r = _rows(1, contacts=n_contacts, expression=start)
    for _ in range(100):
        _step(r, tau / 100)
    gap = r["expression"][0] - d_star
    assert gap == pytest.approx((start - d_star) / math.e, rel=1e-12)


def test_activity_gap_shrinks_by_e_in_one_relaxation_time() -> None:
    # no induction and D = D₀, so D is constant and A relaxes with k_on g (1 − θ) + k_off
    rho, theta = 0.4, 0.3
    kp = K_ON * rho / (rho + K_RHO) * (1 - theta)
    tau = 1.0 / (kp + K_OFF)
    r = _rows(1, rho=rho, activity=0.0)
    a_star = steady_activity(D0, rho, K_ON, K_OFF, K_RHO, theta)
    for _ in range(50):
        _step(r, tau / 50, k_ind=0.0, theta=theta)
    assert r["expression"][0] == pytest.approx(D0, rel=1e-14)
    assert a_star - r["activity"][0] == pytest.approx(a_star / math.e, rel=1e-12)


def test_one_step_equals_two_half_steps_for_expression_and_activity() -> None:
    # the update solves the linear pair (D, A) exactly over a step with n, c, ρ, θ held:
    # one step of Δt equals two of Δt/2, for D and for A while D moves
    rng = np.random.default_rng(7)
    n = 64
    kw = {
        "contacts": rng.integers(0, 6, n).astype(np.int32),
        "expression": rng.uniform(0.0, 1.0, n),
        "rho": rng.uniform(0.0, 1.0, n),
    }
    kw["activity"] = kw["expression"] * rng.uniform(0.0, 1.0, n)
    one = _rows(n, **kw)
    two = _rows(n, **kw)
    _step(one, 30.0, theta=0.2)
    _step(two, 15.0, theta=0.2)
    _step(two, 15.0, theta=0.2)
    np.testing.assert_allclose(one["expression"], two["expression"], rtol=1e-12)
    assert np.abs(one["expression"] - kw["expression"]).min() > 1e-4  # D moved
    # A ≤ D clamps can differ between the paths; compare the cells away from the clamp
    free = one["activity"] < one["expression"] - 1e-9
    assert free.sum() > n // 2
    np.testing.assert_allclose(
        one["activity"][free], two["activity"][free], rtol=1e-10, atol=1e-14
    )
    assert np.abs(one["activity"] - kw["activity"]).max() > 1e-3  # A moved


def test_activity_matches_a_fine_integration_of_the_coupled_odes() -> None:
    # the step size does not matter: 6-min and 0.05-min steps agree to rounding
    def run(dt: float, t_end: float = 600.0) -> float:
        r = _rows(1, contacts=3, rho=0.5)
        for _ in range(round(t_end / dt)):
            _step(r, dt)
        return float(r["activity"][0])

    ref = run(0.05)
    assert ref > 0.1
    assert run(6.0) == pytest.approx(ref, rel=1e-9)
    assert run(60.0) == pytest.approx(ref, rel=1e-9)


def test_activity_at_equal_rates_uses_the_limit() -> None:
    # λ = k_on g(ρ) + k_off equal to r = k̃ + k_deg: φ → Δt e^{−λΔt}; compare a tiny gap
    r0 = _rows(1, contacts=0, rho=0.5, expression=0.9, activity=0.1)
    kp = 8.3e-3 * 0.5 / (0.5 + 0.3)
    k_deg = kp + 1.4e-3  # r = k_deg (no contacts) equals λ
    _step(r0, 6.0, k_deg=k_deg)
    r1 = _rows(1, contacts=0, rho=0.5, expression=0.9, activity=0.1)
    _step(r1, 6.0, k_deg=k_deg * (1.0 + 1e-7))
    assert r0["activity"][0] == pytest.approx(r1["activity"][0], rel=1e-6)


def test_activity_never_exceeds_expression_when_expression_falls() -> None:
    # no contact: D decays from 1 to D₀ while A starts at D
    r = _rows(1, expression=1.0, activity=1.0, rho=1.0)
    for _ in range(200):
        _step(r, 6.0)
        assert r["activity"][0] <= r["expression"][0]
        assert r["activity"][0] >= 0.0


def test_hypoxic_induction_follows_the_ramp_between_saturation_and_threshold() -> None:
    k_hyp = 0.5 * K_IND
    oxygen = np.array([40.0, 15.0, 9.5, 4.0, 1.0])  # H = 0, 0, 0.5, 1, 1
    ramp = np.array([0.0, 0.0, 0.5, 1.0, 1.0])
    r = _rows(5, oxygen=oxygen)
    for _ in range(1000):  # 60000 min, ≥ 60 relaxation times
        _step(r, 60.0, k_hyp=k_hyp)
    kt = k_hyp * ramp
    expected = (kt + K_DEG * D0) / (kt + K_DEG)
    np.testing.assert_allclose(r["expression"], expected, rtol=1e-12)
    # competence 0 (benign) switches the hypoxic induction off too
    b = _rows(1, oxygen=1.0, competence=0.0, basal=0.0, expression=0.0)
    for _ in range(100):
        _step(b, 6.0, k_hyp=k_hyp)
    assert b["expression"][0] == 0.0


def test_mscs_and_dead_cells_are_left_alone() -> None:
    r = _rows(
        3,
        kind=np.array([CellKind.MSC, CellKind.CANCER, CellKind.CANCER], np.int8),
        state=np.array([0, 1, 2], np.int8),
        contacts=3,
        expression=0.3,
        activity=0.1,
    )
    _step(r, 6.0)
    np.testing.assert_array_equal(r["expression"], [0.3, 0.3, 0.3])
    np.testing.assert_array_equal(r["activity"], [0.1, 0.1, 0.1])
    np.testing.assert_array_equal(r["contact_min"], [0.0, 0.0, 0.0])


def test_knockdown_and_knockout_scale_basal_and_maximum() -> None:
    kd = Ddr2Config(enabled=True, cancer={"perturbation": "knockdown"}).cancer
    assert kd.basal_effective == pytest.approx(0.2 * D0)
    assert kd.max_effective == pytest.approx(0.2)
    ko = Ddr2Config(enabled=True, cancer={"perturbation": "knockout"}).cancer
    assert (ko.basal_effective, ko.max_effective) == (0.0, 0.0)
    r = _rows(2, basal=[0.2 * D0, 0.0], d_max=[0.2, 0.0], expression=[0.2 * D0, 0.0])
    r["contacts"][:] = 5
    for _ in range(3000):
        _step(r, 6.0)
    kt = K_IND * 5 / 6
    assert r["expression"][0] == pytest.approx(
        (kt * 0.2 + K_DEG * 0.2 * D0) / (kt + K_DEG), rel=1e-12
    )
    assert r["expression"][1] == 0.0
    assert r["activity"][1] == 0.0


# ------------------------------------------------------------------ MSC contacts


def _contact_scenario(dim: int, factor: float) -> Scenario:
    half = 100.0 if dim == 2 else 50.0
    return scenario_from_dict(
        {
            "domain": {"lower_um": [-half] * dim, "upper_um": [half] * dim},
            "oxygen": {"enabled": False},
            "cell_types": {"cancer": {}, "msc": {}, "benign": {"radius_um": 7.0}},
            "initial_cells": [],
            "ddr2": {"enabled": True, "contact_range_factor": factor},
        },
        "contacts",
    )


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_msc_contact_counts_equal_all_pairs(dim: int, factor: float) -> None:
    sc = _contact_scenario(dim, factor)
    mech = mechanics_tables(sc)
    rng = np.random.default_rng(11 + dim)
    n = 300 if dim == 2 else 200
    half = sc.domain.upper_um[0]
    cells = Cells.empty(dim, n)
    kind = rng.choice(
        [CellKind.CANCER, CellKind.MSC, CellKind.BENIGN], n, p=[0.5, 0.3, 0.2]
    )
    radius = np.array([8.41, 10.0, 7.0])[kind]
    cells["pos_um"][:n] = rng.uniform(-half, half, (n, dim))
    cells["kind"][:n] = kind
    cells["radius_um"][:n] = radius
    cells["cell_id"][:n] = np.arange(n)
    state = np.where(rng.random(n) < 0.1, 1, 0)  # a few dead (apoptotic) cells
    cells["state"][:n] = state
    cells.n_live = n
    lower = np.asarray(sc.domain.lower_um, dtype=np.float64)
    upper = np.asarray(sc.domain.upper_um, dtype=np.float64)
    bin_um, n_bins = neighbour_grid_shape(
        lower, upper, max(mech.max_interaction_um, factor * mech.max_adhesion_um)
    )
    grid = build_neighbour_grid(cells, lower, bin_um, n_bins, get_backend())
    out = np.full(n, -7, dtype=np.int32)
    count_msc_contacts(
        cells["pos_um"],
        cells["radius_um"],
        cells["kind"],
        cells["state"],
        n,
        mech.reach,
        factor,
        grid.bin_um,
        grid.n_bins,
        grid.start,
        grid.order,
        grid.bins,
        out,
    )
    pos = cells.live("pos_um")
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    s = factor * (
        mech.reach[kind][:, None] * radius[:, None]
        + mech.reach[kind][None, :] * radius[None, :]
    )
    live = state == 0
    msc = (kind == CellKind.MSC) & live
    slow = ((d < s) & msc[None, :]).sum(axis=1)
    slow[(kind == CellKind.MSC) | ~live] = 0
    assert np.count_nonzero(slow) > 20  # the case has contacts
    assert np.count_nonzero(slow[kind == CellKind.BENIGN]) > 0  # benign cells too
    np.testing.assert_array_equal(out, slow)


# ------------------------------------------------------------------ simulations

STILL: dict[str, Any] = {
    "motility": {"enabled": False},
    "cycle": {"model": "none"},
    "death": {"apoptosis_per_min": 0.0, "necrosis": "off"},
}


def _sim(
    cancer_xy: list[list[float]],
    msc_xy: list[list[float]],
    benign_xy: list[list[float]] | None = None,
    **ddr2: Any,
) -> TissueSimulation:
    """Still, immortal cells at the given x–y positions in a 400-µm box."""
    placements = [
        {"kind": "cancer", "n_cells": len(cancer_xy), "radius_um": 50},
        {"kind": "msc", "n_cells": len(msc_xy), "radius_um": 50},
    ]
    types: dict[str, Any] = {"cancer": STILL, "msc": STILL}
    if benign_xy:
        placements.append(
            {"kind": "benign", "n_cells": len(benign_xy), "radius_um": 50}
        )
        types["benign"] = STILL
    sc = scenario_from_dict(
        {
            "seed": 3,
            "domain": {"lower_um": [-200, -200], "upper_um": [200, 200]},
            "time": {"duration_min": 600},
            "oxygen": {"enabled": False},
            "cell_types": types,
            "initial_cells": placements,
            "ddr2": {"enabled": True, **ddr2},
            "ecm": {"enabled": True, "remodelling": "off"},
        },
        "ddr2-sim",
    )
    sim = TissueSimulation.from_scenario(sc)
    xy = np.asarray(cancer_xy + msc_xy + (benign_xy or []), dtype=np.float64)
    assert xy.shape[0] == sim.cells.n_live
    sim.cells["pos_um"][: xy.shape[0]] = xy
    return sim


# a cancer cell touching one MSC, one touching two, one alone far away
CANCER_XY = [[0.0, 0.0], [-100.0, 0.0], [150.0, 150.0]]
MSC_XY = [[18.0, 0.0], [-100.0, 18.0], [-100.0, -18.0]]


def test_touching_cells_follow_the_closed_form_and_an_isolated_cell_keeps_basal() -> (
    None
):
    sim = _sim(CANCER_XY, MSC_XY)
    blocks = 5
    for _ in range(blocks):
        sim.advance_block()
    c = sim.cells
    order = np.argsort(c.live("cell_id"))
    d = c.live("ddr2_expression")[order]
    a = c.live("ddr2_activity")[order]
    np.testing.assert_array_equal(c.live("msc_contacts")[order], [1, 2, 0, 0, 0, 0])
    t = blocks * sim.dt_ph
    for i, n_c in enumerate([1, 2, 0]):
        kt = K_IND * n_c / (n_c + K_C)
        d_star = steady_expression(n_c, K_IND, K_C, K_DEG, D0)
        expected = d_star + (D0 - d_star) * math.exp(-(kt + K_DEG) * t)
        assert d[i] == pytest.approx(expected, rel=1e-12), i
    assert d[2] == pytest.approx(D0, abs=1e-15)
    assert d[0] > D0 + 0.01
    assert d[1] > d[0]
    # activity on the uniform collagen (ρ₀ = 0.5) grows in every cancer cell, A < D
    assert np.all(a[:3] > 0.0)
    assert np.all(a[:3] < d[:3])
    # MSC rows carry no expression; their genotype is δ = 1
    np.testing.assert_array_equal(d[3:], 0.0)
    np.testing.assert_array_equal(c.live("msc_genotype")[order][3:], 1.0)
    # EMT: the adhesion scale is √(1 − g_adh A)
    g_adh = sim.scenario.ddr2.effects.adhesion_loss
    np.testing.assert_allclose(
        c.live("adhesion_scale")[order][:3], np.sqrt(1 - g_adh * a[:3]), rtol=1e-14
    )


def test_transwell_gives_zero_contacts_and_basal_expression() -> None:
    direct = _sim(CANCER_XY, MSC_XY)
    direct.advance_block()
    assert direct.cells.live("msc_contacts").sum() == 3  # the geometry has contacts
    sim = _sim(CANCER_XY, MSC_XY, contact="transwell")
    for _ in range(5):
        sim.advance_block()
    c = sim.cells
    cancer = c.live("kind") == CellKind.CANCER
    np.testing.assert_array_equal(c.live("msc_contacts"), 0)
    np.testing.assert_allclose(c.live("ddr2_expression")[cancer], D0, rtol=1e-14)
    np.testing.assert_array_equal(c.live("msc_contact_min"), 0.0)
    assert np.all(c.live("ddr2_activity")[cancer] > 0)  # activation still runs


def test_benign_cells_next_to_mscs_keep_no_ddr2() -> None:
    sim = _sim(
        [[150.0, 150.0]], MSC_XY, benign_xy=[[0.0, 0.0], [-100.0, 0.0], [150.0, -150.0]]
    )
    for _ in range(5):
        sim.advance_block()
    c = sim.cells
    benign = c.live("kind") == CellKind.BENIGN
    assert benign.sum() == 3
    assert c.live("msc_contacts")[benign].sum() == 3  # they are counted as touching
    np.testing.assert_array_equal(c.live("ddr2_expression")[benign], 0.0)
    np.testing.assert_array_equal(c.live("ddr2_activity")[benign], 0.0)
    assert np.all(c.live("msc_contact_min")[benign][:2] > 0)


def test_knocked_out_cells_never_gain_ddr2() -> None:
    sim = _sim(CANCER_XY, MSC_XY, cancer={"perturbation": "knockout"})
    for _ in range(5):
        sim.advance_block()
        c = sim.cells
        cancer = c.live("kind") == CellKind.CANCER
        assert cancer.sum() == 3
        np.testing.assert_array_equal(c.live("ddr2_expression")[cancer], 0.0)
        np.testing.assert_array_equal(c.live("ddr2_activity")[cancer], 0.0)
    assert sim.cells.live("msc_contacts").sum() == 3


def test_full_inhibitor_occupancy_blocks_activation_but_not_induction() -> None:
    sim = _sim(CANCER_XY, MSC_XY, inhibitor=[{"start_min": 0.0, "occupancy": 1.0}])
    for _ in range(5):
        sim.advance_block()
    c = sim.cells
    order = np.argsort(c.live("cell_id"))
    np.testing.assert_array_equal(c.live("ddr2_activity"), 0.0)
    assert c.live("ddr2_expression")[order][0] > D0 + 0.01


def test_inhibitor_started_later_makes_activity_decay_at_k_off() -> None:
    start = 3 * 6.0  # after three phenotype steps
    sim = _sim(CANCER_XY, MSC_XY, inhibitor=[{"start_min": start, "occupancy": 1.0}])
    history = []
    for _ in range(6):
        sim.advance_block()
        order = np.argsort(sim.cells.live("cell_id"))  # rows move (sort by bin)
        history.append(sim.cells.live("ddr2_activity")[order][:3].copy())
    h = np.array(history)
    assert np.all(np.diff(h[:3], axis=0) > 0)  # rising before the inhibitor
    np.testing.assert_allclose(
        h[3:], h[2] * np.exp(-K_OFF * 6.0 * np.arange(1, 4))[:, None], rtol=1e-12
    )


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_simulation_counts_contacts_with_its_own_grid_at_any_range_factor(
    factor: float,
) -> None:
    # the simulation's bins × span must cover f × max S_ij (else pairs are missed)
    sc = scenario_from_dict(
        {
            "seed": 8,
            "domain": {"lower_um": [-150, -150], "upper_um": [150, 150]},
            "oxygen": {"enabled": False},
            "cell_types": {"cancer": STILL, "msc": STILL},
            "initial_cells": [
                {"kind": "cancer", "shape": "box", "n_cells": 250},
                {"kind": "msc", "shape": "box", "n_cells": 60},
            ],
            "ddr2": {"enabled": True, "contact_range_factor": factor},
        },
        "contacts-sim",
    )
    sim = TissueSimulation.from_scenario(sc)
    assert np.all(NEIGHBOUR_SPAN * sim.bin_um >= factor * sim.mech.max_adhesion_um)
    assert np.all((NEIGHBOUR_SPAN - 1) * sim.bin_um < factor * sim.mech.max_adhesion_um)
    c = sim.cells
    pos, kind, radius = c.live("pos_um"), c.live("kind"), c.live("radius_um")
    sim.phenotype_step()
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    reach = sim.mech.reach[kind] * radius
    s = factor * (reach[:, None] + reach[None, :])
    slow = ((d < s) & (kind == CellKind.MSC)[None, :]).sum(axis=1)
    slow[kind == CellKind.MSC] = 0
    assert np.count_nonzero(slow) > 30
    np.testing.assert_array_equal(c.live("msc_contacts"), slow)


def test_activation_reads_the_collagen_of_the_cells_own_element() -> None:
    sim = _sim([[-150.0, -150.0], [150.0, 150.0]], [])
    f = sim.ecm
    assert f is not None
    el = sim.backend.elements_of_cells(
        sim.cells["pos_um"], 2, f.lower_um, f.element_um, f.shape
    )
    f.rho[el[0]] = 0.0  # a collagen-free hole under cell 0
    f.rho[el[1]] = 1.0
    for _ in range(3):
        sim.advance_block()
    order = np.argsort(sim.cells.live("cell_id"))
    a = sim.cells.live("ddr2_activity")[order]
    kp = K_ON * 1.0 / (1.0 + K_RHO)
    a_star = steady_activity(D0, 1.0, K_ON, K_OFF, K_RHO, 0.0)
    assert a[0] == 0.0
    assert a[1] == pytest.approx(
        a_star * (1 - math.exp(-(kp + K_OFF) * 18.0)), rel=1e-12
    )
