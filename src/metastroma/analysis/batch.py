"""Collagen alignment of many images at once: the runner behind ``metastroma align``.

For each image: read it (:func:`read_image`), measure its fibre orientation with the
structure tensor (:func:`analyse_image`, SCIENCE.md §6.2), score TACS against a tumour
boundary where one is given (:func:`score_tacs_image`, §6.4), draw a figure
(:func:`metastroma.viz.plot_image_alignment`), and add one row to a table. Directories
are expanded into the image files they hold. A file that cannot be analysed (not an
image, empty, constant, a boundary outside it, ...) is recorded as a failure with a
message naming it, and the other files are still processed.

Outputs, in ``out_dir`` (every column is described in docs/alignment.md):

- ``alignment.csv`` and ``alignment.parquet``: one row per image that succeeded, in the
  order the images were given. If every image failed, both are still written, with the
  columns and no rows, so that a reader of a batch always finds the same schema.
- ``figures/<stem>.png``: one figure per image that succeeded (``<stem>_<ext>.png`` or
  ``<stem>-N.png`` where two images share a stem).
- ``failures.csv`` (columns ``image``, ``message``) if any image failed; an older
  ``failures.csv`` is removed when a batch has no failures.

Every file is written atomically (temporary file, fsync, rename). Invalid options (σ or
band width not positive, a negative page, no images, a missing or malformed boundary
file) raise before anything is written.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from metastroma.analysis import (
    BoundaryError,
    analyse_image,
    read_boundary_csv,
    read_image,
    score_tacs_image,
)
from metastroma.errors import ConfigError
from metastroma.store.atomic import write_bytes_atomic, write_parquet_atomic

#: File name endings taken from a directory (case-insensitive).
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

#: Progress callback: ``progress(n_done, n_total, path)``, called after each image.
ProgressFn = Callable[[int, int, Path], None]

_BASE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("image", pa.string()),
    ("height_px", pa.int64()),
    ("width_px", pa.int64()),
    ("sigma_px", pa.float64()),
    ("n_pixels", pa.int64()),
    ("dominant_angle_deg", pa.float64()),
    ("coherency", pa.float64()),
    ("alignment", pa.float64()),
    ("figure", pa.string()),
)
_PAGE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (("page", pa.int64()),)
_TACS_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("boundary", pa.string()),
    ("band_px", pa.float64()),
    ("n_band", pa.int64()),
    ("tacs2_fraction", pa.float64()),
    ("tacs3_fraction", pa.float64()),
    ("tacs3_max_sector_fraction", pa.float64()),
    ("tacs3_max_sector_deg", pa.float64()),
    ("tacs_call", pa.string()),
)

#: SCIENCE.md §6.4: the TACS band is 40 µm wide by default (range 20–60 µm).
DEFAULT_BAND_UM = 40.0


@dataclass(frozen=True)
class BatchResult:
    """What :func:`align_images` wrote and what failed.

    Attributes
    ----------
    out_dir : Path
    table_csv, table_parquet : Path
        ``alignment.csv`` and ``alignment.parquet`` (always written).
    columns : list of str
        The table's columns, in order.
    rows : list of dict
        One mapping per image that succeeded (column name to value), in input order.
    figures : list of Path
        One figure per row.
    failures : list of (Path, str)
        Each image that failed, with a message that names it.
    failures_csv : Path or None
        ``failures.csv`` where any image failed.
    """

    out_dir: Path
    table_csv: Path
    table_parquet: Path
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    failures_csv: Path | None = None


def expand_image_paths(
    paths: Sequence[Path],
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Replace each directory by the image files it holds (sorted by name).

    Files given explicitly are kept whatever their ending (reading them tells whether they
    are images); hidden files in a directory are skipped; directories are not searched
    recursively.

    Returns
    -------
    (files, failures)
        The files in order, and each directory that holds no image file with a message.
    """
    files: list[Path] = []
    failures: list[tuple[Path, str]] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and not f.name.startswith(".")
                and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                endings = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
                failures.append((p, f"{p}: directory holds no image file ({endings})"))
            files.extend(found)
        else:
            files.append(p)
    return files, failures


