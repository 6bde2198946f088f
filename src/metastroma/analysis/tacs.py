"""Tumour-associated collagen signatures (TACS) scored against a tumour boundary.

Provenzano et al. (2006) named the collagen patterns around breast tumours: TACS-1, dense
collagen around a small tumour; TACS-2, straightened fibres stretched *around* the tumour,
parallel to its boundary; TACS-3, bundles of straightened fibres *perpendicular* to the
boundary at sites of local invasion. TACS-3 predicts poor survival (Conklin et al. 2011,
196 patients, hazard ratios 3.0–3.9). SCIENCE.md §6.4 turns these into one score for images
and simulations alike:

- **Edge**: a closed polyline (x, y): for images x = column and y = row in pixels (as a
  boundary CSV lists them), for simulations µm with y up.
- **Band**: foreground pixels (or ECM elements) *outside* the closed boundary within
  ``band`` of it (distance to the nearest boundary segment).
- **Angle**: β = arccos|f · t̂| ∈ [0°, 90°] between the local fibre direction f and the unit
  tangent t̂ of the nearest boundary segment.
- **Fractions**: TACS-2 fraction = P(β < 15°) (Provenzano 2008, Fig. 5c [V]); TACS-3 fraction
  = P(β > 60°) (project convention [A]); the 10° histogram of β is always returned.
- **Sectors**: a band element belongs to the boundary point nearest to it (the same point
  whose segment gives its β), and its sector angle ψ is that point's polar angle around
  the boundary polygon's centroid. A *boundary sector* of 30° is the part of the boundary
  with ψ in [s, s + 30°) together with the band elements beside it.
- **Call**: ``'TACS-3'`` if the TACS-3 fraction exceeds 0.5 in *any* boundary sector of 30°
  (any start s, not only multiples of 30°) holding at least ``min_sector_count`` band
  elements (SCIENCE.md §6.4 [A]); else ``'TACS-2'`` if the overall TACS-2 fraction exceeds
  0.5 (a project addition [A]: §6.4 defines only the TACS-3 call); else ``'none'``. Every
  start is tried, so the call does not depend on how the tumour is oriented in the image:
  an invasive front 30° wide is found whole wherever it lies, where a fixed grid of twelve
  sectors from +x could split it in two halves that each fall short of 0.5.

**Sign.** Fibre angles use the package convention (y up). A boundary read from an image is
in (x = column, y = row) with rows pointing down, so its tangents are flipped to y up
(t_y → −t_y) before β is computed; sector angles around the centroid use y up as well.

References
----------
SCIENCE.md §6.4. Provenzano P.P. et al. (2006) BMC Med 4:38; Provenzano P.P. et al. (2008)
BMC Med 6:11; Conklin M.W. et al. (2011) Am J Pathol 178:1221.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.analysis.alignment import _nematic_arrays, angles_from_nematic
from metastroma.analysis.images import ImageAlignment

__all__ = [
    "Boundary",
    "BoundaryError",
    "TacsResult",
    "boundary_from_mask",
    "boundary_from_points",
    "read_boundary_csv",
    "score_tacs_field",
    "score_tacs_image",
]

_CHUNK_ELEMENTS = (
    1 << 22
)  # pixels × segments per vectorised distance block (~32 MB each)


class BoundaryError(ValueError):
    """A tumour boundary cannot be read or used; the message names the file and problem."""


@dataclass(frozen=True)
class Boundary:
    """A tumour-boundary polyline; the polygon it closes marks the tumour's inside.

    Attributes
    ----------
    points : (m, 2) float64
        Vertices x, y: image pixels with x = column and y = row (as a boundary CSV), or µm
        with y up for simulations. m >= 3; no repeated closing vertex.
    closed : bool
        Whether the segment from the last point back to the first is tumour edge. An
        image boundary whose two ends lie on the image border is *open*: the tumour
        continues outside the image, and the closing segment (along or outside the
        border) is not an edge that fibres are scored against.
    """

    points: F64Array
    closed: bool = True


def _make_boundary(points: npt.ArrayLike, where: str) -> Boundary:
    """Closed :class:`Boundary` from (m, 2) vertices, repeated vertices removed.

    A vertex equal to the one before it (and a last vertex repeating the first) would make
    a zero-length segment, whose "tangent" atan2(0, 0) = 0° is no tangent at all; they are
    dropped, and at least 3 distinct vertices must remain.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise BoundaryError(
            f"{where}: boundary points must have shape (m, 2), got {pts.shape}"
        )
    if not np.all(np.isfinite(pts)):
        raise BoundaryError(f"{where}: boundary contains NaN or inf")
    n_given = pts.shape[0]
    if n_given >= 2:
        pts = pts[np.r_[True, np.any(pts[1:] != pts[:-1], axis=1)]]
    if pts.shape[0] >= 2 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
    if pts.shape[0] < 3:
        raise BoundaryError(
            f"{where}: a closed boundary needs >= 3 distinct points, got "
            f"{pts.shape[0]} (of {n_given} given)"
        )
    return Boundary(points=np.ascontiguousarray(pts))


