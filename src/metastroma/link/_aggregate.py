"""Aggregation of link members into response-curve points: means, bootstrap bands, ã grid.

Input is one table of measured members (:mod:`metastroma.link._measure`), one row per
member, with the scan point it belongs to (``point``), its replicate index (common random
numbers: replicate r of every point has seed ``seed + r``) and the measured values. Output
is one :class:`PointSummary` per point (or group of merged points): mean, 95 % percentile
bootstrap band and n for every quantity.

Statistics
----------
- *Absolute* quantities (A, h̄, coherency, invasion depth, TACS-3 fraction, colony growth
  rate): the mean over replicates and a percentile bootstrap of that mean (resampling
  replicates with replacement, ``n_boot`` resamples, 2.5/97.5 percentiles).
- *Relative* quantities (ã = A/A_WT, r_intra = h̄/h̄_WT, m_grow = g/g_WT): the ratio of
  means with a *paired* percentile bootstrap: each resample draws replicate indices once
  and uses them for the point and for the WT reference (common seeds make the members of a
  replicate a pair), so the WT reference is exactly 1 with a zero-width band.
- Cluster-event fraction f_cl: exit events are rare, so the events of all replicates are
  pooled (k cluster events of n events) and the band is the Wilson score interval; with no
  event at a point the mean is the scan-wide pooled fraction and the band is [0, 1].
- Bands are widened where needed to contain the mean (a percentile band of a ratio may
  miss a skewed point estimate); the file format requires ``ci_low <= mean <= ci_high``.

Merging: grid points whose achieved ã differ by less than ``tolerance`` are merged (their
members pooled, replicate pairing kept); a point that coincides with the WT reference is
dropped instead, so that the reference stays exactly ã = 1. Both are reported.

References
----------
B. Efron and R. J. Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13
(percentile interval). E. B. Wilson, J. Am. Stat. Assoc. 22 (1927) 209–212.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "ABSOLUTE",
    "RELATIVE",
    "Band",
    "PointSummary",
    "bootstrap_mean_band",
    "merge_by_activity",
    "summarise_points",
    "wilson_band",
]

#: Relative quantities: (name, member column, WT-normalised).
RELATIVE = {
    "relative_activity": "activity",
    "intravasation_multiplier": "hazard_per_min",
    "growth_multiplier": "colony_rate_per_day",
}
#: Absolute per-member quantities: (name, member column, scale).
ABSOLUTE = {
    "activity": ("activity", 1.0),
    "intravasation_rate_per_day": ("hazard_per_min", 1440.0),
    "realised_exits_per_cell_day": ("realised_per_min", 1440.0),
    "coherency_band": ("coherency_band", 1.0),
    "invasion_depth_um": ("invasion_depth_um", 1.0),
    "tacs3_fraction": ("tacs3_fraction", 1.0),
    "colony_rate_per_day": ("colony_rate_per_day", 1.0),
    "colony_activity": ("colony_activity", 1.0),
}
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Band:
    """Mean, 95 % band and n of one quantity at one point."""

    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class PointSummary:
    """One point (or merged group) of the scan.

    Attributes
    ----------
    label : str
        The point's label (merged groups: labels joined by ``+``).
    points : tuple of int
        Scan point indices pooled here.
    values : dict of str to Band
        Quantity → its band; keys of :data:`RELATIVE` and :data:`ABSOLUTE`, plus
        ``cluster_event_fraction`` and ``mean_cluster_size``.
    n_events : int
        Exit events pooled for f_cl.
    """

    label: str
    points: tuple[int, ...]
    values: dict[str, Band] = field(default_factory=dict)
    n_events: int = 0


def _contain(mean: float, low: float, high: float) -> tuple[float, float]:
    return min(low, mean), max(high, mean)


def bootstrap_mean_band(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> Band:
    """Mean of ``x`` and its 95 % percentile-bootstrap band (NaNs dropped).

    Parameters
    ----------
    x : (n,) float64
    n_boot : int
    rng : numpy.random.Generator

    Returns
    -------
    Band
        NaN mean and band when no finite value is left; a zero-width band for n = 1.
    """
    v = np.asarray(x, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Band(np.nan, np.nan, np.nan, 0)
    mean = float(v.mean())
    if v.size == 1:
        return Band(mean, mean, mean, 1)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    boots = v[idx].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    lo, hi = _contain(mean, float(lo), float(hi))
    return Band(mean, lo, hi, int(v.size))


def wilson_band(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n (n > 0)."""
    p = k / n
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def _matrix(
    members: pd.DataFrame, points: tuple[int, ...], col: str, reps: np.ndarray
) -> np.ndarray:
    """(len(points), n_rep) values of ``col``, NaN where a member is missing."""
    out = np.full((len(points), reps.size), np.nan)
    pos = {int(r): j for j, r in enumerate(reps)}
    for i, p in enumerate(points):  # a few points per group
        sub = members[members["point"] == p]
        cols = np.array([pos[int(r)] for r in sub["replicate"]], dtype=np.int64)
        if cols.size:
            out[i, cols] = sub[col].to_numpy(np.float64)
    return out


