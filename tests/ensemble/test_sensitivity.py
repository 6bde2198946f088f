"""Global sensitivity analysis: spec, SALib sample and analysis, reference functions, figure."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pytest
from PIL import Image

from metastroma.config.loader import load_model
from metastroma.config.sensitivity import SensitivitySpec
from metastroma.ensemble.functions import (
    LOGISTIC_DEFAULTS,
    OBSERVATION_DAYS,
    ishigami,
    ishigami_indices,
    ishigami_variance,
    logistic_cells,
    noisy_logistic,
    noop,
)
from metastroma.ensemble.sensitivity import COLUMNS, analyse, problem, sample_points
from metastroma.errors import ConfigError
from metastroma.viz.sensitivity import plot_indices

PI = math.pi
X_RANGE = {"low": -PI, "high": PI}


def _spec(**kw: Any) -> SensitivitySpec:
    data: dict[str, Any] = {
        "name": "ishigami",
        "function": "metastroma.ensemble.functions:ishigami",
        "parameters": {"x1": X_RANGE, "x2": X_RANGE, "x3": X_RANGE},
        "samples": 64,
        "seed": 11,
    }
    data.update(kw)
    return SensitivitySpec.model_validate(data)


def _ishigami_rows(X: np.ndarray) -> np.ndarray:
    y = ishigami({"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2]}, seed=0)["y"]
    assert isinstance(y, np.ndarray)
    return y


def _index(table: Any, index: str, parameter: str, parameter_2: str = "") -> Any:
    row = table[
        (table["index"] == index)
        & (table["parameter"] == parameter)
        & (table["parameter_2"] == parameter_2)
    ]
    assert len(row) == 1, (index, parameter, parameter_2)
    return row.iloc[0]


# --- reference functions -------------------------------------------------------------


def test_ishigami_scalar_and_array_agree() -> None:
    assert ishigami({"x1": PI / 2, "x2": PI / 2, "x3": 1.0}, seed=0) == {"y": 8.1}
    # a, b given: y = sin x1 (1 + b x3^4) + a sin^2 x2 = 1·(1 + 0.5·16) + 2·0 = 9
    y = ishigami({"x1": PI / 2, "x2": 0.0, "x3": 2.0, "a": 2.0, "b": 0.5}, seed=0)
    assert y["y"] == pytest.approx(9.0, abs=1e-12)
    rng = np.random.default_rng(3)
    X = rng.uniform(-PI, PI, size=(5, 3))
    rows = _ishigami_rows(X)
    one = [ishigami({"x1": a, "x2": b, "x3": c}, seed=0)["y"] for a, b, c in X]
    np.testing.assert_allclose(rows, one, rtol=1e-15)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"x1": 0.0, "x2": 0.0}, "missing x3"),
        ({"x1": 0.0, "x2": 0.0, "x3": 0.0, "c": 1.0}, "unknown c"),
    ],
)
def test_ishigami_refuses_missing_or_unknown_keys(
    params: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ishigami(params, seed=0)


def test_ishigami_indices_match_brute_force_pick_freeze() -> None:
    """Jansen's estimators with 2e5 plain Monte Carlo rows, independent of SALib."""
    n = 200_000
    rng = np.random.default_rng(1990)
    A = rng.uniform(-PI, PI, size=(n, 3))
    B = rng.uniform(-PI, PI, size=(n, 3))
    fA, fB = _ishigami_rows(A), _ishigami_rows(B)
    v = ishigami_variance()
    assert np.var(np.r_[fA, fB]) == pytest.approx(v, rel=0.02)
    exact = ishigami_indices()
    for i, name in enumerate(("x1", "x2", "x3")):
        ABi = A.copy()
        ABi[:, i] = B[:, i]
        fABi = _ishigami_rows(ABi)
        total = 0.5 * (fA - fABi) ** 2  # E = V_Ti (Jansen 1999)
        first = fB * (fABi - fA)  # E = V_i (Saltelli et al. 2010)
        for terms, key in ((total, "ST"), (first, "S1")):
            est = terms.mean() / v
            se = terms.std() / math.sqrt(n) / v
            assert abs(est - exact[key][name]) < 5 * se + 1e-3, (key, name, est, se)
    # the values of Saltelli et al. (2008), Table 4.3 (a = 7, b = 0.1)
    assert exact["S1"]["x1"] == pytest.approx(0.3139, abs=1e-4)
    assert exact["S1"]["x2"] == pytest.approx(0.4424, abs=1e-4)
    assert exact["ST"]["x1"] == pytest.approx(0.5576, abs=1e-4)
    assert exact["ST"]["x3"] == pytest.approx(0.2437, abs=1e-4)


