"""Figure of a global sensitivity analysis: the indices of each outcome as horizontal bars.

:func:`plot_indices` draws the table of :func:`metastroma.ensemble.sensitivity.analyse`, one
panel per outcome, parameters down the side in the table's order (long parameter paths are
wrapped at their dots):

- Sobol': S1 (first order) and ST (total) side by side with their bootstrap intervals as
  error bars; S2 rows are not drawn (they are in the table). A parameter with ST ≫ S1
  acts mostly through interactions.
- Morris: mu_star with its bootstrap interval, and sigma beside it (no interval); sigma
  comparable to mu_star means nonlinear or interacting effects (Morris 1991).

The figure is drawn on a bare :class:`matplotlib.figure.Figure` (Agg renderer; no pyplot
state, no window), rendered in memory and written atomically
(:func:`metastroma.viz._save.save_figure`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metastroma.viz._save import save_figure

#: Resolution of the written figure, dots per inch.
DPI = 150
#: Bars drawn per method: (index, colour, legend label); error bars where the table has
#: an interval.
_BARS = {
    "sobol": (
        ("S1", "#4477aa", "S1 (first order)"),
        ("ST", "#ee6677", "ST (total)"),
    ),
    "morris": (
        ("mu_star", "#228833", "mu* (mean |effect|)"),
        ("sigma", "#ccbb44", "σ (sd of effects)"),
    ),
}
_TITLES = {
    "sobol": "Sobol' indices (error bars: bootstrap confidence interval)",
    "morris": "Morris elementary effects (error bars: bootstrap confidence interval)",
}
_REQUIRED = {
    "outcome",
    "method",
    "parameter",
    "index",
    "value",
    "conf_low",
    "conf_high",
}


def _wrap(path: str, width: int = 26) -> str:
    """Break a long parameter path into lines after its dots, each about ``width`` wide."""
    parts = path.split(".")
    tokens = [p + "." for p in parts[:-1]] + parts[-1:]
    lines = [""]
    for token in tokens:  # over the parts of one path, few
        if lines[-1] and len(lines[-1]) + len(token) > width:
            lines.append("")
        lines[-1] += token
    return "\n".join(lines)


def _panel(ax: Axes, sub: pd.DataFrame, method: str, params: list[str]) -> None:
    """Grouped horizontal bars of one outcome's indices on ``ax``."""
    bars = _BARS[method]
    n_bar = len(bars)
    height = 0.8 / n_bar
    y0 = np.arange(len(params), dtype=np.float64)
    for i, (index, colour, label) in enumerate(bars):
        rows = (
            sub[sub["index"] == index]
            .drop_duplicates("parameter")
            .set_index("parameter")
            .reindex(params)
        )
        value = rows["value"].to_numpy(dtype=np.float64)
        lo = (value - rows["conf_low"].to_numpy(dtype=np.float64)).clip(min=0.0)
        hi = (rows["conf_high"].to_numpy(dtype=np.float64) - value).clip(min=0.0)
        has_err = np.isfinite(lo) & np.isfinite(hi)
        y = y0 - 0.4 + height * (i + 0.5)
        ax.barh(y, np.nan_to_num(value), height=height * 0.9, color=colour, label=label)
        if has_err.any():
            ax.errorbar(
                value[has_err],
                y[has_err],
                xerr=np.vstack([lo[has_err], hi[has_err]]),
                fmt="none",
                ecolor="0.2",
                elinewidth=0.8,
                capsize=2,
            )
    if not np.isfinite(sub["value"].to_numpy(dtype=np.float64)).any():
        ax.text(
            0.5,
            0.5,
            "outcome never changed:\nindices undefined",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="0.3",
        )
    ax.axvline(0.0, color="0.5", linewidth=0.6)
    ax.set_yticks(y0)
    ax.set_yticklabels(
        [_wrap(p) for p in params], fontsize=8
    )  # sharey hides inner ones
    ax.set_ylim(len(params) - 0.5, -0.5)  # first parameter at the top
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    if method == "sobol":
        ax.set_xlabel("share of output variance", fontsize=8)
    else:
        ax.set_xlabel("elementary effect (outcome units per step Δ)", fontsize=8)


def plot_indices(table: pd.DataFrame, path: Path, title: str | None = None) -> Path:
    """Draw the sensitivity indices of every outcome, one bar panel each, and write a PNG.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`metastroma.ensemble.sensitivity.analyse` (columns
        ``outcome``, ``method``, ``parameter``, ``index``, ``value``, ``conf_low``,
        ``conf_high``), of one method. NaN values (an outcome that never changed) draw
        no bar.
    path : Path
        The figure file; its parent directories are created. The format follows the
        suffix (PNG for ``.png``), at 150 dpi.
    title : str, optional
        Figure title; default names the method.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        Columns are missing, the table is empty, or it mixes methods.
    """
    missing = sorted(_REQUIRED - set(table.columns))
    if missing:
        raise ValueError(f"table lacks columns {missing}; expected analyse()'s table")
    if table.empty:
        raise ValueError("table is empty: nothing to plot")
    methods = table["method"].unique()
    if len(methods) != 1 or methods[0] not in _BARS:
        raise ValueError(
            f"table has methods {sorted(map(str, methods))}; plot one of 'sobol' or "
            "'morris' at a time"
        )
    method = str(methods[0])
    outcomes = [str(o) for o in table["outcome"].unique()]
    params = [str(p) for p in table["parameter"].unique()]

    n_col = min(len(outcomes), 3)
    n_row = math.ceil(len(outcomes) / n_col)
    longest = max(len(_wrap(p).splitlines()) for p in params)
    row_h = max(1.6, 0.32 * len(params) * max(1, longest / 1.5)) + 0.6
    fig = Figure(
        figsize=(3.4 * n_col + 1.6, row_h * n_row + 0.8), dpi=DPI, layout="constrained"
    )
    axes = fig.subplots(n_row, n_col, squeeze=False, sharey=True)
    for k, outcome in enumerate(outcomes):
        ax = axes[k // n_col, k % n_col]
        _panel(ax, table[table["outcome"] == outcome], method, params)
        ax.set_title(outcome, fontsize=9)
    for k in range(len(outcomes), n_row * n_col):
        axes[k // n_col, k % n_col].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title or _TITLES[method], fontsize=10)

    return save_figure(fig, Path(path), dpi=DPI)


__all__ = ["DPI", "plot_indices"]