def _ratio_band(
    num: np.ndarray, den: np.ndarray, n_boot: int, rng: np.random.Generator
) -> Band:
    """Ratio of means num/den with a paired bootstrap over replicates (columns).

    ``num`` is (k, R) (k pooled points), ``den`` is (R,) (the WT reference); a replicate
    missing in either is left out of that side's mean.
    """
    r = den.size

    def ratio(idx: np.ndarray) -> np.ndarray:
        n_sel = num[:, idx]  # (k, B, R) for 2-D idx
        d_sel = den[idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(n_sel, axis=(0, -1)) / np.nanmean(d_sel, axis=-1)

    valid = np.isfinite(num).any(axis=0) & np.isfinite(den)
    n = int(np.isfinite(num).sum())
    if not valid.any():
        return Band(np.nan, np.nan, np.nan, 0)
    mean = float(ratio(np.arange(r)))
    cols = np.flatnonzero(valid)
    idx = cols[rng.integers(0, cols.size, size=(n_boot, cols.size))]
    with np.errstate(invalid="ignore", divide="ignore"):
        boots = np.nanmean(num[:, idx], axis=(0, 2)) / np.nanmean(den[idx], axis=1)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0 or not np.isfinite(mean):
        return Band(mean, mean, mean, n)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    lo, hi = _contain(mean, float(lo), float(hi))
    return Band(mean, lo, hi, n)


def summarise_points(
    members: pd.DataFrame,
    groups: list[tuple[str, tuple[int, ...]]],
    wt_point: int,
    n_boot: int,
    seed: int,
) -> list[PointSummary]:
    """Means and bands of every group of scan points (see the module docstring).

    Parameters
    ----------
    members : DataFrame
        One row per measured member: ``point``, ``replicate``, and the columns named in
        :data:`RELATIVE` and :data:`ABSOLUTE` (NaN where not measured, e.g. colony
        columns without colonies), ``n_events``, ``n_cluster_events``, ``exit_cells``.
    groups : list of (label, point indices)
        Each group is summarised as one point (its members pooled).
    wt_point : int
        The WT reference point (f_KD = 1, θ_I = 0).
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the bootstrap generator (``default_rng([seed, group index])``).

    Returns
    -------
    list of PointSummary
        In the order of ``groups``.
    """
    reps = np.unique(members["replicate"].to_numpy(np.int64))
    wt = members[members["point"] == wt_point]
    if wt.empty:
        raise ValueError("the WT reference point has no measured member")
    events = members["n_events"].to_numpy(np.float64)
    clusters = members["n_cluster_events"].to_numpy(np.float64)
    pooled_all = float(clusters.sum() / events.sum()) if events.sum() > 0 else 0.0
    out = []
    for gi, (label, pts) in enumerate(groups):  # points of a scan, not cells
        rng = np.random.default_rng([seed, gi])
        sub = members[members["point"].isin(pts)]
        values: dict[str, Band] = {}
        for name, col in RELATIVE.items():
            num = _matrix(members, pts, col, reps)
            den = _matrix(members, (wt_point,), col, reps)[0]
            values[name] = _ratio_band(num, den, n_boot, rng)
        for name, (col, scale) in ABSOLUTE.items():
            b = bootstrap_mean_band(sub[col].to_numpy(np.float64) * scale, n_boot, rng)
            values[name] = b
        k = int(sub["n_cluster_events"].sum())
        n = int(sub["n_events"].sum())
        n_rep = len(sub)
        if n > 0:
            lo, hi = wilson_band(k, n)
            f = k / n
            values["cluster_event_fraction"] = Band(f, *_contain(f, lo, hi), n_rep)
            size = float(sub["exit_cells"].sum() / n)
            values["mean_cluster_size"] = Band(size, size, size, n_rep)
        else:
            values["cluster_event_fraction"] = Band(pooled_all, 0.0, 1.0, n_rep)
            values["mean_cluster_size"] = Band(np.nan, np.nan, np.nan, 0)
        out.append(PointSummary(label, tuple(pts), values, n))
    return out


def merge_by_activity(
    labels: list[str],
    activity: np.ndarray,
    wt_index: int,
    tolerance: float,
) -> tuple[list[tuple[str, tuple[int, ...]]], list[str], list[str]]:
    """Group grid points whose achieved ã coincide (within ``tolerance``).

    Points are sorted by ã; a run of neighbours each closer than ``tolerance`` to the
    previous one forms a group. A group that holds the WT reference keeps only it (the
    others are dropped: the reference stays ã = 1 exactly).

    Parameters
    ----------
    labels : list of str
        Grid point labels.
    activity : (n,) float64
        Achieved ã of each grid point.
    wt_index : int
        Index of the WT reference among them.
    tolerance : float
        Smallest ã difference kept apart.

    Returns
    -------
    groups : list of (label, indices)
        Sorted by ã; labels of merged points joined by ``+``.
    merged : list of str
        One line per merge.
    dropped : list of str
        One line per point dropped beside the WT reference.
    """
    a = np.asarray(activity, np.float64)
    order = [i for i in np.argsort(a, kind="stable") if np.isfinite(a[i])]
    dropped = [f"{labels[i]}: achieved ã is not finite" for i in range(a.size)]
    dropped = [d for i, d in enumerate(dropped) if not np.isfinite(a[i])]
    runs: list[list[int]] = []
    for i in order:
        if runs and abs(a[i] - a[runs[-1][-1]]) < tolerance:
            runs[-1].append(int(i))
        else:
            runs.append([int(i)])
    groups: list[tuple[str, tuple[int, ...]]] = []
    merged: list[str] = []
    for run in runs:
        if wt_index in run and len(run) > 1:
            for i in run:
                if i != wt_index:
                    dropped.append(
                        f"{labels[i]}: ã = {a[i]:.4f} within {tolerance:g} of the WT "
                        "reference (ã = 1); dropped"
                    )
            run = [wt_index]
        if len(run) > 1:
            merged.append(
                " + ".join(f"{labels[i]} (ã = {a[i]:.4f})" for i in run)
                + f": within {tolerance:g}, pooled"
            )
        groups.append(("+".join(labels[i] for i in run), tuple(run)))
    return groups, merged, dropped
