"""Survival of a virtual cohort (lifelines).

Kaplan–Meier curves, metastasis shares over time and Cox hazard ratios by site; the table
schema and conventions are in :mod:`metastroma.body.analysis`, which re-exports these.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metastroma._typing import BoolArray, F64Array
from metastroma.body._frames import (
    _TTM,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    SURVIVAL_CURVES,
    _bool,
    _follow_up,
    _metastasis_time,
    _require,
    site_pairs,
    wilson_interval,
)

if TYPE_CHECKING:  # pragma: no cover
    from lifelines import CoxPHFitter

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


__all__ = [
    "SurvivalCurves",
    "cox_site_hazard_ratios",
    "distant_metastasis_share",
    "survival_curves",
]
