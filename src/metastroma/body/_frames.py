"""Shared column checks, constants and confidence intervals of the cohort tables.

Used by :mod:`metastroma.body.analysis` (shares, sites, sizes, summary) and
:mod:`metastroma.body.survival` (Kaplan–Meier, Cox); the table schema is documented in
:mod:`metastroma.body.analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from metastroma._typing import BoolArray, F64Array

#: Days in a year and in a month (Julian year).
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0
#: Two-sided 95 % standard-normal quantile.
Z_95 = 1.959963984540054
#: Cells per mm³ used to turn cell counts into diameters (SCIENCE.md §9.2, 10⁹ cells/cm³).
CELLS_PER_MM3 = 1.0e6
#: K3, share of de novo metastatic patients with bone involved (Gong 2018) [V].
K3_BONE_SHARE_AT_DIAGNOSIS = 0.651
#: K4, shares of site involvements at diagnosis (Wu 2017 counts over 17,449) [V]/[D].
K4_SITE_INVOLVEMENT_SHARES: Mapping[str, float] = {
    "bone_marrow": 0.507,
    "lungs": 0.239,
    "liver": 0.197,
    "brain": 0.057,
}

PATIENT_COLUMNS = (
    "patient_id",
    "diameter_mm_at_diagnosis",
    "node_positive",
    "metastatic_at_diagnosis",
    "time_to_distant_metastasis_days",
    "sites_at_first_metastasis",
    "sites_ever",
    "n_metastases_at_death",
    "time_to_death_days",
    "death_observed",
    "follow_up_days",
)
METASTASIS_COLUMNS = (
    "patient_id",
    "organ",
    "seeded_day",
    "detected_day",
    "cells_at_end",
    "is_distant",
)

_TTM = "time_to_distant_metastasis_days"
_SITE_COLUMN = {"ever": "sites_ever", "first": "sites_at_first_metastasis"}
SURVIVAL_CURVES = ("overall", "metastasis_free", "after_first_metastasis")


# ------------------------------------------------------------------ checks and helpers


def _require(df: pd.DataFrame, columns: Iterable[str], table: str, who: str) -> None:
    """Raise ValueError naming the columns of ``columns`` that ``df`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{who}: {table} must be a pandas DataFrame, got {type(df)}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{who}: {table} table is missing column(s) {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(str, df.columns)) or 'no columns'})"
        )


def _float(df: pd.DataFrame, column: str) -> F64Array:
    return np.asarray(pd.to_numeric(df[column], errors="raise"), dtype=np.float64)


def _bool(df: pd.DataFrame, column: str, who: str) -> BoolArray:
    s = df[column]
    if s.isna().any():
        raise ValueError(
            f"{who}: column {column!r} has missing values; need True/False"
        )
    return np.asarray(s, dtype=bool)


def _follow_up(df: pd.DataFrame, who: str) -> F64Array:
    fu = _float(df, "follow_up_days")
    bad = ~np.isfinite(fu) | (fu < 0)
    if bad.any():
        raise ValueError(
            f"{who}: follow_up_days must be finite and >= 0 (days); "
            f"{int(bad.sum())} row(s) are not, e.g. {fu[bad][0]!r}"
        )
    return fu


def _metastasis_time(df: pd.DataFrame, fu: F64Array, who: str) -> F64Array:
    t = _float(df, _TTM)
    late = np.isfinite(t) & ((t < 0) | (t > fu))
    if late.any():
        raise ValueError(
            f"{who}: {_TTM} must lie in [0, follow_up_days] (days) or be NaN; "
            f"{int(late.sum())} row(s) do not"
        )
    return t


def wilson_interval(
    k: Any, n: Any, z: float = Z_95
) -> tuple[F64Array, F64Array, F64Array]:
    """Share k/n with its Wilson score interval.

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials, broadcast together; n = 0 gives NaN.
    z : float
        Normal quantile; 1.96 for a two-sided 95 % interval.

    Returns
    -------
    share, low, high : float64 arrays in [0, 1]

    References
    ----------
    Wilson EB (1927) J Am Stat Assoc 22:209–212.

    Examples
    --------
    >>> p, lo, hi = wilson_interval(10, 100)
    >>> round(float(p), 3), round(float(lo), 3), round(float(hi), 3)
    (0.1, 0.055, 0.174)
    """
    kk = np.asarray(k, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = kk / nn
        z2n = z * z / nn
        denom = 1.0 + z2n
        centre = (p + z2n / 2.0) / denom
        half = z * np.sqrt(p * (1.0 - p) / nn + z2n / (4.0 * nn)) / denom
    lo = np.clip(centre - half, 0.0, 1.0)
    hi = np.clip(centre + half, 0.0, 1.0)
    return (
        np.asarray(p, dtype=np.float64),
        np.asarray(lo, dtype=np.float64),
        np.asarray(hi, dtype=np.float64),
    )


def site_pairs(sites: pd.Series) -> pd.DataFrame:
    """Split ``";"``-joined organ names into one row per (patient row, organ).

    Parameters
    ----------
    sites : (n_patients,) Series of str
        ``sites_ever`` or ``sites_at_first_metastasis``; ``""`` or NaN for none.

    Returns
    -------
    DataFrame
        Columns ``row`` (int64, position in ``sites``) and ``organ`` (str); empty names and
        repeats within a patient are dropped; sorted by row, then organ.
    """
    s = pd.Series(sites).fillna("").astype(str).reset_index(drop=True)
    exploded = s.str.split(";").explode().str.strip()
    pairs = pd.DataFrame(
        {
            "row": np.asarray(exploded.index, dtype=np.int64),
            "organ": np.asarray(exploded, dtype=object),
        }
    )
    pairs = pairs[pairs["organ"].notna() & (pairs["organ"] != "")]
    pairs = pairs.drop_duplicates().sort_values(["row", "organ"], kind="stable")
    return pairs.reset_index(drop=True)
