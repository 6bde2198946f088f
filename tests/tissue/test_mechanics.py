"""Cell–cell potentials, virtual wall and neighbour grid (SCIENCE.md §1.2).

Levels (STYLE.md §7): a hand-computed pair, properties (Newton's third law, translation
and permutation invariance), and equivalence (grid vs an O(n²) all-pairs reference that
lives here, row sorting vs none).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import box, by_id, random_cells, tiny_scenario, two_kind_types
from metastroma.config.models import (
    KIND_NAMES,
    CancerCellConfig,
    CellTypesConfig,
    CycleConfig,
    DeathConfig,
    MechanicsConfig,
    MotilityConfig,
    NumericsConfig,
    Placement,
    Scenario,
    TimeConfig,
)
from metastroma.kernels import CPU
from metastroma.tissue.mechanics import (
    build_neighbour_grid,
    contact_velocity,
    mechanics_tables,
    neighbour_grid_shape,
)
from metastroma.tissue.simulation import TissueSimulation
from metastroma.tissue.state import Cells

CANCER, MSC = int(KIND_NAMES["cancer"]), int(KIND_NAMES["msc"])


def _scenario(dim: int, half_um: float = 200.0) -> Scenario:
    return Scenario(
        domain=box(dim, half_um),
        cell_types=two_kind_types(),
        initial_cells=[Placement(n_cells=1, radius_um=1.0)],
    )


def grid_velocity(cells: Cells, scenario: Scenario, span: int = 1) -> np.ndarray:
    """Contact velocity of the live rows through the module's grid and kernel."""
    tables = mechanics_tables(scenario)
    lower = np.asarray(scenario.domain.lower_um, dtype=np.float64)
    upper = np.asarray(scenario.domain.upper_um, dtype=np.float64)
    bin_um, n_bins = neighbour_grid_shape(lower, upper, tables.max_interaction_um, span)
    grid = build_neighbour_grid(cells, lower, bin_um, n_bins, CPU, span)
    cells["vel_um_per_min"][:] = np.nan  # the kernel must overwrite every live row
    contact_velocity(cells, tables, grid, CPU)
    return cells.live("vel_um_per_min").copy()


def all_pairs_velocity(cells: Cells, scenario: Scenario) -> np.ndarray:
    """O(n²) NumPy reference of SCIENCE.md §1.2, from the scenario's parameters directly.

    v_i = Σ_j [c_r,ij (1 − d/R_ij)² [d < R_ij] − c_a,ij (1 − d/S_ij)² [d < S_ij]] (x_i − x_j)/d,
    c_r,ij = √(c_r,i c_r,j), c_a,ij = √(c_a,i α_i(τ_j) c_a,j α_j(τ_i)), S_ij = ℓ_i R_i + ℓ_j R_j.
    """
    names = list(KIND_NAMES)
    n_k = len(names)
    cr = np.zeros(n_k)
    ca = np.zeros(n_k)
    ell = np.ones(n_k)
    alpha = np.ones((n_k, n_k))
    for a, name in enumerate(names):
        ct = getattr(scenario.cell_types, name)
        if ct is None:
            continue
        cr[a] = ct.mechanics.repulsion_um_per_min
        ca[a] = ct.mechanics.adhesion_um_per_min
        ell[a] = ct.mechanics.relative_max_adhesion_distance
        for b, other in enumerate(names):
            alpha[a, b] = ct.mechanics.adhesion_affinity.get(other, 1.0)
    pos = cells.live("pos_um")
    r = cells.live("radius_um")
    k = cells.live("kind").astype(np.int64)
    diff = pos[:, None, :] - pos[None, :, :]
    d = np.sqrt(np.sum(diff**2, axis=-1))
    np.fill_diagonal(d, np.inf)
    big_r = r[:, None] + r[None, :]
    big_s = (ell[k] * r)[:, None] + (ell[k] * r)[None, :]
    c_rep = np.sqrt(cr[k][:, None] * cr[k][None, :])
    c_adh = np.sqrt(
        ca[k][:, None]
        * alpha[k[:, None], k[None, :]]
        * ca[k][None, :]
        * alpha[k[None, :], k[:, None]]
    )
    rep = np.where(d < big_r, c_rep * (1.0 - d / big_r) ** 2, 0.0)
    adh = np.where(d < big_s, c_adh * (1.0 - d / big_s) ** 2, 0.0)
    coef = (rep - adh) / d
    return np.einsum("ij,ija->ia", coef, diff)


