"""The calibration figures of SCIENCE.md §9.7 (Table 9.5) measured on a simulated cohort.

:func:`calibration_figures` returns one row per figure: its id (K1 …), what it is, the
target and tolerance of Table 9.5, the value reached with a 95 % confidence interval, and
whether the value lies in the tolerance. docs/body-scale.md lists the figures reached by
the default cohort; ``tests/body/test_calibration.py`` (a validation test) checks them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from metastroma.body.analysis import K4_SITE_INVOLVEMENT_SHARES, wilson_interval
from metastroma.body.anatomy import OrganKind
from metastroma.body.cohort import CohortResult
from metastroma.body.growth import PatientGrowth, diameter_mm_to_cells, time_to_cells

_YEAR = 365.25
_MONTH = 30.4375

#: Wu 2017 site-involvement shares at diagnosis, % (SCIENCE.md K4) [V]/[D].
K4_SHARES = {k: 100.0 * v for k, v in K4_SITE_INVOLVEMENT_SHARES.items()}


def _share(x: np.ndarray) -> tuple[float, float, float]:
    n = int(x.size)
    k = int(np.count_nonzero(x))
    if n == 0:
        return math.nan, math.nan, math.nan
    share, lo, hi = wilson_interval(k, n)
    return 100.0 * float(share), 100.0 * float(lo), 100.0 * float(hi)


def _km(durations: np.ndarray, events: np.ndarray) -> object | None:
    from lifelines import KaplanMeierFitter

    if durations.size < 5:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return KaplanMeierFitter().fit(durations, events)


def calibration_figures(result: CohortResult) -> pd.DataFrame:
    """The §9.7 figures of a cohort, each with target, tolerance, value, CI and a verdict.

    Parameters
    ----------
    result : CohortResult
        A cohort with at least 15 years of follow-up for K1.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``figure``, ``target``, ``low``, ``high`` (tolerance), ``value``,
        ``ci_low``, ``ci_high``, ``unit``, ``within`` (the value lies in the tolerance;
        False when NaN) and ``consistent`` (within, or the 95 % CI overlaps the
        tolerance: figures measured on the few patients metastatic at diagnosis).
    """
    from lifelines.utils import median_survival_times

    p = result.patients
    sc = result.scenario
    ttm = p["time_to_distant_metastasis_days"].to_numpy()
    m1 = p["metastatic_at_diagnosis"].to_numpy()
    rows: list[tuple] = []

    def add(
        fid: str,
        fig: str,
        target: str,
        low: float,
        high: float,
        value: tuple[float, float, float],
        unit: str,
    ) -> None:
        v, lo, hi = value
        within = bool(low <= v <= high)
        consistent = within or bool(lo <= high and hi >= low)
        rows.append((fid, fig, target, low, high, v, lo, hi, unit, within, consistent))

    add("K1", "distant metastasis within 15 y", "≈ 20 % (20–30 %)", 15, 35,
        _share(ttm <= 15 * _YEAR), "%")  # fmt: skip
    add("K2", "de novo stage IV at diagnosis", "5.5–6 %", 4, 8, _share(m1), "%")
    sites_dx = p.loc[m1, "sites_at_first_metastasis"]
    add("K3", "bone among patients metastatic at diagnosis", "65.1 %", 55, 75,
        _share(sites_dx.str.contains("bone_marrow").to_numpy()), "%")  # fmt: skip
    pairs = sites_dx[sites_dx != ""].str.split(";").explode()
    for organ, share in K4_SHARES.items():
        add("K4", f"{organ} share of site involvements at diagnosis", f"{share} %",
            share - 5, share + 5, _share((pairs == organ).to_numpy()), "%")  # fmt: skip
    m0 = ~m1
    add("K6", "distant metastasis within 5 y of surgery (M0 at diagnosis)", "9.2 %", 6,
        13, _share(ttm[m0] <= 5 * _YEAR), "%")  # fmt: skip
    # K7: distant colonies per viable cell that survived the circulation (Coumans' sense)
    plan = result.plan
    an = plan.anatomy
    distant = an.kind == OrganKind.CAPILLARY_BED
    f = plan.found[0][:, an.primary, :]
    sh = sc.shedding
    f_cl = float(plan.cluster_event_fraction[0])  # DDR2-high (ã of the WT reference)
    n_cl = sh.cluster_size_cells
    per_event = (1 - f_cl) + f_cl * n_cl
    w = np.array([(1 - f_cl) / per_event, f_cl * n_cl / per_event])
    p_circ = (
        w[0] * sh.circulation_survival_single + w[1] * sh.circulation_survival_cluster
    )
    circulating = sh.viable_fraction * p_circ
    eff = float(f[:, distant].sum()) / circulating if circulating > 0 else math.nan
    add("K7", "metastases per viable circulating cell × 6 × 10⁷", "1 (1 per 6 × 10⁷)",
        0.1, 10, (eff * 6e7, math.nan, math.nan), "ratio")  # fmt: skip
    # K8, K11: survival of patients metastatic at diagnosis
    km = _km(p.loc[m1, "follow_up_days"].to_numpy() / _MONTH,
             p.loc[m1, "death_observed"].to_numpy())  # fmt: skip
    if km is not None:
        med = float(km.median_survival_time_)  # type: ignore[attr-defined]
        ci = median_survival_times(km.confidence_interval_)  # type: ignore[attr-defined]
        add("K8", "median overall survival, metastatic at diagnosis", "25 months", 19,
            31, (med, float(ci.iloc[0, 0]), float(ci.iloc[0, 1])), "months")  # fmt: skip
        s5 = float(km.predict(60.0))  # type: ignore[attr-defined]
        add("K11", "5-y survival, metastatic at diagnosis", "29–32 %", 20, 40,
            (100 * s5, math.nan, math.nan), "%")  # fmt: skip
    # K12: primary growth, 10 → 20 mm and volume doubling at diagnosis
    g = sc.growth
    rate = p["growth_rate"].to_numpy()
    n = rate.size
    growth = PatientGrowth(
        law=g.law,
        rate=rate,
        initial_cells=np.full(n, g.initial_cells),
        plateau_cells=np.full(n, g.gompertz_plateau_cells),
        power_exponent=g.power_exponent,
    )
    t10 = time_to_cells(growth, float(diameter_mm_to_cells(10.0, g.cells_per_mm3)))
    t20 = time_to_cells(growth, float(diameter_mm_to_cells(20.0, g.cells_per_mm3)))
    years = (t20 - t10) / _YEAR
    mean = float(np.mean(years))
    se = float(np.std(years) / math.sqrt(max(n, 1)))
    add("K12", "mean time from 10 to 20 mm", "1.7 y", 1.3, 2.1,
        (mean, mean - 1.96 * se, mean + 1.96 * se), "years")  # fmt: skip
    cells_dx = p["primary_cells_at_diagnosis"].to_numpy()
    if g.law == "gompertz":
        spec = rate * np.log(g.gompertz_plateau_cells / cells_dx)
    elif g.law == "exponential":
        spec = rate
    else:
        spec = rate * cells_dx ** (g.power_exponent - 1.0)
    doubling = math.log(2.0) / spec  # volume doubling, days
    add("K12", "median volume doubling time at diagnosis", "164 d (66–521)", 90, 210,
        (float(np.median(doubling)), math.nan, math.nan), "days")  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["id", "figure", "target", "low", "high", "value", "ci_low", "ci_high",
                 "unit", "within", "consistent"],
    )  # fmt: skip


__all__ = ["K4_SHARES", "calibration_figures"]
