"""Intravasation at doorways (SCIENCE.md §5.6): hazard, exits, clusters, doorway placement."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from metastroma.config import scenario_from_dict
from metastroma.config.models import CellKind, Scenario
from metastroma.kernels import rng
from metastroma.kernels._cpu_stroma import doorway_hazard, exit_clusters
from metastroma.tissue.simulation import TissueSimulation
from metastroma.tissue.vessels import doorway_positions

R = 8.0  # µm, cell radius in the hand-made cases
SEED, STEP, DT_PH = 3, 120, 6.0


def _hazard(
    pos: np.ndarray,
    doors: np.ndarray,
    *,
    kind: np.ndarray | None = None,
    activity: np.ndarray | None = None,
    aniso: float = 0.0,
    fibre: np.ndarray | None = None,
    ecm_on: bool = True,
    h0: float = 1e-4,
    g_i: float = 1.0,
    g_f: float = 1.0,
    capture: float = 2.0,
    ids: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``doorway_hazard`` over cells in one ECM element covering ±1000 µm."""
    n, dim = pos.shape
    out = {
        "exits": np.ones(n, np.bool_),
        "door_of": np.full(n, 99, np.int64),
        "cos2": np.full(n, -1.0),
        "exposure": np.full(n, -1.0),
    }
    fib = np.zeros((1, dim))
    if fibre is not None:
        fib[0, : fibre.shape[0]] = fibre
    doorway_hazard(
        SEED,
        STEP,
        DT_PH,
        n,
        np.arange(n, dtype=np.int64) if ids is None else ids,
        np.zeros(n, np.int8) if kind is None else kind.astype(np.int8),
        np.zeros(n, np.int8),
        np.ascontiguousarray(pos, dtype=np.float64),
        np.full(n, R),
        np.zeros(n) if activity is None else activity,
        np.ascontiguousarray(doors, dtype=np.float64),
        capture,
        h0,
        g_i,
        g_f,
        ecm_on,
        np.full(dim, -1000.0),
        2000.0,
        np.ones(dim, np.int64),
        np.array([aniso]),
        fib,
        out["exits"],
        out["door_of"],
        out["cos2"],
        out["exposure"],
    )
    return out


@pytest.mark.parametrize(
    ("fibre_deg", "cos2"), [(0.0, 1.0), (90.0, 0.0), (45.0, 0.5), (180.0, 1.0)]
)
def test_exposure_at_a_doorway_is_the_product_of_the_ddr2_and_fibre_factors(
    fibre_deg: float, cos2: float
) -> None:
    a_ddr2, a_fibre, g_i, g_f = 0.4, 0.7, 1.5, 2.0
    t = math.radians(fibre_deg)
    out = _hazard(
        np.array([[3.0, -2.0]]),
        np.array([[13.0, -2.0]]),  # 10 µm along +x, within 2R = 16 µm
        activity=np.array([a_ddr2]),
        aniso=a_fibre,
        fibre=np.array([math.cos(t), math.sin(t)]),
        g_i=g_i,
        g_f=g_f,
    )
    expected = (1 + g_i * a_ddr2) * (1 + g_f * a_fibre * cos2)
    assert out["exposure"][0] == pytest.approx(expected, rel=1e-14, abs=1e-14)
    assert out["cos2"][0] == pytest.approx(cos2, abs=1e-15)
    assert out["door_of"][0] == 0


def test_exposure_without_a_field_is_the_ddr2_factor_only() -> None:
    out = _hazard(
        np.array([[0.0, 0.0]]),
        np.array([[5.0, 5.0]]),
        activity=np.array([0.6]),
        aniso=1.0,
        fibre=np.array([1.0, 0.0]),
        ecm_on=False,
    )
    assert out["exposure"][0] == pytest.approx(1.6, rel=1e-15)
    assert out["cos2"][0] == 0.0


def test_capture_distance_nearest_doorway_and_kind(dim: int) -> None:
    z = [50.0] if dim == 3 else []  # 3D doorways are lines along z: only x–y counts
    pos = np.array(
        [
            [0.0, 0.0, *z],  # 10 µm from door 1, 12 from door 0
            [100.0, 0.0, *z],  # 15.9 µm from door 2: inside 2R = 16
            [100.0, 40.0, *z],  # 16.1 µm from door 3: outside
            [-200.0, 0.0, *z],  # far from every doorway
            [0.0, 1.0, *z],  # an MSC at a doorway
        ]
    )
    doors = np.array([[-12.0, 0.0], [0.0, 10.0], [115.9, 0.0], [100.0, 56.1]])
    kind = np.array([0, 0, 0, 0, CellKind.MSC])
    out = _hazard(pos, doors, kind=kind, aniso=0.5, fibre=np.array([1.0, 0.0]))
    np.testing.assert_array_equal(out["door_of"], [1, 2, -1, -1, -1])
    assert out["exposure"][0] == pytest.approx(1.0, rel=1e-15)  # fibre ⟂ cell→door
    assert out["exposure"][1] == pytest.approx(1.5, rel=1e-15)  # fibre ∥ cell→door
    np.testing.assert_array_equal(out["exposure"][2:], 0.0)
    np.testing.assert_array_equal(out["cos2"][2:], 0.0)
    assert not out["exits"][2:].any()


