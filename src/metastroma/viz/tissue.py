"""Figures of a tissue run: snapshots of the cells on the collagen, and time series.

- :func:`plot_snapshot`, :func:`plot_timeseries`: the last snapshot over the oxygen field
  and the cell counts, radius and oxygen over time (any run; the demo's figures).
- :func:`plot_tissue_snapshot`, :func:`plot_tissue_timeseries`: figures of DDR2 runs,
  for a slide: cells to scale (cancer cells coloured by DDR2 activity A, MSCs by
  genotype) over the collagen drawn as oriented segments, the tumour edge, the exits, and
  the band's collagen coloured by its TACS class; and the DDR2, collagen, alignment,
  invasion and exit metrics over time. :func:`metastroma.viz.write_movie` draws every
  snapshot the same way.

Conventions: x right, y up, µm; grid index ``[i, j]`` is x = ``xe[i]``, y = ``ye[j]``, so
grid arrays are drawn transposed with ``origin='lower'``. Fibre angles θ = atan2(fy, fx)
mod 180°, counter-clockwise from +x; β is the angle between a fibre and the edge
tangent (0° tangential, TACS-2; 90° radial, TACS-3), as in
:mod:`metastroma.tissue.metrics`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure

from metastroma.store.manifest import read_manifest
from metastroma.store.readers import (
    read_cells,
    read_fields,
    read_metrics,
)
from metastroma.store.writers import zarr_array
from metastroma.viz._tissue_draw import (
    FIGURE_DPI,
    _config,
    _load_tissue_run,
    _save_figure,
    _tissue_figure,
    check_tissue_run,
)

if TYPE_CHECKING:
    pass

_STATE_COLOURS = {
    0: None,
    1: "#7b3294",
    2: "#3d3d3d",
}  # live by O2, apoptotic, necrotic


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_snapshot(run_dir: Path, out: Path) -> Path:
    """Draw the cells of the last snapshot over the last oxygen frame.

    Cells are drawn to scale; live cells coloured by their O2, dead ones by state. For 3D
    runs, the cells within one radius of the middle z plane, over that plane.
    """
    cells = read_cells(run_dir)
    t, o2 = read_fields(run_dir)
    field = o2[-1]
    import zarr

    g = zarr.open_group(Path(run_dir) / "fields.zarr", mode="r")
    xs, ys = np.asarray(zarr_array(g, "x")[:]), np.asarray(zarr_array(g, "y")[:])
    dx = xs[1] - xs[0]
    x, y, r = cells["x_um"], cells["y_um"], cells["radius_um"]
    if field.ndim == 3:
        zs = np.asarray(zarr_array(g, "z")[:])
        mid = field.shape[2] // 2
        field = field[:, :, mid]
        keep = np.abs(cells["z_um"] - zs[mid]) < r
        x, y, r = x[keep], y[keep], r[keep]
        state, c = cells["state"][keep], cells["oxygen_mmhg"][keep]
    else:
        state, c = cells["state"], cells["oxygen_mmhg"]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dx / 2, ys[-1] + dx / 2)
    im = ax.imshow(
        field.T,
        origin="lower",
        extent=extent,
        cmap="Blues_r",
        vmin=0,
        vmax=max(float(field.max()), 1e-9),
        alpha=0.85,
    )
    fig.colorbar(im, ax=ax, label="oxygen (mmHg)", shrink=0.85)
    live = state == 0
    colours = plt.cm.autumn(np.clip(c / max(float(field.max()), 1e-9), 0, 1))
    for s, col in _STATE_COLOURS.items():
        if col is not None:
            colours[state == s] = matplotlib.colors.to_rgba(col)
    ec = EllipseCollection(
        2 * r,
        2 * r,
        np.zeros_like(r),
        units="xy",
        offsets=np.column_stack([x, y]),
        offset_transform=ax.transData,
        facecolors=colours,
        edgecolors="k",
        linewidths=0.1,
    )
    ax.add_collection(ec)
    vmax = max(float(field.max()), 1e-9)
    sm = plt.cm.ScalarMappable(cmap="autumn", norm=matplotlib.colors.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, label="oxygen at live cells (mmHg)", shrink=0.85, pad=0.02)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(
        f"t = {t[-1] / 60:.1f} h: {int(live.sum())} live (colour: O2), "
        f"{int((state == 1).sum())} apoptotic (purple), {int((state == 2).sum())} necrotic (grey)",
        fontsize=8,
    )
    return _save(fig, out)


def plot_timeseries(run_dir: Path, out: Path) -> Path:
    """Cell counts by state, tumour radius and oxygen over time."""
    m = read_metrics(run_dir)
    th = m["t_min"] / 60.0
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    ax = axes[0]
    ax.plot(th, m["n_cells"], "k-", label="all")
    ax.plot(th, m["n_live"], "C2-", label="live")
    ax.plot(th, m["n_apoptotic"], "C4-", label="apoptotic")
    ax.plot(th, m["n_necrotic"], "C7-", label="necrotic")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("cells")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(th, m["tumour_radius_um"], "C0-", label="from gyration radius")
    ax.plot(th, m["tumour_r95_um"], "C1--", label="95th percentile")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("tumour radius (µm)")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(th, m["o2_min_mmhg"], "C3-", label="min (voxels)")
    ax.plot(th, m["o2_cells_mean_mmhg"], "C0-", label="mean at live cells")
    ax.plot(th, 100 * m["frac_live_below_5_mmhg"], "C7:", label="% live < 5 mmHg")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("mmHg / %")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


# --------------------------------------------------------------------------------------
# Tissue figures of DDR2 runs: cells on collagen, collagen at the tumour edge, time series
# --------------------------------------------------------------------------------------


def plot_tissue_snapshot(run_dir: Path, out: Path, step: int | None = None) -> Path:
    """Draw one snapshot of a tissue run: cells on collagen, and collagen at the edge.

    Left panel: the collagen as short segments, one per element (or per block of
    elements when the window is wide), along the local fibre direction, length ∝
    anisotropy and opacity ∝ density, over the collagen density; the cells as circles to
    scale: live cancer cells coloured by DDR2 activity A (``plasma``, 0–1), DDR2+ MSCs
    green, DDR2-null MSCs (genotype 0) hollow grey, benign cells light blue, apoptotic
    and necrotic cells grey; the tumour edge (level set of the live cancer cells on the
    ECM grid, :func:`metastroma.tissue.tumour_edge`) and the outer limit of the scored
    band (dashed); exits so far as ×. Right panel: the band's collagen coloured by its
    angle β to the edge tangent, as scored by the TACS metrics. Without collagen (an
    engine-only run) one panel over the oxygen field. 3D runs: the z-mid section
    (cells within ±20 µm of the middle ECM slice, fibres of that slice).

    The window and the colour scales are fixed for the whole run (every snapshot of a run
    is drawn alike; the movie uses the same drawing).

    Parameters
    ----------
    run_dir : Path
        A tissue run directory.
    out : Path
        PNG to write (atomically); its directory is created. The figure is
        ``SNAPSHOT_SIZE_IN`` × ``FIGURE_DPI`` pixels (``SNAPSHOT_SIZE_NO_ECM_IN`` without
        collagen).
    step : int, optional
        Mechanics step of the snapshot; default the last one.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is missing, not a run directory, or has no snapshot.
    ConfigError
        If ``step`` has no snapshot (the message lists the steps that have one).
    """
    run_dir = Path(run_dir)
    step = check_tissue_run(run_dir, step)
    run = _load_tissue_run(run_dir)
    fig, _ = _tissue_figure(run, step)
    return _save_figure(fig, Path(out))


#: (column, legend label, line style) of each series, by panel.
_Series = tuple[str, str, str]
_PANELS: tuple[tuple[str, str, tuple[_Series, ...]], ...] = (
    (
        "Cells",
        "number of cells",
        (
            ("n_cancer", "cancer", "C3-"),
            ("n_msc", "MSC", "C2-"),
            ("n_benign", "benign", "C0-"),
            ("n_invading", "invading cancer", "C1--"),
        ),
    ),
    (
        "Tumour size",
        "radius (µm)",
        (
            ("tumour_radius_um", "from gyration radius", "k-"),
            ("edge_radius_um", "of the edge (bulk area)", "C0--"),
        ),
    ),
    (
        "Oxygen",
        "O₂ (mmHg)",
        (
            ("o2_cells_mean_mmhg", "mean at live cells", "C0-"),
            ("o2_min_mmhg", "minimum (voxels)", "C3--"),
        ),
    ),
    (
        "DDR2 in cancer cells",
        "mean per cancer cell (0–1)",
        (
            ("ddr2_expression_cancer", "expression D", "C4-"),
            ("ddr2_activity_cancer", "activity A", "C1-"),
            ("frac_cancer_touching_msc", "fraction touching an MSC", "C2:"),
        ),
    ),
    (
        "Collagen at the edge",
        "fraction or order (0–1)",
        (
            ("coherency_band", "local coherency, band", "C0-"),
            ("coherency_inside", "local coherency, inside", "C0:"),
            ("anisotropy_band", "anisotropy, band", "C5-"),
            ("tacs2_fraction", "TACS-2 fraction, band", "C9--"),
            ("tacs3_fraction", "TACS-3 fraction, band", "C3--"),
        ),
    ),
    (
        "Alignment",
        "order parameter (−1 to 1)",
        (
            ("coalignment_cancer", "co-alignment, cancer", "C3-"),
            ("coalignment_msc", "co-alignment, MSC", "C2-"),
            ("cell_fibre_agreement_cancer", "cell–fibre agreement, cancer", "C3--"),
            ("cell_fibre_agreement_msc", "cell–fibre agreement, MSC", "C2--"),
            ("radial_order_band", "radial order of band collagen", "C7:"),
        ),
    ),
    (
        "Invasion beyond the edge",
        "distance (µm)",
        (
            ("invasion_depth_um", "95th percentile", "C1-"),
            ("invasion_max_um", "maximum", "C1:"),
        ),
    ),
    (
        "Exits (intravasation)",
        "cells per hour (1/h)",
        (("exit_cells_per_h", "cells exiting per hour", "k-"),),
    ),
)
#: Size (inches) of one time-series panel.
PANEL_SIZE_IN = (4.2, 3.3)


def _has_data(m: dict[str, np.ndarray], col: str) -> bool:
    if col not in m:
        return False
    v = np.asarray(m[col], dtype=np.float64)
    return bool(np.isfinite(v).any()) and not (col == "n_benign" and not np.any(v > 0))


def plot_tissue_timeseries(run_dir: Path, out: Path) -> Path:
    """Time series of a tissue run, one panel per topic, against time in hours.

    Panels (each drawn if its columns are in ``metrics.parquet``): cell counts (cancer,
    MSC, benign, invading), tumour radius, oxygen, mean DDR2 expression D and activity A
    of cancer cells, collagen at the edge (local coherency in the band and inside,
    anisotropy in the band, TACS-2/TACS-3 fractions), alignment (co-alignment of cancer
    cells and MSCs, cell–fibre agreement, radial order of the band's collagen), invasion
    depth beyond the edge, exits per hour. Four panels a row.

    Parameters
    ----------
    run_dir : Path
        A tissue run directory.
    out : Path
        PNG to write (atomically); its directory is created. Size: ``PANEL_SIZE_IN`` per
        panel (4 columns) at ``FIGURE_DPI``.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    RunDirectoryError
        If ``run_dir`` is missing, not a run directory, or has no ``metrics.parquet``.
    """
    run_dir = Path(run_dir)
    check_tissue_run(run_dir, metrics=True)
    m = read_metrics(run_dir)
    th = np.asarray(m["t_min"], dtype=np.float64) / 60.0
    panels = [
        (title, ylabel, [s for s in series if _has_data(m, s[0])])
        for title, ylabel, series in _PANELS
    ]
    panels = [p for p in panels if p[2]]
    ncols = min(4, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig = Figure(
        figsize=(PANEL_SIZE_IN[0] * ncols, PANEL_SIZE_IN[1] * nrows + 0.5),
        dpi=FIGURE_DPI,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):  # a handful of panels
        if i >= len(panels):
            ax.set_visible(False)
            continue
        title, ylabel, series = panels[i]
        for col, label, style in series:
            y = np.asarray(m[col], dtype=np.float64)
            if col == "exit_cells_per_h":  # a rate over the interval before each row
                ax.step(th, y, style, where="pre", lw=1.4, label=label)
            else:
                ax.plot(th, y, style, lw=1.4, label=label)
        if title != "Tumour size" and title != "Alignment":  # quantities >= 0
            ax.set_ylim(bottom=0.0)
        if title.startswith("Exits") and "exit_events_total" in m:
            ev, cl = m["exit_events_total"][-1], m.get("exit_cells_total", [np.nan])[-1]
            title = f"{title}: {ev:.0f} events, {cl:.0f} cells"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("time (h)")
        ax.set_ylabel(ylabel)
        ax.set_xlim(th[0], th[-1] if th[-1] > th[0] else th[0] + 1.0)
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(
            fontsize=7.5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
            frameon=False,
            handlelength=2.2,
        )
    fig.suptitle(f"{_run_name(run_dir)}: time series", fontsize=12, weight="bold")
    return _save_figure(fig, Path(out))


def _run_name(run_dir: Path) -> str:
    cfg = _config(run_dir)
    manifest = read_manifest(run_dir) or {}
    name = str(cfg.get("name") or manifest.get("scenario") or run_dir.name)
    return name if run_dir.name == name else f"{name} ({run_dir.name})"
