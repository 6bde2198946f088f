"""Virtual trials: arms of one cohort on the same patients, and their comparison.

A trial (:class:`~metastroma.config.trial.TrialConfig`) runs every arm on the cohort
scenario's seed and patient ids, so patient k is the same virtual woman in every arm
(**common random numbers**, CRN): same primary growth, same detection diameter, same
frailty, same draws, until the arm's treatment changes her rates (SCIENCE.md §10.2). The
arms (SCIENCE.md §8):

- ``control``: the cohort as given (:func:`~metastroma.body.cohort.simulate_cohort`);
- ``cancer_knockout``: both DDR2 categories at the knockout ã (the response-curve file's
  ``cancer_ko`` arm, else 0), whose r_intra, f_cl and m_grow then apply from the first
  cell (Table 8.1);
- ``cancer_knockdown``: both categories' ã × the knockdown's activity factor;
- ``inhibitor``: a :class:`~metastroma.body.therapy.CohortTherapy` whose activity factor
  is the drug's steady-state mean DDR2 activity on treatment
  (:func:`~metastroma.body.therapy.inhibitor_activity_factor`, §8.3–§8.4).

:func:`analyse_trial` compares each arm with the reference arm:

- the share of patients with a detected distant metastasis at each horizon, with its 95 %
  interval (:func:`~metastroma.body.survival.distant_metastasis_share`);
- distant sites (share of all patients with each organ ever involved, Wilson 95 %);
- metastases per metastatic patient and the median diameter of detected distant
  metastases at the end;
- Kaplan–Meier metastasis-free (MFS) and overall survival (OS) from diagnosis with 95 %
  bands and medians; the log-rank test and the Cox hazard ratio (95 % CI) of the arm vs
  the reference, fitted on the two arms stacked (lifelines);
- the **paired view** that CRN makes cheap: patients metastatic (or dead) by the last
  horizon in the reference but not in the arm, and vice versa, with the exact McNemar
  test on these discordant pairs.

The log-rank test and the Cox model treat the arms as independent samples. With CRN they
are positively correlated, which makes the arm-to-arm difference less noisy than these
tests assume: their p-values and intervals are **conservative**. The paired view is the
matched analysis.

Nothing here reads or writes files (DESIGN.md); :mod:`metastroma.store.trial` writes a
trial directory.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metastroma.body._frames import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    site_pairs,
    wilson_interval,
)
from metastroma.body.cohort import CohortResult, simulate_cohort
from metastroma.body.survival import distant_metastasis_share, survival_curves
from metastroma.config.cohort import CohortScenario
from metastroma.config.trial import ArmConfig, TrialConfig, knockout_activity
from metastroma.link import ResponseCurves

__all__ = [
    "CRN_NOTE",
    "ENDPOINTS",
    "ArmRun",
    "TrialAnalysis",
    "TrialResult",
    "analyse_trial",
    "arm_scenario",
    "run_trial",
]

#: Survival endpoints compared: short name → (curve of survival_curves, description).
ENDPOINTS = {
    "mfs": ("metastasis_free", "distant-metastasis-free survival"),
    "os": ("overall", "overall survival"),
}

#: The common-random-numbers caveat, written into every trial output.
CRN_NOTE = (
    "All arms simulate the same virtual patients (same seed and patient ids: common "
    "random numbers), so the arms are positively correlated. The log-rank tests and Cox "
    "hazard ratios treat them as independent samples, which makes their p-values and "
    "intervals conservative; the paired columns (patients whose outcome differs between "
    "the arm and the reference, with the exact McNemar test) are the matched analysis."
)


@dataclass(frozen=True)
class ArmRun:
    """One simulated arm.

    Attributes
    ----------
    config : ArmConfig
    result : CohortResult
    relative_activity : (2,) float64
        ã of the DDR2-high and DDR2-low categories off treatment in this arm.
    activity_factor : float
        On-treatment ã multiplier (inhibitor arms; knockdown: the knockdown factor;
        NaN for control and knockout).
    ic50_basis : str
        'free' or 'total' for inhibitor arms (SCIENCE.md §8.4), '' otherwise.
    mean_occupancy : float
        Time-mean receptor blockade θ_I on treatment (inhibitor arms; NaN otherwise).
    label : str
        What the arm does, in words.
    """

    config: ArmConfig
    result: CohortResult
    relative_activity: np.ndarray
    activity_factor: float = math.nan
    ic50_basis: str = ""
    mean_occupancy: float = math.nan
    label: str = ""


@dataclass(frozen=True)
class TrialResult:
    """Every arm of a trial, simulated on the same patients.

    Attributes
    ----------
    trial : TrialConfig
    scenario : CohortScenario
        The control cohort (its seed and patients are every arm's).
    arms : dict of str to ArmRun
        In the trial file's order.
    curves : ResponseCurves or None
    """

    trial: TrialConfig
    scenario: CohortScenario
    arms: dict[str, ArmRun]
    curves: ResponseCurves | None = None


def _with_activities(sc: CohortScenario, high: float, low: float) -> CohortScenario:
    ddr2 = type(sc.ddr2).model_validate(
        {
            **sc.ddr2.model_dump(),
            "relative_activity_high": high,
            "relative_activity_low": low,
        }
    )
    return sc.model_copy(update={"ddr2": ddr2})


def arm_scenario(
    arm: ArmConfig, sc: CohortScenario, curves: ResponseCurves | None = None
) -> CohortScenario:
    """The cohort scenario an arm runs (same seed and patients; only DDR2 ã may differ).

    Parameters
    ----------
    arm : ArmConfig
    sc : CohortScenario
        The control cohort.
    curves : ResponseCurves, optional
        The cohort's response curves (their ``cancer_ko`` arm sets the knockout ã).

    Returns
    -------
    CohortScenario
        ``sc`` itself for control and inhibitor arms (the inhibitor acts on treatment
        only); the knockout or knockdown ã in both categories; for a host arm,
        ``ddr2.curve_arm`` set to the arm's ``curve_arm``.
    """
    d = sc.ddr2
    if arm.kind == "cancer_knockout":
        x = knockout_activity(curves)
        return _with_activities(sc, x, x)
    if arm.kind == "cancer_knockdown":
        f = arm.activity_factor
        return _with_activities(
            sc, d.relative_activity_high * f, d.relative_activity_low * f
        )
    if arm.kind == "host":
        if d.curves is None:
            raise ValueError(
                f"a 'host' arm reads the curve file's {arm.curve_arm!r} arm: the cohort "
                "scenario needs ddr2.curves (e.g. the shipped default, docs/link.md)"
            )
        ddr2 = type(d).model_validate({**d.model_dump(), "curve_arm": arm.curve_arm})
        return sc.model_copy(update={"ddr2": ddr2})
    return sc


def _inhibitor_label(arm: ArmConfig) -> str:
    inh = arm.inhibitor
    s = inh.schedule
    drug = inh.drug if isinstance(inh.drug, str) else inh.drug.name
    when = "from diagnosis" if arm.start == "diagnosis" else "from distant detection"
    if arm.delay_days:
        when += f" + {arm.delay_days:g} d"
    dur = (
        f", {arm.duration_days:g} d" if arm.duration_days is not None else ", until end"
    )
    return (
        f"{drug} {s.dose_mg:g} mg every {s.interval_h:g} h {when}{dur} "
        f"(IC50 basis {inh.pd.ic50_basis})"
    )


def _run_arm(
    arm: ArmConfig,
    sc: CohortScenario,
    curves: ResponseCurves | None,
    progress: Callable[[int], None] | None,
) -> ArmRun:
    arm_sc = arm_scenario(arm, sc, curves)
    acts = np.array(
        [arm_sc.ddr2.relative_activity_high, arm_sc.ddr2.relative_activity_low]
    )
    if arm.kind == "inhibitor":
        from metastroma.body.therapy import CohortTherapy, inhibitor_activity_factor

        af = inhibitor_activity_factor(arm.inhibitor)
        therapy = CohortTherapy(
            activity_factor=float(af.factor),
            start=arm.start,
            delay_days=arm.delay_days,
            duration_days=(
                math.inf if arm.duration_days is None else arm.duration_days
            ),
            label=arm.name,
        )
        result = simulate_cohort(
            arm_sc, progress=progress, curves=curves, therapy=therapy
        )
        return ArmRun(
            config=arm,
            result=result,
            relative_activity=acts,
            activity_factor=float(af.factor),
            ic50_basis=str(af.basis),
            mean_occupancy=float(af.mean_occupancy),
            label=_inhibitor_label(arm),
        )
    result = simulate_cohort(arm_sc, progress=progress, curves=curves)
    if arm.kind == "cancer_knockout":
        label = f"DDR2 knocked out in cancer cells (ã = {acts[0]:g})"
        factor = math.nan
    elif arm.kind == "cancer_knockdown":
        label = f"DDR2 knocked down in cancer cells (ã × {arm.activity_factor:g})"
        factor = arm.activity_factor
    elif arm.kind == "host":
        label = f"host perturbation at the curve file's {arm.curve_arm!r} arm"
        factor = math.nan
    else:
        label, factor = "untreated", math.nan
    return ArmRun(
        config=arm,
        result=result,
        relative_activity=acts,
        activity_factor=factor,
        label=label,
    )


def run_trial(
    trial: TrialConfig,
    sc: CohortScenario,
    curves: ResponseCurves | None = None,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> TrialResult:
    """Simulate every arm of a trial on the same patients (common random numbers).

    Parameters
    ----------
    trial : TrialConfig
    sc : CohortScenario
        The control cohort; its ``seed`` and ``patients`` are every arm's (the trial's
        ``patients`` is applied by :func:`metastroma.config.trial.load_trial`).
    curves : ResponseCurves, optional
        The cohort's response curves (required when ``sc.ddr2.curves`` is set).
    progress : callable, optional
        Called with the arm's name and the number of its patients finished, after each
        chunk.

    Returns
    -------
    TrialResult

    Raises
    ------
    ValueError
        From :func:`~metastroma.body.cohort.simulate_cohort` (e.g. an arm's ã outside the
        curves' grid).
    """
    arms: dict[str, ArmRun] = {}
    for arm in trial.arms:  # a few arms, each vectorised over patients
        cb = None
        if progress is not None:
            name = arm.name

            def cb(n: int, _name: str = name) -> None:
                progress(_name, n)

        try:
            arms[arm.name] = _run_arm(arm, sc, curves, cb)
        except ValueError as err:
            raise ValueError(f"arm {arm.name!r}: {err}") from err
    return TrialResult(trial=trial, scenario=sc, arms=arms, curves=curves)


# ------------------------------------------------------------------ analysis


@dataclass(frozen=True)
class TrialAnalysis:
    """Tables comparing the arms of a trial.

    Attributes
    ----------
    summary : DataFrame
        One row per arm (columns in docs/trials.md): ``arm``, ``kind``, ``label``,
        ``n_patients``, ``distant_metastasis_{h}y`` with ``_ci_low``/``_ci_high`` (shares
        in [0, 1]) per horizon h, ``median_{mfs,os}_months`` with CIs, ``hr_{mfs,os}``
        with ``_ci_low``/``_ci_high``, ``logrank_p_{mfs,os}``, ``n_metastatic``,
        ``mean_metastases_per_metastatic_patient``, ``median_metastasis_diameter_mm``,
        ``relative_activity_high``/``_low``, ``activity_factor``, ``ic50_basis``,
        ``mean_occupancy``, ``n_treated``, and the paired counts ``paired_*``.
    shares : DataFrame
        One row per arm and horizon: ``arm``, ``year``, ``share``, ``ci_low``,
        ``ci_high``, ``method``, ``n_patients``, ``n_events``.
    sites : DataFrame
        One row per arm and distant organ: ``arm``, ``organ``, ``n_patients`` (with it
        ever involved), ``share_of_patients`` (of all the arm's patients) with Wilson
        ``ci_low``/``ci_high``, ``share_of_metastatic_patients``.
    survival : DataFrame
        Tidy Kaplan–Meier curves: ``arm``, ``endpoint`` ('mfs', 'os'), ``time_days``,
        ``time_months``, ``survival``, ``ci_low``, ``ci_high``, ``n_at_risk``.
    comparisons : DataFrame
        One row per non-reference arm and endpoint: ``arm``, ``reference``,
        ``endpoint``, ``hazard_ratio``, ``hr_ci_low``, ``hr_ci_high``, ``cox_p``,
        ``logrank_statistic``, ``logrank_p``, ``n_events_arm``, ``n_events_reference``,
        ``note`` (lifelines convergence warnings, if any).
    paired : DataFrame
        One row per non-reference arm and outcome ('distant metastasis by {h} y' at the
        last horizon, 'death by end of follow-up'): ``arm``, ``reference``,
        ``outcome``, ``n_both``, ``n_reference_only``, ``n_arm_only``, ``n_neither``,
        ``mcnemar_p`` (exact, two-sided).
    notes : tuple of str
        The CRN caveat and the inhibitor arms' IC50 basis.
    """

    summary: pd.DataFrame
    shares: pd.DataFrame
    sites: pd.DataFrame
    survival: pd.DataFrame
    comparisons: pd.DataFrame
    paired: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


def _durations(patients: pd.DataFrame, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """(duration_days, event) of an endpoint from diagnosis (as survival_curves)."""
    fu = patients["follow_up_days"].to_numpy(dtype=np.float64)
    if endpoint == "os":
        return fu, patients["death_observed"].to_numpy(dtype=bool)
    t = patients["time_to_distant_metastasis_days"].to_numpy(dtype=np.float64)
    has = np.isfinite(t)
    return np.where(has, t, fu), has


def _compare(
    arm: pd.DataFrame, ref: pd.DataFrame, endpoint: str
) -> dict[str, float | int | str]:
    """Log-rank test and Cox hazard ratio of ``arm`` vs ``ref`` for one endpoint."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning
    from lifelines.statistics import logrank_test

    da, ea = _durations(arm, endpoint)
    dr, er = _durations(ref, endpoint)
    row: dict[str, float | int | str] = {
        "hazard_ratio": math.nan,
        "hr_ci_low": math.nan,
        "hr_ci_high": math.nan,
        "cox_p": math.nan,
        "logrank_statistic": math.nan,
        "logrank_p": math.nan,
        "n_events_arm": int(ea.sum()),
        "n_events_reference": int(er.sum()),
        "note": "",
    }
    if ea.sum() + er.sum() == 0:
        row["note"] = "no events in either arm"
        return row
    lr = logrank_test(da, dr, event_observed_A=ea, event_observed_B=er)
    row["logrank_statistic"] = float(lr.test_statistic)
    row["logrank_p"] = float(lr.p_value)
    if ea.sum() == 0 or er.sum() == 0:
        row["note"] = "no events in one arm: hazard ratio not estimable"
        return row
    df = pd.DataFrame(
        {
            "duration_days": np.concatenate([da, dr]),
            "event": np.concatenate([ea, er]),
            "in_arm": np.concatenate([np.ones(da.size), np.zeros(dr.size)]),
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        cph = CoxPHFitter().fit(df, duration_col="duration_days", event_col="event")
    notes = []
    for w in caught:  # warnings, not patients
        if issubclass(w.category, ConvergenceWarning):
            notes.append(" ".join(str(w.message).split()))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    s = cph.summary.loc["in_arm"]
    row.update(
        hazard_ratio=float(s["exp(coef)"]),
        hr_ci_low=float(s["exp(coef) lower 95%"]),
        hr_ci_high=float(s["exp(coef) upper 95%"]),
        cox_p=float(s["p"]),
        note="; ".join(notes),
    )
    return row


def _mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for b and c discordant pairs."""
    if b + c == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(b, b + c, 0.5).pvalue)


def _paired(arm: pd.DataFrame, ref: pd.DataFrame, year: float) -> list[dict[str, Any]]:
    """Discordant pairs of the arm vs the reference (same patient ids, same order)."""
    ids_a = arm["patient_id"].to_numpy()
    ids_r = ref["patient_id"].to_numpy()
    if not np.array_equal(ids_a, ids_r):
        raise ValueError("paired comparison: the arms do not hold the same patients")
    h = year * DAYS_PER_YEAR
    outcomes = {
        f"distant metastasis by {year:g} y": (
            arm["time_to_distant_metastasis_days"].to_numpy() <= h,
            ref["time_to_distant_metastasis_days"].to_numpy() <= h,
        ),
        "death by end of follow-up": (
            arm["death_observed"].to_numpy(dtype=bool),
            ref["death_observed"].to_numpy(dtype=bool),
        ),
    }
    rows = []
    for outcome, (a, r) in outcomes.items():  # two outcomes
        b = int((r & ~a).sum())
        c = int((a & ~r).sum())
        rows.append(
            {
                "outcome": outcome,
                "n_both": int((a & r).sum()),
                "n_reference_only": b,
                "n_arm_only": c,
                "n_neither": int((~a & ~r).sum()),
                "mcnemar_p": _mcnemar_p(b, c),
            }
        )
    return rows


def _site_rows(patients: pd.DataFrame, organs: list[str]) -> pd.DataFrame:
    """Share of all patients with each distant organ ever involved (Wilson 95 %)."""
    pairs = site_pairs(patients["sites_ever"])
    n = len(patients)
    n_met = int(pairs["row"].nunique())
    counts = pairs.groupby("organ").size()
    k = counts.reindex(organs, fill_value=0).to_numpy(dtype=np.int64)
    share, lo, hi = wilson_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        of_met = k / np.float64(n_met)
    return pd.DataFrame(
        {
            "organ": organs,
            "n_patients": k,
            "share_of_patients": share,
            "ci_low": lo,
            "ci_high": hi,
            "share_of_metastatic_patients": of_met,
            "n_arm_patients": np.full(k.size, n, dtype=np.int64),
        }
    )


def _distant_organs(result: TrialResult) -> list[str]:
    from metastroma.body.anatomy import OrganKind

    an = next(iter(result.arms.values())).result.plan.anatomy
    return [
        name
        for name, kind in zip(an.names, an.kind, strict=True)
        if kind == OrganKind.CAPILLARY_BED
    ]


def analyse_trial(result: TrialResult) -> TrialAnalysis:
    """Compare every arm with the reference arm (see the module docstring).

    Parameters
    ----------
    result : TrialResult

    Returns
    -------
    TrialAnalysis
    """
    trial = result.trial
    ref_name = trial.reference_arm
    ref = result.arms[ref_name].result.patients
    years = list(trial.horizons_years)
    organs = _distant_organs(result)
    shares, sites, survival, comparisons, paired, summary = [], [], [], [], [], []
    for name, run in result.arms.items():  # a few arms
        p, m = run.result.patients, run.result.metastases
        row: dict[str, Any] = {
            "arm": name,
            "kind": run.config.kind,
            "label": run.label,
            "n_patients": len(p),
        }
        sh = distant_metastasis_share(p, years)
        shares.append(sh.assign(arm=name))
        for _, s in sh.iterrows():  # horizons
            key = f"distant_metastasis_{s['year']:g}y"
            row[key] = s["share"]
            row[f"{key}_ci_low"] = s["ci_low"]
            row[f"{key}_ci_high"] = s["ci_high"]
        sv = survival_curves(p)
        for ep, (curve, _) in ENDPOINTS.items():  # two endpoints
            c = sv.curves[sv.curves["curve"] == curve].drop(columns="curve")
            survival.append(c.assign(arm=name, endpoint=ep))
            med = sv.medians[sv.medians["curve"] == curve].iloc[0]
            row[f"median_{ep}_months"] = med["median_months"]
            row[f"median_{ep}_months_ci_low"] = med["ci_low_months"]
            row[f"median_{ep}_months_ci_high"] = med["ci_high_months"]
        for ep in ENDPOINTS:
            if name == ref_name:
                cmp_row: dict[str, Any] = {
                    "hazard_ratio": 1.0,
                    "hr_ci_low": math.nan,
                    "hr_ci_high": math.nan,
                    "logrank_p": math.nan,
                }
            else:
                cmp_row = _compare(p, ref, ep)
                comparisons.append(
                    {"arm": name, "reference": ref_name, "endpoint": ep, **cmp_row}
                )
            row[f"hr_{ep}"] = cmp_row["hazard_ratio"]
            row[f"hr_{ep}_ci_low"] = cmp_row["hr_ci_low"]
            row[f"hr_{ep}_ci_high"] = cmp_row["hr_ci_high"]
            row[f"logrank_p_{ep}"] = cmp_row["logrank_p"]
        has = p["time_to_distant_metastasis_days"].notna().to_numpy()
        row["n_metastatic"] = int(has.sum())
        n_met = p["n_metastases_at_death"].to_numpy()[has]
        row["mean_metastases_per_metastatic_patient"] = (
            float(n_met.mean()) if n_met.size else math.nan
        )
        det = m[m["is_distant"].to_numpy(dtype=bool) & m["detected_day"].notna()]
        row["n_detected_distant_metastases"] = len(det)
        row["median_metastasis_diameter_mm"] = (
            float(det["diameter_mm_at_end"].median()) if len(det) else math.nan
        )
        row["relative_activity_high"] = float(run.relative_activity[0])
        row["relative_activity_low"] = float(run.relative_activity[1])
        row["activity_factor"] = run.activity_factor
        row["ic50_basis"] = run.ic50_basis
        row["mean_occupancy"] = run.mean_occupancy
        start = p.get("treatment_start_day")
        row["n_treated"] = int(start.notna().sum()) if start is not None else 0
        sites.append(_site_rows(p, organs).assign(arm=name))
        pair_rows = [] if name == ref_name else _paired(p, ref, years[-1])
        for pr in pair_rows:
            paired.append({"arm": name, "reference": ref_name, **pr})
        if pair_rows:
            met = pair_rows[0]
            row["paired_metastatic_reference_only"] = met["n_reference_only"]
            row["paired_metastatic_arm_only"] = met["n_arm_only"]
            row["paired_mcnemar_p"] = met["mcnemar_p"]
        else:
            row["paired_metastatic_reference_only"] = 0
            row["paired_metastatic_arm_only"] = 0
            row["paired_mcnemar_p"] = math.nan
        summary.append(row)

    def first(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        return df[cols + [c for c in df.columns if c not in cols]]

    surv = pd.concat(survival, ignore_index=True)
    surv["time_months"] = surv["time_days"] / DAYS_PER_MONTH
    notes = [CRN_NOTE]
    for name, run in result.arms.items():  # a few arms
        if run.ic50_basis:
            notes.append(
                f"arm {name}: IC50 compared with the {run.ic50_basis} plasma "
                f"concentration (SCIENCE.md §8.4); on-treatment DDR2 activity factor "
                f"{run.activity_factor:.4f}, mean receptor blockade "
                f"{run.mean_occupancy:.4f}"
            )
    cmp_cols = [
        "arm",
        "reference",
        "endpoint",
        "hazard_ratio",
        "hr_ci_low",
        "hr_ci_high",
        "cox_p",
        "logrank_statistic",
        "logrank_p",
        "n_events_arm",
        "n_events_reference",
        "note",
    ]
    pair_cols = [
        "arm",
        "reference",
        "outcome",
        "n_both",
        "n_reference_only",
        "n_arm_only",
        "n_neither",
        "mcnemar_p",
    ]
    return TrialAnalysis(
        summary=pd.DataFrame(summary),
        shares=first(pd.concat(shares, ignore_index=True), ["arm"]),
        sites=first(pd.concat(sites, ignore_index=True), ["arm"]),
        survival=first(surv, ["arm", "endpoint"]),
        comparisons=pd.DataFrame(comparisons, columns=cmp_cols),
        paired=pd.DataFrame(paired, columns=pair_cols),
        notes=tuple(notes),
    )
