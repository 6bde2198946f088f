"""Virtual cohorts (body/cohort.py): ledger, seeding law, reproducibility, surgery, death, errors.

Every scenario here is written out in full (:func:`scenario`): organ graph, growth, shedding,
DDR2, detection, surgery and death, so that no test depends on the default values being
calibrated in config/. The organ graph is a small body: breast → axillary nodes (lymph) and
venous blood → lungs → arterial blood → liver, bone marrow, brain → venous blood.
Statistical tests use fixed seeds and take their tolerance from the standard error.
"""

from __future__ import annotations

import copy
import math
import re
import tracemalloc
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metastroma.body import cohort as cohort_module
from metastroma.body.cascade import EndState
from metastroma.body.cohort import CohortResult, simulate_cohort
from metastroma.config.cohort import CohortScenario
from metastroma.config.loader import load_model
from metastroma.errors import ConfigError
from metastroma.kernels import _body

PLATEAU = 3.0e12
HAZARD_PER_DAY = 3.2e-3

# ----------------------------------------------------------------------- scenarios


def _organ(
    name: str,
    kind: str,
    arrest: tuple[float, float],
    detect_cells: float,
    colonise: dict[str, float],
    grow: dict[str, float],
    hr: dict[str, float],
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "arrest_probability_single": arrest[0],
        "arrest_probability_cluster": arrest[1],
        "extravasation_probability": 0.8,
        "dormant_survival_probability": 0.4,
        "colonisation_probability": colonise.get(name, 0.0),
        "growth_rate_multiplier": grow.get(name, 1.0),
        "death_hazard_ratio": hr.get(name, 1.0),
        "detection_threshold_cells": detect_cells,
    }


def anatomy(
    colonise: dict[str, float],
    grow: dict[str, float] | None = None,
    hr: dict[str, float] | None = None,
    lung_arrest: tuple[float, float] = (0.99, 0.999),
) -> dict[str, Any]:
    """The test body; every organ parameter explicit (colonisation 0 unless given)."""
    g, h = grow or {}, hr or {}

    def bed(name: str, arrest: tuple[float, float], detect: float) -> dict[str, Any]:
        return _organ(name, "capillary_bed", arrest, detect, colonise, g, h)

    def edge(s: str, t: str, f: float, kind: str = "blood") -> dict[str, Any]:
        return {"source": s, "target": t, "flow_fraction": f, "kind": kind}

    return {
        "organs": [
            {"name": "breast", "kind": "primary"},
            _organ("axillary_nodes", "lymph_node", (0.9, 0.99), 4.2e3, colonise, g, h),
            {"name": "venous", "kind": "pool"},
            bed("lungs", lung_arrest, 6.5e7),
            {"name": "arterial", "kind": "pool"},
            bed("liver", (0.95, 0.99), 5.2e8),
            bed("bone_marrow", (0.5, 0.9), 5.2e8),
            bed("brain", (0.9, 0.99), 5.2e8),
        ],
        "edges": [
            edge("breast", "axillary_nodes", 0.4, "lymph"),
            edge("breast", "venous", 0.6),
            edge("axillary_nodes", "venous", 1.0, "lymph"),
            edge("venous", "lungs", 1.0),
            edge("lungs", "arterial", 1.0),
            edge("arterial", "liver", 0.3),
            edge("arterial", "bone_marrow", 0.3),
            edge("arterial", "brain", 0.4),
            edge("liver", "venous", 1.0),
            edge("bone_marrow", "venous", 1.0),
            edge("brain", "venous", 1.0),
        ],
        "ctc_half_life_h": 1.7,
        "transit_time_per_pass_min": 0.66,
    }


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s keys replaced, recursively into mappings."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_dict(
    colonise: dict[str, float],
    grow: dict[str, float] | None = None,
    hr: dict[str, float] | None = None,
    lung_arrest: tuple[float, float] = (0.99, 0.999),
    **over: Any,
) -> dict[str, Any]:
    """A complete cohort scenario as a mapping; ``over`` replaces sections' keys."""
    base = {
        "seed": 11,
        "patients": 1000,
        "follow_up_years": 10.0,
        "max_onset_to_diagnosis_years": 30.0,
        "time_step_days": 7.0,
        "max_colonies_per_patient": 100_000,
        "anatomy": anatomy(colonise, grow, hr, lung_arrest),
        "growth": {
            "law": "gompertz",
            "initial_cells": 1.0,
            "gompertz_plateau_cells": PLATEAU,
            "gompertz_rate_median_per_day": 1.0e-3,
            "gompertz_rate_sigma_log": 0.5,
            "exponential_rate_median_per_day": 7.0e-3,
            "exponential_rate_sigma_log": 0.5,
            "power_exponent": 0.5,
            "power_coefficient_median": 290.0,
            "power_coefficient_sigma_log": 0.5,
            "metastasis_rate_multiplier": 1.0,
            "cells_per_mm3": 1.0e6,
        },
        "shedding": {
            "hazard_per_day": HAZARD_PER_DAY,
            "size_exponent": 1.0,
            "patient_sigma_log": 0.5,
            "viable_fraction": 0.01,
            "circulation_survival_single": 0.01,
            "circulation_survival_cluster": 0.5,
            "cluster_size_cells": 5.0,
            "macrometastasis_probability": 0.01,
            "dormancy_mean_days": 0.0,
        },
        "ddr2": {
            "relative_activity_high": 1.0,
            "relative_activity_low": 0.5,
            "high_fraction": 1.0,
            "intravasation_intercept": 0.35,
            "intravasation_slope": 0.65,
            "cluster_event_fraction": 0.03,
            "growth_gain": 0.3,
            "activity_wt": 0.3,
        },
        "detection": {
            "primary_clinical_mm": 12.4,
            "primary_clinical_sigma_log": 0.3,
            "staging_window_days": 30.0,
            "lethal_burden_cells": 1.0e12,
        },
        "surgery": {"removes_organs": [], "adjuvant_kill_probability": 0.0},
        "death": {
            "model": "hazard",
            "median_survival_days": 800.0,
            "frailty_sigma_log": 0.0,
        },
    }
    return merge(base, over)


