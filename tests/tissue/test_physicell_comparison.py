"""The PhysiCell comparison case: same biology, same cell counts over a day.

Reference: PhysiCell 1.14.2's ``template`` project enlarged to 2000 × 2000 µm with 5,000
cells; PhysiCell's own hourly counts are in ``shared/data/physicell_template_5k`` (read
there, never copied into the project). The full case is a validation; a 500-cell version
on 640 × 640 µm (the same density) runs with the suite and is compared with the counts
scaled by 500/5000, within a tolerance from the binomial standard error.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import PHYSICELL_DATA, REPO
from metastroma.config import Scenario, load_scenario
from metastroma.tissue.simulation import TissueSimulation

SCENARIO = REPO / "scenarios" / "physicell_template_5k.yaml"
N_REF = 5000


def _reference() -> tuple[np.ndarray, np.ndarray]:
    path = PHYSICELL_DATA / "cell_counts.csv"
    if not path.is_file():
        pytest.skip(
            f"PhysiCell reference counts not found at {path} (shared/data is absent)"
        )
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, 0], data[:, 1]


def _binomial_se(
    t_min: np.ndarray, ref: np.ndarray, n0: int, r_a: float, d_a: float
) -> np.ndarray:
    """SE of n(t) for n0 initial cells, each contributing 1 + D − A.

    D (divided by t) and A (removed after apoptosis by t) are Bernoulli; their
    probabilities come from the reference itself: a = 1 − exp(−r_A (t − d_A)) for
    t > d_A, d = ref/N_ref − 1 + a. The reference's own sampling error (N_ref cells) is
    added in quadrature, scaled to n0.
    """
    a = np.where(t_min > d_a, 1.0 - np.exp(-r_a * np.maximum(t_min - d_a, 0.0)), 0.0)
    d = np.clip(ref / N_REF - 1.0 + a, 0.0, 1.0)
    per_cell = d * (1 - d) + a * (1 - a)
    return np.sqrt(n0 * per_cell * (1.0 + n0 / N_REF))


def _small_case(base: Scenario) -> Scenario:
    data = base.model_dump()
    data["domain"]["lower_um"] = [-320.0, -320.0]
    data["domain"]["upper_um"] = [320.0, 320.0]
    data["initial_cells"][0]["n_cells"] = 500  # 500/640² ≈ 5000/2000² (2.4 % sparser)
    return Scenario.model_validate(data)


def test_physicell_template_small_matches_scaled_reference() -> None:
    t_ref, n_ref = _reference()
    base = load_scenario(SCENARIO)
    scen = _small_case(base)
    n0 = scen.initial_cells[0].n_cells
    sim = TissueSimulation.from_scenario(scen)
    k = scen.time.mechanics_per_phenotype
    per_hour = round(60.0 / scen.time.dt_phenotype_min)
    counts = {0.0: sim.cells.n_live}
    for block in range(1, round(t_ref[-1] / scen.time.dt_phenotype_min) + 1):
        sim.advance_block()
        if block % per_hour == 0:
            counts[sim.step / k * scen.time.dt_phenotype_min] = sim.cells.n_live
    ours = np.array([counts[t] for t in t_ref], dtype=np.float64)
    expected = n_ref * n0 / N_REF
    death = base.cell_types.cancer.death
    se = _binomial_se(
        t_ref, n_ref, n0, death.apoptosis_per_min, death.apoptosis_duration_min
    )
    tol = np.maximum(4 * se, 0.03 * expected)
    bad = np.abs(ours - expected) > tol
    assert not bad.any(), list(
        zip(t_ref[bad], ours[bad], expected[bad], tol[bad], strict=True)
    )
    # the comparison has teeth: the case doubles most cells within the day
    assert ours[-1] > 1.7 * n0 and np.all(ours[: int(np.argmax(t_ref >= 540))] == n0)


@pytest.mark.validation
def test_physicell_template_5k_matches_reference(tmp_path: Path) -> None:
    from metastroma.runner import run

    t_ref, n_ref = _reference()
    scen = load_scenario(SCENARIO)
    result = run(scen, tmp_path / "pc5k", threads=2)
    assert result.status == "complete"
    t = np.asarray(result.metrics["t_min"])
    n = np.asarray(result.metrics["n_cells"])
    ours = np.array([n[np.flatnonzero(np.isclose(t, tr))[0]] for tr in t_ref])
    rel = np.abs(ours - n_ref) / n_ref
    assert rel.max() < 0.03, list(zip(t_ref, ours, n_ref, strict=True))
    assert math.isclose(ours[0], N_REF)