def _check_options(
    paths: Sequence[Path],
    out_dir: Path,
    sigma_px: float,
    boundary: Path | None,
    page: int | None,
    band_px: float,
) -> None:
    if not paths:
        raise ConfigError("no images given")
    if not (math.isfinite(sigma_px) and sigma_px > 0):
        raise ConfigError(f"--sigma-px = {sigma_px}: must be > 0 (px)")
    if not (math.isfinite(band_px) and band_px > 0):
        raise ConfigError(f"--band-px = {band_px}: must be > 0 (px)")
    if page is not None and page < 0:
        raise ConfigError(f"--page = {page}: must be >= 0 (pages count from 0)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: exists and is not a directory")
    if boundary is not None:
        if not boundary.is_file():
            raise BoundaryError(f"{boundary}: boundary file not found")
        read_boundary_csv(boundary)  # raises BoundaryError naming the file


def _figure_path(fig_dir: Path, image: Path, taken: set[str]) -> Path:
    names = [f"{image.stem}.png", f"{image.stem}_{image.suffix.lstrip('.')}.png"]
    names += [f"{image.stem}-{k}.png" for k in range(2, 10_000)]
    for name in names:
        if name not in taken:
            taken.add(name)
            return fig_dir / name
    raise AssertionError("unreachable: 10,000 images with one stem")


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_csv_value(row[c]) for c in columns])
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


def resolve_band_px(
    band_px: float | None = None,
    band_um: float | None = None,
    pixel_um: float | None = None,
) -> float:
    """Band width in pixels from the ``align`` options (SCIENCE.md §6.4).

    §6.4 gives the band in µm (default 40 µm, range 20–60 µm); an image needs its pixel
    size to turn that into pixels.

    Parameters
    ----------
    band_px : float or None, px
        Band width in pixels, used as given.
    band_um : float or None, µm
        Band width in µm; needs ``pixel_um``.
    pixel_um : float or None, µm/px
        The images' pixel size.

    Returns
    -------
    float, px
        ``band_px`` if given; else ``band_um / pixel_um``; else, with a pixel size only,
        ``DEFAULT_BAND_UM / pixel_um`` (the §6.4 default); with neither, 40 px (the
        §6.4 default read at 1 µm/px, for images of unknown pixel size).

    Raises
    ------
    ConfigError
        Both ``band_px`` and ``band_um``; ``band_um`` without ``pixel_um``; a value that
        is not finite and > 0 (the option named, with its unit).
    """
    for name, v, unit in (
        ("--band-px", band_px, "px"),
        ("--band-um", band_um, "µm"),
        ("--pixel-um", pixel_um, "µm/px"),
    ):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} = {v}: must be > 0 ({unit})")
    if band_px is not None and band_um is not None:
        raise ConfigError(
            f"--band-px = {band_px:g} and --band-um = {band_um:g}: give one of them"
        )
    if band_px is not None:
        return float(band_px)
    if band_um is not None and pixel_um is None:
        raise ConfigError(
            f"--band-um = {band_um:g} needs --pixel-um (the image's pixel size, µm/px)"
        )
    if pixel_um is None:
        return DEFAULT_BAND_UM  # px: the µm default at an assumed 1 µm/px
    return (DEFAULT_BAND_UM if band_um is None else band_um) / pixel_um


