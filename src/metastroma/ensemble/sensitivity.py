"""Global sensitivity analysis with SALib: the sample to run and the analysis of its outcomes.

The pure half of ``metastroma sensitivity``: no model runs and no files here. The caller
(the ensemble executor) runs the model at every row of :func:`sample_points`, averages the
replicates of each point, and hands the outcomes to :func:`analyse`::

    problem, X = sample_points(spec)        # (n_points, d), natural units
    Y = {"y": run_every_row(X)}             # outcome -> (n_points,)
    table = analyse(spec, X, Y)             # tidy DataFrame of indices

Sampling space. Each parameter is uniform on its range; a ``scale: log`` parameter is
uniform in log10, so SALib samples and analyses ``log10(value)`` on
``[log10(low), log10(high)]`` (the *sampling space*) and the model gets ``10**x`` (natural
units). :func:`problem` gives SALib's problem in the sampling space; :func:`sample_points`
and :func:`analyse` take and return natural units.

Methods (SALib 1.6; Herman & Usher 2017, *J. Open Source Softw.* 2:97):

- ``sobol``: Saltelli's cross-sampling of a scrambled Sobol' sequence of dimension 2D
  (matrices A and B; N·(D + 2) rows, N·(2D + 2) with second order), analysed with the
  first-order estimator of Saltelli et al. (2010, *Comput. Phys. Commun.* 181:259),
  Jansen's total-order estimator, and Saltelli (2002, *Comput. Phys. Commun.* 145:280) for
  S2. S1 is the share of the output variance explained by one parameter alone, ST the
  share it is involved in, interactions included; Σ S1 ≤ 1 ≤ Σ ST, with equality for an
  additive model. Confidence half-widths are ``z · sd`` of ``resamples`` bootstrap estimates.
- ``morris``: N trajectories on a p-level grid (``levels``); each changes one parameter at
  a time by Δ = p / (2(p − 1)) of its range. An elementary effect is the output change
  (higher minus lower value) divided by Δ, so its unit is the outcome's unit per that step,
  not per unit of the parameter. ``mu`` is their mean, ``mu_star`` the mean of their
  absolute values (Campolongo et al. 2007, *Environ. Model. Softw.* 22:1509), ``sigma`` their
  standard deviation (nonlinearity or interactions); only ``mu_star`` has a bootstrap
  interval.

Randomness. The sample is a function of ``spec.seed`` alone (SALib's ``seed=``). The
bootstrap of the analysis draws from ``numpy.random.default_rng([spec.seed, 2])``, made
afresh for each outcome, so a table does not depend on the order or number of outcomes.
(A generator, not an int, is passed because SALib's Sobol' analysis treats ``seed=0`` as
"no seed" and falls back to the global NumPy state.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from metastroma._typing import F64Array
from metastroma.config.sensitivity import SensitivitySpec

#: Stream of the analysis bootstrap in ``default_rng([seed, stream])``: append, never renumber.
ANALYSIS_STREAM = 2

#: Columns of the table :func:`analyse` returns, in order.
COLUMNS = (
    "outcome",
    "method",
    "parameter",
    "parameter_2",
    "index",
    "value",
    "conf_low",
    "conf_high",
)

#: The indices each method reports, in table order.
INDICES = {"sobol": ("S1", "ST", "S2"), "morris": ("mu", "mu_star", "sigma")}


def _is_log(spec: SensitivitySpec) -> np.ndarray:
    return np.array([p.scale == "log" for p in spec.parameters.values()], dtype=bool)


def problem(spec: SensitivitySpec) -> dict[str, Any]:
    """SALib's problem definition of ``spec``, bounds in the sampling space.

    Parameters
    ----------
    spec : SensitivitySpec
        The sensitivity file.

    Returns
    -------
    dict
        ``{'num_vars': d, 'names': [path, ...], 'bounds': [[lo, hi], ...]}``; names are the
        parameter paths in the file's order, bounds are ``[low, high]`` for linear
        parameters and ``[log10(low), log10(high)]`` for log-scale ones.

    Examples
    --------
    >>> from metastroma.config.sensitivity import SensitivitySpec
    >>> spec = SensitivitySpec(
    ...     name="demo",
    ...     function="m:f",
    ...     samples=8,
    ...     parameters={"k": {"low": 0.01, "high": 10.0, "scale": "log"}},
    ... )
    >>> problem(spec)
    {'num_vars': 1, 'names': ['k'], 'bounds': [[-2.0, 1.0]]}
    """
    bounds = [
        [float(np.log10(p.low)), float(np.log10(p.high))]
        if p.scale == "log"
        else [p.low, p.high]
        for p in spec.parameters.values()
    ]
    return {
        "num_vars": len(spec.parameters),
        "names": list(spec.parameters),
        "bounds": bounds,
    }


def _natural(spec: SensitivitySpec, X_space: F64Array) -> F64Array:
    """Sampling space → natural units, clipped to [low, high] against rounding of 10**x."""
    is_log = _is_log(spec)
    low = np.array([p.low for p in spec.parameters.values()])
    high = np.array([p.high for p in spec.parameters.values()])
    X = np.where(is_log, 10.0 ** np.where(is_log, X_space, 0.0), X_space)
    return np.clip(X, low, high)


def _sampling_space(spec: SensitivitySpec, X: F64Array) -> F64Array:
    """Natural units → sampling space (log10 of the log-scale columns)."""
    is_log = _is_log(spec)
    return np.where(is_log, np.log10(np.where(is_log, X, 1.0)), X)


def sample_points(spec: SensitivitySpec) -> tuple[dict[str, Any], F64Array]:
    """The points at which to run the model, from SALib's sampler for ``spec.method``.

    Parameters
    ----------
    spec : SensitivitySpec
        The sensitivity file; ``spec.seed`` fixes the sample.

    Returns
    -------
    problem : dict
        SALib's problem, as :func:`problem` gives it.
    X : (n_points, d) float64, natural units
        One row per point, one column per parameter in ``problem['names']`` order;
        ``n_points`` is ``spec.n_points``. Log-scale columns are ``10**x`` of the SALib
        sample, clipped to ``[low, high]`` (rounding of ``10**log10(high)``). The row order
        is the one :func:`analyse` expects (Saltelli blocks of D + 2 or 2D + 2 rows for
        sobol, trajectories of D + 1 rows for morris).
    """
    prob = problem(spec)
    if spec.method == "sobol":
        X_space = sobol_sample.sample(
            prob,
            spec.samples,
            calc_second_order=spec.second_order,
            scramble=True,
            seed=spec.seed,
        )
    else:
        X_space = morris_sample.sample(
            prob, spec.samples, num_levels=spec.levels, seed=spec.seed
        )
    X = _natural(spec, np.asarray(X_space, dtype=np.float64))
    assert X.shape == (spec.n_points, len(spec.parameters))
    return prob, X


def _check_inputs(
    spec: SensitivitySpec, X: ArrayLike, Y: Mapping[str, ArrayLike]
) -> tuple[F64Array, dict[str, F64Array]]:
    """Shapes, finiteness and ranges of the analysis inputs; ValueError naming the problem."""
    X = np.asarray(X, dtype=np.float64)
    n, d = spec.n_points, len(spec.parameters)
    if X.shape != (n, d):
        raise ValueError(
            f"X has shape {X.shape}; method '{spec.method}' with samples={spec.samples} "
            f"and {d} parameters needs ({n}, {d})"
        )
    if not np.isfinite(X).all():
        raise ValueError("X has NaN or infinite values")
    if (X[:, _is_log(spec)] <= 0).any():
        raise ValueError("X has values <= 0 in a log-scale column")
    if not Y:
        raise ValueError("no outcomes to analyse (Y is empty)")
    out: dict[str, F64Array] = {}
    for name, y in Y.items():
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (n,):
            raise ValueError(
                f"outcome {name!r} has shape {y.shape}; needs ({n},), one value per "
                "row of X"
            )
        n_nan = int(np.isnan(y).sum())
        n_inf = int(np.isinf(y).sum())
        if n_nan or n_inf:
            raise ValueError(
                f"outcome {name!r} has {n_nan} NaN and {n_inf} infinite values of {n} "
                "(failed or diverged members?); the analysis needs every point of the "
                "sample: rerun the failed members or drop the outcome"
            )
        out[str(name)] = y
    return X, out


def _rows(
    outcome: str,
    method: str,
    index: str,
    parameter: list[str],
    parameter_2: list[str],
    value: F64Array,
    half: F64Array,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "outcome": outcome,
            "method": method,
            "parameter": parameter,
            "parameter_2": parameter_2,
            "index": index,
            "value": value,
            "conf_low": value - half,
            "conf_high": value + half,
        },
        columns=list(COLUMNS),
    )


def _sobol_rows(
    spec: SensitivitySpec, prob: dict[str, Any], outcome: str, y: F64Array
) -> list[pd.DataFrame]:
    names: list[str] = prob["names"]
    d = len(names)
    ju, ku = np.triu_indices(d, k=1)
    if np.ptp(y) == 0.0:
        # 0/0: the indices of a constant outcome are undefined. (SALib divides by the
        # standard deviation, warns, and reports 0 with a 0-wide interval.)
        si = {
            "S1": np.full(d, np.nan),
            "S1_conf": np.full(d, np.nan),
            "ST": np.full(d, np.nan),
            "ST_conf": np.full(d, np.nan),
            "S2": np.full((d, d), np.nan),
            "S2_conf": np.full((d, d), np.nan),
        }
    else:
        si = sobol_analyze.analyze(
            prob,
            y,
            calc_second_order=spec.second_order,
            num_resamples=spec.resamples,
            conf_level=spec.conf_level,
            seed=np.random.default_rng([spec.seed, ANALYSIS_STREAM]),
        )
    blank = [""] * d
    frames = [
        _rows(
            outcome,
            "sobol",
            key,
            names,
            blank,
            np.asarray(si[key], dtype=np.float64),
            np.asarray(si[f"{key}_conf"], dtype=np.float64),
        )
        for key in ("S1", "ST")
    ]
    if spec.second_order:
        s2 = np.asarray(si["S2"], dtype=np.float64)[ju, ku]
        s2_conf = np.asarray(si["S2_conf"], dtype=np.float64)[ju, ku]
        frames.append(
            _rows(
                outcome,
                "sobol",
                "S2",
                [names[j] for j in ju],
                [names[k] for k in ku],
                s2,
                s2_conf,
            )
        )
    return frames


def _morris_rows(
    spec: SensitivitySpec,
    prob: dict[str, Any],
    outcome: str,
    X_space: F64Array,
    y: F64Array,
) -> list[pd.DataFrame]:
    names: list[str] = prob["names"]
    d = len(names)
    si = morris_analyze.analyze(
        prob,
        X_space,
        y,
        num_resamples=spec.resamples,
        conf_level=spec.conf_level,
        num_levels=spec.levels,
        seed=np.random.default_rng([spec.seed, ANALYSIS_STREAM]),
    )

    def get(key: str) -> F64Array:  # SALib returns masked arrays for some keys
        return np.asarray(np.ma.filled(si[key], np.nan), dtype=np.float64)

    blank = [""] * d
    none = np.full(d, np.nan)
    return [
        _rows(outcome, "morris", "mu", names, blank, get("mu"), none),
        _rows(
            outcome,
            "morris",
            "mu_star",
            names,
            blank,
            get("mu_star"),
            get("mu_star_conf"),
        ),
        _rows(outcome, "morris", "sigma", names, blank, get("sigma"), none),
    ]


def analyse(
    spec: SensitivitySpec, X: ArrayLike, Y: Mapping[str, ArrayLike]
) -> pd.DataFrame:
    """Sensitivity indices of every outcome, as one tidy table.

    Parameters
    ----------
    spec : SensitivitySpec
        The sensitivity file the sample came from.
    X : (n_points, d) float64, natural units
        The sample of :func:`sample_points`, rows in its order (only morris reads it,
        for the direction of each step; its shape is checked for both methods).
    Y : mapping of str to (n_points,) float64
        Outcome name → its value at each row of ``X`` (the mean over replicates), in the
        outcome's unit.

    Returns
    -------
    pandas.DataFrame
        One row per outcome, index and parameter (pair), ordered that way, with columns
        ``outcome``, ``method``, ``parameter``, ``parameter_2`` (the second parameter of
        an ``S2`` row, else ``''``), ``index`` (``S1``, ``ST``, ``S2`` for sobol;
        ``mu``, ``mu_star``, ``sigma`` for morris), ``value``, and ``conf_low``,
        ``conf_high`` (``value`` ∓ SALib's bootstrap half-width at ``spec.conf_level``;
        NaN where SALib gives none: morris ``mu`` and ``sigma``). Sobol' indices are
        dimensionless (may stray slightly outside [0, 1] by sampling error); morris
        values are in the outcome's unit per step Δ (module docstring). An outcome that
        is the same at every point keeps its rows: NaN indices for sobol (0/0), zeros
        for morris (no effect).

    Raises
    ------
    ValueError
        ``X`` or an outcome has the wrong shape, ``X`` is not finite or not positive in
        a log-scale column, ``Y`` is empty, or an outcome has NaN or infinite values
        (the message names the outcome and counts them).
    """
    X, ys = _check_inputs(spec, X, Y)
    prob = problem(spec)
    X_space = _sampling_space(spec, X)
    frames: list[pd.DataFrame] = []
    for outcome, y in ys.items():  # over outcomes, few
        if spec.method == "sobol":
            frames.extend(_sobol_rows(spec, prob, outcome, y))
        else:
            frames.extend(_morris_rows(spec, prob, outcome, X_space, y))
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "ANALYSIS_STREAM",
    "COLUMNS",
    "INDICES",
    "analyse",
    "problem",
    "sample_points",
]
