"""Cohort analysis (issue 4, item 7) on synthetic tables whose answers are known.

Small tables are checked against hand-computed values (Kaplan–Meier steps, site shares,
node shares per bin); larger synthetic cohorts with known laws (exponential survival of
known median, log-additive site hazard ratios) are checked against the truth with a
tolerance taken from the estimate's own standard error.
"""

from __future__ import annotations

import doctest
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _cohort_factory import DAYS_PER_MONTH, DAYS_PER_YEAR, SITE_HR, synthetic_cohort
from scipy.stats import binomtest

from metastroma.body import analysis as an


def _patients(**cols: Any) -> pd.DataFrame:
    """Patients table with defaults for the columns not given (n from the first column)."""
    n = len(next(iter(cols.values())))
    base: dict[str, Any] = {
        "patient_id": np.arange(n, dtype=np.int64),
        "diameter_mm_at_diagnosis": np.full(n, 15.0),
        "node_positive": np.zeros(n, dtype=bool),
        "metastatic_at_diagnosis": np.zeros(n, dtype=bool),
        "time_to_distant_metastasis_days": np.full(n, np.nan),
        "sites_at_first_metastasis": np.full(n, "", dtype=object),
        "sites_ever": np.full(n, "", dtype=object),
        "n_metastases_at_death": np.zeros(n, dtype=np.int64),
        "time_to_death_days": np.full(n, np.nan),
        "death_observed": np.zeros(n, dtype=bool),
        "follow_up_days": np.full(n, 20 * DAYS_PER_YEAR),
    }
    base.update(cols)
    return pd.DataFrame(base)


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_cohort(n=3000, seed=11)


def test_doctests_of_the_module_pass() -> None:
    from metastroma.body import _frames

    attempted = 0
    for module in (an, _frames):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0
        attempted += result.attempted
    assert attempted >= 2


