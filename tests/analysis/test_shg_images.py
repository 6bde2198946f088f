"""Real SHG collagen images (uw-loci/curvelets test data, ../shared/data/shg)."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import SHG_TIFS, angle_diff, shg_path

from metastroma.analysis import (
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


def test_tacs3a_image_scores_a_tacs3_front_below_the_tumour() -> None:
    """TACS-3a.jpg: fibres run out of the lower edge, the flanks are wrapped.

    Measured at σ = 2 px, band 40 px, energy-weighted, the boundary open (both ends on the
    image's top border): overall TACS-2 fraction 0.49 > TACS-3 fraction 0.15 (the long
    left and right edges run parallel to their fibres), and no 30° sector passes 0.5 (the
    best, below the tumour, reads 0.45), so the per-tumour call of SCIENCE.md §6.4 is
    'none'. The issue's expectation (call 'TACS-3') does not hold for this image with this
    rule (see the xfail below and docs/alignment.md); what holds, and is tested, is the
    local picture: below the bottom edge half the band's fibres are > 60° from the edge
    (8 % < 15°), along the right edge 62 % are < 15°.
    """
    image = read_image(shg_path("TACS-3a.jpg"))
    boundary = read_boundary_csv(shg_path("TACS-3a_boundary.csv"), image.shape)
    res = analyse_image(image, sigma_px=2.0)
    tacs = score_tacs_image(res, boundary, band_px=40.0)
    assert tacs.n > 10_000
    assert boundary.closed is False  # both ends lie on the top border
    assert 0.4 < np.nanmax(tacs.sector_tacs3_fractions) < 0.5
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
    assert tacs.call in ("TACS-3", "none")


@pytest.mark.xfail(
    strict=True,
    reason="issue 3 asks for a TACS-3 call on TACS-3a.jpg; with SCIENCE.md §6.4's rule "
    "(TACS-3 fraction > 0.5 in a 30° sector) the best sector reads 0.45: open question",
)
def test_tacs3a_is_called_tacs3_by_the_per_tumour_rule() -> None:
    image = read_image(shg_path("TACS-3a.jpg"))
    boundary = read_boundary_csv(shg_path("TACS-3a_boundary.csv"), image.shape)
    tacs = score_tacs_image(analyse_image(image, sigma_px=2.0), boundary, band_px=40.0)
    assert tacs.call == "TACS-3"
