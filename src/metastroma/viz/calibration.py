"""Figures of a calibration: the weighted posterior sample as a pairs (corner) plot.

:func:`plot_posterior_pairs` draws an n × n grid for n parameters. On the diagonal, each
parameter's weighted histogram (a density: the bars' area is 1), its 95 % credible
interval shaded and, where given, the true value as a dashed red line. Below the
diagonal, every pair of parameters as a scatter of the particles, coloured and sized by
weight (the heaviest drawn last, on top), the true point as a red cross. Above the
diagonal: empty. Each axis spans the sample (and the true value), so that a posterior much
narrower than its prior keeps its shape; the prior's range is written above its
histogram. A parameter with a log-scale prior gets a log axis and log-spaced bins.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from metastroma._typing import F64Array
from metastroma.viz._save import save_figure

__all__ = ["plot_posterior_pairs"]


def _limits(x: F64Array, also: list[float], log: bool) -> tuple[float, float]:
    """Axis range: the sample and the points in ``also``, padded by 5 % on each side."""
    pts = np.concatenate([x, np.asarray(also, dtype=np.float64)])
    if log:
        pts = np.log(pts[pts > 0])
    lo, hi = float(np.min(pts)), float(np.max(pts))
    pad = 0.05 * (hi - lo) if hi > lo else (abs(lo) * 0.05 or 0.5)
    lo, hi = lo - pad, hi + pad
    return (math.exp(lo), math.exp(hi)) if log else (lo, hi)


def plot_posterior_pairs(
    samples: pd.DataFrame,
    weights: F64Array,
    path: Path,
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    log_parameters: Collection[str] = (),
    truth: Mapping[str, float] | None = None,
    intervals: Mapping[str, tuple[float, float]] | None = None,
    title: str = "",
    bins: int | None = None,
) -> Path:
    """Draw the pairs plot of a weighted posterior sample; returns the path written.

    Parameters
    ----------
    samples : DataFrame
        One row per particle, one column per parameter (the parameter's units).
    weights : (n,) float64
        Particle weights, non-negative with a positive sum (normalised here).
    path : Path
        Output file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    ranges : mapping of str to (float, float), optional
        Parameter → prior range (bounds, or central 95 % interval), in its units;
        written above its histogram.
    log_parameters : collection of str
        Parameters drawn on log axes (log-scale priors); their values must be > 0.
    truth : mapping of str to float, optional
        Parameter → true value (synthetic checks), marked in red.
    intervals : mapping of str to (float, float), optional
        Parameter → 95 % credible interval, shaded on the diagonal.
    title : str
    bins : int, optional
        Histogram bins on the diagonal; default: Rice's rule, 2 n^(1/3), within
        10–40 (12 for 200 particles).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        No parameters or particles, weights of another length, negative or non-finite
        weights, or a non-positive value of a log parameter.
    """
    params = [str(c) for c in samples.columns]
    w = np.asarray(weights, dtype=np.float64)
    if not params or len(samples) == 0:
        raise ValueError("samples: need at least one parameter column and one particle")
    if w.shape != (len(samples),):
        raise ValueError(f"weights: shape {w.shape}, expected ({len(samples)},)")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights: must be finite, non-negative, with a positive sum")
    w = w / w.sum()
    if bins is None:
        bins = int(np.clip(round(2.0 * len(w) ** (1.0 / 3.0)), 10, 40))
    logs = set(log_parameters)
    values = {p: samples[p].to_numpy(dtype=np.float64) for p in params}
    for p in logs & set(params):
        if np.any(values[p] <= 0):
            raise ValueError(f"{p}: a log axis needs values > 0")
    ranges = ranges or {}
    truth = truth or {}
    intervals = intervals or {}
    lims = {
        p: _limits(values[p], [truth[p]] if p in truth else [], p in logs)
        for p in params
    }

    n = len(params)
    size = 2.7 if n > 1 else 4.2
    fig, axes = plt.subplots(
        n, n, figsize=(size * n + 0.8, size * n + 0.5), squeeze=False
    )
    order = np.argsort(w, kind="stable")
    marker = 6.0 + 40.0 * w[order] / w.max()
    for i, pi in enumerate(params):
        for j, pj in enumerate(params):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            lo, hi = lims[pj]
            if pj in logs:
                ax.set_xscale("log")
            if i == j:
                edges = (
                    np.geomspace(lo, hi, bins + 1)
                    if pj in logs
                    else np.linspace(lo, hi, bins + 1)
                )
                ax.hist(
                    values[pj],
                    bins=edges,
                    weights=w,
                    density=True,
                    color="tab:blue",
                    alpha=0.75,
                )
                if pj in intervals:
                    ax.axvspan(*intervals[pj], color="tab:blue", alpha=0.15, lw=0)
                if pj in truth:
                    ax.axvline(truth[pj], color="tab:red", ls="--", lw=1.5)
                ax.set_yticks([])
                if pj in ranges:
                    ax.set_title(
                        f"prior {ranges[pj][0]:.3g} – {ranges[pj][1]:.3g}",
                        fontsize="small",
                    )
            else:
                if pi in logs:
                    ax.set_yscale("log")
                ax.scatter(
                    values[pj][order],
                    values[pi][order],
                    c=w[order],
                    s=marker,
                    cmap="viridis",
                    lw=0,
                )
                if pi in truth and pj in truth:
                    ax.plot(truth[pj], truth[pi], "x", color="tab:red", ms=9, mew=2)
                ax.set_ylim(*lims[pi])
            ax.set_xlim(lo, hi)
            if i == n - 1:
                ax.set_xlabel(pj)
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i > 0:
                ax.set_ylabel(pi)
            elif i != j:
                ax.tick_params(labelleft=False)
    handles: list[Patch | Line2D] = [
        Patch(color="tab:blue", alpha=0.75, label="posterior (weighted)"),
        Patch(color="tab:blue", alpha=0.15, label="95 % credible interval"),
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color="tab:green",
            label="particles (colour, size: weight)",
        ),
    ]
    if truth:
        handles.append(Line2D([], [], color="tab:red", ls="--", label="true value"))
    legend_ax = axes[0, n - 1] if n > 1 else axes[0, 0]
    legend_ax.legend(
        handles=handles, loc="upper right", fontsize="small", frameon=False
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
