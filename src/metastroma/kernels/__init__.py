"""Hot loops behind one small interface, one implementation per device.

The tissue rules call the kernels through a :class:`Backend`, chosen once when a simulation
is built (as HOOMD picks its device). Only the CPU (numba) backend exists today; a GPU
backend provides the same functions with the same array arguments and sits beside it.
Kernels take plain arrays and per-kind tables (never a ``Cells`` object), so new state
columns do not change their interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numba

from metastroma.kernels import _cpu, _cpu_stroma, rng

#: Smallest work per thread worth a second thread, measured on the 2-core development
#: machine with OpenMP's PASSIVE wait policy (benchmarks/README.md, "Threads per kernel"):
#: a parallel region that wakes a sleeping thread costs ~50-150 µs, more than a small
#: tumour's whole mechanics step (2D: 1 thread 200 µs vs 2 threads 280 µs at 440 cells;
#: 2 threads win from ~550 cells; the oxygen solve breaks even near 10^4 voxels).
CELLS_PER_THREAD = {2: 300, 3: 200}
VOXELS_PER_THREAD = 8000


@dataclass(frozen=True)
class Backend:
    """The kernel functions of one device; see ``kernels/_cpu.py`` for their contracts."""

    name: str
    bin_of_cells: Any
    counting_sort: Any
    contact_velocity: Any
    motility_and_integrate: Any
    lifecycle_step: Any
    place_daughters: Any
    count_msc_contacts: Any
    ddr2_update: Any
    elements_of_cells: Any
    ecm_remodel: Any
    ecm_relax: Any
    doorway_hazard: Any
    exit_clusters: Any


CPU = Backend(
    name="cpu",
    bin_of_cells=_cpu.bin_of_cells,
    counting_sort=_cpu.counting_sort,
    contact_velocity=_cpu.contact_velocity,
    motility_and_integrate=_cpu_stroma.guided_motility_and_integrate,
    lifecycle_step=_cpu.lifecycle_step,
    place_daughters=_cpu.place_daughters,
    count_msc_contacts=_cpu_stroma.count_msc_contacts,
    ddr2_update=_cpu_stroma.ddr2_update,
    elements_of_cells=_cpu_stroma.elements_of_cells,
    ecm_remodel=_cpu_stroma.ecm_remodel,
    ecm_relax=_cpu_stroma.ecm_relax,
    doorway_hazard=_cpu_stroma.doorway_hazard,
    exit_clusters=_cpu_stroma.exit_clusters,
)

_BACKENDS = {"cpu": CPU}


def get_backend(name: str = "cpu") -> Backend:
    """The backend called ``name``.

    Raises
    ------
    ValueError
        If no such backend exists (the message lists those that do).
    """
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown backend {name!r}; available: {', '.join(_BACKENDS)}"
        ) from None


def threads_for(work: int, per_thread: int, cap: int) -> int:
    """Threads for ``work`` items: one per ``per_thread`` items, at least 1, at most ``cap``.

    Results never depend on it (every kernel is bitwise identical for any thread count).

    >>> threads_for(400, 300, 2), threads_for(600, 300, 2), threads_for(10**6, 300, 2)
    (1, 2, 2)
    """
    return max(1, min(cap, work // max(per_thread, 1)))


@contextmanager
def thread_budget() -> Iterator[int]:
    """Yield numba's current thread count (the cap) and restore it on exit.

    Inside, callers lower the count per kernel with ``numba.set_num_threads(threads_for(
    ..., cap))``; the user's choice (``--threads``) stays the cap.
    """
    cap = int(numba.get_num_threads())
    try:
        yield cap
    finally:
        numba.set_num_threads(cap)


LIVE, APOPTOTIC, NECROTIC = _cpu.LIVE, _cpu.APOPTOTIC, _cpu.NECROTIC

__all__ = [
    "APOPTOTIC",
    "CELLS_PER_THREAD",
    "CPU",
    "LIVE",
    "NECROTIC",
    "VOXELS_PER_THREAD",
    "Backend",
    "get_backend",
    "rng",
    "thread_budget",
    "threads_for",
]