def scenario(*args: Any, **kw: Any) -> CohortScenario:
    return CohortScenario.model_validate(scenario_dict(*args, **kw))


#: Nodes, lungs and (by secondary seeding) the arterial beds are colonised; deaths stop
#: the growth of untreated disease, so colony counts stay moderate.
RICH_COLONISE = {
    "axillary_nodes": 0.01,
    "lungs": 5e-4,
    "liver": 5e-4,
    "bone_marrow": 1e-3,
    "brain": 3e-4,
}


def rich(**over: Any) -> CohortScenario:
    """Nodes removed at surgery, dormancy, fast death after a distant detection."""
    base = {
        "surgery": {"removes_organs": ["axillary_nodes"]},
        "shedding": {"dormancy_mean_days": 200.0},
        "death": {"median_survival_days": 100.0},
    }
    return scenario(RICH_COLONISE, **merge(base, over))


def busy(**over: Any) -> CohortScenario:
    """:func:`rich` with more distant colonies (most patients have one): adjuvant therapy
    kills half the occult ones; some patients reach hundreds of colonies."""
    colonise = {o: 2.0 * v for o, v in RICH_COLONISE.items()}
    colonise.update(axillary_nodes=0.01, lungs=4e-3)
    base = {
        "seed": 12,
        "surgery": {
            "removes_organs": ["axillary_nodes"],
            "adjuvant_kill_probability": 0.5,
        },
        "shedding": {"dormancy_mean_days": 200.0},
        "death": {"median_survival_days": 100.0},
    }
    return scenario(colonise, **merge(base, over))


def exact_ledger(seed: int, size_exponent: float = 1.0) -> CohortScenario:
    """Every cell that settles founds a colony (soil 1, P_macro 1): no dormant non-founder.

    Nothing is removed at surgery, so every colony is listed; death by lethal burden
    (10⁹ cells) bounds untreated growth.
    """
    everywhere = dict.fromkeys(
        ["axillary_nodes", "lungs", "liver", "bone_marrow", "brain"], 1.0
    )
    return scenario(
        everywhere,
        seed=seed,
        shedding={
            "viable_fraction": 2e-7,
            "macrometastasis_probability": 1.0,
            "dormancy_mean_days": 300.0,
            "size_exponent": size_exponent,
        },
        death={"model": "burden"},
        detection={"lethal_burden_cells": 1.0e9},
    )


# ----------------------------------------------------------------------- helpers


def organ_index(res: CohortResult, names: pd.Series) -> np.ndarray:
    return np.array([res.plan.anatomy.index[o] for o in names], dtype=np.int64)


def patient_row(res: CohortResult, ids: pd.Series) -> np.ndarray:
    first = int(res.patients["patient_id"].iloc[0])
    return ids.to_numpy(dtype=np.int64) - first


