"""The tumour edge on the ECM grid: bulk, signed distance, normals, band, invasion."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

from metastroma.tissue import edge as edge_module
from metastroma.tissue.edge import (
    TumourEdge,
    distance_at,
    invasion_stats,
    tumour_edge,
)

R_CELL = 8.41  # µm, the default cell radius: hexagonal packing at 2 R covers 0.907
ELEMENT = 20.0  # µm
LOWER_2D = np.array([-500.0, -500.0])
SHAPE_2D = (50, 50)
CENTRE_2D = np.array([13.0, -7.0])  # off the element lattice on purpose
R_DISC = 200.0


def hex_disc(radius_um: float, centre_um: np.ndarray) -> np.ndarray:
    """(n, 2) centres of a hexagonally packed disc of touching cells (spacing 2 R)."""
    a = 2.0 * R_CELL
    n = int(np.ceil(radius_um / a)) + 2
    i, j = np.meshgrid(
        np.arange(-n, n + 1), np.arange(-2 * n, 2 * n + 1), indexing="ij"
    )
    xy = np.stack([a * (i + 0.5 * (j % 2)), a * np.sqrt(3.0) / 2.0 * j], axis=-1)
    xy = xy.reshape(-1, 2)
    return xy[np.linalg.norm(xy, axis=1) <= radius_um] + centre_um


def fcc_ball(radius_um: float, centre_um: np.ndarray) -> np.ndarray:
    """(n, 3) centres of a face-centred cubic ball of touching cells (covers 0.74)."""
    a = 2.0 * np.sqrt(2.0) * R_CELL
    n = int(np.ceil(radius_um / a)) + 1
    ax = np.arange(-n, n + 1)
    corners = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    xyz = (a * (corners[:, None, :] + basis[None, :, :])).reshape(-1, 3)
    return xyz[np.linalg.norm(xyz, axis=1) <= radius_um] + centre_um


def centres(lower_um: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(*shape, dim) element centres."""
    idx = np.moveaxis(np.indices(shape), 0, -1)
    return lower_um + (idx + 0.5) * ELEMENT


DISC = hex_disc(R_DISC, CENTRE_2D)


@pytest.fixture(scope="module")
def disc_edge() -> TumourEdge:
    return tumour_edge(DISC, LOWER_2D, ELEMENT, SHAPE_2D)


