"""The tumour's own edge on the ECM grid: bulk mask, signed distance, normals, band.

SCIENCE.md §6.4 scores collagen against the tumour edge; in a simulation that edge is
"the density level set of the cancer cells". This module computes it on the collagen
(ECM) grid, a regular grid of square (2D) or cubic (3D) elements of side ``element_um``
whose element ``[i, j(, k)]`` has its centre at ``lower_um + (idx + 0.5) * element_um``
(x along the first axis, y the second, z the third; y up):

1. **Density.** Live cancer-cell centres are binned on the grid (positions outside it are
   clamped to the border elements). Each cell covers π R² (2D) or 4/3 π R³ (3D), R =
   ``cell_radius_um``, so the covered fraction of an element is
   φ = count × cell area (volume) / element area (volume).
2. **Bulk.** φ is smoothed by a Gaussian of ``smooth_elements`` elements (zero outside the
   grid) and thresholded at ``min_fraction``; holes are filled (a necrotic core whose
   cells were removed still belongs to the tumour) and only the largest face-connected
   component is kept, so cells that wandered away do not count as tumour.
3. **Signed distance** of each element centre to the edge, from the Euclidean distance
   transform e of the outside (to the nearest bulk element) and e_in of the inside (to the
   nearest non-bulk element; the region beyond the grid counts as outside):
   d = e − element_um/2 outside, d = −(e_in − element_um/2) inside, so the elements on
   either side of the edge are at ±element_um/2 and the edge itself is at d = 0.
4. **Normal**: n̂ = −∇(G₂ * mask) / |∇(G₂ * mask)|, the outward unit normal of the bulk
   mask smoothed by a Gaussian of 2 elements; 0 where the gradient norm is <= 1e-12.
5. **Band**: elements outside the bulk with 0 < d <= ``band_um`` (SCIENCE.md §6.4: default
   40 µm, range 20–60 µm).

:func:`distance_at` interpolates d at any points (the cells'), and :func:`invasion_stats`
summarises how far cells have left the bulk.

References
----------
SCIENCE.md §6.4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from metastroma._typing import BoolArray, F64Array

__all__ = ["TumourEdge", "distance_at", "invasion_stats", "tumour_edge"]

#: Gaussian width (elements) of the mask smoothing whose gradient gives the edge normal.
NORMAL_SMOOTH_ELEMENTS = 2.0


class TumourEdge(NamedTuple):
    """The tumour edge on the ECM grid (module docstring for the conventions).

    Attributes
    ----------
    inside : (nx, ny[, nz]) bool
        Element is in the tumour bulk.
    distance_um : (nx, ny[, nz]) float64, µm
        Signed distance of the element centre to the edge: > 0 outside, < 0 inside;
        exact in the box of the cells widened by the band and the smoothing reach, a
        lower bound beyond it; +inf everywhere if there is no tumour.
    normal : (nx, ny[, nz], dim) float64
        Outward unit normal of the smoothed bulk mask at each element; 0 where undefined
        (far from the edge, or no tumour).
    band : (nx, ny[, nz]) bool
        Elements outside the bulk with 0 < ``distance_um`` <= ``band_um``.
    centre_um : (dim,) float64, µm
        Centroid of the bulk's element centres; NaN if there is no tumour.
    radius_um : float, µm
        Equivalent radius of the bulk, √(A/π) (2D) or ∛(3V/(4π)) (3D); 0 if no tumour.
    """

    inside: BoolArray
    distance_um: F64Array
    normal: F64Array
    band: BoolArray
    centre_um: F64Array
    radius_um: float


def _finite_positive(where: str, name: str, value: float, unit: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` unless finite and > 0."""
    x = float(value)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{where}: {name} = {value}: must be finite and > 0 ({unit})")
    return x


