"""End to end through ``metastroma plot RUN``: figures and movie of a tissue run.

One small real run (200 cancer cells, 20 MSCs; DDR2, collagen and doorways on; 2 h,
snapshots every hour) is made once for the module, in process; the CLI runs in
subprocesses like a user's shell (helpers in ``_helpers.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from _helpers import run_cli
from PIL import Image

from metastroma.config import scenario_from_dict
from metastroma.runner import run
from metastroma.store.readers import snapshot_steps

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SCENARIO: dict[str, Any] = {
    "name": "plot_cli",
    "seed": 11,
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
    "msc_rules": {"genotype": 0.0},  # DDR2-null MSCs (drawn hollow)
    "intravasation": {"enabled": True, "doorway_density_per_mm2": 20},
    "output": {
        "metrics_every_min": 30.0,
        "snapshot_every_min": 60.0,
        "fields_every_min": 60.0,
        "checkpoint_every_min": 120.0,
    },
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plot_cli") / "run"
    assert run(scenario_from_dict(SCENARIO), out).status == "complete"
    return out


def is_png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as im:
        return im.size


def test_plot_writes_figures_and_movie(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    res = run_cli("plot", run_dir, "--out", out, "--movie", "--fps", "3")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["tissue.mp4", "tissue_snapshot.png", "tissue_timeseries.png"]
    for name in names:  # the paths are printed
        assert str(out / name) in res.stdout.replace("\n", "")
    w, h = is_png(out / "tissue_snapshot.png")
    assert (w, h) == (1860, 945)  # SNAPSHOT_SIZE_IN (12.4, 6.3) in at 150 dpi
    assert is_png(out / "tissue_timeseries.png")[0] > 1000
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / "tissue.mp4"))
    assert n_frames == len(snapshot_steps(run_dir)) == 3


def test_plot_default_out_and_step(run_dir: Path) -> None:
    steps = snapshot_steps(run_dir)
    res = run_cli("plot", run_dir, "--step", str(steps[0]))
    assert res.returncode == 0, res.stderr
    figs = run_dir / "figures"
    assert sorted(p.name for p in figs.iterdir()) == [
        "tissue_snapshot.png",
        "tissue_timeseries.png",
    ]


def test_plot_missing_directory(tmp_path: Path) -> None:
    res = run_cli("plot", tmp_path / "nowhere")
    assert res.returncode == 2
    assert "no such run directory" in res.stderr
    assert str(tmp_path / "nowhere") in res.stderr.replace("\n", "")


def test_plot_not_a_run_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a run", encoding="utf-8")
    res = run_cli("plot", tmp_path)
    assert res.returncode == 2
    assert "not a run directory" in res.stderr
    assert not (tmp_path / "figures").exists()


def test_plot_bad_step_lists_the_steps(run_dir: Path, tmp_path: Path) -> None:
    res = run_cli("plot", run_dir, "--step", "123", "--out", tmp_path / "f")
    assert res.returncode == 2
    err = " ".join(res.stderr.split())
    assert "step 123" in err
    assert "available steps: 0, 600, 1200" in err
    assert not (tmp_path / "f").exists()  # nothing written


def test_plot_run_without_snapshots(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"status": "running"}', encoding="utf-8")
    res = run_cli("plot", tmp_path)
    assert res.returncode == 2
    assert "no cell snapshots" in res.stderr
