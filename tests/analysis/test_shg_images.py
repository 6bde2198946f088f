"""Real SHG collagen images (uw-loci/curvelets test data, ../shared/data/shg)."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import SHG_TIFS, angle_diff, shg_path

from metastroma.analysis import (
    Boundary,
    ImageAlignment,
    analyse_image,
    analyse_image_file,
    read_boundary_csv,
    read_image,
    score_tacs_image,
)

# Measured with this definition at σ = 2 px (coherency of the summed tensor over the
# foreground, Sobel derivatives, reflect borders); SCIENCE.md §6.2 gives 0.28–0.45.
MEASURED_COHERENCY = {
    "1B-a1.tif": 0.297,
    "1B-a5.tif": 0.448,
    "2B_D9_ROI1.tif": 0.284,
    "2B_D9_ROI2.tif": 0.418,
    "2B_H9_SHG1.tif": 0.440,
}


@pytest.mark.parametrize("name", SHG_TIFS)
def test_shg_coherency_in_regression_range(name: str) -> None:
    res = analyse_image_file(shg_path(name), sigma_px=2.0)
    assert 0.28 <= res.coherency <= 0.45
    assert res.coherency == pytest.approx(MEASURED_COHERENCY[name], abs=0.005)
    assert 0.0 <= res.alignment <= 1.0
    # at most 80 % of the pixels (ties at a zero trace in flat black regions drop out)
    assert 0.5 * res.mask.size < res.n_pixels <= 0.8 * res.mask.size + 1


@pytest.mark.parametrize("name", SHG_TIFS)
def test_shg_stable_over_sigma_1_to_4(name: str) -> None:
    image = read_image(shg_path(name))
    results = [analyse_image(image, sigma_px=s) for s in (1.0, 2.0, 3.0, 4.0)]
    ref = results[1]
    for res in results:
        assert 0.0 <= res.coherency <= 1.0 and 0.0 <= res.alignment <= 1.0
        stable_angle = angle_diff(res.dominant_angle_deg, ref.dominant_angle_deg) < 10.0
        stable_alignment = abs(res.alignment - ref.alignment) < 0.1
        assert stable_angle or stable_alignment


def test_shg_image_is_read_as_grey_in_unit_range() -> None:
    image = read_image(shg_path("2B_D9_ROI1.tif"))
    assert image.shape == (512, 512) and image.dtype == np.float64
    assert 0.0 <= image.min() < image.max() <= 1.0
    rgb = read_image(shg_path("TACS-3a.jpg"))
    assert rgb.shape == (600, 600)


def _tacs3a(sigma_px: float = 2.0) -> tuple[ImageAlignment, Boundary]:
    image = read_image(shg_path("TACS-3a.jpg"))
    boundary = read_boundary_csv(shg_path("TACS-3a_boundary.csv"), image.shape)
    return analyse_image(image, sigma_px=sigma_px), boundary


def test_tacs3a_image_scores_a_tacs3_front_below_the_tumour() -> None:
    """TACS-3a.jpg: fibres run out of the lower edge, the flanks are wrapped.

    Measured at σ = 2 px, band 40 px, energy-weighted, the boundary open (both ends on the
    image's top border): overall TACS-2 fraction 0.49 > TACS-3 fraction 0.15 (the long
    left and right edges run parallel to their fibres). Locally: below the bottom edge
    half the band's fibres are > 60° from the edge (8 % < 15°); along the right edge 62 %
    are < 15°.
    """
    res, boundary = _tacs3a()
    tacs = score_tacs_image(res, boundary, band_px=40.0)
    assert tacs.n > 10_000
    assert boundary.closed is False  # both ends lie on the top border
    assert tacs.tacs2_fraction == pytest.approx(0.49, abs=0.01)
    assert tacs.tacs3_fraction == pytest.approx(0.15, abs=0.01)
    # segment 1 → 2 is (62, 138) → (142, 316) left; 2 → 3 (142, 316) → (250, 330) bottom;
    # 4 → 5 (386, 246) → (412, 22) right
    bottom = tacs.beta_deg[tacs.segment == 2]
    right = tacs.beta_deg[tacs.segment == 4]
    assert bottom.size > 1000 and right.size > 1000
    n_seg = boundary.points.shape[0] - 1  # open: no closing segment along the top
    f3 = [np.mean(tacs.beta_deg[tacs.segment == k] > 60.0) for k in range(n_seg)]
    # measured: bottom TACS-3 fraction 0.50, TACS-2 0.08; right TACS-2 0.62
    assert np.argmax(f3) == 2  # the invasive front is the most TACS-3 edge
    assert np.mean(bottom > 60.0) > 0.45
    assert np.mean(bottom > 60.0) > 4 * np.mean(bottom < 15.0)
    assert np.mean(right < 15.0) > 0.5  # TACS-2 along the right flank
    assert np.mean(right > 60.0) < 0.15


def test_tacs3a_is_called_tacs3_by_the_per_tumour_rule() -> None:
    """The textbook TACS-3 example is called TACS-3 by SCIENCE.md §6.4's sector rule.

    Measured (σ = 2 px, band 40 px, energy weights): the best 30° boundary sector is
    centred at ψ ≈ 262° (below and left of the tumour's centroid, the bottom edge) and
    reads 0.61. It straddles ψ = 270°, so the twelve fixed sectors from +x that the
    rule used before (a regression, see test_tacs.py) split it into halves of at most
    0.41, and the image was called 'none'.
    """
    res, boundary = _tacs3a()
    tacs = score_tacs_image(res, boundary, band_px=40.0)
    assert tacs.call == "TACS-3"
    assert tacs.max_sector_tacs3_fraction == pytest.approx(0.61, abs=0.01)
    assert 255.0 < tacs.max_sector_centre_deg < 270.0
    assert np.nanmax(tacs.sector_tacs3_fractions) < 0.5  # the fixed grid splits it
    # the sector is the bottom edge (142, 316) → (250, 330), up to its tip
    off = (tacs.sector_angle_deg - tacs.max_sector_centre_deg + 180.0) % 360.0 - 180.0
    in_best = np.abs(off) < 15.0
    assert in_best.sum() >= 20
    assert np.mean(tacs.segment[in_best] == 2) > 0.9  # measured 0.95


@pytest.mark.parametrize("band_px", [20.0, 30.0, 40.0, 60.0, 100.0])
@pytest.mark.parametrize("weighting", ["energy", "unit"])
def test_tacs3a_call_holds_over_band_and_weighting(
    band_px: float, weighting: str
) -> None:
    """Not a knife edge: at σ = 2 px every band of 20–100 px (SCIENCE.md §6.4: 20–60 µm,
    ≤ 100 µm in SHG work; the pixel size of TACS-3a.jpg is not recorded) and both weightings
    call TACS-3, the best sector always below the tumour (measured 0.51–0.61). At σ = 1 px
    the unit-weighted call is 'none' (0.45–0.47; docs/alignment.md).
    """
    res, boundary = _tacs3a()
    tacs = score_tacs_image(res, boundary, band_px=band_px, weighting=weighting)
    assert tacs.call == "TACS-3"
    assert 0.5 < tacs.max_sector_tacs3_fraction < 0.65
    assert 255.0 < tacs.max_sector_centre_deg < 270.0