def _pair(
    dim: int, direction: np.ndarray, d_um: float, kinds: tuple[int, int]
) -> Cells:
    scen = _scenario(dim)
    cells = Cells.empty(dim, 4)
    radius = {
        CANCER: scen.cell_types.cancer.radius_um,
        MSC: scen.cell_types.msc.radius_um,
    }
    centre = np.full(dim, 3.7)  # off the bin edges, not at the origin
    u = direction / np.linalg.norm(direction)
    cells["pos_um"][0] = centre + 0.5 * d_um * u
    cells["pos_um"][1] = centre - 0.5 * d_um * u
    cells["kind"][:2] = kinds
    cells["radius_um"][:2] = [radius[kinds[0]], radius[kinds[1]]]
    cells["cell_id"][:2] = [0, 1]
    cells.n_live = 2
    return cells


# ------------------------------------------------------------- level 1: hand-computed


@pytest.mark.parametrize(
    ("d_um", "expected"),
    [
        # cancer R = 8, ℓ = 1.25, c_r = 10, c_a = 0.4, α(msc) = 0.5
        # MSC    R = 10, ℓ = 1.5, c_r = 20, c_a = 2,   α(cancer) = 0.8
        # R_ij = 18 µm, S_ij = 1.25·8 + 1.5·10 = 25 µm
        # d = 12: both terms; √200 (1 − 12/18)² − √(0.4·0.5·2·0.8) (1 − 12/25)²
        (12.0, math.sqrt(200.0) * (1.0 / 3.0) ** 2 - math.sqrt(0.32) * 0.52**2),
        # d = 20: adhesion only (R_ij < d < S_ij): −√0.32 (1 − 20/25)² = −0.0226 µm/min
        (20.0, -math.sqrt(0.32) * 0.2**2),
        # d = 26: beyond S_ij, no interaction
        (26.0, 0.0),
    ],
)
def test_two_cells_hand_computed(dim: int, d_um: float, expected: float) -> None:
    direction = np.array([3.0, 4.0]) if dim == 2 else np.array([2.0, 1.0, 2.0])
    u = direction / np.linalg.norm(direction)
    cells = _pair(dim, direction, d_um, (CANCER, MSC))
    v = grid_velocity(cells, _scenario(dim))
    # cell 0 sits at +d/2 u: pushed along +u by repulsion, pulled along −u by adhesion
    np.testing.assert_allclose(v[0], expected * u, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v[1], -expected * u, rtol=1e-12, atol=1e-15)
    if d_um == 12.0:
        assert expected == pytest.approx(
            1.4184, abs=1e-4
        )  # the arithmetic above, by hand


def test_two_cells_same_kind_hand_computed() -> None:
    # two MSCs, R = 10 each: R_ij = 20, S_ij = 30; c_r = 20, c_a = √(2·0.9·2·0.9) = 1.8
    cells = _pair(2, np.array([1.0, 0.0]), 15.0, (MSC, MSC))
    v = grid_velocity(cells, _scenario(2))
    expected = 20.0 * 0.25**2 - 1.8 * 0.5**2  # 1.25 − 0.45 = 0.8 µm/min
    np.testing.assert_allclose(v[0], [expected, 0.0], rtol=1e-12)
    np.testing.assert_allclose(v[1], [-expected, 0.0], rtol=1e-12)


def test_coincident_centres_are_finite() -> None:
    cells = _pair(2, np.array([1.0, 0.0]), 0.0, (CANCER, CANCER))
    v = grid_velocity(cells, _scenario(2))
    assert np.all(np.isfinite(v))


# ------------------------------------------------------------- level 3: grid vs all pairs


