"""Every refusal in metastroma.analysis: the error type and the words that name the problem.

One row per branch that raises (or returns NaN on purpose), so that a check that is
removed, or a message that stops naming its argument, fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from _analysis_helpers import stripes

from metastroma.analysis import (
    Boundary,
    BoundaryError,
    ImageError,
    analyse_image,
    angle_histogram,
    boundary_from_points,
    cell_alignment,
    cell_fibre_agreement,
    doubled_angle_stats,
    field_alignment,
    read_image,
    render_field_image,
    score_tacs_image,
)
from metastroma.analysis import images as images_module
from metastroma.analysis import tacs as tacs_module
from metastroma.analysis.batch import align_images
from metastroma.errors import ConfigError

IMG = stripes(30.0, (32, 32))
Q0 = np.zeros((4, 4))
DISC = Boundary(
    np.column_stack(
        [16 + 8 * np.cos(np.linspace(0, 6, 12)), 16 + 8 * np.sin(np.linspace(0, 6, 12))]
    )
)

CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    # alignment.py
    (
        "anisotropy out of range",
        lambda: doubled_angle_stats([0.0], anisotropy=[1.5]),
        ValueError,
        "anisotropy must lie in [0, 1]",
    ),
    (
        "mask of another shape",
        lambda: field_alignment(Q0, Q0, mask=np.ones((3, 3), bool)),
        ValueError,
        "mask (3, 3) must have the shape",
    ),
    (
        "vectors not (n, 2|3)",
        lambda: cell_alignment(np.zeros((3, 4))),
        ValueError,
        "vectors must have shape (n, 2) or (n, 3)",
    ),
    (
        "cell and fibre angles differ",
        lambda: cell_fibre_agreement([0.0, 1.0], [0.0]),
        ValueError,
        "differ",
    ),
    ("no bins", lambda: angle_histogram([1.0], bins=0), ValueError, "bins = 0"),
    (
        "negative histogram weight",
        lambda: angle_histogram([1.0], weights=[-1.0]),
        ValueError,
        "weights must be >= 0",
    ),
    # images.py
    (
        "background quantile 1",
        lambda: analyse_image(IMG, background_quantile=1.0),
        ImageError,
        "background_quantile = 1.0",
    ),
    (
        "mask of another shape",
        lambda: analyse_image(IMG, mask=np.ones((5, 5), bool)),
        ImageError,
        "mask shape (5, 5) differs",
    ),
    (
        "empty mask",
        lambda: analyse_image(IMG, mask=np.zeros(IMG.shape, bool)),
        ImageError,
        "mask selects no pixel",
    ),
    (
        "4D array",
        lambda: images_module._to_gray(np.zeros((2, 16, 16, 3)), "x.png"),
        ImageError,
        "x.png: expected a 2D grey or RGB(A) image",
    ),
    (
        "complex pixels",
        lambda: images_module._to_gray(np.zeros((16, 16), complex), "x.tif"),
        ImageError,
        "x.tif: unsupported pixel type complex128",
    ),
    (
        "RGB with NaN",
        lambda: images_module._to_gray(np.full((16, 16, 3), np.nan), "x.tif"),
        ImageError,
        "x.tif: image contains NaN",
    ),
    # tacs.py
    (
        "positions not (n, 2|3)",
        lambda: boundary_from_points(np.zeros((0, 2))),
        BoundaryError,
        "positions must have shape (n, 2|3), n >= 1",
    ),
    (
        "positions NaN",
        lambda: boundary_from_points(np.array([[0.0, np.nan]])),
        BoundaryError,
        "positions contain NaN",
    ),
    (
        "bin_um 0",
        lambda: boundary_from_points(np.zeros((3, 2)), bin_um=0.0),
        BoundaryError,
        "bin_um = 0.0: must be > 0 (µm)",
    ),
    (
        "no occupied bin",
        lambda: boundary_from_points(np.zeros((3, 2)), min_count=4),
        BoundaryError,
        "no bin holds >= 4 cells",
    ),
    (
        "band 0",
        lambda: score_tacs_image(analyse_image(IMG), DISC, band_px=0.0),
        ValueError,
        "band = 0.0: must be > 0",
    ),
    (
        "threshold above 90°",
        lambda: score_tacs_image(analyse_image(IMG), DISC, tacs3_min_angle_deg=100.0),
        ValueError,
        "thresholds must lie in [0, 90]",
    ),
    (
        "sector 0°",
        lambda: score_tacs_image(analyse_image(IMG), DISC, sector_deg=0.0),
        ValueError,
        "sector_deg = 0.0",
    ),
    (
        "sector count 0",
        lambda: score_tacs_image(analyse_image(IMG), DISC, min_sector_count=0),
        ValueError,
        "min_sector_count = 0: must be >= 1",
    ),
    (
        "unknown weighting",
        lambda: score_tacs_image(analyse_image(IMG), DISC, weighting="density"),
        ValueError,
        "weighting = 'density'",
    ),
    # render.py
    (
        "tile 0 px",
        lambda: render_field_image(Q0, Q0, px_per_element=0),
        ValueError,
        "px_per_element = 0",
    ),
    (
        "wavelength 2 px",
        lambda: render_field_image(Q0, Q0, wavelength_px=2.0),
        ValueError,
        "wavelength_px = 2.0: must be > 2 px",
    ),
    (
        "3D field",
        lambda: render_field_image(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
        ValueError,
        "must be 2D",
    ),
    (
        "density above 1",
        lambda: render_field_image(Q0, Q0, density=np.full((4, 4), 1.5)),
        ValueError,
        "density must lie in [0, 1]",
    ),
]


@pytest.mark.parametrize(
    ("case", "call", "error", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_refusals_name_the_problem(
    case: str, call: Callable[[], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value), case


def test_undefined_values_are_nan_not_zero() -> None:
    # Σ w a e^{2iθ} = 0 exactly (a = 0): C = 0 and no direction
    s = doubled_angle_stats([10.0, 20.0], anisotropy=[0.0, 0.0])
    assert s.alignment == 0.0 and np.isnan(s.dominant_angle_deg)
    assert np.isnan(cell_fibre_agreement([], []))
    assert np.isnan(cell_alignment(np.zeros((2, 3))).alignment)  # no vector has length
    # a degenerate (zero-area) polygon's centre is its vertex mean
    line = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(tacs_module._centroid(line), [1.0, 1.0])


def test_image_reading_refusals_name_the_file(tmp_path: Path) -> None:
    png = tmp_path / "g.png"
    iio.imwrite(png, (255 * (IMG - IMG.min()) / np.ptp(IMG)).astype(np.uint8))
    with pytest.raises(ImageError, match="only TIFF has pages") as info:
        read_image(png, page=1)
    assert str(png) in str(info.value)
    with pytest.raises(ImageError, match="page -1 out of range"):
        read_image(png, page=-1)
    no_pages = tmp_path / "no_pages.tif"
    no_pages.write_bytes(b"II*\x00" + b"\xff" * 40)  # TIFF magic, no first page
    with pytest.raises(ImageError, match="TIFF holds no pages") as info:
        read_image(no_pages)
    assert str(no_pages) in str(info.value)
    cut = tmp_path / "cut.tif"
    tifffile.imwrite(cut, np.zeros((256, 256), np.uint16))
    cut.write_bytes(cut.read_bytes()[:200])  # header and tags, no pixel data
    with pytest.raises(ImageError, match="not a readable TIFF image") as info:
        read_image(cut)
    assert str(cut) in str(info.value)
    # grey + alpha: the grey channel; bool: 0 and 1
    ga = np.dstack([np.arange(256, dtype=np.uint8).reshape(16, 16)] * 2)
    ga[..., 1] = 255
    iio.imwrite(tmp_path / "ga.png", ga)
    np.testing.assert_allclose(read_image(tmp_path / "ga.png"), ga[..., 0] / 255.0)
    # regression: a 1-bit TIFF was read as 0 and 1/255, not 0 and 1
    tifffile.imwrite(tmp_path / "bits.tif", np.eye(16, dtype=bool))
    bits = read_image(tmp_path / "bits.tif")
    assert bits.dtype == np.float64
    np.testing.assert_array_equal(bits, np.eye(16))


def test_batch_refuses_an_out_path_that_is_a_file_and_records_the_page(
    tmp_path: Path,
) -> None:
    png = tmp_path / "g.png"
    iio.imwrite(png, (255 * (IMG - IMG.min()) / np.ptp(IMG)).astype(np.uint8))
    taken = tmp_path / "taken"
    taken.write_text("a file", encoding="utf-8")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        align_images([png], taken)
    res = align_images([png], tmp_path / "out", page=0)
    assert res.columns[-1] == "page" and res.rows[0]["page"] == 0