def test_exits_are_the_draws_below_one_minus_exp_of_minus_h_dt() -> None:
    n = 2000
    g = np.random.default_rng(6)
    ang = g.uniform(0, 2 * np.pi, n)
    r = 14.0 * np.sqrt(g.uniform(0, 1, n))
    pos = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)
    act = g.uniform(0, 1, n)
    ids = g.permutation(10 * n)[:n].astype(np.int64)
    h0 = 0.03
    out = _hazard(
        pos,
        np.zeros((1, 2)),
        activity=act,
        aniso=0.8,
        fibre=np.array([0.0, 1.0]),
        h0=h0,
        ids=ids,
    )
    assert np.all(out["door_of"] == 0)
    c2 = pos[:, 1] ** 2 / (pos**2).sum(1)
    hz = (1 + act) * (1 + 0.8 * c2)
    np.testing.assert_allclose(out["exposure"], hz, rtol=1e-13)
    p = 1 - np.exp(-h0 * hz * DT_PH)
    u = np.array([rng.uniform01(SEED, STEP, int(i), rng.INTRAVASATION) for i in ids])
    np.testing.assert_array_equal(out["exits"], u < p)
    assert 200 < out["exits"].sum() < n - 200


# ------------------------------------------------------------------ clusters


def _clusters(
    pos: np.ndarray,
    kind: np.ndarray,
    ids: np.ndarray,
    exits: np.ndarray,
    p_cluster: float,
    state: np.ndarray | None = None,
) -> tuple[int, np.ndarray]:
    """``exit_clusters`` with every cell in one neighbour bin."""
    n, dim = pos.shape
    leader_of = np.full(n, 77, np.int64)
    n_ev = exit_clusters(
        SEED,
        STEP,
        n,
        ids.astype(np.int64),
        kind.astype(np.int8),
        np.zeros(n, np.int8) if state is None else state.astype(np.int8),
        np.ascontiguousarray(pos, dtype=np.float64),
        np.full(n, R),
        np.array([1.25, 1.5, 1.25]),
        exits,
        p_cluster,
        np.ones(dim, np.int64),
        np.array([0, n], np.int64),
        np.arange(n, dtype=np.int64),
        np.zeros(n, np.int64),
        leader_of,
    )
    return n_ev, leader_of


# contact distance between two cancer cells: 1.25 (8 + 8) = 20 µm
CL_POS = np.array(
    [
        [25.0, 0.0],  # 0: cancer, touches 1 only (not the leader): stays
        [15.0, 0.0],  # 1: cancer touching leader 2
        [0.0, 0.0],  # 2: leader, id 5
        [10.0, 5.0],  # 3: MSC touching the leader: stays
        [0.0, 12.0],  # 4: dead cancer touching the leader: stays
        [0.0, -18.0],  # 5: second leader, id 9, touching the first
        [0.0, -36.0],  # 6: cancer touching only the second leader
    ]
)
CL_KIND = np.array([0, 0, 0, CellKind.MSC, 0, 0, 0])
CL_IDS = np.array([11, 12, 5, 13, 14, 9, 15])
CL_STATE = np.array([0, 0, 0, 0, 1, 0, 0])
CL_EXITS = np.array([False, False, True, False, False, True, False])


def test_clusters_take_only_live_cancer_cells_in_contact_with_the_leader() -> None:
    n_ev, leader_of = _clusters(CL_POS, CL_KIND, CL_IDS, CL_EXITS, 1.0, CL_STATE)
    # the lower id leads and takes the second leader along (it touches it)
    assert n_ev == 1
    np.testing.assert_array_equal(leader_of, [-1, 2, 2, -1, -1, 2, -1])


def test_without_clusters_each_leader_leaves_alone() -> None:
    n_ev, leader_of = _clusters(CL_POS, CL_KIND, CL_IDS, CL_EXITS, 0.0, CL_STATE)
    assert n_ev == 2
    np.testing.assert_array_equal(leader_of, [-1, -1, 2, -1, -1, 5, -1])


