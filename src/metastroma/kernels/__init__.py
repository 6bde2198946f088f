"""Hot loops behind one small interface, one implementation per device.

The tissue rules call the kernels through a :class:`Backend`, chosen once when a simulation
is built (as HOOMD picks its device). Only the CPU (numba) backend exists today; a GPU
backend provides the same functions with the same array arguments and sits beside it.
Kernels take plain arrays and per-kind tables (never a ``Cells`` object), so new state
columns do not change their interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metastroma.kernels import _cpu, _cpu_stroma, rng


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


LIVE, APOPTOTIC, NECROTIC = _cpu.LIVE, _cpu.APOPTOTIC, _cpu.NECROTIC

__all__ = ["APOPTOTIC", "CPU", "LIVE", "NECROTIC", "Backend", "get_backend", "rng"]
