"""Simulated field → rendered image → structure tensor equals the field's own numbers."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import angle_diff
from scipy import ndimage as ndi
from scipy.stats import spearmanr

from metastroma.analysis import (
    analyse_image,
    field_alignment,
    nematic_from_angles,
    render_field_image,
)


def smooth_field(
    mean_deg: float, spread_deg: float, anisotropy: float, seed: int, n: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    wobble = ndi.gaussian_filter(rng.normal(size=(n, n)), 3.0, mode="wrap")
    wobble *= spread_deg / wobble.std()
    a = np.clip(
        anisotropy * (1 + 0.2 * ndi.gaussian_filter(rng.normal(size=(n, n)), 3.0)), 0, 1
    )
    return nematic_from_angles(mean_deg + wobble, a)


def test_uniform_field_renders_as_its_angle() -> None:
    q_xx, q_xy = nematic_from_angles(np.full((8, 6), 30.0), 0.9)
    image = render_field_image(q_xx, q_xy)
    assert image.shape == (6 * 16, 8 * 16)  # rows = y, cols = x
    assert angle_diff(analyse_image(image).dominant_angle_deg, 30.0) < 2.0
    # 45°: stripes rising to the right on screen, constant along row + col = const
    q_xx, q_xy = nematic_from_angles(np.full((6, 6), 45.0), 1.0)
    image = render_field_image(q_xx, q_xy, wavelength_px=8.0)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    assert np.std(image[rows + cols == 60]) < 0.1 < np.std(image[rows - cols == 0])


def test_rendered_layout_is_x_right_y_up() -> None:
    theta = np.full((8, 8), 20.0)
    theta[4:, :] = 110.0  # large x: the right half of the image
    res_x = analyse_image(render_field_image(*nematic_from_angles(theta, 1.0)))
    theta = np.full((8, 8), 20.0)
    theta[:, 4:] = 110.0  # large y: the top half of the image (row 0 = top)
    res_y = analyse_image(render_field_image(*nematic_from_angles(theta, 1.0)))
    half = np.zeros(res_x.mask.shape, dtype=bool)
    half[:, 64:] = True  # right half
    assert np.nanmedian(res_x.angle_deg[half]) == pytest.approx(110.0, abs=2.0)
    assert np.nanmedian(res_x.angle_deg[~half]) == pytest.approx(20.0, abs=2.0)
    top = np.zeros(res_y.mask.shape, dtype=bool)
    top[:64] = True
    assert np.nanmedian(res_y.angle_deg[top]) == pytest.approx(110.0, abs=2.0)
    assert np.nanmedian(res_y.angle_deg[~top]) == pytest.approx(20.0, abs=2.0)


@pytest.mark.parametrize("mean_deg", [12.0, 30.0, 70.0, 135.0])
def test_render_analyse_matches_field_alignment(mean_deg: float) -> None:
    anisotropies = [0.15, 0.35, 0.6, 0.85]
    spreads = [16.0, 13.0, 10.0, 7.0]  # field C from ~0.13 to ~0.84
    field_c, image_coh, image_align = [], [], []
    for k, (a, spread) in enumerate(zip(anisotropies, spreads, strict=True)):
        q_xx, q_xy = smooth_field(mean_deg, spread, a, seed=k)
        field = field_alignment(q_xx, q_xy)
        res = analyse_image(render_field_image(q_xx, q_xy, seed=k))
        assert angle_diff(res.dominant_angle_deg, field.dominant_angle_deg) < 2.0
        field_c.append(field.alignment)
        image_coh.append(res.coherency)
        image_align.append(res.alignment)
    assert np.all(np.diff(field_c) > 0)  # the fields do increase in C
    assert spearmanr(field_c, image_coh).statistic == pytest.approx(1.0)
    assert spearmanr(field_c, image_align).statistic == pytest.approx(1.0)


def test_density_scales_contrast_and_bad_inputs_raise() -> None:
    q_xx, q_xy = nematic_from_angles(np.full((4, 4), 0.0), 1.0)
    dense = render_field_image(q_xx, q_xy, density=np.full((4, 4), 1.0))
    sparse = render_field_image(q_xx, q_xy, density=np.full((4, 4), 0.1))
    assert dense.std() > 2 * sparse.std()
    with pytest.raises(ValueError, match="anisotropy"):
        render_field_image(np.ones((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        render_field_image(np.zeros((4, 4)), np.zeros((4, 5)))
