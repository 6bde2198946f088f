"""Figures of runs (matplotlib, Agg backend; files only, never a window)."""

from metastroma.viz.tissue import plot_snapshot, plot_timeseries

__all__ = ["plot_snapshot", "plot_timeseries"]
