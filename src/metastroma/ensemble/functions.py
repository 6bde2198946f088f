"""Reference model functions for testing the ensemble machinery (sweeps, sensitivity, calibration).

Each has the signature of an ensemble file's ``function:`` member,
``f(params: dict[str, float], seed: int) -> dict[str, float]`` (outcome name → value), and
costs microseconds, so tests and benchmarks exercise planning, execution, aggregation and
analysis without running the simulator:

- :func:`ishigami`: the Ishigami function (Ishigami & Homma 1990), the standard test of
  variance-based sensitivity analysis, whose first-order and total Sobol' indices are known
  in closed form (:func:`ishigami_indices`; Sobol' & Levitan 1999). Deterministic.
- :func:`noop`: the sum of the parameters; for timing the scheduler, not the model.
- :func:`noisy_logistic`: logistic growth observed with lognormal noise, a cheap stochastic
  model with a tractable likelihood, for calibration tests.

References
----------
Ishigami, T. & Homma, T. (1990). An importance quantification technique in uncertainty
analysis for computer models. Proc. ISUMA '90, 398–403. doi:10.1109/ISUMA.1990.151285

Sobol', I. M. & Levitan, Yu. L. (1999). On the use of variance reducing multipliers in Monte
Carlo computations of a global sensitivity index. Comput. Phys. Commun. 117:52–61.
doi:10.1016/S0010-4655(98)00156-8

Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer, §4.7 (the Ishigami
function and its indices). Wiley.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from metastroma._typing import F64Array

#: Default a and b of the Ishigami function (Ishigami & Homma 1990; Saltelli et al. 2008).
ISHIGAMI_A = 7.0
ISHIGAMI_B = 0.1

#: Days at which :func:`noisy_logistic` observes the population: 0, 5, ..., 40.
OBSERVATION_DAYS = np.arange(0, 41, 5)

#: Stream of :func:`noisy_logistic`'s noise in ``default_rng([seed, stream])``.
NOISE_STREAM = 7

#: Defaults of :func:`noisy_logistic`'s parameters (assumptions: a cell line doubling in
#: about 2.3 days, reaching a carrying capacity of 1e4 cells in about a month, observed
#: with 10 % multiplicative error).
LOGISTIC_DEFAULTS: Mapping[str, float] = {
    "r_per_day": 0.3,
    "k_cells": 1.0e4,
    "n0": 100.0,
    "sigma": 0.1,
}


def _check_keys(
    params: Mapping[str, object], required: set[str], allowed: set[str]
) -> None:
    """ValueError naming missing or unknown keys (an ignored typo would pass silently)."""
    missing = sorted(required - set(params))
    unknown = sorted(set(params) - allowed)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise ValueError(
            f"parameters: {'; '.join(parts)} (allowed: {', '.join(sorted(allowed))})"
        )


def ishigami(
    params: Mapping[str, float | F64Array], seed: int = 0
) -> dict[str, float | F64Array]:
    """The Ishigami function y = sin x1 + a sin² x2 + b x3⁴ sin x1.

    Parameters
    ----------
    params : mapping of str to float or (n,) float64
        ``x1``, ``x2``, ``x3`` (dimensionless; the test case draws each uniformly on
        [−π, π]) and, optionally, ``a`` (default 7) and ``b`` (default 0.1). Arrays of one
        shape evaluate many points at once.
    seed : int
        Accepted for the ensemble signature; unused (the function is deterministic).

    Returns
    -------
    dict
        ``{'y': y}``, a float for scalar inputs, else an array of the inputs' shape.

    Raises
    ------
    ValueError
        A required key is missing or an unknown one is given.

    References
    ----------
    Ishigami & Homma (1990); module docstring.

    Examples
    --------
    >>> ishigami({"x1": math.pi / 2, "x2": math.pi / 2, "x3": 1.0}, seed=0)
    {'y': 8.1}
    """
    _check_keys(params, {"x1", "x2", "x3"}, {"x1", "x2", "x3", "a", "b"})
    x1 = np.asarray(params["x1"], dtype=np.float64)
    x2 = np.asarray(params["x2"], dtype=np.float64)
    x3 = np.asarray(params["x3"], dtype=np.float64)
    a = float(params.get("a", ISHIGAMI_A))
    b = float(params.get("b", ISHIGAMI_B))
    y = np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)
    return {"y": float(y) if y.ndim == 0 else y}


def ishigami_variance(a: float = ISHIGAMI_A, b: float = ISHIGAMI_B) -> float:
    """Variance of the Ishigami function with x1, x2, x3 uniform on [−π, π].

    V = a²/8 + b π⁴/5 + b² π⁸/18 + 1/2 (Sobol' & Levitan 1999).

    Examples
    --------
    >>> round(ishigami_variance(), 4)
    13.8446
    """
    return a**2 / 8 + b * math.pi**4 / 5 + b**2 * math.pi**8 / 18 + 0.5


def ishigami_indices(
    a: float = ISHIGAMI_A, b: float = ISHIGAMI_B
) -> dict[str, dict[str, float]]:
    """Analytic first-order and total Sobol' indices of the Ishigami function.

    With x1, x2, x3 uniform on [−π, π] (Sobol' & Levitan 1999; Saltelli et al. 2008):
    V1 = (1 + b π⁴/5)²/2, V2 = a²/8, V3 = 0, and the only interaction, x1 with x3,
    V13 = 8 b² π⁸/225; so VT1 = V1 + V13, VT2 = V2, VT3 = V13; S = V_i/V, ST = VT_i/V with V
    from :func:`ishigami_variance`.

    Parameters
    ----------
    a, b : float
        The function's constants (defaults 7 and 0.1).

    Returns
    -------
    dict
        ``{'S1': {'x1': ..., 'x2': ..., 'x3': ...}, 'ST': {...}}``, dimensionless.

    Examples
    --------
    >>> {k: round(v, 4) for k, v in ishigami_indices()["S1"].items()}
    {'x1': 0.3139, 'x2': 0.4424, 'x3': 0.0}
    """
    v = ishigami_variance(a, b)
    v1 = (1 + b * math.pi**4 / 5) ** 2 / 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * math.pi**8 / 225
    return {
        "S1": {"x1": v1 / v, "x2": v2 / v, "x3": 0.0},
        "ST": {"x1": (v1 + v13) / v, "x2": v2 / v, "x3": v13 / v},
    }


def noop(params: Mapping[str, float], seed: int = 0) -> dict[str, float]:
    """The sum of the parameter values: a member that costs nothing, for scheduling benchmarks.

    Parameters
    ----------
    params : mapping of str to float
        Any parameters.
    seed : int
        Unused.

    Returns
    -------
    dict
        ``{'y': sum of the values}`` (0.0 for no parameters).

    Examples
    --------
    >>> noop({"a": 1.0, "b": 2.5}, seed=3)
    {'y': 3.5}
    """
    return {"y": math.fsum(float(v) for v in params.values())}


def logistic_cells(
    t_day: F64Array, r_per_day: float, k_cells: float, n0: float
) -> F64Array:
    """Logistic growth N(t) = K / (1 + (K/N0 − 1) e^(−r t)).

    Parameters
    ----------
    t_day : (n,) float64, days
    r_per_day : float, 1/day
        Intrinsic growth rate.
    k_cells : float, cells
        Carrying capacity, > 0.
    n0 : float, cells
        Population at t = 0, > 0.

    Returns
    -------
    (n,) float64, cells

    Examples
    --------
    >>> logistic_cells(np.array([0.0]), 0.3, 1e4, 100.0).tolist()
    [100.0]
    """
    return k_cells / (1.0 + (k_cells / n0 - 1.0) * np.exp(-r_per_day * t_day))


def noisy_logistic(params: Mapping[str, float], seed: int) -> dict[str, float]:
    """Logistic growth observed at days 0, 5, ..., 40 with lognormal measurement noise.

    The observation at day t is N(t) · exp(σ z_t), z_t independent standard normal, N from
    :func:`logistic_cells`: the median observation is N(t), log observations are normal
    with standard deviation σ (so the likelihood of (r, K, N0, σ) is explicit). The noise
    comes from ``numpy.random.default_rng([seed, 7])``, one draw per day in day order.

    Parameters
    ----------
    params : mapping of str to float
        Any of ``r_per_day`` (1/day, ≥ 0, default 0.3), ``k_cells`` (cells, > 0, default
        1e4), ``n0`` (cells at day 0, > 0, default 100) and ``sigma`` (standard deviation
        of the log observation, ≥ 0, default 0.1); defaults in ``LOGISTIC_DEFAULTS``.
    seed : int
        ≥ 0; fixes the noise.

    Returns
    -------
    dict
        ``{'n_day_0': ..., 'n_day_5': ..., ..., 'n_day_40': ...}``, cells.

    Raises
    ------
    ValueError
        An unknown parameter or one out of its range.

    Examples
    --------
    >>> noisy_logistic({"sigma": 0.0}, seed=1)["n_day_0"]
    100.0
    """
    _check_keys(params, set(), set(LOGISTIC_DEFAULTS))
    p = {**LOGISTIC_DEFAULTS, **{k: float(v) for k, v in params.items()}}
    bad = [
        f"{k} = {p[k]:g}: must be {rule}"
        for k, ok, rule in (
            ("r_per_day", p["r_per_day"] >= 0, ">= 0 (1/day)"),
            ("k_cells", p["k_cells"] > 0, "> 0 (cells)"),
            ("n0", p["n0"] > 0, "> 0 (cells)"),
            ("sigma", p["sigma"] >= 0, ">= 0"),
        )
        if not (ok and math.isfinite(p[k]))
    ]
    if bad:
        raise ValueError("parameters: " + "; ".join(bad))
    t_day = OBSERVATION_DAYS.astype(np.float64)
    mean = logistic_cells(t_day, p["r_per_day"], p["k_cells"], p["n0"])
    z = np.random.default_rng([seed, NOISE_STREAM]).standard_normal(t_day.size)
    observed = mean * np.exp(p["sigma"] * z)
    return {
        f"n_day_{t}": float(v) for t, v in zip(OBSERVATION_DAYS, observed, strict=True)
    }


__all__ = [
    "ISHIGAMI_A",
    "ISHIGAMI_B",
    "LOGISTIC_DEFAULTS",
    "NOISE_STREAM",
    "OBSERVATION_DAYS",
    "ishigami",
    "ishigami_indices",
    "ishigami_variance",
    "logistic_cells",
    "noisy_logistic",
    "noop",
]
