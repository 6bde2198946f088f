"""Render a simulated nematic ECM field as a synthetic fibre image.

Simulated collagen (SCIENCE.md §5.1) and SHG images (§6.2) are analysed by the same
definitions (§6.1); rendering the field lets the image pipeline check itself against the
field: the rendered image and the field must give the same dominant angle (±2°) and
monotonically related alignment (SCIENCE.md §6.2).

Each element becomes a ``px_per_element``² tile of sinusoidal stripes running along the
element's fibre direction θ (wavelength ``wavelength_px`` across the stripes, phase taken
from the global pixel position), on a grey of 0.5:

    I(p) = 0.5 + 0.5 · s_e · W(p) · cos(2π n̂(θ_e) · p / λ) + noise,   s_e = √(a_e ρ_e),

with n̂ the unit normal to the fibre, p = (column, −row) in pixels (y up) and W a separable
sin² taper that falls to ~0 at each tile's edges. Why the taper: tiles that meet at seams
add 0°/90° gradient energy and pull the image's angle towards the axes, and tiles that
cross-fade overlap two stripe patterns whose interference (a beat with a global phase)
shifts the angle by up to ~3°; separate tapered tiles have neither, and the envelope's own
gradient energy is isotropic (the taper is the same along x and y), so it lowers the
image's coherency without biasing its angle. The contrast s is taken as √(a ρ) so that a
tile's structure-tensor energy, ∝ s², is ∝ a ρ: the image's energy-weighted doubled-angle
sum then weights each element by ρ a e^{2iθ}, the sum :func:`field_alignment` forms, and
the dominant angles agree. What is left is the Sobel derivative's own anisotropy at
λ = 6 px (angles pulled ≤ 1.2° towards the nearest axis, 9 % more energy at 0°/90° than at
45°; measured), within the ±2° SCIENCE.md §6.2 asks. Mild Gaussian noise (standard
deviation 0.03) comes from ``np.random.default_rng(seed)``.

Image rows run down y: row 0 is the *top* of the field (largest y), column 0 its left edge
(smallest x); the field's first axis is x.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from metastroma._typing import F64Array
from metastroma.analysis.alignment import _nematic_arrays

__all__ = ["render_field_image"]

NOISE_SD = 0.03


def render_field_image(
    q_xx: npt.ArrayLike,
    q_xy: npt.ArrayLike,
    px_per_element: int = 16,
    wavelength_px: float = 6.0,
    density: npt.ArrayLike | None = None,
    seed: int = 0,
) -> F64Array:
    """Synthetic stripe image of a 2D nematic field (module docstring).

    Parameters
    ----------
    q_xx, q_xy : (nx, ny) array_like
        Nematic tensor components; a = 2|q| ∈ [0, 1]. First axis x, second y (y up).
    px_per_element : int
        Tile side in pixels per element (>= 1).
    wavelength_px : float, px
        Stripe period across the fibres (> 2 px).
    density : (nx, ny) array_like, optional
        Density ρ ∈ [0, 1] scaling the contrast; default 1.
    seed : int
        Seed of the noise.

    Returns
    -------
    (ny · px_per_element, nx · px_per_element) float64
        Grey image, roughly in [0, 1]; row 0 = the largest y.

    Raises
    ------
    ValueError
        Shapes differ, the field is not 2D, non-finite values, a > 1 or ρ outside [0, 1],
        or bad tile or wavelength.
    """
    qx, qy, given_rho = _nematic_arrays(q_xx, q_xy, density)
    if qx.ndim != 2:
        raise ValueError(f"q_xx and q_xy must be 2D (nx, ny), got {qx.shape}")
    if int(px_per_element) < 1:
        raise ValueError(f"px_per_element = {px_per_element}: must be >= 1")
    if not (np.isfinite(wavelength_px) and wavelength_px > 2.0):
        raise ValueError(f"wavelength_px = {wavelength_px}: must be > 2 px")
    aniso = 2.0 * np.hypot(qx, qy)
    rho = np.ones(qx.shape) if given_rho is None else given_rho
    if np.any(rho > 1):
        raise ValueError("density must lie in [0, 1]")

    k = int(px_per_element)
    # element grids as images: rows = y reversed, columns = x
    theta = (0.5 * np.arctan2(qy, qx)).T[::-1]
    contrast = np.sqrt(np.clip(aniso, 0.0, 1.0) * rho).T[::-1]
    theta_px = np.repeat(np.repeat(theta, k, axis=0), k, axis=1)
    contrast_px = np.repeat(np.repeat(contrast, k, axis=0), k, axis=1)
    n_rows, n_cols = theta_px.shape
    x = np.arange(n_cols, dtype=np.float64)[None, :]
    y = -np.arange(n_rows, dtype=np.float64)[:, None]
    # separable sin² taper inside each tile: no seams and no overlap between elements
    taper = np.sin(np.pi * (np.arange(k) + 0.5) / k) ** 2
    window = np.tile(taper, n_rows // k)[:, None] * np.tile(taper, n_cols // k)[None, :]
    # unit normal to the fibre (cos θ, sin θ) is (−sin θ, cos θ)
    phase = (2.0 * np.pi / wavelength_px) * (
        -np.sin(theta_px) * x + np.cos(theta_px) * y
    )
    image = 0.5 + 0.5 * contrast_px * window * np.cos(phase)
    rng = np.random.default_rng(seed)
    image += rng.normal(0.0, NOISE_SD, size=image.shape)
    return np.asarray(image, dtype=np.float64)
