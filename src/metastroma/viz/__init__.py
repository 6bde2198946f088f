"""Figures of runs and images (matplotlib, Agg backend; files only, never a window)."""

from metastroma.viz.alignment import block_orientations, plot_image_alignment
from metastroma.viz.tissue import plot_snapshot, plot_timeseries

__all__ = [
    "block_orientations",
    "plot_image_alignment",
    "plot_snapshot",
    "plot_timeseries",
]
