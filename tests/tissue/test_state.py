"""Cells as a struct of arrays: capacity, compaction, permutation, registered columns."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import still_cancer, tiny_scenario
from metastroma.config.models import CycleConfig
from metastroma.tissue.simulation import TissueSimulation
from metastroma.tissue.state import COLUMNS, Cells, Column, grown, register_column

TEST_SCALAR = "zz_test_marker_au"  # unique names: COLUMNS is a module-level registry
TEST_VECTOR = "zz_test_vector_um"


def _filled(dim: int, n: int, capacity: int, seed: int) -> Cells:
    """``n`` live rows with distinct random values in every column."""
    rng = np.random.default_rng(seed)
    cells = Cells.empty(dim, capacity)
    for arr in cells.cols.values():
        shape = arr[:n].shape
        if arr.dtype == np.bool_:
            arr[:n] = rng.random(shape) < 0.5
        elif np.issubdtype(arr.dtype, np.integer):
            arr[:n] = rng.integers(0, 100, shape)
        else:
            arr[:n] = rng.normal(size=shape)
    cells["cell_id"][:n] = rng.permutation(10 * n + 1)[:n]  # unique, not the rows
    cells.n_live = n
    cells.next_id = 10 * n + 1
    return cells


def _live_copy(cells: Cells) -> dict[str, np.ndarray]:
    return {k: v[: cells.n_live].copy() for k, v in cells.cols.items()}


def _assert_fresh(cells: Cells, rows: slice) -> None:
    for name, arr in cells.cols.items():
        spec = COLUMNS[name]
        fill = bool(spec.fill) if spec.dtype == "bool" else spec.fill
        assert np.all(arr[rows] == fill), name


sizes = st.tuples(
    st.sampled_from([2, 3]),
    st.integers(0, 40),
    st.integers(0, 40),
    st.integers(0, 2**31),
)


@settings(max_examples=80, derandomize=True)
@given(sizes)
def test_growing_capacity_keeps_every_cell(args: tuple[int, int, int, int]) -> None:
    dim, n, spare, seed = args
    cells = _filled(dim, n, n + spare, seed)
    before = _live_copy(cells)
    bigger = cells.with_capacity(n + spare + 7)
    assert bigger.capacity == n + spare + 7 and bigger.n_live == n
    assert bigger.next_id == cells.next_id
    for name, arr in before.items():
        np.testing.assert_array_equal(bigger[name][:n], arr, err_msg=name)
    _assert_fresh(bigger, slice(n, None))  # free rows hold the fill values
    # reserve: self when it fits, else a geometric copy with room for the extra rows
    same = cells.reserve(spare)
    assert same is cells
    extra = spare + 1 + seed % 50
    grown_cells = cells.reserve(extra)
    assert grown_cells is not cells
    assert grown_cells.capacity >= n + extra
    assert grown_cells.capacity >= int(1.5 * cells.capacity)
    for name, arr in before.items():
        np.testing.assert_array_equal(grown_cells[name][:n], arr, err_msg=name)


def test_with_capacity_below_the_live_cells_is_refused() -> None:
    cells = _filled(2, 10, 10, 0)
    with pytest.raises(ValueError, match="below"):
        cells.with_capacity(9)


def test_grown_is_geometric() -> None:
    assert grown(100, 101) >= 150
    assert grown(100, 1000) == 1000
    assert grown(0, 1) >= 1


@settings(max_examples=80, derandomize=True)
@given(sizes, st.integers(0, 2**31))
def test_compact_removes_exactly_the_flagged_rows_stably(
    args: tuple[int, int, int, int], mask_seed: int
) -> None:
    dim, n, spare, seed = args
    cells = _filled(dim, n, n + spare, seed)
    before = _live_copy(cells)
    keep = np.random.default_rng(mask_seed).random(n + spare) < 0.6
    keep[n:] = False  # beyond n_live: ignored
    removed = cells.compact(keep)
    kept = np.flatnonzero(keep[:n])
    assert removed == n - kept.size
    assert cells.n_live == kept.size
    for name, arr in before.items():
        np.testing.assert_array_equal(cells[name][: kept.size], arr[kept], err_msg=name)
    _assert_fresh(cells, slice(kept.size, n))  # vacated rows are free again


@settings(max_examples=80, derandomize=True)
@given(sizes, st.integers(0, 2**31))
def test_permute_then_inverse_is_identity(
    args: tuple[int, int, int, int], p_seed: int
) -> None:
    dim, n, spare, seed = args
    cells = _filled(dim, n, n + spare, seed)
    before = {k: v.copy() for k, v in cells.cols.items()}
    order = np.random.default_rng(p_seed).permutation(n)
    cells.permute(order)
    for name, arr in before.items():
        np.testing.assert_array_equal(cells[name][:n], arr[:n][order], err_msg=name)
        np.testing.assert_array_equal(
            cells[name][n:], arr[n:], err_msg=name
        )  # untouched
    cells.permute(np.argsort(order))
    for name, arr in before.items():
        np.testing.assert_array_equal(cells[name], arr, err_msg=name)


@pytest.fixture
def extra_columns() -> Iterator[tuple[Column, Column]]:
    """Register two test columns; remove them from the registry afterwards."""
    scalar = Column(TEST_SCALAR, "float64", fill=-7.5, inherit=True)
    vector = Column(TEST_VECTOR, "float64", width="dim", fill=3.0, inherit=False)
    assert TEST_SCALAR not in COLUMNS and TEST_VECTOR not in COLUMNS
    register_column(scalar)
    register_column(vector)
    try:
        yield scalar, vector
    finally:
        COLUMNS.pop(TEST_SCALAR, None)
        COLUMNS.pop(TEST_VECTOR, None)


def test_registered_column_is_carried_everywhere(
    extra_columns: tuple[Column, Column], dim: int
) -> None:
    cells = Cells.empty(dim, 6)
    assert cells[TEST_SCALAR].shape == (6,) and np.all(cells[TEST_SCALAR] == -7.5)
    assert cells[TEST_VECTOR].shape == (6, dim) and np.all(cells[TEST_VECTOR] == 3.0)
    n = 6
    cells[TEST_SCALAR][:n] = np.arange(n) * 10.0
    cells[TEST_VECTOR][:n] = np.arange(n * dim).reshape(n, dim)
    cells["cell_id"][:n] = np.arange(n)
    cells.n_live, cells.next_id = n, n
    # with_capacity
    cells = cells.with_capacity(12)
    np.testing.assert_array_equal(cells[TEST_SCALAR][:n], np.arange(n) * 10.0)
    np.testing.assert_array_equal(
        cells[TEST_VECTOR][:n], np.arange(n * dim).reshape(n, dim)
    )
    assert np.all(cells[TEST_SCALAR][n:] == -7.5)
    # compact (drop rows 1 and 4)
    keep = np.array([True, False, True, True, False, True])
    assert cells.compact(keep) == 2
    np.testing.assert_array_equal(cells[TEST_SCALAR][:4], [0.0, 20.0, 30.0, 50.0])
    assert np.all(cells[TEST_SCALAR][4:6] == -7.5)
    # inherit: mothers rows 3 and 0 → daughters at rows 4, 5
    vec_before = cells[TEST_VECTOR][:4].copy()
    cells.inherit(np.array([3, 0]), 4)
    np.testing.assert_array_equal(cells[TEST_SCALAR][4:6], [50.0, 0.0])  # inherited
    assert np.all(cells[TEST_VECTOR][4:6] == 3.0)  # not inherited: fill
    np.testing.assert_array_equal(
        cells[TEST_VECTOR][:4], vec_before
    )  # mothers untouched


def test_register_column_is_idempotent_and_refuses_a_clash(
    extra_columns: tuple[Column, Column],
) -> None:
    scalar, _ = extra_columns
    register_column(scalar)  # the identical spec again: fine
    with pytest.raises(ValueError, match="already registered"):
        register_column(Column(TEST_SCALAR, "float32"))
    with pytest.raises(ValueError, match="already registered"):
        register_column(
            Column("pos_um", "float64")
        )  # a core column cannot be redefined


def test_registered_column_reaches_daughters_in_a_simulation(
    extra_columns: tuple[Column, Column],
) -> None:
    cycle = CycleConfig(
        model="live",
        phase_durations_min=[6.0],
        phase_fixed=[True],
        oxygen_dependent=False,
    )
    scen = tiny_scenario(
        2,
        n_cells=20,
        cancer=still_cancer(cycle=cycle),
    )
    sim = TissueSimulation.from_scenario(scen)
    sim.cells[TEST_SCALAR][:20] = sim.cells["cell_id"][:20] + 0.5
    sim.advance_block()  # every cell divides once (fixed 6-min cycle)
    assert sim.cells.n_live == 40
    ids = sim.cells.live("cell_id")
    marker = sim.cells.live(TEST_SCALAR)
    mothers = ids < 20
    np.testing.assert_array_equal(marker[mothers], ids[mothers] + 0.5)
    # each daughter carries its mother's value: the set of values is each mother's twice
    np.testing.assert_array_equal(np.sort(marker[~mothers]), np.arange(20) + 0.5)
    state = sim.state_arrays()
    assert f"cells/{TEST_SCALAR}" in state  # checkpoints carry it too
