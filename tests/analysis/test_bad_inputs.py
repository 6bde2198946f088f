"""Bad files: each error is an ImageError/BoundaryError whose message names the file."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from _analysis_helpers import stripes

from metastroma.analysis import (
    BoundaryError,
    ImageError,
    analyse_image_file,
    read_boundary_csv,
    read_image,
)


def _write_tiff(path: Path, array: np.ndarray) -> Path:
    tifffile.imwrite(path, array, photometric="minisblack")
    return path


def test_errors_subclass_value_error() -> None:
    assert issubclass(ImageError, ValueError) and issubclass(BoundaryError, ValueError)


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("text.tif", lambda p: p.write_text("not an image at all\n"), "not an image"),
        ("empty.tif", lambda p: p.write_bytes(b""), "empty"),
        (
            "const.tif",
            lambda p: _write_tiff(p, np.full((16, 16), 7, np.uint8)),
            "constant",
        ),
        ("one.tif", lambda p: _write_tiff(p, np.ones((1, 1), np.uint8)), "too small"),
        (
            "thin.png",
            lambda p: iio.imwrite(p, np.arange(40, dtype=np.uint8).reshape(5, 8)),
            "too small",
        ),
        (
            "nan.tif",
            lambda p: _write_tiff(
                p, np.where(np.eye(16) > 0, np.nan, 1.0).astype(np.float32)
            ),
            "NaN",
        ),
        (
            "bad.jpg",
            lambda p: p.write_bytes(b"\xff\xd8\xff" + b"\x00" * 64),
            "not an image",
        ),
    ],
)
def test_bad_image_files(tmp_path: Path, name: str, make, match: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    make(path)
    with pytest.raises(ImageError, match=match) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_missing_file_and_page_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file") as info:
        read_image(tmp_path / "missing.tif")
    assert "missing.tif" in str(info.value)
    path = tmp_path / "two.tif"
    pages = np.stack([stripes(0.0, (32, 32)), stripes(90.0, (32, 32))]).astype(
        np.float32
    )
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page)
    assert analyse_image_file(path).dominant_angle_deg == pytest.approx(0.0, abs=2.0)
    assert abs(analyse_image_file(path, page=1).dominant_angle_deg - 90.0) < 2.0
    with pytest.raises(ImageError, match="page 2 out of range") as info:
        read_image(path, page=2)
    assert str(path) in str(info.value)


def test_formats_and_rgb_luminance(tmp_path: Path) -> None:
    grey = (255 * (stripes(30.0, (32, 40), noise=0.0) + 1) / 2).astype(np.uint8)
    iio.imwrite(tmp_path / "g.png", grey)
    np.testing.assert_allclose(read_image(tmp_path / "g.png"), grey / 255.0)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    iio.imwrite(tmp_path / "c.png", rgba)
    np.testing.assert_allclose(read_image(tmp_path / "c.png"), grey / 255.0, atol=1e-3)
    _write_tiff(tmp_path / "w.tif", grey.astype(np.uint16) * 257)
    np.testing.assert_allclose(read_image(tmp_path / "w.tif"), grey / 255.0, atol=1e-6)
    # suffix does not matter: a PNG named .tif is still read
    (tmp_path / "g.png").rename(tmp_path / "png_named.tif")
    assert read_image(tmp_path / "png_named.tif").shape == (32, 40)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x,y\n1,2\n3,4\n", ">= 3 distinct points"),
        ("1,2\n3,4\n1,2\n", ">= 3 distinct points"),
        ("x,y\n1,2\nthree,4\n5,6\n", "not numbers"),
        ("1,2,3\n3,4,5\n5,6,7\n", "expected 2 columns"),
        ("1,2\nnan,4\n5,6\n", "NaN"),
    ],
)
def test_bad_boundary_csv(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "b.csv"
    path.write_text(text)
    with pytest.raises(BoundaryError, match=match) as info:
        read_boundary_csv(path)
    assert str(path) in str(info.value)


def test_boundary_outside_the_image_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("x,y\n1,2\n30,4\n5,60\n")
    assert read_boundary_csv(path).points.shape == (3, 2)  # no image: fine
    with pytest.raises(BoundaryError, match="outside the 50×40 image") as info:
        read_boundary_csv(path, image_shape=(50, 40))
    assert str(path) in str(info.value)
    with pytest.raises(BoundaryError, match="no such file"):
        read_boundary_csv(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(BoundaryError, match="unreadable"):
        read_boundary_csv(tmp_path / "bin.csv")


def test_header_and_closing_point_accepted(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("x,y\n0,0\n10,0\n10,10\n0,0\n\n")
    b = read_boundary_csv(path, image_shape=(11, 11))
    np.testing.assert_array_equal(b.points, [[0, 0], [10, 0], [10, 10]])
