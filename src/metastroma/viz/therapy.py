"""Figures of therapy: plasma concentration, exposure and DDR2 occupancy over a few days.

:func:`plot_inhibitor_time_course` draws, for one or more dosing regimens, three panels
against time in days: the total plasma concentration (ng/mL), the exposure compared with
the IC50 (nM, on each regimen's basis, free or total, with the IC50 as a dashed line),
and the receptor occupancy θ_I(t) with its mean over the plot written in the legend.
docs/figures/pk_dasatinib.png is this figure for dasatinib set A, 100 mg QD vs 70 mg BID.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from metastroma.config.therapy import InhibitorConfig
from metastroma.therapy import concentration_ng_per_ml, exposure, occupancy
from metastroma.viz._save import save_figure

__all__ = ["plot_inhibitor_time_course"]


def plot_inhibitor_time_course(
    regimens: Mapping[str, InhibitorConfig],
    path: Path,
    *,
    days: float = 3.0,
    n_points: int = 4001,
) -> Path:
    """Plot concentration, exposure and θ_I(t) of dosing regimens; returns the path written.

    Parameters
    ----------
    regimens : mapping of str to InhibitorConfig
        Legend label → regimen (at least one).
    path : Path
        Output file; the format follows the suffix.
    days : float
        Time span from hour 0 of day 0, > 0.
    n_points : int
        Time points of each curve (≥ 2).

    Returns
    -------
    Path
        ``path``.
    """
    if not regimens:
        raise ValueError("regimens: give at least one regimen")
    if not days > 0 or n_points < 2:
        raise ValueError(f"days = {days} must be > 0 and n_points = {n_points} >= 2")
    t_h = np.linspace(0.0, 24.0 * days, n_points)
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 8.0), sharex=True)
    ic50s: dict[tuple[float, str], str] = {}
    for i, (label, inh) in enumerate(regimens.items()):
        color = f"C{i}"
        drug = inh.drug_config
        c = concentration_ng_per_ml(t_h, drug, inh.schedule)
        e = exposure(t_h, inh)
        theta = occupancy(t_h, inh)
        axes[0].plot(t_h / 24.0, c, color=color, label=label)
        axes[1].plot(
            t_h / 24.0, e.c_nmol_per_l, color=color, label=f"{label} ({e.basis})"
        )
        mean = float(np.trapezoid(theta, t_h) / t_h[-1])
        axes[2].plot(t_h / 24.0, theta, color=color, label=f"{label}: mean {mean:.2f}")
        ic50s[(drug.ic50_nmol_per_l, e.basis)] = drug.name
    for (ic50, basis), name in ic50s.items():
        axes[1].axhline(ic50, color="0.3", ls="--", lw=1)
        axes[1].annotate(
            f"IC50 {ic50:g} nM ({name}, {basis})",
            (0.99, ic50),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=8,
            bbox={"fc": "white", "ec": "none", "alpha": 0.8},
        )
    axes[0].set_ylabel("total plasma C (ng/mL)")
    axes[1].set_ylabel("exposure vs IC50 (nM)")
    axes[2].set_ylabel(r"occupancy $\theta_I$")
    axes[2].set_ylim(0.0, 1.0)
    axes[2].set_xlabel("time (days from day 0)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)