@pytest.mark.parametrize("span", [1, 2, 3])
def test_grid_contact_velocity_equals_all_pairs(dim: int, span: int) -> None:
    rng = np.random.default_rng(1729 + dim)
    scen = _scenario(dim, half_um=160.0 if dim == 2 else 80.0)
    edge = (
        300.0 if dim == 2 else 150.0
    )  # some cells in the outermost bins (clamped bins)
    cells = random_cells(rng, 400, dim, edge, scen, msc_fraction=0.4)
    fast = grid_velocity(cells, scen, span)
    slow = all_pairs_velocity(cells, scen)
    moving = np.abs(slow).sum(axis=1) > 0
    assert np.count_nonzero(moving) > 100  # the case has contacts
    kinds = cells.live("kind")
    assert np.any(moving & (kinds == MSC)) and np.any(moving & (kinds == CANCER))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_grid_contact_velocity_equals_all_pairs_with_adhesion_only_contacts(
    dim: int,
) -> None:
    # sparse cells: many pairs lie between R_ij and S_ij (attraction only)
    rng = np.random.default_rng(7 + dim)
    scen = _scenario(dim, half_um=200.0)
    cells = random_cells(
        rng, 400, dim, 390.0 if dim == 2 else 120.0, scen, msc_fraction=0.5
    )
    fast = grid_velocity(cells, scen)
    slow = all_pairs_velocity(cells, scen)
    # attraction-only cells: the velocity points towards the neighbour
    assert np.count_nonzero(np.abs(slow).sum(axis=1)) > 100
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("span", [1, 2])
@pytest.mark.parametrize("half_um", [30.0, 40.0, 60.0])
def test_grid_with_one_to_four_bins_per_axis_equals_all_pairs(
    dim: int, half_um: float, span: int
) -> None:
    # the largest interaction distance is 30 µm (two MSCs): 2, 2 and 4 bins per axis
    rng = np.random.default_rng(int(half_um) + dim)
    scen = _scenario(dim, half_um=half_um)
    cells = random_cells(rng, 120, dim, 2 * half_um, scen, msc_fraction=0.5)
    # a few cells exactly on bin edges and on the domain edge
    bin_um, _ = neighbour_grid_shape(
        np.asarray(scen.domain.lower_um), np.asarray(scen.domain.upper_um), 30.0, span
    )
    cells["pos_um"][:3] = -half_um + bin_um * np.arange(3)[:, None]
    cells["pos_um"][3] = half_um
    cells["pos_um"][3, 0] = 0.5 * half_um
    slow = all_pairs_velocity(cells, scen)
    assert np.count_nonzero(np.abs(slow).sum(axis=1)) > 60
    np.testing.assert_allclose(
        grid_velocity(cells, scen, span), slow, rtol=1e-12, atol=1e-12
    )


def test_grid_on_the_box_of_occupied_bins_keeps_the_domain_grid_order(dim: int) -> None:
    # a small cluster off-centre in a large domain: the grid keeps only the occupied box,
    # and its flat order (hence the counting sort and sort_by_bin) is the domain grid's
    rng = np.random.default_rng(11 + dim)
    scen = _scenario(dim, half_um=400.0)
    cells = random_cells(rng, 300, dim, 80.0, scen, msc_fraction=0.3)
    cells["pos_um"][: cells.n_live] += 150.0
    lower = np.asarray(scen.domain.lower_um, dtype=np.float64)
    upper = np.asarray(scen.domain.upper_um, dtype=np.float64)
    bin_um, n_bins = neighbour_grid_shape(lower, upper, 30.0, 2)
    grid = build_neighbour_grid(cells, lower, bin_um, n_bins, CPU, 2)
    assert np.prod(grid.n_bins) < np.prod(n_bins) / 20
    k = np.clip(np.floor((cells.live("pos_um") - lower) / bin_um), 0, n_bins - 1)
    full = np.ravel_multi_index(k.astype(np.int64).T, tuple(n_bins))
    np.testing.assert_array_equal(grid.order, np.argsort(full, kind="stable"))
    box_k = k.astype(np.int64) - np.round((grid.lower - lower) / bin_um).astype(
        np.int64
    )
    np.testing.assert_array_equal(
        grid.bins, np.ravel_multi_index(box_k.T, tuple(grid.n_bins))
    )


# ------------------------------------------------------------- level 2: properties


