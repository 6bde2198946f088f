"""Organ graph: the default body's flows and the validation of bad graphs (SCIENCE.md §7)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metastroma.body.anatomy import OrganKind, build_anatomy
from metastroma.config.body import (
    ARTERIAL_PERCENT_CO,
    AnatomyConfig,
    default_anatomy,
    validate_anatomy,
)
from metastroma.errors import ConfigError


def _default_dict() -> dict[str, Any]:
    return default_anatomy().model_dump()


def _edge(d: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    return next(
        e for e in d["edges"] if e["source"] == source and e["target"] == target
    )


def _organ(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in d["organs"] if o["name"] == name)


def test_default_graph_conserves_flow_at_every_node() -> None:
    a = build_anatomy(default_anatomy())
    np.testing.assert_allclose(a.flow.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (a.flow >= 0).all()
    assert a.flow[:, a.primary].sum() == 0.0  # nothing flows back into the breast


def test_default_graph_every_organ_reachable_from_primary() -> None:
    a = build_anatomy(default_anatomy())
    reach = np.zeros(a.n_organs, dtype=bool)
    reach[a.primary] = True
    step = (a.flow > 0).astype(float)
    for _ in range(a.n_organs):
        reach |= (reach.astype(float) @ step) > 0
    assert reach.all(), [n for n, r in zip(a.names, reach, strict=True) if not r]


def test_default_graph_flows_match_icrp89_and_routing_rules() -> None:
    a = build_anatomy(default_anatomy())
    i = a.organ
    # ICRP 89 female: hepatic artery 6.5 % + portal 21 % + the rest sums to exactly 100 %
    assert sum(ARTERIAL_PERCENT_CO.values()) == pytest.approx(100.0, abs=1e-12)
    assert a.flow_blood[i("arterial"), i("brain")] == pytest.approx(0.12)
    assert a.flow_blood[i("arterial"), i("kidneys")] == pytest.approx(0.17)
    assert a.flow_blood[i("arterial"), i("liver")] == pytest.approx(0.065)
    assert a.flow_blood[i("arterial"), i("gut_spleen_pancreas")] == pytest.approx(0.21)
    assert a.flow_blood[i("arterial"), i("bone_marrow")] == pytest.approx(0.03)
    assert a.flow_blood[i("arterial"), i("rest_of_body")] == pytest.approx(0.377)
    # all venous return crosses the lungs; the portal vein feeds the liver only
    assert a.flow_blood[i("venous"), i("right_heart")] == 1.0
    assert a.flow_blood[i("right_heart"), i("lungs")] == 1.0
    assert a.flow_blood[i("portal"), i("liver")] == 1.0
    # lymph: f_lymph 0.5 × (axillary 0.75, internal mammary 0.25); efferent lymph → venous
    assert a.flow_lymph[a.primary, i("axillary_nodes")] == pytest.approx(0.375)
    assert a.flow_lymph[a.primary, i("internal_mammary_nodes")] == pytest.approx(0.125)
    assert a.flow_lymph[i("axillary_nodes"), i("venous")] == 1.0
    assert a.kind[i("portal")] == OrganKind.POOL
    assert a.arrest_single[i("lungs")] == 0.99
    assert a.arrest_single[i("venous")] == 0.0


def test_default_anatomy_round_trips_through_validation() -> None:
    cfg = default_anatomy()
    assert validate_anatomy(cfg.model_dump()) == cfg


def test_unknown_organ_in_edge_is_named_with_close_match() -> None:
    d = _default_dict()
    _edge(d, "portal", "liver")["target"] = "livr"
    with pytest.raises(
        ConfigError, match=r"target: unknown organ 'livr' \(edge portal -> livr.*liver"
    ):
        validate_anatomy(d)


def test_outflow_not_summing_to_one_names_node_and_sum() -> None:
    d = _default_dict()
    _edge(d, "breast", "venous")["flow_fraction"] = 0.4  # breast now sums to 0.9
    with pytest.raises(ConfigError, match=r"organ 'breast': outflow sums to 0\.9"):
        validate_anatomy(d)


def test_probability_above_one_names_the_organ_field() -> None:
    d = _default_dict()
    _organ(d, "brain")["arrest_probability_single"] = 1.2
    idx = [o["name"] for o in d["organs"]].index("brain")
    with pytest.raises(ConfigError, match=rf"organs\.{idx}\.arrest_probability_single"):
        validate_anatomy(d)


def test_negative_growth_multiplier_is_refused() -> None:
    d = _default_dict()
    _organ(d, "liver")["growth_rate_multiplier"] = -0.5
    with pytest.raises(ConfigError, match="growth_rate_multiplier"):
        validate_anatomy(d)


def test_unreachable_organ_is_named() -> None:
    d = _default_dict()
    d["organs"].append({"name": "spleen_extra", "kind": "capillary_bed"})
    d["edges"].append(
        {
            "source": "spleen_extra",
            "target": "venous",
            "kind": "blood",
            "flow_fraction": 1.0,
        }
    )
    with pytest.raises(ConfigError, match=r"\['spleen_extra'\] are not reachable"):
        validate_anatomy(d)


def test_pool_only_cycle_is_refused() -> None:
    d = _default_dict()
    _edge(d, "right_heart", "lungs")["flow_fraction"] = 0.5
    d["edges"].append(
        {
            "source": "right_heart",
            "target": "venous",
            "kind": "blood",
            "flow_fraction": 0.5,
        }
    )
    with pytest.raises(ConfigError, match=r"venous.*right_heart.*pools only"):
        validate_anatomy(d)


def test_pool_with_arrest_probability_is_refused() -> None:
    d = _default_dict()
    _organ(d, "portal")["arrest_probability_single"] = 0.3
    with pytest.raises(ConfigError, match=r"organ 'portal' \(pool\).*must be 0"):
        validate_anatomy(d)


def test_edge_into_primary_and_duplicate_names_are_refused() -> None:
    d = _default_dict()
    _edge(d, "arterial", "rest_of_body")["target"] = "breast"
    with pytest.raises(
        ConfigError, match=r"enter the primary \(edge arterial -> breast"
    ):
        validate_anatomy(d)
    d = _default_dict()
    d["organs"].append({"name": "lungs", "kind": "capillary_bed"})
    with pytest.raises(ConfigError, match="'lungs' appears more than once"):
        validate_anatomy(d)


def test_survival_per_pass_from_half_life() -> None:
    cfg = AnatomyConfig.model_validate(
        {**_default_dict(), "ctc_half_life_h": 1.0, "transit_time_per_pass_min": 60.0}
    )
    assert cfg.survival_per_pass == pytest.approx(0.5)
