"""Benchmark cases of metastroma; each runs inside its own child process.

``run_benchmarks.py`` starts one child per case (``--child SPEC``) so that the peak
resident memory of a case (``ru_maxrss``, read at the end inside the child) is that
case's alone. Every case function takes the JSON spec and returns a JSON-ready dict.

Cases
-----
physicell
    ``metastroma.runner.run`` of scenarios/physicell_template_5k.yaml into a temporary
    run directory (outputs included), after a tiny run of the same scenario in the same
    process (numba compiled or loaded from the cache, writers imported). Cell counts are
    compared with PhysiCell's hourly counts.
physicell_cli
    ``metastroma run SCENARIO --out DIR --threads T`` as a subprocess of the child,
    timed whole (interpreter start, imports, cache load, run, outputs): what users see.
mechanics
    ``TissueSimulation.mechanics_step`` on N cells at tissue density in 2D or 3D,
    motility on, oxygen off; the kernels are wrapped by timers for a breakdown.
compile
    The tiny warm-up run in a fresh process whose NUMBA_CACHE_DIR is empty (cold
    compile) or warm (cache load).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PHYSICELL_SCENARIO = REPO / "scenarios" / "physicell_template_5k.yaml"
REFERENCE_COUNTS = Path("/work/shared/data/physicell_template_5k/cell_counts.csv")

#: Targets from the issue (s, MB); None: reported only.
TARGET_PHYSICELL_WALL_S = 30.0
TARGET_PHYSICELL_PEAK_MB = 1024.0
TARGET_MECH_2D_1E6_S_PER_STEP = 0.4
#: The harness's own reading of "cost per cell constant": max/min µs per cell-step.
FLAT_SCALING_RATIO = 1.5

AREA_PER_CELL_UM2 = 300.0  # 2D tissue-like density
VOLUME_PER_CELL_UM3 = 3000.0  # 3D tissue-like density (range 2500–4000)


def cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss in kB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform.startswith("linux") else kb / 2**20


def wait_with_usage(
    proc: subprocess.Popen[bytes], timeout: float | None
) -> tuple[int | None, Any]:
    """Reap ``proc`` with ``wait4`` (its own resource usage); kill it after ``timeout``.

    Returns (exit code, or None if it timed out; rusage).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return None, usage
        time.sleep(0.05)


# --------------------------------------------------------------------------- scenarios


def physicell_scenario(quick: bool) -> Any:
    """The PhysiCell comparison scenario; ``quick``: 2 h on a 900 µm square.

    The quick version keeps the biology and the density (5000 cells per 4 mm²), writes
    every output each simulated hour, so that every writer runs.
    """
    from metastroma.config.loader import load_scenario
    from metastroma.config.models import Scenario

    sc = load_scenario(PHYSICELL_SCENARIO)
    if not quick:
        return sc
    d = sc.model_dump()
    half = 450.0
    area_full = math.prod(
        h - lo for lo, h in zip(sc.domain.lower_um, sc.domain.upper_um, strict=True)
    )
    n0 = sum(p.n_cells for p in sc.initial_cells)
    d["name"] = sc.name + "_quick"
    d["domain"]["lower_um"] = [-half, -half]
    d["domain"]["upper_um"] = [half, half]
    d["initial_cells"][0]["n_cells"] = round(n0 * (2 * half) ** 2 / area_full)
    d["time"]["duration_min"] = 120.0
    for key in (
        "metrics_every_min",
        "snapshot_every_min",
        "fields_every_min",
        "checkpoint_every_min",
    ):
        d["output"][key] = 60.0
    return Scenario.model_validate(d)


def tiny_version(sc: Any) -> Any:
    """The same scenario on a small square with few cells and every output each block,
    with short cycles and frequent, short apoptosis, so that within a few blocks cells
    divide and are removed.

    Run first in the same process: every kernel and writer the timed run uses is
    compiled (or loaded from the cache) and imported. The kernels' argument types do not
    depend on the values changed here. Without the divisions, ``place_daughters``
    (first called near t = 800 min in the PhysiCell case) would be loaded from cache,
    or compiled, inside the timed run: about a second per kernel.
    """
    from metastroma.config.models import Scenario

    d = sc.model_dump()
    vox = sc.domain.voxel_um
    half = 5 * vox
    dim = sc.dim
    dt_ph = sc.time.dt_phenotype_min
    d["name"] = sc.name + "_warmup"
    d["domain"]["lower_um"] = [-half] * dim
    d["domain"]["upper_um"] = [half] * dim
    for p in d["initial_cells"]:
        if p["shape"] != "csv":
            p["n_cells"] = min(p["n_cells"], 50)
        p["center_um"] = None
    max_phases = 0
    for name, _ in sc.cell_types.items():
        ct = d["cell_types"][name.name.lower()]
        phases = ct["cycle"]["phase_durations_min"] or []
        max_phases = max(max_phases, len(phases))
        ct["cycle"]["phase_durations_min"] = [0.5 * dt_ph] * len(
            phases
        )  # one phase a block
        ct["death"]["apoptosis_per_min"] = min(
            1.0, 0.05 / dt_ph
        )  # ~5 % of cells a block
        ct["death"]["apoptosis_duration_min"] = dt_ph  # removed the next block
    d["time"]["duration_min"] = (max_phases + 2) * dt_ph
    for key in d["output"]:
        d["output"][key] = dt_ph
    return Scenario.model_validate(d)