@pytest.mark.parametrize(("k", "n"), [(0, 20), (3, 20), (10, 100), (57, 60), (40, 40)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    p, lo, hi = an.wilson_interval(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert float(p) == k / n
    assert float(lo) == pytest.approx(ci.low, abs=1e-12)
    assert float(hi) == pytest.approx(ci.high, abs=1e-12)


# ------------------------------------------------------------------ metastasis shares


def test_distant_metastasis_share_without_censoring_is_the_plain_fraction() -> None:
    years = np.array([0.0, 2.0, 4.0, 7.0, 12.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    p = _patients(time_to_distant_metastasis_days=years * DAYS_PER_YEAR)
    out = an.distant_metastasis_share(p, years=(5, 10, 15))
    assert list(out["method"]) == ["fraction"] * 3
    assert list(out["n_events"]) == [3, 4, 5]
    np.testing.assert_allclose(out["share"], [0.3, 0.4, 0.5])
    ci = binomtest(3, 10).proportion_ci(method="wilson")
    assert out["ci_low"].iloc[0] == pytest.approx(ci.low)
    assert out["ci_high"].iloc[0] == pytest.approx(ci.high)


def test_distant_metastasis_share_with_early_censoring_is_kaplan_meier() -> None:
    # metastases at 1 y and 3 y; one patient censored metastasis-free at 2 y; two followed
    # 10 y without metastasis. KM: S(1 y) = 4/5, S(3 y) = 4/5 · 2/3 = 8/15.
    y = DAYS_PER_YEAR
    p = _patients(
        time_to_distant_metastasis_days=np.array([1.0, 3.0, np.nan, np.nan, np.nan])
        * y,
        follow_up_days=np.array([10.0, 10.0, 2.0, 10.0, 10.0]) * y,
    )
    out = an.distant_metastasis_share(p, years=(1.5, 5, 20)).set_index("year")
    assert out.loc[1.5, "method"] == "fraction"  # nobody censored before 1.5 y
    assert out.loc[1.5, "share"] == pytest.approx(0.2)
    assert out.loc[5, "method"] == "kaplan_meier"
    assert out.loc[5, "share"] == pytest.approx(1 - 8 / 15)
    assert out.loc[5, "ci_low"] < out.loc[5, "share"] < out.loc[5, "ci_high"]
    assert out.loc[5, "n_censored_before"] == 1
    assert out.loc[20, "method"] == "not_estimable"  # past the last follow-up
    assert math.isnan(out.loc[20, "share"])


def test_distant_metastasis_share_rejects_bad_horizons_and_times() -> None:
    p = _patients(time_to_distant_metastasis_days=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="years must be positive"):
        an.distant_metastasis_share(p, years=(0,))
    late = p.assign(time_to_distant_metastasis_days=[1e9, np.nan])
    with pytest.raises(ValueError, match=r"\[0, follow_up_days\]"):
        an.distant_metastasis_share(late)


# ------------------------------------------------------------------ sites


def test_site_involvement_counts_patients_and_site_pairs() -> None:
    sites = ["bone_marrow;lungs", "bone_marrow", "", "liver;lungs", "", ""]
    p = _patients(sites_ever=np.array(sites, dtype=object))
    out = an.site_involvement(p, "ever", organs=["brain"]).set_index("organ")
    assert list(out.index) == ["bone_marrow", "lungs", "liver", "brain"]
    assert list(out["n_patients"]) == [2, 2, 1, 0]
    np.testing.assert_allclose(
        out["share_of_metastatic_patients"], [2 / 3, 2 / 3, 1 / 3, 0]
    )
    np.testing.assert_allclose(out["share_of_site_involvements"], [0.4, 0.4, 0.2, 0.0])
    assert (out["n_metastatic_patients"] == 3).all()
    assert (out["n_site_involvements"] == 5).all()
    assert out["share_of_site_involvements"].sum() == pytest.approx(1.0)


def test_site_involvement_first_uses_the_first_sites_column() -> None:
    p = _patients(
        sites_ever=np.array(["bone_marrow;liver", "lungs"], dtype=object),
        sites_at_first_metastasis=np.array(["liver", "lungs"], dtype=object),
    )
    out = an.site_involvement(p, "first").set_index("organ")
    assert set(out.index) == {"liver", "lungs"}
    with pytest.raises(ValueError, match="which must be"):
        an.site_involvement(p, "last")  # type: ignore[arg-type]  # the error is tested


def test_site_patterns_are_exclusive_and_pool_the_tail() -> None:
    sites = (
        ["bone_marrow"] * 4 + ["lungs"] * 2 + ["bone_marrow;lungs"] * 3 + ["brain", ""]
    )
    p = _patients(sites_ever=np.array(sites, dtype=object))
    out = an.site_patterns(p, top=2)
    assert list(out["pattern"]) == ["bone_marrow only", "bone_marrow;lungs", "other"]
    assert list(out["n_patients"]) == [4, 3, 3]
    assert list(out["n_sites"]) == [1, 2, 0]
    assert out["share"].sum() == pytest.approx(1.0)
    full = an.site_patterns(p, top=10)
    assert dict(zip(full["pattern"], full["n_patients"], strict=True)) == {
        "bone_marrow only": 4,
        "bone_marrow;lungs": 3,
        "lungs only": 2,
        "brain only": 1,
    }


def test_site_involvement_on_a_cohort_matches_the_generating_probabilities(
    cohort: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    patients, _ = cohort
    out = an.site_involvement(patients, "ever").set_index("organ")
    n_met = int(np.isfinite(patients["time_to_distant_metastasis_days"]).sum())
    assert (out["n_metastatic_patients"] == n_met).all()
    # liver and lungs are drawn independently with p = 0.30 and 0.35
    for organ, prob in (("liver", 0.30), ("lungs", 0.35)):
        se = math.sqrt(prob * (1 - prob) / n_met)
        assert abs(out.loc[organ, "share_of_metastatic_patients"] - prob) < 4 * se


# ------------------------------------------------------------------ node status


def test_node_positivity_by_size_puts_edges_in_the_lower_bin_and_counts() -> None:
    d = np.array([0.0, 10.0, 10.5, 20.0, 35.0, 50.0, 80.0, np.nan])
    pos = np.array([False, True, False, True, True, False, True, True])
    out = an.node_positivity_by_size(
        _patients(diameter_mm_at_diagnosis=d, node_positive=pos)
    )
    assert list(out["bin"]) == ["0–10 mm", "10–20 mm", "20–50 mm", "> 50 mm"]
    assert list(out["n"]) == [2, 2, 2, 1]
    assert list(out["n_positive"]) == [1, 1, 1, 1]
    np.testing.assert_allclose(out["share_positive"], [0.5, 0.5, 0.5, 1.0])


def test_node_positivity_by_size_recovers_known_shares() -> None:
    rng = np.random.default_rng(3)
    truth = np.array([0.1, 0.3, 0.5, 0.8])
    lo, hi = np.array([0.0, 10.0, 20.0, 50.0]), np.array([10.0, 20.0, 50.0, 90.0])
    n_per = 3000
    b = np.repeat(np.arange(4), n_per)
    d = rng.uniform(lo[b] + 1e-6, hi[b])
    pos = rng.random(b.size) < truth[b]
    out = an.node_positivity_by_size(
        _patients(diameter_mm_at_diagnosis=d, node_positive=pos)
    )
    assert list(out["n"]) == [n_per] * 4
    se = np.sqrt(truth * (1 - truth) / n_per)
    assert (np.abs(out["share_positive"] - truth) < 4 * se).all()
    assert ((out["ci_low"] < truth) | (np.abs(out["ci_low"] - truth) < 4 * se)).all()


def test_node_positivity_rejects_unsorted_bins() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        an.node_positivity_by_size(_patients(node_positive=[True]), bins_mm=(0, 20, 10))


# ------------------------------------------------------------------ sizes


def test_metastasis_sizes_per_organ_with_diameters() -> None:
    v = np.pi / 6 * 1e6  # cells in a 1-mm sphere at 10⁶ cells/mm³
    m = pd.DataFrame(
        {
            "patient_id": [1, 1, 2, 3, 3],
            "organ": ["lungs", "lungs", "lungs", "axillary_nodes", "liver"],
            "seeded_day": [-10.0, -5, 3, -100, 20],
            "detected_day": [50.0, np.nan, 80, 0, np.nan],
            "cells_at_end": [v * 8, v * 27, v * 64, v, v * 1000],  # 2, 3, 4, 1, 10 mm
            "is_distant": [True, True, True, False, True],
        }
    )
    out = an.metastasis_sizes(m, quantiles=(0.5,)).set_index("organ")
    assert list(out.index) == ["lungs", "axillary_nodes", "liver"]
    lungs = out.loc["lungs"]
    assert (lungs.n_metastases, lungs.n_patients, lungs.n_detected) == (3, 2, 2)
    assert (lungs.per_patient_mean, lungs.per_patient_max) == (1.5, 2)
    assert lungs.diameter_mm_median == pytest.approx(3.0)
    assert lungs.diameter_mm_q50 == pytest.approx(3.0)
    assert lungs.cells_median == pytest.approx(27 * v)
    assert out.loc["liver", "diameter_mm_median"] == pytest.approx(10.0)
    # at 10⁸ cells/cm³ (10⁵/mm³) the same deposit is 10^(1/3) times wider
    wide = an.metastasis_sizes(m, cells_per_mm3=1e5).set_index("organ")
    assert wide.loc["liver", "diameter_mm_median"] == pytest.approx(10 * 10 ** (1 / 3))
    distant = an.metastasis_sizes(m, distant_only=True, detected_only=True)
    assert list(distant["organ"]) == ["lungs"]
    assert distant["n_metastases"].iloc[0] == 2


def test_metastasis_counts_per_patient_includes_patients_without_any() -> None:
    m = pd.DataFrame(
        {
            "patient_id": [1, 1, 1, 2, 4],
            "is_distant": [True, True, False, True, True],
            "detected_day": [1.0, np.nan, 0.0, 5.0, np.nan],
        }
    )
    out = an.metastasis_counts_per_patient(m, patient_ids=[0, 1, 2, 3, 4])
    assert list(out["n_patients"]) == [2, 2, 1]  # 0 → {0, 3}; 1 → {2, 4}; 2 → {1}
    assert out["share"].sum() == pytest.approx(1.0)
    det = an.metastasis_counts_per_patient(m, patient_ids=range(5), detected_only=True)
    assert list(det["n_patients"]) == [3, 2]
    with pytest.raises(ValueError, match="not in patient_ids"):
        an.metastasis_counts_per_patient(m, patient_ids=[1, 2])


# ------------------------------------------------------------------ survival


def test_kaplan_meier_steps_match_a_hand_computation() -> None:
    # deaths at 10, 30, 30 days; censored at 20 and 40: S = 4/5, then 4/5 · 1/3 at 30
    p = _patients(
        time_to_distant_metastasis_days=np.zeros(5),
        follow_up_days=np.array([10.0, 20.0, 30.0, 30.0, 40.0]),
        death_observed=np.array([True, False, True, True, False]),
        metastatic_at_diagnosis=np.ones(5, dtype=bool),
    )
    res = an.survival_curves(p)
    os_ = res.at("overall", [0.0, 15.0, 25.0, 35.0, 40.0, 41.0])
    np.testing.assert_allclose(
        os_["survival"], [1.0, 0.8, 0.8, 0.8 / 3, 0.8 / 3, np.nan], equal_nan=True
    )
    tab = res.curves[res.curves["curve"] == "overall"].set_index("time_days")
    assert list(tab["n_at_risk"]) == [5, 5, 4, 3, 1]  # at 0, 10, 20, 30, 40 days
    assert res.medians.set_index("curve").loc["overall", "median_days"] == 30.0
    # metastatic at diagnosis: metastasis-free survival drops to 0 at once
    assert res.at("metastasis_free", 0.0)["survival"].iloc[0] == 0.0
    after = res.curves[res.curves["curve"] == "after_first_metastasis"]
    np.testing.assert_allclose(after["survival"], tab["survival"])


def test_km_median_of_exponential_survival_is_recovered() -> None:
    rng = np.random.default_rng(2024)
    n, median_months = 1500, 25.0
    t_met = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 3 * DAYS_PER_YEAR, n))
    death = t_met + rng.exponential(median_months * DAYS_PER_MONTH / math.log(2), n)
    end = t_met + 60 * DAYS_PER_MONTH  # 5 y of follow-up after metastasis
    p = _patients(
        time_to_distant_metastasis_days=t_met,
        follow_up_days=np.minimum(death, end),
        death_observed=death <= end,
        metastatic_at_diagnosis=t_met == 0.0,
    )
    res = an.survival_curves(p).medians.set_index("curve")
    row = res.loc["after_first_metastasis"]
    assert row.n == n
    assert row.ci_low_months < median_months < row.ci_high_months
    se = (row.ci_high_months - row.ci_low_months) / (2 * 1.96)
    assert abs(row.median_months - median_months) < 3 * se
    assert abs(row.median_months - median_months) < 0.1 * median_months


# ------------------------------------------------------------------ Cox by site


def test_cox_hazard_ratios_recover_the_generating_values(
    cohort: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    patients, _ = cohort
    out = an.cox_site_hazard_ratios(patients).set_index("site")
    assert out["included"].all()
    assert set(out.index) == set(SITE_HR)
    assert (out["penalizer"] == 0.0).all()
    for site, hr in SITE_HR.items():  # five sites
        r = out.loc[site]
        se = (math.log(r.ci_high) - math.log(r.ci_low)) / (2 * 1.96)
        assert abs(math.log(r.hazard_ratio) - math.log(hr)) < 3 * se, site
    # ordering of the clear effects: liver and brain worse than lungs, bone protective
    assert out.loc["liver", "hazard_ratio"] > out.loc["lungs", "hazard_ratio"] > 1
    assert out.loc["bone_marrow", "ci_high"] < 1.0


def test_cox_leaves_out_rare_and_separated_sites() -> None:
    rng = np.random.default_rng(5)
    n = 400
    bone = rng.random(n) < 0.5
    rare = np.zeros(n, dtype=bool)
    rare[:5] = True
    immortal = np.zeros(n, dtype=bool)
    immortal[5:40] = True  # nobody with this site dies
    death = rng.exponential(600.0, n)
    end = np.full(n, 3000.0)
    died = (death <= end) & ~immortal
    sites = np.where(bone, "bone_marrow;", "") + np.where(rare, "brain;", "")
    sites = sites + np.where(immortal, "skin;", "")
    sites = np.array([s.rstrip(";") for s in sites], dtype=object)
    p = _patients(
        time_to_distant_metastasis_days=np.zeros(n),
        follow_up_days=np.where(died, death, end),
        death_observed=died,
        sites_ever=sites,
    )
    out = an.cox_site_hazard_ratios(p).set_index("site")
    assert out.loc["bone_marrow", "included"]
    assert math.isfinite(out.loc["bone_marrow", "hazard_ratio"])
    assert not out.loc["brain", "included"]
    assert "fewer than 10" in out.loc["brain", "note"]
    assert not out.loc["skin", "included"]
    assert "separation" in out.loc["skin", "note"]
    assert math.isnan(out.loc["skin", "hazard_ratio"])


def test_cox_refits_with_a_penalty_when_sites_are_collinear() -> None:
    rng = np.random.default_rng(9)
    n = 300
    both = rng.random(n) < 0.4
    death = rng.exponential(np.where(both, 300.0, 600.0))
    end = np.full(n, 2000.0)
    p = _patients(
        time_to_distant_metastasis_days=np.zeros(n),
        follow_up_days=np.minimum(death, end),
        death_observed=death <= end,
        sites_ever=np.where(both, "liver;lungs", "bone_marrow"),
    )
    out = an.cox_site_hazard_ratios(p, fallback_penalizer=0.05).set_index("site")
    assert (out["penalizer"] == 0.05).all()
    assert "refitted with L2 penalizer 0.05" in out["note"].iloc[0]
    assert np.isfinite(out["hazard_ratio"]).all()


# ------------------------------------------------------------------ summary and text


def test_summary_table_agrees_with_the_functions(
    cohort: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    patients, metastases = cohort
    t = an.summary_table(patients, metastases).set_index("metric")
    assert t.loc["n_patients", "value"] == len(patients)
    assert t.loc["metastatic_at_diagnosis", "value"] == pytest.approx(
        100 * patients["metastatic_at_diagnosis"].mean()
    )
    dm = an.distant_metastasis_share(patients).set_index("year")
    assert t.loc["distant_metastasis_15y", "value"] == pytest.approx(
        100 * dm.loc[15, "share"]
    )
    de_novo = patients[patients["metastatic_at_diagnosis"]]
    bone = de_novo["sites_at_first_metastasis"].str.contains("bone_marrow").mean()
    assert t.loc["bone_among_metastatic_at_diagnosis", "value"] == pytest.approx(
        100 * bone
    )
    k4 = [f"site_involvement_at_diagnosis_{o}" for o in an.K4_SITE_INVOLVEMENT_SHARES]
    assert t.loc[k4, "value"].notna().all()
    assert t.loc[
        t.index.str.startswith("site_involvement_at"), "value"
    ].sum() == pytest.approx(100.0)
    med = an.survival_curves(patients).median_months("after_first_metastasis")
    assert t.loc["median_os_after_first_metastasis", "value"] == pytest.approx(med)
    assert t.loc["n_distant_metastases", "value"] == metastases["is_distant"].sum()
    assert t.loc["metastatic_at_diagnosis", "reference"].startswith("K2")
    assert set(t["unit"]) == {"patients", "%", "months", "metastases"}


def test_markdown_and_csv_text_round_trip() -> None:
    table = pd.DataFrame(
        {"metric": ["a|b", "c"], "value": [1.0, 0.123456], "ci_low": [np.nan, 0.1]}
    )
    md = an.to_markdown(table, digits=3)
    lines = md.splitlines()
    assert lines[0] == "| metric | value | ci_low |"
    assert lines[2] == "| a\\|b | 1 |  |"
    assert lines[3] == "| c | 0.123 | 0.1 |"
    back = pd.read_csv(io.StringIO(an.to_csv_text(table)))
    pd.testing.assert_frame_equal(back, table)


# ------------------------------------------------------------------ edge cases


def _empty_patients() -> pd.DataFrame:
    return _patients(patient_id=np.zeros(0, dtype=np.int64)).iloc[:0]


def test_empty_cohort_gives_nan_not_errors() -> None:
    p = _empty_patients()
    dm = an.distant_metastasis_share(p)
    assert dm["share"].isna().all() and (dm["n_patients"] == 0).all()
    assert an.site_involvement(p).empty
    assert an.site_patterns(p).empty
    nodes = an.node_positivity_by_size(p)
    assert (nodes["n"] == 0).all() and nodes["share_positive"].isna().all()
    res = an.survival_curves(p)
    assert res.curves.empty
    assert res.medians["median_days"].isna().all()
    assert res.at("overall", 100.0)["survival"].isna().all()
    assert an.cox_site_hazard_ratios(p).empty
    m = pd.DataFrame({c: pd.Series(dtype=float) for c in an.METASTASIS_COLUMNS})
    assert an.metastasis_sizes(m).empty
    t = an.summary_table(p, m).set_index("metric")
    assert t.loc["n_patients", "value"] == 0
    assert (
        t.drop(
            index=[
                "n_patients",
                "n_distant_metastases",
                "n_distant_metastases_detected",
            ]
        )["value"]
        .isna()
        .all()
    )


def test_cohort_without_metastases() -> None:
    p = _patients(node_positive=np.array([True, False, False, False]))
    dm = an.distant_metastasis_share(p)
    assert (dm["share"] == 0.0).all() and (dm["method"] == "fraction").all()
    assert an.site_involvement(p).empty
    res = an.survival_curves(p)
    assert math.isnan(res.median_months("after_first_metastasis"))
    assert res.medians.set_index("curve").loc["after_first_metastasis", "n"] == 0
    assert an.cox_site_hazard_ratios(p).empty
    t = an.summary_table(p).set_index("metric")
    assert t.loc["node_positive", "value"] == pytest.approx(25.0)
    assert math.isnan(t.loc["bone_among_metastatic_at_diagnosis", "value"])
    assert t.loc["overall_survival_5y", "value"] == pytest.approx(100.0)


def _drop(df: pd.DataFrame, column: str) -> pd.DataFrame:
    return df.drop(columns=[column])


_P = _patients(time_to_distant_metastasis_days=np.array([0.0, np.nan]))
_M = pd.DataFrame(
    {
        "patient_id": [0],
        "organ": ["lungs"],
        "seeded_day": [-1.0],
        "detected_day": [0.0],
        "cells_at_end": [1e8],
        "is_distant": [True],
    }
)


@pytest.mark.parametrize(
    ("call", "column"),
    [
        (
            lambda: an.distant_metastasis_share(_drop(_P, "follow_up_days")),
            "follow_up_days",
        ),
        (lambda: an.site_involvement(_drop(_P, "sites_ever")), "sites_ever"),
        (
            lambda: an.site_patterns(_drop(_P, "sites_at_first_metastasis"), "first"),
            "sites_at_first_metastasis",
        ),
        (
            lambda: an.node_positivity_by_size(_drop(_P, "node_positive")),
            "node_positive",
        ),
        (lambda: an.metastasis_sizes(_drop(_M, "cells_at_end")), "cells_at_end"),
        (
            lambda: an.metastasis_sizes(_drop(_M, "is_distant"), distant_only=True),
            "is_distant",
        ),
        (lambda: an.survival_curves(_drop(_P, "death_observed")), "death_observed"),
        (
            lambda: an.cox_site_hazard_ratios(
                _drop(_P, "time_to_distant_metastasis_days")
            ),
            "time_to_distant_metastasis_days",
        ),
        (
            lambda: an.summary_table(_drop(_P, "metastatic_at_diagnosis")),
            "metastatic_at_diagnosis",
        ),
        (lambda: an.summary_table(_P, _drop(_M, "detected_day")), "detected_day"),
    ],
)
def test_missing_column_is_named(call: Callable[[], object], column: str) -> None:
    with pytest.raises(ValueError, match=f"missing column.*'{column}'"):
        call()


def test_extra_columns_and_index_are_ignored(
    cohort: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    patients, _ = cohort
    shuffled = patients.sample(frac=1.0, random_state=1).set_index(
        "patient_id", drop=False
    )
    a = an.site_involvement(patients).set_index("organ")
    b = an.site_involvement(shuffled.assign(other=1)).set_index("organ")
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
