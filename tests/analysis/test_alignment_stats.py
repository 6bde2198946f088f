"""Doubled-angle statistics, the nematic tensor, cells (SCIENCE.md §5.1, §6.1, §6.3)."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_helpers import angle_diff
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from metastroma.analysis import (
    angle_histogram,
    angles_from_nematic,
    cell_alignment,
    cell_fibre_agreement,
    doubled_angle_stats,
    field_alignment,
    nematic_from_angles,
)

angles = arrays(np.float64, st.integers(1, 40), elements=st.floats(-720, 720))


def test_hand_computed_values() -> None:
    # 0° and 90° cancel; 0°, 0°, 90° leave C = 1/3 at 0°
    assert doubled_angle_stats([0.0, 90.0]).alignment == pytest.approx(0.0, abs=1e-12)
    s = doubled_angle_stats([0.0, 0.0, 90.0])
    assert s.alignment == pytest.approx(1 / 3)
    assert s.dominant_angle_deg == pytest.approx(0.0, abs=1e-9)
    # axial: 10°, 190° and −170° are one orientation
    s = doubled_angle_stats([10.0, 190.0, -170.0])
    assert s.alignment == pytest.approx(1.0)
    assert s.dominant_angle_deg == pytest.approx(10.0)
    # 170° and 10° average to 0° (mod 180), not 90°
    s = doubled_angle_stats([170.0, 10.0])
    assert angle_diff(s.dominant_angle_deg, 0.0) < 1e-9
    assert s.alignment == pytest.approx(np.cos(np.radians(20.0)))
    # weights and anisotropy: C = |Σ w a e^{2iθ}| / Σ w
    s = doubled_angle_stats([0.0, 90.0], weights=[3.0, 1.0], anisotropy=[0.5, 1.0])
    assert s.alignment == pytest.approx(abs(3 * 0.5 - 1.0) / 4.0)
    assert s.n == 2


def test_empty_gives_nan_with_n_zero() -> None:
    s = doubled_angle_stats([])
    assert s.n == 0 and np.isnan(s.alignment) and np.isnan(s.dominant_angle_deg)


def test_bad_weights_raise() -> None:
    with pytest.raises(ValueError, match="weights"):
        doubled_angle_stats([0.0, 10.0], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        doubled_angle_stats([0.0, np.nan])


@given(angles, st.floats(0.0, 1.0))
def test_alignment_in_unit_interval(theta: np.ndarray, a: float) -> None:
    s = doubled_angle_stats(theta, anisotropy=a)
    assert 0.0 <= s.alignment <= 1.0
    assert np.isnan(s.dominant_angle_deg) or 0.0 <= s.dominant_angle_deg < 180.0


@given(angles, st.floats(0.0, 1.0))
def test_nematic_round_trip(theta: np.ndarray, a: float) -> None:
    q_xx, q_xy = nematic_from_angles(theta, a)
    back, aniso = angles_from_nematic(q_xx, q_xy)
    np.testing.assert_allclose(aniso, a, atol=1e-12)
    assert np.all((back >= 0.0) & (back < 180.0))
    if a > 1e-6:
        d = (back - theta) % 180.0
        np.testing.assert_allclose(np.minimum(d, 180.0 - d), 0.0, atol=1e-7)


@given(st.floats(-360, 360), st.floats(0.0, 1.0), st.integers(1, 12))
def test_uniform_field_alignment_is_its_anisotropy(
    theta: float, a: float, n: int
) -> None:
    q_xx, q_xy = nematic_from_angles(np.full((n, n + 1), theta), a)
    s = field_alignment(q_xx, q_xy, density=np.full((n, n + 1), 0.3))
    assert s.alignment == pytest.approx(a, abs=1e-12)
    assert s.weighting == "density" and s.n == n * (n + 1)
    if a > 1e-6:
        assert angle_diff(s.dominant_angle_deg, theta % 180.0) < 1e-6


@given(angles)
def test_c_is_coherency_of_orientation_tensor(theta: np.ndarray) -> None:
    t = np.radians(theta)
    n = np.stack([np.cos(t), np.sin(t)], axis=1)
    tensor = n.T @ n / len(n)  # ⟨n nᵀ⟩
    lam = np.linalg.eigvalsh(tensor)
    coherency = (lam[1] - lam[0]) / (lam[1] + lam[0])
    assert doubled_angle_stats(theta).alignment == pytest.approx(coherency, abs=1e-9)


def test_field_alignment_density_and_mask() -> None:
    # half the field at 0° (density 3), half at 90° (density 1): C = (3 − 1)/4
    theta = np.zeros((4, 4))
    theta[2:] = 90.0
    rho = np.where(theta == 0.0, 3.0, 1.0)
    q_xx, q_xy = nematic_from_angles(theta, 1.0)
    s = field_alignment(q_xx, q_xy, density=rho)
    assert s.alignment == pytest.approx(0.5)
    assert angle_diff(s.dominant_angle_deg, 0.0) < 1e-9
    s = field_alignment(q_xx, q_xy, mask=theta == 90.0)
    assert s.alignment == pytest.approx(1.0) and s.n == 8
    # unit weights (a shortcut without a weight array) equal density 1 everywhere:
    # 12 elements at 0°, 4 at 90° give C = (12 − 4)/16
    t_xx, t_xy = nematic_from_angles(np.where(np.arange(16) < 12, 0.0, 90.0), 1.0)
    unit = field_alignment(t_xx, t_xy)
    ones = field_alignment(t_xx, t_xy, density=np.ones(16))
    assert unit.weighting == "unit" and unit.n == ones.n == 16
    assert unit.alignment == pytest.approx(0.5) == ones.alignment
    assert unit.dominant_angle_deg == pytest.approx(ones.dominant_angle_deg, abs=1e-12)
    # equal to 2 λ_max of the weighted mean Q
    q_mean = np.array(
        [
            [np.average(q_xx, weights=rho), np.average(q_xy, weights=rho)],
            [np.average(q_xy, weights=rho), -np.average(q_xx, weights=rho)],
        ]
    )
    assert field_alignment(q_xx, q_xy, density=rho).alignment == pytest.approx(
        2 * np.linalg.eigvalsh(q_mean)[1]
    )


def test_cell_alignment_2d_axial_and_zero_vectors_ignored() -> None:
    v = np.array([[1.0, 1.0], [-2.0, -2.0], [0.0, 0.0], [3.0, 3.0]])
    s = cell_alignment(v)
    assert s.n == 3 and s.alignment == pytest.approx(1.0)
    assert s.dominant_angle_deg == pytest.approx(45.0)
    s = cell_alignment(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert s.alignment == pytest.approx(0.0, abs=1e-12)


def test_cell_alignment_3d_projection_weights() -> None:
    # a vertical vector has no in-plane weight; a 45°-tilted one has weight ½
    v = np.array([[0.0, 0.0, 5.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    s = cell_alignment(v)
    assert s.n == 2 and s.weighting == "in-plane"
    assert s.alignment == pytest.approx((1.0 - 0.5) / 1.5)
    assert angle_diff(s.dominant_angle_deg, 0.0) < 1e-9


def test_cell_fibre_agreement() -> None:
    assert cell_fibre_agreement([10.0, 100.0], [190.0, 100.0]) == pytest.approx(1.0)
    assert cell_fibre_agreement([0.0, 45.0], [90.0, 135.0]) == pytest.approx(-1.0)
    assert cell_fibre_agreement([0.0, 0.0], [45.0, 135.0]) == pytest.approx(
        0.0, abs=1e-12
    )


def test_angle_histogram() -> None:
    edges, frac = angle_histogram([1.0, 181.0, 92.0, -1.0], bins=36)
    assert edges[0] == 0.0 and edges[-1] == 180.0 and len(frac) == 36
    assert frac.sum() == pytest.approx(1.0)
    assert frac[0] == pytest.approx(0.5)  # 1° and 181°
    assert frac[18] == pytest.approx(0.25)  # 92°
    assert frac[35] == pytest.approx(0.25)  # −1° ≡ 179°
    _, frac = angle_histogram([10.0, 100.0], weights=[3.0, 1.0], bins=2)
    np.testing.assert_allclose(frac, [0.75, 0.25])
