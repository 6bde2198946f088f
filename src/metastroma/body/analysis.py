"""Analysis of a virtual cohort: metastasis shares, sites, node status, sizes and survival.

The cohort simulation (issue 4) returns two tables, and every function here reads them as
pandas DataFrames, vectorised over patients (no Python loop over patients or metastases):

``patients`` (one row per patient)
    ``patient_id`` int64; ``diameter_mm_at_diagnosis`` float64, mm; ``node_positive``
    bool; ``metastatic_at_diagnosis`` bool (a distant metastasis detectable at diagnosis);
    ``time_to_distant_metastasis_days`` float64, days from diagnosis to the first detected
    distant metastasis (0 if metastatic at diagnosis, NaN if none during follow-up);
    ``sites_at_first_metastasis`` and ``sites_ever`` str, the distant organs detected at
    that first time and by death or end of follow-up, sorted and joined with ``";"``
    (``""`` if none); ``n_metastases_at_death`` int64; ``time_to_death_days`` float64
    (NaN if alive at the end); ``death_observed`` bool; ``follow_up_days`` float64, days
    from diagnosis to death or censoring. Other columns are ignored.
``metastases`` (one row per metastasis)
    ``patient_id`` int64; ``organ`` str; ``seeded_day`` and ``detected_day`` float64, days
    relative to diagnosis (negative: before surgery; ``detected_day`` NaN if never
    detected); ``cells_at_end`` float64, cells; ``is_distant`` bool (False in lymph nodes).

Conventions. Times are in days (a year is 365.25 days, a month 365.25/12 days); shares are
fractions in [0, 1] except in :func:`summary_table`, which reports percent. Confidence
intervals are two-sided 95 %: Wilson score intervals for binomial shares (Wilson 1927),
exponential-Greenwood intervals for Kaplan–Meier estimates and Wald intervals for Cox
hazard ratios (lifelines' defaults). "Bone" in the literature is ``bone_marrow`` here.

Two ways of counting sites (SCIENCE.md §9.7): the share of *metastatic patients* with an
organ involved (Gong 2018: bone in 65.1 % of de novo metastatic patients, K3) sums to more
than 1 when patients have several sites; the share of *site involvements*, (patient, site)
pairs over all pairs (Wu 2017: bone 50.7, lung 23.9, liver 19.7, brain 5.7 %, K4), sums to
1. Both are reported, named ``share_of_metastatic_patients`` and
``share_of_site_involvements``.

Censoring. Patients die only of metastatic disease in the default model, so nobody dies
before a distant metastasis; a patient whose follow-up ends metastasis-free is censored.
When any patient is censored before a horizon, the share metastatic by that horizon is the
Kaplan–Meier cumulative incidence 1 − S(t) (a death without metastasis, where a death
model allows one, is then treated as censoring: a cause-specific estimate).

lifelines (Davidson-Pilon 2019, JOSS 4:1317) is imported inside the functions that need it
(2 s at import). Text helpers (:func:`to_markdown`, :func:`to_csv_text`) return strings;
writing files is left to :func:`metastroma.viz.body.write_table` (the body package touches
no files, DESIGN.md).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from metastroma._typing import BoolArray, F64Array
from metastroma.body.growth import cells_to_diameter_mm

if TYPE_CHECKING:  # pragma: no cover
    from lifelines import CoxPHFitter

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


# ------------------------------------------------------------------ Kaplan–Meier


def _kaplan_meier(durations: F64Array, events: BoolArray) -> Any:
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(durations, event_observed=events)


def _km_table(kmf: Any, durations: F64Array) -> pd.DataFrame:
    """Tidy step function of a fitted KaplanMeierFitter with its CI and numbers at risk."""
    t = np.asarray(kmf.survival_function_.index, dtype=np.float64)
    ci = kmf.confidence_interval_
    d_sorted = np.sort(durations)
    return pd.DataFrame(
        {
            "time_days": t,
            "time_months": t / DAYS_PER_MONTH,
            "survival": np.asarray(kmf.survival_function_.iloc[:, 0], dtype=np.float64),
            "ci_low": np.asarray(ci.iloc[:, 0], dtype=np.float64),
            "ci_high": np.asarray(ci.iloc[:, 1], dtype=np.float64),
            "n_at_risk": d_sorted.size - np.searchsorted(d_sorted, t, side="left"),
        }
    )


def _step_at(table: pd.DataFrame, times_days: F64Array) -> pd.DataFrame:
    """Values of a tidy KM step function at ``times_days`` (NaN where not estimable).

    The estimate at t is that of the last step at or before t. Past the largest observed
    time it is NaN unless the curve has reached 0 (beyond the data only S = 0 is known).
    """
    times = np.asarray(times_days, dtype=np.float64)
    out = pd.DataFrame(
        {"time_days": times, "survival": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    )
    if table.empty:
        return out
    t = table["time_days"].to_numpy()
    idx = np.searchsorted(t, times, side="right") - 1
    ok = idx >= 0
    for col in ("survival", "ci_low", "ci_high"):
        vals = table[col].to_numpy()
        out.loc[ok, col] = vals[idx[ok]]
    # beyond the last observation: unknown unless the curve is already at 0
    beyond = times > t[-1]
    if table["survival"].iloc[-1] > 0:
        out.loc[beyond, ["survival", "ci_low", "ci_high"]] = np.nan
    return out


def _median_row(kmf: Any | None, curve: str, n: int, n_events: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "curve": curve,
        "n": n,
        "n_events": n_events,
        "median_days": math.nan,
        "ci_low_days": math.nan,
        "ci_high_days": math.nan,
    }
    if kmf is not None and n > 0:
        from lifelines.utils import median_survival_times

        med = float(kmf.median_survival_time_)
        ci = median_survival_times(kmf.confidence_interval_)
        lo, hi = float(ci.iloc[0, 0]), float(ci.iloc[0, 1])
        row["median_days"] = med if math.isfinite(med) else math.nan
        row["ci_low_days"] = lo if math.isfinite(lo) else math.nan
        row["ci_high_days"] = hi if math.isfinite(hi) else math.nan
    return row


@dataclass(frozen=True)
class SurvivalCurves:
    """Kaplan–Meier curves of a cohort (from :func:`survival_curves`).

    Attributes
    ----------
    curves : DataFrame
        Tidy step functions, one row per time of a curve: ``curve`` (``'overall'``,
        ``'metastasis_free'`` or ``'after_first_metastasis'``), ``time_days``,
        ``time_months``, ``survival``, ``ci_low``, ``ci_high`` (95 %, exponential
        Greenwood) and ``n_at_risk`` (patients with duration ≥ time). The estimate holds
        from its time until the next row's time.
    medians : DataFrame
        One row per curve: ``curve``, ``n``, ``n_events``, ``median_days``,
        ``ci_low_days``, ``ci_high_days`` and the same in months (``median_months``, ...);
        NaN where the curve (or its confidence band) never falls to 0.5.
    fitters : Mapping[str, lifelines.KaplanMeierFitter]
        The fitted estimators, for further lifelines use; absent for an empty curve.
    """

    curves: pd.DataFrame
    medians: pd.DataFrame
    fitters: Mapping[str, Any] = field(default_factory=dict)

    def at(self, curve: str, time_days: Any) -> pd.DataFrame:
        """Survival of ``curve`` at the given times (days), with its 95 % CI.

        Returns
        -------
        DataFrame
            ``time_days``, ``survival``, ``ci_low``, ``ci_high``; NaN past the last
            observed time unless the curve has reached 0, and for an empty curve.
        """
        if curve not in SURVIVAL_CURVES:
            raise ValueError(f"unknown curve {curve!r}; one of {SURVIVAL_CURVES}")
        table = self.curves[self.curves["curve"] == curve]
        return _step_at(table, np.atleast_1d(np.asarray(time_days, dtype=np.float64)))

    def median_months(self, curve: str) -> float:
        """Median of ``curve`` in months (NaN if not reached or the curve is empty)."""
        row = self.medians[self.medians["curve"] == curve]
        if row.empty:
            raise ValueError(f"unknown curve {curve!r}; one of {SURVIVAL_CURVES}")
        return float(row["median_months"].iloc[0])


def _survival_inputs(
    patients: pd.DataFrame, who: str
) -> dict[str, tuple[F64Array, BoolArray]]:
    _require(patients, [_TTM, "death_observed", "follow_up_days"], "patients", who)
    fu = _follow_up(patients, who)
    t = _metastasis_time(patients, fu, who)
    died = _bool(patients, "death_observed", who)
    has = np.isfinite(t)
    return {
        "overall": (fu, died),
        "metastasis_free": (np.where(has, t, fu), has),
        "after_first_metastasis": (fu[has] - t[has], died[has]),
    }


def survival_curves(patients: pd.DataFrame) -> SurvivalCurves:
    """Kaplan–Meier overall, metastasis-free and post-metastasis survival with 95 % CIs.

    Curves (durations in days from the start named, events as stated):

    - ``overall``: from diagnosis, duration ``follow_up_days``, event ``death_observed``;
    - ``metastasis_free``: from diagnosis, duration ``time_to_distant_metastasis_days``
      where a distant metastasis was detected, else ``follow_up_days``; event = distant
      metastasis detected (deaths follow metastasis in this model, so they add no event);
    - ``after_first_metastasis``: patients with a distant metastasis only, from its first
      detection, duration ``follow_up_days − time_to_distant_metastasis_days``, event
      ``death_observed``. Its median in months is the figure compared with K8
      (SCIENCE.md §9.7) when restricted to patients metastatic at diagnosis.

    Parameters
    ----------
    patients : DataFrame
        Needs ``time_to_distant_metastasis_days``, ``death_observed``, ``follow_up_days``.

    Returns
    -------
    SurvivalCurves
        Tidy curves, medians (days and months) and the fitted estimators. An empty cohort,
        or one without metastases, gives empty curves and NaN medians.

    Raises
    ------
    ValueError
        A column is missing, a follow-up is negative or not finite, or a metastasis time
        lies outside [0, follow_up_days].
    """
    inputs = _survival_inputs(patients, "survival_curves")
    tables, medians, fitters = [], [], {}
    for curve, (durations, events) in inputs.items():  # three curves, not patients
        kmf = None
        if durations.size:
            kmf = _kaplan_meier(durations, events)
            fitters[curve] = kmf
            tables.append(_km_table(kmf, durations).assign(curve=curve))
        medians.append(_median_row(kmf, curve, durations.size, int(events.sum())))
    columns = [
        "curve",
        "time_days",
        "time_months",
        "survival",
        "ci_low",
        "ci_high",
        "n_at_risk",
    ]
    curves = (
        pd.concat(tables, ignore_index=True)[columns]
        if tables
        else pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
            {"curve": object, "n_at_risk": np.int64}
        )
    )
    med = pd.DataFrame(medians)
    for c in ("median", "ci_low", "ci_high"):
        med[f"{c}_months"] = med[f"{c}_days"] / DAYS_PER_MONTH
    return SurvivalCurves(curves=curves, medians=med, fitters=fitters)


# ------------------------------------------------------------------ metastasis shares


def distant_metastasis_share(
    patients: pd.DataFrame, years: Sequence[float] = (5, 10, 15)
) -> pd.DataFrame:
    """Share of patients with a detected distant metastasis by each horizon.

    A patient counts by horizon h if ``time_to_distant_metastasis_days`` ≤ h × 365.25
    (metastatic at diagnosis counts at every horizon). If no patient's follow-up ends
    metastasis-free before h, the share is the plain fraction with a Wilson interval
    (``method = 'fraction'``). Otherwise it is the Kaplan–Meier cumulative incidence
    1 − S(h), S the metastasis-free survival of :func:`survival_curves`, with its
    exponential-Greenwood interval (``method = 'kaplan_meier'``); past the last observed
    time it is NaN (``method = 'not_estimable'``).

    Parameters
    ----------
    patients : DataFrame
        Needs ``time_to_distant_metastasis_days`` and ``follow_up_days``.
    years : sequence of float, years
        Horizons after diagnosis; > 0.

    Returns
    -------
    DataFrame
        One row per horizon: ``year``, ``horizon_days``, ``share`` ([0, 1]), ``ci_low``,
        ``ci_high`` (95 %), ``method``, ``n_patients``, ``n_events`` (metastatic by the
        horizon) and ``n_censored_before`` (follow-up ended metastasis-free before it).
        An empty cohort gives NaN shares.

    Raises
    ------
    ValueError
        A column is missing, a horizon is not positive, a follow-up is negative or not
        finite, or a metastasis time lies outside [0, follow_up_days].
    """
    who = "distant_metastasis_share"
    _require(patients, [_TTM, "follow_up_days"], "patients", who)
    yrs = np.atleast_1d(np.asarray(years, dtype=np.float64))
    if yrs.size == 0 or not (np.isfinite(yrs) & (yrs > 0)).all():
        raise ValueError(f"{who}: years must be positive and finite, got {list(yrs)}")
    fu = _follow_up(patients, who)
    t = _metastasis_time(patients, fu, who)
    has = np.isfinite(t)
    h = yrs * DAYS_PER_YEAR
    n = t.size
    n_events = (t[None, :] <= h[:, None]).sum(axis=1)  # NaN compares False
    n_cens = (~has[None, :] & (fu[None, :] < h[:, None])).sum(axis=1)
    share, lo, hi = wilson_interval(n_events, n)
    method = np.full(h.size, "fraction", dtype=object)
    km = n_cens > 0
    if km.any():
        durations = np.where(has, t, fu)
        table = _km_table(_kaplan_meier(durations, has), durations)
        at = _step_at(table, h[km])
        share[km] = 1.0 - at["survival"].to_numpy()
        lo[km] = 1.0 - at["ci_high"].to_numpy()
        hi[km] = 1.0 - at["ci_low"].to_numpy()
        method[km] = np.where(at["survival"].isna(), "not_estimable", "kaplan_meier")
    return pd.DataFrame(
        {
            "year": yrs,
            "horizon_days": h,
            "share": share,
            "ci_low": lo,
            "ci_high": hi,
            "method": method,
            "n_patients": np.full(h.size, n, dtype=np.int64),
            "n_events": n_events.astype(np.int64),
            "n_censored_before": n_cens.astype(np.int64),
        }
    )


def site_involvement(
    patients: pd.DataFrame,
    which: Literal["ever", "first"] = "ever",
    organs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per distant organ: patients involved, share of metastatic patients, share of sites.

    Parameters
    ----------
    patients : DataFrame
        Needs ``sites_ever`` (``which='ever'``) or ``sites_at_first_metastasis``
        (``which='first'``). Restrict the rows first for a sub-cohort, e.g.
        ``patients[patients.metastatic_at_diagnosis]`` for sites at diagnosis (K3, K4).
    which : {'ever', 'first'}
        Sites detected by death or end of follow-up, or at the first detection.
    organs : sequence of str, optional
        Organs to report even if never involved (0 patients), in this order before the
        others.

    Returns
    -------
    DataFrame
        One row per organ, most involved first: ``organ``; ``n_patients`` (patients with
        it involved); ``share_of_metastatic_patients`` (Gong-style, n / patients with any
        site; the shares sum to ≥ 1) with its Wilson 95 % ``ci_low``/``ci_high``;
        ``share_of_site_involvements`` (Wu-style, n / all (patient, site) pairs; sums to
        1); ``n_metastatic_patients`` and ``n_site_involvements`` (the denominators).
        Shares are NaN when no patient has a site.

    Raises
    ------
    ValueError
        ``which`` is not 'ever' or 'first', or the column is missing.
    """
    who = "site_involvement"
    if which not in _SITE_COLUMN:
        raise ValueError(f"{who}: which must be 'ever' or 'first', got {which!r}")
    column = _SITE_COLUMN[which]
    _require(patients, [column], "patients", who)
    pairs = site_pairs(patients[column])
    n_met = int(pairs["row"].nunique())
    n_pairs = len(pairs)
    counts = pairs.groupby("organ", sort=True).size()
    listed = list(organs or [])
    extra = [o for o in counts.index if o not in listed]
    counts = counts.reindex(listed + extra, fill_value=0).astype(np.int64)
    order = np.lexsort((np.arange(counts.size), -counts.to_numpy()))
    counts = counts.iloc[order]
    k = counts.to_numpy()
    share, lo, hi = wilson_interval(k, n_met)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair_share = k / np.float64(n_pairs)
    return pd.DataFrame(
        {
            "organ": np.asarray(counts.index, dtype=object),
            "n_patients": k,
            "share_of_metastatic_patients": share,
            "ci_low": lo,
            "ci_high": hi,
            "share_of_site_involvements": pair_share,
            "n_metastatic_patients": np.full(k.size, n_met, dtype=np.int64),
            "n_site_involvements": np.full(k.size, n_pairs, dtype=np.int64),
        }
    )


