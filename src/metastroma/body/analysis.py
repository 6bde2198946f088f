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
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from metastroma.body._frames import (
    _SITE_COLUMN,
    _TTM,
    CELLS_PER_MM3,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    K3_BONE_SHARE_AT_DIAGNOSIS,
    K4_SITE_INVOLVEMENT_SHARES,
    METASTASIS_COLUMNS,
    PATIENT_COLUMNS,
    SURVIVAL_CURVES,
    _bool,
    _float,
    _require,
    site_pairs,
    wilson_interval,
)
from metastroma.body.growth import cells_to_diameter_mm
from metastroma.body.survival import (
    SurvivalCurves,
    cox_site_hazard_ratios,
    distant_metastasis_share,
    survival_curves,
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
