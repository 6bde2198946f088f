"""Persistent random walk and oxygen-biased motility (SCIENCE.md §1.3)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from conftest import by_id
from metastroma.config.models import (
    CancerCellConfig,
    CellTypesConfig,
    CycleConfig,
    DeathConfig,
    DomainConfig,
    MechanicsConfig,
    MotilityConfig,
    NumericsConfig,
    OxygenConfig,
    Placement,
    Scenario,
    TimeConfig,
)
from metastroma.kernels import rng
from metastroma.tissue.motility import (
    effective_persistence_min,
    persistent_walk_msd_um2,
)
from metastroma.tissue.simulation import TissueSimulation

SPEED = 1.0  # µm/min
PERSISTENCE = 15.0  # min
DT = 0.1  # min


def _free_walkers(
    dim: int,
    n_cells: int,
    bias: float = 0.0,
    seed: int = 11,
    integrator: Literal["euler", "ab2"] = "euler",
) -> Scenario:
    """Non-interacting, immortal, non-dividing walkers far from the walls.

    Repulsion and adhesion are 0, so the (large) radius only sets the neighbour-bin size
    (few bins in 3D); every cell starts ≥ 500 µm from a wall and moves ≤ 120 µm.
    """
    half = 2000.0 if dim == 2 else 1000.0
    return Scenario(
        seed=seed,
        domain=DomainConfig(
            lower_um=[-half] * dim,
            upper_um=[half] * dim,
            voxel_um=40.0 if dim == 2 else 200.0,
        ),
        time=TimeConfig(duration_min=120.0, dt_mechanics_min=DT, dt_phenotype_min=6.0),
        oxygen=OxygenConfig(enabled=False),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                radius_um=50.0,
                mechanics=MechanicsConfig(
                    repulsion_um_per_min=0.0, adhesion_um_per_min=0.0
                ),
                motility=MotilityConfig(
                    speed_um_per_min=SPEED,
                    persistence_min=PERSISTENCE,
                    bias=bias,
                    bias_direction="up_oxygen" if bias > 0 else "none",
                ),
                cycle=CycleConfig(model="none"),
                death=DeathConfig(apoptosis_per_min=0.0, necrosis="off"),
            )
        ),
        initial_cells=[Placement(n_cells=n_cells, radius_um=half - 500.0)],
        numerics=NumericsConfig(integrator=integrator),
    )


def test_effective_persistence_matches_the_discrete_decorrelation() -> None:
    # (1 − Δt/T_p)^k = exp(−k Δt / T_eff) exactly, and T_eff ≈ T_p − Δt/2
    t_eff = effective_persistence_min(PERSISTENCE, DT)
    k = np.arange(0, 2000)
    np.testing.assert_allclose(
        (1 - DT / PERSISTENCE) ** k, np.exp(-k * DT / t_eff), rtol=1e-11
    )
    assert t_eff == pytest.approx(PERSISTENCE - DT / 2, abs=1e-3)


def test_msd_formula_limits() -> None:
    t = np.array([1e-3, 1e5])
    msd = persistent_walk_msd_um2(t, 2.0, 10.0)
    assert msd[0] == pytest.approx((2.0 * t[0]) ** 2, rel=1e-3)  # ballistic v² t²
    assert msd[1] == pytest.approx(
        2 * 4.0 * 10.0 * (t[1] - 10.0), rel=1e-9
    )  # diffusive


@pytest.mark.parametrize(
    ("dim", "integrator"), [(2, "euler"), (3, "euler"), (2, "ab2")], ids=str
)
def test_free_cell_msd_matches_persistent_walk(
    dim: int, integrator: Literal["euler", "ab2"]
) -> None:
    n = 1500
    sim = TissueSimulation.from_scenario(_free_walkers(dim, n, integrator=integrator))
    lags_steps = [10, 50, 150, 300, 600, 1200]  # 1 ... 120 min
    x0 = by_id(sim.cells, "pos_um").copy()
    sq: dict[int, np.ndarray] = {}
    for step in range(1, lags_steps[-1] + 1):
        sim.mechanics_step()
        if step in lags_steps:
            dx = by_id(sim.cells, "pos_um") - x0
            sq[step] = np.sum(dx**2, axis=1)
    # the walls were never touched: positions are unwrapped displacements
    lower = np.asarray(sim.scenario.domain.lower_um)
    upper = np.asarray(sim.scenario.domain.upper_um)
    pos = sim.cells.live("pos_um")
    assert np.all(pos > lower + 300) and np.all(pos < upper - 300)
    # every cell moves at v (no contacts): |Δx| ≤ v t; AB2 sums to
    # Δt [Σ v_n + ½ (v_last − v_first)], at most v Δt more
    slack = 1e-9 if integrator == "euler" else SPEED * DT + 1e-9
    assert np.all(np.sqrt(sq[1200]) <= SPEED * 120.0 + slack)

    t_eff = effective_persistence_min(PERSISTENCE, DT)
    for step in lags_steps:
        t = step * DT
        theory = float(persistent_walk_msd_um2(np.array([t]), SPEED, t_eff)[0])
        mean = sq[step].mean()
        se = sq[step].std(ddof=1) / np.sqrt(n)
        assert abs(mean - theory) < 4 * se, (t, mean, theory, se)
    # the test resolves persistence: a walk with T_p/2 is excluded at 120 min
    half_tp = float(persistent_walk_msd_um2(np.array([120.0]), SPEED, t_eff / 2)[0])
    assert abs(sq[1200].mean() - half_tp) > 8 * sq[1200].std(ddof=1) / np.sqrt(n)


def _linear_oxygen(sim: TissueSimulation, g: np.ndarray) -> None:
    """Oxygen c = 20 + g·x (mmHg, x in µm) on the voxel centres."""
    grid = sim.oxygen.grid
    centres = np.meshgrid(*[grid.centres(a) for a in range(grid.dim)], indexing="ij")
    sim.oxygen.c[...] = 20.0 + sum(g[a] * centres[a] for a in range(grid.dim))


def test_bias_one_follows_the_oxygen_gradient(dim: int) -> None:
    sim = TissueSimulation.from_scenario(_free_walkers(dim, 200, bias=1.0))
    g = np.array([0.003, -0.004, 0.012][:dim])
    _linear_oxygen(sim, g)
    sim.phenotype_step()  # oxygen disabled: the field stays, its gradient is recomputed
    x0 = by_id(sim.cells, "pos_um").copy()
    sim.mechanics_step()
    g_hat = g / np.linalg.norm(g)
    direction = sim.cells.live("direction")
    np.testing.assert_allclose(
        direction, np.broadcast_to(g_hat, direction.shape), atol=1e-12
    )
    # m = v d̂ moves each cell by Δt v ĝ (Euler, no contacts)
    step = by_id(sim.cells, "pos_um") - x0
    np.testing.assert_allclose(
        step, np.broadcast_to(DT * SPEED * g_hat, step.shape), atol=1e-12
    )


def test_bias_reads_the_gradient_of_the_cells_own_voxel(dim: int) -> None:
    # c = 0.001 |x − x0|²: ĝ = (x_vox − x0)/|x_vox − x0| differs from voxel to voxel,
    # and central differences of a quadratic are exact at interior voxels
    sim = TissueSimulation.from_scenario(_free_walkers(dim, 300, bias=1.0))
    x0 = np.array([130.0, -270.0, 50.0][:dim])
    grid = sim.oxygen.grid
    centres = np.meshgrid(*[grid.centres(a) for a in range(dim)], indexing="ij")
    sim.oxygen.c[...] = 0.001 * sum((centres[a] - x0[a]) ** 2 for a in range(dim))
    sim.phenotype_step()
    sim.mechanics_step()  # sorts rows first; positions then move by Δt v ĝ
    pos = sim.cells.live("pos_um") - DT * SPEED * sim.cells.live("direction")
    lower = np.asarray(grid.lower_um)
    idx = np.floor((pos - lower) / grid.voxel_um)
    assert np.all((idx >= 1) & (idx <= np.asarray(grid.shape) - 2))  # interior voxels
    toward = lower + (idx + 0.5) * grid.voxel_um - x0
    expected = toward / np.linalg.norm(toward, axis=1, keepdims=True)
    np.testing.assert_allclose(sim.cells.live("direction"), expected, atol=1e-9)
    assert np.unique(np.round(expected, 6), axis=0).shape[0] > 50  # many directions


def test_partial_bias_mixes_gradient_and_random_direction(dim: int) -> None:
    b = 0.4
    scen = _free_walkers(dim, 300, bias=b)
    sim = TissueSimulation.from_scenario(scen)
    g = np.array([-0.01, 0.002, 0.004][:dim])
    _linear_oxygen(sim, g)
    sim.phenotype_step()
    step = sim.step
    sim.mechanics_step()  # first step: every cell has no direction yet, so all turn
    g_hat = g / np.linalg.norm(g)
    ids = sim.cells.live("cell_id")
    expected = np.empty((ids.shape[0], dim))
    for r, cid in enumerate(ids):
        xi = np.array(
            rng.random_unit_vector(
                scen.seed, step, int(cid), rng.MOTILITY_DIR_A, rng.MOTILITY_DIR_B, dim
            )[:dim]
        )
        u = b * g_hat + (1 - b) * xi
        expected[r] = u / np.linalg.norm(u)
    np.testing.assert_allclose(sim.cells.live("direction"), expected, atol=1e-12)
    # on average the cells head up the gradient
    assert np.mean(sim.cells.live("direction") @ g_hat) > 0.3


def test_dead_cells_do_not_move_actively() -> None:
    sim = TissueSimulation.from_scenario(_free_walkers(2, 50))
    ids = sim.cells.live("cell_id")
    sim.cells.live("state")[ids < 25] = 1  # apoptotic (PC start_death: motility off)
    x0 = by_id(sim.cells, "pos_um").copy()
    for _ in range(20):
        sim.mechanics_step()
    moved = np.linalg.norm(by_id(sim.cells, "pos_um") - x0, axis=1)
    assert np.all(moved[:25] == 0.0)
    assert np.all(moved[25:] > 0.5)