def per_patient_organ(res: CohortResult, mets: pd.DataFrame, values: Any) -> np.ndarray:
    """Sum ``values`` of the colonies in ``mets`` into a (n_patients, n_organs) array."""
    out = np.zeros((len(res.patients), res.plan.anatomy.n_organs))
    v = np.broadcast_to(np.asarray(values, dtype=float), (len(mets),))
    np.add.at(
        out, (patient_row(res, mets["patient_id"]), organ_index(res, mets["organ"])), v
    )
    return out


cum_cells = np.vectorize(_body.cum_cells, otypes=[float])
cells_after = np.vectorize(_body.cells_after, otypes=[float])


def colony_rate(res: CohortResult, mets: pd.DataFrame) -> np.ndarray:
    """Growth rate of each colony: patient rate × metastasis × organ multipliers (ã = 1)."""
    sc = res.scenario
    rate = res.patients["growth_rate"].to_numpy()[patient_row(res, mets["patient_id"])]
    organ = res.plan.anatomy.growth_rate_multiplier[organ_index(res, mets["organ"])]
    return rate * sc.growth.metastasis_rate_multiplier * organ


def expected_shed(res: CohortResult) -> np.ndarray:
    """E[cells shed] by patient and source organ: h_shed · s_k · N_ref^(1−γ) ∫N^γ dt
    over each life (N^γ of a Gompertz curve is the Gompertz curve from N₀^γ to N∞^γ)."""
    sc, pat, mets = res.scenario, res.patients, res.metastases
    g = sc.shedding.size_exponent
    scale = (
        HAZARD_PER_DAY
        * sc.shedding.reference_size_cells ** (1.0 - g)
        * pat["shedding_multiplier"].to_numpy()
    )
    out = np.zeros((len(pat), res.plan.anatomy.n_organs))
    out[:, res.plan.anatomy.primary] = scale * cum_cells(
        _body.LAW_GOMPERTZ,
        sc.growth.initial_cells**g,
        pat["growth_rate"].to_numpy(),
        PLATEAU**g,
        0.5,
        pat["days_from_onset_to_diagnosis"].to_numpy(),
    )
    rows = patient_row(res, mets["patient_id"])
    end = pat["follow_up_days"].to_numpy()[rows]
    stop = np.fmin(end, mets["ended_day"].to_numpy())  # NaN ended = never removed
    life = np.maximum(stop - mets["wake_day"].to_numpy(), 0.0)
    per = scale[rows] * cum_cells(
        _body.LAW_GOMPERTZ,
        mets["founding_cells"].to_numpy() ** g,
        colony_rate(res, mets),
        PLATEAU**g,
        0.5,
        life,
    )
    np.add.at(out, (rows, organ_index(res, mets["organ"])), per)  # colonies shed too
    return out


def awake(res: CohortResult, mets: pd.DataFrame) -> np.ndarray:
    end = res.patients["follow_up_days"].to_numpy()[
        patient_row(res, mets["patient_id"])
    ]
    return mets["wake_day"].to_numpy() <= end


# ----------------------------------------------------------------------- 1. ledger


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ledger_balances_and_colonies_are_its_founders(seed: int) -> None:
    res = simulate_cohort(exact_ledger(seed), 300)
    lg, mets = res.ledger, res.metastases
    assert len(mets) > 100 and (mets["generation"] > 0).any()  # secondary seeding too
    lg.check()
    np.testing.assert_array_equal(lg.shed, lg.by_source.sum(axis=2))
    np.testing.assert_array_equal(lg.by_source.sum(axis=1), lg.by_site.sum(axis=1))
    assert (res.patients["n_nodal_deposits_removed_unlisted"] == 0).all()
    # every colony is in the ledger as its founding cells, growing once awake
    up = awake(res, mets)
    growing = per_patient_organ(res, mets[up], mets["founding_cells"][up])
    sleeping = per_patient_organ(res, mets[~up], mets["founding_cells"][~up])
    assert sleeping.sum() > 0 and growing.sum() > 0
    np.testing.assert_array_equal(lg.by_site[:, :, EndState.GROWING], growing)
    np.testing.assert_array_equal(lg.by_site[:, :, EndState.DORMANT], sleeping)
    src = per_patient_organ(
        res,
        mets.assign(organ=mets["source_organ"]),
        mets["founding_cells"],
    )
    founders = (
        lg.by_source[:, :, EndState.GROWING] + lg.by_source[:, :, EndState.DORMANT]
    )
    np.testing.assert_array_equal(founders, src)
    # cells that die in transit or still circulate are booked at their source organ
    an = res.plan.anatomy
    for state in (EndState.DIED_IN_TRANSIT, EndState.STILL_CIRCULATING):
        assert (lg.by_site[:, :, state] == lg.by_source[:, :, state]).all()
    arrested = lg.by_site[
        :, :, [EndState.ARRESTED_DIED, EndState.DORMANT, EndState.GROWING]
    ]
    assert (arrested.sum(axis=2)[:, ~an.is_filter] == 0).all()


