"""Helpers of the end-to-end CLI tests: tiny scenarios, CLI subprocesses, run comparisons.

The CLI runs in subprocesses (``python -m metastroma.cli``) with ``NUMBA_CACHE_DIR`` in the
work tree, so compiled kernels are loaded from the cache that every test shares, and with
``NUMBA_NUM_THREADS=2`` so that ``--threads 2`` is valid on any machine.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[2]

#: A tiny 2D run: 40 moving, dividing cancer cells in a 200 × 200 µm box (10 × 10 voxels),
#: 90 min in 15 phenotype steps of 6 min (30 mechanics steps each); every output each 30 min.
TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "domain": {
        "lower_um": [-100.0, -100.0],
        "upper_um": [100.0, 100.0],
        "voxel_um": 20.0,
    },
    "time": {"duration_min": 90.0, "dt_mechanics_min": 0.2, "dt_phenotype_min": 6.0},
    "cell_types": {
        "cancer": {
            "motility": {
                "enabled": True,
                "speed_um_per_min": 0.5,
                "persistence_min": 10.0,
            },
            # a 2 h mean cycle: about half the cells divide within the 90 min
            "cycle": {"model": "live", "phase_durations_min": [120.0]},
        }
    },
    "initial_cells": [
        {"kind": "cancer", "shape": "ball", "n_cells": 40, "radius_um": 60.0}
    ],
    "output": {
        "metrics_every_min": 30.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 30.0,
        "checkpoint_every_min": 30.0,
    },
}


def scenario_dict(**sections: Any) -> dict[str, Any]:
    """A deep copy of :data:`TINY` with top-level sections (or values) replaced."""
    data = copy.deepcopy(TINY)
    data.update(copy.deepcopy(sections))
    return data


def write_scenario(path: Path, data: dict[str, Any] | None = None) -> Path:
    """Write a scenario mapping as YAML; returns ``path``."""
    path.write_text(yaml.safe_dump(data or TINY, sort_keys=False), encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    """Environment of a CLI subprocess: the shared numba cache, two numba threads."""
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    env["NUMBA_NUM_THREADS"] = "2"
    env.pop("NUMBA_DISABLE_JIT", None)
    return env


def cli_command(*args: str | Path) -> list[str]:
    """The argument vector of ``metastroma ARGS`` run with this interpreter."""
    return [sys.executable, "-m", "metastroma.cli", *map(str, args)]


def run_cli(
    *args: str | Path, cwd: Path | None = None, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run ``metastroma ARGS`` to completion; stdout and stderr captured as text."""
    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start ``metastroma ARGS`` without waiting (output to DEVNULL / a pipe for stderr)."""
    return subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=cwd,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300.0) -> tuple[int, str]:
    """Wait for a started CLI process; returns (exit code, stderr)."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def manifest(run_dir: Path) -> dict[str, Any]:
    """``manifest.json`` of a run directory."""
    data: dict[str, Any] = json.loads(
        (run_dir / "manifest.json").read_text(encoding="utf-8")
    )
    return data


def snapshot_names(run_dir: Path) -> list[str]:
    """Names of the complete snapshot directories (``step=…``), sorted."""
    return sorted(
        p.name
        for p in (run_dir / "cells").iterdir()
        if p.name.startswith("step=") and (p / "part-0.parquet").is_file()
    )


def read_snapshot(run_dir: Path, name: str) -> Any:
    """One snapshot as an Arrow table."""
    return pq.read_table(run_dir / "cells" / name / "part-0.parquet")


def read_oxygen(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(t_min (T,), oxygen_mmhg (T, nx, ny)) read with zarr directly."""
    import zarr

    g = zarr.open_group(run_dir / "fields.zarr", mode="r")
    return np.asarray(g["t_min"][:]), np.asarray(g["oxygen_mmhg"][:])


def assert_same_outputs(a: Path, b: Path) -> None:
    """Metrics, every snapshot and the oxygen frames of two run directories are identical."""
    ma, mb = pq.read_table(a / "metrics.parquet"), pq.read_table(b / "metrics.parquet")
    assert ma.num_rows > 1
    assert ma.schema.equals(mb.schema)
    for (
        name
    ) in ma.column_names:  # NaN (e.g. the mean DDR2 of absent benign cells) == NaN
        ca, cb = ma.column(name).to_numpy(), mb.column(name).to_numpy()
        assert np.array_equal(ca, cb, equal_nan=True), f"metrics column {name} differs"
    names = snapshot_names(a)
    assert len(names) > 1
    assert names == snapshot_names(b)
    for name in names:
        ta, tb = read_snapshot(a, name), read_snapshot(b, name)
        assert ta.num_rows > 0
        assert ta.equals(tb), f"snapshot {name} differs"
    ta_, oa = read_oxygen(a)
    tb_, ob = read_oxygen(b)
    assert oa.shape[0] > 1
    assert np.array_equal(ta_, tb_)
    assert oa.shape == ob.shape
    assert np.array_equal(oa, ob)


def positions_by_id(table: Any) -> dict[int, tuple[float, float]]:
    """{cell_id: (x_um, y_um)} of a snapshot table."""
    ids = table.column("cell_id").to_numpy()
    x = table.column("x_um").to_numpy()
    y = table.column("y_um").to_numpy()
    return {int(i): (float(u), float(v)) for i, u, v in zip(ids, x, y, strict=True)}


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints of a run directory."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return [
        int(p.name.removeprefix("step="))
        for p in root.iterdir()
        if p.name.startswith("step=") and (p / "meta.json").is_file()
    ]


def run_status(run_dir: Path) -> str | None:
    """The manifest's status, or None while it cannot be read."""
    try:
        return str(manifest(run_dir)["status"])
    except (OSError, ValueError, KeyError):
        return None