def test_noop_sums_parameters() -> None:
    assert noop({"a": 1.5, "b": -0.25, "c": 2.0}, seed=9) == {"y": 3.25}
    assert noop({}, seed=0) == {"y": 0.0}


def test_noisy_logistic_without_noise_is_the_logistic_curve() -> None:
    out = noisy_logistic({"sigma": 0.0, "r_per_day": 0.2}, seed=5)
    assert list(out) == [f"n_day_{t}" for t in range(0, 41, 5)]
    expected = logistic_cells(OBSERVATION_DAYS.astype(float), 0.2, 1e4, 100.0)
    np.testing.assert_allclose(list(out.values()), expected, rtol=1e-14)
    assert out["n_day_0"] == pytest.approx(100.0)
    # N(t) = K / (1 + (K/N0 − 1) e^(−rt)) at t = 20 days, r = 0.2/day, by hand
    assert out["n_day_20"] == pytest.approx(1e4 / (1 + 99 * math.exp(-4.0)), rel=1e-12)
    assert 9000 < out["n_day_40"] < 1e4  # near the carrying capacity


def test_noisy_logistic_noise_is_seeded_and_lognormal() -> None:
    assert noisy_logistic({}, seed=3) == noisy_logistic({}, seed=3)
    assert noisy_logistic({}, seed=3) != noisy_logistic({}, seed=4)
    seeds = range(300)
    obs = np.array([list(noisy_logistic({}, seed=s).values()) for s in seeds])
    curve = logistic_cells(
        OBSERVATION_DAYS.astype(float),
        LOGISTIC_DEFAULTS["r_per_day"],
        LOGISTIC_DEFAULTS["k_cells"],
        LOGISTIC_DEFAULTS["n0"],
    )
    z = np.log(obs / curve) / LOGISTIC_DEFAULTS["sigma"]  # standard normal if correct
    n = z.size
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.std() - 1.0) < 4 / math.sqrt(2 * n)
    # independent across days: lag-one correlation within a series near 0
    r = np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]
    assert abs(r) < 4 / math.sqrt(n)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"k": 1.0}, "unknown k"),
        ({"k_cells": -1.0}, "k_cells = -1"),
        ({"n0": 0.0}, "n0"),
    ],
)
def test_noisy_logistic_refuses_bad_parameters(
    params: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        noisy_logistic(params, seed=0)


# --- sample -------------------------------------------------------------------------


def test_problem_bounds_are_in_sampling_space() -> None:
    spec = _spec(
        parameters={
            "x1": X_RANGE,
            "ecm.k_per_min": {"low": 1e-3, "high": 10.0, "scale": "log"},
        },
    )
    prob = problem(spec)
    assert prob["num_vars"] == 2
    assert prob["names"] == ["x1", "ecm.k_per_min"]
    np.testing.assert_allclose(prob["bounds"], [[-PI, PI], [-3.0, 1.0]], rtol=1e-15)


@pytest.mark.parametrize(
    ("kw", "n_points"),
    [
        ({"method": "sobol", "samples": 16}, 16 * 5),
        ({"method": "sobol", "samples": 16, "second_order": True}, 16 * 8),
        ({"method": "morris", "samples": 10}, 10 * 4),
    ],
)
def test_sample_has_the_documented_number_of_points(
    kw: dict[str, Any], n_points: int
) -> None:
    spec = _spec(**kw)
    _, X = sample_points(spec)
    assert spec.n_points == n_points
    assert X.shape == (n_points, 3)
    assert (X >= -PI).all() and (X <= PI).all()
    assert np.unique(X[:, 0]).size > 1


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_sample_is_a_function_of_the_seed(method: str) -> None:
    _, X1 = sample_points(_spec(method=method, samples=32, seed=0))
    _, X2 = sample_points(_spec(method=method, samples=32, seed=0))
    _, X3 = sample_points(_spec(method=method, samples=32, seed=1))
    np.testing.assert_array_equal(X1, X2)
    assert not np.array_equal(X1, X3)


def test_log_scale_parameter_is_log_uniform_within_its_range() -> None:
    low, high = 1e-3, 10.0
    spec = _spec(
        samples=1024,
        parameters={
            "x1": X_RANGE,
            "k_per_min": {"low": low, "high": high, "scale": "log"},
        },
    )
    _, X = sample_points(spec)
    k = X[:, 1]
    assert k.min() >= low and k.max() <= high
    # log10 k uniform on [-3, 1]: median at the geometric mean 0.1, the empirical CDF
    # within a few percent of the uniform one (a linear scale would put the median at 5)
    assert abs(np.log10(np.median(k)) - np.log10(math.sqrt(low * high))) < 0.1
    u = np.sort((np.log10(k) + 3.0) / 4.0)
    ecdf = np.arange(1, u.size + 1) / u.size
    assert np.abs(ecdf - u).max() < 0.03
    # the linear column stays linear: mean near 0, not skewed
    assert abs(X[:, 0].mean()) < 0.1


def test_morris_log_scale_levels_hit_the_range_ends_exactly() -> None:
    low, high = 1e-2, 1e2
    spec = _spec(
        method="morris",
        samples=20,
        parameters={
            "x1": X_RANGE,
            "k_per_min": {"low": low, "high": high, "scale": "log"},
        },
    )
    _, X = sample_points(spec)
    levels = np.unique(X[:, 1])
    np.testing.assert_allclose(levels, 10.0 ** np.linspace(-2, 2, 4), rtol=1e-12)
    assert levels[0] == low and levels[-1] == high  # clipped, not 10**log10(high)


# --- analysis -----------------------------------------------------------------------


def test_sobol_indices_of_ishigami_match_the_analytic_values() -> None:
    spec = _spec(samples=1024, second_order=True)
    _, X = sample_points(spec)
    table = analyse(spec, X, {"y": _ishigami_rows(X)})
    assert tuple(table.columns) == COLUMNS
    assert len(table) == 3 + 3 + 3  # S1, ST, and S2 of 3 pairs
    assert set(table["method"]) == {"sobol"}
    exact = ishigami_indices()
    # S2: the only interaction is x1 with x3, S13 = ST3 (Sobol' & Levitan 1999)
    exact["S2"] = {"x1 x2": 0.0, "x1 x3": exact["ST"]["x3"], "x2 x3": 0.0}
    measured = {}
    for index, by_param in exact.items():
        for param, value in by_param.items():
            row = _index(table, index, *param.split())
            measured[index, param] = row["value"]
            tol = 0.05 if index != "S2" else 0.1
            assert abs(row["value"] - value) < tol, (index, param, row["value"], value)
            assert row["conf_low"] - 0.02 <= value <= row["conf_high"] + 0.02
            assert row["conf_low"] < row["value"] < row["conf_high"]


def _morris_expectation(
    f: Any, d: int, levels: int, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact E[EE] and E|EE| of each parameter under the Morris design, by enumeration.

    Each step moves one parameter between grid levels l and l + p/2 (Δ = p/(2(p − 1)) of
    the range); the other parameters are uniform on the p levels, independently.
    """
    grid = np.linspace(low, high, levels)
    delta = levels / (2 * (levels - 1))
    jump = levels // 2
    mu = np.empty(d)
    mu_star = np.empty(d)
    for i in range(d):  # over parameters, few
        others = np.meshgrid(*[np.arange(levels)] * (d - 1), np.arange(levels - jump))
        lo_idx = [o.ravel() for o in others]
        base = np.column_stack([grid[k] for k in lo_idx[:-1]])
        lo = np.insert(base, i, grid[lo_idx[-1]], axis=1)
        hi = np.insert(base, i, grid[lo_idx[-1] + jump], axis=1)
        ee = (f(hi) - f(lo)) / delta
        mu[i], mu_star[i] = ee.mean(), np.abs(ee).mean()
    return mu, mu_star


def test_morris_of_ishigami_matches_the_exact_design_expectation() -> None:
    spec = _spec(method="morris", samples=500, levels=4)
    _, X = sample_points(spec)
    table = analyse(spec, X, {"y": _ishigami_rows(X)})
    assert len(table) == 9
    mu_exact, mu_star_exact = _morris_expectation(_ishigami_rows, 3, 4, -PI, PI)
    # by hand: x2 moves between sin² = 0 and 3/4, |EE| = 7·0.75/(2/3) = 7.875 always
    assert mu_star_exact[1] == pytest.approx(7.875)
    assert mu_exact[1] == pytest.approx(0.0, abs=1e-12)  # ±7.875, equally often
    # x1: Δ sin x1 = +√3/2 on both jumps, times E(1 + 0.1 x3⁴) over the four levels
    e_x3_4 = (PI**4 + (PI / 3) ** 4) / 2
    assert mu_star_exact[0] == pytest.approx(
        math.sqrt(3) / 2 * (1 + 0.1 * e_x3_4) * 1.5
    )
    for i, name in enumerate(("x1", "x2", "x3")):
        star = _index(table, "mu_star", name)
        half = star["conf_high"] - star["value"]
        assert abs(star["value"] - mu_star_exact[i]) <= 2 * half + 1e-9, name
        assert np.isnan(_index(table, "mu", name)["conf_low"])
        assert np.isnan(_index(table, "sigma", name)["conf_high"])
    # every x1 effect is positive (mu = mu_star); x2's are ±7.875 exactly (no spread
    # in |EE|, a zero-width interval); x3 acts only with x1, in both signs
    assert _index(table, "mu", "x1")["value"] == pytest.approx(
        _index(table, "mu_star", "x1")["value"], rel=1e-12
    )
    assert _index(table, "mu_star", "x2")["value"] == pytest.approx(7.875, rel=1e-12)
    x3 = _index(table, "mu_star", "x3")["value"]
    assert x3 < _index(table, "mu_star", "x1")["value"]
    assert x3 < _index(table, "mu_star", "x2")["value"]
    assert abs(_index(table, "mu", "x3")["value"]) < 0.25 * x3
    assert (
        _index(table, "sigma", "x3")["value"] > x3
    )  # interaction: effects of both signs


def test_analysis_is_reproducible_with_seed_zero() -> None:
    """Regression: SALib's Sobol' analysis treats seed=0 as no seed (global NumPy state)."""
    spec = _spec(samples=64, seed=0)
    _, X = sample_points(spec)
    Y = {"y": _ishigami_rows(X)}
    a, b = analyse(spec, X, Y), analyse(spec, X, Y)
    np.testing.assert_array_equal(a["conf_low"], b["conf_low"])
    # and a table does not depend on which other outcomes are analysed with it
    c = analyse(spec, X, {"z": -Y["y"], "y": Y["y"]})
    np.testing.assert_array_equal(
        c[c["outcome"] == "y"]["conf_low"].to_numpy(), a["conf_low"].to_numpy()
    )


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_constant_outcome_keeps_its_rows(method: str) -> None:
    spec = _spec(method=method, samples=32)
    _, X = sample_points(spec)
    table = analyse(spec, X, {"y": _ishigami_rows(X), "flat": np.full(len(X), 4.2)})
    flat = table[table["outcome"] == "flat"]
    assert len(flat) == len(table) // 2
    if method == "sobol":
        assert flat["value"].isna().all()  # 0/0: undefined
    else:
        assert (flat["value"] == 0.0).all()  # no effect
    assert table[table["outcome"] == "y"]["value"].notna().all()


def test_analyse_refuses_nan_outcomes() -> None:
    spec = _spec()
    _, X = sample_points(spec)
    y = _ishigami_rows(X)
    y[[3, 17]] = np.nan
    with pytest.raises(ValueError, match=r"'y' has 2 NaN and 0 infinite values of 320"):
        analyse(spec, X, {"ok": _ishigami_rows(X), "y": y})


def test_analyse_refuses_wrong_shapes() -> None:
    spec = _spec()
    _, X = sample_points(spec)
    y = _ishigami_rows(X)
    with pytest.raises(
        ValueError, match=r"outcome 'y' has shape \(319,\); needs \(320,\)"
    ):
        analyse(spec, X, {"y": y[:-1]})
    with pytest.raises(ValueError, match=r"X has shape \(320, 2\)"):
        analyse(spec, X[:, :2], {"y": y})
    with pytest.raises(ValueError, match="no outcomes"):
        analyse(spec, X, {})


# --- spec errors --------------------------------------------------------------------

_GOOD = """\
name: ishigami
function: metastroma.ensemble.functions:ishigami
method: sobol
parameters:                                  # line 4
  x1: {low: -3.14, high: 3.14}
  ecm.k_per_min: {low: 0.001, high: 1.0, scale: log}
samples: 64
seed: 3
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("method: sobol", "method: sobolx", 3, "method = 'sobolx': Input should be"),
        ("samples: 64", "samples: -64", 7, "samples = -64: must be >= 2"),
        ("samples: 64", "samples: 1000", 7, "samples: 1000 is not a power of 2"),
        (
            "seed: 3",
            "seed: 3\nsample: 3",
            9,
            "sample = 3: unknown key (did you mean 'samples'?)",
        ),
        (
            "high: 3.14}",
            "high: 3.14, skale: log}",
            5,
            "parameters.x1.skale = 'log': unknown key",
        ),
        ("low: -3.14", "low: 4.0", 5, "parameters.x1.high: must be above low"),
        (
            "low: 0.001",
            "low: 0.0",
            6,
            "parameters.ecm.k_per_min.low: must be > 0 on a log",
        ),
        ("method: sobol", "method: morris\nlevels: 5", 4, "levels: 5 is odd"),
        (
            "seed: 3",
            "seed: 3\nfixed: {x1: 0.5}",
            9,
            "fixed: x1 is also a varied parameter",
        ),
    ],
)
def test_spec_errors_name_file_line_and_key(
    tmp_path: Path, old: str, new: str, line: int, expected: str
) -> None:
    path = tmp_path / "gsa.yaml"
    assert old in _GOOD
    path.write_text(_GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_model(path, SensitivitySpec)
    message = str(err.value)
    assert f"gsa.yaml:{line}: {expected}" in message, message


def test_good_spec_loads_with_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "gsa.yaml"
    path.write_text(_GOOD)
    spec = load_model(path, SensitivitySpec)
    assert (spec.method, spec.samples, spec.second_order) == ("sobol", 64, False)
    assert (spec.conf_level, spec.resamples, spec.levels) == (0.95, 1000, 4)
    assert spec.n_points == 64 * 4
    assert list(spec.parameters) == ["x1", "ecm.k_per_min"]


def test_every_spec_field_is_described() -> None:
    undocumented = [
        name for name, f in SensitivitySpec.model_fields.items() if not f.description
    ]
    assert undocumented == []


# --- figure -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sobol", "morris"])
def test_plot_indices_writes_a_png(tmp_path: Path, method: str) -> None:
    long = "tissue.cell_types.cancer.ddr2.induction_rate_per_min"
    spec = _spec(
        method=method,
        samples=64,
        parameters={
            "x1": X_RANGE,
            "x2": X_RANGE,
            "x3": X_RANGE,
            long: {"low": 1e-4, "high": 1e-2, "scale": "log"},
        },
    )
    _, X = sample_points(spec)
    y = _ishigami_rows(X)
    table = analyse(spec, X, {"y": y, "y_plus_k": y + 100 * X[:, 3], "flat": 0 * y})
    path = plot_indices(table, tmp_path / "figs" / "indices.png")
    assert path == tmp_path / "figs" / "indices.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write cleaned up
    image = mpimg.imread(path)
    height, width = image.shape[:2]
    assert 600 < width < 4000 and 300 < height < 3000, (width, height)
    assert image[..., :3].std() > 0.05  # something is drawn
    with Image.open(path) as im:
        assert im.info["dpi"] == pytest.approx((150, 150), abs=0.1)


def test_plot_indices_refuses_mixed_methods(tmp_path: Path) -> None:
    spec = _spec(samples=16)
    _, X = sample_points(spec)
    table = analyse(spec, X, {"y": _ishigami_rows(X)})
    mixed = table.assign(method=np.where(table.index % 2, "morris", "sobol"))
    with pytest.raises(ValueError, match="one of 'sobol' or 'morris'"):
        plot_indices(mixed, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