def _grid_shape(where: str, shape: Sequence[int]) -> tuple[int, ...]:
    """``shape`` as a tuple of 2 or 3 ints >= 1, or a ValueError naming ``shape``."""
    try:
        items = tuple(shape)
    except TypeError as err:
        raise ValueError(
            f"{where}: shape = {shape!r}: must be 2 or 3 integers >= 1"
        ) from err
    ok = len(items) in (2, 3) and all(
        isinstance(s, int | np.integer)
        and not isinstance(s, bool | np.bool_)
        and s >= 1
        for s in items
    )
    if not ok:
        raise ValueError(f"{where}: shape = {shape!r}: must be 2 or 3 integers >= 1")
    return tuple(int(s) for s in items)


def _points(where: str, pos_um: npt.ArrayLike, dim: int) -> F64Array:
    """``pos_um`` as a finite (n, dim) float64 array, or a ValueError naming it."""
    pts = np.asarray(pos_um, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != dim:
        raise ValueError(
            f"{where}: pos_um has shape {pts.shape}: must be (n, {dim}) for a "
            f"{dim}-D grid"
        )
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{where}: pos_um contains NaN or inf")
    return pts


def _lower(where: str, lower_um: npt.ArrayLike, dim: int) -> F64Array:
    """``lower_um`` as a finite (dim,) float64 array, or a ValueError naming it."""
    lower = np.asarray(lower_um, dtype=np.float64)
    if lower.shape != (dim,) or not np.all(np.isfinite(lower)):
        raise ValueError(
            f"{where}: lower_um = {lower_um!r}: must be {dim} finite numbers (µm)"
        )
    return lower


def _no_tumour(shape: tuple[int, ...]) -> TumourEdge:
    """The edge of an empty grid: nothing inside, distance +inf, no normals, no band."""
    dim = len(shape)
    return TumourEdge(
        inside=np.zeros(shape, dtype=np.bool_),
        distance_um=np.full(shape, np.inf, dtype=np.float64),
        normal=np.zeros((*shape, dim), dtype=np.float64),
        band=np.zeros(shape, dtype=np.bool_),
        centre_um=np.full(dim, np.nan, dtype=np.float64),
        radius_um=0.0,
    )


def _bulk(fraction: F64Array, smooth_elements: float, min_fraction: float) -> BoolArray:
    """Largest component of the hole-filled level set {G * fraction >= min_fraction}."""
    smooth = ndi.gaussian_filter(fraction, smooth_elements, mode="constant")
    mask = np.asarray(ndi.binary_fill_holes(smooth >= min_fraction), dtype=np.bool_)
    labels, n_labels = ndi.label(mask)
    if n_labels <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # background
    return np.asarray(labels == int(np.argmax(sizes)), dtype=np.bool_)


def _signed_distance(inside: BoolArray, element_um: float) -> F64Array:
    """Signed distance (µm) of element centres to the edge of a non-empty ``inside``."""
    half = 0.5 * element_um
    e_out = np.asarray(
        ndi.distance_transform_edt(~inside, sampling=element_um), dtype=np.float64
    )
    # pad with outside: a bulk that reaches the grid border ends there
    e_in = np.asarray(
        ndi.distance_transform_edt(np.pad(inside, 1), sampling=element_um),
        dtype=np.float64,
    )[(slice(1, -1),) * inside.ndim]
    return np.where(inside, half - e_in, e_out - half)


def _outward_normal(inside: BoolArray, element_um: float) -> F64Array:
    """(*shape, dim) unit −∇ of the smoothed mask; 0 where the gradient norm <= 1e-12."""
    smooth = ndi.gaussian_filter(
        inside.astype(np.float64), NORMAL_SMOOTH_ELEMENTS, mode="constant"
    )
    # np.gradient needs >= 2 points along an axis; an axis of length 1 has no slope
    grads = [
        np.gradient(smooth, element_um, axis=a)
        if inside.shape[a] >= 2
        else np.zeros_like(smooth)
        for a in range(inside.ndim)
    ]  # a loop over the 2 or 3 axes
    g = -np.stack(grads, axis=-1)
    norm = np.linalg.norm(g, axis=-1, keepdims=True)
    ok = norm > 1e-12
    return np.where(ok, g / np.where(ok, norm, 1.0), 0.0)


def tumour_edge(
    pos_um: npt.ArrayLike,
    lower_um: npt.ArrayLike,
    element_um: float,
    shape: Sequence[int],
    band_um: float = 40.0,
    cell_radius_um: float = 8.41,
    min_fraction: float = 0.3,
    smooth_elements: float = 1.0,
) -> TumourEdge:
    """Tumour bulk, signed distance, outward normal and band on the ECM grid.

    Steps and conventions in the module docstring (SCIENCE.md §6.4: the density level set
    of the cancer cells).

    Parameters
    ----------
    pos_um : (n, dim) float64, µm
        Centres of the live cancer cells; dim = ``len(shape)``; n may be 0. Positions
        outside the grid are binned in the nearest border element.
    lower_um : (dim,) float64, µm
        Lower corner of the grid; element ``idx`` has its centre at
        ``lower_um + (idx + 0.5) * element_um``.
    element_um : float, µm
        Element side (default ECM element: 20 µm); > 0.
    shape : 2 or 3 ints >= 1
        Grid shape (nx, ny[, nz]).
    band_um : float, µm
        Width of the band outside the edge (SCIENCE.md §6.4: 40 µm, range 20–60); >= 0.
    cell_radius_um : float, µm
        Cell radius R giving each cell's area π R² (2D) or volume 4/3 π R³ (3D); > 0.
        Default 8.41 µm (the cancer-cell default of the scenarios).
    min_fraction : float
        Level (covered fraction, in (0, 1]) of the smoothed density that bounds the bulk.
    smooth_elements : float
        Standard deviation, in elements, of the Gaussian smoothing the density; >= 0
        (0: none).

    Returns
    -------
    TumourEdge
        Grid arrays of ``shape``; if n = 0 or nothing reaches ``min_fraction``: nothing
        inside, distance +inf, normal 0, empty band, centre NaN, radius 0.

    Raises
    ------
    ValueError
        Naming the argument: ``shape`` not 2 or 3 ints >= 1, ``pos_um`` not (n, dim) or
        not finite, ``lower_um`` not ``dim`` finite numbers, ``element_um`` or
        ``cell_radius_um`` not > 0, ``band_um`` or ``smooth_elements`` not >= 0,
        ``min_fraction`` not in (0, 1].

    Examples
    --------
    One cell at the centre of each of 6 × 6 elements of 20 µm (a 120 µm square; each
    covers 0.56 of its element): the bulk is that square, its corners rounded off by the
    smoothing, and the band is the two elements (40 µm) outside it.

    >>> c = np.arange(-50.0, 51.0, 20.0)
    >>> xy = np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1).reshape(-1, 2)
    >>> edge = tumour_edge(xy, (-100.0, -100.0), 20.0, (10, 10))
    >>> edge.inside[:, 5].astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    >>> edge.distance_um[:, 5].round(1).tolist()
    [30.0, 10.0, -10.0, -30.0, -46.6, -46.6, -30.0, -10.0, 10.0, 30.0]
    >>> edge.band[:, 5].astype(int).tolist()
    [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    >>> int(edge.inside.sum()), edge.centre_um.tolist()
    (32, [0.0, 0.0])
    """
    where = "tumour_edge"
    grid = _grid_shape(where, shape)
    dim = len(grid)
    pts = _points(where, pos_um, dim)
    lower = _lower(where, lower_um, dim)
    element = _finite_positive(where, "element_um", element_um, "µm")
    radius = _finite_positive(where, "cell_radius_um", cell_radius_um, "µm")
    band_width = float(band_um)
    if not (math.isfinite(band_width) and band_width >= 0.0):
        raise ValueError(f"{where}: band_um = {band_um}: must be finite and >= 0 (µm)")
    level = float(min_fraction)
    if not (math.isfinite(level) and 0.0 < level <= 1.0):
        raise ValueError(f"{where}: min_fraction = {min_fraction}: must be in (0, 1]")
    sigma = float(smooth_elements)
    if not (math.isfinite(sigma) and sigma >= 0.0):
        raise ValueError(
            f"{where}: smooth_elements = {smooth_elements}: must be finite and >= 0 "
            "(elements)"
        )
    if pts.shape[0] == 0:
        return _no_tumour(grid)

    idx = np.floor((pts - lower) / element).astype(np.int64)
    idx = np.clip(idx, 0, np.asarray(grid, dtype=np.int64) - 1)
    # Work on the box around the cells, wide enough that the smoothing (Gaussians are
    # truncated at 4 σ), the band and the normals near it are those of the whole grid;
    # beyond it the distance is a lower bound and the normal 0 (far from any cancer
    # cell, which is all the simulation and the measurements look at).
    margin = (
        math.ceil(band_width / element)
        + math.ceil(4.0 * max(sigma, NORMAL_SMOOTH_ELEMENTS))
        + 2
    )
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + margin + 1, np.asarray(grid, dtype=np.int64))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    sub = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    flat = np.ravel_multi_index(tuple((idx - lo).T), sub)
    counts = np.bincount(flat, minlength=math.prod(sub)).reshape(sub)
    cell_size = math.pi * radius**2 if dim == 2 else 4.0 / 3.0 * math.pi * radius**3
    fraction = counts.astype(np.float64) * (cell_size / element**dim)

    inside_sub = _bulk(fraction, sigma, level)
    n_inside = int(np.count_nonzero(inside_sub))
    if n_inside == 0:
        return _no_tumour(grid)

    # a bulk reaching the crop's side reaches the grid's border there (margin > 0), so
    # "beyond the grid is outside" is the same rule on the crop and on the grid
    distance_sub = _signed_distance(inside_sub, element)
    edge = _no_tumour(grid)
    if any(s_ < g_ for s_, g_ in zip(sub, grid, strict=True)):
        # beyond the box: a lower bound of the distance (to the box, plus the margin)
        axes = np.ogrid[tuple(slice(0, g_) for g_ in grid)]
        gap2 = sum(
            (np.maximum(np.maximum(int(a) - ax, ax - (int(b) - 1)), 0) * element) ** 2
            for ax, a, b in zip(axes, lo, hi, strict=True)
        )
        edge.distance_um[...] = np.sqrt(gap2) + (margin - 0.5) * element
    edge.inside[box] = inside_sub
    edge.distance_um[box] = distance_sub
    edge.normal[box] = _outward_normal(inside_sub, element)
    edge.band[box] = ~inside_sub & (distance_sub > 0.0) & (distance_sub <= band_width)
    centre = lower + (np.argwhere(inside_sub).mean(axis=0) + lo + 0.5) * element
    size = n_inside * element**dim
    eq_radius = (
        math.sqrt(size / math.pi) if dim == 2 else math.cbrt(0.75 * size / math.pi)
    )
    return edge._replace(
        centre_um=np.asarray(centre, dtype=np.float64), radius_um=eq_radius
    )


