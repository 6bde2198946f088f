"""Genetic perturbations (SCIENCE.md §8.1, Table 8.1) and inhibitor phases in tissue scenarios.

Reference inputs (STYLE.md §7 level 1): each perturbation applied to the shipped wild-type
scenario reproduces the shipped arm scenario after validation (all keys but name and
description), so the function and the files cannot drift apart. Then what each arm must
and must not change, clashes, and the inhibitor's phases written into ``ddr2.inhibitor``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from metastroma.config import Scenario, scenario_from_dict
from metastroma.config.therapy import (
    InhibitorConfig,
    KnockoutConfig,
    PerturbationConfig,
    ScheduleConfig,
)
from metastroma.therapy import (
    apply_inhibitor_to_tissue,
    apply_to_tissue,
    tissue_inhibitor_phases,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def raw(name: str) -> dict[str, Any]:
    data = yaml.safe_load((SCENARIOS / name).read_text())
    assert isinstance(data, dict)
    return data


def validated(data: dict[str, Any]) -> Scenario:
    return scenario_from_dict(data, source="<test>")


def body(sc: Scenario) -> dict[str, Any]:
    """Everything a run depends on: the scenario without its name and description."""
    return sc.model_dump(exclude={"name", "description"})


WT = "ddr2_wt_msc_2d.yaml"

#: perturbation kind → the shipped scenario that expresses that arm of Table 8.1
ARMS = [
    ("none", WT),
    ("heterozygote", WT),
    ("cancer_knockout", "ddr2_cancer_ko_msc_2d.yaml"),
    ("cancer_knockdown", "ddr2_knockdown_msc_2d.yaml"),
    ("host_knockout", "ddr2_slie_host_2d.yaml"),
    (
        "msc_knockout",
        "ddr2_slie_host_2d.yaml",
    ),  # same MSC settings; no benign cells here
    ("msc_depletion", "ddr2_no_msc_2d.yaml"),
]


@pytest.mark.parametrize(("kind", "arm"), ARMS)
def test_perturbation_of_wt_reproduces_shipped_arm(kind: str, arm: str) -> None:
    wt = raw(WT)
    before = copy.deepcopy(wt)
    out = apply_to_tissue(wt, PerturbationConfig.model_validate({"kind": kind}))
    assert wt == before  # the input is left alone
    assert body(validated(out)) == body(validated(raw(arm)))
    if kind not in ("none", "heterozygote"):
        assert body(validated(out)) != body(validated(wt))  # the arm is not WT


def test_cancer_knockout_zeroes_cancer_ddr2_and_keeps_mscs() -> None:
    wt = validated(raw(WT))
    ko = validated(apply_to_tissue(raw(WT), "cancer_knockout"))
    assert ko.ddr2.cancer.basal_effective == ko.ddr2.cancer.max_effective == 0.0
    assert (
        wt.ddr2.cancer.basal_effective == 0.25 and wt.ddr2.cancer.max_effective == 1.0
    )
    assert ko.msc_rules == wt.msc_rules and ko.msc_rules.genotype == 1.0
    assert ko.cell_types == wt.cell_types
    assert ko.initial_cells == wt.initial_cells
    assert ko.ecm == wt.ecm


def test_cancer_knockdown_scales_by_fraction() -> None:
    kd = validated(
        apply_to_tissue(
            raw(WT),
            PerturbationConfig(kind="cancer_knockdown", knockdown_fraction=0.35),
        )
    )
    assert kd.ddr2.cancer.basal_effective == pytest.approx(0.25 * 0.35)
    assert kd.ddr2.cancer.max_effective == pytest.approx(0.35)


def test_msc_knockout_zeroes_msc_genotype_and_keeps_cancer() -> None:
    wt = validated(raw(WT))
    ko = validated(apply_to_tissue(raw(WT), "msc_knockout"))
    assert ko.msc_rules.genotype == 0.0
    assert ko.ddr2 == wt.ddr2  # cancer (and benign) DDR2 unchanged
    assert ko.initial_cells == wt.initial_cells  # the MSCs are still there


def test_host_knockout_also_zeroes_benign_host_epithelium() -> None:
    benign = raw("ddr2_benign_msc_2d.yaml")
    host = validated(apply_to_tissue(benign, "host_knockout"))
    msc = validated(apply_to_tissue(benign, "msc_knockout"))
    assert host.msc_rules.genotype == msc.msc_rules.genotype == 0.0
    assert host.ddr2.benign.max_effective == 0.0
    assert msc.ddr2.benign == validated(benign).ddr2.benign
    assert (
        host.ddr2.cancer == validated(benign).ddr2.cancer
    )  # implanted cells keep DDR2


def test_msc_depletion_removes_mscs_only() -> None:
    data = raw(WT)
    data["msc_rules"]["recruitment_per_min"] = 1e-4  # needs MSCs: must go too
    out = validated(apply_to_tissue(data, "msc_depletion"))
    assert out.cell_types.msc is None
    assert [p.kind for p in out.initial_cells] == ["cancer"]
    assert out.msc_rules.recruitment_per_min == 0.0
    assert out.initial_cells[0] == validated(raw(WT)).initial_cells[0]


def test_clashing_perturbations_are_refused() -> None:
    ko = raw("ddr2_cancer_ko_msc_2d.yaml")
    with pytest.raises(
        ValueError, match="already sets 'knockout'; cannot also apply 'knockdown'"
    ):
        apply_to_tissue(ko, "cancer_knockdown")
    kd = raw("ddr2_knockdown_msc_2d.yaml")
    with pytest.raises(ValueError, match=r"knockdown_fraction 0\.2"):
        apply_to_tissue(
            kd, PerturbationConfig(kind="cancer_knockdown", knockdown_fraction=0.5)
        )
    # the same perturbation twice is the same arm
    assert apply_to_tissue(ko, "cancer_knockout") == ko


def test_perturbation_config() -> None:
    assert KnockoutConfig is PerturbationConfig
    assert PerturbationConfig().kind == "none"
    with pytest.raises(ValidationError, match="cancer_knockout"):
        PerturbationConfig.model_validate({"kind": "knockout"})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        PerturbationConfig(kind="cancer_knockdown", knockdown_fraction=1.5)


# --------------------------------------------------------------------------- inhibitor


def test_inhibitor_replaces_constant_occupancy() -> None:
    data = raw("ddr2_inhibitor_2d.yaml")
    inh = InhibitorConfig(schedule=ScheduleConfig(dose_mg=70.0, interval_h=12.0))
    out = apply_inhibitor_to_tissue(data, inh)
    assert data["ddr2"]["inhibitor"] == [{"start_min": 0, "occupancy": 0.9}]
    sc = validated(out)
    assert [p.model_dump() for p in sc.ddr2.inhibitor] == tissue_inhibitor_phases(
        inh, 2880.0
    )
    assert len(sc.ddr2.inhibitor) == 48
    # everything else is the scenario as it was
    before = validated(data)
    assert sc.model_dump(exclude={"ddr2"}) == before.model_dump(exclude={"ddr2"})


def test_inhibitor_needs_ddr2_model() -> None:
    data = raw(WT)
    data["ddr2"]["enabled"] = False
    with pytest.raises(ValueError, match=r"ddr2\.enabled"):
        apply_inhibitor_to_tissue(data, InhibitorConfig())


def test_inhibitor_end_defaults_to_duration() -> None:
    data = raw(WT)
    data["time"]["duration_min"] = 300.0
    out = apply_inhibitor_to_tissue(data, InhibitorConfig(), step_min=120.0)
    assert [p["start_min"] for p in out["ddr2"]["inhibitor"]] == [0.0, 120.0, 240.0]
