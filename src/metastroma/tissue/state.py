"""Cell state as a struct of arrays with a capacity and a live count.

Cells are rows of parallel NumPy arrays (columns); rows ``[0, n_live)`` hold live agents
(dead-but-not-yet-removed cells included), rows beyond are free. Columns are declared by
:class:`Column` specs in :data:`COLUMNS`; a later capability adds its own (DDR2 expression,
activity, ...) with :func:`register_column`, and every generic operation here (growing,
sorting, compacting, inheriting at division, checkpointing, snapshots) handles it without
change. Kernels receive the arrays they need, never a ``Cells``.

Identity is ``cell_id`` (int64, kept for life, keys every random draw); ``row`` is storage
and changes when rows are sorted or compacted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from metastroma._typing import BoolArray, I64Array

Width = Literal["scalar", "dim"]


@dataclass(frozen=True)
class Column:
    """One state column.

    Attributes
    ----------
    name : str
        Column name, with its unit suffix.
    dtype : str
        NumPy dtype.
    width : {"scalar", "dim"}
        One value per cell, or one per space axis.
    fill : float
        Value of a fresh row.
    inherit : bool
        Whether a daughter copies the mother's value at division (else ``fill``).
    snapshot : bool
        Whether snapshots include the column.
    """

    name: str
    dtype: str
    width: Width = "scalar"
    fill: float = 0.0
    inherit: bool = True
    snapshot: bool = True


COLUMNS: dict[str, Column] = {}


def register_column(col: Column) -> None:
    """Add a column to every ``Cells`` built afterwards (idempotent for an identical spec).

    Raises
    ------
    ValueError
        If a different column of the same name exists.
    """
    old = COLUMNS.get(col.name)
    if old is not None and old != col:
        raise ValueError(f"column {col.name!r} already registered as {old}")
    COLUMNS[col.name] = col


for _c in (
    Column("cell_id", "int64", fill=-1),
    Column("kind", "int8"),
    Column("pos_um", "float64", "dim"),
    Column("radius_um", "float64"),
    Column("state", "int8"),  # LIVE, APOPTOTIC, NECROTIC (kernels)
    Column("t_state_min", "float64", inherit=False),
    Column("phase", "int8"),
    Column("t_phase_min", "float64"),
    Column("oxygen_mmhg", "float64"),
    Column("direction", "float64", "dim", inherit=False, snapshot=False),
    Column("vel_um_per_min", "float64", "dim", inherit=False, snapshot=False),
    Column("vel_prev_um_per_min", "float64", "dim", inherit=False, snapshot=False),
    Column("has_prev", "bool", inherit=False, snapshot=False),
    # DDR2 and MSCs (SCIENCE.md §4.6): expression D, activity A, per-cell basal D₀, D_max,
    # competence χ (epithelial cells) and genotype δ (MSCs); daughters inherit them
    Column("ddr2_expression", "float64"),
    Column("ddr2_activity", "float64"),
    Column("ddr2_basal", "float64"),
    Column("ddr2_max", "float64"),
    Column("ddr2_competence", "float64"),
    Column("msc_genotype", "float64"),
    Column("msc_contacts", "int32", inherit=False),
    Column("msc_contact_min", "float64"),
    # √(1 − g_adh A): the EMT adhesion loss enters c_a,ij as a product of these (§4.9)
    Column("adhesion_scale", "float64", fill=1.0, snapshot=False),
    # the motility velocity m after contact guidance (§5.5): co-alignment, remodelling
    Column("motility_um_per_min", "float64", "dim", inherit=False),
):
    register_column(_c)


@dataclass
class Cells:
    """Struct of arrays: ``cols[name]`` has shape (capacity,) or (capacity, dim).

    Attributes
    ----------
    dim : int
        2 or 3.
    n_live : int
        Rows in use.
    next_id : int
        The next ``cell_id`` to hand out.
    cols : dict[str, ndarray]
    """

    dim: int
    n_live: int
    next_id: int
    cols: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, dim: int, capacity: int) -> Cells:
        """A state with no cells and room for ``capacity``."""
        cols = {name: _fresh(spec, dim, capacity) for name, spec in COLUMNS.items()}
        return cls(dim=dim, n_live=0, next_id=0, cols=cols)

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return int(self.cols["cell_id"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def live(self, name: str) -> np.ndarray:
        """View of the live rows of a column."""
        return self.cols[name][: self.n_live]

    def with_capacity(self, capacity: int) -> Cells:
        """A copy with ``capacity`` rows (≥ n_live); every live row kept."""
        if capacity < self.n_live:
            raise ValueError(f"capacity {capacity} below the {self.n_live} live cells")
        cols = {}
        for name, spec in COLUMNS.items():
            arr = _fresh(spec, self.dim, capacity)
            if name in self.cols:
                arr[: self.n_live] = self.cols[name][: self.n_live]
            cols[name] = arr
        return Cells(dim=self.dim, n_live=self.n_live, next_id=self.next_id, cols=cols)

    def reserve(self, extra: int) -> Cells:
        """Self if ``extra`` more rows fit, else a copy grown geometrically (×1.5 at least)."""
        need = self.n_live + extra
        if need <= self.capacity:
            return self
        return self.with_capacity(grown(self.capacity, need))

    def permute(self, order: I64Array) -> None:
        """Reorder the live rows: new row r holds old row ``order[r]`` (in place)."""
        n = self.n_live
        for arr in self.cols.values():
            arr[:n] = arr[:n][order]

    def compact(self, keep: BoolArray) -> int:
        """Drop live rows where ``keep`` is False, stable (row order kept); returns how many."""
        n = self.n_live
        idx = np.flatnonzero(keep[:n])
        m = idx.shape[0]
        if m == n:
            return 0
        for spec_name, arr in self.cols.items():
            arr[:m] = arr[idx]
            arr[m:n] = _fill_value(COLUMNS[spec_name])
        self.n_live = m
        return n - m

    def inherit(self, mothers: I64Array, first_row: int) -> None:
        """Copy inherited columns from ``mothers`` to rows ``first_row + m``; reset the others."""
        rows = np.arange(first_row, first_row + mothers.shape[0])
        for name, arr in self.cols.items():
            spec = COLUMNS[name]
            if spec.inherit:
                arr[rows] = arr[mothers]
            else:
                arr[rows] = _fill_value(spec)


def grown(capacity: int, need: int) -> int:
    """Geometric growth: at least ``need`` and at least 1.5 × ``capacity``."""
    return max(need, int(capacity * 1.5) + 16)


def _fill_value(spec: Column) -> float | bool:
    return bool(spec.fill) if spec.dtype == "bool" else spec.fill


def _fresh(spec: Column, dim: int, capacity: int) -> np.ndarray:
    shape: tuple[int, ...] = (capacity, dim) if spec.width == "dim" else (capacity,)
    return np.full(shape, _fill_value(spec), dtype=spec.dtype)
