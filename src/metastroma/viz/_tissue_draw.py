"""Loading and drawing of a tissue run for the figures and the movie (private).

A run is read once (:func:`_load_tissue_run`: snapshots, collagen frames, events, metrics,
with the drawn window and colour scales fixed over the run) and each snapshot is drawn by
:func:`_tissue_figure`. Conventions as :mod:`metastroma.viz.tissue`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import yaml
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from metastroma._typing import BoolArray, F64Array
from metastroma.errors import ConfigError, RunDirectoryError
from metastroma.store.manifest import read_manifest
from metastroma.store.readers import (
    read_cells,
    read_ecm_fields,
    read_events,
    read_fields,
    snapshot_steps,
)
from metastroma.store.writers import zarr_array

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes


#: Half-thickness of the z-mid section of 3D runs (µm): cells within it are drawn.
SECTION_HALF_UM = 20.0
#: Margin around the cells of the run (µm) that the drawn window keeps.
WINDOW_MARGIN_UM = 60.0
#: At most this many fibre segments along a side of the window (else elements are pooled).
MAX_SEGMENTS_PER_SIDE = 48
#: Anisotropy drawn as a segment one block long is at least this (segments scale with it).
MIN_ANISOTROPY_REF = 0.25
#: Size (inches) of the snapshot figure with collagen (two panels) and without (one).
SNAPSHOT_SIZE_IN = (12.4, 6.3)
SNAPSHOT_SIZE_NO_ECM_IN = (7.4, 6.6)
#: Colour of the cancer cells of runs without DDR2 (no activity to show).
_CANCER_NO_DDR2 = "#c2185b"
#: Resolution of the PNG figures (dots per inch).
FIGURE_DPI = 150
#: Colour map of the cancer cells' DDR2 activity A, on [0, 1].
ACTIVITY_CMAP = "plasma"

_MSC_COLOUR = "#1a9850"
_MSC_EDGE = "#0b4d26"
_MSC_NULL_EDGE = "#6e6e6e"
_BENIGN_COLOUR = "#9ecae1"
_BENIGN_EDGE = "#3f75a3"
_APOPTOTIC_COLOUR = "#dcdcdc"
_NECROTIC_COLOUR = "#5a5a5a"
_FIBRE_COLOUR = "#4a3826"
_FIBRE_OTHER = "#b5ada4"
_TACS2_COLOUR = "#2166ac"
_TACS_MID_COLOUR = "#c9a0dc"
_TACS3_COLOUR = "#d6301f"
_EDGE_COLOUR = "#111111"
_DENSITY_CMAP = LinearSegmentedColormap.from_list(
    "collagen_density", ["#ffffff", "#f3e9d8", "#d9c3a0"]
)
_OXYGEN_CMAP = LinearSegmentedColormap.from_list(
    "oxygen_light", ["#5b8fc7", "#c6dbef", "#ffffff"]
)


@dataclass(frozen=True)
class _Grid:
    """A regular grid: element ``idx`` has its centre at ``lower_um + (idx + .5) * h``."""

    lower_um: F64Array
    element_um: float
    shape: tuple[int, ...]

    @classmethod
    def from_centres(cls, centres: list[np.ndarray]) -> _Grid:
        h = float(centres[0][1] - centres[0][0]) if centres[0].size > 1 else 1.0
        lower = np.array([float(c[0]) - 0.5 * h for c in centres])
        return cls(lower, h, tuple(int(c.size) for c in centres))

    @property
    def upper_um(self) -> F64Array:
        return np.asarray(
            self.lower_um + self.element_um * np.asarray(self.shape), dtype=np.float64
        )

    def centres(self, axis: int) -> F64Array:
        return np.asarray(
            self.lower_um[axis] + (np.arange(self.shape[axis]) + 0.5) * self.element_um,
            dtype=np.float64,
        )


@dataclass(frozen=True)
class _TissueRun:
    """What every frame of a run shares: grids, fields, events, fixed scales, window."""

    run_dir: Path
    name: str
    dim: int
    dt_min: float
    steps: list[int]
    grid: _Grid | None  # the ECM grid, else the oxygen grid, else None (no fields)
    ecm: dict[str, np.ndarray] | None
    o2_t_min: F64Array | None
    o2_mmhg: F64Array | None
    events: pd.DataFrame
    band_um: float
    invasion_threshold_um: float
    tacs2_max_deg: float
    tacs3_min_deg: float
    cancer_radius_um: float
    window_um: tuple[float, float, float, float]
    density_max: float
    anisotropy_ref: float
    o2_max_mmhg: float
    block: int
    present: frozenset[str]
    has_ddr2: bool
    has_exits: bool

    @property
    def has_ecm(self) -> bool:
        return self.ecm is not None

    def t_min(self, step: int) -> float:
        return step * self.dt_min


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise RunDirectoryError(f"{path}: not a scenario mapping")
    return data


def _get(cfg: dict[str, Any], keys: str, default: float) -> float:
    node: Any = cfg
    for k in keys.split("."):  # a few keys deep
        if not isinstance(node, dict) or node.get(k) is None:
            return default
        node = node[k]
    return float(node)


def check_tissue_run(
    run_dir: Path, step: int | None = None, metrics: bool = False
) -> int:
    """Check that ``run_dir`` holds a tissue run with snapshots; the step to draw.

    Parameters
    ----------
    run_dir : Path
        A tissue run directory (docs/run-directory.md).
    step : int, optional
        Mechanics step of a snapshot; default the last one.
    metrics : bool
        Also require ``metrics.parquet`` (the time series).

    Returns
    -------
    int
        ``step``, or the last snapshot's step.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` does not exist, is not a directory, holds neither
        ``manifest.json`` nor ``config.yaml`` (not a run), has no cell snapshot, or
        (``metrics``) no ``metrics.parquet``.
    ConfigError
        If ``step`` has no snapshot; the message lists the steps that have one.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RunDirectoryError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: not a directory")
    if not (
        (run_dir / "manifest.json").is_file() or (run_dir / "config.yaml").is_file()
    ):
        raise RunDirectoryError(
            f"{run_dir}: not a run directory (no manifest.json or config.yaml); make "
            "one with: metastroma run SCENARIO --out DIR"
        )
    steps = snapshot_steps(run_dir)
    if not steps:
        raise RunDirectoryError(
            f"{run_dir}: no cell snapshots in {run_dir / 'cells'} (the run wrote none yet)"
        )
    if metrics and not (run_dir / "metrics.parquet").is_file():
        raise RunDirectoryError(
            f"{run_dir}: no metrics.parquet (written at checkpoints and at the end)"
        )
    if step is None:
        return steps[-1]
    if step not in steps:
        raise ConfigError(
            f"step {step}: {run_dir} has no snapshot at that step; available steps: "
            + ", ".join(str(s) for s in steps)
        )
    return int(step)