def mechanics_scenario(n_cells: int, dim: int) -> Any:
    """N cancer cells uniform in a square (cube) at tissue density; motility, no oxygen.

    Voxels (unused: oxygen is off) are 20 µm up to 10⁴ cells and 100 µm above, so the
    domain stays far below ``MAX_VOXELS`` and the oxygen arrays do not weigh on memory.
    """
    from metastroma.config.models import Scenario

    per_cell = AREA_PER_CELL_UM2 if dim == 2 else VOLUME_PER_CELL_UM3
    vox = 20.0 if n_cells <= 10_000 else 100.0
    side = (n_cells * per_cell) ** (1.0 / dim)
    side = max(3, round(side / vox)) * vox
    half = side / 2.0
    return Scenario.model_validate(
        {
            "name": f"mechanics_{dim}d_{n_cells}",
            "seed": 0,
            "domain": {
                "lower_um": [-half] * dim,
                "upper_um": [half] * dim,
                "voxel_um": vox,
                "wall": True,
            },
            "oxygen": {
                "enabled": False,
                "dirichlet_edges": False,
                "far_field_mmhg": 0.0,
                "initial_mmhg": 0.0,
            },
            "cell_types": {
                "cancer": {
                    "oxygen_uptake_per_min": 0.0,
                    "motility": {"enabled": True},
                    "cycle": {"model": "none", "oxygen_dependent": False},
                    "death": {"apoptosis_per_min": 0.0, "necrosis": "off"},
                }
            },
            "initial_cells": [{"kind": "cancer", "shape": "box", "n_cells": n_cells}],
        }
    )


# --------------------------------------------------------------------------- reference


def read_reference_counts(path: Path = REFERENCE_COUNTS) -> dict[float, float] | None:
    """PhysiCell's hourly total agent counts ``{time_min: count}``, or None."""
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        return {
            float(r["time_min"]): float(r["total_agents"]) for r in csv.DictReader(fh)
        }


def compare_counts(
    t_min: list[float], n_cells: list[float], ref: dict[float, float] | None
) -> dict[str, Any]:
    """Max relative deviation of our counts from PhysiCell's at the common times.

    Counts are scaled by the initial counts first (identical for the full case, which
    starts from 5,000 as PhysiCell; the quick case starts from fewer cells).
    """
    if ref is None or not t_min:
        return {"reference": None}
    ours = {round(t, 6): n for t, n in zip(t_min, n_cells, strict=True)}
    scale = ref[0.0] / ours[0.0] if 0.0 in ours and 0.0 in ref else 1.0
    rows = []
    for t, r in sorted(ref.items()):
        if round(t, 6) in ours:
            n = ours[round(t, 6)] * scale
            rows.append((t, n, r, abs(n - r) / r))
    if not rows:
        return {"reference": str(REFERENCE_COUNTS), "compared": 0}
    worst = max(rows, key=lambda x: x[3])
    return {
        "reference": str(REFERENCE_COUNTS),
        "compared": len(rows),
        "max_rel_dev": worst[3],
        "max_rel_dev_at_min": worst[0],
        "by_hour": [
            {"t_min": t, "ours_scaled": n, "physicell": r} for t, n, r, _ in rows
        ],
    }


# --------------------------------------------------------------------------- cases


