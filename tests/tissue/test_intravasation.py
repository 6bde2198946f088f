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


# ------------------------------------------------------------------ lymphatic doorways

#: Blood doorways and exits of ``_scenario(DOORS[:2], base_hazard_per_min=0.2,
#: cluster_probability=0.3, doorway_density_per_mm2=20.0)`` over three blocks, recorded
#: at c03dd4a, before lymphatic doorways existed: float.hex of the doorway coordinates,
#: then (step, doorway, leader_id, cell_ids) of each event.
PRE_LYMPH_DOORS = [
    ["0x1.f0059826c0810p+4", "-0x1.7f90a7ea59ee0p+4"],
    ["-0x1.404e36c986e3ep+6", "0x1.d38466216ec54p+6"],
    ["0x1.2eb63ea447fb8p+4", "-0x1.418a526be0508p+7"],
    ["0x1.4cccccccccccdp+0", "0x1.6666666666666p-1"],
    ["0x1.9000000000000p+5", "0x1.e000000000000p+4"],
]
PRE_LYMPH_EVENTS = [
    (0, 0, 10, [10]),
    (0, 0, 24, [24]),
    (0, 0, 28, [14, 28, 32, 40, 44]),
    (0, 4, 30, [12, 16, 26, 30, 34, 42, 46]),
    (0, 4, 72, [70, 72, 84, 96, 108]),
    (60, 3, 0, [0]),
    (60, 3, 2, [1, 2, 6, 7]),
    (60, 3, 4, [3, 4, 8]),
]


def _canon(events: list[dict[str, Any]], **update: Any) -> list[dict[str, Any]]:
    """Events with NaN made comparable (``nan != nan``) and some fields replaced."""
    return [
        {
            k: "nan" if isinstance(v, float) and math.isnan(v) else v
            for k, v in {**e, **update}.items()
        }
        for e in events
    ]


def _run_blocks(sc: Scenario, n_blocks: int) -> tuple[TissueSimulation, list[Any]]:
    sim = TissueSimulation.from_scenario(sc)
    events: list[dict[str, Any]] = []
    for _ in range(n_blocks):
        events += sim.advance_block().events
    return sim, events


def test_lymphatic_doorways_off_leave_blood_doorways_and_exits_as_before() -> None:
    common: dict[str, Any] = {
        "base_hazard_per_min": 0.2,
        "cluster_probability": 0.3,
        "doorway_density_per_mm2": 20.0,  # 0.16 mm² → 3 random doorways
    }
    default, events = _run_blocks(_scenario(DOORS[:2], **common), 3)
    explicit, events_0 = _run_blocks(
        _scenario(
            DOORS[:2],
            lymphatic_doorway_density_per_mm2=0.0,
            lymphatic_doorway_positions_um=[],
            **common,
        ),
        3,
    )
    expected = np.array([[float.fromhex(x) for x in p] for p in PRE_LYMPH_DOORS])
    np.testing.assert_array_equal(default.doors, expected)  # bit for bit
    np.testing.assert_array_equal(explicit.doors, expected)
    np.testing.assert_array_equal(default.door_vessel, np.zeros(5, np.int8))
    got = [(e["step"], e["doorway"], e["leader_id"], e["cell_ids"]) for e in events]
    assert got == PRE_LYMPH_EVENTS
    assert _canon(events_0) == _canon(events)  # every field, floats included
    assert {e["vessel"] for e in events} == {"blood"}
    for sim in (default, explicit):
        c = sim.counters
        assert (c.events, c.cells) == (8, 27)
        assert (c.events_lymph, c.cells_lymph, c.exposure_lymph_min) == (0, 0, 0.0)
    assert explicit.counters.exposure_min == default.counters.exposure_min


