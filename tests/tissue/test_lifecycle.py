"""Cycle, death, division, removal and the hypoxic core (SCIENCE.md §3, §2).

Statistical checks take their tolerance from the standard error of the process they test
(binomial death, Galton–Watson growth); every run has a fixed seed.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from conftest import box
from metastroma.config.models import (
    KIND_NAMES,
    CancerCellConfig,
    CellTypesConfig,
    CycleConfig,
    DeathConfig,
    DomainConfig,
    MechanicsConfig,
    MotilityConfig,
    MscCellConfig,
    OxygenConfig,
    Placement,
    Scenario,
    TimeConfig,
)
from metastroma.kernels import APOPTOTIC, CPU, LIVE, NECROTIC
from metastroma.tissue.lifecycle import advance_lifecycle, lifecycle_tables
from metastroma.tissue.oxygen import update_oxygen
from metastroma.tissue.simulation import TissueSimulation
from metastroma.tissue.state import Cells

NO_FORCES = MechanicsConfig(repulsion_um_per_min=0.0, adhesion_um_per_min=0.0)
STILL = MotilityConfig(enabled=False)
IMMORTAL = DeathConfig(apoptosis_per_min=0.0, necrosis="off")
# one phenotype step of 6 min with 6 mechanics steps: lifecycle tests do not need fine mechanics
COARSE = TimeConfig(duration_min=600.0, dt_mechanics_min=1.0, dt_phenotype_min=6.0)


def _population(
    n_cells: int,
    cycle: CycleConfig,
    death: DeathConfig = IMMORTAL,
    seed: int = 3,
    ball_um: float = 300.0,
) -> Scenario:
    """Cancer cells without forces or motility in a large 2D domain, oxygen at 38 mmHg."""
    return Scenario(
        seed=seed,
        domain=box(2, 1000.0),
        time=COARSE,
        oxygen=OxygenConfig(enabled=False, initial_mmhg=38.0),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                mechanics=NO_FORCES, motility=STILL, cycle=cycle, death=death
            )
        ),
        initial_cells=[Placement(n_cells=n_cells, radius_um=ball_um)],
    )


# ------------------------------------------------------------- growth and decay


def _slope_se(p: float, n0: int, k_max: int) -> float:
    """SE of the least-squares slope of ln N_k on k (k = 0..k_max) for a Galton–Watson
    process where each cell splits with probability p per step.

    ln N_k = ln N0 + k ln m + ε_k, ε_k ≈ W_k − 1 = Σ_{j<k} δ_j, with independent
    increments Var δ_j = p(1 − p) / (N0 m^{j+2}), m = 1 + p.
    """
    m = 1.0 + p
    k = np.arange(k_max + 1, dtype=np.float64)
    c = (k - k.mean()) / np.sum((k - k.mean()) ** 2)
    tail = np.cumsum(c[::-1])[::-1]  # tail[i] = Σ_{k ≥ i} c_k
    j = np.arange(k_max)
    var = np.sum(p * (1 - p) / (n0 * m ** (j + 2)) * tail[j + 1] ** 2)
    return float(np.sqrt(var))


def test_exponential_growth_rate_with_ample_oxygen() -> None:
    rate = 1.0 / 60.0  # 1/min; per-step probability r Δt = 0.1
    dt = COARSE.dt_phenotype_min
    n0, k_max = 200, 40
    cycle = CycleConfig(
        model="live", phase_durations_min=[1.0 / rate], oxygen_dependent=True
    )
    sim = TissueSimulation.from_scenario(_population(n0, cycle))
    counts = [sim.cells.n_live]
    for _ in range(k_max):
        sim.advance_block()
        counts.append(sim.cells.n_live)
    counts_arr = np.asarray(counts, dtype=np.float64)
    assert counts_arr[-1] > 20 * n0  # it grew
    t = dt * np.arange(k_max + 1)
    slope = np.polyfit(t, np.log(counts_arr), 1)[0]
    p = rate * dt
    theory = math.log1p(p) / dt  # (1 + r Δt) per phenotype step
    se = _slope_se(p, n0, k_max) / dt
    assert abs(slope - theory) < 4 * se, (slope, theory, se)
    # and the whole growth: ln(N_K / N0) = K ln(1 + p) + ln W, Var W ≈ (1 − p)/((1 + p) N0)
    sd_w = math.sqrt((1 - p) / ((1 + p) * n0) * (1 - (1 + p) ** -k_max))
    assert abs(math.log(counts_arr[-1] / n0) - k_max * math.log1p(p)) < 4 * sd_w
    # cells kept the oxygen they read: the rate was not scaled down
    assert np.all(sim.cells.live("oxygen_mmhg") == 38.0)


def test_no_growth_below_the_proliferation_threshold() -> None:
    cycle = CycleConfig(model="live", phase_durations_min=[60.0], oxygen_dependent=True)
    scen = _population(200, cycle)
    scen = scen.model_copy(
        update={"oxygen": OxygenConfig(enabled=False, initial_mmhg=5.0)}
    )
    sim = TissueSimulation.from_scenario(scen)
    for _ in range(20):
        sim.advance_block()
    assert sim.cells.n_live == 200  # r(c_P) = 0


def test_apoptosis_decay_and_removal_after_the_duration() -> None:
    r_a, duration = 1.0 / 300.0, 120.0
    dt = COARSE.dt_phenotype_min
    n0, k_max = 2000, 100
    death = DeathConfig(
        apoptosis_per_min=r_a, apoptosis_duration_min=duration, necrosis="off"
    )
    sim = TissueSimulation.from_scenario(
        _population(n0, CycleConfig(model="none"), death)
    )
    m = math.ceil(
        duration / dt - 1e-9
    )  # phenotype steps a cell is dead, its death step included
    q = 1.0 - r_a * dt
    died_at: dict[int, int] = {}
    gone_at: dict[int, int] = {}
    alive_ids = set(range(n0))
    n_live, n_all = [n0], [n0]
    for k in range(1, k_max + 1):
        sim.advance_block()
        ids = sim.cells.live("cell_id")
        state = sim.cells.live("state")
        assert set(np.unique(state)) <= {LIVE, APOPTOTIC}
        for cid in ids[state == APOPTOTIC]:
            died_at.setdefault(int(cid), k)
        for cid in alive_ids - set(ids.tolist()):
            gone_at[cid] = k
        alive_ids = set(ids.tolist())
        n_live.append(int(np.count_nonzero(state == LIVE)))
        n_all.append(sim.cells.n_live)
    # live cells: Binomial(N0, q^k) at every step
    for k in range(k_max + 1):
        mean = n0 * q**k
        sd = math.sqrt(n0 * q**k * (1 - q**k))
        assert abs(n_live[k] - mean) <= 4 * sd + 1e-9, (k, n_live[k], mean)
    # all cells (live + apoptotic, not yet removed): the same law delayed by m − 1 steps
    for k in range(k_max + 1):
        f = q ** max(0, k - (m - 1))
        assert abs(n_all[k] - n0 * f) <= 4 * math.sqrt(n0 * f * (1 - f)) + 1e-9, k
    # every removed cell was apoptotic for exactly the duration (m phenotype steps)
    assert len(gone_at) > 500
    for cid, k in gone_at.items():
        assert k - died_at[cid] == m - 1, cid
    # decay rate of the live count ≈ r_A
    fitted = -math.log(n_live[-1] / n0) / (k_max * dt)
    se = math.sqrt((1 - q**k_max) / (n0 * q**k_max)) / (k_max * dt)
    assert abs(fitted - (-math.log(q) / dt)) < 4 * se
    assert fitted == pytest.approx(r_a, rel=0.1)


# ------------------------------------------------------------- fixed-duration cycle


def test_fixed_phases_divide_exactly_at_the_sum_of_durations() -> None:
    durations = [300.0, 480.0, 240.0, 60.0]
    cycle = CycleConfig(
        model="flow_cytometry_separated",
        phase_durations_min=durations,
        phase_fixed=[True] * 4,
        oxygen_dependent=False,
    )
    n0 = 10
    sim = TissueSimulation.from_scenario(_population(n0, cycle, ball_um=100.0))
    dt = COARSE.dt_phenotype_min
    period = round(sum(durations) / dt)  # 180 phenotype steps
    # PhysiCell semantics: the phenotype step at t = k Δt advances every clock to (k + 1) Δt
    # and a fixed phase is left when its clock reaches the duration, so the cell that is
    # born at t = 0 has divided once the clock has run for 1080 min: after step `period`.
    counts = []
    for k in range(1, 2 * period + 1):
        sim.advance_block()
        counts.append(sim.cells.n_live)
        if k == round(durations[0] / dt):  # G0/G1 just left
            assert np.all(sim.cells.live("phase") == 1)
            assert np.all(sim.cells.live("t_phase_min") == 0.0)
        if k == round(durations[0] / dt) + 1:
            assert np.all(sim.cells.live("t_phase_min") == dt)
    counts_arr = np.asarray(counts)
    first = int(np.argmax(counts_arr > n0)) + 1  # step index at which they divided
    assert first * dt == pytest.approx(sum(durations))
    assert np.all(counts_arr[: period - 1] == n0)
    assert np.all(counts_arr[period - 1 : 2 * period - 1] == 2 * n0)
    assert (
        counts_arr[2 * period - 1] == 4 * n0
    )  # daughters restart G0/G1 at the division


# ------------------------------------------------------------- division


def _dividing_types(fixed_phase_min: float) -> CellTypesConfig:
    """Cancer cells and MSCs that divide at every 6-min phenotype step."""
    cycle = CycleConfig(
        model="live",
        phase_durations_min=[fixed_phase_min],
        phase_fixed=[True],
        oxygen_dependent=False,
    )
    return CellTypesConfig(
        cancer=CancerCellConfig(
            radius_um=8.0, motility=STILL, cycle=cycle, death=IMMORTAL
        ),
        msc=MscCellConfig(radius_um=11.0, motility=STILL, cycle=cycle, death=IMMORTAL),
    )


def test_division_keeps_centre_of_mass_and_inherits(dim: int) -> None:
    scen = Scenario(
        domain=box(dim, 200.0),
        cell_types=_dividing_types(6.0),
        initial_cells=[Placement(n_cells=1, radius_um=1.0)],
    )
    tables = lifecycle_tables(scen)
    rng = np.random.default_rng(5)
    n = 40
    cells = Cells.empty(dim, n)  # full: division must grow the arrays
    kinds = np.where(np.arange(n) % 3 == 0, KIND_NAMES["msc"], KIND_NAMES["cancer"])
    cells["kind"][:n] = kinds
    cells["radius_um"][:n] = np.where(kinds == KIND_NAMES["msc"], 11.0, 8.0)
    cells["pos_um"][:n] = rng.uniform(-150, 150, (n, dim))
    cells["cell_id"][:n] = rng.permutation(
        np.arange(100, 100 + n)
    )  # ids need not be rows
    cells["oxygen_mmhg"][:n] = rng.uniform(10, 38, n)
    cells["direction"][:n] = 1.0 / math.sqrt(dim)
    cells["has_prev"][:n] = True
    cells["vel_prev_um_per_min"][:n] = 1.0
    cells.n_live, cells.next_id = n, 140
    before = {k: v[:n].copy() for k, v in cells.cols.items()}
    lower = np.asarray(scen.domain.lower_um, dtype=np.float64)
    upper = np.asarray(scen.domain.upper_um, dtype=np.float64)
    rep = advance_lifecycle(cells, tables, scen.seed, 7, 6.0, lower, upper, CPU)
    out = rep.cells
    assert rep.n_divided == n and rep.n_removed == 0
    assert out.n_live == 2 * n and out.next_id == 140 + n and out.capacity >= 2 * n
    mothers, daughters = slice(0, n), slice(n, 2 * n)
    # daughters: new unique ids, in the mothers' row order
    np.testing.assert_array_equal(out["cell_id"][daughters], np.arange(140, 140 + n))
    np.testing.assert_array_equal(out["cell_id"][mothers], before["cell_id"])
    # centre of mass kept, mother and daughter ½R either side of the old centre
    xm, xd = out["pos_um"][mothers], out["pos_um"][daughters]
    np.testing.assert_allclose(0.5 * (xm + xd), before["pos_um"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        np.linalg.norm(xd - xm, axis=1), before["radius_um"], rtol=1e-12
    )
    u = (xd - xm) / before["radius_um"][:, None]
    assert np.abs(u.mean(axis=0)).max() < 0.5  # random directions, not one axis
    # inherited: kind, radius, oxygen, phase state (just reset by the division)
    for name in ("kind", "radius_um", "oxygen_mmhg", "state"):
        np.testing.assert_array_equal(out[name][daughters], before[name])
        np.testing.assert_array_equal(out[name][mothers], before[name])
    for name in ("phase", "t_phase_min"):
        np.testing.assert_array_equal(out[name][: 2 * n], 0)
    # both restart their walk and integrator
    assert not out["has_prev"][: 2 * n].any()
    assert np.all(out["direction"][: 2 * n] == 0.0)


def test_ids_are_never_reused() -> None:
    cycle = CycleConfig(
        model="live", phase_durations_min=[60.0], oxygen_dependent=False
    )
    death = DeathConfig(
        apoptosis_per_min=1.0 / 120.0, apoptosis_duration_min=12.0, necrosis="off"
    )
    sim = TissueSimulation.from_scenario(_population(100, cycle, death, ball_um=150.0))
    seen = set(sim.cells.live("cell_id").tolist())
    n_div = n_rm = 0
    for _ in range(30):
        next_id = sim.cells.next_id
        rep = sim.advance_block()
        n_div += rep.n_divided
        n_rm += rep.n_removed
        ids = sim.cells.live("cell_id")
        assert np.unique(ids).size == ids.size
        new = np.setdiff1d(ids, np.fromiter(seen, np.int64))
        np.testing.assert_array_equal(
            np.sort(new), np.arange(next_id, next_id + rep.n_divided)
        )
        assert sim.cells.next_id == next_id + rep.n_divided
        seen.update(ids.tolist())
    assert n_div > 20 and n_rm > 10  # both happened, so reuse was possible


# ------------------------------------------------------------- same seed, 1 or 2 threads


def _busy_scenario(dim: int, seed: int) -> Scenario:
    return Scenario(
        seed=seed,
        domain=box(dim, 160.0 if dim == 2 else 100.0),
        time=TimeConfig(duration_min=24.0, dt_mechanics_min=0.1, dt_phenotype_min=6.0),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                motility=MotilityConfig(speed_um_per_min=1.0, persistence_min=5.0),
                cycle=CycleConfig(model="live", phase_durations_min=[60.0]),
                death=DeathConfig(
                    apoptosis_per_min=1.0 / 300.0, apoptosis_duration_min=12.0
                ),
            ),
            msc=MscCellConfig(),
        ),
        initial_cells=[
            Placement(
                n_cells=150 if dim == 2 else 120, radius_um=60.0 if dim == 2 else 40.0
            ),
            Placement(kind="msc", n_cells=20, radius_um=60.0 if dim == 2 else 40.0),
        ],
    )


def _final_state(
    scen: Scenario, threads: int, blocks: int = 4
) -> dict[str, np.ndarray]:
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        sim = TissueSimulation.from_scenario(scen)
        divided = 0
        for _ in range(blocks):
            divided += sim.advance_block().n_divided
        assert divided > 0
        return sim.state_arrays()
    finally:
        numba.set_num_threads(old)


def test_same_seed_same_bits_on_one_or_two_threads(
    dim: int, every_thread: None
) -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with one thread (NUMBA_NUM_THREADS=1)")
    one = _final_state(_busy_scenario(dim, 42), 1)
    two = _final_state(_busy_scenario(dim, 42), 2)
    assert one.keys() == two.keys()
    for key in one:
        assert one[key].dtype == two[key].dtype, key
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    other = _final_state(_busy_scenario(dim, 43), 2)
    assert other["cells/pos_um"].shape != one[
        "cells/pos_um"
    ].shape or not np.array_equal(other["cells/pos_um"], one["cells/pos_um"])


# ------------------------------------------------------------- hypoxic core


def _spheroid(necrosis: str = "deterministic") -> Scenario:
    return Scenario(
        seed=1,
        domain=DomainConfig(lower_um=[-700.0, -700.0], upper_um=[700.0, 700.0]),
        time=TimeConfig(duration_min=120.0),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                motility=STILL, death=DeathConfig(necrosis=necrosis)
            )
        ),
        initial_cells=[Placement(n_cells=1500, radius_um=340.0, relax_overlaps=True)],
    )


def test_spheroid_has_a_hypoxic_core() -> None:
    sim = TissueSimulation.from_scenario(_spheroid())
    for _ in range(4):
        update_oxygen(sim.cells, sim.oxygen, sim.life, 100.0)
    c = sim.oxygen.c
    nx, ny = c.shape
    centre = c[nx // 2 - 1 : nx // 2 + 1, ny // 2 - 1 : ny // 2 + 1]
    assert c.min() == pytest.approx(centre.min())  # the minimum is at the centre
    assert 0.0 < centre.min() < 5.0
    edge = np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]])
    np.testing.assert_allclose(edge, 38.0, rtol=0, atol=1e-12)  # Dirichlet far field
    # rising from the centre to the edge along both axes
    for profile in (
        c[nx // 2 :, ny // 2],
        c[nx // 2, ny // 2 :],
        c[: nx // 2, ny // 2][::-1],
    ):
        assert np.all(np.diff(profile) > 0)
    # the cells read it: core cells hypoxic, rim cells well oxygenated
    r = np.linalg.norm(sim.cells.live("pos_um"), axis=1)
    o2 = sim.cells.live("oxygen_mmhg")
    assert o2[r < 40].max() < 5.5 and o2.min() < 5.0
    assert o2[r > 320].min() > 10.0


def test_necrosis_in_the_core_only() -> None:
    sim = TissueSimulation.from_scenario(_spheroid("deterministic"))
    sim.advance_block()  # from 38 mmHg everywhere, one 6-min step leaves the core at ~5.6
    assert not np.any(sim.cells.live("state") == NECROTIC)
    sim.advance_block()
    state = sim.cells.live("state")
    o2 = sim.cells.live("oxygen_mmhg")
    # deterministic necrosis (PC default): exactly the live cells below c_N = 5 mmHg
    necrotic = state == NECROTIC
    assert necrotic.sum() > 10
    np.testing.assert_array_equal(necrotic, (o2 < 5.0) & (state != APOPTOTIC))
    for _ in range(10):  # two hours in all
        sim.advance_block()
    state = sim.cells.live("state")
    r = np.linalg.norm(
        sim.cells.live("pos_um") - sim.cells.live("pos_um").mean(axis=0), axis=1
    )
    nec, live = r[state == NECROTIC], r[state == LIVE]
    assert nec.size > 10
    assert nec.mean() < 0.5 * live.mean()
    assert nec.max() < 150.0  # the core, not the rim (spheroid radius 340 µm)


@pytest.mark.parametrize("o2_mmhg", [1.0, 3.75, 6.0])
def test_necrosis_ramp_rate(o2_mmhg: float) -> None:
    # r_N(c) = r_N,max clamp((c_N − c)/(c_N − c_N,max), 0, 1): 1/360, 1/720 and 0 per min
    death = DeathConfig(
        apoptosis_per_min=0.0, necrosis="ramp", necrotic_removal_min=1000.0
    )
    cycle = CycleConfig(model="live", phase_durations_min=[60.0])
    scen = _population(2000, cycle, death)
    scen = scen.model_copy(
        update={"oxygen": OxygenConfig(enabled=False, initial_mmhg=o2_mmhg)}
    )
    sim = TissueSimulation.from_scenario(scen)
    k_max = 30
    for _ in range(k_max):
        sim.advance_block()
    dt = COARSE.dt_phenotype_min
    f = min(max((5.0 - o2_mmhg) / 2.5, 0.0), 1.0)
    p = 1.0 - (1.0 - f * dt / 360.0) ** k_max
    state = sim.cells.live("state")
    n = state.size
    necrotic = np.count_nonzero(state == NECROTIC)
    if o2_mmhg < 5.0:
        assert n == 2000  # no cycling below c_P = 5 mmHg
        assert abs(necrotic - n * p) < 4 * math.sqrt(n * p * (1 - p)), (necrotic, n * p)
    else:
        assert necrotic == 0 and n > 2000