def _physicell(spec: dict[str, Any]) -> dict[str, Any]:
    import numba

    from metastroma.runner import run

    threads = int(spec["threads"])
    sc = physicell_scenario(bool(spec["quick"]))
    k = sc.time.mechanics_per_phenotype
    with tempfile.TemporaryDirectory(prefix="metastroma-bench-") as tmp:
        t0 = time.perf_counter()
        run(tiny_version(sc), Path(tmp) / "warmup", threads=threads)
        warmup_s = time.perf_counter() - t0
        rss_before_mb = peak_rss_mb()

        blocks: list[int] = []

        def progress(step: int, n_steps: int, n_cells: int) -> None:
            blocks.append(n_cells)  # the count during that block's mechanics steps

        c0, t0 = cpu_s(), time.perf_counter()
        result = run(sc, Path(tmp) / "run", threads=threads, progress=progress)
        wall = time.perf_counter() - t0
        cpu = cpu_s() - c0
    cell_steps = k * sum(blocks)
    m = result.metrics
    counts = compare_counts(
        list(m.get("t_min", [])), list(m.get("n_cells", [])), read_reference_counts()
    )
    peak = peak_rss_mb()
    n0 = sum(p.n_cells for p in sc.initial_cells)
    return {
        "scenario": sc.name,
        "threads": threads,
        "threading_layer": numba.threading_layer(),
        "cells_initial": n0,
        "cells_final": result.n_cells,
        "steps": result.n_steps,
        "cell_steps": cell_steps,
        "wall_s": wall,
        "cpu_s": cpu,
        "us_per_cell_step": 1e6 * wall / cell_steps if cell_steps else None,
        "runner_wall_s": result.wall_s,
        "warmup_s": warmup_s,
        "peak_mb": peak,
        "peak_mb_before_timed_run": rss_before_mb,
        "counts": counts,
        "metrics_t_min": list(m.get("t_min", [])),
        "metrics_n_cells": list(m.get("n_cells", [])),
    }


def _physicell_cli(spec: dict[str, Any]) -> dict[str, Any]:
    """Time ``metastroma run`` as a subprocess (cache warm: after ``physicell``)."""
    import pyarrow.parquet as pq

    from metastroma.config.loader import save_scenario

    threads = int(spec["threads"])
    quick = bool(spec["quick"])
    sc = physicell_scenario(quick)
    exe = Path(sys.executable).with_name("metastroma")
    cmd_head = [str(exe)] if exe.is_file() else [sys.executable, "-m", "metastroma.cli"]
    with tempfile.TemporaryDirectory(prefix="metastroma-bench-") as tmp:
        if quick:
            path = Path(tmp) / "physicell_quick.yaml"
            save_scenario(sc, path)
        else:
            path = PHYSICELL_SCENARIO
        out = Path(tmp) / "run"
        cmd = [
            *cmd_head,
            "run",
            str(path),
            "--out",
            str(out),
            "--threads",
            str(threads),
        ]
        log = Path(tmp) / "log.txt"
        with log.open("wb") as fh:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
            code, usage = wait_with_usage(proc, None)
            wall = time.perf_counter() - t0
        text = log.read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{text[-3000:]}")
        manifest = json.loads((out / "manifest.json").read_text())
        table = pq.read_table(out / "metrics.parquet").to_pydict()
    t_min = [float(x) for x in table.get("t_min", [])]
    n_cells = [float(x) for x in table.get("n_cells", [])]
    return {
        "command": " ".join(cmd[1:] if exe.is_file() else cmd),
        "threads": threads,
        "cells_initial": sum(p.n_cells for p in sc.initial_cells),
        "cells_final": int(manifest["n_cells"]),
        "steps": int(manifest["step"]),
        "wall_s": wall,
        "manifest_wall_s": manifest.get("wall_s"),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024.0,
        "counts": compare_counts(t_min, n_cells, read_reference_counts()),
        "metrics_t_min": t_min,
        "metrics_n_cells": n_cells,
        "log_tail": text[-400:],
    }


class _KernelTimer:
    """Wraps each backend function with a wall-clock accumulator (≈1 µs per call)."""

    def __init__(self) -> None:
        self.s: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any) -> Any:
            t = time.perf_counter()
            out = fn(*args)
            self.s[name] += time.perf_counter() - t
            self.calls[name] += 1
            return out

        return timed

    def reset(self) -> None:
        self.s.clear()
        self.calls.clear()


