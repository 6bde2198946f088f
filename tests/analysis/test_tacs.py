"""TACS scoring on synthetic images and simulated fields (SCIENCE.md §6.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metastroma.analysis import (
    Boundary,
    BoundaryError,
    analyse_image,
    boundary_from_mask,
    boundary_from_points,
    nematic_from_angles,
    read_boundary_csv,
    score_tacs_field,
    score_tacs_image,
)
from metastroma.analysis import tacs as tacs_module

N = 200
CX, CY = 90.0, 110.0  # disc centre: column, row (off-centre, so sectors differ)
R_PX = 40.0


def _polar() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:N, 0:N]
    phi = np.arctan2(-(rows - CY), cols - CX)  # y up
    return phi, np.hypot(rows - CY, cols - CX)


def _disc_boundary() -> Boundary:
    t = np.linspace(0.0, 2 * np.pi, 90, endpoint=False)
    return Boundary(np.column_stack([CX + R_PX * np.cos(t), CY - R_PX * np.sin(t)]))


def _noisy(image: np.ndarray) -> np.ndarray:
    return image + np.random.default_rng(11).normal(0.0, 0.1, image.shape)


def test_radial_stripes_around_a_disc_are_tacs3() -> None:
    phi, _ = _polar()
    res = analyse_image(_noisy(np.cos(40 * phi)))  # bright spokes: fibres along radii
    tacs = score_tacs_image(res, _disc_boundary(), band_px=30.0)
    assert tacs.call == "TACS-3"
    assert tacs.tacs3_fraction > 0.9 and tacs.tacs2_fraction < 0.05
    assert np.all(tacs.sector_tacs3_fractions > 0.8)
    assert tacs.n > 5000 and np.all((tacs.beta_deg >= 0) & (tacs.beta_deg <= 90))
    # band: outside the disc, within 30 px of it
    r = np.hypot(tacs.xy[:, 0] - CX, tacs.xy[:, 1] - CY)
    assert r.min() >= R_PX - 1.0 and r.max() <= R_PX + 31.0
    edges, frac = tacs.histogram
    assert len(edges) == 10 and edges[-1] == 90.0 and frac[-1] > 0.5


def test_tangential_rings_around_a_disc_are_tacs2() -> None:
    _, rad = _polar()
    res = analyse_image(_noisy(np.cos(2 * np.pi * rad / 6.0)))
    tacs = score_tacs_image(res, _disc_boundary(), band_px=30.0)
    assert tacs.call == "TACS-2"
    assert tacs.tacs2_fraction > 0.9 and tacs.tacs3_fraction < 0.05
    assert np.median(tacs.beta_deg) < 5.0


def test_mixed_sector_triggers_tacs3_call() -> None:
    # rings everywhere, spokes in one 60° wedge: the call is TACS-3 although overall
    # TACS-2 dominates (SCIENCE.md §6.4: any sector)
    phi, rad = _polar()
    wedge = (phi > np.radians(-90)) & (phi < np.radians(-30))
    image = np.where(wedge, np.cos(40 * phi), np.cos(2 * np.pi * rad / 6.0))
    tacs = score_tacs_image(
        analyse_image(_noisy(image)), _disc_boundary(), band_px=30.0
    )
    assert tacs.tacs2_fraction > tacs.tacs3_fraction
    assert tacs.call == "TACS-3"
    sectors = np.nan_to_num(tacs.sector_tacs3_fractions)
    assert sectors[9] > 0.6 and sectors[1] < 0.1  # 270–300° (wedge) vs 30–60°


def test_boundary_from_mask_follows_the_disc() -> None:
    _, rad = _polar()
    b = boundary_from_mask(rad <= R_PX)
    r = np.hypot(b.points[:, 0] - CX, b.points[:, 1] - CY)
    np.testing.assert_allclose(r, R_PX, atol=1.0)
    with pytest.raises(BoundaryError):
        boundary_from_mask(np.zeros((10, 10), dtype=bool))


def _field_and_cells(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 40×40 field of 10 µm elements, tumour of radius 120 µm at (210, 190) µm."""
    rng = np.random.default_rng(2)
    dx, n, c = 10.0, 40, np.array([210.0, 190.0])
    centres = (np.arange(n) + 0.5) * dx
    x, y = np.meshgrid(centres, centres, indexing="ij")
    phi = np.degrees(np.arctan2(y - c[1], x - c[0]))
    theta = phi if kind == "radial" else phi + 90.0
    theta = theta + rng.normal(0.0, 5.0, theta.shape)
    q_xx, q_xy = nematic_from_angles(theta, 0.8)
    r = 120.0 * np.sqrt(rng.random(3000))
    a = rng.random(3000) * 2 * np.pi
    cells = c + np.column_stack([r * np.cos(a), r * np.sin(a)])
    return q_xx, q_xy, cells