def _positions(cells: dict[str, np.ndarray], dim: int) -> F64Array:
    names = ("x_um", "y_um", "z_um")[:dim]
    return np.column_stack([np.asarray(cells[n], dtype=np.float64) for n in names])


def _fields(run_dir: Path) -> tuple[F64Array | None, F64Array | None, _Grid | None]:
    """Oxygen times, frames and grid; Nones if the run has no fields store."""
    import zarr

    from metastroma.store.writers import AXES

    if not (run_dir / "fields.zarr").is_dir():
        return None, None, None
    t, o2 = read_fields(run_dir)
    g = zarr.open_group(run_dir / "fields.zarr", mode="r")
    centres = [
        np.asarray(zarr_array(g, a)[:], dtype=np.float64) for a in AXES[: o2.ndim - 1]
    ]
    return (
        np.asarray(t, dtype=np.float64),
        np.asarray(o2, dtype=np.float64),
        _Grid.from_centres(centres),
    )


def _load_tissue_run(run_dir: Path) -> _TissueRun:
    """Read what all frames of a run share and fix the window and colour scales."""
    run_dir = Path(run_dir)
    check_tissue_run(run_dir)
    steps = snapshot_steps(run_dir)
    cfg = _config(run_dir)
    manifest = read_manifest(run_dir) or {}
    name = str(cfg.get("name") or manifest.get("scenario") or run_dir.name)
    if run_dir.name != name:
        name = f"{name} ({run_dir.name})"
    o2_t, o2, grid = _fields(run_dir)
    ecm: dict[str, np.ndarray] | None = None
    if o2 is not None:
        try:
            ecm = read_ecm_fields(run_dir)
        except ValueError:  # an engine-only run: no collagen arrays
            ecm = None
    if ecm is not None and ecm["t_min"].size == 0:
        ecm = None
    if ecm is not None:
        axes = [k for k in ("xe", "ye", "ze") if k in ecm]
        grid = _Grid.from_centres([ecm[k] for k in axes])
    # the window: every cell of every snapshot, with a margin, as square as fits
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    dims: set[int] = set()
    present: set[str] = set()
    for s in steps:  # one read per snapshot
        cells = read_cells(run_dir, s)
        dims.add(3 if "z_um" in cells else 2)
        present |= {k for k, v in _groups(cells).items() if v.any()}
        if cells["x_um"].size:
            xy = _positions(cells, 2)
            lo = np.minimum(lo, xy.min(axis=0))
            hi = np.maximum(hi, xy.max(axis=0))
    dim = max(dims)
    if grid is not None:
        d_lo, d_hi = grid.lower_um[:2], grid.upper_um[:2]
    else:
        dom = cfg.get("domain", {}) if isinstance(cfg.get("domain"), dict) else {}
        d_lo = np.asarray(dom.get("lower_um", lo[:2] - 100.0), dtype=np.float64)[:2]
        d_hi = np.asarray(dom.get("upper_um", hi[:2] + 100.0), dtype=np.float64)[:2]
    if not np.all(np.isfinite(lo)):
        lo, hi = d_lo.copy(), d_hi.copy()
    centre = 0.5 * (lo + hi)
    half = 0.5 * float(np.max(hi - lo)) + WINDOW_MARGIN_UM
    w_lo = np.maximum(centre - half, d_lo)
    w_hi = np.minimum(centre + half, d_hi)
    window = (float(w_lo[0]), float(w_hi[0]), float(w_lo[1]), float(w_hi[1]))
    density_max, aniso_ref, block = 1.0, MIN_ANISOTROPY_REF, 1
    if ecm is not None and grid is not None:
        density_max = max(float(np.nanmax(ecm["density"])), 1.0)
        block = max(
            1,
            math.ceil(
                float(np.max(w_hi - w_lo)) / grid.element_um / MAX_SEGMENTS_PER_SIDE
            ),
        )
        aniso_ref = max(
            float(np.nanpercentile(ecm["anisotropy"], 99.5)), MIN_ANISOTROPY_REF
        )
    o2_max = 1.0 if o2 is None else max(float(np.nanmax(o2)), 1e-9)
    cancer_radius = _get(cfg, "cell_types.cancer.radius_um", 8.41)
    events = read_events(run_dir)
    # without a config (a foreign directory): assume what the columns can show
    has_ddr2 = bool(_get(cfg, "ddr2.enabled", 1.0 if not cfg else 0.0))
    has_exits = bool(_get(cfg, "intravasation.enabled", 0.0)) or len(events) > 0
    return _TissueRun(
        run_dir=run_dir,
        name=name,
        dim=dim,
        dt_min=_get(cfg, "time.dt_mechanics_min", 0.1),
        steps=steps,
        grid=grid,
        ecm=ecm,
        o2_t_min=o2_t,
        o2_mmhg=o2,
        events=events,
        band_um=_get(cfg, "ecm.band_um", 40.0),
        invasion_threshold_um=_get(cfg, "measure.invasion_threshold_um", 20.0),
        tacs2_max_deg=_get(cfg, "measure.tacs2_max_angle_deg", 15.0),
        tacs3_min_deg=_get(cfg, "measure.tacs3_min_angle_deg", 60.0),
        cancer_radius_um=cancer_radius,
        window_um=window,
        density_max=density_max,
        anisotropy_ref=aniso_ref,
        o2_max_mmhg=o2_max,
        block=block,
        present=frozenset(present),
        has_ddr2=has_ddr2,
        has_exits=has_exits,
    )


