"""Tests of the implicit oxygen step (metastroma.tissue.diffusion)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from metastroma.tissue.diffusion import (
    DiffusionParams,
    SolverDidNotConvergeError,
    VoxelGrid,
    gather_at_cells,
    make_voxel_grid,
    solve_oxygen_step,
    sum_per_voxel,
    voxel_index,
)

D = 1.0e5  # µm²/min, SCIENCE.md §2.2
DX = 20.0  # µm


def _grid(shape: tuple[int, ...], dx: float = DX) -> VoxelGrid:
    upper = [n * dx for n in shape]
    return make_voxel_grid([0.0] * len(shape), upper, dx)


def _implicit_step_reference(
    c0: np.ndarray,
    dt: float,
    decay: float,
    uptake: np.ndarray,
    supply: np.ndarray,
    target: np.ndarray,
    held: np.ndarray,
    held_value: np.ndarray,
) -> np.ndarray:
    """Backward Euler on a tiny 2D grid, zero-flux edges, by a dense linear solve.

    Written out from the equation, one voxel row at a time, independently of the
    module: (c¹ − c⁰)/Δt = D/dx² Σ_nb (c¹_nb − c¹) − (λ + u + S) c¹ + S c*.
    """
    nx, ny = c0.shape
    n = nx * ny
    a = np.zeros((n, n))
    b = np.zeros(n)
    k = D / DX**2
    for i in range(nx):
        for j in range(ny):
            p = i * ny + j
            if held[i, j]:
                a[p, p] = 1.0
                b[p] = held_value[i, j]
                continue
            a[p, p] = 1.0 / dt + decay + uptake[i, j] + supply[i, j]
            b[p] = c0[i, j] / dt + supply[i, j] * target[i, j]
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ii, jj = i + di, j + dj
                if not (0 <= ii < nx and 0 <= jj < ny):
                    continue  # zero flux through the domain edge
                a[p, p] += k
                q = ii * ny + jj
                if held[ii, jj]:
                    b[p] += k * held_value[ii, jj]
                else:
                    a[p, q] -= k
    return np.linalg.solve(a, b).reshape(nx, ny)


def test_one_step_on_3x3_grid_matches_dense_solve() -> None:
    rng = np.random.default_rng(11)
    shape = (3, 3)
    grid = _grid(shape)
    c0 = rng.uniform(0.0, 40.0, shape)
    uptake = rng.uniform(0.0, 10.0, shape)
    supply = np.zeros(shape)
    supply[2, 1] = 3.0
    target = np.full(shape, 60.0)
    held = np.zeros(shape, dtype=bool)
    held[0, 2] = True
    held_value = np.full(shape, 50.0)
    dt, decay = 6.0, 0.1
    expected = _implicit_step_reference(
        c0, dt, decay, uptake, supply, target, held, held_value
    )

    c = c0.copy()
    params = DiffusionParams(D, decay, False, 38.0)
    report = solve_oxygen_step(
        c, dt, grid, params, uptake, supply, target, held, held_value
    )
    assert np.abs(expected - c0).max() > 1.0  # the step does something
    np.testing.assert_allclose(c, expected, rtol=1e-8, atol=0)
    assert report.relative_residual <= 1e-10


@pytest.mark.parametrize("dim", [2, 3])
def test_dirichlet_edges_leave_one_free_voxel_by_hand(dim: int) -> None:
    # 3×3(×3) with Dirichlet edges: only the centre is free, with 2·dim held
    # neighbours at the far-field value e, so
    # c¹ = (c⁰ + Δt S c* + 2·dim·r·e) / (1 + Δt (λ + u + S) + 2·dim·r).
    shape = (3,) * dim
    grid = _grid(shape)
    centre = (1,) * dim
    dt, decay, u, s, target, e, c_centre = 6.0, 0.1, 4.0, 2.0, 70.0, 38.0, 12.0
    r = D * dt / DX**2
    c = np.zeros(shape)
    c[centre] = c_centre
    uptake = np.zeros(shape)
    uptake[centre] = u
    supply = np.zeros(shape)
    supply[centre] = s
    solve_oxygen_step(
        c, dt, grid, DiffusionParams(D, decay, True, e), uptake, supply, target
    )
    expected = (c_centre + dt * s * target + 2 * dim * r * e) / (
        1 + dt * (decay + u + s) + 2 * dim * r
    )
    assert c[centre] == pytest.approx(expected, rel=1e-12)
    edge = np.ones(shape, dtype=bool)
    edge[centre] = False
    assert np.all(c[edge] == e)


def test_steady_slab_matches_cosh_profile() -> None:
    # Diffusion-decay between two held planes (x-ends), zero flux in y: the
    # steady state is c_far cosh((x − L/2)/l) / cosh(h/l), l = √(D/λ), h the distance
    # from the middle to the held voxel centres. One step with Δt = 1e9 min.
    shape = (200, 3)
    grid = _grid(shape)
    decay, c_far = 0.1, 38.0
    held = np.zeros(shape, dtype=bool)
    held[0, :] = held[-1, :] = True
    c = np.zeros(shape)
    report = solve_oxygen_step(
        c,
        1e9,
        grid,
        DiffusionParams(D, decay, False, 0.0),
        np.zeros(shape),
        fixed=held,
        fixed_value_mmhg=c_far,
    )
    x = grid.centres(0)
    mid = 0.5 * (x[0] + x[-1])
    ell = np.sqrt(D / decay)
    analytic = c_far * np.cosh((x - mid) / ell) / np.cosh((x[-1] - mid) / ell)
    assert analytic.min() < 0.3 * c_far  # a real profile, not flat
    for j in range(shape[1]):
        np.testing.assert_allclose(c[:, j], analytic, rtol=1e-2)
    assert np.abs(report.imbalance) <= 1e-8 * abs(report.boundary_inflow)


def test_steady_disc_of_uptake_matches_bessel_solution() -> None:
    # A disc (radius a) of uniform uptake u in a 2D grid, no decay, held at c_far for
    # r >= b. Steady state: c = A I0(k r) inside (k = √(u/D)), c_far + B ln(r/b)
    # outside, with c and c' continuous at r = a.
    n = 101
    grid = make_voxel_grid([-n * DX / 2] * 2, [n * DX / 2] * 2, DX)
    x = grid.centres(0)
    rr = np.hypot(x[:, None], x[None, :])
    a, b, u, c_far = 200.0, 900.0, 5.0, 38.0
    k = np.sqrt(u / D)
    coef_a = c_far / (special.i0(k * a) - k * a * special.i1(k * a) * np.log(a / b))
    coef_b = coef_a * k * a * special.i1(k * a)
    analytic = np.where(
        rr < a,
        coef_a * special.i0(k * rr),
        c_far + coef_b * np.log(np.maximum(rr, a) / b),
    )
    # u times the share of each voxel's area inside the disc (8×8 sub-samples), so
    # the discrete disc has the analytic uptake; a 0/1 disc is off by 2 % at r = a
    s = (np.arange(8) + 0.5) / 8 * DX - DX / 2
    xs = (x[:, None] + s[None, :]).reshape(-1)
    inside = np.hypot(xs[:, None], xs[None, :]) < a
    uptake = u * inside.reshape(n, 8, n, 8).mean(axis=(1, 3))
    held = rr >= b
    c = np.full(grid.shape, c_far)
    solve_oxygen_step(
        c,
        1e9,
        grid,
        DiffusionParams(D, 0.0, False, 0.0),
        uptake,
        fixed=held,
        fixed_value_mmhg=c_far,
    )
    free = ~held
    assert analytic[free].min() < 0.5 * c_far  # a deep well, not flat
    err = np.abs(c[free] - analytic[free]) / analytic[free]
    assert err.max() < 1e-2


@st.composite
def _balance_case(draw: st.DrawFn, dim: int) -> dict:
    shape = tuple(draw(st.integers(2, 7 if dim == 2 else 5)) for _ in range(dim))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p_held = draw(st.sampled_from([0.0, 0.1, 0.4]))
    return {
        "shape": shape,
        "dt": draw(st.sampled_from([0.1, 6.0, 60.0])),
        "decay": draw(st.sampled_from([0.0, 0.1, 1.0])),
        "edges": draw(st.booleans()),
        "c0": rng.uniform(0.0, 60.0, shape),
        "uptake": rng.uniform(0.0, 10.0, shape) * (rng.random(shape) < 0.6),
        "supply": rng.uniform(0.0, 5.0, shape) * (rng.random(shape) < 0.3),
        "target": rng.uniform(0.0, 80.0, shape),
        "held": rng.random(shape) < p_held,
        "held_value": rng.uniform(0.0, 60.0, shape),
    }


def _check_balance(case: dict) -> None:
    grid = _grid(case["shape"])
    c = case["c0"].copy()
    report = solve_oxygen_step(
        c,
        case["dt"],
        grid,
        DiffusionParams(D, case["decay"], case["edges"], 38.0),
        case["uptake"],
        case["supply"],
        case["target"],
        case["held"],
        case["held_value"],
    )
    terms = [
        report.change,
        report.decay,
        report.uptake,
        report.supply,
        report.boundary_inflow,
    ]
    assert abs(report.imbalance) <= 1e-8 * max(abs(t) for t in terms)
    assert np.all(c[case["held"]] == case["held_value"][case["held"]])


@settings(max_examples=12, derandomize=True, deadline=None)
@given(case=_balance_case(dim=2))
def test_mass_balance_2d(case: dict) -> None:
    _check_balance(case)


@settings(max_examples=12, derandomize=True, deadline=None)
@given(case=_balance_case(dim=3))
def test_mass_balance_3d(case: dict) -> None:
    _check_balance(case)


def test_mass_balance_terms_by_hand() -> None:
    # Zero-flux box, no sources: the balance terms must be the plain sums.
    rng = np.random.default_rng(5)
    shape = (6, 5, 4)
    grid = _grid(shape)
    c0 = rng.uniform(10.0, 40.0, shape)
    uptake = rng.uniform(0.0, 3.0, shape)
    c = c0.copy()
    dt, decay = 2.0, 0.3
    report = solve_oxygen_step(
        c, dt, grid, DiffusionParams(D, decay, False, 0.0), uptake
    )
    vol = DX**3
    assert report.change == pytest.approx(np.sum(c - c0) * vol, rel=1e-12)
    assert report.decay == pytest.approx(dt * decay * np.sum(c) * vol, rel=1e-12)
    assert report.uptake == pytest.approx(dt * np.sum(uptake * c) * vol, rel=1e-12)
    assert report.supply == 0.0
    assert report.boundary_inflow == 0.0
    assert report.change < 0.0


def test_one_and_two_threads_give_identical_bits() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    rng = np.random.default_rng(3)
    shape = (23, 17, 11)
    grid = _grid(shape)
    c0 = rng.uniform(0.0, 40.0, shape)
    uptake = rng.uniform(0.0, 10.0, shape)
    supply = rng.uniform(0.0, 2.0, shape) * (rng.random(shape) < 0.05)
    held = rng.random(shape) < 0.02
    params = DiffusionParams(D, 0.1, True, 38.0)
    cells = rng.integers(0, grid.n_voxels, 5000)
    vals = rng.uniform(0.0, 1.0, 5000)
    before = numba.get_num_threads()
    results = []
    try:
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            c = c0.copy()
            report = solve_oxygen_step(
                c, 6.0, grid, params, uptake, supply, 60.0, held, 45.0
            )
            results.append((c, report, sum_per_voxel(cells, vals, grid.n_voxels)))
    finally:
        numba.set_num_threads(before)
    (c1, rep1, s1), (c2, rep2, s2) = results
    assert rep1.iterations > 10
    assert np.array_equal(c1, c2)
    assert rep1 == rep2
    assert np.array_equal(s1, s2)


def test_sum_per_voxel_equals_bincount_and_gather_equals_indexing() -> None:
    rng = np.random.default_rng(7)
    n_voxels = 300
    voxel = rng.integers(0, n_voxels - 50, 2000)  # some voxels stay empty
    values = rng.normal(size=2000)
    sums = sum_per_voxel(voxel, values, n_voxels)
    assert sums.shape == (n_voxels,)
    np.testing.assert_allclose(
        sums, np.bincount(voxel, values, minlength=n_voxels), rtol=0, atol=1e-12
    )
    field = rng.normal(size=(15, 20))
    np.testing.assert_array_equal(
        gather_at_cells(field, voxel), field.reshape(-1)[voxel]
    )
    with pytest.raises(ValueError, match="voxel_of_cell"):
        sum_per_voxel(np.array([0, n_voxels]), np.ones(2), n_voxels)


@pytest.mark.parametrize("dim", [2, 3])
def test_voxel_index_floors_and_clamps(dim: int) -> None:
    rng = np.random.default_rng(9)
    lower = [-100.0, 0.0, 40.0][:dim]
    shape = (7, 5, 4)[:dim]
    grid = make_voxel_grid(
        lower, [lo + n * DX for lo, n in zip(lower, shape, strict=True)], DX
    )
    pos = rng.uniform(-60.0, 200.0, (400, dim)) + np.asarray(lower)
    n = 350
    got = voxel_index(pos, n, grid)
    ijk = np.floor((pos[:n] - np.asarray(lower)) / DX).astype(np.int64)
    ijk = np.clip(ijk, 0, np.asarray(shape) - 1)
    expected = np.ravel_multi_index(tuple(ijk.T), shape)
    assert (pos[:n] < np.asarray(lower)).any()  # some positions are clamped
    np.testing.assert_array_equal(got, expected)


def test_non_convergence_raises_and_leaves_field_untouched() -> None:
    shape = (40, 40)
    grid = _grid(shape)
    c = np.zeros(shape)
    with pytest.raises(SolverDidNotConvergeError) as info:
        solve_oxygen_step(
            c,
            6.0,
            grid,
            DiffusionParams(D, 0.1, True, 38.0),
            np.zeros(shape),
            max_iter=1,
        )
    assert isinstance(info.value, RuntimeError)
    assert info.value.iterations == 1
    assert info.value.relative_residual > 1e-10
    assert np.all(c == 0.0)


def test_make_voxel_grid_shape_and_rejects_partial_voxels() -> None:
    grid = make_voxel_grid([-100.0, 0.0, 0.0], [100.0, 60.0, 20.0], 20.0)
    assert grid.shape == (10, 3, 1)
    assert grid.dim == 3
    assert grid.n_voxels == 30
    assert grid.voxel_volume_um3 == 8000.0
    assert make_voxel_grid([0.0, 0.0], [0.3, 0.7], 0.1).shape == (3, 7)
    with pytest.raises(ValueError, match="whole number"):
        make_voxel_grid([0.0, 0.0], [100.0, 110.0], 20.0)
    with pytest.raises(ValueError, match="whole number"):
        make_voxel_grid([0.0, 0.0], [100.0, 100.0 + 1e-6], 20.0)
