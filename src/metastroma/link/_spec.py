"""What a response-curve file may hold: format, quantities, axes, arms, provenance keys.

The definitions behind :mod:`metastroma.link.curves` (whose docstring defines the file
format) and :mod:`metastroma.link._checks`, kept apart so that both can use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from metastroma._typing import F64Array

#: The ``format`` value of a response-curve file.
FORMAT = "metastroma-response-curves"
#: The one format version this package reads and writes.
FORMAT_VERSION = 1
#: Largest |r(reference) − 1| accepted for a relative quantity.
REFERENCE_TOLERANCE = 1e-6
#: ``producer`` of the curves tabulated from the SCIENCE.md §10.2 formulas.
DEFAULTS_PRODUCER = "SCIENCE.md §10.2 defaults"


@dataclass(frozen=True)
class QuantitySpec:
    """What a quantity of a curve file is, and the values it may take.

    Attributes
    ----------
    unit : str
        The unit written in the file (``"1"``: dimensionless).
    kind : {'multiplier', 'fraction', 'nonnegative'}
        ``multiplier``: > 0; ``fraction``: in [0, 1]; ``nonnegative``: ≥ 0.
    relative : bool
        1 at the axis' reference point (ã = 1) by construction.
    required : bool
        The body scale needs it.
    meaning : str
        One line for docs and messages.
    """

    unit: str
    kind: Literal["multiplier", "fraction", "nonnegative"]
    relative: bool
    required: bool
    meaning: str


#: The quantities a curve file may hold (SCIENCE.md Table 10.1).
QUANTITIES: dict[str, QuantitySpec] = {
    "intravasation_multiplier": QuantitySpec(
        "1",
        "multiplier",
        True,
        True,
        "r_intra: exits per cancer cell per min divided by the WT reference's; "
        "multiplies the body's shedding hazard",
    ),
    "cluster_event_fraction": QuantitySpec(
        "1",
        "fraction",
        False,
        True,
        "f_cl: share of exit events with >= 2 cells",
    ),
    "growth_multiplier": QuantitySpec(
        "1",
        "multiplier",
        True,
        True,
        "m_grow: growth-rate ratio of colonies in a lung-like secondary tissue, "
        "relative to WT; multiplies metastasis growth rates",
    ),
    "intravasation_rate_per_day": QuantitySpec(
        "1/day",
        "nonnegative",
        False,
        False,
        "absolute tumour-average exit hazard h̄ per cancer cell (1/min × 1440)",
    ),
    "coherency_band": QuantitySpec(
        "1",
        "fraction",
        False,
        False,
        "collagen coherency C in the tumour-boundary band (SCIENCE.md §6.1)",
    ),
    "invasion_depth_um": QuantitySpec(
        "µm",
        "nonnegative",
        False,
        False,
        "invasion depth of cancer cells beyond the tumour boundary (SCIENCE.md §6)",
    ),
    "tacs3_fraction": QuantitySpec(
        "1",
        "fraction",
        False,
        False,
        "share of the tumour boundary classified TACS-3 (SCIENCE.md §6.4)",
    ),
}

REQUIRED_QUANTITIES = tuple(k for k, v in QUANTITIES.items() if v.required)


@dataclass(frozen=True)
class AxisSpec:
    """An x-axis a curve file may use.

    Attributes
    ----------
    unit : str
    reference : float
        Where relative quantities are 1 (the WT reference).
    minimum : float
        Smallest allowed grid value.
    meaning : str
    """

    unit: str
    reference: float
    minimum: float
    meaning: str


#: The x-axes of format version 1.
AXES: dict[str, AxisSpec] = {
    "relative_activity": AxisSpec(
        "1",
        1.0,
        0.0,
        "ã = A/A_WT, achieved mean cancer-cell DDR2 activity over the WT reference's",
    ),
}

#: Categorical arms a curve file may carry (SCIENCE.md §10.1, §8.1).
ARMS: dict[str, str] = {
    "cancer_ko": "DDR2 knocked out in the cancer cells",
    "msc_null": "DDR2-null MSCs (host MSCs without DDR2), cancer cells WT",
    "host_null": "DDR2-null host (slie/slie), cancer cells WT",
    "host_het": "heterozygous host (slie/+)",
    "no_msc": "no MSCs",
}

#: Required provenance keys and what each holds.
PROVENANCE_KEYS: dict[str, str] = {
    "package_version": "metastroma version that produced the file (text)",
    "created_utc": "creation time, ISO 8601 in UTC (offset +00:00 or Z)",
    "producer": "the command line that produced the file, or 'SCIENCE.md §10.2 defaults'",
    "scenario_sha256": "mapping scenario name → SHA-256 (64 hex digits) of each "
    "tissue scenario (or config) used",
    "seeds": "list of integer seeds (>= 0), or a text such as '0-9'",
    "replicates_per_point": "integer >= 0: seeded replicates per grid point",
    "grid": "text describing the grid (axis, range, points, how it was scanned)",
    "ci_method": "text: how the confidence bands were computed",
}

_TOP_KEYS = ("format", "format_version", "axis", "x", "quantities", "provenance")
_OPTIONAL_TOP_KEYS = ("arms",)
_SERIES_KEYS = ("unit", "mean", "ci_low", "ci_high", "n")
_BAND_KEYS = ("mean", "ci_low", "ci_high")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _pchip(x: np.ndarray, y: np.ndarray, x_new: np.ndarray) -> F64Array:
    """PCHIP through (x, y) at ``x_new`` (inside the grid), exact at the grid points."""
    from scipy.interpolate import PchipInterpolator

    out = np.asarray(PchipInterpolator(x, y, extrapolate=False)(x_new), np.float64)
    idx = np.clip(np.searchsorted(x, x_new), 0, x.size - 1)
    on = x[idx] == x_new
    out[on] = y[idx[on]]
    return out
