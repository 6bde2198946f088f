"""Figures of an ensemble: each outcome against each varied parameter.

:func:`plot_outcome` draws one figure per outcome with one panel per varied parameter.
Every finished member is a small grey dot (replicates spread slightly sideways so that
they do not hide each other); each design point's mean is a coloured marker with its
confidence interval (from ``summary.parquet``). On a grid, points that share the values of
the other parameters are joined by a line and coloured by them, so a 2-parameter grid
reads as a family of curves; for Latin-hypercube and Sobol' designs the panels are
scatter plots of the point means. A parameter sampled on a log scale, or whose values
are all positive and span more than two decades, gets a log axis.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from metastroma.viz._save import save_figure

__all__ = ["plot_outcome"]


def _is_log(values: np.ndarray, declared: bool) -> bool:
    if declared:
        return True
    v = values[np.isfinite(values)]
    return bool(v.size and (v > 0).all() and v.max() / v.min() > 100.0)


def _numeric(s: pd.Series) -> np.ndarray | None:
    try:
        return s.to_numpy(dtype=float)
    except (TypeError, ValueError):
        return None


def plot_outcome(
    table: pd.DataFrame,
    summary: pd.DataFrame,
    parameters: list[str],
    outcome: str,
    path: Path,
    *,
    log_parameters: frozenset[str] = frozenset(),
    joined: bool = True,
    title: str = "",
) -> Path:
    """Draw ``outcome`` against each parameter; returns the path written.

    Parameters
    ----------
    table : DataFrame
        ``results.parquet``: one row per member.
    summary : DataFrame
        ``summary.parquet``: one row per point and outcome.
    parameters : list of str
        The varied parameters (one panel each).
    outcome : str
    path : Path
        PNG (or PDF/SVG) to write.
    log_parameters : frozenset of str
        Parameters sampled on a log scale.
    joined : bool
        Join point means that share the other parameters' values (grid designs).
    title : str
    """
    n = len(parameters)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 0.6, 3.6), squeeze=False)
    summ = summary[summary["outcome"] == outcome]
    done = table[table["status"] == "done"]
    for ax, p in zip(axes[0], parameters, strict=True):
        others = [q for q in parameters if q != p]
        xs = _numeric(done[p])
        categorical = xs is None
        if categorical:
            cats = list(dict.fromkeys(table[p].astype(str)))
            pos = {c: i for i, c in enumerate(cats)}
            x_members = done[p].astype(str).map(pos).to_numpy(dtype=float)
            x_points = summ[p].astype(str).map(pos).to_numpy(dtype=float)
            ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
        else:
            assert xs is not None
            x_members = xs
            x_points = summ[p].to_numpy(dtype=float)
        log = not categorical and _is_log(
            table[p].to_numpy(dtype=float), p in log_parameters
        )
        jitter = (done["replicate"].to_numpy(dtype=float) % 7 - 3) * 0.008
        if log:
            ax.set_xscale("log")
            x_dots = x_members * 10.0**jitter
        else:
            span = np.ptp(x_points) if x_points.size else 0.0
            x_dots = x_members + jitter * (span if span > 0 else 1.0)
        ax.scatter(
            x_dots, done[outcome], s=9, color="0.6", alpha=0.7, lw=0, label="members"
        )
        if joined and others:
            groups = list(summ.groupby(others, sort=True, dropna=False))
        else:
            groups = [((), summ)]
        for k, (key, grp) in enumerate(groups):  # a few families of points
            order = np.argsort(
                grp[p].astype(str).map(pos).to_numpy(dtype=float)
                if categorical
                else grp[p].to_numpy(dtype=float)
            )
            g = grp.iloc[order]
            gx = x_points[summ.index.get_indexer(g.index)]
            lo = (g["mean"] - g["ci_low"]).to_numpy(dtype=float)
            hi = (g["ci_high"] - g["mean"]).to_numpy(dtype=float)
            key_t = key if isinstance(key, tuple) else (key,)
            label = (
                ", ".join(
                    f"{q.rsplit('.', 1)[-1]}={v}"
                    for q, v in zip(others, key_t, strict=True)
                )
                if others and joined
                else "point mean ± CI"
            )
            ax.errorbar(
                gx,
                g["mean"],
                yerr=np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)]),
                fmt="o-" if joined else "o",
                ms=4,
                lw=1.2,
                capsize=2,
                color=f"C{k % 10}",
                label=label,
            )
        ax.set_xlabel(p)
        ax.set_ylabel(outcome)
        ax.grid(alpha=0.3)
        if len(groups) <= 8:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title or outcome, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
