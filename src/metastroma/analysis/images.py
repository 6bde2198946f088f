"""Fibre alignment of microscope images (SHG, picrosirius) by the structure tensor.

The gradient structure tensor at integration scale σ (SCIENCE.md §6.2) is

    J = G_σ * (∇I ∇Iᵀ),  (Gaussian convolution)

computed as scikit-image's ``structure_tensor(image, sigma, mode='reflect', order='rc')``
does: Sobel derivatives along rows and columns, then a Gaussian filter (truncated at 4σ) of
their products, giving the row–column components A_rr, A_rc, A_cc. Gradients are
perpendicular to fibres, so with x = column and y = −row (J_xx = A_cc, J_yy = A_rr,
J_xy = −A_rc) the fibre doubled-angle vector per pixel is

    z = (J_yy − J_xx) − 2i J_xy = (A_rr − A_cc) + 2i A_rc,
    θ = ½ atan2(2 A_rc, A_rr − A_cc) mod 180°,   local coherency c = |z| / (A_rr + A_cc).

Checks (tests pin each): horizontal stripes (intensity varying with the row only) give 0°;
stripes rising to the right on screen give 45°; flipping the rows negates θ (mod 180°).

Image-level values, both over the foreground only:

- ``coherency`` — |Σ z| / Σ trace: the coherency of the summed tensor, i.e. the doubled-angle
  C of SCIENCE.md §6.1 with energy (trace) weights; ``dominant_angle_deg`` = ½ arg Σ z.
- ``alignment`` — |⟨z/|z|⟩|: the unweighted mean resultant length of the per-pixel fibre
  angles, CurveAlign's "coefficient of alignment" on unit directors.

**Foreground.** Dark background has almost no gradient energy, and its angles are noise; we
keep the pixels whose tensor trace exceeds the ``background_quantile`` (default 0.2) of the
trace over the image (or over ``mask``, if given), and intersect with ``mask``. This drops
flat background without a user-set intensity threshold; both image-level values are
insensitive to it on the SHG reference images because low-trace pixels carry little weight.

**Borders.** We use ``mode='reflect'`` rather than scikit-image's default ``'constant'``
(zero padding), which would add a spurious step, and so a spurious 0°/90° gradient, along
every border of a bright image.

**Speed.** The derivatives and the three Gaussian filters run in float32 (their relative
rounding, ~1e-7, is far below any reported digit) on a small thread pool (``scipy.ndimage``
releases the GIL); sums are accumulated in float64.

References
----------
SCIENCE.md §6.2 (structure tensor, sign, σ advice 0.28–0.45 at σ = 2 px on the SHG set).
Bigun J., Granlund G. (1987); Rezakhaniha R. et al. (2012) OrientationJ, Biomech. Model.
Mechanobiol. 11:461; Liu Y. et al. (2020) CurveAlign, Front. Bioeng. Biotechnol.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numba import njit, prange
from scipy import ndimage as ndi

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.analysis.alignment import _stats_from_sums

F32Array = npt.NDArray[np.float32]

__all__ = [
    "ImageAlignment",
    "ImageError",
    "analyse_image",
    "analyse_image_file",
    "read_image",
    "structure_tensor_rc",
]

MIN_SIDE_PX = 8
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_OTHER_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"GIF8")  # PNG, JPEG, BMP, GIF


class ImageError(ValueError):
    """An image cannot be read or analysed; the message names the file and the problem."""


# ---------------------------------------------------------------- reading


def _read_raw(path: Path, page: int | None) -> npt.NDArray[np.generic]:
    """Decode ``path`` (TIFF by tifffile, anything else by imageio) into an array."""
    import imageio.v3 as iio
    import tifffile

    with path.open("rb") as fh:
        head = fh.read(4)
    if not head:
        raise ImageError(f"{path}: file is empty")
    if head in _TIFF_MAGIC:
        try:
            with tifffile.TiffFile(path) as tif:
                n_pages = len(tif.pages)
                if n_pages == 0:
                    raise ImageError(f"{path}: TIFF holds no pages")
                index = 0 if page is None else page
                if not 0 <= index < n_pages:
                    raise ImageError(
                        f"{path}: page {page} out of range (the file has {n_pages} "
                        f"page{'s' if n_pages != 1 else ''}, 0-based)"
                    )
                tiff_page = tif.pages[index]
                return np.asarray(tiff_page.asarray())  # type: ignore[union-attr]  # pages hold TiffPage or TiffFrame, both readable
        except ImageError:
            raise
        except Exception as err:  # tifffile raises many types for corrupt files
            raise ImageError(f"{path}: not a readable TIFF image ({err})") from err
    if page not in (None, 0):
        raise ImageError(f"{path}: page {page} out of range (only TIFF has pages here)")
    data = path.read_bytes()
    if not data.startswith(_OTHER_MAGIC):
        raise ImageError(
            f"{path}: not an image (content is not TIFF, PNG, JPEG, BMP or GIF)"
        )
    try:  # decoding from bytes: imageio opens (and leaks) no file handle
        return np.asarray(iio.imread(data))
    except Exception as err:  # imageio raises OSError, ValueError, plugin errors ...
        raise ImageError(f"{path}: not an image ({type(err).__name__}: {err})") from err


def _to_gray(arr: npt.NDArray[np.generic], where: str) -> F64Array:
    """Float64 2D grey image: integers scaled to [0, 1] by dtype, RGB(A) → luminance."""
    from skimage.color import rgb2gray
    from skimage.util import img_as_float

    if arr.dtype == np.bool_:  # 1-bit (bilevel) images: False → 0.0, True → 1.0
        arr = arr.astype(np.float64)
    if not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ImageError(f"{where}: unsupported pixel type {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = img_as_float(arr[..., :3])
        if not np.all(np.isfinite(rgb)):
            raise ImageError(f"{where}: image contains NaN or inf")
        gray = rgb2gray(rgb)
    elif arr.ndim == 3 and arr.shape[-1] == 2:  # grey + alpha
        gray = img_as_float(arr[..., 0])
    elif arr.ndim == 2:
        gray = img_as_float(arr)
    else:
        raise ImageError(
            f"{where}: expected a 2D grey or RGB(A) image, got an array of shape "
            f"{arr.shape}"
        )
    return np.asarray(gray, dtype=np.float64)


def _check_image(image: F64Array, where: str) -> None:
    if image.ndim != 2:
        raise ImageError(f"{where}: expected a 2D image, got shape {image.shape}")
    if image.size == 0:
        raise ImageError(f"{where}: image is empty (shape {image.shape})")
    if min(image.shape) < MIN_SIDE_PX:
        raise ImageError(
            f"{where}: image of {image.shape[0]}×{image.shape[1]} px is too small "
            f"(each side must be >= {MIN_SIDE_PX} px)"
        )
    if not np.all(np.isfinite(image)):
        raise ImageError(f"{where}: image contains NaN or inf")
    if float(image.max()) == float(image.min()):
        raise ImageError(f"{where}: image is constant (value {float(image.min())})")


def read_image(path: Path, page: int | None = None) -> F64Array:
    """Read a microscope image as a 2D float64 grey image.

    Parameters
    ----------
    path : Path
        TIFF (8/16-bit or float, single- or multi-page), PNG or JPEG. The format is found
        from the file's content, not its suffix.
    page : int, optional
        0-based TIFF page; default the first.

    Returns
    -------
    (rows, cols) float64
        Integer images scaled to [0, 1] by their dtype's range (``img_as_float``), 1-bit
        images to 0 and 1; float images as stored; RGB/RGBA as luminance (``rgb2gray`` of the RGB part). Row 0 is the
        top of the image.

    Raises
    ------
    ImageError
        Naming the file: missing, not an image, empty, any side < 8 px, NaN/inf, constant,
        page out of range, or not a 2D grey/RGB(A) image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if page is not None and page < 0:
        raise ImageError(f"{path}: page {page} out of range (must be >= 0)")
    arr = _read_raw(path, page)
    image = _to_gray(arr, str(path))
    _check_image(image, str(path))
    return image


