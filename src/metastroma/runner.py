"""Run a tissue scenario into a run directory, with scheduled outputs, checkpoints and resume.

This is the Python API behind ``metastroma run``::

    from pathlib import Path
    import metastroma
    scenario = metastroma.load_scenario(Path("scenarios/spheroid_2d.yaml"))
    result = metastroma.run(scenario, Path("runs/spheroid"), threads=2)
    result = metastroma.resume(Path("runs/spheroid"))   # after a kill: continues, bitwise

A run directory holds ``config.yaml`` (resolved scenario), ``manifest.json``,
``metrics.parquet``, ``cells/step=…/part-0.parquet``, ``fields.zarr``, ``events.parquet``
(exits at doorways, when intravasation is on) and ``checkpoints/``
(docs/run-directory.md). The loop runs one phenotype block at a time; between blocks the
writers whose trigger is due run in a fixed order (metrics, snapshot, fields, checkpoint)
and the manifest is updated last.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from metastroma import __version__
from metastroma.config.loader import load_scenario, save_scenario, scenario_hash
from metastroma.config.models import Scenario
from metastroma.errors import CheckpointError, ConfigError, RunDirectoryError
from metastroma.store.checkpoint import (
    latest_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from metastroma.store.manifest import (
    environment,
    read_manifest,
    utc_now,
    write_manifest,
)
from metastroma.store.readers import read_positions_csv
from metastroma.store.writers import (
    AXES,
    EventsWriter,
    FieldsWriter,
    MetricsWriter,
    SnapshotWriter,
    trigger_for,
)
from metastroma.tissue.metrics import measure, measure_stroma
from metastroma.tissue.setup import PlacementError
from metastroma.tissue.simulation import TissueSimulation

#: Called after every block with (step, n_steps, n_cells).
ProgressFn = Callable[[int, int, int], None]


@dataclass(frozen=True)
class RunResult:
    """Where a run went and how it ended."""

    run_dir: Path
    status: str
    n_steps: int
    n_cells: int
    wall_s: float
    metrics: dict[str, list[float]]


def set_threads(threads: int | None) -> int:
    """Set numba's thread count (``None``: all it was started with); returns it.

    Raises
    ------
    ConfigError
        If ``threads`` is below 1 or above ``NUMBA_NUM_THREADS``.
    """
    top = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]  # set at import
    if threads is None:
        threads = top
    if not 1 <= threads <= top:
        raise ConfigError(
            f"--threads = {threads}: must be between 1 and {top} (NUMBA_NUM_THREADS)"
        )
    numba.set_num_threads(threads)
    return threads


def prepare_run_dir(run_dir: Path, force: bool) -> None:
    """Check that ``run_dir`` may receive a new run; clear it if ``force``.

    Raises
    ------
    RunDirectoryError
        A finished or unfinished run without ``force``, or a non-empty directory that is
        not a run directory (never deleted, even with ``force``).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir}: exists and is not a directory")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise RunDirectoryError(
            f"{run_dir}: not empty and not a run directory (no manifest.json); "
            "choose another --out"
        )
    if not force:
        status = manifest.get("status")
        if status == "complete":
            raise RunDirectoryError(
                f"{run_dir}: holds a finished run; use --force to overwrite it"
            )
        raise RunDirectoryError(
            f"{run_dir}: holds an unfinished run (status {status!r}); "
            f"continue it with 'metastroma run --resume {run_dir}' or overwrite with --force"
        )
    shutil.rmtree(run_dir)


def _csv_positions(scenario: Scenario) -> dict[int, Any]:
    return {
        i: read_positions_csv(p.csv_path, scenario.dim)
        for i, p in enumerate(scenario.initial_cells)
        if p.shape == "csv" and p.csv_path is not None
    }


