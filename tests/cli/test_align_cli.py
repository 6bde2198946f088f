"""End to end through ``metastroma align`` on the real SHG images (read-only inputs).

The images live in ../shared/data/shg/ relative to the repository root (see its README);
the tests skip with a message where that folder is absent. Outputs go to ``tmp_path``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
SHG = REPO.parent / "shared" / "data" / "shg"
SHG_TIFS = [
    "1B-a1.tif",
    "1B-a5.tif",
    "2B_D9_ROI1.tif",
    "2B_D9_ROI2.tif",
    "2B_H9_SHG1.tif",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

needs_shg = pytest.mark.skipif(
    not (SHG / "TACS-3a_boundary.csv").is_file(),
    reason=f"SHG test images not found in {SHG} (see the shared data README)",
)


def align(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return subprocess.run(
        [sys.executable, "-m", "metastroma.cli", "align", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@needs_shg
def test_align_shg_images_writes_table_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = align(*(SHG / n for n in SHG_TIFS), "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out / "alignment.csv")
    assert [r["image"] for r in rows] == [str(SHG / n) for n in SHG_TIFS]
    for r in rows:
        assert 0.0 <= float(r["coherency"]) <= 1.0
        assert 0.0 <= float(r["alignment"]) <= 1.0
        assert 0.0 <= float(r["dominant_angle_deg"]) < 180.0
        assert float(r["sigma_px"]) == 2.0
        assert int(r["n_pixels"]) > 0
        fig = out / r["figure"]
        assert fig.read_bytes()[:8] == PNG_MAGIC
    assert "tacs_call" not in rows[0]
    table = pq.read_table(out / "alignment.parquet")
    assert table.num_rows == len(SHG_TIFS)
    assert table.column("coherency").to_pylist() == [
        float(r["coherency"]) for r in rows
    ]
    assert not (out / "failures.csv").exists()
    assert "2B_D9_ROI1" in proc.stdout  # the printed table


@needs_shg
def test_align_directory_takes_every_image_in_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = align(SHG, "--out", out, "--sigma-px", "3")
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(out / "alignment.csv")
    assert len(rows) == 6  # five TIFFs and the JPEG, sorted by name
    assert [Path(r["image"]).name for r in rows] == sorted([*SHG_TIFS, "TACS-3a.jpg"])
    assert {float(r["sigma_px"]) for r in rows} == {3.0}


@needs_shg
def test_align_tacs3_image_with_its_boundary_matches_the_api(tmp_path: Path) -> None:
    from metastroma.analysis import (
        analyse_image,
        read_boundary_csv,
        read_image,
        score_tacs_image,
    )

    out = tmp_path / "out"
    proc = align(
        SHG / "TACS-3a.jpg", "--boundary", SHG / "TACS-3a_boundary.csv", "-o", out
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = read_rows(out / "alignment.csv")
    image = read_image(SHG / "TACS-3a.jpg")
    tacs = score_tacs_image(
        analyse_image(image, 2.0),
        read_boundary_csv(SHG / "TACS-3a_boundary.csv", image.shape),
        band_px=40.0,
    )
    assert row["tacs_call"] == tacs.call == "TACS-3"
    assert float(row["tacs3_fraction"]) == pytest.approx(tacs.tacs3_fraction, rel=1e-9)
    assert float(row["tacs2_fraction"]) == pytest.approx(tacs.tacs2_fraction, rel=1e-9)
    # the column is the number the call compares with 0.5, and where that sector lies
    best = float(row["tacs3_max_sector_fraction"])
    assert best == pytest.approx(tacs.max_sector_tacs3_fraction, rel=1e-9)
    assert best > 0.5
    assert float(row["tacs3_max_sector_deg"]) == pytest.approx(
        tacs.max_sector_centre_deg, rel=1e-9
    )
    assert int(row["n_band"]) > 0
    assert float(row["band_px"]) == 40.0
    assert (out / "figures" / "TACS-3a.png").read_bytes()[:8] == PNG_MAGIC
    assert "TACS-3" in proc.stdout


@needs_shg
def test_align_bad_file_is_reported_and_the_others_are_kept(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_text("this is not an image\n", encoding="utf-8")
    out = tmp_path / "out"
    good = [SHG / "2B_D9_ROI1.tif", SHG / "1B-a1.tif"]
    proc = align(good[0], bad, good[1], "--out", out)
    assert proc.returncode == 2
    assert "bad.tif" in proc.stderr
    rows = read_rows(out / "alignment.csv")
    assert [r["image"] for r in rows] == [str(p) for p in good]
    (failure,) = read_rows(out / "failures.csv")
    assert failure["image"] == str(bad)
    assert "bad.tif" in failure["message"]
    assert pq.read_table(out / "alignment.parquet").num_rows == 2


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--sigma-px", "0", ["--sigma-px", "must be > 0"]),
        ("--sigma-px", "-1.5", ["--sigma-px", "must be > 0"]),
        ("--band-px", "0", ["--band-px", "must be > 0"]),
    ],
)
def test_align_bad_option_exits_2_and_writes_nothing(
    tmp_path: Path, option: str, value: str, words: list[str]
) -> None:
    image = tmp_path / "any.png"  # never read: options are checked first
    image.write_bytes(b"")
    out = tmp_path / "out"
    proc = align(image, option, value, "--out", out)
    assert proc.returncode == 2, proc.stderr
    for w in words:
        assert w in proc.stderr
    assert not out.exists()


@needs_shg
def test_align_missing_boundary_file_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_boundary.csv"
    out = tmp_path / "out"
    proc = align(SHG / "TACS-3a.jpg", "--boundary", missing, "--out", out)
    assert proc.returncode == 2
    assert "no_such_boundary.csv" in proc.stderr
    assert not out.exists()


@needs_shg
def test_align_boundary_with_two_points_exits_2_naming_it(tmp_path: Path) -> None:
    short = tmp_path / "short_boundary.csv"
    short.write_text("32,20\n62,138\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = align(SHG / "TACS-3a.jpg", "--boundary", short, "--out", out)
    assert proc.returncode == 2
    assert "short_boundary.csv" in proc.stderr
    assert not out.exists()


@needs_shg
@pytest.mark.parametrize(
    ("options", "band_px"),
    [
        (("--band-um", "40", "--pixel-um", "2"), 20.0),  # an example 2 µm/px
        # regression: --pixel-um alone was ignored (the band stayed 40 px); now the
        # band is SCIENCE.md §6.4's default 40 µm
        (("--pixel-um", "0.8"), 50.0),
    ],
)
def test_align_band_in_um_uses_the_pixel_size(
    tmp_path: Path, options: tuple[str, ...], band_px: float
) -> None:
    out = tmp_path / "out"
    boundary = SHG / "TACS-3a_boundary.csv"
    proc = align(SHG / "TACS-3a.jpg", "--boundary", boundary, *options, "-o", out)
    assert proc.returncode == 0, proc.stderr
    (row,) = read_rows(out / "alignment.csv")
    assert float(row["band_px"]) == pytest.approx(band_px)
    assert row["tacs_call"] == "TACS-3"


def test_align_band_um_without_pixel_size_is_refused(tmp_path: Path) -> None:
    proc = align(tmp_path / "x.tif", "--band-um", "40", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert "--pixel-um" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_align_band_px_and_band_um_together_are_refused(tmp_path: Path) -> None:
    """Regression: --band-um silently replaced an explicit --band-px."""
    proc = align(
        tmp_path / "x.tif",
        *("--band-px", "30", "--band-um", "40", "--pixel-um", "1"),
        *("-o", tmp_path / "out"),
    )
    assert proc.returncode == 2
    assert "--band-px = 30" in proc.stderr and "--band-um = 40" in proc.stderr
    assert not (tmp_path / "out").exists()
