"""Virtual trials on common random numbers: what equals what, and the knockout's effect.

- The control arm is the plain cohort with the same seed (frames equal).
- An inhibitor at dose 0 (activity factor 1) treats everyone and changes no outcome.
- Treatment from the first distant detection cannot change anything up to it: the
  time to the first distant metastasis equals the control's, patient by patient.
- The cancer-cell DDR2 knockout lowers the 10-year distant-metastasis share with a fixed
  seed, significantly: non-overlapping 95 % intervals, MFS hazard ratio < 1 with its CI
  below 1, log-rank and paired McNemar p < 10⁻⁶ (N = 2000: ~400 vs ~210 events).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metastroma.body.cohort import simulate_cohort
from metastroma.body.trial import (
    CRN_NOTE,
    TrialResult,
    analyse_trial,
    arm_scenario,
    run_trial,
)
from metastroma.config.cohort import CohortScenario
from metastroma.config.trial import TrialConfig

SC = CohortScenario.model_validate({"seed": 11, "patients": 2000})
DASATINIB = {"drug": "dasatinib_a", "schedule": {"dose_mg": 70, "interval_h": 12}}
TRIAL = TrialConfig.model_validate(
    {
        "name": "t",
        "cohort": "cohort.yaml",
        "arms": [
            {"name": "control", "kind": "control"},
            {"name": "ko", "kind": "cancer_knockout"},
            {
                "name": "dose0",
                "kind": "inhibitor",
                "inhibitor": {"schedule": {"dose_mg": 0}},
            },
            {
                "name": "relapse",
                "kind": "inhibitor",
                "start": "distant_detection",
                "inhibitor": DASATINIB,
            },
        ],
    }
)
TREATMENT_COLUMNS = ["treatment_start_day", "treatment_stop_day"]


@pytest.fixture(scope="module")
def trial() -> TrialResult:
    return run_trial(TRIAL, SC)


@pytest.fixture(scope="module")
def analysis(trial: TrialResult) -> object:
    return analyse_trial(trial)


def _untreated(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in TREATMENT_COLUMNS if c in df])


def test_control_arm_equals_a_plain_cohort_with_the_same_seed(
    trial: TrialResult,
) -> None:
    plain = simulate_cohort(SC)
    control = trial.arms["control"].result
    assert plain.metastases["is_distant"].sum() > 100  # the cohort has metastases
    pd.testing.assert_frame_equal(
        _untreated(control.patients), _untreated(plain.patients)
    )
    pd.testing.assert_frame_equal(control.metastases, plain.metastases)


def test_every_arm_has_the_same_patients(trial: TrialResult) -> None:
    ids = trial.arms["control"].result.patients["patient_id"].to_numpy()
    for run in trial.arms.values():
        np.testing.assert_array_equal(run.result.patients["patient_id"], ids)
        assert run.result.scenario.seed == SC.seed


def test_an_inhibitor_at_dose_zero_changes_no_outcome(trial: TrialResult) -> None:
    run = trial.arms["dose0"]
    assert run.activity_factor == 1.0
    p = run.result.patients
    assert p["treatment_start_day"].notna().all()  # everyone treated from diagnosis
    control = trial.arms["control"].result
    pd.testing.assert_frame_equal(_untreated(p), _untreated(control.patients))
    pd.testing.assert_frame_equal(run.result.metastases, control.metastases)


def test_treatment_at_relapse_keeps_the_history_up_to_the_detection(
    trial: TrialResult,
) -> None:
    run = trial.arms["relapse"]
    assert 0.0 < run.activity_factor < 1.0
    assert run.ic50_basis == "free"
    p, c = run.result.patients, trial.arms["control"].result.patients
    ttm = "time_to_distant_metastasis_days"
    np.testing.assert_array_equal(p[ttm].to_numpy(), c[ttm].to_numpy())
    treated = p["treatment_start_day"].notna().to_numpy()
    assert treated.sum() > 100
    assert not (treated & p[ttm].isna().to_numpy()).any()  # only relapsed patients
    # the start is the first step end at or after the detection
    lag = p.loc[treated, "treatment_start_day"] - p.loc[treated, ttm]
    assert (lag >= 0).all() and (lag < SC.time_step_days + 1e-9).all()


def test_knockout_lowers_the_ten_year_metastasis_share_significantly(
    analysis: object,
) -> None:
    s = analysis.summary.set_index("arm")  # type: ignore[attr-defined]  # TrialAnalysis
    ctl, ko = s.loc["control"], s.loc["ko"]
    key = "distant_metastasis_10y"
    assert ko[key] < ctl[key]
    assert ko[f"{key}_ci_high"] < ctl[f"{key}_ci_low"]  # intervals apart
    assert ko["hr_mfs"] < 1.0 and ko["hr_mfs_ci_high"] < 1.0
    assert ko["hr_os_ci_high"] < 1.0
    assert ko["logrank_p_mfs"] < 1e-6
    assert ko["paired_mcnemar_p"] < 1e-6
    assert ko["paired_metastatic_reference_only"] > ko["paired_metastatic_arm_only"]


def test_analysis_tables_are_consistent(trial: TrialResult, analysis: object) -> None:
    a = analysis
    s = a.summary.set_index("arm")  # type: ignore[attr-defined]
    assert list(s.index) == ["control", "ko", "dose0", "relapse"]
    assert s.loc["control", "hr_mfs"] == 1.0
    assert math.isnan(s.loc["control", "hr_mfs_ci_low"])
    cmp = a.comparisons  # type: ignore[attr-defined]
    assert set(cmp["arm"]) == {"ko", "dose0", "relapse"}
    d0 = cmp[cmp["arm"] == "dose0"].set_index("endpoint")
    assert d0.loc["mfs", "logrank_p"] == pytest.approx(1.0)
    assert d0.loc["mfs", "hazard_ratio"] == pytest.approx(1.0, abs=1e-6)
    # shares equal the fraction of patients metastatic by 10 years (no early censoring)
    c = trial.arms["control"].result.patients
    frac = (c["time_to_distant_metastasis_days"] <= 10 * 365.25).mean()
    assert s.loc["control", "distant_metastasis_10y"] == pytest.approx(frac)
    sites = a.sites  # type: ignore[attr-defined]
    bone = sites[(sites["arm"] == "control") & (sites["organ"] == "bone_marrow")]
    has_bone = (
        c["sites_ever"].fillna("").str.split(";").map(lambda s: "bone_marrow" in s)
    )
    assert int(bone["n_patients"].iloc[0]) == int(has_bone.sum()) > 0
    paired = a.paired  # type: ignore[attr-defined]
    row = paired[(paired["arm"] == "ko") & paired["outcome"].str.startswith("distant")]
    ko = trial.arms["ko"].result.patients
    h = 10 * 365.25
    ref_only = (c["time_to_distant_metastasis_days"] <= h) & ~(
        ko["time_to_distant_metastasis_days"] <= h
    )
    assert int(row["n_reference_only"].iloc[0]) == int(ref_only.sum())
    assert a.notes[0] == CRN_NOTE  # type: ignore[attr-defined]
    assert any("free plasma" in n for n in a.notes)  # type: ignore[attr-defined]


def test_knockout_and_knockdown_scenarios_change_only_ddr2_activity() -> None:
    ko = TRIAL.arms[1]
    sc = arm_scenario(ko, SC)
    assert (sc.ddr2.relative_activity_high, sc.ddr2.relative_activity_low) == (0, 0)
    assert sc.model_dump(exclude={"ddr2"}) == SC.model_dump(exclude={"ddr2"})
    kd = TrialConfig.model_validate(
        {
            "name": "t",
            "cohort": "c.yaml",
            "arms": [
                {"name": "kd", "kind": "cancer_knockdown", "activity_factor": 0.5}
            ],
            "reference_arm": "kd",
        }
    ).arms[0]
    sc = arm_scenario(kd, SC)
    assert sc.ddr2.relative_activity_high == 0.5 * SC.ddr2.relative_activity_high
    assert sc.ddr2.relative_activity_low == 0.5 * SC.ddr2.relative_activity_low


def test_knockout_reads_the_curve_files_cancer_ko_point() -> None:
    import dataclasses

    from metastroma.link import default_curves
    from metastroma.link.curves import ArmPoint

    curves = dataclasses.replace(
        default_curves(SC.ddr2), arms={"cancer_ko": ArmPoint(x=0.15)}
    )
    sc = SC.model_copy(update={"patients": 200})
    trial = TrialConfig.model_validate(
        {
            "name": "t",
            "cohort": "c.yaml",
            "arms": [
                {"name": "control", "kind": "control"},
                {"name": "ko", "kind": "cancer_knockout"},
            ],
        }
    )
    result = run_trial(trial, sc, curves)
    ko = result.arms["ko"]
    np.testing.assert_array_equal(ko.relative_activity, [0.15, 0.15])
    assert (ko.result.patients["ddr2_relative_activity"] == 0.15).all()
    # r_intra read at 0.15 on the curves: 0.35 + 0.65 × 0.15
    np.testing.assert_allclose(
        ko.result.plan.intravasation_multiplier, 0.35 + 0.65 * 0.15, rtol=1e-12
    )
    assert "ko" in result.arms and result.curves is curves
