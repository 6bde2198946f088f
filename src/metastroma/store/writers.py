"""Scheduled writers: each owns one item of the run directory (DESIGN.md, STYLE.md §6).

- :class:`MetricsWriter` — ``metrics.parquet``: rows kept in memory (and in every
  checkpoint), written atomically at each checkpoint and at the end.
- :class:`SnapshotWriter` — ``cells/step=NNNNNNNNN/part-0.parquet``: a new directory per
  snapshot, built under a temporary name and renamed.
- :class:`FieldsWriter` — ``fields.zarr`` (Zarr format 3): ``oxygen_mmhg`` appended along
  ``time``, and with a collagen field ``ecm_density``, ``ecm_anisotropy`` and the director
  ``ecm_fibre_x``/``_y``/``_z`` on the ECM grid (dimensions ``xe``, ``ye``, ``ze``). Zarr
  appends cannot be atomic, so the checkpoint records how many frames were complete and
  a resumed run truncates to that count before appending.
- :class:`EventsWriter` — ``events.parquet``: one row per exit event (intravasation),
  kept in memory and in every checkpoint, written atomically at checkpoints and at the end.

Triggers are whole numbers of phenotype steps (``every_blocks``); the runner calls
``due(block)`` between blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import zarr

from metastroma.store.atomic import build_dir_atomic, write_parquet_atomic
from metastroma.tissue.state import COLUMNS, Cells

AXES = ("x", "y", "z")


def zarr_array(group: zarr.Group, name: str) -> zarr.Array:
    """The array ``name`` of ``group``.

    Raises
    ------
    ValueError
        If ``name`` is a sub-group (a damaged or foreign store).
    """
    node = group[name]
    if not isinstance(node, zarr.Array):
        raise ValueError(f"{group.store}: {name!r} is not an array")
    return node


@dataclass(frozen=True)
class Trigger:
    """Fires at blocks 0, k, 2k, ... (block = phenotype step index)."""

    every_blocks: int

    def due(self, block: int) -> bool:
        """Whether the writer runs at ``block``."""
        return block % self.every_blocks == 0


def trigger_for(every_min: float, dt_phenotype_min: float) -> Trigger:
    """A trigger every ``every_min`` rounded to whole phenotype steps (at least one)."""
    return Trigger(max(1, round(every_min / dt_phenotype_min)))


@dataclass
class MetricsWriter:
    """Accumulates metric rows; writes ``metrics.parquet``."""

    path: Path
    rows: dict[str, list[float]] = field(default_factory=dict)

    def add(self, row: dict[str, float]) -> None:
        """Append one row (all rows have the same keys)."""
        if not self.rows:
            self.rows = {k: [] for k in row}
        for k, v in row.items():
            self.rows[k].append(v)

    def table(self) -> pa.Table:
        """The rows as an Arrow table (``step`` as int64)."""
        cols = {k: np.asarray(v, dtype=np.float64) for k, v in self.rows.items()}
        if "step" in cols:
            cols["step"] = cols["step"].astype(np.int64)
        return pa.table(cols)

    def write(self) -> None:
        """Write every row so far, atomically."""
        if self.rows:
            write_parquet_atomic(self.path, self.table())

    def as_arrays(self) -> dict[str, np.ndarray]:
        """For the checkpoint."""
        return {
            f"metrics/{k}": np.asarray(v, dtype=np.float64)
            for k, v in self.rows.items()
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """From a checkpoint."""
        self.rows = {
            k.removeprefix("metrics/"): [float(x) for x in v]
            for k, v in arrays.items()
            if k.startswith("metrics/")
        }


def snapshot_table(cells: Cells) -> pa.Table:
    """The live cells as an Arrow table: one column per scalar state column, x_um/y_um/z_um."""
    n = cells.n_live
    cols: dict[str, np.ndarray] = {}
    for name, spec in COLUMNS.items():
        if not spec.snapshot:
            continue
        arr = cells[name][:n]
        if spec.width == "dim":
            # pos_um -> x_um, y_um; motility_um_per_min -> motility_x_um_per_min, ...
            cut = name.find("_um")
            stem, unit = (name[:cut], name[cut:]) if cut >= 0 else (name, "")
            for a in range(cells.dim):
                key = f"{AXES[a]}{unit}" if stem == "pos" else f"{stem}_{AXES[a]}{unit}"
                cols[key] = arr[:, a].copy()
        else:
            cols[name] = arr.copy()
    return pa.table(cols)


@dataclass
class SnapshotWriter:
    """Writes ``cells/step=NNNNNNNNN/part-0.parquet``."""

    root: Path

    def write(self, cells: Cells, step: int) -> Path:
        """Write one snapshot directory atomically; returns its path."""
        self.root.mkdir(exist_ok=True)
        path = self.root / f"step={step:09d}"
        table = snapshot_table(cells)

        def fill(tmp: Path) -> None:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp / "part-0.parquet")

        build_dir_atomic(path, fill)
        return path


@dataclass
class FieldsWriter:
    """Appends field frames to ``fields.zarr`` (format 3, readable by xarray.open_zarr).

    Attributes
    ----------
    shape, centres
        Oxygen grid shape and voxel centres per axis (µm).
    ecm_shape, ecm_centres
        ECM grid shape and element centres, or None without a collagen field.
    """

    path: Path
    shape: tuple[int, ...]
    centres: list[np.ndarray]
    n_frames: int = 0
    ecm_shape: tuple[int, ...] | None = None
    ecm_centres: list[np.ndarray] | None = None

    def _frame_arrays(self) -> list[tuple[str, tuple[int, ...]]]:
        out = [("oxygen_mmhg", self.shape)]
        if self.ecm_shape is not None:
            d = len(self.ecm_shape)
            names = ["ecm_density", "ecm_anisotropy"] + [
                f"ecm_fibre_{AXES[a]}" for a in range(d)
            ]
            out += [(name, self.ecm_shape) for name in names]
        return out

    def open(self, n_frames: int = 0) -> None:
        """Create the store (``n_frames == 0``) or truncate it to ``n_frames`` (resume)."""
        if n_frames == 0:
            g = zarr.open_group(self.path, mode="w", zarr_format=3)
            for name, shp in self._frame_arrays():
                dims = (
                    AXES[: len(shp)]
                    if name == "oxygen_mmhg"
                    else tuple(f"{a}e" for a in AXES[: len(shp)])
                )
                arr = g.create_array(
                    name,
                    shape=(0, *shp),
                    chunks=(1, *shp),
                    dtype="f8",
                    fill_value=0.0,
                    dimension_names=("time", *dims),
                )
                arr.attrs["units"] = "mmHg" if name == "oxygen_mmhg" else "1"
            t = g.create_array(
                "t_min",
                shape=(0,),
                chunks=(1024,),
                dtype="f8",
                fill_value=0.0,
                dimension_names=("time",),
            )
            t.attrs["units"] = "min"
            coords = list(zip(AXES[: len(self.shape)], self.centres, strict=True))
            if self.ecm_shape is not None and self.ecm_centres is not None:
                coords += [(f"{AXES[a]}e", c) for a, c in enumerate(self.ecm_centres)]
            for d, c in coords:
                a = g.create_array(d, shape=c.shape, dtype="f8", dimension_names=(d,))
                a[:] = c
                a.attrs["units"] = "µm"
        else:
            g = zarr.open_group(self.path, mode="r+")
            for name, shp in self._frame_arrays():
                zarr_array(g, name).resize((n_frames, *shp))
            zarr_array(g, "t_min").resize((n_frames,))
        self.n_frames = n_frames

    def append(
        self,
        field_mmhg: np.ndarray,
        t_min: float,
        ecm: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Append one frame (data first, then the time that marks it complete).

        ``ecm`` maps the ECM array names (``ecm_density``, ...) to grid-shaped arrays.
        """
        g = zarr.open_group(self.path, mode="r+")
        k = self.n_frames
        frames = {"oxygen_mmhg": field_mmhg, **(ecm or {})}
        for name, shp in self._frame_arrays():
            arr = zarr_array(g, name)
            arr.resize((k + 1, *shp))
            arr[k] = frames[name]
        t = zarr_array(g, "t_min")
        t.resize((k + 1,))
        t[k] = t_min
        self.n_frames = k + 1