@pytest.mark.parametrize(("seed", "size_exponent"), [(1, 1.0), (4, 1.0), (2, 0.5)])
def test_shed_cells_match_the_integral_of_tumour_size(
    seed: int, size_exponent: float
) -> None:
    res = simulate_cohort(exact_ledger(seed, size_exponent), 300)
    expected = expected_shed(res)
    observed = res.ledger.shed.astype(float)
    assert np.count_nonzero(expected[:, 1:]) > 50  # colonies shed too
    # no cells from an organ that never held a tumour
    assert (observed[expected == 0.0] == 0).all()
    # Poisson noise per patient and organ (clusters count n_cl cells: a little wider)
    z = (observed - expected)[expected > 0] / np.sqrt(expected[expected > 0])
    assert np.abs(z).max() < 6.0
    total = (observed - expected).sum() / math.sqrt(expected.sum())
    assert abs(total) < 4.0


def test_removed_nodal_deposits_are_in_the_ledger() -> None:
    res = simulate_cohort(rich(), 1500)
    pat, mets, lg = res.patients, res.metastases, res.ledger
    unlisted = pat["n_nodal_deposits_removed_unlisted"].to_numpy()
    assert unlisted.sum() > 100
    node = res.plan.anatomy.index["axillary_nodes"]
    listed = per_patient_organ(res, mets, mets["founding_cells"])[:, node]
    settled = (
        lg.by_site[:, node, EndState.GROWING] + lg.by_site[:, node, EndState.DORMANT]
    )
    # unlisted deposits are founded by 1 cell or a cluster of n_cl cells
    n_cl = res.scenario.shedding.cluster_size_cells
    assert (settled >= listed + unlisted).all()
    up = awake(res, mets)
    others = per_patient_organ(res, mets[up], mets["founding_cells"][up])
    others[:, node] = 0
    growing = lg.by_site[:, :, EndState.GROWING].astype(float)
    growing[:, node] = 0
    np.testing.assert_array_equal(growing, others)
    assert (lg.by_site[:, node, EndState.GROWING] <= listed + n_cl * unlisted).all()


# ----------------------------------------------------------------------- 2. seeding law


def lung_only() -> CohortScenario:
    """Only the lungs are colonised and colonies there do not grow: no secondary seeding
    worth the name, no detection, so the diagnosis is the primary's."""
    return scenario({"lungs": 6e-3}, grow={"lungs": 0.0}, seed=5)


def test_primary_seeding_matches_the_closed_form() -> None:
    res = simulate_cohort(lung_only(), 3000)
    pat, mets = res.patients, res.metastases
    primary = res.plan.anatomy.primary
    q = res.plan.found[0, :, primary, :].sum()  # colonies per cell shed, ã = 1
    t_dx = pat["days_from_onset_to_diagnosis"].to_numpy()
    rate = pat["growth_rate"].to_numpy()
    cum_dx = cum_cells(_body.LAW_GOMPERTZ, 1.0, rate, PLATEAU, 0.5, t_dx)
    expected = q * HAZARD_PER_DAY * pat["shedding_multiplier"].to_numpy() * cum_dx
    from_primary = mets[
        (mets["source_organ"] == "breast") & (mets["seeded_day"] <= 0.0)
    ]
    assert set(from_primary["organ"]) == {"lungs"}
    count = np.bincount(
        patient_row(res, from_primary["patient_id"]), minlength=len(pat)
    )
    assert 1.0 < expected.mean() < 10.0  # the case has colonies
    z = (count.sum() - expected.sum()) / math.sqrt(expected.sum())
    assert abs(z) < 4.0, z
    # per-patient counts are Poisson: dispersion index ≈ 1
    pearson = ((count - expected) ** 2 / expected).sum()
    n = len(pat)
    assert abs(pearson / n - 1.0) < 4.0 * math.sqrt(2.0 / n)
    # seeding times follow the intensity: ∫₀^{t_seed} N / ∫₀^{t_dx} N ~ U(0, 1)
    rows = patient_row(res, from_primary["patient_id"])
    t_seed = from_primary["seeded_day"].to_numpy() + t_dx[rows]
    u = (
        cum_cells(_body.LAW_GOMPERTZ, 1.0, rate[rows], PLATEAU, 0.5, t_seed)
        / cum_dx[rows]
    )
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # a wrong intensity (∝ 1 instead of ∝ N) is rejected by the same test
    assert stats.kstest(t_seed / t_dx[rows], "uniform").pvalue < 1e-6