# ---------------------------------------------------------------- structure tensor

_POOL_WORKERS = max(1, min(3, os.cpu_count() or 1))


def structure_tensor_rc(
    image: npt.ArrayLike, sigma_px: float
) -> tuple[F32Array, F32Array, F32Array]:
    """Row–column structure tensor components (A_rr, A_rc, A_cc), float32.

    Equal (to float32 rounding) to ``skimage.feature.structure_tensor(image, sigma=sigma_px,
    mode='reflect', order='rc')``: Sobel derivatives, Gaussian (truncate 4σ) of products.

    Parameters
    ----------
    image : (rows, cols) array_like
    sigma_px : float, px
        Integration scale.

    Returns
    -------
    A_rr, A_rc, A_cc : (rows, cols) float32
    """
    im = np.asarray(image, dtype=np.float32)
    with ThreadPoolExecutor(max_workers=_POOL_WORKERS) as pool:
        g_r, g_c = pool.map(lambda ax: ndi.sobel(im, axis=ax, mode="reflect"), (0, 1))
        products = (g_r * g_r, g_r * g_c, g_c * g_c)
        del g_r, g_c
        a_rr, a_rc, a_cc = pool.map(
            lambda p: ndi.gaussian_filter(p, sigma_px, mode="reflect", truncate=4.0),
            products,
        )
    return a_rr, a_rc, a_cc