@pytest.mark.parametrize(
    ("kind", "call"), [("radial", "TACS-3"), ("tangential", "TACS-2")]
)
def test_simulated_field_tacs(kind: str, call: str) -> None:
    q_xx, q_xy, cells = _field_and_cells(kind)
    boundary = boundary_from_points(cells, bin_um=10.0)
    r = np.hypot(boundary.points[:, 0] - 210.0, boundary.points[:, 1] - 190.0)
    assert np.all((r > 100.0) & (r < 135.0))  # the edge of a 120 µm disc, ± a bin
    tacs = score_tacs_field(q_xx, q_xy, (0.0, 0.0), 10.0, boundary, band_um=40.0)
    assert tacs.call == call
    assert tacs.n > 100
    if kind == "radial":
        assert tacs.tacs3_fraction > 0.8
    else:
        assert tacs.tacs2_fraction > 0.8 and np.median(tacs.beta_deg) < 10.0


def test_field_density_weights_the_fractions() -> None:
    q_xx, q_xy, cells = _field_and_cells("radial")
    boundary = boundary_from_points(cells, bin_um=10.0)
    # tangential fibres with 9× the collagen in the lower half (y < 190 µm)
    t_xx, t_xy, _ = _field_and_cells("tangential")
    y = (np.arange(40) + 0.5) * 10.0
    lower = np.broadcast_to(y[None, :] < 190.0, q_xx.shape)
    mixed_xx, mixed_xy = np.where(lower, t_xx, q_xx), np.where(lower, t_xy, q_xy)
    rho = np.where(lower, 0.9, 0.1)
    plain = score_tacs_field(mixed_xx, mixed_xy, (0.0, 0.0), 10.0, boundary)
    weighted = score_tacs_field(
        mixed_xx, mixed_xy, (0.0, 0.0), 10.0, boundary, density=rho
    )
    assert weighted.tacs2_fraction > plain.tacs2_fraction + 0.2
    assert plain.call == weighted.call == "TACS-3"  # the upper sectors stay radial


@pytest.mark.parametrize("centre_deg", [270.0, 285.0, 0.0, 15.0])
def test_tacs3_call_does_not_depend_on_where_the_front_lies(centre_deg: float) -> None:
    """Regression: sectors were a fixed grid of twelve from +x (SCIENCE.md §6.4 says any).

    Spokes in a 24° wedge, tangential rings elsewhere, unit weights: a window of 30° that
    holds the wedge reads ~0.87. The fixed grid split a wedge centred on 270° or 0° into
    two sectors of ~0.45 each and called the image TACS-2, but called the same wedge
    TACS-3 at 285° or 15°: the call depended on how the tumour lay in the image.
    """
    phi, rad = _polar()
    d = (np.degrees(phi) - centre_deg + 180.0) % 360.0 - 180.0
    image = np.where(
        np.abs(d) < 12.0, np.cos(40 * phi), 0.5 * np.cos(2 * np.pi * rad / 6.0)
    )
    noisy = image + np.random.default_rng(11).normal(0.0, 0.05, image.shape)
    tacs = score_tacs_image(
        analyse_image(noisy), _disc_boundary(), band_px=30.0, weighting="unit"
    )
    assert tacs.tacs2_fraction > 0.85  # overall the rings dominate
    assert tacs.call == "TACS-3"
    assert tacs.max_sector_tacs3_fraction > 0.8
    off = (tacs.max_sector_centre_deg - centre_deg + 180.0) % 360.0 - 180.0
    assert abs(off) < 5.0
    # the fixed sectors stay a descriptive table: here none of them passes 0.5
    if centre_deg in (270.0, 0.0):
        assert np.nanmax(tacs.sector_tacs3_fractions) < 0.5


