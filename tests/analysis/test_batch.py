"""The batch runner behind ``metastroma align`` and its figure, on synthetic images.

Stripes drawn at a known fibre angle (SCIENCE.md §0: 0° = +x, counter-clockwise with
y = −row) must come back at that angle in the table and in the figure's segments; a bad
file is a failure, not an abort; options are checked before anything is written.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pyarrow.parquet as pq
import pytest

from metastroma.analysis import analyse_image, read_image
from metastroma.analysis.batch import (
    align_images,
    expand_image_paths,
    resolve_band_px,
)
from metastroma.errors import ConfigError
from metastroma.viz import block_orientations, plot_image_alignment

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def stripes(
    theta_deg: float, shape: tuple[int, int] = (96, 96), period_px: float = 8.0
):
    """uint8 image of fibres at ``theta_deg`` (y up): intensity varies along the normal."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    x, y = cols, -rows
    t = np.deg2rad(theta_deg)
    normal = -np.sin(t) * x + np.cos(t) * y
    img = 127.5 + 100.0 * np.sin(2 * np.pi * normal / period_px)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def write_png(path: Path, theta_deg: float) -> Path:
    iio.imwrite(path, stripes(theta_deg))
    return path


def axial_diff_deg(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("theta_deg", [0.0, 30.0, 45.0, 90.0, 135.0])
def test_stripes_come_back_at_their_angle(tmp_path: Path, theta_deg: float) -> None:
    img = write_png(tmp_path / "s.png", theta_deg)
    res = align_images([img], tmp_path / "out")
    assert res.failures == []
    (row,) = res.rows
    assert axial_diff_deg(row["dominant_angle_deg"], theta_deg) < 2.0
    assert row["coherency"] > 0.8
    assert (row["height_px"], row["width_px"]) == (96, 96)
    assert res.figures[0].read_bytes()[:8] == PNG_MAGIC


def test_row_flip_negates_the_angle(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    iio.imwrite(a, stripes(30.0))
    b = tmp_path / "b.png"
    iio.imwrite(b, stripes(30.0)[::-1])
    res = align_images([a, b], tmp_path / "out")
    ta, tb = (r["dominant_angle_deg"] for r in res.rows)
    assert axial_diff_deg(ta, 30.0) < 2.0
    assert axial_diff_deg(tb, 150.0) < 2.0


@pytest.mark.parametrize("theta_deg", [20.0, 45.0, 120.0])
def test_figure_segments_follow_the_y_up_convention(
    theta_deg: float, tmp_path: Path
) -> None:
    image = read_image(write_png(tmp_path / "s.png", theta_deg))
    result = analyse_image(image)
    x, _y, ang, coh = block_orientations(result, 16)
    assert x.size > 10
    diffs = [axial_diff_deg(a, theta_deg) for a in ang]
    assert max(diffs) < 3.0
    assert np.all((coh >= 0) & (coh <= 1))
    # the segment the figure draws runs along (cos θ, −sin θ) in (column, row): for
    # 0 < θ < 90° it goes up (row decreases) as it goes right
    dx, drow = np.cos(np.deg2rad(ang)), -np.sin(np.deg2rad(ang))
    if 0 < theta_deg < 90:
        assert np.all(np.sign(dx) == -np.sign(drow))
    out = plot_image_alignment(image, result, tmp_path / "f" / "fig.png", title="t")
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_directories_expand_sorted_and_hidden_files_are_skipped(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    for name, th in [("b.png", 10.0), ("a.PNG", 80.0), (".hidden.png", 0.0)]:
        write_png(d / name, th)
    (d / "notes.txt").write_text("not an image", encoding="utf-8")
    files, failures = expand_image_paths([d])
    assert [f.name for f in files] == ["a.PNG", "b.png"]
    assert failures == []
    empty = tmp_path / "empty"
    empty.mkdir()
    files, failures = expand_image_paths([empty])
    assert files == []
    assert len(failures) == 1
    assert "empty" in failures[0][1]
    assert "no image file" in failures[0][1]


def test_one_bad_file_fails_alone(tmp_path: Path) -> None:
    good = write_png(tmp_path / "good.png", 60.0)
    bad = tmp_path / "bad.tif"
    bad.write_text("text, not a TIFF", encoding="utf-8")
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    seen: list[tuple[int, int, str]] = []
    res = align_images(
        [bad, good, missing], out, progress=lambda i, n, p: seen.append((i, n, p.name))
    )
    assert seen == [(1, 3, "bad.tif"), (2, 3, "good.png"), (3, 3, "missing.png")]
    assert [r["image"] for r in res.rows] == [str(good)]
    assert [p for p, _ in res.failures] == [bad, missing]
    assert "bad.tif" in res.failures[0][1]
    assert "missing.png" in res.failures[1][1]
    assert res.failures_csv == out / "failures.csv"
    assert [r["image"] for r in read_rows(out / "failures.csv")] == [
        str(bad),
        str(missing),
    ]
    assert [r["image"] for r in read_rows(out / "alignment.csv")] == [str(good)]
    # a later batch without failures removes the stale failures.csv
    res = align_images([good], out)
    assert res.failures_csv is None
    assert not (out / "failures.csv").exists()


def test_all_failed_still_writes_an_empty_table_with_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x00" * 10)
    out = tmp_path / "out"
    res = align_images([bad], out)
    assert res.rows == []
    assert len(res.failures) == 1
    with open(out / "alignment.csv", encoding="utf-8") as fh:
        assert fh.read().strip().split(",") == res.columns
    table = pq.read_table(out / "alignment.parquet")
    assert table.num_rows == 0
    assert table.column_names == res.columns
    assert "dominant_angle_deg" in res.columns


def test_same_stem_gets_distinct_figures(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    a = write_png(tmp_path / "d1" / "x.png", 10.0)
    b = write_png(tmp_path / "d2" / "x.png", 100.0)
    res = align_images([a, b], tmp_path / "out")
    assert len(set(res.figures)) == 2
    assert [r["figure"] for r in res.rows] == ["figures/x.png", "figures/x_png.png"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"sigma_px": 0.0}, "--sigma-px = 0.0"),
        ({"sigma_px": float("nan")}, "--sigma-px = nan"),
        ({"band_px": -1.0}, "--band-px = -1.0"),
        ({"page": -1}, "--page = -1"),
    ],
)
def test_bad_options_raise_before_writing(
    tmp_path: Path, kwargs: dict[str, float], words: str
) -> None:
    img = write_png(tmp_path / "s.png", 0.0)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=re.escape(words)):
        align_images([img], out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists()


def test_no_images_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no images"):
        align_images([], tmp_path / "out")


def test_missing_boundary_raises_before_writing(tmp_path: Path) -> None:
    from metastroma.analysis import BoundaryError

    img = write_png(tmp_path / "s.png", 0.0)
    out = tmp_path / "out"
    with pytest.raises(BoundaryError, match=r"nowhere\.csv"):
        align_images([img], out, boundary=tmp_path / "nowhere.csv")
    assert not out.exists()


def test_boundary_gives_tacs_columns_and_a_boundary_outside_an_image_fails_it(
    tmp_path: Path,
) -> None:
    # a flat box across a 96 × 96 image, fibres perpendicular to its long edges (TACS-3)
    boundary = tmp_path / "edge.csv"
    boundary.write_text("x,y\n10,44\n86,44\n86,52\n10,52\n", encoding="utf-8")
    radial = write_png(tmp_path / "radial.png", 90.0)
    small = tmp_path / "small.png"
    iio.imwrite(small, stripes(90.0, shape=(40, 40)))
    out = tmp_path / "out"
    res = align_images([radial, small], out, boundary=boundary, band_px=20.0)
    (row,) = res.rows
    assert row["tacs_call"] == "TACS-3"
    assert row["tacs3_fraction"] > 0.9
    assert row["band_px"] == 20.0
    assert row["n_band"] > 0
    assert row["boundary"] == str(boundary)
    assert [p for p, _ in res.failures] == [small]
    assert "edge.csv" in res.failures[0][1]
    assert "outside the 40×40 image" in res.failures[0][1]
    assert set(res.columns) >= {
        "band_px",
        "tacs2_fraction",
        "tacs3_fraction",
        "tacs_call",
        "n_band",
    }


def test_resolve_band_px() -> None:
    """SCIENCE.md §6.4's band is in µm: the pixel size converts it; px are used as given."""
    assert resolve_band_px() == 40.0  # no pixel size: 40 µm read at 1 µm/px
    assert resolve_band_px(band_px=25.0) == 25.0
    assert resolve_band_px(band_px=25.0, pixel_um=2.0) == 25.0
    assert resolve_band_px(pixel_um=0.5) == 80.0  # 40 µm at 0.5 µm/px
    assert resolve_band_px(band_um=60.0, pixel_um=2.0) == 30.0
    with pytest.raises(ConfigError, match="give one of them"):
        resolve_band_px(band_px=25.0, band_um=40.0, pixel_um=1.0)
    with pytest.raises(ConfigError, match="needs --pixel-um"):
        resolve_band_px(band_um=40.0)
    for kwargs, words in [
        ({"band_px": 0.0}, "--band-px = 0.0: must be > 0 (px)"),
        ({"band_um": float("nan"), "pixel_um": 1.0}, "--band-um = nan"),
        ({"pixel_um": -1.0}, "--pixel-um = -1.0: must be > 0 (µm/px)"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(words)):
            resolve_band_px(**kwargs)
