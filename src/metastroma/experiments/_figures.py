"""Figure helpers shared by the experiments (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from metastroma.experiments._stats import CI, bootstrap_mean_ci

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from metastroma._typing import F64Array

#: One colour per arm role, used across the experiments' figures.
PALETTE = (
    "#1b6ca8",
    "#d1495b",
    "#edae49",
    "#00798c",
    "#66a182",
    "#8d6a9f",
    "#30343f",
    "#e07a5f",
    "#81b29a",
)


def new_figure(
    n_panels: int, width_per_panel: float = 4.2, height: float = 3.6
) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes side by side (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, n_panels, figsize=(width_per_panel * n_panels, height), squeeze=False
    )
    return fig, list(axes[0])


def bar_ci(
    ax: Axes,
    labels: Sequence[str],
    cis: Sequence[CI],
    ylabel: str,
    title: str = "",
    points: Sequence[F64Array] | None = None,
) -> None:
    """Bars of point estimates with 95 % CI whiskers, optional replicate dots."""
    x = np.arange(len(labels))
    est = np.array([c.estimate for c in cis], dtype=float)
    lo = np.array([c.low for c in cis], dtype=float)
    hi = np.array([c.high for c in cis], dtype=float)
    err = np.vstack(
        [
            np.where(np.isfinite(lo), est - lo, 0.0),
            np.where(np.isfinite(hi), hi - est, 0.0),
        ]
    )
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
    ax.bar(x, np.nan_to_num(est), color=colours, alpha=0.75, width=0.65)
    ax.errorbar(
        x, est, yerr=np.clip(err, 0, None), fmt="none", ecolor="k", capsize=4, lw=1.2
    )
    if points is not None:
        for i, p in enumerate(points):
            p = np.asarray(p, dtype=float)
            p = p[np.isfinite(p)]
            jitter = (np.arange(p.size) - (p.size - 1) / 2) * 0.04
            ax.plot(x[i] + jitter, p, "o", ms=3, color="k", alpha=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def line_ci(
    ax: Axes,
    x: npt.ArrayLike,
    samples: Sequence[F64Array],
    label: str,
    colour: str,
    marker: str = "o",
    linestyle: str = "-",
) -> None:
    """A line of replicate means with a shaded 95 % CI band."""
    cis = [bootstrap_mean_ci(s) for s in samples]
    est = np.array([c.estimate for c in cis], dtype=float)
    lo = np.array([c.low if math.isfinite(c.low) else c.estimate for c in cis])
    hi = np.array([c.high if math.isfinite(c.high) else c.estimate for c in cis])
    xs = np.asarray(x, dtype=float)
    ax.plot(xs, est, marker=marker, ms=4, color=colour, label=label, ls=linestyle)
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, lw=0)


def passed_title(fig: Figure, name: str, title: str, n_pass: int, n_crit: int) -> None:
    """Figure title with the pass count."""
    fig.suptitle(f"{name} — {title}   ({n_pass}/{n_crit} criteria pass)", fontsize=11)
