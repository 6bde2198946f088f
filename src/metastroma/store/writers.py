"""Scheduled writers: each owns one item of the run directory (DESIGN.md, STYLE.md §6).

- :class:`MetricsWriter` — ``metrics.parquet``: rows kept in memory (and in every
  checkpoint), written atomically at each checkpoint and at the end.
- :class:`SnapshotWriter` — ``cells/step=NNNNNNNNN/part-0.parquet``: a new directory per
  snapshot, built under a temporary name and renamed.
- :class:`FieldsWriter` — ``fields.zarr`` (Zarr format 3): ``oxygen_mmhg`` appended along
  ``time``. Zarr appends cannot be atomic, so the checkpoint records how many frames were
  complete and a resumed run truncates to that count before appending.

Triggers are whole numbers of phenotype steps (``every_blocks``); the runner calls
``due(block)`` between blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
    """Appends oxygen frames to ``fields.zarr`` (format 3, readable by xarray.open_zarr)."""

    path: Path
    shape: tuple[int, ...]
    centres: list[np.ndarray]
    n_frames: int = 0

    def open(self, n_frames: int = 0) -> None:
        """Create the store (``n_frames == 0``) or truncate it to ``n_frames`` (resume)."""
        dims = AXES[: len(self.shape)]
        if n_frames == 0:
            g = zarr.open_group(self.path, mode="w", zarr_format=3)
            o2 = g.create_array(
                "oxygen_mmhg",
                shape=(0, *self.shape),
                chunks=(1, *self.shape),
                dtype="f8",
                fill_value=0.0,
                dimension_names=("time", *dims),
            )
            o2.attrs["units"] = "mmHg"
            t = g.create_array(
                "t_min",
                shape=(0,),
                chunks=(1024,),
                dtype="f8",
                fill_value=0.0,
                dimension_names=("time",),
            )
            t.attrs["units"] = "min"
            for d, c in zip(dims, self.centres, strict=True):
                a = g.create_array(d, shape=c.shape, dtype="f8", dimension_names=(d,))
                a[:] = c
                a.attrs["units"] = "µm"
        else:
            g = zarr.open_group(self.path, mode="r+")
            zarr_array(g, "oxygen_mmhg").resize((n_frames, *self.shape))
            zarr_array(g, "t_min").resize((n_frames,))
        self.n_frames = n_frames

    def append(self, field_mmhg: np.ndarray, t_min: float) -> None:
        """Append one frame (data first, then the time that marks it complete)."""
        g = zarr.open_group(self.path, mode="r+")
        o2 = zarr_array(g, "oxygen_mmhg")
        t = zarr_array(g, "t_min")
        k = self.n_frames
        o2.resize((k + 1, *self.shape))
        o2[k] = field_mmhg
        t.resize((k + 1,))
        t[k] = t_min
        self.n_frames = k + 1