def site_patterns(
    patients: pd.DataFrame, which: Literal["ever", "first"] = "ever", top: int = 8
) -> pd.DataFrame:
    """Exclusive site patterns among metastatic patients (each patient in one pattern).

    A pattern is the set of involved distant organs: ``'bone_marrow only'`` for one site,
    ``'bone_marrow;lungs'`` (sorted, ``";"``-joined) for several.

    Parameters
    ----------
    patients : DataFrame
        Needs ``sites_ever`` or ``sites_at_first_metastasis`` (see ``which``).
    which : {'ever', 'first'}
    top : int
        Patterns kept by count (ties by name); the rest are pooled in ``'other'``.

    Returns
    -------
    DataFrame
        ``pattern``, ``n_sites`` (0 for 'other'), ``n_patients``, ``share`` of metastatic
        patients with Wilson 95 % ``ci_low``/``ci_high``; the shares sum to 1. Empty
        when no patient has a site.

    Raises
    ------
    ValueError
        ``which`` is invalid, ``top`` < 1, or the column is missing.
    """
    who = "site_patterns"
    if which not in _SITE_COLUMN:
        raise ValueError(f"{who}: which must be 'ever' or 'first', got {which!r}")
    if top < 1:
        raise ValueError(f"{who}: top must be >= 1, got {top}")
    column = _SITE_COLUMN[which]
    _require(patients, [column], "patients", who)
    pairs = site_pairs(patients[column])
    columns = ["pattern", "n_sites", "n_patients", "share", "ci_low", "ci_high"]
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
            {"pattern": object, "n_sites": np.int64, "n_patients": np.int64}
        )
    x = pd.crosstab(pairs["row"], pairs["organ"]) > 0  # (n_metastatic, n_organs) bool
    organs = np.asarray(x.columns, dtype=object)
    mat = x.to_numpy()
    # one key per patient: its row of organ flags packed into bytes
    packed = np.ascontiguousarray(np.packbits(mat, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, n_per = np.unique(keys, return_index=True, return_counts=True)
    n_sites = mat[first].sum(axis=1)
    names = [";".join(organs[mat[i]]) for i in first]  # one per pattern
    names = [f"{s} only" if k == 1 else s for s, k in zip(names, n_sites, strict=True)]
    counts = pd.DataFrame(
        {"pattern": names, "n_sites": n_sites, "n_patients": n_per}
    ).sort_values(["n_patients", "pattern"], ascending=[False, True], kind="stable")
    n_met = mat.shape[0]
    head = counts.iloc[:top]
    rest = counts.iloc[top:]
    if len(rest):
        other = pd.DataFrame(
            {
                "pattern": ["other"],
                "n_sites": [0],
                "n_patients": [rest.n_patients.sum()],
            }
        )
        head = pd.concat([head, other], ignore_index=True)
    head = head.reset_index(drop=True).astype(
        {"n_sites": np.int64, "n_patients": np.int64}
    )
    share, lo, hi = wilson_interval(head["n_patients"].to_numpy(), n_met)
    return head.assign(share=share, ci_low=lo, ci_high=hi)


def node_positivity_by_size(
    patients: pd.DataFrame,
    bins_mm: Sequence[float] = (0.0, 10.0, 20.0, 50.0, math.inf),
) -> pd.DataFrame:
    """Share of node-positive patients by tumour diameter at diagnosis.

    Bins are right-closed, (lo, hi] mm, the first one also closed on the left, as the
    TNM T categories (T1 ≤ 20 mm, T2 20–50 mm, T3 > 50 mm). Diameters outside all bins
    (or NaN) are left out.

    Parameters
    ----------
    patients : DataFrame
        Needs ``diameter_mm_at_diagnosis`` (mm) and ``node_positive`` (bool).
    bins_mm : sequence of float, mm
        Strictly increasing bin edges, at least two; the last may be ``inf``.

    Returns
    -------
    DataFrame
        One row per bin: ``bin`` (label, e.g. ``'10–20 mm'``, ``'> 50 mm'``),
        ``lower_mm``, ``upper_mm``, ``n``, ``n_positive``, ``share_positive`` with its
        Wilson 95 % ``ci_low``/``ci_high`` (NaN for an empty bin).

    Raises
    ------
    ValueError
        A column is missing or the edges are not strictly increasing.
    """
    who = "node_positivity_by_size"
    _require(patients, ["diameter_mm_at_diagnosis", "node_positive"], "patients", who)
    edges = np.asarray(bins_mm, dtype=np.float64)
    if edges.size < 2 or np.isnan(edges).any() or (np.diff(edges) <= 0).any():
        raise ValueError(
            f"{who}: bins_mm must be at least two strictly increasing edges (mm), "
            f"got {list(edges)}"
        )
    d = _float(patients, "diameter_mm_at_diagnosis")
    pos = _bool(patients, "node_positive", who)
    idx = np.searchsorted(edges, d, side="left") - 1
    idx[d == edges[0]] = 0
    ok = np.isfinite(d) & (idx >= 0) & (idx < edges.size - 1)
    nb = edges.size - 1
    n = np.bincount(idx[ok], minlength=nb)
    k = np.bincount(idx[ok], weights=pos[ok].astype(np.float64), minlength=nb)
    share, lo, hi = wilson_interval(k, n)
    lower, upper = edges[:-1], edges[1:]
    labels = [
        f"> {a:g} mm" if math.isinf(b) else f"{a:g}–{b:g} mm"
        for a, b in zip(lower, upper, strict=True)
    ]
    return pd.DataFrame(
        {
            "bin": labels,
            "lower_mm": lower,
            "upper_mm": upper,
            "n": n.astype(np.int64),
            "n_positive": k.astype(np.int64),
            "share_positive": share,
            "ci_low": lo,
            "ci_high": hi,
        }
    )


def _quantile_name(q: float) -> str:
    return f"q{100 * q:g}".replace(".", "_")


def metastasis_sizes(
    metastases: pd.DataFrame,
    cells_per_mm3: float = CELLS_PER_MM3,
    quantiles: Sequence[float] = (0.05, 0.25, 0.75, 0.95),
    *,
    distant_only: bool = False,
    detected_only: bool = False,
) -> pd.DataFrame:
    """Per organ: number of metastases, their sizes at the end, and counts per patient.

    The diameter of a deposit of N cells is that of a sphere,
    d = (6 N / (π · cells_per_mm3))^(1/3) mm (SCIENCE.md §9.2).

    Parameters
    ----------
    metastases : DataFrame
        Needs ``patient_id``, ``organ``, ``cells_at_end`` (cells) and ``detected_day``;
        ``is_distant`` too with ``distant_only``.
    cells_per_mm3 : float, cells/mm³
        > 0; default 10⁶ (10⁹ cells/cm³, §9.2).
    quantiles : sequence of float in [0, 1]
        Quantiles reported besides the median.
    distant_only, detected_only : bool
        Keep only distant metastases / only those detected (finite ``detected_day``).

    Returns
    -------
    DataFrame
        One row per organ, most metastases first: ``organ``, ``n_metastases``,
        ``n_patients`` (with ≥ 1 there), ``n_detected``, ``per_patient_mean``,
        ``per_patient_median``, ``per_patient_max`` (metastases per patient among those
        patients), ``cells_median`` and ``cells_q{p}`` (cells), ``diameter_mm_median`` and
        ``diameter_mm_q{p}`` (mm), p the percentile (``q5``, ``q25``, ...). Empty (with
        these columns) when there are no metastases.

    Raises
    ------
    ValueError
        A column is missing, ``cells_per_mm3`` ≤ 0, a quantile outside [0, 1] or a
        negative cell count.
    """
    who = "metastasis_sizes"
    need = ["patient_id", "organ", "cells_at_end", "detected_day"]
    _require(
        metastases, need + (["is_distant"] if distant_only else []), "metastases", who
    )
    if not cells_per_mm3 > 0:
        raise ValueError(f"{who}: cells_per_mm3 must be > 0, got {cells_per_mm3}")
    qs = [float(q) for q in quantiles]
    if any(not 0.0 <= q <= 1.0 for q in qs):
        raise ValueError(f"{who}: quantiles must lie in [0, 1], got {qs}")
    m = metastases[need + (["is_distant"] if distant_only else [])]
    if distant_only:
        m = m[_bool(m, "is_distant", who)]
    cells = _float(m, "cells_at_end")
    if (cells < 0).any():
        raise ValueError(f"{who}: cells_at_end must be >= 0 (cells)")
    detected = np.isfinite(_float(m, "detected_day"))
    m = pd.DataFrame(
        {
            "patient_id": np.asarray(m["patient_id"]),
            "organ": np.asarray(m["organ"], dtype=object),
            "cells": cells,
            "diameter_mm": cells_to_diameter_mm(cells, cells_per_mm3),
            "detected": detected,
        }
    )
    if detected_only:
        m = m[m["detected"]]
    names = [_quantile_name(q) for q in qs]
    columns = [
        "organ",
        "n_metastases",
        "n_patients",
        "n_detected",
        "per_patient_mean",
        "per_patient_median",
        "per_patient_max",
        "cells_median",
        *(f"cells_{s}" for s in names),
        "diameter_mm_median",
        *(f"diameter_mm_{s}" for s in names),
    ]
    if m.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
            {"organ": object}
        )
    g = m.groupby("organ", sort=True)
    per_patient = m.groupby(["organ", "patient_id"]).size().groupby(level="organ")
    out = pd.DataFrame(
        {
            "n_metastases": g.size(),
            "n_patients": g["patient_id"].nunique(),
            "n_detected": g["detected"].sum().astype(np.int64),
            "per_patient_mean": per_patient.mean(),
            "per_patient_median": per_patient.median(),
            "per_patient_max": per_patient.max(),
            "cells_median": g["cells"].median(),
            "diameter_mm_median": g["diameter_mm"].median(),
        }
    )
    for var in ("cells", "diameter_mm"):
        if qs:
            qt = g[var].quantile(qs).unstack()
            qt.columns = [f"{var}_{s}" for s in names]
            out = out.join(qt)
    out = out.reset_index().sort_values(
        ["n_metastases", "organ"], ascending=[False, True], kind="stable"
    )
    return out[columns].reset_index(drop=True)


def metastasis_counts_per_patient(
    metastases: pd.DataFrame,
    patient_ids: Any = None,
    *,
    distant_only: bool = True,
    detected_only: bool = False,
) -> pd.DataFrame:
    """Distribution over patients of the number of metastases.

    Parameters
    ----------
    metastases : DataFrame
        Needs ``patient_id``; ``is_distant`` with ``distant_only``, ``detected_day`` with
        ``detected_only``.
    patient_ids : array_like of int, optional
        The whole cohort (e.g. ``patients.patient_id``), so that patients without a
        metastasis count as 0; without it only patients with ≥ 1 are counted.
    distant_only, detected_only : bool
        Count only distant metastases / only detected ones.

    Returns
    -------
    DataFrame
        ``n_metastases`` (0, 1, 2, ... up to the maximum, every value listed),
        ``n_patients`` and ``share`` of the patients counted.
    """
    who = "metastasis_counts_per_patient"
    need = ["patient_id"]
    need += ["is_distant"] if distant_only else []
    need += ["detected_day"] if detected_only else []
    _require(metastases, need, "metastases", who)
    keep = np.ones(len(metastases), dtype=bool)
    if distant_only:
        keep &= _bool(metastases, "is_distant", who)
    if detected_only:
        keep &= np.isfinite(_float(metastases, "detected_day"))
    per = metastases.loc[keep, "patient_id"].value_counts()
    if patient_ids is not None:
        ids = pd.Index(np.unique(np.asarray(patient_ids)))
        unknown = per.index.difference(ids)
        if len(unknown):
            raise ValueError(
                f"{who}: metastases name patient_id(s) not in patient_ids, "
                f"e.g. {unknown[0]!r}"
            )
        per = per.reindex(ids, fill_value=0)
    counts = np.bincount(np.asarray(per, dtype=np.int64), minlength=1)
    total = counts.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts / np.float64(total)
    return pd.DataFrame(
        {
            "n_metastases": np.arange(counts.size, dtype=np.int64),
            "n_patients": counts.astype(np.int64),
            "share": share,
        }
    )


# ------------------------------------------------------------------ Cox model by site


def _fit_cox(df: pd.DataFrame, penalizer: float) -> tuple[CoxPHFitter, list[str]]:
    """Fit a Cox model; return it and the convergence warnings lifelines raised.

    Only lifelines' ``ConvergenceWarning`` is recorded; any other warning is re-issued.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        cph = CoxPHFitter(penalizer=penalizer).fit(
            df, duration_col="duration_days", event_col="event"
        )
    notes = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            notes.append(" ".join(str(w.message).split()))
        else:  # not ours to handle: pass it on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return cph, notes


def cox_site_hazard_ratios(
    patients: pd.DataFrame,
    min_patients: int = 10,
    fallback_penalizer: float = 0.01,
) -> pd.DataFrame:
    """Hazard ratios of death after the first distant metastasis, by site involved.

    Among patients with a distant metastasis, a Cox proportional-hazards model (lifelines
    ``CoxPHFitter``, Efron ties) of the time from first detection to death (censored at
    follow-up end) on one 0/1 covariate per distant organ in ``sites_ever`` (reference:
    organ not involved), all organs in one model.

    An organ is left out of the model (``included`` False, ``note`` says why) if fewer
    than ``min_patients`` patients have it or lack it (little or no variance), or if no
    death occurs among the patients with it or among those without it (the estimate
    would diverge: complete separation). If lifelines cannot converge (collinear sites,
    e.g. two organs always involved together), the model is refitted with a small ridge
    penalty ``fallback_penalizer`` (which pulls HRs toward 1) and ``penalizer`` says so;
    lifelines' convergence warnings are recorded in ``note``, never silenced.

    Parameters
    ----------
    patients : DataFrame
        Needs ``time_to_distant_metastasis_days``, ``follow_up_days``,
        ``death_observed`` and ``sites_ever``.
    min_patients : int
        Minimum patients with and without a site for it to enter the model.
    fallback_penalizer : float
        L2 penalty of the refit after a convergence failure; > 0.

    Returns
    -------
    DataFrame
        One row per organ in ``sites_ever`` (included first, by hazard ratio): ``site``,
        ``n_involved``, ``n_not_involved``, ``n_deaths_involved``, ``included``,
        ``hazard_ratio``, ``ci_low``, ``ci_high`` (95 %), ``p`` (Wald), ``penalizer``
        and ``note``. NaN for organs left out, and for all when no patient has a
        metastasis or no death is observed.

    Raises
    ------
    ValueError
        A column is missing or the survival columns are inconsistent (see
        :func:`survival_curves`).
    lifelines.exceptions.ConvergenceError
        The penalised refit fails too.
    """
    from lifelines.exceptions import ConvergenceError

    who = "cox_site_hazard_ratios"
    _require(
        patients,
        [_TTM, "follow_up_days", "death_observed", "sites_ever"],
        "patients",
        who,
    )
    if not fallback_penalizer > 0:
        raise ValueError(f"{who}: fallback_penalizer must be > 0")
    fu = _follow_up(patients, who)
    t = _metastasis_time(patients, fu, who)
    died = _bool(patients, "death_observed", who)
    has = np.isfinite(t)
    met_rows = np.flatnonzero(has)
    pairs = site_pairs(patients["sites_ever"])
    pairs = pairs[has[pairs["row"].to_numpy()]]
    x = pd.crosstab(pairs["row"], pairs["organ"]).clip(upper=1)
    x = x.reindex(index=met_rows, fill_value=0).astype(np.float64)
    x.columns = [str(c) for c in x.columns]
    death = died[met_rows]
    n_met = met_rows.size
    n_inv = x.sum(axis=0).astype(np.int64)
    deaths_inv = x[death].sum(axis=0).astype(np.int64)
    deaths_not = int(death.sum()) - deaths_inv
    note = pd.Series("", index=x.columns, dtype=object)
    few = (n_inv < min_patients) | (n_met - n_inv < min_patients)
    note[few] = f"left out: fewer than {min_patients} patients with or without it"
    separated = ~few & ((deaths_inv == 0) | (deaths_not == 0))
    note[separated] = "left out: no death with or without it (complete separation)"
    included = ~few & ~separated
    res = pd.DataFrame(
        {
            "site": x.columns,
            "n_involved": n_inv.to_numpy(),
            "n_not_involved": (n_met - n_inv).to_numpy(),
            "n_deaths_involved": deaths_inv.to_numpy(),
            "included": included.to_numpy(),
            "hazard_ratio": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p": np.nan,
            "penalizer": np.nan,
            "note": note.to_numpy(),
        }
    )
    if included.any() and death.any():
        cols = list(x.columns[included.to_numpy()])
        df = x[cols].assign(duration_days=fu[met_rows] - t[met_rows], event=death)
        penalizer = 0.0
        try:
            cph, notes = _fit_cox(df, penalizer)
        except ConvergenceError as err:
            penalizer = fallback_penalizer
            cph, notes = _fit_cox(df, penalizer)
            notes.insert(
                0,
                f"unpenalised fit failed ({str(err).split('.')[0]}); "
                f"refitted with L2 penalizer {penalizer:g}",
            )
        s = cph.summary.reindex(cols)
        sel = res["site"].isin(cols).to_numpy()
        res.loc[sel, "hazard_ratio"] = s["exp(coef)"].to_numpy()
        res.loc[sel, "ci_low"] = s["exp(coef) lower 95%"].to_numpy()
        res.loc[sel, "ci_high"] = s["exp(coef) upper 95%"].to_numpy()
        res.loc[sel, "p"] = s["p"].to_numpy()
        res.loc[sel, "penalizer"] = penalizer
        res.loc[sel, "note"] = "; ".join(notes)
    elif included.any():
        res.loc[included.to_numpy(), "note"] = "no death observed: model not fitted"
    res = res.sort_values(
        ["included", "hazard_ratio", "site"],
        ascending=[False, False, True],
        kind="stable",
        na_position="last",
    )
    return res.reset_index(drop=True)


# ------------------------------------------------------------------ summary table


def _row(
    metric: str,
    value: Any,
    unit: str,
    lo: Any = math.nan,
    hi: Any = math.nan,
    reference: str = "",
) -> dict[str, Any]:
    return {
        "metric": metric,
        "value": float(value),
        "unit": unit,
        "ci_low": float(lo),
        "ci_high": float(hi),
        "reference": reference,
    }


def summary_table(
    patients: pd.DataFrame,
    metastases: pd.DataFrame | None = None,
    years: Sequence[float] = (5, 10, 15),
) -> pd.DataFrame:
    """Named cohort figures for comparison with the calibration figures of SCIENCE.md §9.7.

    Shares are in percent. Rows (``metric``):

    - ``n_patients``; ``node_positive`` (%, Wilson CI);
    - ``metastatic_at_diagnosis`` (%, K2);
    - ``distant_metastasis_{y}y`` for each horizon (%, all patients; K1 at ≥ 15 y), see
      :func:`distant_metastasis_share`;
    - ``distant_metastasis_5y_after_m0`` (%, patients not metastatic at diagnosis; K6);
    - ``bone_among_metastatic_at_diagnosis`` (% of de novo metastatic patients with
      ``bone_marrow`` at first detection; K3);
    - ``site_involvement_at_diagnosis_{organ}`` (% of site involvements at diagnosis,
      Wu-style; K4 for bone_marrow, lungs, liver, brain, then any other organ);
    - ``median_os_after_first_metastasis`` and ``median_os_de_novo_metastatic``
      (months; K8 for the latter);
    - ``overall_survival_5y`` (%, Kaplan–Meier);
    - with ``metastases``: ``n_distant_metastases`` and ``n_distant_metastases_detected``.

    Parameters
    ----------
    patients : DataFrame
        The patient table (see the module docstring).
    metastases : DataFrame, optional
        The metastasis table; needs ``is_distant`` and ``detected_day``.
    years : sequence of float, years
        Horizons of the distant-metastasis shares.

    Returns
    -------
    DataFrame
        ``metric``, ``value``, ``unit``, ``ci_low``, ``ci_high`` (95 %, NaN where none)
        and ``reference`` (the SCIENCE.md §9.7 figure compared, if any). Values are NaN
        where undefined (e.g. no metastatic patient).

    Raises
    ------
    ValueError
        A required column is missing (named in the message).
    """
    who = "summary_table"
    _require(
        patients,
        [
            "node_positive",
            "metastatic_at_diagnosis",
            _TTM,
            "sites_at_first_metastasis",
            "death_observed",
            "follow_up_days",
        ],
        "patients",
        who,
    )
    rows: list[dict[str, Any]] = []
    n = len(patients)
    rows.append(_row("n_patients", n, "patients"))
    node = _bool(patients, "node_positive", who)
    p, lo, hi = wilson_interval(node.sum(), n)
    rows.append(_row("node_positive", 100 * p, "%", 100 * lo, 100 * hi))
    de_novo = _bool(patients, "metastatic_at_diagnosis", who)
    p, lo, hi = wilson_interval(de_novo.sum(), n)
    rows.append(
        _row("metastatic_at_diagnosis", 100 * p, "%", 100 * lo, 100 * hi, "K2: 4–8 %")
    )
    dm = distant_metastasis_share(patients, years)
    for r in dm.itertuples():  # a few horizons
        ref = "K1: 15–35 % (lifetime, >= 15 y)" if float(r.year) >= 15 else ""
        rows.append(
            _row(
                f"distant_metastasis_{r.year:g}y",
                100 * r.share,
                "%",
                100 * r.ci_low,
                100 * r.ci_high,
                ref,
            )
        )
    m0 = distant_metastasis_share(patients[~de_novo], (5,)).iloc[0]
    rows.append(
        _row(
            "distant_metastasis_5y_after_m0",
            100 * m0.share,
            "%",
            100 * m0.ci_low,
            100 * m0.ci_high,
            "K6: 6–13 %",
        )
    )
    at_dx = site_involvement(
        patients[de_novo], "first", organs=list(K4_SITE_INVOLVEMENT_SHARES)
    )
    bone = at_dx[at_dx["organ"] == "bone_marrow"].iloc[0]
    rows.append(
        _row(
            "bone_among_metastatic_at_diagnosis",
            100 * bone.share_of_metastatic_patients,
            "%",
            100 * bone.ci_low,
            100 * bone.ci_high,
            "K3: 55–75 %",
        )
    )
    for r in at_dx.itertuples():  # organs, not patients
        lit = K4_SITE_INVOLVEMENT_SHARES.get(r.organ)
        ref = f"K4: {100 * lit:.1f} ± 5 points" if lit is not None else ""
        rows.append(
            _row(
                f"site_involvement_at_diagnosis_{r.organ}",
                100 * r.share_of_site_involvements,
                "%",
                reference=ref,
            )
        )
    curves = survival_curves(patients)
    med = curves.medians.set_index("curve")
    after = med.loc["after_first_metastasis"]
    rows.append(
        _row(
            "median_os_after_first_metastasis",
            after.median_months,
            "months",
            after.ci_low_months,
            after.ci_high_months,
        )
    )
    de_novo_curves = survival_curves(patients[de_novo]).medians.set_index("curve")
    dn = de_novo_curves.loc["overall"]
    rows.append(
        _row(
            "median_os_de_novo_metastatic",
            dn.median_months,
            "months",
            dn.ci_low_months,
            dn.ci_high_months,
            "K8: 19–31 months",
        )
    )
    os5 = curves.at("overall", 5 * DAYS_PER_YEAR).iloc[0]
    rows.append(
        _row(
            "overall_survival_5y",
            100 * os5.survival,
            "%",
            100 * os5.ci_low,
            100 * os5.ci_high,
        )
    )
    if metastases is not None:
        _require(metastases, ["is_distant", "detected_day"], "metastases", who)
        distant = _bool(metastases, "is_distant", who)
        detected = np.isfinite(_float(metastases, "detected_day"))
        rows.append(_row("n_distant_metastases", distant.sum(), "metastases"))
        rows.append(
            _row(
                "n_distant_metastases_detected",
                (distant & detected).sum(),
                "metastases",
            )
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ text output


def _fmt(v: Any, digits: int) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        x = float(v)
        if math.isnan(x):
            return ""
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.{digits}g}"
    return str(v).replace("|", "\\|")


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (NaN printed empty).

    Parameters
    ----------
    table : DataFrame
        Any table, e.g. from :func:`summary_table`.
    digits : int
        Significant digits of floats (integers print as integers).

    Returns
    -------
    str
        Header, separator and one line per row, each ending in a newline.

    Examples
    --------
    >>> print(to_markdown(pd.DataFrame({"metric": ["n"], "value": [3.0]})), end="")
    | metric | value |
    |---|---|
    | n | 3 |
    """
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    body = table.astype(object).to_numpy()
    lines += ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def to_csv_text(table: pd.DataFrame) -> str:
    """A DataFrame as CSV text (header, no index, full float precision)."""
    return str(table.to_csv(index=False, lineterminator="\n"))


__all__ = [
    "CELLS_PER_MM3",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "K3_BONE_SHARE_AT_DIAGNOSIS",
    "K4_SITE_INVOLVEMENT_SHARES",
    "METASTASIS_COLUMNS",
    "PATIENT_COLUMNS",
    "SURVIVAL_CURVES",
    "SurvivalCurves",
    "cox_site_hazard_ratios",
    "distant_metastasis_share",
    "metastasis_counts_per_patient",
    "metastasis_sizes",
    "node_positivity_by_size",
    "site_involvement",
    "site_pairs",
    "site_patterns",
    "summary_table",
    "survival_curves",
    "to_csv_text",
    "to_markdown",
    "wilson_interval",
]
