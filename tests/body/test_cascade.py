"""Circulation cascade: first-pass arithmetic, Monte Carlo vs exact chain, ledger balance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metastroma.body.anatomy import Anatomy, build_anatomy
from metastroma.body.cascade import (
    EndState,
    Ledger,
    LedgerError,
    Outcome,
    arrest_distribution,
    routing,
    settle_fates,
    simulate_arrests,
)
from metastroma.config.body import AnatomyConfig, default_anatomy

ARTERIAL_TARGETS = ["brain", "kidneys", "liver", "gut_spleen_pancreas", "bone_marrow"]


def _anatomy(batson: bool = True, **organ_updates: dict[str, Any]) -> Anatomy:
    d = default_anatomy().model_dump()
    for o in d["organs"]:
        o.update(organ_updates.get(o["name"], {}))
    if not batson:  # fold the vertebral-plexus edge back into the venous return
        edges = d["edges"]
        bat = next(
            e for e in edges if (e["source"], e["target"]) == ("breast", "bone_marrow")
        )
        ven = next(
            e for e in edges if (e["source"], e["target"]) == ("breast", "venous")
        )
        ven["flow_fraction"] += bat["flow_fraction"]
        edges.remove(bat)
    return build_anatomy(AnatomyConfig.model_validate(d))


def _two_bed_loop(p_a: float, p_b: float) -> Anatomy:
    """primary → pool → A → pool → B → pool → A ...: closed form in the tests below."""
    return build_anatomy(
        AnatomyConfig.model_validate(
            {
                "organs": [
                    {"name": "primary", "kind": "primary"},
                    {"name": "pool", "kind": "pool"},
                    {"name": "pool2", "kind": "pool"},
                    {
                        "name": "a",
                        "kind": "capillary_bed",
                        "arrest_probability_single": p_a,
                    },
                    {
                        "name": "b",
                        "kind": "capillary_bed",
                        "arrest_probability_single": p_b,
                    },
                ],
                "edges": [
                    {"source": "primary", "target": "pool", "flow_fraction": 1.0},
                    {"source": "pool", "target": "a", "flow_fraction": 1.0},
                    {"source": "a", "target": "pool2", "flow_fraction": 1.0},
                    {"source": "pool2", "target": "b", "flow_fraction": 1.0},
                    {"source": "b", "target": "pool", "flow_fraction": 1.0},
                ],
            }
        )
    )


def test_routing_rows_sum_to_one_and_cross_pools() -> None:
    a = build_anatomy(default_anatomy())
    rt = routing(a)
    np.testing.assert_allclose(rt.next_filter.sum(axis=1), 1.0, atol=1e-12)
    filt = list(rt.filters)
    # leaving any systemic bed, the next filter is the lungs (venous → right heart → lungs)
    assert rt.next_filter[
        a.organ("brain"), filt.index(a.organ("lungs"))
    ] == pytest.approx(1)
    # leaving the gut, the next filter is the liver (portal vein)
    gut = a.organ("gut_spleen_pancreas")
    assert rt.next_filter[gut, filt.index(a.organ("liver"))] == pytest.approx(1.0)


def test_two_bed_loop_matches_closed_form() -> None:
    p_a, p_b, s = 0.3, 0.6, 0.9
    an = _two_bed_loop(p_a, p_b)
    # geometric series over circuits: each circuit = transit, A, transit, B
    q = s * (1 - p_a) * s * (1 - p_b)
    want_a = s * p_a / (1 - q)
    want_b = s * (1 - p_a) * s * p_b / (1 - q)
    d = arrest_distribution(an, max_passes=None, survival_per_pass=s)
    assert d.arrested[an.organ("a")] == pytest.approx(want_a, rel=1e-12)
    assert d.arrested[an.organ("b")] == pytest.approx(want_b, rel=1e-12)
    assert d.died_in_transit == pytest.approx(1 - want_a - want_b, rel=1e-12)
    finite = arrest_distribution(an, max_passes=400, survival_per_pass=s)
    np.testing.assert_allclose(finite.arrested, d.arrested, rtol=1e-12)
    # truncated after one filter: cells passing A are still circulating
    one = arrest_distribution(an, max_passes=1, survival_per_pass=s)
    assert one.still_circulating == pytest.approx(s * (1 - p_a))
    assert one.died_in_transit == pytest.approx(1 - s)


def test_never_ending_chain_is_refused() -> None:
    an = _two_bed_loop(0.0, 0.0)
    with pytest.raises(ValueError, match="never ends"):
        arrest_distribution(an, max_passes=None, survival_per_pass=1.0)


@pytest.mark.parametrize("p_lung", [0.5, 0.9, 0.99])
def test_first_pass_reaching_arterial_organs_is_one_minus_p_times_flow_share(
    p_lung: float,
) -> None:
    an = _anatomy(batson=False, lungs={"arrest_probability_single": p_lung})
    i = an.organ
    f_blood = an.flow_blood[an.primary, i("venous")]
    share = an.flow_blood[i("arterial")]
    # pass 1: lungs; pass 2: the arterial organs (lymph-borne cells reach them on pass 3)
    d = arrest_distribution(an, max_passes=2, survival_per_pass=1.0)
    for name in ARTERIAL_TARGETS:
        want = f_blood * (1 - p_lung) * share[i(name)]
        assert d.arrived[i(name)] == pytest.approx(want, rel=1e-12)
        assert d.arrested[i(name)] == pytest.approx(want * an.arrest_single[i(name)])
    # Monte Carlo at large N, within 4 binomial standard errors
    n = 200_000
    draws = simulate_arrests(
        an, n, seed=11, stream_id=3, max_passes=2, survival_per_pass=1
    )
    reached = np.bincount(draws.site[draws.n_passes == 2], minlength=an.n_organs)
    for name in ARTERIAL_TARGETS:
        p = d.arrived[i(name)]
        se = np.sqrt(n * p * (1 - p))
        assert abs(reached[i(name)] - n * p) <= 4 * se, (name, reached[i(name)], n * p)


def test_monte_carlo_matches_exact_distribution() -> None:
    an = _anatomy(
        lungs={"arrest_probability_single": 0.7}
    )  # more cells reach the organs
    n = 200_000
    d = arrest_distribution(an, max_passes=50)
    draws = simulate_arrests(an, n, seed=7, stream_id=1, patient_id=4, max_passes=50)
    counts = np.bincount(
        draws.arrest_site[draws.arrest_site >= 0], minlength=an.n_organs
    )
    expected = n * d.arrested
    assert (counts[expected == 0] == 0).all()
    checked = expected > 0
    se = np.sqrt(expected * (1 - d.arrested))
    z = (counts[checked] - expected[checked]) / se[checked]
    assert np.abs(z).max() < 4, dict(zip(np.array(an.names)[checked], z, strict=True))
    for outcome, p in (
        (Outcome.DIED_IN_TRANSIT, d.died_in_transit),
        (Outcome.STILL_CIRCULATING, d.still_circulating),
    ):
        k = int((draws.outcome == outcome).sum())
        assert abs(k - n * p) <= 4 * np.sqrt(n * p * (1 - p)) + 1e-9
    assert (
        np.count_nonzero(counts[an.organ("bone_marrow")]) > 0
    )  # the case is not empty


def test_clusters_use_cluster_arrest() -> None:
    an = build_anatomy(default_anatomy())
    single = arrest_distribution(an, cluster=False)
    cluster = arrest_distribution(an, cluster=True)
    lungs = an.organ("lungs")
    # lungs filter clusters more strongly (0.999 vs 0.99): fewer reach the arterial organs
    assert (
        cluster.arrested[an.organ("brain")] < 0.2 * single.arrested[an.organ("brain")]
    )
    # node basins hold 0.99 of clusters vs 0.9 of single cells, so fewer reach the lungs
    ax = an.organ("axillary_nodes")
    assert cluster.arrested[ax] == pytest.approx(0.375 * 0.99 * an.survival_per_pass)
    assert single.arrested[ax] == pytest.approx(0.375 * 0.9 * an.survival_per_pass)
    assert cluster.arrested[lungs] < single.arrested[lungs]


def test_same_seed_same_arrays_and_patients_differ() -> None:
    an = build_anatomy(default_anatomy())
    a = simulate_arrests(an, 5000, seed=3, stream_id=2, patient_id=9)
    b = simulate_arrests(an, 5000, seed=3, stream_id=2, patient_id=9)
    c = simulate_arrests(an, 5000, seed=3, stream_id=2, patient_id=10)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.site, c.site)
    fa = settle_fates(an, a, seed=3, stream_id=2, patient_id=9)
    fb = settle_fates(an, b, seed=3, stream_id=2, patient_id=9)
    np.testing.assert_array_equal(fa, fb)


def test_settle_fates_probabilities() -> None:
    an = build_anatomy(default_anatomy())
    n = 100_000
    lungs = an.organ("lungs")
    draws = simulate_arrests(an, n, seed=5, stream_id=1)._replace(
        outcome=np.full(n, Outcome.ARRESTED, dtype=np.int8),
        site=np.full(n, lungs, dtype=np.int64),
    )
    end = settle_fates(an, draws, seed=5, stream_id=1)
    live = an.extravasation[lungs] * an.dormant_survival[lungs]  # 0.8 × 0.4
    p_grow = live * an.colonisation[lungs]
    for state, p in (
        (EndState.GROWING, p_grow),
        (EndState.DORMANT, live - p_grow),
        (EndState.ARRESTED_DIED, 1 - live),
    ):
        k = int((end == state).sum())
        assert abs(k - n * p) <= 4 * np.sqrt(n * p * (1 - p)), (state, k, n * p)


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cells=st.lists(st.integers(0, 300), min_size=1, max_size=4),
    source=st.sampled_from(
        ["breast", "lungs", "bone_marrow", "liver", "axillary_nodes"]
    ),
    cluster=st.booleans(),
    max_passes=st.integers(1, 6),
)
def test_ledger_conserves_cells(
    seed: int, n_cells: list[int], source: str, cluster: bool, max_passes: int
) -> None:
    an = build_anatomy(default_anatomy())
    ledger = Ledger.zeros(an, len(n_cells))
    src = an.organ(source)
    for row, n in enumerate(n_cells):  # a handful of patients in a property test
        draws = simulate_arrests(
            an,
            n,
            seed,
            stream_id=1,
            patient_id=row,
            source=src,
            cluster=cluster,
            max_passes=max_passes,
        )
        end = settle_fates(an, draws, seed, stream_id=1, patient_id=row)
        ledger.record(row, src, draws.site, end)
    ledger.check()
    np.testing.assert_array_equal(ledger.shed[:, src], n_cells)
    assert (
        ledger.shed.sum()
        == ledger.by_source.sum()
        == ledger.by_site.sum()
        == sum(n_cells)
    )


def test_ledger_check_names_organ_of_imbalance() -> None:
    an = build_anatomy(default_anatomy())
    ledger = Ledger.zeros(an, 2)
    draws = simulate_arrests(an, 100, seed=1, stream_id=1, patient_id=1)
    ledger.record(1, an.primary, draws.site, settle_fates(an, draws, 1, 1, 1))
    ledger.check()
    ledger.by_source[1, an.primary, EndState.DORMANT] += 1  # a cell counted twice
    with pytest.raises(LedgerError, match=r"patient row 1, organ 'breast': shed 100"):
        ledger.check()
    ledger.by_source[1, an.primary, EndState.DORMANT] -= 1
    assert ledger.by_site[1, an.organ("lungs"), EndState.DORMANT] > 0
    ledger.by_site[1, an.organ("venous"), EndState.DORMANT] += 1  # moved to a pool
    ledger.by_site[1, an.organ("lungs"), EndState.DORMANT] -= 1
    with pytest.raises(LedgerError, match=r"organ 'venous'.*cannot arrest"):
        ledger.check()


def test_batson_plexus_sends_breast_blood_straight_to_the_marrow() -> None:
    an = _anatomy()
    i = an.organ
    f_bat = an.flow_blood[an.primary, i("bone_marrow")]
    assert f_bat == pytest.approx(0.5 * 0.05)  # (1 − f_lymph) × F_BATSON
    d = arrest_distribution(an, max_passes=1, survival_per_pass=1.0)
    assert d.arrived[i("bone_marrow")] == pytest.approx(f_bat, rel=1e-12)
    assert d.arrested[i("bone_marrow")] == pytest.approx(f_bat * 0.5, rel=1e-12)