def test_sector_angle_is_that_of_the_nearest_boundary_point() -> None:
    """Hand-computed ψ around a 100 µm square centred at the origin (band 40 µm).

    An element's boundary sector is that of the boundary point nearest to it, not its
    own polar angle: (85, 35) sits beside the right edge at (50, 35), ψ = 34.99°, where
    its own angle (22.4°) would put it in the 0–30° sector.
    """
    square = Boundary(
        np.array([[-50.0, -50.0], [50.0, -50.0], [50.0, 50.0], [-50.0, 50.0]])
    )
    theta = np.zeros((20, 20))  # 10 µm elements from −100 µm, centres at −95 … 95
    q_xx, q_xy = nematic_from_angles(theta, 1.0)
    tacs = score_tacs_field(q_xx, q_xy, -100.0, 10.0, square, band_um=40.0)
    psi = {tuple(p): a for p, a in zip(tacs.xy, tacs.sector_angle_deg, strict=True)}
    assert psi[(85.0, 35.0)] == pytest.approx(np.degrees(np.arctan2(35.0, 50.0)))
    assert psi[(75.0, 75.0)] == pytest.approx(45.0)  # beyond the corner: the corner
    assert psi[(-45.0, -85.0)] == pytest.approx(  # own angle 242.1°: sector 240–270°
        np.degrees(np.arctan2(-50.0, -45.0)) + 360.0
    )
    assert psi[(85.0, -5.0)] == pytest.approx(
        360.0 + np.degrees(np.arctan2(-5.0, 50.0))
    )
    # horizontal fibres: TACS-2 along the top and bottom, TACS-3 beside the sides
    x, y = np.abs(tacs.xy).T
    assert tacs.beta_deg[(y > 50.0) & (x < 50.0)].max() < 1e-9
    assert tacs.beta_deg[(x > 50.0) & (y < 50.0)].min() > 90.0 - 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_sector_equals_brute_force_over_all_starts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    psi = (
        rng.integers(0, 720, 300) * 0.5
    )  # on a 0.5° grid: a 0.05° scan sees all windows
    psi = np.concatenate([psi, rng.normal(100.0, 4.0, 60) % 360.0 // 0.5 * 0.5])
    weights = rng.random(psi.size)
    is3 = rng.random(psi.size) < np.where(np.abs(psi - 100.0) < 20.0, 0.8, 0.3)
    best, centre = tacs_module._best_sector(psi, weights, is3, 30.0, 25)
    brute = -1.0
    for s in np.arange(0.0, 360.0, 0.05):  # a loop over window starts, not data
        m = (psi - s) % 360.0 < 30.0
        if m.sum() >= 25:
            brute = max(brute, weights[m & is3].sum() / weights[m].sum())
    assert best == pytest.approx(brute, rel=1e-12)
    m = (psi - (centre - 15.0)) % 360.0 < 30.0
    assert weights[m & is3].sum() / weights[m].sum() == pytest.approx(best, rel=1e-12)
    none = tacs_module._best_sector(psi, weights, is3, 30.0, psi.size + 1)
    assert all(np.isnan(none))


def _csv_boundary(path: Path, points: np.ndarray) -> Boundary:
    path.write_text("".join(f"{x:g},{y:g}\n" for x, y in points), encoding="utf-8")
    return read_boundary_csv(path, image_shape=(N, N))


def test_repeated_vertices_do_not_change_the_score(tmp_path: Path) -> None:
    """Regression: a repeated vertex made a zero-length segment with a 0° "tangent".

    A diamond around the disc, its first vertex given twice: the band pixels nearest to
    that vertex were scored against the zero-length segment (β from a 0° tangent, where
    the edges there run at ±45°).
    """
    diamond = np.array([[90.0, 60.0], [140.0, 110.0], [90.0, 160.0], [40.0, 110.0]])
    repeated = np.repeat(diamond, [2, 1, 3, 1], axis=0)
    phi, _ = _polar()
    res = analyse_image(_noisy(np.cos(40 * phi)))
    clean = score_tacs_image(res, _csv_boundary(tmp_path / "a.csv", diamond), 20.0)
    twice = score_tacs_image(res, _csv_boundary(tmp_path / "b.csv", repeated), 20.0)
    np.testing.assert_array_equal(clean.xy, twice.xy)
    np.testing.assert_allclose(twice.beta_deg, clean.beta_deg, atol=1e-9)
    with pytest.raises(BoundaryError, match="3 distinct points, got 2"):
        _csv_boundary(
            tmp_path / "c.csv", np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]])
        )


def test_a_boundary_closed_in_its_file_stays_closed(tmp_path: Path) -> None:
    """Regression: a polygon that repeats its first point was opened near the border.

    Both ends of a polyline near the image border mean "the tumour continues outside"
    (an open boundary); but a file that ends on its first point has closed the polygon
    itself, and its last edge is tumour edge.
    """
    box = np.array([[3.0, 3.0], [60.0, 3.0], [60.0, 60.0], [3.0, 60.0]])
    assert _csv_boundary(tmp_path / "open.csv", box).closed is False
    closed = _csv_boundary(tmp_path / "closed.csv", np.vstack([box, box[:1]]))
    assert closed.closed is True
    np.testing.assert_array_equal(closed.points, box)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"q_xx": np.full((20, 20), np.nan)}, "finite"),
        ({"q_xx": np.full((20, 20), 0.6)}, "anisotropy"),
        ({"density": -np.ones((20, 20))}, "density must be >= 0"),
        ({"density": np.ones((20, 21))}, "shape"),
        ({"lower_um": (0.0, 0.0, 0.0)}, "lower_um"),
        ({"dx_um": 0.0}, "dx_um"),
    ],
)
def test_score_tacs_field_refuses_bad_fields(
    change: dict[str, object], match: str
) -> None:
    """Regression: NaN tensors were dropped silently and negative densities accepted."""
    square = Boundary(
        np.array([[-50.0, -50.0], [50.0, -50.0], [50.0, 50.0], [-50.0, 50.0]])
    )
    q_xx, q_xy = nematic_from_angles(np.zeros((20, 20)), 1.0)
    kwargs = {"q_xx": q_xx, "q_xy": q_xy, "lower_um": -100.0, "dx_um": 10.0}
    kwargs |= change
    with pytest.raises(ValueError, match=match):
        score_tacs_field(boundary=square, **kwargs)
