"""Readers of a run directory and of input files (thin functions at the I/O edge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from metastroma._typing import F64Array
from metastroma.errors import ConfigError


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """``metrics.parquet`` as a dict of columns."""
    t = pq.read_table(Path(run_dir) / "metrics.parquet")
    return {name: t.column(name).to_numpy() for name in t.column_names}


def snapshot_steps(run_dir: Path) -> list[int]:
    """Steps that have a complete snapshot, ascending."""
    root = Path(run_dir) / "cells"
    if not root.is_dir():
        return []
    return sorted(
        int(p.name.split("=")[1])
        for p in root.iterdir()
        if p.name.startswith("step=") and (p / "part-0.parquet").is_file()
    )


def read_cells(run_dir: Path, step: int | None = None) -> dict[str, np.ndarray]:
    """One snapshot (the last if ``step`` is None) as a dict of columns."""
    steps = snapshot_steps(run_dir)
    if not steps:
        raise FileNotFoundError(f"{run_dir}: no cell snapshots")
    s = steps[-1] if step is None else step
    t = pq.read_table(Path(run_dir) / "cells" / f"step={s:09d}" / "part-0.parquet")
    return {name: t.column(name).to_numpy() for name in t.column_names}


def read_fields(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(t_min (T,), oxygen_mmhg (T, nx, ny[, nz])) from ``fields.zarr``."""
    import zarr

    from metastroma.store.writers import zarr_array

    g = zarr.open_group(Path(run_dir) / "fields.zarr", mode="r")
    t = np.asarray(zarr_array(g, "t_min")[:])
    # a frame is complete once its time is written (writers append data first)
    return t, np.asarray(zarr_array(g, "oxygen_mmhg")[: t.shape[0]])


def read_positions_csv(path: Path, dim: int) -> F64Array:
    """Cell positions from a CSV with a header naming x, y[, z] (µm).

    Raises
    ------
    ConfigError
        If the file is unreadable, lacks a column, or holds a non-finite value (with its line).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            header = [h.strip() for h in fh.readline().strip().split(",")]
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read cell positions: {err}") from err
    names = ("x", "y", "z")[:dim]
    missing = [n for n in names if n not in header]
    if missing:
        raise ConfigError(f"{path}:1: header {header} lacks column(s) {missing} (µm)")
    cols = [header.index(n) for n in names]
    pos = data[:, cols] if data.size else np.zeros((0, dim))
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if bad.size:
        raise ConfigError(f"{path}:{int(bad[0]) + 2}: non-finite position")
    return pos
