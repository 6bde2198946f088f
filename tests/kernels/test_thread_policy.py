"""Threads per kernel: small tumours run on fewer threads than numba's count (the cap).

``kernels.threads_for`` picks the count; ``TissueSimulation`` applies it per block and
restores the cap afterwards. Results never depend on it (tests/tissue/
test_stroma_determinism.py compares 1 and 2 threads bitwise).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numba
import pytest

from metastroma.config import scenario_from_dict
from metastroma.kernels import CELLS_PER_THREAD, CPU, threads_for
from metastroma.tissue.simulation import TissueSimulation


@pytest.mark.parametrize(
    ("work", "per_thread", "cap", "expected"),
    [
        (0, 300, 2, 1),
        (599, 300, 2, 1),
        (600, 300, 2, 2),
        (10**6, 300, 2, 2),
        (10**6, 300, 1, 1),
        (900, 300, 4, 3),
        (5, 0, 2, 2),
    ],
)
def test_threads_for(work: int, per_thread: int, cap: int, expected: int) -> None:
    assert threads_for(work, per_thread, cap) == expected


def _scenario(n_cells: int) -> Any:
    return scenario_from_dict(
        {
            "seed": 3,
            "domain": {"lower_um": [-400, -400], "upper_um": [400, 400]},
            "oxygen": {"enabled": False},
            "initial_cells": [{"kind": "cancer", "n_cells": n_cells, "radius_um": 300}],
        },
        "threads",
    )


@pytest.mark.parametrize("n_cells", [50, 1200])
def test_mechanics_threads_follow_the_cell_count_and_the_cap_is_restored(
    n_cells: int,
) -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba was started with one thread (NUMBA_NUM_THREADS=1)")
    seen: list[int] = []

    def contact_velocity(*args: Any) -> None:
        seen.append(numba.get_num_threads())
        CPU.contact_velocity(*args)

    backend = dataclasses.replace(CPU, contact_velocity=contact_velocity)
    old = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        sim = TissueSimulation.from_scenario(_scenario(n_cells), backend=backend)
        sim.advance_block()
        assert numba.get_num_threads() == 2  # the cap, restored
        expected = 1 if n_cells < 2 * CELLS_PER_THREAD[2] else 2
        assert set(seen) == {expected}
        numba.set_num_threads(1)  # --threads 1 is a cap: never exceeded
        seen.clear()
        sim.advance_block()
        assert set(seen) == {1}
    finally:
        numba.set_num_threads(old)
