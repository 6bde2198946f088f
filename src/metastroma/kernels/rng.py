"""Counter-based random numbers: every draw is a pure function of (seed, step, cell_id, stream).

Each draw hashes its four integer arguments with the splitmix64 finaliser (Steele, Lea and
Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA), as HOOMD keys its
Philox draws by (seed, timestep, tag). Results therefore do not depend on the number of
threads, on the order of cell rows, or on where a run was resumed: a cell's draws follow
its ``cell_id`` (kept for life), never its storage row.

Streams name what a draw is for. Append new streams at the end; never renumber (renumbering
changes every result ever published with the package).

>>> float(uniform01(1, 2, 3, MOTILITY_TURN)) == float(uniform01(1, 2, 3, MOTILITY_TURN))
True
>>> uniform01(1, 2, 3, MOTILITY_TURN) != uniform01(1, 2, 4, MOTILITY_TURN)
True
"""

from __future__ import annotations

import numpy as np
from numba import njit

from metastroma._typing import F64Array, I64Array

U64 = np.uint64  # cast every integer: numba and NumPy mix int64/uint64 differently

# stream ids: append, never renumber
MOTILITY_TURN = 1
MOTILITY_DIR_A = 2
MOTILITY_DIR_B = 3
DIVISION_DIR_A = 4
DIVISION_DIR_B = 5
CYCLE = 6
APOPTOSIS = 7
NECROSIS = 8
PLACEMENT_X = 9
PLACEMENT_Y = 10
PLACEMENT_Z = 11
VESSEL_X = 12
VESSEL_Y = 13
VESSEL_Z = 14
INTRAVASATION = 15
CLUSTER = 16
ECM_INIT = 17
DOORWAY_X = 18
DOORWAY_Y = 19
RECRUIT = 20
RECRUIT_POS_A = 21
RECRUIT_POS_B = 22
RECRUIT_POS_C = 23
RECRUIT_FACE = 24
LYMPH_DOORWAY_X = 25
LYMPH_DOORWAY_Y = 26
# body scale (per patient: cell_id is the patient id); numbered from 1001 so that a
# patient stream can never coincide with a tissue stream
GROWTH_RATE = 1001
EMISSION_MU = 1002
EMISSION_COUNT = 1003
EMISSION_TIME = 1004
COHORT_COUNT = 1005
COHORT_PICK = 1006
COHORT_TIME = 1007
COHORT_WAKE = 1008
COHORT_ADJUVANT = 1009
COHORT_DEATH = 1010
COHORT_LEDGER = 1011
COHORT_DETECTION_SIZE = 1012
COHORT_SHEDDING = 1013
COHORT_DDR2 = 1014
COHORT_FRAILTY = 1015


@njit(inline="always", cache=True)
def _mix64(z: np.uint64) -> np.uint64:
    """Splitmix64 finaliser: a bijection of 64-bit words with full avalanche."""
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


@njit(inline="always", cache=True)
def uniform01(seed: int, step: int, cell_id: int, stream: int) -> float:
    """Uniform float64 in [0, 1) that depends on its four arguments only."""
    h = _mix64(U64(stream) + U64(0x9E3779B97F4A7C15))
    h = _mix64(h ^ U64(cell_id))
    h = _mix64(h ^ U64(step))
    h = _mix64(h ^ U64(seed))
    return float(h >> U64(11)) * 2.0**-53  # top 53 bits, scaled into [0, 1)


@njit(cache=True)
def uniform01_many(seed: int, step: int, ids: I64Array, stream: int) -> F64Array:
    """:func:`uniform01` for each id in ``ids`` (the vectorised form NumPy code uses).

    Parameters
    ----------
    seed, step, stream : int
    ids : (n,) int64
        Cell ids (or any other stable identity).

    Returns
    -------
    (n,) float64 in [0, 1)
    """
    out = np.empty(ids.shape[0], dtype=np.float64)
    for i in range(ids.shape[0]):
        out[i] = uniform01(seed, step, ids[i], stream)
    return out


@njit(inline="always", cache=True)
def random_unit_vector(
    seed: int, step: int, cell_id: int, stream_a: int, stream_b: int, dim: int
) -> tuple[float, float, float]:
    """Unit vector uniform on the circle (dim 2, z = 0) or the sphere (dim 3)."""
    phi = 2.0 * np.pi * uniform01(seed, step, cell_id, stream_a)
    if dim == 2:
        return np.cos(phi), np.sin(phi), 0.0
    z = 2.0 * uniform01(seed, step, cell_id, stream_b) - 1.0
    s = np.sqrt(max(0.0, 1.0 - z * z))
    return s * np.cos(phi), s * np.sin(phi), z
