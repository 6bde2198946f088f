"""Synthetic patient and metastasis tables with the cohort simulation's schema.

The values follow known laws (exponential times, fixed site probabilities, a logistic node
status) so that tests of :mod:`metastroma.body.analysis` can compare estimates with truth;
nothing here comes from the simulator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

#: Distant organs and the probability that a metastatic patient ever has each.
SITE_PROBABILITY = {
    "adrenals": 0.05,
    "bone_marrow": 0.6,
    "brain": 0.12,
    "liver": 0.3,
    "lungs": 0.35,
}
#: Hazard ratio of death after metastasis per site involved (log-additive).
SITE_HR = {
    "adrenals": 1.0,
    "bone_marrow": 0.8,
    "brain": 1.9,
    "liver": 2.0,
    "lungs": 1.4,
}


def join_sites(flags: np.ndarray, organs: list[str]) -> np.ndarray:
    """(n, k) bool → (n,) str of the flagged organs, sorted, joined with ';'."""
    order = np.argsort(organs)
    out = np.full(flags.shape[0], "", dtype=object)
    for j in order:  # over organs
        out = np.where(flags[:, j], out + organs[j] + ";", out)
    return np.asarray([s[:-1] if s else s for s in out], dtype=object)


def synthetic_cohort(
    n: int = 2000,
    seed: int = 7,
    follow_up_years: float = 15.0,
    median_os_after_met_months: float = 25.0,
    p_de_novo: float = 0.06,
    p_relapse: float = 0.25,
    mean_relapse_years: float = 4.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A cohort where every law is known; returns (patients, metastases)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.int64)
    diameter = rng.lognormal(np.log(18.0), 0.5, n)
    node = rng.random(n) < 1 / (1 + np.exp(-(diameter - 25.0) / 8.0))
    de_novo = rng.random(n) < p_de_novo
    relapse = ~de_novo & (rng.random(n) < p_relapse)
    fu_end = np.full(n, follow_up_years * DAYS_PER_YEAR)
    t_met = np.full(n, np.nan)
    t_met[de_novo] = 0.0
    t_met[relapse] = rng.exponential(mean_relapse_years * DAYS_PER_YEAR, relapse.sum())
    t_met[t_met > fu_end] = np.nan
    met = np.isfinite(t_met)
    organs = list(SITE_PROBABILITY)
    p = np.array([SITE_PROBABILITY[o] for o in organs])
    flags = (rng.random((n, len(organs))) < p) & met[:, None]
    none = met & ~flags.any(axis=1)
    flags[none, organs.index("bone_marrow")] = True
    first = flags & (rng.random(flags.shape) < 0.7)
    lost = met & ~first.any(axis=1)
    first[lost] = flags[lost]  # at least one site at first detection
    log_hr = flags @ np.log([SITE_HR[o] for o in organs])
    rate = np.log(2) / (median_os_after_met_months * DAYS_PER_MONTH) * np.exp(log_hr)
    t_death = np.where(met, t_met + rng.exponential(1.0 / rate), np.nan)
    died = np.isfinite(t_death) & (t_death <= fu_end)
    fu = np.where(died, t_death, fu_end)
    n_sites = flags.sum(axis=1)
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "diameter_mm_at_diagnosis": diameter,
            "node_positive": node,
            "metastatic_at_diagnosis": de_novo,
            "time_to_distant_metastasis_days": t_met,
            "sites_at_first_metastasis": join_sites(first, organs),
            "sites_ever": join_sites(flags, organs),
            "n_metastases_at_death": n_sites.astype(np.int64),
            "time_to_death_days": np.where(died, t_death, np.nan),
            "death_observed": died,
            "follow_up_days": fu,
            "extra_column": "ignored",
        }
    )
    # one or two metastases per site involved, one nodal deposit per node-positive patient
    pat, org = np.nonzero(flags)
    reps = rng.integers(1, 3, pat.size)
    pat, org = np.repeat(pat, reps), np.repeat(org, reps)
    organ_names = np.asarray(organs, dtype=object)[org]
    node_pat = np.flatnonzero(node)
    all_pat = np.concatenate([pat, node_pat])
    k = all_pat.size
    is_distant = np.concatenate(
        [np.ones(pat.size, bool), np.zeros(node_pat.size, bool)]
    )
    cells = np.where(
        is_distant,
        rng.lognormal(np.log(3e8), 1.5, k),
        rng.lognormal(np.log(1e5), 1.0, k),
    )
    seeded = rng.uniform(-1000.0, 0.0, k)
    detected = np.where(
        is_distant, np.concatenate([t_met[pat], np.full(node_pat.size, np.nan)]), 0.0
    )
    metastases = pd.DataFrame(
        {
            "patient_id": ids[all_pat],
            "organ": np.concatenate(
                [organ_names, np.full(node_pat.size, "axillary_nodes", dtype=object)]
            ),
            "seeded_day": seeded,
            "detected_day": detected,
            "cells_at_end": cells,
            "is_distant": is_distant,
            "generation": np.zeros(k, dtype=np.int64),
        }
    )
    return patients, metastases