def test_cluster_leaders_are_taken_in_id_order_not_row_order() -> None:
    ids = CL_IDS.copy()
    ids[5] = 1  # the second leader now has the lower id and goes first
    n_ev, leader_of = _clusters(CL_POS, CL_KIND, ids, CL_EXITS, 1.0, CL_STATE)
    assert n_ev == 1
    np.testing.assert_array_equal(leader_of, [-1, -1, 5, -1, -1, 5, 5])


# ------------------------------------------------------------------ in a simulation

STILL: dict[str, Any] = {
    "motility": {"enabled": False},
    "cycle": {"model": "none"},
    "death": {"apoptosis_per_min": 0.0, "necrosis": "off"},
}


def _scenario(
    doors: list[list[float]], *, fields_on: bool = True, **intra: Any
) -> Scenario:
    return scenario_from_dict(
        {
            "seed": 21,
            "domain": {"lower_um": [-200, -200], "upper_um": [200, 200]},
            "time": {"duration_min": 600},
            "oxygen": {"enabled": False},
            "cell_types": {"cancer": STILL, "msc": STILL},
            "initial_cells": [
                {"kind": "cancer", "n_cells": 150, "relax_overlaps": True},
                {
                    "kind": "msc",
                    "n_cells": 7,
                    "relax_overlaps": True,
                    "center_um": [0.0, 150.0],
                },
            ],
            "ddr2": {"enabled": fields_on},
            "ecm": {"enabled": fields_on, "remodelling": "off"},
            "intravasation": {
                "enabled": True,
                "doorway_density_per_mm2": 0.0,
                "doorway_positions_um": doors,
                **intra,
            },
        },
        "exits",
    )


DOORS = [
    [1.3, 0.7],
    [50.0, 30.0],
    [-60.0, -40.0],
    [0.4, 150.2],
    [-80.0, 60.0],
]  # off-lattice


def _snapshot(sim: TissueSimulation) -> dict[int, tuple[int, np.ndarray, float]]:
    c = sim.cells
    return {
        int(i): (int(k), p.copy(), float(r))
        for i, k, p, r in zip(
            c.live("cell_id"),
            c.live("kind"),
            c.live("pos_um"),
            c.live("radius_um"),
            strict=True,
        )
    }


@pytest.mark.parametrize("p_cluster", [1.0, 0.3])
def test_exits_remove_exactly_the_cells_named_in_the_events(p_cluster: float) -> None:
    sc = _scenario(DOORS, base_hazard_per_min=0.2, cluster_probability=p_cluster)
    sim = TissueSimulation.from_scenario(sc)
    doors = np.asarray(DOORS)
    np.testing.assert_array_equal(sim.doors, doors)
    reach = sim.mech.reach
    all_events: list[dict[str, Any]] = []
    for _ in range(4):
        before = _snapshot(sim)
        n_before = sim.cells.n_live
        events = sim.advance_block().events
        after = set(sim.cells.live("cell_id").tolist())
        left: list[int] = []
        for ev in events:
            ids = ev["cell_ids"]
            left += ids
            assert ev["cluster_size"] == len(ids)
            assert ids == sorted(ids)
            lead = ev["leader_id"]
            assert lead in ids
            k_l, p_l, r_l = before[lead]
            assert k_l == CellKind.CANCER
            assert (ev["x_um"], ev["y_um"]) == (p_l[0], p_l[1])
            door = doors[ev["doorway"]]
            dist = np.hypot(*(p_l[:2] - door))
            assert dist < sc.intravasation.capture_radii * r_l
            # nearest doorway
            assert dist == pytest.approx(np.hypot(*(p_l[:2] - doors).T).min())
            for j in ids:
                k, p, r = before[j]
                assert k == CellKind.CANCER
                if j != lead:
                    s_ij = reach[CellKind.CANCER] * (r + r_l)
                    assert np.linalg.norm(p - p_l) < s_ij
        assert len(left) == len(set(left))
        assert not (set(left) & after)
        assert set(before) - after == set(left)
        assert n_before - sim.cells.n_live == len(left)
        all_events += events
    assert len(all_events) >= 4
    c = sim.counters
    assert c.events == len(all_events)
    assert c.cells == sum(ev["cluster_size"] for ev in all_events)
    np.testing.assert_array_equal(
        [ev["event"] for ev in all_events], np.arange(len(all_events))
    )
    # every MSC is still there, one of them sat on a doorway
    assert np.count_nonzero(sim.cells.live("kind") == CellKind.MSC) == 7
    if p_cluster == 1.0:
        assert max(ev["cluster_size"] for ev in all_events) > 1