@pytest.mark.parametrize(
    ("extent", "density", "expected"),
    [
        ((1000.0, 1000.0), 10.0, 10),
        ((2000.0, 1000.0), 2.6, 5),  # 5.2
        ((1000.0, 500.0), 3.4, 2),  # 1.7
        ((1000.0, 1000.0), 2.5, 3),  # half up
        ((400.0, 400.0), 2.5, 0),  # 0.4
    ],
)
def test_lymphatic_doorway_count_is_the_rounded_expected_number(
    extent: tuple[float, float], density: float, expected: int
) -> None:
    from metastroma.tissue.vessels import Vessel, doorways, lymphatic_doorway_positions

    sc = _door_scenario(
        extent,
        1.0,
        lymphatic_doorway_density_per_mm2=density,
        lymphatic_doorway_positions_um=[[5.0, 6.0, 7.0]],
    )
    lymph = lymphatic_doorway_positions(sc)
    assert lymph.shape == (expected + 1, 2)
    assert np.all((lymph[:-1] >= 0) & (lymph[:-1] <= np.asarray(extent)))
    np.testing.assert_array_equal(lymph[-1], [5.0, 6.0])  # the given one comes last
    xy, vessel = doorways(sc)
    blood = doorway_positions(sc)
    np.testing.assert_array_equal(xy, np.concatenate([blood, lymph]))
    np.testing.assert_array_equal(
        vessel, [Vessel.BLOOD] * blood.shape[0] + [Vessel.LYMPH] * (expected + 1)
    )


def test_lymphatic_doorways_have_their_own_streams_and_respect_the_exclusion() -> None:
    from metastroma.tissue.setup import PlacementError
    from metastroma.tissue.vessels import doorways, lymphatic_doorway_positions

    plain = _door_scenario((1000.0, 1000.0), 20.0, exclusion_radius_um=350.0)
    sc = _door_scenario(
        (1000.0, 1000.0),
        20.0,
        exclusion_radius_um=350.0,
        lymphatic_doorway_density_per_mm2=20.0,
    )
    xy, vessel = doorways(sc)
    assert xy.shape == (40, 2)
    np.testing.assert_array_equal(xy[:20], doorway_positions(plain))  # blood unchanged
    lymph = xy[vessel == 1]
    assert lymph.shape == (20, 2)
    assert np.hypot(*(lymph - 500.0).T).min() >= 350.0
    assert not np.isin(lymph, xy[:20]).any()  # not the blood doorways' draws
    free = lymphatic_doorway_positions(
        _door_scenario((1000.0, 1000.0), 0.0, lymphatic_doorway_density_per_mm2=20.0)
    )
    assert np.hypot(*(free - 500.0).T).min() < 350.0  # the radius did something
    bad = _door_scenario(
        (1000.0, 1000.0),
        0.0,
        exclusion_radius_um=800.0,
        lymphatic_doorway_density_per_mm2=2.0,
    )
    with pytest.raises(PlacementError, match="of the 2 random lymphatic doorways"):
        doorways(bad)


@pytest.mark.parametrize("fields_on", [True, False])
def test_a_lymphatic_doorway_has_the_blood_doorways_hazard(fields_on: bool) -> None:
    # the same five doorways, all blood or all lymphatic: the same exits at the same
    # steps (same seed), only the vessel differs
    kw: dict[str, Any] = {"base_hazard_per_min": 0.2, "cluster_probability": 0.3}
    blood, ev_b = _run_blocks(_scenario(DOORS, fields_on=fields_on, **kw), 3)
    lymph, ev_l = _run_blocks(
        _scenario([], fields_on=fields_on, lymphatic_doorway_positions_um=DOORS, **kw),
        3,
    )
    np.testing.assert_array_equal(lymph.doors, blood.doors)
    np.testing.assert_array_equal(lymph.door_vessel, np.ones(5, np.int8))
    assert len(ev_b) >= 4
    assert {e["vessel"] for e in ev_b} == {"blood"}
    assert {e["vessel"] for e in ev_l} == {"lymph"}
    assert _canon(ev_l, vessel="blood") == _canon(ev_b)
    cb, cl = blood.counters, lymph.counters
    assert (cl.events, cl.cells, cl.exposure_min) == (
        cb.events,
        cb.cells,
        cb.exposure_min,
    )
    assert (cl.events_lymph, cl.cells_lymph) == (cb.events, cb.cells)
    assert cl.exposure_lymph_min == cl.exposure_min > 0
    assert (cb.events_lymph, cb.cells_lymph, cb.exposure_lymph_min) == (0, 0, 0.0)


