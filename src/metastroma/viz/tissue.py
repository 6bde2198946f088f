"""Figures of a tissue run: the last snapshot over the oxygen field, and the time series."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import EllipseCollection

from metastroma.store.readers import read_cells, read_fields, read_metrics
from metastroma.store.writers import zarr_array

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
