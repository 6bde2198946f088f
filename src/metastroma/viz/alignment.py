"""Figure of one image's collagen alignment: orientation field, histograms, TACS.

The image is drawn in grey as it appears on screen (row 0 at the top, ``origin='upper'``).
Fibre angles follow SCIENCE.md §0: degrees, 0° = +x (along the columns), counter-clockwise
with y up (y = −row), in [0°, 180°). A segment at angle θ therefore runs along
(dx, drow) = (cos θ, −sin θ) in pixel coordinates: up and to the right on screen for
θ = 45°. The orientation field is averaged over coarse blocks as doubled angles weighted
by the structure-tensor energy (§6.1), and coloured by the mean local coherency.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from metastroma._typing import F64Array

if TYPE_CHECKING:
    from metastroma.analysis import Boundary, ImageAlignment, TacsResult

#: Number of orientation segments along the longer side of the image.
N_SEGMENTS_LONG_SIDE = 32
#: A block draws a segment if at least this fraction of its pixels is foreground.
MIN_BLOCK_FOREGROUND = 0.25


def block_orientations(
    result: ImageAlignment, block_px: int
) -> tuple[F64Array, F64Array, F64Array, F64Array]:
    """Energy-weighted mean fibre angle and mean local coherency per square block.

    Parameters
    ----------
    result : ImageAlignment
        From :func:`metastroma.analysis.analyse_image`.
    block_px : int, px
        Side of a block.

    Returns
    -------
    (x, y, theta_deg, coherency)
        Block centres (column, row; px) of the blocks with enough foreground
        (:data:`MIN_BLOCK_FOREGROUND`), their mean fibre angle (degrees, y-up convention,
        [0, 180)) and their mean local coherency ([0, 1]); each (k,) float64.
    """
    theta = np.asarray(result.angle_deg, dtype=np.float64)
    mask = np.asarray(result.mask, dtype=bool) & np.isfinite(theta)
    energy = np.where(mask, np.asarray(result.energy, dtype=np.float64), 0.0)
    coh = np.where(mask, np.asarray(result.local_coherency, dtype=np.float64), 0.0)
    two = np.deg2rad(2.0 * np.where(mask, theta, 0.0))
    h, w = theta.shape
    nr, nc = h // block_px, w // block_px
    if nr == 0 or nc == 0:
        empty = np.zeros(0)
        return empty, empty, empty, empty

    def blocks(a: F64Array) -> F64Array:
        a = a[: nr * block_px, : nc * block_px]
        return np.asarray(
            a.reshape(nr, block_px, nc, block_px).sum(axis=(1, 3)), dtype=np.float64
        )

    n_fg = blocks(mask.astype(np.float64))
    zc = blocks(energy * np.cos(two))
    zs = blocks(energy * np.sin(two))
    coh_sum = blocks(coh)
    keep = n_fg >= MIN_BLOCK_FOREGROUND * block_px * block_px
    keep &= np.hypot(zc, zs) > 0
    rows, cols = np.nonzero(keep)
    x = (cols + 0.5) * block_px - 0.5
    y = (rows + 0.5) * block_px - 0.5
    ang = np.mod(0.5 * np.rad2deg(np.arctan2(zs[keep], zc[keep])), 180.0)
    f64 = np.float64
    return (
        x.astype(f64),
        y.astype(f64),
        ang.astype(f64),
        (coh_sum[keep] / n_fg[keep]).astype(f64),
    )


def _save(fig: Any, path: Path, dpi: int) -> Path:
    """Write ``fig`` as ``path`` atomically (temporary sibling, then rename); close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def _display_range(image: F64Array) -> tuple[float, float]:
    lo, hi = np.percentile(image, [1.0, 99.5])
    if hi <= lo:
        lo, hi = float(image.min()), float(image.max())
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def _outward_normals(
    points: F64Array, n_normals: int, is_closed: bool = True
) -> list[tuple[float, float, float, float]]:
    """(x, y, nx, ny): outward unit normals spread evenly along the boundary's edge.

    Along an open boundary the closing segment (the image border) carries none.
    """
    from matplotlib.path import Path as MplPath

    closed = np.vstack([points, points[:1]])
    line = closed if is_closed else points
    seg = np.diff(line, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(length)])
    total = float(cum[-1])
    poly = MplPath(closed)
    out: list[tuple[float, float, float, float]] = []
    if total <= 0:
        return out
    for s in (np.arange(n_normals) + 0.5) * total / n_normals:  # a few normals only
        k = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1))
        if length[k] == 0:
            continue
        t = seg[k] / length[k]
        p = line[k] + t * (s - cum[k])
        n = np.array([-t[1], t[0]])
        if poly.contains_point((p + 1e-3 * total * n).tolist()):
            n = -n
        out.append((float(p[0]), float(p[1]), float(n[0]), float(n[1])))
    return out


def _hist(ax: Any, edges: F64Array, fractions: F64Array, colour: str) -> None:
    edges = np.asarray(edges, dtype=np.float64)
    fractions = np.asarray(fractions, dtype=np.float64)
    ax.bar(
        edges[:-1],
        fractions,
        width=np.diff(edges),
        align="edge",
        color=colour,
        edgecolor="white",
        linewidth=0.4,
    )
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylabel("fraction", fontsize=8)
    ax.tick_params(labelsize=7)


