"""Figures of runs and images (matplotlib, Agg backend; files only, never a window)."""

from metastroma.viz.alignment import block_orientations, plot_image_alignment
from metastroma.viz.movie import write_movie
from metastroma.viz.sensitivity import plot_indices
from metastroma.viz.tissue import (
    check_tissue_run,
    plot_snapshot,
    plot_timeseries,
    plot_tissue_snapshot,
    plot_tissue_timeseries,
)

__all__ = [
    "block_orientations",
    "check_tissue_run",
    "plot_image_alignment",
    "plot_indices",
    "plot_snapshot",
    "plot_timeseries",
    "plot_tissue_snapshot",
    "plot_tissue_timeseries",
    "write_movie",
]