def _groups(cells: dict[str, np.ndarray]) -> dict[str, BoolArray]:
    """Masks of the drawn cell groups, by name.

    ``cancer``, ``msc`` (genotype > 0), ``msc_null`` (DDR2-null: genotype 0), ``benign``:
    live cells of that kind; ``apoptotic``, ``necrotic``: dead cells of any kind.
    """
    kind = np.asarray(cells["kind"]).astype(np.int64)
    state = np.asarray(cells["state"]).astype(np.int64)
    genotype = np.asarray(
        cells.get("msc_genotype", np.ones(kind.size)), dtype=np.float64
    )
    live = state == 0
    masks = {
        "cancer": live & (kind == 0),
        "msc": live & (kind == 1) & (genotype > 0),
        "msc_null": live & (kind == 1) & (genotype <= 0),
        "benign": live & (kind == 2),
        "apoptotic": state == 1,
        "necrotic": state == 2,
    }
    return masks


def _nearest_frame(times: F64Array, t_min: float) -> int:
    return int(np.argmin(np.abs(np.asarray(times) - t_min)))


def _mid_slice(a: np.ndarray, dim: int) -> np.ndarray:
    """The middle z slice of a (nx, ny, nz, ...) array in 3D; ``a`` itself in 2D."""
    return a[:, :, a.shape[2] // 2] if dim == 3 else a


@dataclass(frozen=True)
class _Segments:
    """Block-pooled fibre segments of one 2D section."""

    centre_um: F64Array  # (k, 2)
    theta: F64Array  # (k,) rad, [0, π): in-plane fibre angle
    anisotropy: F64Array  # (k,) in [0, 1]: pooled in-plane order
    density: F64Array  # (k,)
    beta_deg: F64Array  # (k,) angle to the edge tangent; NaN where undefined
    in_band: BoolArray  # (k,)


def _pool(a: np.ndarray, block: int) -> np.ndarray:
    """Sum of ``a`` (nx, ny, ...) over ``block`` × ``block`` tiles (trailing rows cut)."""
    nx, ny = a.shape[0] // block, a.shape[1] // block
    a = a[: nx * block, : ny * block]
    return np.asarray(
        a.reshape(nx, block, ny, block, *a.shape[2:]).sum(axis=(1, 3)), dtype=np.float64
    )


def _segments(
    density: F64Array,
    anisotropy: F64Array,
    fibre: F64Array,
    edge_normal: F64Array,
    edge_distance_um: F64Array,
    grid: _Grid,
    block: int,
    band_um: float,
) -> _Segments:
    """Pool one section's collagen over blocks: density-weighted nematic mean.

    The in-plane order of an element is the projection of its director on the plane,
    Q = a (fx² − fy², 2 fx fy) (in 2D: a (cos 2θ, sin 2θ)); a block takes the
    density-weighted mean of Q, so its anisotropy is |⟨Q⟩| and its angle ½ arg ⟨Q⟩.
    """
    fx, fy = fibre[..., 0], fibre[..., 1]
    w = density
    qc = _pool(w * anisotropy * (fx * fx - fy * fy), block)
    qs = _pool(w * anisotropy * 2.0 * fx * fy, block)
    wsum = _pool(w, block)
    n_el = float(block * block)
    safe = np.where(wsum > 0, wsum, 1.0)
    aniso = np.where(wsum > 0, np.hypot(qc, qs) / safe, 0.0)
    theta = np.mod(0.5 * np.arctan2(qs, qc), np.pi)
    nrm = _pool(edge_normal[..., :2], block)
    nn = np.linalg.norm(nrm, axis=-1)
    dist = _pool(np.where(np.isfinite(edge_distance_um), edge_distance_um, 1e30), block)
    dist = dist / n_el
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        fn = np.abs(cos_t * nrm[..., 0] + sin_t * nrm[..., 1]) / nn
    beta = np.where(nn > 1e-9, np.degrees(np.arcsin(np.clip(fn, 0.0, 1.0))), np.nan)
    ix, iy = np.meshgrid(np.arange(qc.shape[0]), np.arange(qc.shape[1]), indexing="ij")
    cx = grid.lower_um[0] + (ix + 0.5) * block * grid.element_um
    cy = grid.lower_um[1] + (iy + 0.5) * block * grid.element_um
    return _Segments(
        centre_um=np.column_stack([cx.ravel(), cy.ravel()]),
        theta=theta.ravel(),
        anisotropy=aniso.ravel(),
        density=(wsum / n_el).ravel(),
        beta_deg=beta.ravel(),
        in_band=((dist > 0.0) & (dist <= band_um)).ravel(),
    )


def _segment_lines(seg: _Segments, length_um: F64Array) -> F64Array:
    """(k, 2, 2) end points of segments centred on ``seg.centre_um``."""
    d = (
        0.5
        * length_um[:, None]
        * np.column_stack([np.cos(seg.theta), np.sin(seg.theta)])
    )
    return np.stack([seg.centre_um - d, seg.centre_um + d], axis=1)


def _circles(
    ax: Axes,
    xy: F64Array,
    radius_um: F64Array,
    gid: str,
    **style: Any,
) -> EllipseCollection:
    """Circles of the given radii (µm, to scale) at ``xy``, added to ``ax``."""
    d = 2.0 * np.asarray(radius_um, dtype=np.float64)
    coll = EllipseCollection(
        d,
        d,
        np.zeros_like(d),
        units="xy",
        offsets=xy,
        offset_transform=ax.transData,
        **style,
    )
    coll.set_gid(gid)
    ax.add_collection(coll)
    return coll


def _scale_bar(ax: Axes, window_um: tuple[float, float, float, float]) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    bar = AnchoredSizeBar(
        ax.transData,
        100.0,
        "100 µm",
        "lower right",
        pad=0.5,
        borderpad=0.6,
        sep=3,
        color="black",
        frameon=True,
        size_vertical=0.006 * (window_um[3] - window_um[2]),
        fontproperties=FontProperties(size=9),
    )
    bar.patch.set_alpha(0.75)
    bar.patch.set_edgecolor("none")
    ax.add_artist(bar)


def _frame_panel_axes(ax: Axes, run: _TissueRun, title: str) -> None:
    x0, x1, y0, y1 = run.window_um
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    _scale_bar(ax, run.window_um)


def _edge_contours(ax: Axes, edge: Any, grid: _Grid, dim: int, band_um: float) -> None:
    """Draw the tumour edge (solid) and the outer limit of the band (dashed) on ``ax``."""
    from scipy import ndimage as ndi

    inside = _mid_slice(np.asarray(edge.inside), dim).astype(np.float64)
    if not inside.any():
        return
    xs, ys = grid.centres(0), grid.centres(1)
    smooth = ndi.gaussian_filter(inside, 0.7, mode="constant")
    if not smooth.min() < 0.5 < smooth.max():  # contour would warn: no level inside
        return
    ax.contour(
        xs, ys, smooth.T, levels=[0.5], colors=_EDGE_COLOUR, linewidths=1.3, zorder=4
    )
    dist = _mid_slice(np.asarray(edge.distance_um), dim)
    if not np.all(np.isfinite(dist)):
        return
    dist = ndi.gaussian_filter(dist, 0.7)
    if band_um > 0 and dist.min() < band_um < dist.max():
        ax.contour(
            xs,
            ys,
            dist.T,
            levels=[band_um],
            colors=_EDGE_COLOUR,
            linewidths=0.8,
            linestyles="--",
            zorder=4,
        )


def _tissue_figure(
    run: _TissueRun, step: int, dpi: int = FIGURE_DPI
) -> tuple[Figure, dict[str, Any]]:
    """Draw the snapshot at ``step``; the figure and its main artists by name.

    Artists: ``cancer`` (live cancer cells, array = DDR2 activity A), ``msc``,
    ``msc_null``, ``benign``, ``apoptotic``, ``necrotic`` (EllipseCollections), ``fibres``
    and ``tacs`` (LineCollections; absent without collagen), ``exits`` (PathCollection).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from metastroma.tissue.edge import distance_at, tumour_edge

    cells = read_cells(run.run_dir, step)
    t_min = run.t_min(step)
    dim = run.dim
    n_rows = cells["x_um"].size
    zero = np.zeros(n_rows)
    kind = np.asarray(cells["kind"]).astype(np.int64)
    state = np.asarray(cells["state"]).astype(np.int64)
    pos = _positions(cells, dim) if n_rows else np.zeros((0, dim))
    radius = np.asarray(cells["radius_um"], dtype=np.float64)
    activity = np.asarray(cells.get("ddr2_activity", zero), dtype=np.float64)
    live_cancer = (kind == 0) & (state == 0)

    edge = None
    if run.grid is not None:
        edge = tumour_edge(
            pos[live_cancer],
            run.grid.lower_um,
            run.grid.element_um,
            run.grid.shape,
            run.band_um,
            run.cancer_radius_um,
        )
    shown = np.ones(n_rows, dtype=bool)
    z_note = ""
    if dim == 3:
        if run.grid is not None and len(run.grid.shape) == 3:
            z_mid = float(run.grid.centres(2)[run.grid.shape[2] // 2])
        else:
            z_mid = float(np.median(pos[:, 2])) if n_rows else 0.0
        shown = np.abs(pos[:, 2] - z_mid) <= SECTION_HALF_UM
        z_note = (
            f"section z = {z_mid:.0f} ± {SECTION_HALF_UM:.0f} µm "
            f"({int(shown.sum())} of {n_rows} cells shown)"
        )

    figsize = SNAPSHOT_SIZE_IN if run.has_ecm else SNAPSHOT_SIZE_NO_ECM_IN
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    if run.has_ecm:
        ax = fig.add_axes((0.03, 0.14, 0.36, 0.69))
        cax = fig.add_axes((0.40, 0.21, 0.010, 0.55))
        ax_b = fig.add_axes((0.51, 0.14, 0.36, 0.69))
        dax = fig.add_axes((0.88, 0.21, 0.010, 0.55))
    else:
        ax = fig.add_axes((0.03, 0.14, 0.60, 0.68))
        cax = fig.add_axes((0.66, 0.2, 0.018, 0.55))
        dax = fig.add_axes((0.82 if run.has_ddr2 else 0.66, 0.2, 0.018, 0.55))
        ax_b = None
    artists: dict[str, Any] = {}

    # background: collagen density (or oxygen without collagen), fixed scale
    grid = run.grid
    seg: _Segments | None = None
    frame_note = ""
    if grid is not None:
        extent = (
            float(grid.lower_um[0]),
            float(grid.upper_um[0]),
            float(grid.lower_um[1]),
            float(grid.upper_um[1]),
        )
        if run.ecm is not None and edge is not None:
            k = _nearest_frame(run.ecm["t_min"], t_min)
            t_frame = float(run.ecm["t_min"][k])
            density = _mid_slice(run.ecm["density"][k], dim)
            aniso = _mid_slice(run.ecm["anisotropy"][k], dim)
            fibre = _mid_slice(run.ecm["fibre"][k], dim)
            normal = _mid_slice(np.asarray(edge.normal), dim)
            distance = _mid_slice(np.asarray(edge.distance_um), dim)
            seg = _segments(
                density, aniso, fibre, normal, distance, grid, run.block, run.band_um
            )
            for a in (ax, ax_b):
                assert a is not None
                im = a.imshow(
                    density.T,
                    origin="lower",
                    extent=extent,
                    cmap=_DENSITY_CMAP,
                    vmin=0.0,
                    vmax=run.density_max,
                    interpolation="nearest",
                    zorder=0,
                )
            fig.colorbar(im, cax=dax).set_label(
                "collagen density (relative)", fontsize=9
            )
        elif run.o2_mmhg is not None and run.o2_t_min is not None:
            k = _nearest_frame(run.o2_t_min, t_min)
            t_frame = float(run.o2_t_min[k])
            im = ax.imshow(
                _mid_slice(run.o2_mmhg[k], dim).T,
                origin="lower",
                extent=extent,
                cmap=_OXYGEN_CMAP,
                vmin=0.0,
                vmax=run.o2_max_mmhg,
                interpolation="bilinear",
                zorder=0,
            )
            fig.colorbar(im, cax=dax).set_label("oxygen (mmHg)", fontsize=9)
        else:
            t_frame = t_min
        if abs(t_frame - t_min) > 1e-6:
            frame_note = f" (fields at t = {t_frame / 60:.1f} h)"
    if grid is None or (run.ecm is None and run.o2_mmhg is None):
        dax.set_visible(False)

    # collagen segments: length ∝ anisotropy, opacity ∝ density
    block_um = run.block * grid.element_um if grid is not None else 0.0
    if seg is not None:
        length = (
            0.92 * block_um * np.clip(seg.anisotropy / run.anisotropy_ref, 0.0, 1.0)
        )
        lines = _segment_lines(seg, length)
        rgba = np.tile(matplotlib.colors.to_rgba(_FIBRE_COLOUR), (lines.shape[0], 1))
        rgba[:, 3] = 0.25 + 0.7 * np.clip(seg.density / run.density_max, 0.0, 1.0)
        fibres = LineCollection(list(lines), colors=rgba, linewidths=1.0, zorder=1)
        fibres.set_gid("fibres")
        ax.add_collection(fibres)
        artists["fibres"] = fibres
        # panel B: the band's collagen coloured by its TACS class
        band = seg.in_band & np.isfinite(seg.beta_deg)
        cls = np.where(
            seg.beta_deg[band] <= run.tacs2_max_deg,
            0,
            np.where(seg.beta_deg[band] >= run.tacs3_min_deg, 2, 1),
        )
        palette = np.array(
            [
                matplotlib.colors.to_rgba(c)
                for c in (_TACS2_COLOUR, _TACS_MID_COLOUR, _TACS3_COLOUR)
            ]
        )
        assert ax_b is not None
        other = LineCollection(
            list(lines[~band]), colors=_FIBRE_OTHER, linewidths=0.9, zorder=1
        )
        ax_b.add_collection(other)
        band_len = (
            0.92
            * block_um
            * np.maximum(
                np.clip(seg.anisotropy[band] / run.anisotropy_ref, 0.0, 1.0), 0.45
            )
        )
        sub = _Segments(
            seg.centre_um[band],
            seg.theta[band],
            seg.anisotropy[band],
            seg.density[band],
            seg.beta_deg[band],
            seg.in_band[band],
        )
        tacs = LineCollection(
            list(_segment_lines(sub, band_len)),
            colors=palette[cls] if cls.size else "k",
            linewidths=2.2,
            zorder=2,
        )
        tacs.set_gid("tacs")
        ax_b.add_collection(tacs)
        artists["tacs"] = tacs
        artists["tacs_beta_deg"] = seg.beta_deg[band]

    # cells, to scale
    xy = pos[:, :2]
    groups = _groups(cells)
    norm = matplotlib.colors.Normalize(0.0, 1.0)
    cancer_sel = groups["cancer"] & shown
    artists["cancer"] = _circles(
        ax,
        xy[cancer_sel],
        radius[cancer_sel],
        "cancer",
        edgecolors="#1d1d1d",
        linewidths=0.25,
        zorder=3,
        **(
            {"array": activity[cancer_sel], "cmap": ACTIVITY_CMAP, "norm": norm}
            if run.has_ddr2
            else {"facecolors": _CANCER_NO_DDR2}
        ),
    )
    artists["cancer_cell_id"] = np.asarray(cells["cell_id"])[cancer_sel]
    styles: dict[str, dict[str, Any]] = {
        "msc": {"facecolors": _MSC_COLOUR, "edgecolors": _MSC_EDGE, "linewidths": 0.5},
        "msc_null": {
            "facecolors": "none",
            "edgecolors": _MSC_NULL_EDGE,
            "linewidths": 1.0,
        },
        "benign": {
            "facecolors": _BENIGN_COLOUR,
            "edgecolors": _BENIGN_EDGE,
            "linewidths": 0.4,
        },
        "apoptotic": {
            "facecolors": _APOPTOTIC_COLOUR,
            "edgecolors": "#7a7a7a",
            "linewidths": 0.4,
        },
        "necrotic": {
            "facecolors": _NECROTIC_COLOUR,
            "edgecolors": "#2a2a2a",
            "linewidths": 0.4,
        },
    }
    for gid, style in styles.items():  # five cell groups
        sel = groups[gid] & shown
        artists[gid] = _circles(ax, xy[sel], radius[sel], gid, zorder=3, **style)
    if run.has_ddr2:
        cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm, ACTIVITY_CMAP), cax=cax)
        cb.set_label("DDR2 activity A (cancer cells)", fontsize=9)
    else:
        cax.set_visible(False)

    # tumour edge and band
    if edge is not None and grid is not None:
        for a in (ax, ax_b):
            if a is not None:
                _edge_contours(a, edge, grid, dim, run.band_um)

    # exits up to now
    ev = run.events
    past = np.asarray(ev["t_min"], dtype=np.float64) <= t_min + 1e-9
    ex = np.asarray(ev["x_um"], dtype=np.float64)[past]
    ey = np.asarray(ev["y_um"], dtype=np.float64)[past]
    artists["exits"] = ax.scatter(
        ex, ey, marker="x", s=40, c="black", linewidths=1.5, zorder=5, label="exit"
    )
    artists["exits"].set_path_effects(  # a white halo: visible on dark cells too
        [patheffects.withStroke(linewidth=3.5, foreground="white")]
    )
    n_exit_cells = (
        int(np.asarray(ev["cluster_size"])[past].sum()) if "cluster_size" in ev else 0
    )

    # counts and title
    n_invading = 0
    if edge is not None and grid is not None and live_cancer.any():
        d = distance_at(edge, pos[live_cancer], grid.lower_um, grid.element_um)
        n_invading = int(np.count_nonzero(d > run.invasion_threshold_um))
    n_cancer = int(live_cancer.sum())
    mean_a = float(activity[live_cancer].mean()) if n_cancer else float("nan")
    n_msc = int(np.count_nonzero((kind == 1) & (state == 0)))
    a_note = f"mean A {mean_a:.2f}, " if run.has_ddr2 else ""
    parts = [f"{n_cancer} cancer cells ({a_note}{n_invading} invading)"]
    if n_msc or "msc" in run.present or "msc_null" in run.present:
        parts.append(f"{n_msc} MSCs")
    n_benign = int(np.count_nonzero((kind == 2) & (state == 0)))
    if n_benign or "benign" in run.present:
        parts.append(f"{n_benign} benign")
    parts.append(
        f"{int((state == 1).sum())} apoptotic, {int((state == 2).sum())} necrotic"
    )
    if run.has_exits:
        parts.append(f"{int(past.sum())} exits ({n_exit_cells} cells)")
    if z_note:
        parts.append(z_note)
    # wrap to the figure's width (about 11 characters an inch at 9.5 pt)
    width = int(11 * fig.get_figwidth())
    text_lines: list[str] = []
    line = ""
    for part in parts:  # a few parts
        joined = f"{line}  ·  {part}" if line else part
        if line and len(joined) > width:
            text_lines.append(line)
            line = part
        else:
            line = joined
    text_lines.append(line)
    fig.text(
        0.5,
        0.975,
        f"{run.name}  —  t = {t_min / 60:.1f} h{frame_note}",
        ha="center",
        va="top",
        fontsize=13,
        weight="bold",
    )
    fig.text(
        0.5,
        0.932,
        "\n".join(text_lines),
        ha="center",
        va="top",
        fontsize=9.5,
        linespacing=1.3,
    )
    _frame_panel_axes(
        ax,
        run,
        "cells on collagen" if run.has_ecm else "cells on the oxygen field",
    )

    # legends below the panels
    def dot(
        face: str | tuple[float, ...], edge_c: str, label: str, lw: float = 0.6
    ) -> Line2D:
        return Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=7,
            mfc=face,
            mec=edge_c,
            mew=lw,
            label=label,
        )

    cell_handles = {
        "cancer": dot(
            matplotlib.colormaps[ACTIVITY_CMAP](0.75), "#1d1d1d", "cancer (colour: A)"
        )
        if run.has_ddr2
        else dot(_CANCER_NO_DDR2, "#1d1d1d", "cancer"),
        "msc": dot(_MSC_COLOUR, _MSC_EDGE, "MSC, DDR2+"),
        "msc_null": dot("none", _MSC_NULL_EDGE, "MSC, DDR2-null", 1.2),
        "benign": dot(_BENIGN_COLOUR, _BENIGN_EDGE, "benign epithelial"),
        "apoptotic": dot(_APOPTOTIC_COLOUR, "#7a7a7a", "apoptotic"),
        "necrotic": dot(_NECROTIC_COLOUR, "#2a2a2a", "necrotic"),
    }
    handles = [h for k, h in cell_handles.items() if k in run.present]
    if run.has_exits:
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="x",
                ms=6,
                mew=1.2,
                c="k",
                label="exit (intravasation)",
                path_effects=[patheffects.withStroke(linewidth=3, foreground="white")],
            )
        )
    handles += [
        Line2D([], [], c=_EDGE_COLOUR, lw=1.3, label="tumour edge"),
        Line2D(
            [], [], c=_EDGE_COLOUR, lw=0.8, ls="--", label=f"{run.band_um:g} µm band"
        ),
    ]
    if seg is not None:
        handles.append(
            Line2D(
                [],
                [],
                c=_FIBRE_COLOUR,
                lw=1.2,
                label="collagen (length ∝ anisotropy)",
            )
        )
    box_a = ax.get_position()
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(box_a.x0 + 0.5 * box_a.width, box_a.y0 - 0.01),
        ncol=3,
        fontsize=8,
        frameon=False,
        handlelength=1.8,
        columnspacing=1.2,
    )
    if ax_b is not None:
        _frame_panel_axes(
            ax_b, run, f"collagen in the {run.band_um:g} µm band: angle β to the edge"
        )
        t2, t3 = run.tacs2_max_deg, run.tacs3_min_deg
        b_handles = [
            Line2D(
                [],
                [],
                c=_TACS2_COLOUR,
                lw=2.4,
                label=f"tangential, β ≤ {t2:g}° (TACS-2)",
            ),
            Line2D([], [], c=_TACS_MID_COLOUR, lw=2.4, label=f"{t2:g}° < β < {t3:g}°"),
            Line2D(
                [], [], c=_TACS3_COLOUR, lw=2.4, label=f"radial, β ≥ {t3:g}° (TACS-3)"
            ),
            Line2D([], [], c=_FIBRE_OTHER, lw=1.0, label="collagen outside the band"),
            Line2D([], [], c=_EDGE_COLOUR, lw=1.3, label="tumour edge"),
            Line2D(
                [],
                [],
                c=_EDGE_COLOUR,
                lw=0.8,
                ls="--",
                label=f"{run.band_um:g} µm band",
            ),
        ]
        box_b = ax_b.get_position()
        fig.legend(
            handles=b_handles,
            loc="upper center",
            bbox_to_anchor=(box_b.x0 + 0.5 * box_b.width, box_b.y0 - 0.01),
            ncol=2,
            fontsize=8,
            frameon=False,
            handlelength=1.8,
            columnspacing=1.2,
        )
    return fig, artists


def _save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG at its own size and dpi, atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    with open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=fig.dpi)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