# ----------------------------------------------------------------------- 4. reproducibility


def _same_patients(a: CohortResult, b: CohortResult, ids: np.ndarray) -> None:
    pa = a.patients.set_index("patient_id").loc[ids]
    pb = b.patients.set_index("patient_id").loc[ids]
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    ma = a.metastases[a.metastases["patient_id"].isin(ids)].reset_index(drop=True)
    mb = b.metastases[b.metastases["patient_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(ma, mb, check_exact=True)
    ra = patient_row(a, pd.Series(ids))
    rb = patient_row(b, pd.Series(ids))
    np.testing.assert_array_equal(a.ledger.by_site[ra], b.ledger.by_site[rb])
    np.testing.assert_array_equal(a.ledger.by_source[ra], b.ledger.by_source[rb])


def test_patient_history_does_not_depend_on_cohort_size() -> None:
    sc = busy()
    big = simulate_cohort(sc, 10_000)  # several chunks of the compiled loop
    small = simulate_cohort(sc, 10)
    ids = np.arange(10)
    assert big.metastases["patient_id"].isin(ids).sum() >= 5
    _same_patients(big, small, ids)
    # an offset cohort starting at a patient with more colonies than the first slab
    many = big.patients.loc[big.patients["n_colonies"] > 100, "patient_id"].to_numpy()
    assert many.size > 0
    first = int(many[many < 9990][0])
    offset = simulate_cohort(sc, 10, first_patient=first)
    assert offset.patients["patient_id"].tolist() == list(range(first, first + 10))
    _same_patients(big, offset, np.arange(first, first + 10))


def test_patient_history_does_not_depend_on_thread_count() -> None:
    max_threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at runtime
    if max_threads < 2:
        pytest.skip("numba was started with one thread")
    sc = busy()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_cohort(sc, 1500)
        numba.set_num_threads(2)
        two = simulate_cohort(sc, 1500)
    finally:
        numba.set_num_threads(before)
    assert len(one.metastases) > 1000
    assert (one.metastases["end_reason"] == "adjuvant").sum() > 100
    _same_patients(one, two, one.patients["patient_id"].to_numpy())
    np.testing.assert_array_equal(one.ledger.shed, two.ledger.shed)


# ----------------------------------------------------------------------- 5. surgery, therapy


def test_surgery_removes_the_listed_organs_at_diagnosis() -> None:
    sc = busy(
        surgery={
            "removes_organs": ["axillary_nodes", "lungs"],
            "adjuvant_kill_probability": 0.0,
        }
    )
    res = simulate_cohort(sc, 3000)
    mets = res.metastases
    removed = mets["organ"].isin(["axillary_nodes", "lungs"])
    before = mets["seeded_day"] <= 0.0
    cut = mets[removed & before]
    assert len(cut) > 100 and (cut["organ"] == "lungs").sum() > 50
    assert (cut["end_reason"] == "surgery").all()
    assert (cut["ended_day"] == 0.0).all()
    assert (cut["cells_at_end"] == 0.0).all()
    assert (cut["detected_day"].isna() | (cut["detected_day"] <= 0.0)).all()
    # later lung colonies (secondary seeding after surgery) and other organs stay
    assert (mets.loc[~(removed & before), "end_reason"] != "surgery").all()
    assert (mets.loc[~(removed & before), "ended_day"].isna()).all()
    assert (removed & ~before).any()
    # node status comes from the nodal deposits at surgery
    assert res.patients["node_positive"].any()


def test_adjuvant_therapy_with_certainty_eradicates_every_occult_colony() -> None:
    untreated = simulate_cohort(rich(), 2000)
    res = simulate_cohort(rich(surgery={"adjuvant_kill_probability": 1.0}), 2000)
    pat, mets = res.patients, res.metastases
    occult_before = (mets["seeded_day"] <= 0.0) & (mets["organ"] != "axillary_nodes")
    found_at_dx = mets["detected_day"] <= 0.0
    assert (occult_before & ~found_at_dx).sum() > 100
    killed = mets[occult_before & ~found_at_dx]
    assert (killed["end_reason"] == "adjuvant").all()
    assert (killed["ended_day"] == 0.0).all() and (killed["cells_at_end"] == 0.0).all()
    assert not (mets.loc[occult_before, "detected_day"] > 0.0).any()
    # without metastases at diagnosis nothing is ever found later
    later = pat.loc[~pat["metastatic_at_diagnosis"], "time_to_distant_metastasis_days"]
    assert later.isna().all()
    base = untreated.patients
    assert (
        base.loc[~base["metastatic_at_diagnosis"], "time_to_distant_metastasis_days"]
        .notna()
        .sum()
        > 20
    )


def test_dormancy_delays_outgrowth_by_an_exponential_time() -> None:
    mean = 200.0
    res = simulate_cohort(busy(), 2000)
    mets = res.metastases
    delay = (mets["wake_day"] - mets["seeded_day"]).to_numpy()
    assert delay.size > 2000
    assert stats.kstest(delay, "expon", args=(0.0, mean)).pvalue > 1e-3
    # asleep at the end: still the founding cells; found only after waking
    asleep = ~awake(res, mets) & mets["ended_day"].isna()
    assert asleep.sum() > 10
    np.testing.assert_array_equal(
        mets.loc[asleep, "cells_at_end"], mets.loc[asleep, "founding_cells"]
    )
    seen = mets["detected_day"].notna()
    assert (mets.loc[seen, "detected_day"] > mets.loc[seen, "wake_day"]).all()
    # without dormancy every colony grows from its seeding day
    prompt = simulate_cohort(busy(shedding={"dormancy_mean_days": 0.0}), 300).metastases
    assert len(prompt) > 100
    np.testing.assert_array_equal(prompt["wake_day"], prompt["seeded_day"])


def burden_at(res: CohortResult, day: np.ndarray) -> np.ndarray:
    """Total cells of the colonies alive at ``day`` (days from diagnosis), per patient."""
    mets = res.metastases
    rows = patient_row(res, mets["patient_id"])
    t = day[rows]
    alive = (mets["seeded_day"].to_numpy() <= t) & ~(mets["ended_day"].to_numpy() <= t)
    size = cells_after(
        _body.LAW_GOMPERTZ,
        mets["founding_cells"].to_numpy(),
        colony_rate(res, mets),
        PLATEAU,
        0.5,
        t - mets["wake_day"].to_numpy(),
    )
    return np.bincount(
        rows, weights=np.where(alive, size, 0.0), minlength=len(res.patients)
    )


def test_burden_death_when_the_burden_reaches_the_lethal_size() -> None:
    res = simulate_cohort(exact_ledger(7), 1000)
    pat = res.patients
    lethal = res.scenario.detection.lethal_burden_cells
    dt = res.scenario.time_step_days
    dead = pat["death_observed"].to_numpy()
    assert 100 < dead.sum() < len(pat)
    end = pat["follow_up_days"].to_numpy()
    np.testing.assert_array_equal(pat["time_to_death_days"].notna(), dead)
    assert (pat.loc[dead, "burden_cells_at_end"] >= lethal).all()
    assert (pat.loc[~dead, "burden_cells_at_end"] < lethal).all()
    # closed-form burden from the colony table: at death it is lethal, a step before not
    at_death = burden_at(res, end)
    np.testing.assert_allclose(at_death, pat["burden_cells_at_end"], rtol=1e-9)
    late = dead & (end > dt + 1e-9)
    step_before = burden_at(res, end - dt)
    assert late.sum() > 50
    assert (step_before[late] < lethal).all()


def _exposure_by_state(
    res: CohortResult, organs: tuple[str, str]
) -> dict[str, tuple[int, float]]:
    """Deaths and days at risk while the detected distant sites are {A}, {B}, {A, B}.

    The kernel adds a detected site to the hazard at the first step start (diagnosis +
    k·dt) at or after its detection.
    """
    pat, mets = res.patients, res.metastases
    dt = res.scenario.time_step_days
    n = len(pat)
    end = pat["follow_up_days"].to_numpy()
    died = pat["death_observed"].to_numpy()
    entry = []
    for organ in organs:  # two organs
        seen = mets[(mets["organ"] == organ) & mets["detected_day"].notna()]
        first = np.full(n, np.inf)
        np.minimum.at(
            first, patient_row(res, seen["patient_id"]), seen["detected_day"].to_numpy()
        )
        entry.append(np.maximum(np.ceil(first / dt) * dt, 0.0))
    ea, eb = entry
    span = {
        "A": np.maximum(np.minimum(eb, end) - ea, 0.0),
        "B": np.maximum(np.minimum(ea, end) - eb, 0.0),
        "AB": np.maximum(end - np.maximum(ea, eb), 0.0),
    }
    in_a, in_b = ea < end, eb < end
    state_at_death = {"A": in_a & ~in_b, "B": in_b & ~in_a, "AB": in_a & in_b}
    return {
        k: (int((died & state_at_death[k]).sum()), float(span[k].sum())) for k in span
    }


def test_hazard_death_scales_with_the_site_hazard_ratio() -> None:
    hr, median = 3.0, 400.0
    sc = scenario(
        {"liver": 4e-3, "bone_marrow": 4e-3},
        hr={"liver": hr},
        lung_arrest=(0.5, 0.9),
        seed=3,
        death={"model": "hazard", "median_survival_days": median},
    )
    res = simulate_cohort(sc, 4000)
    h0 = math.log(2.0) / median
    got = _exposure_by_state(res, ("liver", "bone_marrow"))
    expected_rate = {"A": h0 * hr, "B": h0, "AB": h0 * hr}
    for state in ("A", "B"):
        deaths, days = got[state]
        assert deaths > 100, (state, deaths)
        mean = expected_rate[state] * days
        assert abs(deaths - mean) < 4.0 * math.sqrt(mean), (state, deaths, mean)
    # the ratio of the exponential MLEs, with its CI on the log scale
    (da, ta), (db, tb) = got["A"], got["B"]
    log_ratio = math.log((da / ta) / (db / tb))
    assert abs(log_ratio - math.log(hr)) < 4.0 * math.sqrt(1.0 / da + 1.0 / db)
    # nobody dies before a distant metastasis is found
    pat = res.patients
    dead = pat["death_observed"]
    assert pat.loc[dead, "time_to_distant_metastasis_days"].notna().all()
    assert (
        pat.loc[dead, "time_to_death_days"]
        >= pat.loc[dead, "time_to_distant_metastasis_days"]
    ).all()


def test_no_colony_is_seeded_after_death() -> None:
    res = simulate_cohort(busy(), 3000)
    mets = res.metastases
    assert res.patients["death_observed"].sum() > 500
    end = res.patients["follow_up_days"].to_numpy()[
        patient_row(res, mets["patient_id"])
    ]
    late = mets[mets["seeded_day"].to_numpy() > end]
    assert late.empty, f"{len(late)} colonies seeded after the patient's end"


def test_crowded_patients_do_not_reserve_rows_for_the_largest_one() -> None:
    sc = scenario(
        {"axillary_nodes": 0.02, "lungs": 2e-3},
        seed=2,
        shedding={"patient_sigma_log": 2.5},  # heavy tail of colonies per patient
        death={"model": "burden"},
        detection={"lethal_burden_cells": 1.0e10},
        max_colonies_per_patient=1_000_000,
    )
    n = 1000
    tracemalloc.start()
    try:
        res = simulate_cohort(sc, n)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    counts = res.patients["n_colonies"]
    assert counts.max() > 50 * cohort_module.SLAB_COLONIES and (counts > 64).sum() > 100
    row_bytes = _body.N_COLONY_COLS * 8
    needed = (len(res.metastases) + n * cohort_module.SLAB_COLONIES) * row_bytes
    assert peak < 6 * needed, f"peak {peak / 1e6:.0f} MB for {needed / 1e6:.0f} MB"


# ----------------------------------------------------------------------- 6. bad input


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cohort.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("yaml_text", "pattern"),
    [
        (
            "seed: 3\nshedding:\n  hazard_per_day: -0.1\n",
            r"^cohort\.yaml:3: shedding\.hazard_per_day = -0\.1: must be >= 0 \(1/day\)",
        ),
        (
            "growth:\n  law: gompertz\n  gompertz_rate_median_per_day: -0.001\n",
            r"^cohort\.yaml:3: growth\.gompertz_rate_median_per_day = -0\.001: must be > 0",
        ),
        (
            "shedding:\n  hazard_per_day: 0.003\n  viable_fraction: 1.5\n",
            r"^cohort\.yaml:3: shedding\.viable_fraction = 1\.5: must be <= 1",
        ),
        (
            "surgery:\n  adjuvant_kill_probability: 1.2\n",
            r"^cohort\.yaml:2: surgery\.adjuvant_kill_probability = 1\.2: must be <= 1",
        ),
        ("patients: 0\n", r"^cohort\.yaml:1: patients = 0: must be >= 1"),
        (
            "ddr2:\n  intravasation_intercept: 0.5\n  intravasation_slope: 0.7\n",
            r"^cohort\.yaml:3: ddr2\.intravasation_slope: intercept \+ slope = 1\.2 must be 1",
        ),
    ],
    ids=[
        "negative-rate",
        "negative-growth",
        "probability",
        "adjuvant",
        "empty",
        "ddr2",
    ],
)
def test_bad_scenario_names_file_line_and_key(
    tmp_path: Path, yaml_text: str, pattern: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_model(_write(tmp_path, yaml_text), CohortScenario)
    assert re.search(pattern, str(err.value), flags=re.MULTILINE), str(err.value)


def test_bad_organ_probability_in_the_graph_names_the_organ(tmp_path: Path) -> None:
    text = (
        "anatomy:\n"
        "  organs:\n"
        "    - name: breast\n"
        "      kind: primary\n"
        "    - name: lungs\n"
        "      kind: capillary_bed\n"
        "      colonisation_probability: 2.0\n"
        "  edges:\n"
        "    - {source: breast, target: lungs, flow_fraction: 1.0}\n"
        "    - {source: lungs, target: breast, flow_fraction: 1.0}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"cohort\.yaml:7: anatomy\.organs\[1\]\.colonisation_probability = 2\.0: must be <= 1",
    ):
        load_model(_write(tmp_path, text), CohortScenario)


def test_unknown_organ_in_surgery_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown organ 'lung'.*did you mean lungs"):
        scenario({}, surgery={"removes_organs": ["axillary_nodes", "lung"]})


def test_unknown_organ_in_surgery_names_its_line(tmp_path: Path) -> None:
    text = "seed: 1\nsurgery:\n  removes_organs:\n    - axillary_nodes\n    - lung\n"
    with pytest.raises(ConfigError) as err:
        load_model(_write(tmp_path, text), CohortScenario)
    assert re.match(
        r"cohort\.yaml:5: surgery\.removes_organs\[1\]( = 'lung')?: unknown organ 'lung'",
        str(err.value),
    ), str(err.value)


def test_empty_cohort_is_refused() -> None:
    sc = scenario({})
    with pytest.raises(ValueError, match=r"patients = 0: a cohort needs at least one"):
        simulate_cohort(sc, 0)
    with pytest.raises(ValueError, match=r"first_patient = -1"):
        simulate_cohort(sc, 5, first_patient=-1)


def test_death_frailty_is_lognormal_with_mean_one() -> None:
    death = {"model": "hazard_or_burden", "frailty_sigma_log": 0.9}
    sc = scenario({"lungs": 1e-3}, seed=8, death=death)
    fr = simulate_cohort(sc, 5_000).patients["death_frailty"].to_numpy()
    assert abs(np.log(fr).std() - 0.9) < 0.04  # SE of the SD ≈ 0.009
    assert abs(fr.mean() - 1.0) < 4 * fr.std() / math.sqrt(fr.size)
    off = scenario({"lungs": 1e-3}, seed=8, death={"frailty_sigma_log": 0.0})
    assert (simulate_cohort(off, 100).patients["death_frailty"] == 1.0).all()


def test_ddr2_low_tumours_shed_less_and_metastasise_less() -> None:
    """§10.2 default curves: r_intra(0) = 0.35 scales shedding; m_grow(0) < 1."""
    wt = rich(seed=9)
    ko = rich(seed=9, ddr2={"high_fraction": 0.0, "relative_activity_low": 0.0})
    n = 4000
    a, b = simulate_cohort(wt, n), simulate_cohort(ko, n)
    assert (b.patients["ddr2_relative_activity"] == 0.0).all()
    # same patients (common random numbers): the primary sheds 0.35 × as much
    prim = a.plan.anatomy.primary
    ratio = b.ledger.shed[:, prim].sum() / a.ledger.shed[:, prim].sum()
    assert ratio == pytest.approx(0.35, rel=0.02)
    k_wt = int(a.patients["time_to_distant_metastasis_days"].notna().sum())
    k_ko = int(b.patients["time_to_distant_metastasis_days"].notna().sum())
    assert k_ko < k_wt - 4 * math.sqrt(k_wt + k_ko)