def _radial(
    lower_um: np.ndarray, shape: tuple[int, ...], centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (*shape) and unit direction (*shape, dim) of element centres from centre."""
    xc = centres(lower_um, shape)
    r = np.linalg.norm(xc - centre, axis=-1)
    return r, (xc - centre) / r[..., None]


def test_disc_radius_and_centre(disc_edge: TumourEdge) -> None:
    assert DISC.shape[0] > 450  # the disc is full: π 200² × 0.907 / (π 8.41²) ≈ 513
    assert abs(disc_edge.radius_um - R_DISC) <= ELEMENT
    area_um2 = disc_edge.inside.sum() * ELEMENT**2
    assert disc_edge.radius_um == pytest.approx(np.sqrt(area_um2 / np.pi), rel=1e-12)
    assert np.linalg.norm(disc_edge.centre_um - CENTRE_2D) <= 10.0
    r, _ = _radial(LOWER_2D, SHAPE_2D, CENTRE_2D)
    assert disc_edge.inside[r < R_DISC - ELEMENT].all()
    assert not disc_edge.inside[r > R_DISC + ELEMENT].any()


def test_disc_signed_distance(disc_edge: TumourEdge) -> None:
    theta = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    u = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    outside = distance_at(
        disc_edge, CENTRE_2D + (R_DISC + 100.0) * u, LOWER_2D, ELEMENT
    )
    np.testing.assert_allclose(outside, 100.0, atol=20.0)
    inside = distance_at(disc_edge, CENTRE_2D + (R_DISC - 100.0) * u, LOWER_2D, ELEMENT)
    np.testing.assert_allclose(inside, -100.0, atol=20.0)
    at_centre = distance_at(disc_edge, CENTRE_2D[None, :], LOWER_2D, ELEMENT)
    np.testing.assert_allclose(at_centre, -R_DISC, atol=20.0)
    assert np.all((disc_edge.distance_um < 0) == disc_edge.inside)


def test_elements_beside_the_edge_are_half_an_element_away(
    disc_edge: TumourEdge,
) -> None:
    inside = disc_edge.inside
    padded = np.pad(inside, 1)
    neighbours = [
        padded[2:, 1:-1],
        padded[:-2, 1:-1],
        padded[1:-1, 2:],
        padded[1:-1, :-2],
    ]
    touches_outside = inside & ~np.logical_and.reduce(neighbours)
    touches_inside = ~inside & np.logical_or.reduce(neighbours)
    assert touches_outside.sum() > 40 and touches_inside.sum() > 40
    np.testing.assert_allclose(disc_edge.distance_um[touches_outside], -ELEMENT / 2)
    np.testing.assert_allclose(disc_edge.distance_um[touches_inside], ELEMENT / 2)


def test_disc_band_is_the_ring_outside_the_edge(disc_edge: TumourEdge) -> None:
    band = disc_edge.band
    r, _ = _radial(LOWER_2D, SHAPE_2D, CENTRE_2D)
    assert not (band & disc_edge.inside).any()
    excess = r[band] - R_DISC
    assert excess.min() > -ELEMENT and excess.max() <= 40.0 + ELEMENT
    # and the band is the whole ring, not a part of it
    assert band[(r - R_DISC > ELEMENT) & (r - R_DISC <= 40.0)].all()
    ring_elements = np.pi * ((R_DISC + 50.0) ** 2 - (R_DISC + 10.0) ** 2) / ELEMENT**2
    assert abs(band.sum() - ring_elements) < 0.25 * ring_elements
    narrow = tumour_edge(DISC, LOWER_2D, ELEMENT, SHAPE_2D, band_um=20.0).band
    assert narrow.sum() < 0.7 * band.sum() and not (narrow & ~band).any()


def test_disc_normals_point_radially_outward(disc_edge: TumourEdge) -> None:
    _, radial = _radial(LOWER_2D, SHAPE_2D, CENTRE_2D)
    n = disc_edge.normal[disc_edge.band]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, rtol=1e-12)
    cos = np.sum(n * radial[disc_edge.band], axis=-1)
    angle_deg = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    assert angle_deg.mean() < 5.0
    assert angle_deg.max() < 15.0
    # a unit vector or nothing; nothing beyond the reach of the smoothing (8 elements of
    # the truncated Gaussian of 2 along each axis, 11.3 along a diagonal, one more for
    # the gradient) from the edge at ~208 µm
    norm = np.linalg.norm(disc_edge.normal, axis=-1)
    assert np.all((np.abs(norm - 1.0) < 1e-12) | (norm == 0.0))
    r, _ = _radial(LOWER_2D, SHAPE_2D, CENTRE_2D)
    far = r > R_DISC + 13 * ELEMENT
    assert far.sum() > 100 and np.all(norm[far] == 0.0)


def test_lone_cell_far_from_the_disc_is_not_tumour(disc_edge: TumourEdge) -> None:
    lone = CENTRE_2D + np.array([R_DISC + 200.0, 0.0])
    edge = tumour_edge(np.vstack([DISC, lone]), LOWER_2D, ELEMENT, SHAPE_2D)
    np.testing.assert_array_equal(edge.inside, disc_edge.inside)
    d = distance_at(edge, lone[None, :], LOWER_2D, ELEMENT)
    np.testing.assert_allclose(d, 200.0, atol=ELEMENT)


def test_dense_clump_away_from_the_disc_is_not_the_bulk(disc_edge: TumourEdge) -> None:
    # 16 cells piled in one element pass the threshold on their own: the largest
    # component, not the threshold, keeps them out of the bulk
    clump_at = CENTRE_2D + np.array([0.0, -(R_DISC + 120.0)])
    clump = clump_at + np.random.default_rng(7).uniform(-4.0, 4.0, size=(16, 2))
    alone = tumour_edge(clump, LOWER_2D, ELEMENT, SHAPE_2D)
    assert alone.inside.sum() >= 4
    edge = tumour_edge(np.vstack([DISC, clump]), LOWER_2D, ELEMENT, SHAPE_2D)
    np.testing.assert_array_equal(edge.inside, disc_edge.inside)
    assert distance_at(edge, clump_at[None, :], LOWER_2D, ELEMENT)[0] > 80.0


def test_hollow_core_is_filled(disc_edge: TumourEdge) -> None:
    hollow = DISC[np.linalg.norm(DISC - CENTRE_2D, axis=1) > 60.0]
    assert DISC.shape[0] - hollow.shape[0] > 30  # a real hole: 120 µm across
    edge = tumour_edge(hollow, LOWER_2D, ELEMENT, SHAPE_2D)
    np.testing.assert_array_equal(edge.inside, disc_edge.inside)
    at_centre = distance_at(edge, CENTRE_2D[None, :], LOWER_2D, ELEMENT)
    np.testing.assert_allclose(at_centre, -R_DISC, atol=20.0)


def test_cell_order_does_not_matter(disc_edge: TumourEdge) -> None:
    shuffled = DISC[np.random.default_rng(3).permutation(DISC.shape[0])]
    edge = tumour_edge(shuffled, LOWER_2D, ELEMENT, SHAPE_2D)
    for got, want in zip(edge, disc_edge, strict=True):
        np.testing.assert_array_equal(got, want)


def test_ball_3d() -> None:
    centre = np.array([5.0, -3.0, 7.0])
    lower, shape = np.full(3, -200.0), (20, 20, 20)
    ball = fcc_ball(120.0, centre)
    assert ball.shape[0] > 2000  # 4/3 π 120³ × 0.74 / (4/3 π 8.41³) ≈ 2150
    edge = tumour_edge(ball, lower, ELEMENT, shape)
    assert abs(edge.radius_um - 120.0) <= ELEMENT
    volume_um3 = edge.inside.sum() * ELEMENT**3
    assert edge.radius_um == pytest.approx(
        np.cbrt(0.75 * volume_um3 / np.pi), rel=1e-12
    )
    assert np.linalg.norm(edge.centre_um - centre) <= 10.0
    assert edge.normal.shape == (*shape, 3)
    u = np.random.default_rng(11).normal(size=(12, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    outside = distance_at(edge, centre + 180.0 * u, lower, ELEMENT)
    np.testing.assert_allclose(outside, 60.0, atol=ELEMENT)
    inside = distance_at(edge, centre + 60.0 * u, lower, ELEMENT)
    np.testing.assert_allclose(inside, -60.0, atol=ELEMENT)
    # deep inside, the distance to the nearest outside element centre − 10 µm finds the
    # innermost step of the staircase edge (here at 118 µm): |d| falls short by ~1 element
    at_centre = distance_at(edge, centre[None, :], lower, ELEMENT)
    np.testing.assert_allclose(at_centre, -120.0, atol=1.25 * ELEMENT)
    _, radial = _radial(lower, shape, centre)
    cos = np.sum(edge.normal[edge.band] * radial[edge.band], axis=-1)
    assert edge.band.sum() > 500 and np.degrees(np.arccos(cos.min())) < 20.0


def test_cells_outside_the_grid_are_binned_at_its_border() -> None:
    beyond = np.array([1000.0, 10.0]) + np.random.default_rng(5).uniform(
        -3.0, 3.0, size=(25, 2)
    )
    edge = tumour_edge(beyond, LOWER_2D, ELEMENT, SHAPE_2D)
    j = int((10.0 - LOWER_2D[1]) // ELEMENT)
    assert edge.inside[-1, j]
    assert not edge.inside[:-3].any()
    # the grid's outer boundary counts as outside: the border element is at the edge
    assert edge.distance_um[-1, j] == -ELEMENT / 2
    assert edge.distance_um[-3, j] == ELEMENT / 2


@pytest.mark.parametrize("dim", [2, 3])
def test_no_cells_means_no_tumour(dim: int) -> None:
    shape = (6,) * dim
    empty = tumour_edge(np.zeros((0, dim)), np.zeros(dim), ELEMENT, shape)
    # one cell alone never reaches min_fraction once smoothed: no tumour either
    single = tumour_edge(np.full((1, dim), 60.0), np.zeros(dim), ELEMENT, shape)
    for edge in (empty, single):
        assert not edge.inside.any() and not edge.band.any()
        assert np.all(edge.distance_um == np.inf)
        assert edge.normal.shape == (*shape, dim) and np.all(edge.normal == 0.0)
        assert np.all(np.isnan(edge.centre_um)) and edge.centre_um.shape == (dim,)
        assert edge.radius_um == 0.0
        d = distance_at(edge, np.full((3, dim), 10.0), np.zeros(dim), ELEMENT)
        assert np.all(d == np.inf)
        stats = invasion_stats(d)
        assert stats["n_invading"] == 0.0
        assert np.isnan(stats["invasion_depth_um"])
        assert np.isnan(stats["invasion_max_um"])
        assert np.isnan(stats["frac_invading"])


def test_distance_at_is_bilinear_and_clamped() -> None:
    shape = (4, 3)
    lower = np.array([0.0, 100.0])
    xc = centres(lower, shape)
    field = 3.0 * xc[..., 0] - 2.0 * xc[..., 1] + 1.0  # bilinear is exact on it
    edge = TumourEdge(
        inside=field < 0.0,
        distance_um=field,
        normal=np.zeros((*shape, 2)),
        band=np.zeros(shape, dtype=np.bool_),
        centre_um=np.zeros(2),
        radius_um=1.0,
    )
    inner = np.array([[10.0, 110.0], [37.5, 125.0], [64.0, 141.0], [33.0, 130.0]])
    want = 3.0 * inner[:, 0] - 2.0 * inner[:, 1] + 1.0
    np.testing.assert_allclose(distance_at(edge, inner, lower, ELEMENT), want)
    # beyond the outermost centres (x 10..70, y 110..150) the value is held
    outer = np.array([[-500.0, 130.0], [500.0, 0.0], [40.0, 900.0]])
    held = np.array([[10.0, 130.0], [70.0, 110.0], [40.0, 150.0]])
    got = distance_at(edge, outer, lower, ELEMENT)
    np.testing.assert_allclose(got, 3.0 * held[:, 0] - 2.0 * held[:, 1] + 1.0)
    assert distance_at(edge, np.zeros((0, 2)), lower, ELEMENT).shape == (0,)


def test_invasion_stats_by_hand() -> None:
    stats = invasion_stats(np.array([-10.0, 5.0, 25.0, 30.0, 100.0]), threshold_um=20.0)
    # positives 5, 25, 30, 100: the 95th percentile sits at 2.85 → 30 + 0.85 × 70
    assert stats["invasion_depth_um"] == pytest.approx(89.5, rel=1e-12)
    assert stats["invasion_max_um"] == 100.0
    assert stats["n_invading"] == 3.0
    assert stats["frac_invading"] == pytest.approx(0.6, rel=1e-12)
    strict = invasion_stats(
        np.array([-10.0, 5.0, 25.0, 30.0, 100.0]), threshold_um=30.0
    )
    assert strict["n_invading"] == 1.0  # d > threshold, strictly
    assert invasion_stats(np.array([-30.0, -1.0, 0.0])) == {
        "invasion_depth_um": 0.0,
        "invasion_max_um": 0.0,
        "n_invading": 0.0,
        "frac_invading": 0.0,
    }
    # cells on the edge (d = 0) are not invading at any depth
    on_edge = invasion_stats(np.array([0.0, 0.0, 0.0, 10.0]), threshold_um=5.0)
    assert on_edge["invasion_depth_um"] == 10.0 and on_edge["n_invading"] == 1.0
    assert on_edge["frac_invading"] == 0.25
    none = invasion_stats(np.zeros(0))
    assert none["n_invading"] == 0.0 and none["invasion_depth_um"] == 0.0
    assert np.isnan(none["frac_invading"])


BAD_EDGE_ARGS: list[tuple[dict[str, Any], str]] = [
    ({"pos_um": np.zeros((3, 3))}, "pos_um"),
    ({"pos_um": np.zeros(4)}, "pos_um"),
    ({"pos_um": np.array([[0.0, np.nan]])}, "pos_um"),
    ({"lower_um": np.zeros(3)}, "lower_um"),
    ({"lower_um": np.array([0.0, np.inf])}, "lower_um"),
    ({"element_um": 0.0}, "element_um"),
    ({"element_um": -20.0}, "element_um"),
    ({"element_um": np.nan}, "element_um"),
    ({"shape": (10,)}, "shape"),
    ({"shape": (10, 10, 10, 10)}, "shape"),
    ({"shape": (10, 0)}, "shape"),
    ({"shape": (10, 2.5)}, "shape"),
    ({"shape": 10}, "shape"),
    ({"band_um": -1.0}, "band_um"),
    ({"cell_radius_um": 0.0}, "cell_radius_um"),
    ({"min_fraction": 0.0}, "min_fraction"),
    ({"min_fraction": 1.5}, "min_fraction"),
    ({"smooth_elements": -1.0}, "smooth_elements"),
]


@pytest.mark.parametrize(("bad", "name"), BAD_EDGE_ARGS)
def test_tumour_edge_rejects_bad_arguments(bad: dict[str, Any], name: str) -> None:
    args: dict[str, Any] = {
        "pos_um": np.zeros((3, 2)),
        "lower_um": np.zeros(2),
        "element_um": ELEMENT,
        "shape": (10, 10),
    }
    args.update(bad)
    with pytest.raises(ValueError, match=rf"^tumour_edge: {name}\b"):
        tumour_edge(**args)


def test_distance_at_and_invasion_stats_reject_bad_arguments(
    disc_edge: TumourEdge,
) -> None:
    with pytest.raises(ValueError, match=r"^distance_at: pos_um\b"):
        distance_at(disc_edge, np.zeros((2, 3)), LOWER_2D, ELEMENT)
    with pytest.raises(ValueError, match=r"^distance_at: lower_um\b"):
        distance_at(disc_edge, np.zeros((2, 2)), np.zeros(3), ELEMENT)
    with pytest.raises(ValueError, match=r"^distance_at: element_um\b"):
        distance_at(disc_edge, np.zeros((2, 2)), LOWER_2D, 0.0)
    with pytest.raises(ValueError, match=r"^invasion_stats: distance_um\b"):
        invasion_stats(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^invasion_stats: distance_um\b"):
        invasion_stats(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"^invasion_stats: distance_um\b"):
        invasion_stats(np.array([1.0, np.inf]))  # +inf only when there is no tumour
    with pytest.raises(ValueError, match=r"^invasion_stats: threshold_um\b"):
        invasion_stats(np.array([1.0]), threshold_um=np.nan)


def test_doctests_of_the_module_pass() -> None:
    result = doctest.testmod(edge_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 8


def test_the_box_around_the_cells_gives_the_whole_grids_edge() -> None:
    """The edge is computed on a box around the cells; near them it equals the edge of a
    grid that is all box, and beyond it the distance is a lower bound."""
    big = tumour_edge(DISC, (-2000.0, -2000.0), ELEMENT, (200, 200))
    small = tumour_edge(DISC, LOWER_2D, ELEMENT, SHAPE_2D)
    off = (
        2000 - 500
    ) // 20  # the small grid's element [0, 0] is the big grid's [75, 75]
    view = (slice(off, off + 50), slice(off, off + 50))
    np.testing.assert_array_equal(big.inside[view], small.inside)
    np.testing.assert_array_equal(big.band[view], small.band)
    near = small.distance_um < 120.0
    np.testing.assert_array_equal(big.distance_um[view][near], small.distance_um[near])
    np.testing.assert_allclose(big.normal[view][small.band], small.normal[small.band])
    assert big.radius_um == small.radius_um
    # far corners: finite lower bounds of the true distance (≈ 2 mm away)
    r, _ = _radial((-2000.0, -2000.0), (200, 200), CENTRE_2D)
    far = ~big.inside & (r > 600.0)
    assert np.isfinite(big.distance_um).all()
    assert (big.distance_um[far] <= r[far] - R_DISC + ELEMENT).all()
    assert (big.distance_um[far] > 200.0).all()