def read_boundary_csv(
    path: Path, image_shape: tuple[int, int] | None = None
) -> Boundary:
    """Read a boundary polyline from a CSV of ``x,y`` pixel coordinates.

    Parameters
    ----------
    path : Path
        Two numeric columns x (column), y (row) per line, comma-separated; an optional
        header line ``x,y``; blank lines are skipped.
    image_shape : (rows, cols), optional
        If given, every point must lie within 0 <= x <= cols − 1, 0 <= y <= rows − 1, and
        a boundary whose two ends both lie within max(2 px, 5 % of the smaller side) of
        the image border is *open* (:class:`Boundary`), unless the file closes it by
        repeating its first point at the end.

    Returns
    -------
    Boundary

    Raises
    ------
    BoundaryError
        Naming the file: missing, unreadable, a line that is not two numbers, fewer than 3
        points, NaN/inf, or a point outside the image.
    """
    path = Path(path)
    if not path.is_file():
        raise BoundaryError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BoundaryError(f"{path}: unreadable ({err})") from err
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(text.splitlines())) if any(r)]
    if rows and [c.strip().lower() for c in rows[0][1]] == ["x", "y"]:
        rows = rows[1:]
    values = []
    for line_no, row in rows:  # a loop over the lines of a small text file
        if len(row) != 2:
            raise BoundaryError(f"{path}:{line_no}: expected 2 columns x,y, got {row}")
        try:
            values.append((float(row[0]), float(row[1])))
        except ValueError as err:
            raise BoundaryError(f"{path}:{line_no}: not numbers: {row}") from err
    pts = np.array(values, dtype=np.float64).reshape(-1, 2)
    boundary = _make_boundary(pts, str(path))
    # a file that repeats its first point at the end closes the polygon itself
    closed_in_file = len(pts) >= 2 and np.array_equal(pts[0], pts[-1])
    if image_shape is not None:
        n_rows, n_cols = image_shape
        margin = max(2.0, 0.05 * min(n_rows, n_cols))
        ends = boundary.points[[0, -1]]
        near_border = (
            (ends[:, 0] <= margin)
            | (ends[:, 0] >= n_cols - 1 - margin)
            | (ends[:, 1] <= margin)
            | (ends[:, 1] >= n_rows - 1 - margin)
        )
        if near_border.all() and not closed_in_file:
            boundary = Boundary(boundary.points, closed=False)
        x, y = boundary.points[:, 0], boundary.points[:, 1]
        outside = (x < 0) | (x > n_cols - 1) | (y < 0) | (y > n_rows - 1)
        if outside.any():
            k = int(np.argmax(outside))
            raise BoundaryError(
                f"{path}: {int(outside.sum())} point(s) outside the {n_rows}×{n_cols} "
                f"image, first (x, y) = ({x[k]:g}, {y[k]:g})"
            )
    return boundary


def _polygon_area(pts: F64Array) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _largest_contour(grid: F64Array, where: str) -> F64Array:
    """Largest-area closed contour at level 0.5 of a 0/1 grid padded with zeros, (r, c)."""
    from skimage.measure import find_contours

    padded = np.pad(grid, 1)
    contours = [c for c in find_contours(padded, 0.5) if len(c) >= 4]
    if not contours:
        raise BoundaryError(f"{where}: no closed contour found")
    areas = [abs(_polygon_area(c)) for c in contours]  # one entry per contour
    return np.asarray(contours[int(np.argmax(areas))], dtype=np.float64) - 1.0


