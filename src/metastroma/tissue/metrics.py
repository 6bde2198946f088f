"""Summary measurements of the tissue at one time (the rows of ``metrics.parquet``).

Every value is deterministic (no wall-clock time), so resumed and uninterrupted runs give
identical tables. Columns and their meaning are listed in docs/run-directory.md.
"""

from __future__ import annotations

import numpy as np

from metastroma.config.models import KIND_NAMES
from metastroma.kernels import APOPTOTIC, LIVE, NECROTIC
from metastroma.tissue.oxygen import OxygenField
from metastroma.tissue.state import Cells

#: Oxygen tensions (mmHg) at which the hypoxic fractions are reported: PC hypoxic threshold
#: 15, necrosis threshold 5, and the "≤ 2.5 mmHg" class of PMC4159937 (SCIENCE.md §2.3).
HYPOXIA_LEVELS_MMHG = (15.0, 5.0, 2.5)


def tumour_radius_um(pos: np.ndarray, dim: int) -> tuple[float, float]:
    """Radius of the cancer-cell mass: from the radius of gyration and the 95th percentile.

    The gyration radius of a uniform disc is R/√2 and of a ball R√(3/5), so
    R_gyr = √2 Rg (2D) or √(5/3) Rg (3D); R_95 is the 95th percentile of the distance to the
    centroid (robust to a few invading cells).
    """
    if pos.shape[0] == 0:
        return 0.0, 0.0
    d = np.linalg.norm(pos - pos.mean(axis=0), axis=1)
    rg = float(np.sqrt(np.mean(d**2)))
    factor = np.sqrt(2.0) if dim == 2 else np.sqrt(5.0 / 3.0)
    return float(factor * rg), float(np.percentile(d, 95.0))


def measure(
    cells: Cells, field: OxygenField, step: int, t_min: float
) -> dict[str, float]:
    """One row of metrics: counts by type and state, tumour radius, oxygen statistics."""
    n = cells.n_live
    state = cells.live("state")
    kind = cells.live("kind")
    row: dict[str, float] = {"step": float(step), "t_min": t_min, "n_cells": float(n)}
    row["n_live"] = float(np.count_nonzero(state == LIVE))
    row["n_apoptotic"] = float(np.count_nonzero(state == APOPTOTIC))
    row["n_necrotic"] = float(np.count_nonzero(state == NECROTIC))
    for name, k in KIND_NAMES.items():
        row[f"n_{name}"] = float(np.count_nonzero(kind == k))
    cancer = (kind == KIND_NAMES["cancer"]) & (state == LIVE)
    r_gyr, r95 = tumour_radius_um(cells.live("pos_um")[cancer], cells.dim)
    row["tumour_radius_um"] = r_gyr
    row["tumour_r95_um"] = r95
    c = field.c
    row["o2_min_mmhg"] = float(c.min())
    row["o2_mean_mmhg"] = float(c.mean())
    row["o2_max_mmhg"] = float(c.max())
    oc = cells.live("oxygen_mmhg")[state == LIVE]
    row["o2_cells_mean_mmhg"] = float(oc.mean()) if oc.size else float("nan")
    for level in HYPOXIA_LEVELS_MMHG:
        key = f"frac_live_below_{str(level).replace('.', 'p').removesuffix('p0')}_mmhg"
        row[key] = float(np.mean(oc < level)) if oc.size else float("nan")
    row["o2_solver_iterations"] = (
        float(field.last.iterations) if field.last is not None else 0.0
    )
    return row