class _Driver:
    """The block loop with its writers (one object per run or resume)."""

    def __init__(
        self,
        run_dir: Path,
        scenario: Scenario,
        sim: TissueSimulation,
        manifest: dict[str, Any],
    ) -> None:
        self.run_dir = run_dir
        self.scenario = scenario
        self.sim = sim
        self.manifest = manifest
        dt_ph = scenario.time.dt_phenotype_min
        out = scenario.output
        self.t_metrics = trigger_for(out.metrics_every_min, dt_ph)
        self.t_snap = trigger_for(out.snapshot_every_min, dt_ph)
        self.t_fields = trigger_for(out.fields_every_min, dt_ph)
        self.t_ckpt = trigger_for(out.checkpoint_every_min, dt_ph)
        self.metrics = MetricsWriter(run_dir / "metrics.parquet")
        self.snapshots = SnapshotWriter(run_dir / "cells")
        grid = sim.oxygen.grid
        centres = [
            grid.lower_um[a] + (0.5 + np.arange(grid.shape[a])) * grid.voxel_um
            for a in range(grid.dim)
        ]
        ecm = sim.ecm
        self.fields = FieldsWriter(
            run_dir / "fields.zarr",
            tuple(grid.shape),
            centres,
            ecm_shape=tuple(int(x) for x in ecm.shape) if ecm is not None else None,
            ecm_centres=[ecm.centres_um(a) for a in range(ecm.dim)]
            if ecm is not None
            else None,
        )
        self.events = EventsWriter(run_dir / "events.parquet")
        self.stroma = (
            scenario.ddr2.enabled
            or scenario.ecm.enabled
            or scenario.intravasation.enabled
            or scenario.cell_types.msc is not None
        )
        self.n_steps = scenario.time.n_steps
        self.k = scenario.time.mechanics_per_phenotype
        self.t0 = time.perf_counter()

    def outputs(self, block: int, final: bool) -> None:
        sim = self.sim
        if final or self.t_metrics.due(block):
            self.metrics.add(self.metrics_row())
        if final or self.t_snap.due(block):
            self.snapshots.write(sim.cells, sim.step)
        if final or self.t_fields.due(block):
            self.fields.append(sim.oxygen.c, sim.t_min, self.ecm_frame())
        if not final and self.t_ckpt.due(block):
            self.checkpoint()

    def metrics_row(self) -> dict[str, float]:
        """One row: the engine's columns, then (with stroma) DDR2, collagen, exits."""
        sim = self.sim
        row = measure(sim.cells, sim.oxygen, sim.step, sim.t_min)
        if not self.stroma:
            return row
        row.update(
            measure_stroma(sim.cells, self.scenario, sim.ecm, sim.counters, sim.backend)
        )
        prev = self.metrics.rows
        for name, total in (
            ("exit_cells_per_h", "exit_cells_total"),
            ("exit_events_per_h", "exit_events_total"),
        ):  # rates over the interval since the previous row (NaN in the first)
            if prev.get("t_min"):
                dt = sim.t_min - prev["t_min"][-1]
                dn = row[total] - prev[total][-1]
                row[name] = 60.0 * dn / dt if dt > 0 else float("nan")
            else:
                row[name] = float("nan")
        return row

    def ecm_frame(self) -> dict[str, np.ndarray] | None:
        """The collagen arrays of one fields.zarr frame (grid-shaped), or None."""
        ecm = self.sim.ecm
        if ecm is None:
            return None
        shp = tuple(int(x) for x in ecm.shape)
        out = {
            "ecm_density": ecm.rho.reshape(shp),
            "ecm_anisotropy": ecm.aniso.reshape(shp),
        }
        for a in range(ecm.dim):
            out[f"ecm_fibre_{AXES[a]}"] = ecm.fibre[:, a].reshape(shp)
        return out

    def checkpoint(self) -> None:
        sim = self.sim
        arrays = {
            **sim.state_arrays(),
            **self.metrics.as_arrays(),
            **self.events.as_arrays(),
        }
        meta = {
            "seed": self.scenario.seed,
            "config_sha256": scenario_hash(self.scenario),
            "n_field_frames": self.fields.n_frames,
            "t_min": sim.t_min,
        }
        write_checkpoint(self.run_dir, sim.step, arrays, meta)
        self.metrics.write()
        if self.scenario.intravasation.enabled:
            self.events.write()
        wall = self.manifest.get("wall_s_before", 0.0) + time.perf_counter() - self.t0
        self.manifest.update(
            step=sim.step, checkpoint_step=sim.step, wall_s=round(wall, 3)
        )
        write_manifest(self.run_dir, self.manifest)

    def loop(self, progress: ProgressFn | None, skip_first_outputs: bool) -> None:
        sim = self.sim
        first = True
        while sim.step < self.n_steps:
            block = sim.step // self.k
            if not (first and skip_first_outputs):
                self.outputs(block, final=False)
            first = False
            rep = sim.advance_block()
            if rep.events:
                self.events.add(rep.events)
            if progress is not None:
                progress(sim.step, self.n_steps, sim.cells.n_live)
        self.outputs(sim.step // self.k, final=True)
        self.metrics.write()
        if self.scenario.intravasation.enabled:
            self.events.write()

    def finish(self, status: str, error: str | None = None) -> RunResult:
        wall = time.perf_counter() - self.t0
        self.manifest.update(
            status=status,
            ended_utc=utc_now(),
            wall_s=round(self.manifest.get("wall_s_before", 0.0) + wall, 3),
            step=self.sim.step,
            n_cells=self.sim.cells.n_live,
        )
        self.manifest.pop("wall_s_before", None)
        if error is not None:
            self.manifest["error"] = error
        write_manifest(self.run_dir, self.manifest)
        if status == "complete":  # only once the manifest says so: free the disk
            shutil.rmtree(self.run_dir / "checkpoints", ignore_errors=True)
        return RunResult(
            self.run_dir,
            status,
            self.sim.step,
            self.sim.cells.n_live,
            self.manifest["wall_s"],
            self.metrics.rows,
        )

    def guarded(self, progress: ProgressFn | None, skip_first: bool) -> RunResult:
        try:
            self.loop(progress, skip_first)
        except KeyboardInterrupt:
            self.finish("interrupted")
            raise
        except (
            Exception
        ) as err:  # report, then re-raise: the manifest says what happened
            self.finish("failed", f"{type(err).__name__}: {err}")
            raise
        return self.finish("complete")


def run(
    scenario: Scenario,
    run_dir: Path,
    *,
    seed: int | None = None,
    threads: int | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Run ``scenario`` into ``run_dir``.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (``load_scenario``).
    run_dir : Path
        Output directory; created. A directory holding a run is refused unless ``force``.
    seed : int, optional
        Replaces ``scenario.seed``.
    threads : int, optional
        numba threads (results do not depend on it).
    force : bool
        Overwrite a run directory that holds a run.
    progress : callable, optional
        ``progress(step, n_steps, n_cells)`` after every phenotype block.

    Raises
    ------
    ConfigError, RunDirectoryError
        Before anything is written.
    """
    run_dir = Path(run_dir)
    if seed is not None:
        if not 0 <= seed <= 2**63 - 1:
            raise ConfigError(f"--seed = {seed}: must be between 0 and 2**63 - 1")
        scenario = scenario.model_copy(update={"seed": seed})
    n_threads = set_threads(threads)
    csv = _csv_positions(scenario)
    try:  # build everything before any write
        sim = TissueSimulation.from_scenario(scenario, csv)
    except PlacementError as err:
        raise ConfigError(f"{scenario.name}: {err}") from err
    prepare_run_dir(run_dir, force)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_scenario(scenario, run_dir / "config.yaml")
    manifest: dict[str, Any] = {
        "package": "metastroma",
        "version": __version__,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "threads": n_threads,
        "started_utc": utc_now(),
        "ended_utc": None,
        "wall_s": None,
        "status": "running",
        "n_steps": scenario.time.n_steps,
        "step": 0,
        "config_sha256": scenario_hash(scenario),
        "resumed": [],
        "pid": os.getpid(),
        **environment(),
    }
    write_manifest(run_dir, manifest)
    driver = _Driver(run_dir, scenario, sim, manifest)
    driver.fields.open(0)
    return driver.guarded(progress, skip_first=False)


def resume(
    run_dir: Path, *, threads: int | None = None, progress: ProgressFn | None = None
) -> RunResult:
    """Continue a killed or interrupted run from its newest checkpoint.

    The continuation is bitwise identical to an uninterrupted run with the same seed: the
    checkpoint holds every state column, the oxygen field, the step and the metrics so far;
    outputs written after the checkpoint are rewritten identically.

    Raises
    ------
    RunDirectoryError
        No run there, or the run is already complete.
    CheckpointError
        No checkpoint, or one made with another configuration.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise RunDirectoryError(f"{run_dir}: no run to resume (no manifest.json)")
    if manifest.get("status") == "complete":
        raise RunDirectoryError(f"{run_dir}: the run is already complete")
    scenario = load_scenario(run_dir / "config.yaml")
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise CheckpointError(
            f"{run_dir}: no complete checkpoint to resume from; start again with --force"
        )
    arrays, meta = read_checkpoint(ckpt)
    if meta.get("config_sha256") != scenario_hash(scenario):
        raise CheckpointError(
            f"{ckpt}: made with another configuration than {run_dir}/config.yaml"
        )
    n_threads = set_threads(threads)
    sim = TissueSimulation.from_state_arrays(scenario, arrays)
    manifest.setdefault("resumed", []).append(
        {"from_step": sim.step, "at_utc": utc_now(), "threads": n_threads}
    )
    manifest.update(
        status="running",
        pid=os.getpid(),
        wall_s_before=float(manifest.get("wall_s") or 0.0),
    )
    write_manifest(run_dir, manifest)
    driver = _Driver(run_dir, scenario, sim, manifest)
    driver.metrics.restore(arrays)
    driver.events.restore(arrays)
    driver.fields.open(int(meta["n_field_frames"]))
    return driver.guarded(progress, skip_first=True)
