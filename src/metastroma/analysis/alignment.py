"""Doubled-angle alignment of fibres and cells (SCIENCE.md §6.1, §6.3).

Fibres are axial: a fibre at θ and one at θ + 180° are the same fibre, so angles are never
averaged directly. Each orientation becomes a doubled-angle vector

    z_k = a_k e^{2iθ_k},

with a_k ∈ [0, 1] its local anisotropy (1 for a unit director), and a set of weights w_k ≥ 0
gives

    C = |Σ w_k z_k| / Σ w_k ∈ [0, 1],   θ̄ = ½ arg Σ w_k z_k  (mod 180°).

With unit directors and unit weights C is the mean resultant length of doubled angles, the
"coefficient of alignment" CurveAlign reports; it equals the coherency
(λ₁ − λ₂)/(λ₁ + λ₂) of the orientation tensor T = ⟨n nᵀ⟩, whose eigenvalues are ½(1 ± C).

For a simulated ECM field the same information is the 2D nematic tensor of SCIENCE.md §5.1,

    q_xx = (a/2) cos 2θ,   q_xy = (a/2) sin 2θ,   z = a e^{2iθ} = 2(q_xx + i q_xy),

so averaging Q (never angles) over elements with density weights gives C = 2 λ_max(⟨Q⟩_ρ).

**Angle convention (the whole ``metastroma.analysis`` package).** Degrees; 0° = +x (the image
column axis, to the right), counter-clockwise positive with y pointing *up* (y = −row for
images); fibre angles lie in [0°, 180°). Flipping an image's rows negates its angles mod 180°.

References
----------
SCIENCE.md §0 (angles), §5.1 (nematic tensor), §6.1 (doubled-angle alignment), §6.3 (cells).
Liu Y. et al. (2020) CurveAlign, Front. Bioeng. Biotechnol. (coefficient of alignment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metastroma._typing import F64Array

__all__ = [
    "AlignmentStats",
    "angle_histogram",
    "angles_from_nematic",
    "cell_alignment",
    "cell_fibre_agreement",
    "doubled_angle_stats",
    "field_alignment",
    "nematic_from_angles",
]


@dataclass(frozen=True)
class AlignmentStats:
    """Summary of a set of axial orientations (SCIENCE.md §6.1).

    Attributes
    ----------
    dominant_angle_deg : float, degrees
        θ̄ = ½ arg Σ w z in [0, 180); NaN when ``n == 0`` or Σ w z = 0 exactly.
    alignment : float
        C = |Σ w z| / Σ w in [0, 1]; NaN when ``n == 0``.
    n : int
        Number of elements (pixels, ECM elements, cells) that entered the sums.
    weighting : str
        Which weights were used: ``'unit'``, ``'density'``, ``'energy'``, ``'in-plane'`` ...
    """

    dominant_angle_deg: float
    alignment: float
    n: int
    weighting: str


def _as_f64(x: npt.ArrayLike, name: str) -> F64Array:
    """``x`` as a float64 array; ValueError naming ``name`` if any value is NaN or inf."""
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def _nematic_arrays(
    q_xx: npt.ArrayLike, q_xy: npt.ArrayLike, density: npt.ArrayLike | None = None
) -> tuple[F64Array, F64Array, F64Array | None]:
    """Checked float64 arrays of a 2D nematic field and, if given, its density.

    Shared by every function that takes a simulated field (:func:`field_alignment`,
    ``render_field_image``, ``score_tacs_field``), so that all refuse the same inputs.

    Returns
    -------
    q_xx, q_xy : float64 arrays of one shape
    density : float64 array of that shape, or None

    Raises
    ------
    ValueError
        Shapes differ, a value is NaN or inf, a = 2|q| > 1 (beyond a 1e-9 tolerance), or
        a density is negative.
    """
    qx = np.asarray(q_xx, dtype=np.float64)
    qy = np.asarray(q_xy, dtype=np.float64)
    if qx.shape != qy.shape:
        raise ValueError(
            f"q_xx {qx.shape} and q_xy {qy.shape} must have the same shape"
        )
    q2 = qx * qx
    q2 += qy * qy
    if not np.all(q2 <= (0.5 + 1e-9) ** 2):  # one pass: False for NaN and inf too
        _as_f64(qx, "q_xx")
        _as_f64(qy, "q_xy")
        raise ValueError("anisotropy a = 2|q| must be <= 1")
    if density is None:
        return qx, qy, None
    rho = _as_f64(density, "density")
    if rho.shape != qx.shape:
        raise ValueError(f"density {rho.shape} must have the shape of q_xx {qx.shape}")
    if np.any(rho < 0):
        raise ValueError("density must be >= 0")
    return qx, qy, rho


def _stats_from_sums(
    sum_re: float, sum_im: float, sum_w: float, n: int, weighting: str
) -> AlignmentStats:
    """Turn Σ w z (as real and imaginary parts) and Σ w into an :class:`AlignmentStats`."""
    if n == 0 or sum_w <= 0.0:
        return AlignmentStats(float("nan"), float("nan"), n, weighting)
    magnitude = float(np.hypot(sum_re, sum_im))
    c = min(max(magnitude / sum_w, 0.0), 1.0)  # rounding can nudge it past 1
    if magnitude == 0.0:
        angle = float("nan")
    else:
        angle = float(np.degrees(0.5 * np.arctan2(sum_im, sum_re)) % 180.0)
        if angle >= 180.0:  # -tiny % 180 rounds to 180.0
            angle = 0.0
    return AlignmentStats(angle, c, n, weighting)


def doubled_angle_stats(
    angles_deg: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    anisotropy: npt.ArrayLike | None = None,
    weighting: str = "unit",
) -> AlignmentStats:
    """Doubled-angle mean direction θ̄ and alignment C of axial angles (SCIENCE.md §6.1).

    Parameters
    ----------
    angles_deg : array_like, any shape, degrees
        Axial orientations (any real value; taken mod 180°).
    weights : array_like, optional
        Non-negative weights w_k broadcastable to ``angles_deg``; default 1.
    anisotropy : array_like, optional
        Local anisotropy a_k ∈ [0, 1] broadcastable to ``angles_deg``; default 1
        (unit directors).
    weighting : str
        Label stored in the result to say which weights were used.

    Returns
    -------
    AlignmentStats
        C = |Σ w a e^{2iθ}| / Σ w and θ̄ = ½ arg(...) mod 180°; ``n`` counts elements with
        w > 0. With no elements, or all weights zero, C and θ̄ are NaN and ``n`` is 0.

    Raises
    ------
    ValueError
        Non-finite angles, weights or anisotropies, negative weights, or anisotropy outside
        [0, 1].

    Examples
    --------
    >>> s = doubled_angle_stats([10.0, 190.0, -170.0])
    >>> round(s.dominant_angle_deg, 6), round(s.alignment, 6)
    (10.0, 1.0)
    >>> round(doubled_angle_stats([0.0, 90.0]).alignment, 12)
    0.0
    """
    theta = np.radians(_as_f64(angles_deg, "angles_deg"))
    w = np.ones_like(theta) if weights is None else _as_f64(weights, "weights")
    a = np.ones_like(theta) if anisotropy is None else _as_f64(anisotropy, "anisotropy")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    if np.any((a < 0) | (a > 1)):
        raise ValueError("anisotropy must lie in [0, 1]")
    theta, w, a = np.broadcast_arrays(theta, w, a)
    wa = w * a
    return _stats_from_sums(
        float(np.sum(wa * np.cos(2.0 * theta))),
        float(np.sum(wa * np.sin(2.0 * theta))),
        float(np.sum(w)),
        int(np.count_nonzero(w > 0)),
        weighting,
    )


def nematic_from_angles(
    angle_deg: npt.ArrayLike, anisotropy: npt.ArrayLike
) -> tuple[F64Array, F64Array]:
    """2D nematic tensor components from fibre angle and anisotropy (SCIENCE.md §5.1).

    Parameters
    ----------
    angle_deg : array_like, degrees
        Fibre angle θ (0° = +x, counter-clockwise, y up).
    anisotropy : array_like
        a ∈ [0, 1], broadcastable to ``angle_deg``.

    Returns
    -------
    q_xx, q_xy : float64 arrays of the broadcast shape
        q_xx = (a/2) cos 2θ, q_xy = (a/2) sin 2θ.

    Examples
    --------
    >>> q_xx, q_xy = nematic_from_angles(45.0, 1.0)
    >>> round(float(q_xx), 12), round(float(q_xy), 12)
    (0.0, 0.5)
    """
    theta = np.radians(np.asarray(angle_deg, dtype=np.float64))
    a = np.asarray(anisotropy, dtype=np.float64)
    q_xx = 0.5 * a * np.cos(2.0 * theta)
    q_xy = 0.5 * a * np.sin(2.0 * theta)
    return np.asarray(q_xx, dtype=np.float64), np.asarray(q_xy, dtype=np.float64)


def angles_from_nematic(
    q_xx: npt.ArrayLike, q_xy: npt.ArrayLike
) -> tuple[F64Array, F64Array]:
    """Fibre angle and anisotropy from 2D nematic tensor components (SCIENCE.md §5.1).

    Parameters
    ----------
    q_xx, q_xy : array_like, same or broadcastable shapes

    Returns
    -------
    angle_deg : float64 array, degrees
        θ = ½ atan2(q_xy, q_xx) mod 180°, in [0, 180) (0° where the tensor is zero).
    anisotropy : float64 array
        a = 2 √(q_xx² + q_xy²).
    """
    qx = np.asarray(q_xx, dtype=np.float64)
    qy = np.asarray(q_xy, dtype=np.float64)
    angle = np.degrees(0.5 * np.arctan2(qy, qx)) % 180.0
    angle = np.where(angle >= 180.0, 0.0, angle)
    return np.asarray(angle, dtype=np.float64), np.asarray(
        2.0 * np.hypot(qx, qy), dtype=np.float64
    )


def field_alignment(
    q_xx: npt.ArrayLike,
    q_xy: npt.ArrayLike,
    density: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
) -> AlignmentStats:
    """Alignment of a 2D nematic ECM field (SCIENCE.md §6.1, simulation case).

    Each element contributes z = 2(q_xx + i q_xy) = a e^{2iθ} with weight w = ρ (the amount
    of collagen) or 1, so C = 2 λ_max of the weighted mean tensor ⟨Q⟩_w.

    Parameters
    ----------
    q_xx, q_xy : array_like, any shape (e.g. (nx, ny))
        Nematic tensor components; a = 2|q| must lie in [0, 1] (a tolerance of 1e-9).
    density : array_like, optional
        Collagen density ρ ≥ 0, same shape; default 1 everywhere (``weighting='unit'``).
    mask : array_like of bool, optional
        Elements to include (e.g. a region of interest); default all.

    Returns
    -------
    AlignmentStats
        ``weighting`` is ``'density'`` or ``'unit'``; ``n`` counts included elements with
        w > 0.

    Raises
    ------
    ValueError
        Shapes differ, values are not finite, a density is negative, or a > 1.
    """
    qx, qy, rho = _nematic_arrays(q_xx, q_xy, density)
    weighting = "unit" if rho is None else "density"
    if rho is None and mask is None:  # unit weights: plain sums, no weight array
        return _stats_from_sums(
            float(2.0 * qx.sum()), float(2.0 * qy.sum()), qx.size, qx.size, weighting
        )
    w = np.ones(qx.shape) if rho is None else rho
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != qx.shape:
            raise ValueError(f"mask {m.shape} must have the shape of q_xx {qx.shape}")
        w = np.where(m, w, 0.0)
    return _stats_from_sums(
        float(2.0 * np.vdot(w, qx)),  # vdot: one BLAS pass, no temporaries
        float(2.0 * np.vdot(w, qy)),
        float(w.sum()),
        int(np.count_nonzero(w > 0)),
        weighting,
    )


def cell_alignment(vectors: npt.ArrayLike) -> AlignmentStats:
    """Co-alignment C_cells of cell motility or polarity vectors (SCIENCE.md §6.3).

    Each non-zero vector gives an axial angle φ = atan2(v_y, v_x) (sign-free: v and −v are the
    same orientation). In 3D the vector is projected on the x–y plane and weighted by
    |v_xy|²/|v|² (SCIENCE.md §6.2, last paragraph), so a vector along z contributes weight 0.

    Parameters
    ----------
    vectors : (n, 2) or (n, 3) array_like
        Motility or polarity vectors (any length; only the direction matters).

    Returns
    -------
    AlignmentStats
        ``weighting`` is ``'unit'`` (2D) or ``'in-plane'`` (3D); ``n`` counts vectors with a
        non-zero weight. NaN values when no vector qualifies.

    Raises
    ------
    ValueError
        Wrong shape or non-finite values.
    """
    v = _as_f64(vectors, "vectors")
    if v.ndim != 2 or v.shape[1] not in (2, 3):
        raise ValueError(f"vectors must have shape (n, 2) or (n, 3), got {v.shape}")
    r2_xy = v[:, 0] ** 2 + v[:, 1] ** 2
    if v.shape[1] == 2:
        w = (r2_xy > 0).astype(np.float64)
        weighting = "unit"
    else:
        r2 = r2_xy + v[:, 2] ** 2
        w = np.divide(r2_xy, r2, out=np.zeros_like(r2), where=r2 > 0)
        weighting = "in-plane"
    phi = np.arctan2(v[:, 1], v[:, 0])
    return _stats_from_sums(
        float(np.sum(w * np.cos(2.0 * phi))),
        float(np.sum(w * np.sin(2.0 * phi))),
        float(w.sum()),
        int(np.count_nonzero(w > 0)),
        weighting,
    )


def cell_fibre_agreement(
    cell_angles_deg: npt.ArrayLike, fibre_angles_deg: npt.ArrayLike
) -> float:
    """Cell–fibre agreement K = ⟨cos 2(φ − θ)⟩ ∈ [−1, 1] (SCIENCE.md §6.3).

    Parameters
    ----------
    cell_angles_deg : (n,) array_like, degrees
        Axial angle φ of each cell's motility vector or long axis.
    fibre_angles_deg : (n,) array_like, degrees
        Fibre angle θ of the ECM element under each cell.

    Returns
    -------
    float
        1 = cells parallel to their fibres, 0 = unrelated, −1 = perpendicular; NaN for n = 0.

    Raises
    ------
    ValueError
        Shapes differ or values are not finite.
    """
    phi = _as_f64(cell_angles_deg, "cell_angles_deg")
    theta = _as_f64(fibre_angles_deg, "fibre_angles_deg")
    if phi.shape != theta.shape:
        raise ValueError(
            f"cell_angles_deg {phi.shape} and fibre_angles_deg {theta.shape} differ"
        )
    if phi.size == 0:
        return float("nan")
    return float(np.mean(np.cos(2.0 * np.radians(phi - theta))))


def angle_histogram(
    angles_deg: npt.ArrayLike, weights: npt.ArrayLike | None = None, bins: int = 36
) -> tuple[F64Array, F64Array]:
    """Weighted histogram of axial angles over [0°, 180°], normalised to sum 1.

    Parameters
    ----------
    angles_deg : array_like, degrees
        Taken mod 180°.
    weights : array_like, optional
        Non-negative weights of the same shape; default 1.
    bins : int
        Number of equal bins (default 36, i.e. 5° each).

    Returns
    -------
    edges_deg : (bins + 1,) float64, degrees
    fractions : (bins,) float64
        Weighted counts divided by their sum (all zeros if there is nothing to count).

    Raises
    ------
    ValueError
        ``bins < 1``, non-finite values or negative weights.
    """
    if bins < 1:
        raise ValueError(f"bins = {bins}: must be >= 1")
    theta = _as_f64(angles_deg, "angles_deg").ravel() % 180.0
    w = None if weights is None else _as_f64(weights, "weights").ravel()
    if w is not None and np.any(w < 0):
        raise ValueError("weights must be >= 0")
    edges = np.linspace(0.0, 180.0, bins + 1)
    counts, _ = np.histogram(theta, bins=edges, weights=w)
    counts = counts.astype(np.float64)
    total = counts.sum()
    if total > 0:
        counts /= total
    return edges, counts