@dataclass
class EventsWriter:
    """Accumulates exit events; writes ``events.parquet`` (docs/run-directory.md)."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, events: list[dict[str, Any]]) -> None:
        """Append event rows."""
        self.rows.extend(events)

    def table(self) -> pa.Table:
        """The events as an Arrow table (list columns for the member cells)."""
        from metastroma.tissue.vessels import EVENT_COLUMNS

        cols: dict[str, Any] = {c: [r[c] for r in self.rows] for c in EVENT_COLUMNS}
        for c in ("cell_ids", "cells_ddr2_expression", "cells_ddr2_activity"):
            cols[c] = [r[c] for r in self.rows]
        schema = pa.schema(
            [
                ("event", pa.int64()),
                ("step", pa.int64()),
                ("t_min", pa.float64()),
                ("doorway", pa.int64()),
                ("vessel", pa.string()),
                ("leader_id", pa.int64()),
                ("cluster_size", pa.int64()),
                ("x_um", pa.float64()),
                ("y_um", pa.float64()),
                ("ddr2_expression", pa.float64()),
                ("ddr2_activity", pa.float64()),
                ("ecm_density", pa.float64()),
                ("ecm_anisotropy", pa.float64()),
                ("psi_deg", pa.float64()),
                ("cell_ids", pa.list_(pa.int64())),
                ("cells_ddr2_expression", pa.list_(pa.float64())),
                ("cells_ddr2_activity", pa.list_(pa.float64())),
            ]
        )
        return pa.table(cols, schema=schema)

    def write(self) -> None:
        """Write every event so far, atomically (an empty table if there are none)."""
        write_parquet_atomic(self.path, self.table())

    def as_arrays(self) -> dict[str, np.ndarray]:
        """For the checkpoint: the rows as UTF-8 JSON bytes."""
        import json

        data = json.dumps(self.rows).encode()
        return {"events/json": np.frombuffer(data, dtype=np.uint8).copy()}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """From a checkpoint."""
        import json

        raw = arrays.get("events/json")
        self.rows = [] if raw is None else json.loads(bytes(raw.tobytes()).decode())