def test_mixed_doorways_split_exits_and_exposure_by_vessel() -> None:
    # doorways 0–2 blood, 3–4 lymphatic: the same order as DOORS, so the same exits
    kw: dict[str, Any] = {"base_hazard_per_min": 0.2, "cluster_probability": 0.3}
    blood, ev_b = _run_blocks(_scenario(DOORS, **kw), 3)
    mixed, ev_m = _run_blocks(
        _scenario(DOORS[:3], lymphatic_doorway_positions_um=DOORS[3:], **kw), 3
    )
    np.testing.assert_array_equal(mixed.door_vessel, [0, 0, 0, 1, 1])
    for e in ev_m:
        assert e["vessel"] == ("lymph" if e["doorway"] >= 3 else "blood")
    assert _canon(ev_m, vessel="blood") == _canon(ev_b)
    lymph = [e for e in ev_m if e["vessel"] == "lymph"]
    assert 0 < len(lymph) < len(ev_m)  # the case has both
    c = mixed.counters
    assert c.events == len(ev_m)
    assert c.events_lymph == len(lymph)
    assert c.cells == sum(e["cluster_size"] for e in ev_m)
    assert c.cells_lymph == sum(e["cluster_size"] for e in lymph)
    assert 0 < c.exposure_lymph_min < c.exposure_min
    assert c.exposure_min == blood.counters.exposure_min
    # by hand: without DDR2 and collagen h/h₀ = 1 at every doorway (h₀ = 0: no exits)
    still = _scenario(
        DOORS[:3],
        fields_on=False,
        lymphatic_doorway_positions_um=DOORS[3:],
        base_hazard_per_min=0.0,
    )
    sim = TissueSimulation.from_scenario(still)
    cells = sim.cells
    cancer = cells.live("kind") == CellKind.CANCER
    pos = cells.live("pos_um")[cancer][:, :2]
    d2 = ((pos[:, None, :] - np.asarray(DOORS)[None]) ** 2).sum(-1)
    near = d2.min(1) < (2 * cells.live("radius_um")[cancer]) ** 2
    n_lymph = int(np.count_nonzero(near & (d2.argmin(1) >= 3)))
    n_blood = int(np.count_nonzero(near & (d2.argmin(1) < 3)))
    assert n_lymph >= 1 and n_blood >= 1
    sim.advance_block()
    dt = still.time.dt_phenotype_min
    assert sim.counters.exposure_lymph_min == pytest.approx(n_lymph * dt)
    assert sim.counters.exposure_min == pytest.approx((n_lymph + n_blood) * dt)
    # a resumed simulation keeps the split
    back = TissueSimulation.from_state_arrays(mixed.scenario, mixed.state_arrays())
    assert back.counters == mixed.counters


def test_a_run_directory_splits_metrics_and_events_by_vessel(tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    from metastroma.runner import run

    sc = _scenario(
        DOORS[:3],
        lymphatic_doorway_positions_um=DOORS[3:],
        base_hazard_per_min=0.2,
        cluster_probability=0.3,
    )
    sc = scenario_from_dict(
        {
            **sc.model_dump(mode="json"),
            "time": {"duration_min": 180},
            "output": {
                "metrics_every_min": 60,
                "snapshot_every_min": 180,
                "fields_every_min": 180,
                "checkpoint_every_min": 180,
            },
        },
        "split",
    )
    run(sc, tmp_path / "r", threads=1)
    ev = pq.read_table(tmp_path / "r" / "events.parquet").to_pandas()
    m = pq.read_table(tmp_path / "r" / "metrics.parquet").to_pandas().iloc[-1]
    is_lymph = ev["vessel"] == "lymph"
    assert set(ev["vessel"]) == {"blood", "lymph"}
    assert m["exit_events_total"] == len(ev)
    assert m["exit_events_lymph_total"] == is_lymph.sum()
    assert m["exit_cells_total"] == ev["cluster_size"].sum()
    assert m["exit_cells_lymph_total"] == ev["cluster_size"][is_lymph].sum()
    assert 0 < m["door_exposure_lymph_min_total"] < m["door_exposure_min_total"]


def test_a_negative_lymphatic_density_is_refused_naming_the_key(tmp_path: Any) -> None:
    from metastroma.config import load_scenario
    from metastroma.errors import ConfigError

    path = tmp_path / "neg.yaml"
    path.write_text(
        "intravasation:\n  enabled: true\n  lymphatic_doorway_density_per_mm2: -1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    first = str(info.value).splitlines()[0]
    assert first.startswith("neg.yaml:3: ")
    assert "intravasation.lymphatic_doorway_density_per_mm2 = -1" in first
    assert "must be >= 0" in first
    path.write_text(
        "intravasation:\n  lymphatic_doorway_positions_um: [[1.0, .nan]]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="lymphatic_doorway_positions_um"):
        load_scenario(path)
