"""Contact guidance, DDR2 speed gain, density window and persistence (SCIENCE.md §5.5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numba import njit

from metastroma.config import scenario_from_dict
from metastroma.config.models import CellKind
from metastroma.kernels import rng
from metastroma.kernels._cpu_stroma import (
    _guide,
    density_window,
    guided_motility_and_integrate,
)
from metastroma.tissue.ddr2 import guidance_tables


@njit(cache=True)
def _guide_jit(d: np.ndarray, f: np.ndarray, gamma: float) -> np.ndarray:
    dz = d[2] if d.shape[0] == 3 else 0.0
    fz = f[2] if f.shape[0] == 3 else 0.0
    gx, gy, gz = _guide(d[0], d[1], dz, f[0], f[1], fz, gamma)
    out = np.empty(d.shape[0])
    out[0] = gx
    out[1] = gy
    if d.shape[0] == 3:
        out[2] = gz
    return out


def _units(rng_: np.random.Generator, n: int, dim: int) -> np.ndarray:
    u = rng_.normal(0, 1, (n, dim))
    return u / np.linalg.norm(u, axis=1)[:, None]


def _reference(d: np.ndarray, f: np.ndarray, gamma: float) -> np.ndarray:
    """m̃ = (1 − γ) c₁ d_⊥ + c₂ f written with d − c₂ f = c₁ d_⊥."""
    c2 = d @ f
    return (1.0 - gamma) * (d - c2 * f) + c2 * f


# ------------------------------------------------------------------ the projection


def test_projection_matches_the_closed_form(dim: int) -> None:
    g = np.random.default_rng(1 + dim)
    d, f = _units(g, 200, dim), _units(g, 200, dim)
    gam = g.uniform(0, 1, 200)
    for i in range(200):
        m = _guide_jit(d[i], f[i], gam[i])
        np.testing.assert_allclose(m, _reference(d[i], f[i], gam[i]), atol=1e-14)
        c2 = d[i] @ f[i]
        c1 = np.sqrt(max(0.0, 1.0 - c2 * c2))
        norm = np.sqrt((1 - gam[i]) ** 2 * c1**2 + c2**2)
        assert np.linalg.norm(m) == pytest.approx(norm, rel=1e-12, abs=1e-14)
    # direct call from Python agrees with the compiled wrapper
    gx, gy, _ = _guide(
        d[0, 0],
        d[0, 1],
        d[0, 2] if dim == 3 else 0.0,
        f[0, 0],
        f[0, 1],
        f[0, 2] if dim == 3 else 0.0,
        0.3,
    )
    np.testing.assert_allclose([gx, gy], _guide_jit(d[0], f[0], 0.3)[:2], atol=1e-15)


def test_zero_gamma_keeps_the_direction(dim: int) -> None:
    g = np.random.default_rng(10 + dim)
    d, f = _units(g, 100, dim), _units(g, 100, dim)
    for i in range(100):
        np.testing.assert_allclose(_guide_jit(d[i], f[i], 0.0), d[i], atol=1e-15)


def test_full_gamma_moves_along_plus_or_minus_the_fibre(dim: int) -> None:
    g = np.random.default_rng(20 + dim)
    d, f = _units(g, 100, dim), _units(g, 100, dim)
    for i in range(100):
        m = _guide_jit(d[i], f[i], 1.0)
        # m̃ ∥ f with the sign of d·f and length |d·f|
        np.testing.assert_allclose(m, (d[i] @ f[i]) * f[i], atol=1e-15)
        cross = (
            np.linalg.norm(np.cross(m, f[i]))
            if dim == 3
            else m[0] * f[i][1] - m[1] * f[i][0]
        )
        assert abs(cross) < 1e-14


def test_direction_parallel_to_the_fibre_is_kept() -> None:
    f = np.array([0.6, 0.8])
    for gam in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(_guide_jit(f, f, gam), f, atol=1e-15)
        np.testing.assert_allclose(_guide_jit(-f, f, gam), -f, atol=1e-15)
    # perpendicular at γ = 1: nothing is left
    np.testing.assert_allclose(
        _guide_jit(np.array([-0.8, 0.6]), f, 1.0), 0.0, atol=1e-15
    )


def test_density_window_values() -> None:
    for rho, h in ((0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 0.5), (1.0, 0.0)):
        assert density_window(rho, 0.0, 0.5, 1.0) == pytest.approx(h, abs=1e-15), rho
    # a shifted window: ρ_L 0.1, ρ_I 0.3, ρ_H 0.9
    assert density_window(0.1, 0.1, 0.3, 0.9) == 0.0
    assert density_window(0.2, 0.1, 0.3, 0.9) == pytest.approx(0.5)
    assert density_window(0.3, 0.1, 0.3, 0.9) == pytest.approx(1.0)
    assert density_window(0.6, 0.1, 0.3, 0.9) == pytest.approx(0.5)
    assert density_window(0.95, 0.1, 0.3, 0.9) == 0.0


# ------------------------------------------------------------------ through the kernel

SPEED = np.array([1.0, 0.3, 0.8])  # cancer, MSC, benign (µm/min)
DT = 0.1


def _tables(**ddr2: Any) -> Any:
    sc = scenario_from_dict(
        {
            "domain": {"lower_um": [-100, -100], "upper_um": [100, 100]},
            "oxygen": {"enabled": False},
            "cell_types": {"cancer": {}, "msc": {}, "benign": {}},
            "initial_cells": [],
            "ddr2": {"enabled": True, **ddr2},
            "ecm": {"enabled": True},
        },
        "guidance",
    )
    return guidance_tables(sc), sc


def _run(
    *,
    kind: np.ndarray,
    direction: np.ndarray,
    activity: np.ndarray,
    genotype: np.ndarray,
    rho: float,
    aniso: float,
    fibre: np.ndarray,
    persistence: np.ndarray | None = None,
    ecm_on: bool = True,
    guidance: bool = True,
    normalised: bool = True,
    window: bool = True,
    step: int = 0,
    seed: int = 9,
    tables: Any = None,
    mt_gain: float = 0.0,
) -> dict[str, np.ndarray]:
    """One call of the motility kernel; all cells in one ECM element (ρ_mt = 0.5)."""
    n, dim = direction.shape
    t = tables if tables is not None else _tables()[0]
    pos = np.zeros((n, dim))
    out = {
        "pos": pos,
        "vel": np.zeros((n, dim)),
        "direction": direction.copy(),
        "motility": np.zeros((n, dim)),
    }
    fib = np.zeros((1, dim))
    fib[0, : fibre.shape[0]] = fibre
    guided_motility_and_integrate(
        seed,
        step,
        DT,
        n,
        np.arange(n, dtype=np.int64),
        kind.astype(np.int8),
        np.zeros(n, np.int8),
        pos,
        np.full(n, 8.0),
        out["vel"],
        np.zeros((n, dim)),
        np.zeros(n, np.bool_),
        out["direction"],
        out["motility"],
        activity.astype(np.float64),
        genotype.astype(np.float64),
        SPEED,
        np.full(3, 1e12) if persistence is None else persistence,
        np.zeros(3),
        t.sens_base,
        t.sens_slope,
        t.speed_gain,
        t.persist_gain,
        t.gamma_gain,
        t.drive_is_genotype,
        np.zeros((1, dim)),
        np.full(dim, -1000.0),
        2000.0,
        np.ones(dim, np.int64),
        ecm_on,
        np.full(dim, -1000.0),
        2000.0,
        np.ones(dim, np.int64),
        np.array([rho]),
        np.array([aniso]),
        fib,
        guidance,
        normalised,
        window,
        0.0,
        0.5,
        1.0,
        mt_gain,
        0.5,
        np.full(dim, -1000.0),
        np.full(dim, 1000.0),
        False,
        0.0,
        False,
        np.zeros(n, np.int64),
    )
    return out


def _case(dim: int, n: int = 60) -> dict[str, np.ndarray]:
    g = np.random.default_rng(40 + dim)
    return {
        "kind": g.choice([CellKind.CANCER, CellKind.MSC, CellKind.BENIGN], n),
        "direction": _units(g, n, dim),
        "activity": g.uniform(0, 1, n),
        "genotype": g.integers(0, 2, n).astype(np.float64),
    }


@pytest.mark.parametrize("normalised", [True, False])
@pytest.mark.parametrize("rho", [0.25, 0.5, 0.8])
def test_guided_motility_speed_and_direction(
    dim: int, normalised: bool, rho: float
) -> None:
    c = _case(dim)
    fibre = _units(np.random.default_rng(3), 1, dim)[0]
    aniso = 0.7
    tab, sc = _tables()
    out = _run(
        **c, rho=rho, aniso=aniso, fibre=fibre, normalised=normalised, tables=tab
    )
    eff = sc.ddr2.effects
    h = density_window(rho, 0.0, 0.5, 1.0)
    assert h > 0
    kind = c["kind"]
    msc = kind == CellKind.MSC
    x = np.where(msc, c["genotype"], c["activity"])
    s = np.where(
        msc,
        c["genotype"],
        eff.guidance_sensitivity_off
        + (eff.guidance_sensitivity_on - eff.guidance_sensitivity_off) * x,
    )
    gain = np.where(msc, 1.0, 1.0 + eff.speed_gain * x)
    np.testing.assert_array_equal(out["direction"], c["direction"])  # no turns
    for i in range(kind.shape[0]):
        d = c["direction"][i]
        mt = _reference(d, fibre, s[i] * aniso) if s[i] >= 1e-4 else d
        speed = (
            SPEED[kind[i]] * gain[i] * h * (1.0 if normalised else np.linalg.norm(mt))
        )
        m = out["motility"][i]
        assert np.linalg.norm(m) == pytest.approx(speed, rel=1e-12), i
        np.testing.assert_allclose(m, speed * mt / np.linalg.norm(mt), atol=1e-13)
    # Euler step (no previous velocity): x ← x + Δt (v_contact + m), v_contact = 0
    np.testing.assert_allclose(out["pos"], DT * out["motility"], rtol=1e-15)
    np.testing.assert_array_equal(out["vel"], out["motility"])
    # DDR2-null MSCs do not follow fibres; DDR2+ MSCs at a = 0.7 do
    null = msc & (c["genotype"] == 0)
    assert null.sum() > 2
    np.testing.assert_allclose(
        out["motility"][null],
        SPEED[CellKind.MSC] * h * c["direction"][null],
        rtol=1e-12,
    )


def test_full_alignment_and_sensitivity_move_cancer_cells_along_the_fibre() -> None:
    n = 50
    g = np.random.default_rng(5)
    fibre = np.array([np.cos(0.4), np.sin(0.4)])
    out = _run(
        kind=np.zeros(n, np.int64),
        direction=_units(g, n, 2),
        activity=np.ones(n),
        genotype=np.zeros(n),
        rho=0.5,
        aniso=1.0,
        fibre=fibre,
    )
    m = out["motility"]
    cross = m[:, 0] * fibre[1] - m[:, 1] * fibre[0]
    np.testing.assert_allclose(cross, 0.0, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0 * 1.5, rtol=1e-12)
    # both polarities occur
    assert 5 < np.count_nonzero(m @ fibre > 0) < n - 5


def test_no_field_or_no_guidance_keeps_the_walk_direction_and_the_ddr2_speed() -> None:
    c = _case(2)
    fibre = np.array([1.0, 0.0])
    tab, sc = _tables()
    g_v = sc.ddr2.effects.speed_gain
    x = np.where(c["kind"] == CellKind.MSC, c["genotype"], c["activity"])
    gain = np.where(c["kind"] == CellKind.MSC, 1.0, 1.0 + g_v * x)
    expected = (SPEED[c["kind"]] * gain)[:, None] * c["direction"]
    off = _run(**c, rho=0.0, aniso=1.0, fibre=fibre, ecm_on=False, tables=tab)
    np.testing.assert_allclose(off["motility"], expected, rtol=1e-12, atol=1e-15)
    # guidance off and the window off: the field changes nothing (ρ = 0 would stop cells)
    plain = _run(
        **c, rho=0.0, aniso=1.0, fibre=fibre, guidance=False, window=False, tables=tab
    )
    np.testing.assert_allclose(plain["motility"], expected, rtol=1e-12, atol=1e-15)
    # ρ ≤ ρ_L with the window on: no active motion at all
    stopped = _run(**c, rho=0.0, aniso=1.0, fibre=fibre, tables=tab)
    np.testing.assert_array_equal(stopped["motility"], 0.0)


@pytest.mark.parametrize(
    ("rho", "aniso"), [(0.1, 0.8), (0.25, 1.0), (0.4, 0.3), (0.5, 0.9), (0.8, 0.9)]
)
def test_microtrack_bonus_scales_the_speed_as_specified(
    rho: float, aniso: float
) -> None:
    # SCIENCE.md §5.5's optional bonus: speed × (1 + g_mt a max(0, 1 − ρ/ρ_mt)), ρ_mt 0.5;
    # the direction is untouched; g_mt = 0 is exactly the plain kernel
    c = _case(2)
    fibre = np.array([np.cos(1.1), np.sin(1.1)])
    tab = _tables()[0]
    base = _run(**c, rho=rho, aniso=aniso, fibre=fibre, tables=tab)
    off = _run(**c, rho=rho, aniso=aniso, fibre=fibre, tables=tab, mt_gain=0.0)
    np.testing.assert_array_equal(off["motility"], base["motility"])
    bonus = _run(**c, rho=rho, aniso=aniso, fibre=fibre, tables=tab, mt_gain=0.8)
    factor = 1.0 + 0.8 * aniso * max(0.0, 1.0 - rho / 0.5)
    np.testing.assert_allclose(
        bonus["motility"], factor * base["motility"], rtol=1e-13, atol=1e-15
    )
    assert (factor > 1.0) == (rho < 0.5)


def test_microtrack_bonus_needs_the_collagen_field() -> None:
    c = _case(2)
    fibre = np.array([1.0, 0.0])
    tab = _tables()[0]
    kw = {"rho": 0.1, "aniso": 1.0, "fibre": fibre, "ecm_on": False, "tables": tab}
    np.testing.assert_array_equal(
        _run(**c, **kw, mt_gain=1.0)["motility"], _run(**c, **kw)["motility"]
    )


def test_speed_gain_is_off_when_ddr2_is_disabled() -> None:
    sc = scenario_from_dict(
        {
            "domain": {"lower_um": [-100, -100], "upper_um": [100, 100]},
            "oxygen": {"enabled": False},
            "cell_types": {"cancer": {}, "msc": {}},
            "initial_cells": [],
        },
        "no-ddr2",
    )
    t = guidance_tables(sc)
    np.testing.assert_array_equal(t.speed_gain, 0.0)
    np.testing.assert_array_equal(t.persist_gain, 0.0)
    on = _tables()[0]
    assert on.speed_gain[CellKind.CANCER] == 0.5
    assert on.speed_gain[CellKind.MSC] == 0.0
    assert on.sens_base[CellKind.MSC] == 0.0
    assert on.sens_slope[CellKind.MSC] == 1.0


def test_persistence_grows_with_activity_and_alignment_as_predicted() -> None:
    # the cells that turn are exactly those with u < Δt/T_eff,
    # T_eff = T_p (1 + g_T A)(1 + g_γ γ), γ = s a, s = s₀ + (s₁ − s₀) A (cancer)
    n = 3000
    g = np.random.default_rng(8)
    direction = _units(g, n, 2)
    activity = g.uniform(0, 1, n)
    aniso = 0.6
    t_p = 0.15  # > Δt, so every cell draws
    tab, sc = _tables()
    eff = sc.ddr2.effects
    step, seed = 17, 4
    out = _run(
        kind=np.zeros(n, np.int64),
        direction=direction,
        activity=activity,
        genotype=np.zeros(n),
        rho=0.5,
        aniso=aniso,
        fibre=np.array([1.0, 0.0]),
        persistence=np.full(3, t_p),
        step=step,
        seed=seed,
        tables=tab,
    )
    s = (
        eff.guidance_sensitivity_off
        + (eff.guidance_sensitivity_on - eff.guidance_sensitivity_off) * activity
    )
    t_eff = (
        t_p
        * (1 + eff.persistence_gain * activity)
        * (1 + eff.alignment_persistence_gain * s * aniso)
    )
    u = np.array([rng.uniform01(seed, step, i, rng.MOTILITY_TURN) for i in range(n)])
    predicted = u < DT / t_eff
    turned = np.any(out["direction"] != direction, axis=1)
    np.testing.assert_array_equal(turned, predicted)
    # the gains matter: without them many more cells would have turned
    assert np.count_nonzero(u < DT / t_p) - predicted.sum() > 200