def boundary_from_mask(mask: BoolArray) -> Boundary:
    """Tumour boundary as the largest contour of a binary mask.

    Parameters
    ----------
    mask : (rows, cols) bool
        True inside the tumour.

    Returns
    -------
    Boundary
        Pixel coordinates x = column, y = row, on the 0.5 level between inside and outside.

    Raises
    ------
    BoundaryError
        The mask is not 2D or holds no True pixel.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2 or not m.any():
        raise BoundaryError(
            "boundary_from_mask: mask must be 2D with at least one True pixel"
        )
    rc = _largest_contour(m.astype(np.float64), "boundary_from_mask")
    return _make_boundary(rc[:, ::-1], "boundary_from_mask")


def boundary_from_points(
    xy_um: F64Array, bin_um: float = 20.0, min_count: int = 1
) -> Boundary:
    """Tumour edge of a simulation as the outer contour of its occupancy grid.

    Cell positions are binned on a square grid of side ``bin_um``; bins holding at least
    ``min_count`` cells are occupied; holes are filled; the occupancy is smoothed by a
    Gaussian of one bin, and the edge is the largest closed contour of that density at
    level 0.5, which runs along the outer edges of occupied bins without their staircase
    (a staircase would give local tangents of 0°, 45° and 90° only).

    Parameters
    ----------
    xy_um : (n, 2) or (n, 3) float64, µm
        Cancer-cell centres; only x and y are used (y up).
    bin_um : float, µm
        Bin side (default 20 µm, one ECM element).
    min_count : int
        Cells a bin needs to count as tumour.

    Returns
    -------
    Boundary
        In µm, y up.

    Raises
    ------
    BoundaryError
        Bad shape, non-finite positions, ``bin_um`` <= 0, or no occupied bin.
    """
    pts = np.asarray(xy_um, dtype=np.float64)
    where = "boundary_from_points"
    if pts.ndim != 2 or pts.shape[1] not in (2, 3) or pts.shape[0] == 0:
        raise BoundaryError(
            f"{where}: positions must have shape (n, 2|3), n >= 1, got {pts.shape}"
        )
    if not np.all(np.isfinite(pts)):
        raise BoundaryError(f"{where}: positions contain NaN or inf")
    if not (math.isfinite(bin_um) and bin_um > 0):
        raise BoundaryError(f"{where}: bin_um = {bin_um}: must be > 0 (µm)")
    xy = pts[:, :2]
    lower = np.floor(xy.min(axis=0) / bin_um) * bin_um - bin_um
    n_bins = np.floor((xy.max(axis=0) - lower) / bin_um).astype(np.int64) + 2
    idx = np.floor((xy - lower) / bin_um).astype(np.int64)
    counts = np.zeros(tuple(int(n) for n in n_bins), dtype=np.int64)
    np.add.at(counts, (idx[:, 0], idx[:, 1]), 1)
    occupied = ndi.binary_fill_holes(counts >= max(int(min_count), 1))
    if not occupied.any():
        raise BoundaryError(f"{where}: no bin holds >= {min_count} cells")
    # a density level set, not the staircase of bin edges: smoothing the occupancy by one
    # bin makes the 0.5 contour (and its tangents) follow the tumour's shape
    smooth = ndi.gaussian_filter(
        np.pad(occupied.astype(np.float64), 2), 1.0, mode="constant"
    )
    ij = _largest_contour(smooth, where) - 2.0  # (i along x, j along y)
    return _make_boundary(lower + (ij + 0.5) * bin_um, where)


@dataclass(frozen=True)
class TacsResult:
    """TACS score of fibres in a band outside a tumour boundary (SCIENCE.md §6.4).

    Attributes
    ----------
    beta_deg : (n,) float64, degrees
        Fibre-to-local-tangent angle β ∈ [0, 90] per band pixel or element.
    histogram : tuple of ((10,) edges over [0, 90] degrees, (9,) fractions)
        β histogram in 10° bins (weighted fractions; zeros if the band is empty).
    tacs2_fraction : float
        P(β < ``tacs2_max_angle_deg``) (15°, Provenzano 2008); NaN if the band is empty.
    tacs3_fraction : float
        P(β > ``tacs3_min_angle_deg``) (60°, project convention); NaN if the band is empty.
    sector_tacs3_fractions : (n_sectors,) float64
        Descriptive table: the TACS-3 fraction per fixed sector k of ``sector_deg``,
        ψ ∈ [k·sector_deg, (k+1)·sector_deg) counter-clockwise from +x (y up); NaN where
        the sector holds no band element. The call uses ``max_sector_tacs3_fraction``.
    call : str
        ``'TACS-3'``, ``'TACS-2'`` or ``'none'`` (module docstring).
    n : int
        Band elements/pixels scored.
    band_px : float
        Band width used (px for images, µm for fields).
    sector_counts : (n_sectors,) int64
        Band elements per fixed sector of ``sector_tacs3_fractions``.
    xy : (n, 2) float64
        Position of each band element, in the boundary's coordinates.
    segment : (n,) int64
        Index k of the nearest boundary segment (points[k] → points[k + 1]) of each element.
    sector_angle_deg : (n,) float64, degrees
        ψ of each element in [0, 360): the polar angle (y up, counter-clockwise from +x)
        of its nearest boundary point around the boundary polygon's centroid.
    max_sector_tacs3_fraction : float
        The largest TACS-3 fraction over all boundary sectors of ``sector_deg`` (any
        start) holding at least ``min_sector_count`` band elements: the number the call
        compares with 0.5. NaN if no sector holds that many.
    max_sector_centre_deg : float, degrees
        ψ at the centre of that sector, in [0, 360) (y up); NaN with it.
    """

    beta_deg: F64Array
    histogram: tuple[F64Array, F64Array]
    tacs2_fraction: float
    tacs3_fraction: float
    sector_tacs3_fractions: F64Array
    call: str
    n: int
    band_px: float
    sector_counts: I64Array
    xy: F64Array
    segment: I64Array
    sector_angle_deg: F64Array
    max_sector_tacs3_fraction: float
    max_sector_centre_deg: float


def _nearest_segment(
    px: F64Array, py: F64Array, pts: F64Array, closed: bool = True
) -> tuple[F64Array, npt.NDArray[np.intp], F64Array]:
    """Distance from each point to the polyline, the nearest segment and nearest point.

    Segment k runs from vertex k to vertex k + 1 (the last one back to vertex 0 only if
    ``closed``). Vectorised over (points × segments) in blocks of ~4 M pairs.

    Returns
    -------
    dist : (n,) float64
        Distance to the polyline, in the points' unit.
    seg : (n,) intp
        Index of the nearest segment (the first of equally near ones).
    nearest : (n, 2) float64
        The nearest point of the polyline, on segment ``seg``.
    """
    a = pts if closed else pts[:-1]
    b = np.roll(pts, -1, axis=0) if closed else pts[1:]
    d = b - a
    len2 = np.einsum("ij,ij->i", d, d)
    len2 = np.where(len2 > 0, len2, 1.0)
    n = px.size
    dist = np.empty(n)
    seg = np.empty(n, dtype=np.intp)
    t_near = np.empty(n)
    step = max(1, _CHUNK_ELEMENTS // max(len(a), 1))
    for start in range(0, n, step):  # blocks of points, each fully vectorised
        sl = slice(start, start + step)
        rx = px[sl, None] - a[None, :, 0]
        ry = py[sl, None] - a[None, :, 1]
        t = np.clip((rx * d[:, 0] + ry * d[:, 1]) / len2, 0.0, 1.0)
        ex = rx - t * d[:, 0]
        ey = ry - t * d[:, 1]
        d2 = ex * ex + ey * ey
        k = np.argmin(d2, axis=1)
        seg[sl] = k
        dist[sl] = np.sqrt(np.take_along_axis(d2, k[:, None], axis=1)[:, 0])
        t_near[sl] = np.take_along_axis(t, k[:, None], axis=1)[:, 0]
    nearest = a[seg] + t_near[:, None] * d[seg]
    return dist, seg, nearest


def _centroid(pts: F64Array) -> F64Array:
    """Area centroid (2,) of the closed polygon ``pts``; the vertex mean if it has no area."""
    area = _polygon_area(pts)
    if abs(area) < 1e-12:
        return np.asarray(pts.mean(axis=0), dtype=np.float64)
    x, y = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    return np.array([np.sum((x + x1) * cross), np.sum((y + y1) * cross)]) / (6.0 * area)


def _best_sector(
    psi_deg: F64Array,
    weights: F64Array,
    is3: BoolArray,
    width_deg: float,
    min_count: int,
) -> tuple[float, float]:
    """Largest weighted TACS-3 fraction over all windows ψ ∈ [s, s + width) (any s).

    The set of elements in a window changes only where s or s + width crosses an
    element's ψ, so trying s at each such event and midway between consecutive events
    visits every distinct window; each window is summed by prefix sums over the sorted ψ
    (doubled to wrap around 360°). Windows with fewer than ``min_count`` elements or no
    weight are skipped.

    Returns
    -------
    (fraction, centre_deg)
        The best fraction and the ψ at its window's centre (degrees, [0, 360)); both NaN
        if no window qualifies.
    """
    if psi_deg.size == 0:
        return math.nan, math.nan
    order = np.argsort(psi_deg, kind="stable")
    psi = psi_deg[order]
    ext = np.concatenate([psi, psi + 360.0])
    cum_w = np.concatenate([[0.0], np.cumsum(np.tile(weights[order], 2))])
    cum_w3 = np.concatenate([[0.0], np.cumsum(np.tile(weights[order] * is3[order], 2))])
    events = np.unique(np.concatenate([psi, (psi - width_deg) % 360.0]))
    gaps = np.diff(events, append=events[0] + 360.0)
    starts = np.concatenate([events, (events + 0.5 * gaps) % 360.0])
    lo = np.searchsorted(ext, starts, side="left")
    hi = np.searchsorted(ext, starts + width_deg, side="left")
    w_sum = cum_w[hi] - cum_w[lo]
    ok = (hi - lo >= min_count) & (w_sum > 0)
    if not ok.any():
        return math.nan, math.nan
    frac = np.where(ok, (cum_w3[hi] - cum_w3[lo]) / np.where(ok, w_sum, 1.0), -1.0)
    best = int(np.argmax(frac))
    fraction = min(max(float(frac[best]), 0.0), 1.0)  # prefix-sum differences round
    return fraction, float((starts[best] + 0.5 * width_deg) % 360.0)


def _score(
    fibre_deg: F64Array,
    weights: F64Array,
    px: F64Array,
    py: F64Array,
    boundary: Boundary,
    y_down: bool,
    band: float,
    tacs2_max_angle_deg: float,
    tacs3_min_angle_deg: float,
    sector_deg: float,
    min_sector_count: int,
) -> TacsResult:
    """Shared scoring for images and fields: (px, py) in the boundary's coordinates.

    ``fibre_deg`` (y-up fibre angles), ``weights`` (>= 0), ``px``, ``py``: (n,) float64 for
    the candidate elements outside the boundary; those within ``band`` of it are scored.
    ``y_down``: the boundary's y axis points down (image rows), so tangents and sector
    angles flip its y.
    """
    if not (math.isfinite(band) and band > 0):
        raise ValueError(f"band = {band}: must be > 0")
    if not 0 <= tacs2_max_angle_deg <= 90 or not 0 <= tacs3_min_angle_deg <= 90:
        raise ValueError("TACS angle thresholds must lie in [0, 90] degrees")
    if not (math.isfinite(sector_deg) and 0 < sector_deg <= 360):
        raise ValueError(f"sector_deg = {sector_deg}: must lie in (0, 360]")
    if min_sector_count < 1:
        raise ValueError(f"min_sector_count = {min_sector_count}: must be >= 1")
    pts = boundary.points
    lo, hi = pts.min(axis=0) - band, pts.max(axis=0) + band
    in_box = (px >= lo[0]) & (px <= hi[0]) & (py >= lo[1]) & (py <= hi[1])
    fibre_deg, weights, px, py = (
        fibre_deg[in_box],
        weights[in_box],
        px[in_box],
        py[in_box],
    )
    dist, seg, nearest = _nearest_segment(px, py, pts, boundary.closed)
    near = dist <= band
    fibre_deg, weights, px, py, seg, nearest = (
        fibre_deg[near],
        weights[near],
        px[near],
        py[near],
        seg[near],
        nearest[near],
    )
    sign = -1.0 if y_down else 1.0
    d = (np.roll(pts, -1, axis=0) - pts) if boundary.closed else (pts[1:] - pts[:-1])
    tangent_deg = np.degrees(np.arctan2(sign * d[:, 1], d[:, 0]))
    diff = np.radians(fibre_deg - tangent_deg[seg])
    beta = np.degrees(np.arccos(np.clip(np.abs(np.cos(diff)), 0.0, 1.0)))

    n = int(beta.size)
    w_sum = float(weights.sum())
    edges = np.linspace(0.0, 90.0, 10)
    counts, _ = np.histogram(beta, bins=edges, weights=weights)
    fractions = counts / w_sum if w_sum > 0 else np.zeros(edges.size - 1)
    is3 = beta > tacs3_min_angle_deg
    if w_sum > 0:
        tacs2 = float(weights[beta < tacs2_max_angle_deg].sum() / w_sum)
        tacs3 = float(weights[is3].sum() / w_sum)
    else:
        tacs2 = tacs3 = float("nan")

    # boundary sectors: ψ of each element's nearest boundary point (SCIENCE.md §6.4)
    cx, cy = _centroid(pts)
    psi = np.degrees(np.arctan2(sign * (nearest[:, 1] - cy), nearest[:, 0] - cx))
    psi %= 360.0
    psi[psi >= 360.0] = 0.0  # -tiny % 360 rounds to 360.0
    best3, best_centre = _best_sector(psi, weights, is3, sector_deg, min_sector_count)
    n_sectors = math.ceil(360.0 / sector_deg - 1e-9)
    sector = np.minimum((psi // sector_deg).astype(np.int64), n_sectors - 1)
    sec_w = np.bincount(sector, weights=weights, minlength=n_sectors)
    sec_w3 = np.bincount(sector, weights=weights * is3, minlength=n_sectors)
    sec_n = np.bincount(sector, minlength=n_sectors).astype(np.int64)
    sec_frac = np.full(n_sectors, np.nan)
    np.divide(sec_w3, sec_w, out=sec_frac, where=sec_w > 0)
    if best3 > 0.5:
        call = "TACS-3"
    elif w_sum > 0 and tacs2 > 0.5:
        call = "TACS-2"
    else:
        call = "none"
    return TacsResult(
        beta_deg=beta,
        histogram=(edges, np.asarray(fractions, dtype=np.float64)),
        tacs2_fraction=tacs2,
        tacs3_fraction=tacs3,
        sector_tacs3_fractions=sec_frac,
        call=call,
        n=n,
        band_px=float(band),
        sector_counts=sec_n,
        xy=np.column_stack([px, py]),
        segment=seg.astype(np.int64),
        sector_angle_deg=np.asarray(psi, dtype=np.float64),
        max_sector_tacs3_fraction=best3,
        max_sector_centre_deg=best_centre,
    )


def score_tacs_image(
    result: ImageAlignment,
    boundary: Boundary,
    band_px: float = 40.0,
    tacs2_max_angle_deg: float = 15.0,
    tacs3_min_angle_deg: float = 60.0,
    sector_deg: float = 30.0,
    min_sector_count: int = 20,
    weighting: str = "energy",
) -> TacsResult:
    """Score TACS on an analysed image around a boundary in (x = column, y = row) pixels.

    The band is the image's foreground (``result.mask``) outside the boundary's polygon
    (``skimage.draw.polygon`` marks the inside) within ``band_px`` of the nearest boundary
    segment. Each band pixel carries its structure-tensor fibre angle and, by default,
    its gradient energy (the tensor trace) as weight, the image analogue of the collagen
    density that weights simulated elements (SCIENCE.md §6.1): bright fibres count, dim
    background between them barely does. ``weighting='unit'`` counts every pixel once.

    Parameters
    ----------
    result : ImageAlignment
        From :func:`~metastroma.analysis.analyse_image`.
    boundary : Boundary
        Pixel coordinates, x = column, y = row (rows down), e.g. from
        :func:`read_boundary_csv` or :func:`boundary_from_mask`.
    band_px : float, px
        Band width. SCIENCE.md §6.4 gives it in µm (40 µm, range 20–60 µm): pass
        band_um / pixel_um. The default, 40 px, is that band at 1 µm/px, for images whose
        pixel size is not known.
    tacs2_max_angle_deg, tacs3_min_angle_deg : float, degrees
        Thresholds on β (15°, Provenzano 2008; 60°, project convention).
    sector_deg : float, degrees
        Width of the boundary sectors of the per-tumour call (default 30°).
    min_sector_count : int
        Band pixels a sector needs to decide a TACS-3 call (>= 1, default 20).
    weighting : {"energy", "unit"}
        Weight of a band pixel.

    Returns
    -------
    TacsResult

    Raises
    ------
    ValueError
        Non-positive band, thresholds outside [0, 90], bad sector width,
        ``min_sector_count`` < 1, unknown weighting.
    """
    from skimage.draw import polygon

    if weighting not in ("energy", "unit"):
        raise ValueError(f"weighting = {weighting!r}: must be 'energy' or 'unit'")

    shape = result.mask.shape
    inside = np.zeros(shape, dtype=bool)
    rr, cc = polygon(boundary.points[:, 1], boundary.points[:, 0], shape=shape)
    inside[rr, cc] = True
    candidates = result.mask & ~inside
    rows, cols = np.nonzero(candidates)
    weights = (
        np.asarray(result.energy[rows, cols], dtype=np.float64)
        if weighting == "energy"
        else np.ones(rows.size)
    )
    return _score(
        result.angle_deg[rows, cols],
        weights,
        cols.astype(np.float64),
        rows.astype(np.float64),
        boundary,
        True,
        band_px,
        tacs2_max_angle_deg,
        tacs3_min_angle_deg,
        sector_deg,
        min_sector_count,
    )


def score_tacs_field(
    q_xx: F64Array,
    q_xy: F64Array,
    lower_um: npt.ArrayLike,
    dx_um: float,
    boundary: Boundary,
    band_um: float = 40.0,
    density: F64Array | None = None,
    *,
    tacs2_max_angle_deg: float = 15.0,
    tacs3_min_angle_deg: float = 60.0,
    sector_deg: float = 30.0,
    min_sector_count: int = 5,
) -> TacsResult:
    """Score TACS on a simulated 2D nematic ECM field around a boundary in µm (y up).

    Element [i, j] has its centre at ``lower_um + (i + 0.5, j + 0.5) * dx_um`` (x along the
    first axis). Band elements are those whose centre lies outside the boundary
    (``skimage.measure.points_in_poly``) within ``band_um`` of it and whose anisotropy
    a > 0 (a fibre-free element has no direction); each is weighted by its density if
    given, so fractions are "fractions of collagen".

    Parameters
    ----------
    q_xx, q_xy : (nx, ny) float64
        Nematic tensor (SCIENCE.md §5.1).
    lower_um : (2,) float64, µm
        Lower corner (x, y) of the grid (a scalar stands for both).
    dx_um : float, µm
        Element side.
    boundary : Boundary
        In µm, y up (e.g. :func:`boundary_from_points`).
    band_um : float, µm
        Band width (default 40 µm, range 20–60 µm, SCIENCE.md §6.4); stored as ``band_px``.
    density : (nx, ny) float64, optional
        Collagen density ρ ≥ 0, used as weights.
    tacs2_max_angle_deg, tacs3_min_angle_deg, sector_deg : float, degrees
        As :func:`score_tacs_image`.
    min_sector_count : int
        Band elements a sector needs to decide a TACS-3 call (default 5: a 40 µm band on
        20 µm elements holds far fewer elements than an image band holds pixels).

    Returns
    -------
    TacsResult

    Raises
    ------
    ValueError
        Shapes differ or are not 2D, non-finite values, a = 2|q| > 1, a negative density,
        ``lower_um`` not two finite numbers, ``dx_um`` <= 0, or bad thresholds.
    """
    from skimage.measure import points_in_poly

    qx, qy, rho = _nematic_arrays(q_xx, q_xy, density)
    if qx.ndim != 2:
        raise ValueError(f"q_xx and q_xy must be 2D (nx, ny), got {qx.shape}")
    if not (math.isfinite(dx_um) and dx_um > 0):
        raise ValueError(f"dx_um = {dx_um}: must be > 0 (µm)")
    lower = np.asarray(lower_um, dtype=np.float64)
    if lower.shape not in ((), (2,)) or not np.all(np.isfinite(lower)):
        raise ValueError(f"lower_um = {lower.tolist()}: must be finite (x, y) in µm")
    lower = np.broadcast_to(lower, (2,))
    w = np.ones(qx.shape) if rho is None else rho
    angle, aniso = angles_from_nematic(qx, qy)
    ii, jj = np.meshgrid(np.arange(qx.shape[0]), np.arange(qx.shape[1]), indexing="ij")
    cx = lower[0] + (ii.ravel() + 0.5) * dx_um
    cy = lower[1] + (jj.ravel() + 0.5) * dx_um
    inside = points_in_poly(np.column_stack([cx, cy]), boundary.points)
    keep = ~inside & (aniso.ravel() > 0) & (w.ravel() > 0)
    return _score(
        angle.ravel()[keep],
        w.ravel()[keep],
        cx[keep],
        cy[keep],
        boundary,
        False,
        band_um,
        tacs2_max_angle_deg,
        tacs3_min_angle_deg,
        sector_deg,
        min_sector_count,
    )
