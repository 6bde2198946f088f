"""Structure-tensor image analysis: angles, the y-up convention, coherency (SCIENCE.md §6.2)."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import angle_diff, stripes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi
from skimage.feature import structure_tensor

from metastroma.analysis import ImageError, analyse_image, structure_tensor_rc


@pytest.mark.parametrize("theta", [0.0, 30.0, 60.0, 90.0, 135.0])
def test_stripes_give_their_angle(theta: float) -> None:
    res = analyse_image(stripes(theta))
    assert angle_diff(res.dominant_angle_deg, theta) < 1.0
    assert res.coherency > 0.5
    assert res.alignment > 0.5
    assert 0.0 <= res.dominant_angle_deg < 180.0
    # the per-pixel map agrees where the foreground is
    fg_angles = res.angle_deg[res.mask]
    assert np.all(np.isnan(res.angle_deg[~res.mask]))
    d = (fg_angles - theta) % 180.0
    assert np.median(np.minimum(d, 180.0 - d)) < 2.0


def test_horizontal_stripes_are_zero_degrees() -> None:
    rows = np.arange(64, dtype=float)[:, None]
    image = np.sin(2 * np.pi * rows / 8.0) * np.ones(
        (1, 64)
    )  # varies with the row only
    res = analyse_image(image)
    assert angle_diff(res.dominant_angle_deg, 0.0) < 0.01
    assert res.coherency > 0.95


def test_stripes_rising_to_the_right_on_screen_are_45_degrees() -> None:
    # a bright line through (row 63, col 0) … (row 0, col 63): up and right on screen
    rows, cols = np.mgrid[0:64, 0:64]
    image = np.cos(2 * np.pi * (rows + cols) / 8.0)  # constant along row + col = const
    res = analyse_image(image)
    assert angle_diff(res.dominant_angle_deg, 45.0) < 0.01


@pytest.mark.parametrize("theta", [20.0, 45.0, 75.0, 120.0])
def test_flipping_rows_negates_the_angle(theta: float) -> None:
    image = stripes(theta)
    a = analyse_image(image).dominant_angle_deg
    b = analyse_image(image[::-1]).dominant_angle_deg
    assert angle_diff(b, -a) < 0.01
    assert angle_diff(a, b) > 5.0  # not trivially symmetric


@pytest.mark.parametrize("theta", [10.0, 30.0, 75.0])
def test_rot90_shifts_the_angle_by_90(theta: float) -> None:
    image = stripes(theta)
    a = analyse_image(image).dominant_angle_deg
    b = analyse_image(np.rot90(image)).dominant_angle_deg  # counter-clockwise on screen
    assert angle_diff(b, a + 90.0) < 2.0


def test_isotropic_noise_has_low_alignment() -> None:
    rng = np.random.default_rng(7)
    image = ndi.gaussian_filter(rng.normal(size=(256, 256)), 2.0)
    res = analyse_image(image)
    assert res.alignment < 0.1
    assert res.coherency < 0.1


def test_structure_tensor_matches_skimage_reflect() -> None:
    rng = np.random.default_rng(3)
    image = ndi.gaussian_filter(rng.normal(size=(40, 50)), 1.0)
    ours = structure_tensor_rc(image, 1.5)
    ref = structure_tensor(image, sigma=1.5, mode="reflect", order="rc")
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * np.abs(b).max())


def test_coherency_equals_energy_weighted_c_and_maps_are_consistent() -> None:
    rng = np.random.default_rng(5)
    image = stripes(30.0) + 2.0 * ndi.gaussian_filter(rng.normal(size=(128, 128)), 3.0)
    res = analyse_image(image, sigma_px=2.0)
    a_rr, a_rc, a_cc = (x.astype(float) for x in structure_tensor_rc(image, 2.0))
    m = res.mask
    z = (a_rr - a_cc + 2j * a_rc)[m]
    assert res.coherency == pytest.approx(
        abs(z.sum()) / (a_rr + a_cc)[m].sum(), rel=1e-6
    )
    assert res.alignment == pytest.approx(abs(np.mean(z / abs(z))), rel=1e-6)
    np.testing.assert_allclose(res.energy, a_rr + a_cc, rtol=1e-6)  # float32 tensor
    assert res.n_pixels == m.sum() == pytest.approx(0.8 * m.size, abs=2)
    np.testing.assert_allclose(
        res.local_coherency[m], abs(z) / (a_rr + a_cc)[m], rtol=1e-6
    )
    edges, frac = res.histogram
    assert len(edges) == 37 and frac.sum() == pytest.approx(1.0)
    assert np.argmax(frac) in (5, 6)  # 5° bins: the 30° stripes fill 25–35°
    # energy-weighted and unweighted values differ on such an image
    assert abs(res.coherency - res.alignment) > 0.01


def test_mask_restricts_the_analysis() -> None:
    image = np.concatenate([stripes(0.0, (64, 64)), stripes(90.0, (64, 64))], axis=1)
    left = np.zeros(image.shape, dtype=bool)
    left[:, :50] = True
    res = analyse_image(image, mask=left)
    assert angle_diff(res.dominant_angle_deg, 0.0) < 1.0
    assert not res.mask[:, 50:].any()


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan, np.inf])
def test_bad_sigma_raises(sigma: float) -> None:
    with pytest.raises(ImageError, match="sigma_px"):
        analyse_image(stripes(0.0, (32, 32)), sigma_px=sigma)


small_images = arrays(
    np.float64,
    st.tuples(st.integers(8, 20), st.integers(8, 20)),
    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)


@given(small_images, st.floats(0.5, 4.0))
def test_coherency_and_alignment_in_unit_interval(
    image: np.ndarray, sigma: float
) -> None:
    if np.ptp(image) == 0:
        with pytest.raises(ImageError, match="constant"):
            analyse_image(image, sigma_px=sigma)
        return
    try:
        res = analyse_image(image, sigma_px=sigma)
    except ImageError as err:  # a near-flat image can leave no pixel above the quantile
        assert "empty foreground" in str(err)
        return
    assert 0.0 <= res.coherency <= 1.0
    assert 0.0 <= res.alignment <= 1.0
    lc = res.local_coherency[res.mask]
    assert np.all((lc >= 0.0) & (lc <= 1.0))
    ang = res.angle_deg[res.mask]
    assert np.all((ang >= 0.0) & (ang < 180.0))
