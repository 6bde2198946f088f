"""What a link member measures, read from its run directory (docs/run-directory.md).

Primary members (the tumour at a scan point), over the window [t₀, t₁] of the scan:

- ``activity``: mean of ``ddr2_activity_cancer`` over the metrics rows with t₀ ≤ t ≤ t₁
  (mean cancer-cell DDR2 activity A);
- ``hazard_per_min``: h̄ = h₀ × Δ``door_exposure_min_total`` / Δ``cancer_cell_min_total``
  over the window, the *expected* exits per cancer cell per minute given the cells'
  trajectories (exposure = Σ Δt Σ h/h₀ over the cells at doorways, SCIENCE.md §5.6; every
  doorway, lymphatic ones included: the body splits shedding into lymph and blood with its
  own f_lymph, §7.3).
  It has far less noise than the realised exits (a few per run) and the same expectation;
  h₀ is the scenario's ``intravasation.base_hazard_per_min`` and cancels in r_intra;
- ``realised_per_min``: Δ``exit_cells_total`` / Δ``cancer_cell_min_total`` (a check);
- ``n_events``, ``n_cluster_events``, ``exit_cells``: exit events of the whole run (every
  event of ``events.parquet``; clusters have ``cluster_size`` ≥ 2), for f_cl;
- ``coherency_band``, ``invasion_depth_um``, ``tacs3_fraction``: the last metrics row.

Colony members (E8's lung-like secondary tissue): ``colony_rate_per_day`` =
ln(N_end/N₀)/T × 1440 with N the live cancer cells (``n_cancer``) of the first and last
metrics rows and T their time apart (min), N_end floored at 0.5 (an extinct colony gets a
finite, strongly negative rate [A]); ``colony_activity`` the mean A over the run.
Cumulative columns are read at the window's ends by linear interpolation between metrics
rows (they are sampled every ``output.metrics_every_min``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from metastroma.errors import RunDirectoryError

__all__ = ["measure_colony", "measure_primary"]

_PRIMARY_COLUMNS = (
    "t_min",
    "ddr2_activity_cancer",
    "door_exposure_min_total",
    "cancer_cell_min_total",
    "exit_cells_total",
    "coherency_band",
    "invasion_depth_um",
    "tacs3_fraction",
)


def _read(run_dir: Path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    path = run_dir / "metrics.parquet"
    try:
        table = pq.read_table(path, columns=list(columns))
    except (OSError, KeyError, ValueError) as err:
        raise RunDirectoryError(f"{path}: cannot read the link columns: {err}") from err
    return {c: table.column(c).to_numpy().astype(np.float64) for c in columns}


def measure_primary(
    run_dir: Path, window_min: tuple[float, float], h0_per_min: float
) -> dict[str, float]:
    """Measure a primary member (see the module docstring).

    Parameters
    ----------
    run_dir : Path
        The member's tissue run directory.
    window_min : (float, float), min
        Averaging window [t₀, t₁].
    h0_per_min : float, 1/min
        Doorway base hazard h₀ of the member's scenario.

    Returns
    -------
    dict
        ``activity``, ``hazard_per_min``, ``realised_per_min`` (1/min), ``n_events``,
        ``n_cluster_events``, ``exit_cells``, ``coherency_band``, ``invasion_depth_um``,
        ``tacs3_fraction``.

    Raises
    ------
    RunDirectoryError
        Unreadable files, or a run that ends before the window does.
    """
    m = _read(run_dir, _PRIMARY_COLUMNS)
    t = m["t_min"]
    t0, t1 = window_min
    if t.size < 2 or t[-1] < t1 - 1e-9:
        raise RunDirectoryError(
            f"{run_dir}: the run ends at t = {t[-1]:g} min, before the window's end "
            f"{t1:g} min"
        )
    inside = (t >= t0 - 1e-9) & (t <= t1 + 1e-9)
    activity = float(np.mean(m["ddr2_activity_cancer"][inside]))

    def delta(col: str) -> float:
        y = m[col]
        return float(np.interp(t1, t, y) - np.interp(t0, t, y))

    cell_min = delta("cancer_cell_min_total")
    hazard = h0_per_min * delta("door_exposure_min_total") / cell_min
    realised = delta("exit_cells_total") / cell_min
    n_events = n_cluster = exit_cells = 0
    events = run_dir / "events.parquet"
    if events.is_file():
        import pyarrow.parquet as pq

        sizes = pq.read_table(events, columns=["cluster_size"]).column(0).to_numpy()
        n_events = int(sizes.size)
        n_cluster = int(np.count_nonzero(sizes >= 2))
        exit_cells = int(sizes.sum())
    return {
        "activity": activity,
        "hazard_per_min": hazard,
        "realised_per_min": realised,
        "n_events": float(n_events),
        "n_cluster_events": float(n_cluster),
        "exit_cells": float(exit_cells),
        "coherency_band": float(m["coherency_band"][-1]),
        "invasion_depth_um": float(m["invasion_depth_um"][-1]),
        "tacs3_fraction": float(m["tacs3_fraction"][-1]),
    }


def measure_colony(run_dir: Path) -> dict[str, float]:
    """Measure a colony member: growth rate (1/day) and mean A (see the module docstring).

    Raises
    ------
    RunDirectoryError
        Unreadable metrics, fewer than two rows, or no cancer cell at the start.
    """
    m = _read(run_dir, ("t_min", "n_cancer", "ddr2_activity_cancer"))
    t, n = m["t_min"], m["n_cancer"]
    if t.size < 2 or n[0] <= 0:
        raise RunDirectoryError(f"{run_dir}: a colony needs two metrics rows and cells")
    rate = math.log(max(n[-1], 0.5) / n[0]) / (t[-1] - t[0]) * 1440.0
    return {
        "colony_rate_per_day": rate,
        "colony_activity": float(np.mean(m["ddr2_activity_cancer"][1:])),
    }