def test_exposure_counter_sums_h_over_h0_of_the_cells_at_doorways() -> None:
    # DDR2 off and no collagen: h/h₀ = 1 for each cancer cell within 2R of a doorway
    sc = _scenario(DOORS, fields_on=False, base_hazard_per_min=0.0)
    sim = TissueSimulation.from_scenario(sc)
    c = sim.cells
    cancer = c.live("kind") == CellKind.CANCER
    pos = c.live("pos_um")[cancer]
    d = np.sqrt(((pos[:, None, :2] - np.asarray(DOORS)[None]) ** 2).sum(-1)).min(1)
    at_door = int(np.count_nonzero(d < 2 * c.live("radius_um")[cancer]))
    assert at_door >= 3
    sim.advance_block()
    assert sim.counters.events == 0  # h₀ = 0
    assert sim.counters.exposure_min == pytest.approx(
        at_door * sc.time.dt_phenotype_min
    )
    assert sim.counters.cancer_cell_min == pytest.approx(150 * sc.time.dt_phenotype_min)


# ------------------------------------------------------------------ doorway placement


def _door_scenario(
    extent: tuple[float, float], density: float, **intra: Any
) -> Scenario:
    return scenario_from_dict(
        {
            "seed": intra.pop("seed", 1),
            "domain": {"lower_um": [0.0, 0.0], "upper_um": list(extent)},
            "oxygen": {"enabled": False},
            "intravasation": {
                "enabled": True,
                "doorway_density_per_mm2": density,
                **intra,
            },
        },
        "doors",
    )


@pytest.mark.parametrize(
    ("extent", "density", "expected"),
    [
        ((1000.0, 1000.0), 10.0, 10),
        ((2000.0, 1000.0), 2.6, 5),  # 5.2
        ((1200.0, 1000.0), 2.0, 2),  # 2.4
        ((1000.0, 600.0), 20.0, 12),
        ((400.0, 400.0), 2.5, 0),  # 0.4
        ((1000.0, 1000.0), 3.8, 4),  # rounded, not truncated
        ((1000.0, 500.0), 3.4, 2),  # 1.7
    ],
)
def test_doorway_count_is_the_rounded_expected_number(
    extent: tuple[float, float], density: float, expected: int
) -> None:
    d = doorway_positions(_door_scenario(extent, density))
    assert d.shape == (expected, 2)
    assert np.all((d >= 0) & (d <= np.asarray(extent)))


def test_doorways_respect_the_exclusion_radius_and_the_seed() -> None:
    sc = _door_scenario((1000.0, 1000.0), 20.0, exclusion_radius_um=350.0)
    d = doorway_positions(sc)
    assert d.shape == (20, 2)
    assert np.hypot(*(d - 500.0).T).min() >= 350.0
    free = doorway_positions(_door_scenario((1000.0, 1000.0), 20.0))
    assert np.hypot(*(free - 500.0).T).min() < 350.0  # the radius did something
    np.testing.assert_array_equal(doorway_positions(sc), d)
    other = doorway_positions(
        _door_scenario((1000.0, 1000.0), 20.0, exclusion_radius_um=350.0, seed=2)
    )
    assert not np.array_equal(other, d)


def test_given_doorways_and_vessel_doorways_are_appended() -> None:
    sc = _door_scenario(
        (1000.0, 1000.0),
        3.0,
        doorway_positions_um=[[10.0, 20.0], [30.0, 40.0, 99.0]],
        doorways_on_oxygen_vessels=True,
    )
    vessels = np.array([[500.0, 500.0], [700.0, 100.0]])
    d = doorway_positions(sc, vessels)
    assert d.shape == (3 + 2 + 2, 2)
    np.testing.assert_array_equal(d[3:5], [[10.0, 20.0], [30.0, 40.0]])
    np.testing.assert_array_equal(d[5:], vessels)
    no_vessels = _door_scenario((1000.0, 1000.0), 3.0)
    assert doorway_positions(no_vessels, vessels).shape == (3, 2)


def test_doorway_count_rounds_half_up_and_an_impossible_exclusion_is_an_error() -> None:
    from metastroma.config import scenario_from_dict
    from metastroma.tissue.setup import PlacementError
    from metastroma.tissue.vessels import doorway_positions

    box = {"lower_um": [-500.0, -500.0], "upper_um": [500.0, 500.0]}
    sc = scenario_from_dict(
        {"domain": box, "intravasation": {"doorway_density_per_mm2": 2.5}}, "half"
    )
    assert doorway_positions(sc).shape == (3, 2)  # 2.5 doorways in 1 mm² → 3
    bad = scenario_from_dict(
        {"domain": box, "intravasation": {"exclusion_radius_um": 800.0}}, "excl"
    )
    with pytest.raises(PlacementError, match="exclusion_radius_um = 800"):
        doorway_positions(bad)
