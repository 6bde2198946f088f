"""The mouse dasatinib preset and dosing by target exposure (SCIENCE.md Table 8.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from metastroma.config.therapy import (
    DrugConfig,
    InhibitorConfig,
    dose_for_exposure_ratio,
)
from metastroma.therapy.pd import steady_state_exposure
from metastroma.therapy.pk import single_dose_summary


def test_mouse_preset_matches_the_published_mouse_pk() -> None:
    drug = DrugConfig.preset("dasatinib_mouse")
    s = single_dose_summary(drug, 0.25)  # 10 mg/kg in a 25-g mouse
    assert s.cmax_ng_per_ml == pytest.approx(370.0, rel=0.01)  # 0.37 mg/L [V]
    assert s.half_life_h == pytest.approx(0.93, rel=1e-9)
    assert s.clearance_l_per_h == pytest.approx(10.4 * 0.025, rel=1e-9)  # L/h/kg × kg
    # AUC0-6 of a one-compartment fit to Cmax and CL: 8 % below the observed 1.02 mg·h/L
    assert s.auc_ng_h_per_ml / 1000.0 == pytest.approx(0.96, abs=0.01)


@pytest.mark.parametrize("basis", ["free", "total"])
@pytest.mark.parametrize("ratio", [0.5, 3.0])
def test_target_ratio_gives_that_mean_exposure(basis: str, ratio: float) -> None:
    inh = InhibitorConfig(
        drug="generic_ddr2",
        target_exposure_ratio=ratio,
        schedule={"interval_h": 12.0},
        pd={"ic50_basis": basis, "penetration": 0.5},
    )
    drug = inh.drug_config
    t = np.linspace(0.0, 12.0, 200_001)
    e = steady_state_exposure(drug, inh.pd, inh.schedule.dose_mg, 12.0, t)
    mean = np.trapezoid(e.c_nmol_per_l, t) / 12.0
    assert mean / drug.ic50_nmol_per_l == pytest.approx(ratio, rel=1e-6)


def test_target_ratio_dose_is_linear_and_survives_a_round_trip() -> None:
    drug, pd_default = DrugConfig.preset("dasatinib_a"), InhibitorConfig().pd
    d1 = dose_for_exposure_ratio(drug, pd_default, 1.0, 24.0)
    assert dose_for_exposure_ratio(drug, pd_default, 2.0, 24.0) == pytest.approx(2 * d1)
    # free basis, f_u = 0.04: C_avg,total = 1.4 nM × 488/10³ / 0.04 = 17.08 ng/mL
    assert d1 == pytest.approx(17.08 * drug.clearance_l_per_h * 24.0 / 1e3, rel=1e-9)
    inh = InhibitorConfig(target_exposure_ratio=1.0)
    again = InhibitorConfig.model_validate(inh.model_dump())  # resolved config re-read
    assert math.isclose(again.schedule.dose_mg, inh.schedule.dose_mg)


def test_target_ratio_and_a_different_dose_are_refused() -> None:
    with pytest.raises(ValidationError, match="give one"):
        InhibitorConfig(target_exposure_ratio=2.0, schedule={"dose_mg": 100.0})
    with pytest.raises(ValidationError, match="greater than 0"):
        InhibitorConfig(target_exposure_ratio=0.0)
