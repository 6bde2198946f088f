"""Counter-based random numbers: uniformity, independence of streams/steps/seeds/ids."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from metastroma.kernels import rng

N = 100_000
IDS = np.arange(N, dtype=np.int64)


def test_uniform01_moments_and_range() -> None:
    u = rng.uniform01_many(20240607, 13, IDS, rng.CYCLE)
    assert u.dtype == np.float64 and u.shape == (N,)
    assert u.min() >= 0.0 and u.max() < 1.0
    se_mean = np.sqrt(1.0 / 12.0 / N)
    assert abs(u.mean() - 0.5) < 5 * se_mean
    # Var(s²) ≈ (μ4 − σ⁴)/N with μ4 = 1/80, σ⁴ = 1/144 for U(0, 1)
    se_var = np.sqrt((1.0 / 80.0 - 1.0 / 144.0) / N)
    assert abs(u.var(ddof=1) - 1.0 / 12.0) < 5 * se_var
    # the whole distribution, not just two moments
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_uniform01_has_53_bit_resolution() -> None:
    u = rng.uniform01_many(1, 2, IDS[:1000], rng.MOTILITY_TURN)
    scaled = u * 2.0**53
    np.testing.assert_array_equal(scaled, np.floor(scaled))  # multiples of 2⁻⁵³
    assert np.unique(u).size == u.size


@pytest.mark.parametrize(
    ("label", "a", "b"),
    [
        # (seed, step, stream, id offset) of two sequences over the same ids
        ("streams", (7, 100, rng.MOTILITY_TURN, 0), (7, 100, rng.MOTILITY_DIR_A, 0)),
        (
            "adjacent streams",
            (7, 100, rng.DIVISION_DIR_A, 0),
            (7, 100, rng.DIVISION_DIR_B, 0),
        ),
        ("steps", (7, 100, rng.CYCLE, 0), (7, 101, rng.CYCLE, 0)),
        ("seeds", (7, 100, rng.CYCLE, 0), (8, 100, rng.CYCLE, 0)),
        ("ids", (7, 100, rng.CYCLE, 0), (7, 100, rng.CYCLE, 1)),
        ("step vs id swap", (7, 100, rng.CYCLE, 0), (7, 0, rng.CYCLE, 100)),
        ("seed vs step swap", (0, 7, rng.APOPTOSIS, 0), (7, 0, rng.APOPTOSIS, 0)),
    ],
)
def test_sequences_are_decorrelated(
    label: str, a: tuple[int, int, int, int], b: tuple[int, int, int, int]
) -> None:
    ua = rng.uniform01_many(a[0], a[1], IDS + a[3], a[2])
    ub = rng.uniform01_many(b[0], b[1], IDS + b[3], b[2])
    assert not np.array_equal(ua, ub), label
    # SE of a correlation coefficient over 1e5 pairs is 0.003
    assert abs(np.corrcoef(ua, ub)[0, 1]) < 0.02, label
    # and no shared values beyond chance (float64 collisions: ~0)
    assert np.count_nonzero(ua == ub) < 5, label


def test_uniform01_many_equals_the_scalar_function() -> None:
    ids = np.array([0, 1, 2, 17, 12345, 2**31 - 1, 2**40 + 3, 2**62], dtype=np.int64)
    for seed, step, stream in [
        (0, 0, 1),
        (2**63 - 1, 10**9, rng.VESSEL_Z),
        (42, 7, rng.CYCLE),
    ]:
        many = rng.uniform01_many(seed, step, ids, stream)
        for i, cid in enumerate(ids):
            assert many[i] == rng.uniform01(seed, step, int(cid), stream)


def test_uniform01_depends_only_on_its_arguments() -> None:
    first = rng.uniform01_many(5, 6, IDS[:100], rng.NECROSIS)
    rng.uniform01_many(9, 9, IDS, rng.CYCLE)  # other draws in between change nothing
    np.testing.assert_array_equal(
        rng.uniform01_many(5, 6, IDS[:100], rng.NECROSIS), first
    )
    # a draw keyed by an id does not depend on which other ids are in the batch
    shuffled = np.random.default_rng(0).permutation(IDS[:100])
    np.testing.assert_array_equal(
        rng.uniform01_many(5, 6, shuffled, rng.NECROSIS), first[shuffled]
    )


@njit(cache=True)
def _unit_vectors(seed: int, step: int, n: int, dim: int) -> np.ndarray:
    out = np.empty((n, 3))
    for i in range(n):
        x, y, z = rng.random_unit_vector(
            seed, step, i, rng.MOTILITY_DIR_A, rng.MOTILITY_DIR_B, dim
        )
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z
    return out


def test_random_unit_vector_on_the_circle() -> None:
    v = _unit_vectors(3, 4, N, 2)
    np.testing.assert_allclose(np.linalg.norm(v[:, :2], axis=1), 1.0, rtol=1e-14)
    assert np.all(v[:, 2] == 0.0)  # in-plane
    # uniform angle: cos and sin have mean 0 and variance 1/2
    se = np.sqrt(0.5 / N)
    assert np.all(np.abs(v[:, :2].mean(axis=0)) < 5 * se)
    angle = np.mod(np.arctan2(v[:, 1], v[:, 0]), 2 * np.pi) / (2 * np.pi)
    assert stats.kstest(angle, "uniform").pvalue > 1e-4


def test_random_unit_vector_on_the_sphere() -> None:
    v = _unit_vectors(3, 4, N, 3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-14)
    # uniform on the sphere: each coordinate has mean 0 and variance 1/3;
    # z is uniform on [−1, 1] (Archimedes), Var(z²) = 1/5 − 1/9 = 4/45
    se_mean = np.sqrt(1.0 / 3.0 / N)
    se_var = np.sqrt(4.0 / 45.0 / N)
    for a in range(3):
        assert abs(v[:, a].mean()) < 5 * se_mean, a
        assert abs(np.mean(v[:, a] ** 2) - 1.0 / 3.0) < 5 * se_var, a
    assert stats.kstest((v[:, 2] + 1.0) / 2.0, "uniform").pvalue > 1e-4
    # the azimuth does not depend on the height (independent streams A and B)
    assert abs(np.corrcoef(np.abs(v[:, 2]), np.arctan2(v[:, 1], v[:, 0]))[0, 1]) < 0.02