def plot_image_alignment(
    image: F64Array,
    result: ImageAlignment,
    out: Path,
    boundary: Boundary | None = None,
    tacs: TacsResult | None = None,
    title: str | None = None,
    dpi: int = 92,
) -> Path:
    """Draw an image with its fibre-orientation field, angle histogram and TACS score.

    Left: the image in grey, with one line segment per block of pixels (about
    :data:`N_SEGMENTS_LONG_SIDE` along the longer side) at the block's energy-weighted
    mean fibre angle, coloured by its mean local coherency (0 to 1, colour bar); the
    closed boundary polyline (cyan) with a few outward normals as long as the scored
    band (dashed), where given. Right: the histogram of per-pixel fibre angles (0–180°, dominant angle
    marked) and, where TACS was scored, the histogram of fibre-to-tangent angles β
    (0–90°) with the TACS-2 (β < 15°) and TACS-3 (β > 60°) ranges shaded and the call.

    Parameters
    ----------
    image : (rows, cols) float64
        The image as read by :func:`metastroma.analysis.read_image`.
    result : ImageAlignment
        ``analyse_image(image, ...)``.
    out : Path
        PNG to write (atomically); parent directories are created.
    boundary : Boundary or None
        Tumour boundary, ``points`` (m, 2) as (x = column, y = row) pixels.
    tacs : TacsResult or None
        ``score_tacs_image(result, boundary, ...)``.
    title : str or None
        Figure title; default none.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    Path
        ``out``.
    """
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    n_right = 2 if tacs is not None else 1
    fig = plt.figure(figsize=(10.0, 5.4))
    grid = fig.add_gridspec(
        n_right, 2, width_ratios=(1.55, 1.0), wspace=0.28, hspace=0.55
    )
    ax = fig.add_subplot(grid[:, 0])
    lo, hi = _display_range(img)
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, origin="upper")

    block = max(4, math.ceil(max(h, w) / N_SEGMENTS_LONG_SIDE))
    x, y, ang, coh = block_orientations(result, block)
    length = 0.85 * block
    rad = np.deg2rad(ang)
    q = ax.quiver(
        x,
        y,
        length * np.cos(rad),
        -length * np.sin(rad),  # y up on screen = −row
        coh,
        cmap="plasma",
        clim=(0.0, 1.0),
        angles="xy",
        scale_units="xy",
        scale=1.0,
        pivot="middle",
        headwidth=0.0,
        headlength=0.0,
        headaxislength=0.0,
        width=0.0045,
    )
    cbar = fig.colorbar(q, ax=ax, shrink=0.8, pad=0.02)
    cbar.set_label("local coherency", fontsize=8)
    cbar.ax.tick_params(labelsize=7)

    if boundary is not None:
        pts = np.asarray(boundary.points, dtype=np.float64)
        line = np.vstack([pts, pts[:1]]) if boundary.closed else pts  # open: image edge
        ax.plot(line[:, 0], line[:, 1], "-", color="cyan", lw=1.6, label="boundary")
        band = float(tacs.band_px) if tacs is not None else 0.1 * max(h, w)
        for i, (px, py, nx, ny) in enumerate(_outward_normals(pts, 8, boundary.closed)):
            ax.plot(
                [px, px + band * nx],
                [py, py + band * ny],
                "--",
                color="cyan",
                lw=1.0,
                label=f"outward normals, {band:g} px (band)" if i == 0 else None,
            )
        ax.legend(loc="lower right", fontsize=7, framealpha=0.6)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xlabel("x = column (px)", fontsize=8)
    ax.set_ylabel("row (px)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(
        f"θ̄ = {result.dominant_angle_deg:.1f}°, coherency {result.coherency:.2f}, "
        f"alignment {result.alignment:.2f} (σ = {result.sigma_px:g} px)",
        fontsize=9,
    )

    ax_h = fig.add_subplot(grid[0, 1])
    edges, fractions = result.histogram
    _hist(ax_h, edges, fractions, "#5e3c99")
    ax_h.axvline(result.dominant_angle_deg, color="k", lw=1.0, ls="--")
    ax_h.set_xticks(np.arange(0, 181, 30))
    ax_h.set_xlabel("fibre angle θ (°; 0 = +x, counter-clockwise)", fontsize=8)
    ax_h.set_title(
        f"per-pixel fibre angles ({result.n_pixels} px; dashed: θ̄)", fontsize=8
    )

    if tacs is not None:
        ax_b = fig.add_subplot(grid[1, 1])
        b_edges, b_fractions = tacs.histogram
        ax_b.axvspan(0.0, 15.0, color="#1b9e77", alpha=0.18, lw=0)
        ax_b.axvspan(60.0, 90.0, color="#d95f02", alpha=0.18, lw=0)
        _hist(ax_b, b_edges, b_fractions, "#e66101")
        ax_b.set_xticks(np.arange(0, 91, 15))
        ax_b.set_xlabel("β: fibre to boundary tangent (°)", fontsize=8)
        ax_b.set_title(
            f"{tacs.call}: TACS-2 (β < 15°) {tacs.tacs2_fraction:.2f}, "
            f"TACS-3 (β > 60°) {tacs.tacs3_fraction:.2f}\n"
            f"{tacs.n} px within {tacs.band_px:g} px of the boundary",
            fontsize=8,
        )
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, out, dpi=dpi)


__all__ = ["block_orientations", "plot_image_alignment"]
