"""Figure of tissue → body response curves: each quantity against ã, with its band.

:func:`plot_curves` draws one panel per quantity of a :class:`~metastroma.link.
ResponseCurves`: the grid means as points joined by the PCHIP interpolant the body reads
(:func:`metastroma.link.interpolate`), the 95 % band shaded, and the categorical arms as
labelled points with error bars at their achieved ã. Relative quantities get a dotted
line at 1 and the WT reference (ã = 1) a vertical one. The figure is drawn on a bare
:class:`matplotlib.figure.Figure` (Agg, no pyplot state) and written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from metastroma.viz._save import save_figure

__all__ = ["plot_curves"]

_ARM_STYLE = {
    "cancer_ko": ("#cc3311", "o"),
    "msc_null": ("#0077bb", "s"),
    "host_null": ("#33bbee", "D"),
    "host_het": ("#009988", "^"),
    "no_msc": ("#ee7733", "v"),
}


def plot_curves(curves: Any, path: Path, title: str = "") -> Path:
    """Draw every quantity of ``curves`` against its axis and write ``path``.

    Parameters
    ----------
    curves : ResponseCurves
    path : Path
        Image file (``.png``, ``.pdf``, ``.svg``).
    title : str
        Figure title (the scan's name).

    Returns
    -------
    Path
        ``path``.
    """
    from metastroma.link import QUANTITIES, interpolate

    names = list(curves.quantities)
    ncol = min(4, len(names))
    nrow = math.ceil(len(names) / ncol)
    fig = Figure(figsize=(4.0 * ncol, 3.3 * nrow))
    x = curves.x
    fine = np.linspace(float(x[0]), float(x[-1]), 200)
    for k, name in enumerate(names):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        q = curves.quantities[name]
        spec = QUANTITIES.get(name)
        it = interpolate(curves, name, fine)
        ax.fill_between(fine, it.low, it.high, color="#bbbbbb", alpha=0.6, lw=0)
        ax.plot(fine, it.mean, color="#333333", lw=1.2)
        ax.errorbar(
            x,
            q.mean,
            yerr=[q.mean - q.ci_low, q.ci_high - q.mean],
            fmt="o",
            color="#333333",
            ms=4,
            capsize=2,
            label="grid (f_KD, θ_I)",
        )
        for arm, pt in curves.arms.items():
            v = pt.quantities.get(name)
            if v is None:
                continue
            colour, marker = _ARM_STYLE.get(arm, ("#aa3377", "x"))
            ax.errorbar(
                [pt.x],
                [v.mean],
                yerr=[[v.mean - v.ci_low], [v.ci_high - v.mean]],
                fmt=marker,
                color=colour,
                ms=6,
                capsize=3,
                mfc="none",
                label=arm,
            )
        if spec is not None and spec.relative:
            ax.axhline(1.0, color="#888888", ls=":", lw=0.8)
        ax.axvline(1.0, color="#888888", ls=":", lw=0.8)
        unit = spec.unit if spec is not None else ""
        ax.set_title(name.replace("_", " "), fontsize=9)
        ax.set_xlabel("ã = A / A_WT (achieved)", fontsize=8)
        ax.set_ylabel(unit if unit != "1" else "–", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"{title}: tissue → body response curves (95 % bands)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
