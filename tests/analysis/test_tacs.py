"""TACS scoring on synthetic images and simulated fields (SCIENCE.md §6.4)."""

from __future__ import annotations

import numpy as np
import pytest

from metastroma.analysis import (
    Boundary,
    BoundaryError,
    analyse_image,
    boundary_from_mask,
    boundary_from_points,
    nematic_from_angles,
    score_tacs_field,
    score_tacs_image,
)

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