def _mechanics(spec: dict[str, Any]) -> dict[str, Any]:
    import numba
    import numpy as np

    from metastroma.kernels import get_backend
    from metastroma.runner import set_threads
    from metastroma.tissue.simulation import TissueSimulation

    n, dim = int(spec["n_cells"]), int(spec["dim"])
    threads = set_threads(int(spec["threads"]))
    target_s = float(spec["target_s"])
    warmup_steps = int(spec.get("warmup_steps", 3))
    max_steps = int(spec.get("max_steps", 2000))
    min_steps = int(spec.get("min_steps", 3))

    # compile / load every kernel on a tiny version first: then warm-up is just that
    t0 = time.perf_counter()
    tiny = TissueSimulation.from_scenario(mechanics_scenario(64, dim))
    for _ in range(2):
        tiny.mechanics_step()
    compile_or_load_s = time.perf_counter() - t0
    del tiny

    sc = mechanics_scenario(n, dim)
    timer = _KernelTimer()
    cpu = get_backend("cpu")
    backend = dataclasses.replace(
        cpu,
        **{
            f.name: timer.wrap(f.name, getattr(cpu, f.name))
            for f in dataclasses.fields(cpu)
            if f.name != "name"
        },
    )
    t0 = time.perf_counter()
    sim = TissueSimulation.from_scenario(sc, backend=backend)
    build_s = time.perf_counter() - t0
    sort_every = sc.numerics.sort_every_steps

    t0 = time.perf_counter()
    for _ in range(warmup_steps):
        sim.mechanics_step()
    warm_s = time.perf_counter() - t0
    per_step_guess = warm_s / max(warmup_steps, 1)
    steps = int(
        min(max_steps, max(min_steps, math.ceil(target_s / max(per_step_guess, 1e-9))))
    )

    timer.reset()
    first_step = sim.step
    c0, t0 = cpu_s(), time.perf_counter()
    for _ in range(steps):
        sim.mechanics_step()
    wall = time.perf_counter() - t0
    cpu = cpu_s() - c0
    sorted_steps = sum(
        1 for s in range(first_step, first_step + steps) if s % sort_every == 0
    )
    kernel_s = dict(timer.s)
    kernel_calls = dict(timer.calls)

    # the reorder by bin (every sort_every steps) on its own, amortised below
    grid = sim.neighbour_grid()
    t0 = time.perf_counter()
    sim.cells.permute(grid.order)
    permute_s = time.perf_counter() - t0

    kernels = {
        name: {"s_per_step": kernel_s[name] / steps, "calls": kernel_calls[name]}
        for name in sorted(kernel_s)
    }
    other = wall - sum(kernel_s.values())
    kernels["other"] = {
        "s_per_step": other / steps,
        "calls": steps,
    }  # Python, row permutes
    lower = np.asarray(sc.domain.lower_um)
    upper = np.asarray(sc.domain.upper_um)
    per_cell = float(np.prod(upper - lower)) / n
    pos = sim.cells.live("pos_um")
    return {
        "dim": dim,
        "cells": n,
        "threads": threads,
        "threading_layer": numba.threading_layer(),
        "domain_side_um": float(upper[0] - lower[0]),
        "voxel_um": sc.domain.voxel_um,
        "um_per_cell": per_cell,  # µm² (2D) or µm³ (3D) per cell
        "neighbour_bins": [int(b) for b in sim.n_bins],
        "bin_um": [float(b) for b in sim.bin_um],
        "build_s": build_s,
        "compile_or_load_s": compile_or_load_s,
        "warmup_steps": warmup_steps,
        "warmup_s": warm_s,
        "steps": steps,
        "steps_with_sort": sorted_steps,
        "sort_every_steps": sort_every,
        "wall_s": wall,
        "cpu_s": cpu,
        "s_per_step": wall / steps,
        "us_per_cell_step": 1e6 * wall / (steps * n),
        "permute_s": permute_s,
        "permute_s_amortised_per_step": permute_s / sort_every,
        "kernels": kernels,
        "finite": bool(np.isfinite(pos).all()),
        "peak_mb": peak_rss_mb(),
    }


def _compile(spec: dict[str, Any]) -> dict[str, Any]:
    """First block (every kernel, all writers) of the tiny PhysiCell-like run and a 3D
    mechanics step, in this fresh process; the caller sets NUMBA_CACHE_DIR."""
    t0 = time.perf_counter()
    import numba

    from metastroma.runner import run
    from metastroma.tissue.simulation import TissueSimulation

    import_s = time.perf_counter() - t0
    threads = int(spec["threads"])
    sc = tiny_version(physicell_scenario(True))
    with tempfile.TemporaryDirectory(prefix="metastroma-bench-") as tmp:
        t0 = time.perf_counter()
        run(sc, Path(tmp) / "run", threads=threads)
        first_run_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim3 = TissueSimulation.from_scenario(mechanics_scenario(64, 3))
    sim3.mechanics_step()
    first_3d_step_s = time.perf_counter() - t0
    return {
        "cache": spec["cache"],
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "threading_layer": numba.threading_layer(),
        "import_s": import_s,
        "first_run_s": first_run_s,
        "first_3d_step_s": first_3d_step_s,
        "total_s": import_s + first_run_s + first_3d_step_s,
        "peak_mb": peak_rss_mb(),
    }


CASES = {
    "physicell": _physicell,
    "physicell_cli": _physicell_cli,
    "mechanics": _mechanics,
    "compile": _compile,
}


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this (child) process."""
    load_start = os.getloadavg()[0]
    out = CASES[spec["case"]](spec)
    out["case_spec"] = spec
    out["loadavg_1min"] = {"start": load_start, "end": os.getloadavg()[0]}
    return out