@st.composite
def _configs(draw: st.DrawFn) -> tuple[int, int, int, float, float]:
    dim = draw(st.sampled_from([2, 3]))
    n = draw(st.integers(2, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    edge = draw(st.floats(10.0, 150.0))
    msc_fraction = draw(st.sampled_from([0.0, 0.5, 1.0]))
    return dim, n, seed, edge, msc_fraction


@settings(max_examples=60, derandomize=True)
@given(_configs())
def test_newtons_third_law(cfg: tuple[int, int, int, float, float]) -> None:
    dim, n, seed, edge, msc_fraction = cfg
    scen = _scenario(dim)
    cells = random_cells(np.random.default_rng(seed), n, dim, edge, scen, msc_fraction)
    v = grid_velocity(cells, scen)
    total = np.abs(v).sum()
    assert np.all(np.abs(v.sum(axis=0)) <= 1e-10 * max(total, 1e-300))


@settings(max_examples=30, derandomize=True)
@given(_configs(), st.integers(0, 2**32 - 1))
def test_translation_and_permutation_invariance(
    cfg: tuple[int, int, int, float, float], seed2: int
) -> None:
    dim, n, seed, edge, msc_fraction = cfg
    scen = _scenario(dim)
    rng = np.random.default_rng(seed)
    cells = random_cells(rng, n, dim, edge, scen, msc_fraction)
    v = grid_velocity(cells, scen)
    scale = max(np.abs(v).max(), 1.0)

    # translation: every cell stays inside the 400 µm domain (edge ≤ 150 µm)
    shift = np.random.default_rng(seed2).uniform(-100.0, 100.0, dim)
    moved = Cells.empty(dim, n)
    for name in ("pos_um", "radius_um", "kind", "cell_id"):
        moved[name][:n] = cells.live(name)
    moved["pos_um"][:n] += shift
    moved.n_live = n
    np.testing.assert_allclose(
        grid_velocity(moved, scen), v, rtol=0, atol=1e-11 * scale
    )

    # permutation: rows move, each cell keeps its velocity
    order = np.random.default_rng(seed2).permutation(n)
    cells.permute(order)
    np.testing.assert_allclose(
        grid_velocity(cells, scen), v[order], rtol=0, atol=1e-11 * scale
    )


# ------------------------------------------------------------- virtual wall


@pytest.mark.parametrize("d_um", [0.0, 2.5, 6.0, 8.0, 12.0])
def test_virtual_wall_pushes_inward(dim: int, d_um: float) -> None:
    radius = 8.0
    cancer = CancerCellConfig(
        radius_um=radius,
        motility=MotilityConfig(enabled=False),
        cycle=CycleConfig(model="none"),
        death=DeathConfig(apoptosis_per_min=0.0, necrosis="off"),
    )
    scen = tiny_scenario(
        dim,
        half_um=100.0,
        n_cells=1,
        ball_um=1.0,
        cancer=cancer,
        numerics=NumericsConfig(integrator="euler"),
    )
    sim = TissueSimulation.from_scenario(scen)
    c_bm = scen.domain.wall_repulsion_um_per_min
    # one cell near the lower x wall and one in the upper corner (every upper wall)
    cells = sim.cells.with_capacity(8)
    cells["pos_um"][0] = 0.0
    cells["pos_um"][0, 0] = -100.0 + d_um
    cells["pos_um"][1] = 100.0 - d_um
    cells["pos_um"][1, 0] = 0.0  # far from the x walls
    cells["kind"][1] = CANCER
    cells["radius_um"][1] = radius
    cells["cell_id"][1] = 1
    cells.n_live, cells.next_id = 2, 2
    sim.cells = cells
    x0 = cells.live("pos_um").copy()
    sim.mechanics_step()
    push = c_bm * (1.0 - d_um / radius) ** 2 if d_um < radius else 0.0
    expected_v = np.zeros((2, dim))
    expected_v[0, 0] = push  # lower wall pushes +x
    expected_v[1, 1:] = -push  # upper walls push −y (and −z)
    np.testing.assert_allclose(
        cells.live("vel_um_per_min"), expected_v, rtol=1e-12, atol=0
    )
    dt = scen.time.dt_mechanics_min
    np.testing.assert_allclose(
        cells.live("pos_um"), x0 + dt * expected_v, rtol=0, atol=1e-12
    )
    if d_um < radius:
        assert push > 0 and cells["pos_um"][0, 0] > x0[0, 0]


# ------------------------------------------------------------- row sorting


@pytest.mark.parametrize("integrator", ["euler", "ab2"])
def test_sorting_rows_by_bin_does_not_change_positions(
    dim: int, integrator: str
) -> None:
    def run(sort_every: int) -> np.ndarray:
        scen = Scenario(
            domain=box(dim, 100.0),
            time=TimeConfig(duration_min=12.0, dt_phenotype_min=3.0),
            cell_types=CellTypesConfig(
                cancer=CancerCellConfig(
                    motility=MotilityConfig(enabled=False),
                    cycle=CycleConfig(model="none"),
                    death=DeathConfig(apoptosis_per_min=0.0, necrosis="off"),
                    mechanics=MechanicsConfig(adhesion_um_per_min=2.0),
                ),
            ),
            oxygen={"enabled": False},
            initial_cells=[
                Placement(n_cells=120, radius_um=45.0 if dim == 2 else 30.0)
            ],
            numerics=NumericsConfig(integrator=integrator, sort_every_steps=sort_every),
        )
        sim = TissueSimulation.from_scenario(scen)
        x0 = by_id(sim.cells, "pos_um").copy()
        for _ in range(2):
            sim.advance_block()
        assert sim.step == 60
        x = by_id(sim.cells, "pos_um")
        assert np.abs(x - x0).max() > 1.0  # cells moved: the comparison means something
        return x, sim.cells.live("cell_id").copy()

    x_sorted, ids_sorted = run(1)
    x_plain, ids_plain = run(10_000)
    assert not np.array_equal(ids_sorted, ids_plain)  # rows really were reordered
    np.testing.assert_allclose(x_sorted, x_plain, rtol=1e-12, atol=1e-12)
