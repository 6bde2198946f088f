"""Figures of ``metastroma demo`` (docs/tutorial.md shows each).

- :func:`tissue_arms_figure`: the three tissue arms' last snapshots side by side (each
  drawn by :func:`~metastroma.viz.tissue.plot_tissue_snapshot`: cells coloured by DDR2
  activity over the fibre field, the tumour edge and the scored band);
- :func:`tissue_timecourse_figure`: DDR2 activity of the cancer cells, boundary
  coherency, invasion depth and cumulative expected exits per cancer cell over time,
  one line per arm;
- :func:`tissue_bars_figure`: the end-of-run numbers of the arms relative to WT.

All writes are atomic; each function returns the path written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from metastroma.viz._save import save_figure

__all__ = ["tissue_arms_figure", "tissue_bars_figure", "tissue_timecourse_figure"]

#: Line colours of the tissue arms (WT dark, perturbations lighter).
ARM_COLOURS = {"wt_msc": "#1b4f72", "no_msc": "#b9770e", "cancer_ko": "#922b21"}


def tissue_arms_figure(
    snapshots: Mapping[str, Path], labels: Mapping[str, str], out: Path
) -> Path:
    """Stack the arms' snapshot images, one arm per row, titled by arm.

    Parameters
    ----------
    snapshots : mapping of arm to PNG path
        One snapshot per arm (:func:`~metastroma.viz.tissue.plot_tissue_snapshot`).
    labels : mapping of arm to str
        Titles.
    out : Path
        PNG to write.
    """
    images = {k: mpimg.imread(str(p)) for k, p in snapshots.items()}
    h, w = next(iter(images.values())).shape[:2]
    n = len(images)
    width_in = 14.0  # one arm per row: each snapshot is two panels wide
    fig, axes = plt.subplots(n, 1, figsize=(width_in, n * (width_in * h / w + 0.4)))
    for ax, (arm, img) in zip(np.atleast_1d(axes), images.items(), strict=True):
        ax.imshow(img)
        ax.set_title(labels.get(arm, arm), fontsize=15, fontweight="bold")
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, out, dpi=110)


def tissue_timecourse_figure(
    metrics: Mapping[str, Mapping[str, np.ndarray]],
    labels: Mapping[str, str],
    h0_per_min: Mapping[str, float],
    out: Path,
) -> Path:
    """Time courses of the DDR2 story in the tissue, one line per arm.

    Panels: (a) mean DDR2 activity A of the cancer cells; (b) collagen coherency C in the
    boundary band (SCIENCE.md §6.1); (c) invasion depth (95th percentile of the distance
    beyond the edge, µm); (d) cumulative expected exits per cancer cell
    (h₀ × doorway exposure ÷ cancer cells; §5.6).
    """
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 7.0), sharex=True)
    panels = [
        ("ddr2_activity_cancer", "DDR2 activity A of cancer cells", "A (0–1)"),
        ("coherency_band", "collagen coherency, boundary band", "C (0–1)"),
        ("invasion_depth_um", "invasion depth beyond the edge", "µm"),
        (None, "expected exits per cancer cell (cumulative)", "exits / cell"),
    ]
    for ax, (col, title, unit) in zip(axes.ravel(), panels, strict=True):
        for arm, m in metrics.items():  # three arms
            t_h = np.asarray(m["t_min"]) / 60.0
            if col is None:
                n = np.maximum(np.asarray(m["n_cancer"], dtype=float), 1.0)
                y = h0_per_min[arm] * np.asarray(m["door_exposure_min_total"]) / n
            else:
                y = np.asarray(m[col], dtype=float)
            ax.plot(
                t_h, y, color=ARM_COLOURS.get(arm), lw=2, label=labels.get(arm, arm)
            )
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("time (h)")
    axes[0, 0].legend(frameon=False, fontsize=9)
    fig.suptitle(
        "Tissue: MSC contact switches on DDR2, DDR2 aligns collagen and drives exits"
    )
    fig.tight_layout()
    return save_figure(fig, out)


def tissue_bars_figure(table: pd.DataFrame, out: Path) -> Path:
    """End-of-run values of each arm relative to WT + MSCs (= 1), one group per quantity."""
    cols = [
        ("ddr2_activity_cancer", "DDR2 activity A"),
        ("coherency_band", "boundary coherency C"),
        ("invasion_depth_um", "invasion depth"),
        ("expected_exits_per_1000_cells_day", "exit rate per cell"),
    ]
    ref = table.set_index("arm").loc["wt_msc"]
    arms = list(table["arm"])
    x = np.arange(len(cols))
    width = 0.8 / len(arms)
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    for i, arm in enumerate(arms):  # three arms
        row = table.set_index("arm").loc[arm]
        vals = [row[c] / ref[c] if ref[c] > 0 else np.nan for c, _ in cols]
        ax.bar(
            x + (i - (len(arms) - 1) / 2) * width,
            vals,
            width,
            color=ARM_COLOURS.get(arm),
            label=str(row["label"]),
        )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, [c[1] for c in cols])
    ax.set_ylabel("relative to WT + MSCs")
    ax.legend(frameon=False, fontsize=9)
    ax.set_title("Tissue at the end of the run, relative to the WT tumour with MSCs")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out)