def distance_at(
    edge: TumourEdge, pos_um: npt.ArrayLike, lower_um: npt.ArrayLike, element_um: float
) -> F64Array:
    """Signed distance to the tumour edge at arbitrary points (the cells').

    Bilinear (2D) or trilinear (3D) interpolation of ``edge.distance_um`` between element
    centres; points beyond the outermost centres take the value at the nearest point of
    that range (clamped), so far outside the grid the distance is underestimated.

    Parameters
    ----------
    edge : TumourEdge
        From :func:`tumour_edge` on the same grid.
    pos_um : (n, dim) float64, µm
        Points; dim = ``edge.distance_um.ndim``.
    lower_um : (dim,) float64, µm
        Lower corner of the grid (as given to :func:`tumour_edge`).
    element_um : float, µm
        Element side (as given to :func:`tumour_edge`); > 0.

    Returns
    -------
    (n,) float64, µm
        > 0 outside the edge, < 0 inside; +inf everywhere if there is no tumour.

    Raises
    ------
    ValueError
        ``pos_um`` not (n, dim) or not finite, ``lower_um`` not ``dim`` finite numbers,
        ``element_um`` not > 0.
    """
    where = "distance_at"
    field = edge.distance_um
    dim = field.ndim
    pts = _points(where, pos_um, dim)
    lower = _lower(where, lower_um, dim)
    element = _finite_positive(where, "element_um", element_um, "µm")
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    if not np.all(np.isfinite(field)):  # no tumour: +inf everywhere (0 × inf is NaN)
        return np.full(pts.shape[0], np.inf, dtype=np.float64)
    coords = (pts - lower) / element - 0.5  # fractional element index of each point
    coords = np.clip(coords, 0.0, np.asarray(field.shape, dtype=np.float64) - 1.0)
    return np.asarray(
        ndi.map_coordinates(field, coords.T, order=1, mode="nearest"), dtype=np.float64
    )