def align_images(
    paths: Sequence[Path],
    out_dir: Path,
    sigma_px: float = 2.0,
    boundary: Path | None = None,
    page: int | None = None,
    band_px: float = 40.0,
    progress: ProgressFn | None = None,
) -> BatchResult:
    """Measure collagen alignment (and TACS) in each image; write a table and figures.

    Parameters
    ----------
    paths : sequence of Path
        Image files (TIFF, PNG, JPEG) or directories of them (``tif``, ``tiff``, ``png``,
        ``jpg``, ``jpeg``, sorted by name).
    out_dir : Path
        Output directory, created if needed; files in it are replaced.
    sigma_px : float, px
        Integration scale σ of the structure tensor (> 0); default 2 px (SCIENCE.md §6.2).
    boundary : Path or None
        CSV polyline of the tumour boundary (``x,y`` pixel coordinates, x = column,
        y = row); the same boundary is used for every image and checked against each
        image's shape. Without it no TACS columns are written.
    page : int or None
        Page (plane) of multi-page TIFFs, from 0; default the first.
    band_px : float, px
        Width of the band outside the boundary in which fibres are scored (> 0); see
        :func:`resolve_band_px` for a band in µm.
    progress : callable or None
        ``progress(n_done, n_total, path)`` after each image.

    Returns
    -------
    BatchResult
        Paths written, the rows, and the failures (one per image that could not be
        analysed, with a message naming it).

    Raises
    ------
    ConfigError
        An option is invalid or no image is given; nothing is written.
    BoundaryError
        The boundary file is missing or malformed; nothing is written.
    """
    out_dir = Path(out_dir)
    boundary = Path(boundary) if boundary is not None else None
    _check_options(paths, out_dir, sigma_px, boundary, page, band_px)
    from metastroma.viz.alignment import plot_image_alignment  # matplotlib: lazily

    files, failures = expand_image_paths(paths)
    schema_cols = _BASE_COLUMNS + (_PAGE_COLUMNS if page is not None else ())
    schema_cols += _TACS_COLUMNS if boundary is not None else ()
    columns = [name for name, _ in schema_cols]
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    rows: list[dict[str, Any]] = []
    figures: list[Path] = []
    for i, path in enumerate(files):
        try:
            image = read_image(path, page=page)
            result = analyse_image(image, sigma_px=sigma_px)
            tacs = edge = None
            if boundary is not None:
                edge = read_boundary_csv(boundary, image_shape=image.shape)
                tacs = score_tacs_image(result, edge, band_px=band_px)
        except (ValueError, OSError) as err:  # ImageError, BoundaryError: reported
            msg = str(err)
            failures.append((path, msg if str(path) in msg else f"{path}: {msg}"))
        else:
            fig = _figure_path(fig_dir, path, taken)
            plot_image_alignment(
                image, result, fig, boundary=edge, tacs=tacs, title=str(path)
            )
            row: dict[str, Any] = {
                "image": str(path),
                "height_px": int(image.shape[0]),
                "width_px": int(image.shape[1]),
                "sigma_px": float(result.sigma_px),
                "n_pixels": int(result.n_pixels),
                "dominant_angle_deg": float(result.dominant_angle_deg),
                "coherency": float(result.coherency),
                "alignment": float(result.alignment),
                "figure": str(fig.relative_to(out_dir)),
            }
            if page is not None:
                row["page"] = int(page)
            if tacs is not None:
                row |= {
                    "boundary": str(boundary),
                    "band_px": float(tacs.band_px),
                    "n_band": int(tacs.n),
                    "tacs2_fraction": float(tacs.tacs2_fraction),
                    "tacs3_fraction": float(tacs.tacs3_fraction),
                    "tacs3_max_sector_fraction": tacs.max_sector_tacs3_fraction,
                    "tacs3_max_sector_deg": tacs.max_sector_centre_deg,
                    "tacs_call": str(tacs.call),
                }
            rows.append(row)
            figures.append(fig)
        if progress is not None:
            progress(i + 1, len(files), path)

    table_csv = out_dir / "alignment.csv"
    table_parquet = out_dir / "alignment.parquet"
    schema = pa.schema(list(schema_cols))
    table = pa.table({c: [r[c] for r in rows] for c in columns}, schema=schema)
    write_parquet_atomic(table_parquet, table)
    _write_csv(table_csv, columns, rows)
    failures_path = out_dir / "failures.csv"
    failures_csv: Path | None = None
    if failures:
        failures_csv = failures_path
        _write_csv(
            failures_csv,
            ["image", "message"],
            [{"image": str(p), "message": m} for p, m in failures],
        )
    else:
        failures_path.unlink(missing_ok=True)
    return BatchResult(
        out_dir=out_dir,
        table_csv=table_csv,
        table_parquet=table_parquet,
        columns=columns,
        rows=rows,
        figures=figures,
        failures=failures,
        failures_csv=failures_csv,
    )


__all__ = [
    "DEFAULT_BAND_UM",
    "IMAGE_SUFFIXES",
    "BatchResult",
    "align_images",
    "expand_image_paths",
    "resolve_band_px",
]