@njit(cache=True, parallel=True)
def _pixel_maps(
    a_rr: F32Array,
    a_rc: F32Array,
    a_cc: F32Array,
    region: BoolArray,
    threshold: float,
    angle: F64Array,
    local: F64Array,
    trace: F64Array,
    fg: BoolArray,
    row_sums: F64Array,
    row_hist: I64Array,
) -> None:
    """Per-pixel fibre angle, coherency, trace and foreground, plus per-row sums.

    Inputs (rows, cols) float32 tensor components and bool ``region``; outputs (rows, cols)
    ``angle`` (degrees, NaN in background), ``local`` (NaN in background), ``trace``,
    ``fg``; ``row_sums`` (rows, 6): Σ Re z, Σ Im z, Σ trace, Σ Re z/|z|, Σ Im z/|z|, count
    over each row's foreground; ``row_hist`` (rows, n_bins) angle counts. Each row is
    written by one thread only, and the caller sums the rows, so results do not depend on
    the thread count.
    """
    n_rows, n_cols = a_rr.shape
    n_bins = row_hist.shape[1]
    to_deg = 90.0 / np.pi  # ½ of the radian-to-degree factor
    for i in prange(n_rows):
        s_re = 0.0
        s_im = 0.0
        s_tr = 0.0
        u_re = 0.0
        u_im = 0.0
        cnt = 0.0
        for j in range(n_cols):
            rr = float(a_rr[i, j])
            cc = float(a_cc[i, j])
            zr = rr - cc
            zi = 2.0 * float(a_rc[i, j])
            tr = max(rr + cc, 0.0)
            trace[i, j] = tr
            is_fg = region[i, j] and tr > threshold
            fg[i, j] = is_fg
            if not is_fg:
                angle[i, j] = np.nan
                local[i, j] = np.nan
                continue
            mag = np.sqrt(zr * zr + zi * zi)
            a = np.arctan2(zi, zr) * to_deg
            if a < 0.0:
                a += 180.0
            if a >= 180.0:
                a = 0.0
            angle[i, j] = a
            c = mag / tr
            local[i, j] = c if c < 1.0 else 1.0
            s_re += zr
            s_im += zi
            s_tr += tr
            cnt += 1.0
            if mag > 0.0:
                u_re += zr / mag
                u_im += zi / mag
            b = int(a * n_bins / 180.0)
            if b >= n_bins:
                b = n_bins - 1
            row_hist[i, b] += 1
        row_sums[i, 0] = s_re
        row_sums[i, 1] = s_im
        row_sums[i, 2] = s_tr
        row_sums[i, 3] = u_re
        row_sums[i, 4] = u_im
        row_sums[i, 5] = cnt


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class ImageAlignment:
    """Structure-tensor fibre alignment of one image (SCIENCE.md §6.2).

    Attributes
    ----------
    dominant_angle_deg : float, degrees
        Energy-weighted θ̄ = ½ arg Σ z over the foreground, in [0, 180) (y-up convention);
        NaN if Σ z = 0 exactly (no direction).
    coherency : float
        |Σ z| / Σ trace over the foreground, in [0, 1]: the coherency of the summed tensor,
        i.e. the energy-weighted doubled-angle C.
    alignment : float
        |⟨z/|z|⟩| over the foreground, in [0, 1]: the unweighted mean resultant length of
        the doubled per-pixel fibre angles (CurveAlign's coefficient of alignment); a
        foreground pixel with z = 0 has no direction and contributes 0.
    sigma_px : float, px
        Integration scale used.
    n_pixels : int
        Foreground pixels used.
    angle_deg : (rows, cols) float64, degrees
        Per-pixel fibre angle in [0, 180); NaN in the background.
    local_coherency : (rows, cols) float64
        Per-pixel |z| / trace in [0, 1]; NaN in the background.
    energy : (rows, cols) float64
        Per-pixel tensor trace A_rr + A_cc, (intensity / px)². The derivatives are
        scipy's unnormalised Sobel filters, 8 × the gradient on a smooth image, so the
        trace is ≈ 64 · G_σ * |∇I|²; only ratios of it are reported.
    mask : (rows, cols) bool
        The foreground.
    histogram : tuple of ((37,) float64 edges in degrees, (36,) float64 fractions)
        :func:`angle_histogram` of the foreground angles, unit weights.
    """

    dominant_angle_deg: float
    coherency: float
    alignment: float
    sigma_px: float
    n_pixels: int
    angle_deg: F64Array
    local_coherency: F64Array
    energy: F64Array
    mask: BoolArray
    histogram: tuple[F64Array, F64Array]


