"""Host-side perturbations at the body scale: ``ddr2.curve_arm`` and the trial's 'host' arm.

SCIENCE.md Table 8.1's body column reads the MSC-null, host-null and no-MSC perturbations
at the link's categorical arm points. The shipped curve file has them; a cohort that names
one multiplies each category's r_intra and m_grow by the arm's values and its f_cl by the
arm's ratio to WT, leaving the cancer cells' ã and every patient draw unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from metastroma.body.cohort import build_plan, simulate_cohort
from metastroma.body.trial import run_trial
from metastroma.config.cohort import CohortScenario
from metastroma.config.trial import TrialConfig
from metastroma.errors import ConfigError
from metastroma.link import (
    default_curve_file,
    interpolate,
    load_cohort,
    prior_curve_file,
    read_curves,
)


def _cohort(arm: str | None, **ddr2: object) -> CohortScenario:
    d = {"curves": str(default_curve_file()), "relative_activity_low": 0.5, **ddr2}
    if arm is not None:
        d["curve_arm"] = arm
    return CohortScenario.model_validate({"seed": 3, "patients": 400, "ddr2": d})


@pytest.mark.parametrize("arm", ["msc_null", "host_null", "no_msc", "host_het"])
def test_arm_values_multiply_each_category(arm: str) -> None:
    curves = read_curves(default_curve_file())
    base = build_plan(_cohort(None), curves)
    plan = build_plan(_cohort(arm), curves)
    q = curves.arms[arm].quantities
    np.testing.assert_allclose(
        plan.intravasation_multiplier,
        base.intravasation_multiplier * q["intravasation_multiplier"].mean,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        plan.growth_multiplier,
        base.growth_multiplier * q["growth_multiplier"].mean,
        rtol=1e-12,
    )
    f_wt = float(interpolate(curves, "cluster_event_fraction", [1.0]).mean[0])
    np.testing.assert_allclose(
        plan.cluster_event_fraction,
        base.cluster_event_fraction * q["cluster_event_fraction"].mean / f_wt,
        rtol=1e-12,
    )
    np.testing.assert_array_equal(plan.relative_activity, base.relative_activity)


def test_host_null_cohort_shares_its_patients_with_wt() -> None:
    curves = read_curves(default_curve_file())
    wt = simulate_cohort(_cohort(None), curves=curves)
    host = simulate_cohort(_cohort("host_null"), curves=curves)
    # the patients' own draws (a diagnosis can move: a metastasis found first)
    same = ["patient_id", "growth_rate", "shedding_multiplier", "death_frailty"]
    pd.testing.assert_frame_equal(wt.patients[same], host.patients[same])
    # the DDR2-null host's primary sheds r_intra(host_null) = 0.94 × as many cells
    # (up to diagnosis, which a metastasis found first can move for a few patients)
    p = wt.plan.anatomy.primary
    day = "days_from_onset_to_diagnosis"
    kept = (wt.patients[day] == host.patients[day]).to_numpy()
    assert kept.mean() > 0.9
    ratio = host.ledger.shed[kept, p] / wt.ledger.shed[kept, p]
    r_arm = curves.arms["host_null"].quantities["intravasation_multiplier"].mean
    np.testing.assert_allclose(ratio, r_arm, rtol=1e-4)
    # and fewer cells are shed in all (secondary seeding falls too)
    assert host.ledger.shed.sum() < r_arm * wt.ledger.shed.sum()


def test_curve_arm_needs_a_curve_file() -> None:
    with pytest.raises(
        ValidationError, match=r"curve_arm = 'host_null'.*set ddr2.curves"
    ):
        CohortScenario.model_validate({"ddr2": {"curve_arm": "host_null"}})
    with pytest.raises(ValidationError, match="curve_arm"):
        _cohort("slie")


def test_a_file_without_the_arm_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "cohort.yaml"
    path.write_text(
        yaml.safe_dump(
            {"ddr2": {"curves": str(prior_curve_file()), "curve_arm": "no_msc"}}
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"ddr2\.curve_arm = 'no_msc': the file has no such arm"
    ):
        load_cohort(path)


def test_trial_host_arm_reads_the_arm() -> None:
    sc = _cohort(None)
    trial = TrialConfig.model_validate(
        {
            "name": "host",
            "cohort": "x.yaml",
            "arms": [
                {"name": "control", "kind": "control"},
                {"name": "slie", "kind": "host", "curve_arm": "host_null"},
            ],
        }
    )
    res = run_trial(trial, sc, read_curves(default_curve_file()))
    arm = res.arms["slie"]
    assert arm.result.scenario.ddr2.curve_arm == "host_null"
    assert "host_null" in arm.label
    assert res.arms["control"].result.scenario.ddr2.curve_arm is None
    with pytest.raises(
        ValidationError, match="curve_arm: not a key of a 'control' arm"
    ):
        TrialConfig.model_validate(
            {
                "name": "bad",
                "cohort": "x.yaml",
                "arms": [{"name": "control", "kind": "control", "curve_arm": "no_msc"}],
            }
        )


def test_trial_file_with_a_host_arm_needs_curves_with_that_arm(tmp_path: Path) -> None:
    from metastroma.config.trial import load_trial

    cohort = tmp_path / "cohort.yaml"
    cohort.write_text(yaml.safe_dump({"patients": 10}), encoding="utf-8")
    trial = tmp_path / "trial.yaml"
    trial.write_text(
        "name: t\n"
        "cohort: cohort.yaml\n"
        "arms:\n"
        "  - {name: control, kind: control}\n"
        "  - {name: slie, kind: host, curve_arm: host_null}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError,
        match=r"^trial\.yaml:5: arms\[1\]\.curve_arm = 'host_null': a 'host' arm reads",
    ):
        load_trial(trial)
    cohort.write_text(
        yaml.safe_dump({"patients": 10, "ddr2": {"curves": str(prior_curve_file())}}),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"has no such arm \(arms: none\)"):
        load_trial(trial)
    cohort.write_text(
        yaml.safe_dump({"patients": 10, "ddr2": {"curves": str(default_curve_file())}}),
        encoding="utf-8",
    )
    assert load_trial(trial).trial.arms[1].curve_arm == "host_null"