def invasion_stats(
    distance_um: npt.ArrayLike, threshold_um: float = 20.0
) -> dict[str, float]:
    """How far the cancer cells have left the tumour bulk.

    Parameters
    ----------
    distance_um : (n,) float64, µm
        Signed distance of each cancer cell to the edge (:func:`distance_at`); all +inf
        if there is no tumour.
    threshold_um : float, µm
        Distance beyond the edge from which a cell counts as invading; finite.

    Returns
    -------
    dict of str to float
        ``invasion_depth_um``: 95th percentile (linear) of d over the cells with d > 0,
        0 if none; ``invasion_max_um``: max of d over d > 0, 0 if none; ``n_invading``:
        cells with d > ``threshold_um``; ``frac_invading``: ``n_invading`` / n, NaN if
        n = 0. With no tumour (all d = +inf): counts 0, depths and fraction NaN.

    Raises
    ------
    ValueError
        ``distance_um`` not 1-D, containing NaN or −inf, or mixing +inf with finite
        values (a field is either empty or finite everywhere); ``threshold_um`` not
        finite.

    Examples
    --------
    >>> stats = invasion_stats(np.arange(-3.0, 22.0))  # 21 cells at d = 1, 2, ..., 21 µm
    >>> stats["invasion_depth_um"], stats["invasion_max_um"], stats["n_invading"]
    (20.0, 21.0, 1.0)
    >>> stats["frac_invading"]
    0.04
    """
    where = "invasion_stats"
    d = np.asarray(distance_um, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"{where}: distance_um has shape {d.shape}: must be (n,)")
    threshold = float(threshold_um)
    if not math.isfinite(threshold):
        raise ValueError(f"{where}: threshold_um = {threshold_um}: must be finite (µm)")
    finite = np.isfinite(d)
    if not np.all(finite):
        if np.all(d == np.inf):  # no tumour: nobody is inside or outside of anything
            nan = float("nan")
            return {
                "invasion_depth_um": nan,
                "invasion_max_um": nan,
                "n_invading": 0.0,
                "frac_invading": nan,
            }
        raise ValueError(
            f"{where}: distance_um contains NaN, -inf, or +inf mixed with finite "
            "values: must be all finite, or all +inf (no tumour)"
        )
    out = d[d > 0.0]
    n_invading = int(np.count_nonzero(d > threshold))
    return {
        "invasion_depth_um": float(np.percentile(out, 95.0)) if out.size else 0.0,
        "invasion_max_um": float(out.max()) if out.size else 0.0,
        "n_invading": float(n_invading),
        "frac_invading": n_invading / d.size if d.size else float("nan"),
    }
