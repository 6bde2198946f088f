"""Readers of a run directory and of input files (thin functions at the I/O edge)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq

from metastroma._typing import F64Array
from metastroma.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


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


def read_ecm_fields(run_dir: Path) -> dict[str, np.ndarray]:
    """The collagen (ECM) frames of ``fields.zarr``.

    Index ``[i, j(, k)]`` of a grid array is the element at x = ``xe[i]``, y = ``ye[j]``
    (z = ``ze[k]``): x along the first axis, y up. The fibre director is sign-free.

    Parameters
    ----------
    run_dir : Path
        A tissue run directory whose scenario simulated collagen (``ecm.enabled``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``t_min`` (T,) float64, min: times of the complete frames;
        ``xe``, ``ye``[, ``ze``] (n,) float64, µm: element centres per axis;
        ``density`` (T, nxe, nye[, nze]) float64, relative to the reference density;
        ``anisotropy`` (T, nxe, nye[, nze]) float64 in [0, 1];
        ``fibre`` (T, nxe, nye[, nze], dim) float64: unit fibre director (x, y[, z]).

    Raises
    ------
    FileNotFoundError
        If ``run_dir/fields.zarr`` does not exist.
    ValueError
        If the store holds no collagen arrays (the run did not simulate collagen), or
        they are incomplete or of mismatched shapes; the message names the path.
    """
    import zarr

    from metastroma.store.writers import AXES, zarr_array

    path = Path(run_dir) / "fields.zarr"
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no fields store (the run wrote no frames)")
    g = zarr.open_group(path, mode="r")
    names = set(g.array_keys())
    if "ecm_density" not in names:
        raise ValueError(
            f"{path}: no collagen arrays (ecm_density, ...): the run did not simulate "
            "collagen (ecm.enabled: false)"
        )
    t = np.asarray(zarr_array(g, "t_min")[:], dtype=np.float64)
    n = t.shape[0]  # a frame is complete once its time is written
    density = np.asarray(zarr_array(g, "ecm_density")[:n], dtype=np.float64)
    dim = density.ndim - 1
    wanted = ["ecm_anisotropy"] + [f"ecm_fibre_{a}" for a in AXES[:dim]]
    wanted += [f"{a}e" for a in AXES[:dim]]
    missing = [name for name in wanted if name not in names]
    if dim not in (2, 3) or missing:
        raise ValueError(
            f"{path}: incomplete collagen arrays: ecm_density has {dim} grid axes, "
            f"missing {missing}"
        )
    out: dict[str, np.ndarray] = {"t_min": t}
    for a in AXES[:dim]:
        out[f"{a}e"] = np.asarray(zarr_array(g, f"{a}e")[:], dtype=np.float64)
    out["density"] = density
    out["anisotropy"] = np.asarray(
        zarr_array(g, "ecm_anisotropy")[:n], dtype=np.float64
    )
    out["fibre"] = np.stack(
        [
            np.asarray(zarr_array(g, f"ecm_fibre_{a}")[:n], dtype=np.float64)
            for a in AXES[:dim]
        ],
        axis=-1,
    )
    grid = tuple(out[f"{a}e"].shape[0] for a in AXES[:dim])
    shapes = {
        "density": density.shape,
        "anisotropy": out["anisotropy"].shape,
        "fibre": out["fibre"].shape[:-1],
    }
    bad = {k: s for k, s in shapes.items() if s != (n, *grid)}
    if bad:
        raise ValueError(
            f"{path}: collagen arrays {bad} do not match (T, nxe, nye[, nze]) = "
            f"{(n, *grid)}"
        )
    return out


#: Columns of an empty :func:`read_events` frame (a run without exits).
EVENT_FRAME_COLUMNS = ("t_min", "x_um", "y_um", "cluster_size", "ddr2_activity")


def read_events(run_dir: Path) -> pd.DataFrame:
    """``events.parquet`` (exit events) as a DataFrame, one row per event.

    Parameters
    ----------
    run_dir : Path
        A tissue run directory.

    Returns
    -------
    pandas.DataFrame
        The columns of docs/run-directory.md (``t_min`` min, ``x_um``, ``y_um`` µm,
        ``cluster_size``, ``ddr2_activity``, ...); an empty frame with the columns of
        :data:`EVENT_FRAME_COLUMNS` if the run wrote no events file (no intravasation).
    """
    import pandas as pd

    path = Path(run_dir) / "events.parquet"
    if not path.is_file():
        return pd.DataFrame({c: np.zeros(0) for c in EVENT_FRAME_COLUMNS})
    frame: pd.DataFrame = pq.read_table(path).to_pandas()
    return frame
