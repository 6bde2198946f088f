"""Tissue figures and movie of DDR2 runs: files written, and what is drawn is the data.

One small real run (200 cancer cells, 20 MSCs, DDR2, collagen and exits on; 2 h,
snapshots and frames every 30 min) is made once for the module; an engine-only run (no
DDR2, no collagen) and a tiny 3D run check the other drawings. The figure tests call the
private ``_tissue_figure`` to keep a handle on the artists, then compare them with the
snapshot on disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from metastroma.config import scenario_from_dict
from metastroma.errors import ConfigError, RunDirectoryError
from metastroma.runner import run
from metastroma.store.readers import (
    read_cells,
    read_ecm_fields,
    read_events,
    snapshot_steps,
)
from metastroma.tissue.edge import tumour_edge
from metastroma.viz import _tissue_draw as vd
from metastroma.viz import (
    plot_tissue_snapshot,
    plot_tissue_timeseries,
    write_movie,
)
from metastroma.viz import tissue as vt

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: 200 cancer cells in a ball, 20 DDR2+ MSCs in a ring, DDR2 + collagen + doorways; 2 h.
DDR2_RUN: dict[str, Any] = {
    "name": "viz_small",
    "seed": 5,
    "domain": {
        "lower_um": [-260.0, -260.0],
        "upper_um": [260.0, 260.0],
        "voxel_um": 20.0,
    },
    "time": {"duration_min": 120.0},
    "cell_types": {"cancer": {}, "msc": {}},
    "initial_cells": [
        {
            "kind": "cancer",
            "shape": "ball",
            "n_cells": 200,
            "radius_um": 125.0,
            "relax_overlaps": True,
        },
        {
            "kind": "msc",
            "shape": "ring",
            "n_cells": 20,
            "inner_radius_um": 115.0,
            "radius_um": 190.0,
        },
    ],
    "ddr2": {"enabled": True},
    "ecm": {"enabled": True},
    "msc_rules": {"genotype": 1.0},
    "intravasation": {"enabled": True, "doorway_density_per_mm2": 20},
    "output": {
        "metrics_every_min": 12.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 30.0,
        "checkpoint_every_min": 120.0,
    },
}

#: The engine alone: 40 cancer cells with oxygen, no DDR2, no collagen; 1 h.
ENGINE_RUN: dict[str, Any] = {
    "name": "viz_engine",
    "seed": 3,
    "domain": {
        "lower_um": [-100.0, -100.0],
        "upper_um": [100.0, 100.0],
        "voxel_um": 20.0,
    },
    "time": {"duration_min": 60.0},
    "initial_cells": [
        {"kind": "cancer", "shape": "ball", "n_cells": 40, "radius_um": 60.0}
    ],
    "output": {
        "metrics_every_min": 30.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 30.0,
        "checkpoint_every_min": 60.0,
    },
}


def make_run(root: Path, data: dict[str, Any]) -> Path:
    out = root / data["name"]
    result = run(scenario_from_dict(data), out)
    assert result.status == "complete"
    return out


@pytest.fixture(scope="module")
def ddr2_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("viz"), DDR2_RUN)


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("viz_engine"), ENGINE_RUN)


def png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size


# ---------------------------------------------------------------- readers


def test_read_ecm_fields_matches_the_snapshots(ddr2_run: Path) -> None:
    ecm = read_ecm_fields(ddr2_run)
    steps = snapshot_steps(ddr2_run)
    assert len(steps) == 5
    # frames at the snapshot times (step × dt_mechanics_min, 0.1 min by default)
    np.testing.assert_allclose(ecm["t_min"], np.asarray(steps) * 0.1)
    t, nx, ny = ecm["density"].shape
    assert (t, nx, ny) == (5, 26, 26)  # 520 µm / 20 µm elements
    assert ecm["anisotropy"].shape == (t, nx, ny)
    assert ecm["fibre"].shape == (t, nx, ny, 2)
    np.testing.assert_allclose(ecm["xe"], -250.0 + 20.0 * np.arange(26))
    np.testing.assert_allclose(np.linalg.norm(ecm["fibre"], axis=-1), 1.0, atol=1e-9)
    assert np.all((ecm["anisotropy"] >= 0) & (ecm["anisotropy"] <= 1))
    # the collagen changes over the run (cells remodel it)
    assert not np.allclose(ecm["anisotropy"][0], ecm["anisotropy"][-1])


def test_read_ecm_fields_errors_name_the_store(
    engine_run: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"fields\.zarr: no collagen arrays"):
        read_ecm_fields(engine_run)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "fields.zarr")):
        read_ecm_fields(tmp_path)


def test_read_events(ddr2_run: Path, tmp_path: Path) -> None:
    ev = read_events(ddr2_run)
    assert {"t_min", "x_um", "y_um", "cluster_size", "ddr2_activity"} <= set(ev)
    assert len(ev) == pq.read_metadata(ddr2_run / "events.parquet").num_rows
    empty = read_events(tmp_path)
    assert empty.empty
    assert list(empty.columns) == [
        "t_min",
        "x_um",
        "y_um",
        "cluster_size",
        "ddr2_activity",
    ]


# ---------------------------------------------------------------- snapshot figure


def test_snapshot_png_has_the_figure_size(ddr2_run: Path, tmp_path: Path) -> None:
    out = plot_tissue_snapshot(ddr2_run, tmp_path / "sub" / "snap.png")
    assert out == tmp_path / "sub" / "snap.png"
    w, h = vd.SNAPSHOT_SIZE_IN
    assert png_size(out) == (round(w * vt.FIGURE_DPI), round(h * vt.FIGURE_DPI))
    assert [p.name for p in out.parent.iterdir()] == ["snap.png"]  # no temp file left


@pytest.mark.parametrize("which", [0, -1])
def test_cancer_cells_are_coloured_by_ddr2_activity(ddr2_run: Path, which: int) -> None:
    run_info = vt._load_tissue_run(ddr2_run)
    step = run_info.steps[which]
    fig, art = vt._tissue_figure(run_info, step)
    cells = read_cells(ddr2_run, step)
    live_cancer = (cells["kind"] == 0) & (cells["state"] == 0)
    a = cells["ddr2_activity"][live_cancer]
    coll = art["cancer"]
    np.testing.assert_array_equal(art["cancer_cell_id"], cells["cell_id"][live_cancer])
    np.testing.assert_allclose(coll.get_array(), a)
    np.testing.assert_allclose(
        coll.get_offsets(),
        np.column_stack([cells["x_um"], cells["y_um"]])[live_cancer],
    )
    fig.canvas.draw()  # colours are mapped at draw time
    expected = matplotlib.colormaps[vd.ACTIVITY_CMAP](np.clip(a, 0, 1))
    np.testing.assert_allclose(coll.get_facecolors(), expected, atol=1e-6)
    if which == -1:  # after 2 h the MSC contacts and collagen have raised A
        assert a.max() > 0.05
        red = coll.get_facecolors()[np.argsort(a), 0]  # plasma: red grows with A
        assert np.all(np.diff(red) >= -1e-9)
        assert red[-1] - red[0] > 0.02
    # MSCs (genotype 1: DDR2+) in their own collection, to scale
    msc = (cells["kind"] == 1) & (cells["state"] == 0)
    assert len(art["msc"].get_offsets()) == int(msc.sum()) == 20
    assert len(art["msc_null"].get_offsets()) == 0


def test_collagen_segments_follow_the_fibres(ddr2_run: Path) -> None:
    run_info = vt._load_tissue_run(ddr2_run)
    assert run_info.block == 1  # one segment per element in this small window
    _, art = vt._tissue_figure(run_info, run_info.steps[-1])
    ecm = read_ecm_fields(ddr2_run)
    seg = np.asarray(art["fibres"].get_segments())
    assert seg.shape == (26 * 26, 2, 2)
    d = seg[:, 1] - seg[:, 0]
    drawn = np.mod(np.degrees(np.arctan2(d[:, 1], d[:, 0])), 180.0)
    f = ecm["fibre"][-1].reshape(-1, 2)  # [i, j] order = segment order
    stored = np.mod(np.degrees(np.arctan2(f[:, 1], f[:, 0])), 180.0)
    diff = np.abs((drawn - stored + 90.0) % 180.0 - 90.0)
    assert diff.max() < 1e-6
    length = np.linalg.norm(d, axis=1)
    an = ecm["anisotropy"][-1].ravel()
    ratio = length / np.clip(an / run_info.anisotropy_ref, 0, 1)
    np.testing.assert_allclose(ratio, 0.92 * 20.0, rtol=1e-9)  # length ∝ anisotropy


def test_exits_up_to_the_snapshot_time_are_drawn(
    ddr2_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(ddr2_run, copy)
    events = pd.DataFrame(
        {
            "t_min": [10.0, 60.0, 119.0],
            "x_um": [150.0, -40.0, 5.0],
            "y_um": [20.0, -160.0, 200.0],
            "cluster_size": [1, 3, 2],
            "ddr2_activity": [0.2, 0.3, 0.4],
        }
    )
    events.to_parquet(copy / "events.parquet")
    run_info = vt._load_tissue_run(copy)
    at_1h = next(s for s in run_info.steps if abs(s * 0.1 - 60.0) < 1e-9)
    fig, art = vt._tissue_figure(run_info, at_1h)
    np.testing.assert_allclose(
        art["exits"].get_offsets(), [[150.0, 20.0], [-40.0, -160.0]]
    )
    title = " ".join(t.get_text() for t in fig.texts)
    assert "t = 1.0 h" in title
    assert "2 exits (4 cells)" in title


def test_band_collagen_is_classed_by_its_angle_to_the_edge() -> None:
    """Radial fibres around a disc are TACS-3, tangential ones TACS-2 (β, SCIENCE §6.4)."""
    grid = vd._Grid(np.array([-300.0, -300.0]), 20.0, (30, 30))
    c = grid.centres(0)
    x, y = np.meshgrid(c, c, indexing="ij")
    r = np.hypot(x, y)
    radial = np.stack([x / r, y / r], axis=-1)
    tangential = np.stack([-y / r, x / r], axis=-1)
    xy = np.column_stack([x.ravel(), y.ravel()])
    disc = xy[np.hypot(xy[:, 0], xy[:, 1]) < 150.0]
    pts = np.concatenate([disc + off for off in ([0, 0], [6, 6], [-6, 6], [6, -6])])
    edge = tumour_edge(pts, grid.lower_um, grid.element_um, grid.shape, 40.0, 8.41)
    ones = np.ones(grid.shape)
    for fibre, lo, hi in ((radial, 75.0, 90.0), (tangential, 0.0, 15.0)):
        seg = vd._segments(
            ones, 0.5 * ones, fibre, edge.normal, edge.distance_um, grid, 1, 40.0
        )
        beta = seg.beta_deg[seg.in_band]
        assert beta.size > 40
        assert np.all((beta >= lo) & (beta <= hi)), (lo, hi, beta.min(), beta.max())
        np.testing.assert_allclose(seg.anisotropy, 0.5)


def test_snapshot_step_and_directory_errors(ddr2_run: Path, tmp_path: Path) -> None:
    steps = snapshot_steps(ddr2_run)
    with pytest.raises(
        ConfigError, match="available steps: " + ", ".join(map(str, steps))
    ):
        plot_tissue_snapshot(ddr2_run, tmp_path / "x.png", step=7)
    with pytest.raises(RunDirectoryError, match="no such run directory"):
        plot_tissue_snapshot(tmp_path / "absent", tmp_path / "x.png")
    with pytest.raises(RunDirectoryError, match="not a run directory"):
        plot_tissue_snapshot(tmp_path, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    out = plot_tissue_snapshot(ddr2_run, tmp_path / "first.png", step=steps[0])
    assert png_size(out)[0] > 0


# ---------------------------------------------------------------- time series


def test_timeseries_png_and_panels(ddr2_run: Path, tmp_path: Path) -> None:
    out = plot_tissue_timeseries(ddr2_run, tmp_path / "ts.png")
    w, h = png_size(out)
    pw, ph = vt.PANEL_SIZE_IN
    assert (w, h) == (
        round(4 * pw * vt.FIGURE_DPI),
        round((2 * ph + 0.5) * vt.FIGURE_DPI),
    )


def test_timeseries_lines_are_the_metrics(ddr2_run: Path, tmp_path: Path) -> None:
    captured: list[Any] = []
    real = vt._save_figure

    def keep(fig: Any, path: Path) -> Path:
        captured.append(fig)
        return real(fig, path)

    vt._save_figure = keep  # type: ignore[assignment]
    try:
        plot_tissue_timeseries(ddr2_run, tmp_path / "ts.png")
    finally:
        vt._save_figure = real  # type: ignore[assignment]
    fig = captured[0]
    axes = {ax.get_title().split(":")[0]: ax for ax in fig.axes if ax.get_visible()}
    assert set(axes) == {t for t, _, _ in vt._PANELS}
    m = pd.read_parquet(ddr2_run / "metrics.parquet")
    line = {ln.get_label(): ln for ln in axes["DDR2 in cancer cells"].get_lines()}
    np.testing.assert_allclose(line["activity A"].get_xdata(), m["t_min"] / 60.0)
    np.testing.assert_allclose(
        line["activity A"].get_ydata(), m["ddr2_activity_cancer"]
    )
    for ax in axes.values():
        assert ax.get_xlabel() == "time (h)"
        assert ax.get_ylabel()
        assert ax.get_legend() is not None


# ---------------------------------------------------------------- engine-only runs


def test_engine_only_run_still_plots(engine_run: Path, tmp_path: Path) -> None:
    snap = plot_tissue_snapshot(engine_run, tmp_path / "snap.png")
    w, h = vd.SNAPSHOT_SIZE_NO_ECM_IN
    assert png_size(snap) == (round(w * vt.FIGURE_DPI), round(h * vt.FIGURE_DPI))
    run_info = vt._load_tissue_run(engine_run)
    assert not run_info.has_ecm and not run_info.has_ddr2
    _, art = vt._tissue_figure(run_info, run_info.steps[-1])
    assert "fibres" not in art
    cells = read_cells(engine_run)
    assert len(art["cancer"].get_offsets()) == int(
        ((cells["kind"] == 0) & (cells["state"] == 0)).sum()
    )
    ts = plot_tissue_timeseries(engine_run, tmp_path / "ts.png")
    assert png_size(ts)[0] > 0


def test_3d_run_draws_the_mid_section(tmp_path: Path) -> None:
    data = {
        **DDR2_RUN,
        "name": "viz_3d",
        "domain": {
            "lower_um": [-100.0, -100.0, -100.0],
            "upper_um": [100.0, 100.0, 100.0],
            "voxel_um": 20.0,
        },
        "time": {"duration_min": 30.0},
        "initial_cells": [
            {"kind": "cancer", "shape": "ball", "n_cells": 60, "radius_um": 45.0},
            {
                "kind": "msc",
                "shape": "ring",
                "n_cells": 6,
                "inner_radius_um": 50.0,
                "radius_um": 70.0,
            },
        ],
    }
    run_dir = make_run(tmp_path, data)
    run_info = vt._load_tissue_run(run_dir)
    assert run_info.dim == 3
    fig, art = vt._tissue_figure(run_info, run_info.steps[-1])
    cells = read_cells(run_dir)
    ze = read_ecm_fields(run_dir)["ze"]
    z_mid = ze[ze.size // 2]
    sel = (cells["kind"] == 0) & (cells["state"] == 0)
    sel &= np.abs(cells["z_um"] - z_mid) <= vd.SECTION_HALF_UM
    assert 0 < sel.sum() < ((cells["kind"] == 0) & (cells["state"] == 0)).sum()
    np.testing.assert_allclose(art["cancer"].get_array(), cells["ddr2_activity"][sel])
    assert len(art["fibres"].get_segments()) == 10 * 10  # one slice of the 10³ grid
    assert "section z = " in " ".join(t.get_text() for t in fig.texts)


# ---------------------------------------------------------------- movie


def test_movie_has_one_frame_per_snapshot(ddr2_run: Path, tmp_path: Path) -> None:
    import subprocess

    import imageio_ffmpeg

    out = write_movie(ddr2_run, tmp_path / "m" / "tissue.mp4", fps=4)
    assert [p.name for p in out.parent.iterdir()] == ["tissue.mp4"]
    n_frames, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames == len(snapshot_steps(ddr2_run)) == 5
    assert secs == pytest.approx(5 / 4, abs=0.05)
    # decode with the same ffmpeg: stream info on stderr, raw RGB frames on stdout
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    proc = subprocess.run(
        [exe, "-v", "info", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    )
    info = proc.stderr.decode(errors="replace")
    assert "Video: h264" in info and "yuv420p" in info
    sw, sh = vd.SNAPSHOT_SIZE_IN
    w, h = round(sw * 100) // 2 * 2, round(sh * 100) // 2 * 2  # MOVIE_DPI = 100, even
    assert f"{w}x{h}" in info
    data = np.frombuffer(proc.stdout, np.uint8).reshape(-1, h, w, 3)
    assert data.shape[0] == 5
    # frames differ (time moves on), and are not blank
    assert np.abs(data[0].astype(int) - data[-1].astype(int)).mean() > 0.1
    assert data[0].std() > 10


def test_movie_fps_is_checked(ddr2_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fps 0"):
        write_movie(ddr2_run, tmp_path / "m.mp4", fps=0)
    assert not (tmp_path / "m.mp4").exists()
