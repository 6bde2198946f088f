"""A DDR2 run (MSCs, collagen, intravasation) killed with SIGKILL and resumed is bitwise
identical to an uninterrupted one: metrics, snapshots, oxygen and collagen frames, and the
exit events (SCIENCE.md §4–§5; DESIGN.md: long runs checkpoint and resume bitwise).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import zarr
from _helpers import (
    assert_same_outputs,
    checkpoint_steps,
    finish,
    manifest,
    run_cli,
    run_status,
    scenario_dict,
    start_cli,
    write_scenario,
)

STROMA = scenario_dict(
    domain={"lower_um": [-160.0, -160.0], "upper_um": [160.0, 160.0], "voxel_um": 20.0},
    time={"duration_min": 360.0, "dt_mechanics_min": 0.1, "dt_phenotype_min": 6.0},
    cell_types={
        "cancer": {
            "motility": {"speed_um_per_min": 0.5, "persistence_min": 10.0},
            "cycle": {"model": "live", "phase_durations_min": [400.0]},
        },
        "msc": {},
    },
    initial_cells=[
        {"kind": "cancer", "shape": "ball", "n_cells": 60, "radius_um": 70.0},
        {
            "kind": "msc",
            "shape": "ring",
            "n_cells": 12,
            "inner_radius_um": 60.0,
            "radius_um": 110.0,
        },
    ],
    ddr2={"enabled": True, "induction_per_min": 0.01},
    ecm={"enabled": True},
    intravasation={
        "enabled": True,
        "doorway_density_per_mm2": 0.0,
        "doorway_positions_um": [[0.0, 0.0], [40.0, 0.0], [-40.0, 20.0]],
        "base_hazard_per_min": 0.02,
        "cluster_probability": 0.5,
    },
    output={
        "metrics_every_min": 12.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 18.0,
        "checkpoint_every_min": 12.0,
    },
)
KILL_AFTER_STEP = 1200


def test_killed_stroma_run_resumes_bitwise(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "stroma.yaml", STROMA)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    reference = start_cli("run", scenario, "--out", whole, "--threads", "1")
    proc = start_cli("run", scenario, "--out", killed, "--threads", "2")
    try:
        deadline = time.monotonic() + 240.0
        while True:
            steps = checkpoint_steps(killed)
            if (
                steps
                and max(steps) >= KILL_AFTER_STEP
                and run_status(killed) == "running"
            ):
                break
            assert proc.poll() is None, f"ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()
    res = run_cli("run", "--resume", killed, "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert manifest(killed)["status"] == "complete"
    code, err = finish(reference)
    assert code == 0, err
    assert_same_outputs(killed, whole)
    ea = pq.read_table(killed / "events.parquet")
    eb = pq.read_table(whole / "events.parquet")
    assert ea.num_rows >= 3  # the doorways sit in the tumour: exits happen
    assert ea.equals(eb)
    ga = zarr.open_group(killed / "fields.zarr", mode="r")
    gb = zarr.open_group(whole / "fields.zarr", mode="r")
    for name in ("ecm_density", "ecm_anisotropy", "ecm_fibre_x", "ecm_fibre_y"):
        a, b = np.asarray(ga[name][:]), np.asarray(gb[name][:])
        assert a.shape[0] == np.asarray(ga["t_min"][:]).shape[0] > 1
        assert np.array_equal(a, b), name
    # the collagen changed: MSCs and DDR2-active cells wrote into it
    aniso = np.asarray(gb["ecm_anisotropy"][:])
    assert aniso[-1].max() > aniso[0].max() + 0.05
    m = pq.read_table(whole / "metrics.parquet").to_pydict()
    assert m["ddr2_expression_cancer"][-1] > m["ddr2_expression_cancer"][0]
    assert m["exit_cells_total"][-1] == sum(eb.column("cluster_size").to_pylist())