def analyse_image(
    image: F64Array,
    sigma_px: float = 2.0,
    mask: BoolArray | None = None,
    background_quantile: float = 0.2,
) -> ImageAlignment:
    """Fibre angle map, coherency and alignment of a grey image by the structure tensor.

    Parameters
    ----------
    image : (rows, cols) float64
        Grey image, row 0 at the top (as :func:`read_image` returns).
    sigma_px : float, px
        Gaussian integration scale σ (default 2 px, about a fibre's width; SCIENCE.md §6.2
        advises reporting σ and checking stability over 1–4 px).
    mask : (rows, cols) bool, optional
        Region to analyse; default the whole image.
    background_quantile : float in [0, 1)
        Pixels whose tensor trace is at or below this quantile of the trace (over ``mask``)
        are background (module docstring).

    Returns
    -------
    ImageAlignment

    Raises
    ------
    ImageError
        Not a 2D finite non-constant image of sides >= 8 px; ``sigma_px`` <= 0 or not
        finite; ``background_quantile`` outside [0, 1); ``mask`` of another shape; or an
        empty foreground.
    """
    img = np.asarray(image, dtype=np.float64)
    _check_image(img, "analyse_image")
    if not (np.isfinite(sigma_px) and sigma_px > 0):
        raise ImageError(
            f"analyse_image: sigma_px = {sigma_px}: must be finite and > 0"
        )
    if not (np.isfinite(background_quantile) and 0.0 <= background_quantile < 1.0):
        raise ImageError(
            f"analyse_image: background_quantile = {background_quantile}: must lie in [0, 1)"
        )
    region: BoolArray
    if mask is None:
        region = np.ones(img.shape, dtype=bool)
    else:
        region = np.asarray(mask, dtype=bool)
        if region.shape != img.shape:
            raise ImageError(
                f"analyse_image: mask shape {region.shape} differs from image {img.shape}"
            )
        if not region.any():
            raise ImageError("analyse_image: mask selects no pixel")

    a_rr, a_rc, a_cc = structure_tensor_rc(img, float(sigma_px))
    trace32 = a_rr + a_cc
    threshold = float(
        np.quantile(
            trace32[region] if mask is not None else trace32, background_quantile
        )
    )
    del trace32
    threshold = max(threshold, 0.0)  # the trace is >= 0; float32 rounding can dip below

    n_bins = 36
    angle = np.empty(img.shape)
    local = np.empty(img.shape)
    trace = np.empty(img.shape)
    fg = np.empty(img.shape, dtype=bool)
    row_sums = np.zeros((img.shape[0], 6))
    row_hist = np.zeros((img.shape[0], n_bins), dtype=np.int64)
    _pixel_maps(
        a_rr, a_rc, a_cc, region, threshold, angle, local, trace, fg, row_sums, row_hist
    )
    del a_rr, a_rc, a_cc
    sum_re, sum_im, sum_tr, unit_re, unit_im, n_float = row_sums.sum(axis=0)
    n_fg = int(n_float)
    if n_fg == 0:
        raise ImageError(
            f"analyse_image: empty foreground (no pixel's tensor trace exceeds the "
            f"{background_quantile} quantile, {threshold:.3g})"
        )
    energy_stats = _stats_from_sums(sum_re, sum_im, sum_tr, n_fg, "energy")
    unit_stats = _stats_from_sums(unit_re, unit_im, n_float, n_fg, "unit")
    counts = row_hist.sum(axis=0).astype(np.float64)
    histogram = (np.linspace(0.0, 180.0, n_bins + 1), counts / counts.sum())
    return ImageAlignment(
        dominant_angle_deg=energy_stats.dominant_angle_deg,
        coherency=energy_stats.alignment,
        alignment=unit_stats.alignment,
        sigma_px=float(sigma_px),
        n_pixels=n_fg,
        angle_deg=angle,
        local_coherency=local,
        energy=trace,
        mask=fg,
        histogram=histogram,
    )


def analyse_image_file(
    path: Path, sigma_px: float = 2.0, page: int | None = None
) -> ImageAlignment:
    """:func:`read_image` then :func:`analyse_image`; errors name the file.

    Parameters
    ----------
    path : Path
        Image file (see :func:`read_image`).
    sigma_px : float, px
        Integration scale (default 2 px).
    page : int, optional
        TIFF page (0-based).

    Returns
    -------
    ImageAlignment

    Raises
    ------
    ImageError
        As :func:`read_image` and :func:`analyse_image`, the message starting with the path.
    """
    image = read_image(Path(path), page=page)
    try:
        return analyse_image(image, sigma_px=sigma_px)
    except ImageError as err:
        raise ImageError(f"{path}: {err}") from err
