"""Speed of the DDR2 tissue model (issue: DDR2 tissue model, "Speed").

Two cases, each in its own child process (so that peak memory is its own), after a short
warm-up run in the same process that compiles or loads every kernel:

- ``overhead``: the PhysiCell-comparison case (scenarios/physicell_template_5k.yaml, 5,000
  → ~9,000 cells, 1 simulated day, full outputs) run twice with ``runner.run``: the tissue
  engine alone, and with DDR2, the collagen field and intravasation switched on (doorways
  at 20 per mm²). Target: stroma / engine ≤ 1.5.
- ``growth``: a 2D wild-type tumour with MSCs and collagen (1,000 cancer cells, 100 DDR2+
  MSCs, vessels at 100 per mm²) grown for 10 simulated days. Target: ≥ 20,000 cells and
  ≤ 600 s on this 2-core machine.

Usage::

    .venv/bin/python benchmarks/ddr2_bench.py                 # both cases
    .venv/bin/python benchmarks/ddr2_bench.py --cases overhead
    .venv/bin/python benchmarks/ddr2_bench.py --quick         # 2 h / 1 day versions

Results: a table on stdout and ``benchmarks/results/ddr2_bench.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_OVERHEAD = 1.5
TARGET_GROWTH_CELLS = 20_000
TARGET_GROWTH_S = 600.0


def _stroma_overrides(sc: Any) -> Any:
    from metastroma.config import scenario_from_dict

    d = sc.model_dump(mode="json")
    d["ddr2"] = {"enabled": True}
    d["ecm"] = {"enabled": True}
    d["intravasation"] = {"enabled": True, "doorway_density_per_mm2": 20.0}
    return scenario_from_dict(d, "physicell_template_5k+stroma")


def growth_scenario(days: float) -> Any:
    """The 10-day growth case: 1,000 cancer cells and 100 MSCs in a 4 × 4 mm domain."""
    from metastroma.config import scenario_from_dict

    d = {
        "name": "ddr2_growth_2d",
        "seed": 7,
        "domain": {"lower_um": [-2000, -2000], "upper_um": [2000, 2000]},
        "time": {"duration_min": days * 1440.0},
        "oxygen": {"vessels": {"density_per_mm2": 100.0}},
        "cell_types": {"cancer": {}, "msc": {}},
        "initial_cells": [
            {
                "kind": "cancer",
                "n_cells": 1000,
                "radius_um": 280,
                "relax_overlaps": True,
            },
            {
                "kind": "msc",
                "shape": "ring",
                "n_cells": 100,
                "inner_radius_um": 250,
                "radius_um": 400,
            },
        ],
        "ddr2": {"enabled": True},
        "ecm": {"enabled": True},
        "intravasation": {"enabled": True, "doorway_density_per_mm2": 2.5},
        "output": {
            "metrics_every_min": 360,
            "snapshot_every_min": 1440,
            "fields_every_min": 1440,
            "checkpoint_every_min": 1440,
        },
    }
    return scenario_from_dict(d, "ddr2_growth_2d")


def _warm(sc: Any, tmp: Path) -> None:
    """Compile or load every kernel: a few blocks of a tiny version of ``sc``."""
    from metastroma.config import scenario_from_dict
    from metastroma.runner import run

    d = sc.model_dump(mode="json")
    d["time"]["duration_min"] = 36.0
    for p in d["initial_cells"]:
        p["n_cells"] = min(p.get("n_cells", 100), 60)
    d["output"] = dict.fromkeys(d["output"], 12.0)
    run(scenario_from_dict(d, "warm"), tmp / "warm", force=True)


def _timed_run(sc: Any, tmp: Path, name: str) -> dict[str, Any]:
    from metastroma.runner import run

    cell_steps = [0]
    k = sc.time.mechanics_per_phenotype

    def progress(step: int, n_steps: int, n_cells: int) -> None:
        cell_steps[0] += n_cells * k

    t0 = time.perf_counter()
    res = run(sc, tmp / name, force=True, threads=2, progress=progress)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "n_cells_start": res.metrics["n_cells"][0],
        "n_cells_end": res.n_cells,
        "us_per_cell_step": 1e6 * wall / max(cell_steps[0], 1),
    }


def child(case: str, quick: bool) -> dict[str, Any]:
    from metastroma.config import load_scenario

    out: dict[str, Any] = {"case": case}
    with tempfile.TemporaryDirectory(prefix="metastroma-ddr2-bench-") as t:
        tmp = Path(t)
        if case in ("engine", "stroma"):
            sc = load_scenario(REPO / "scenarios" / "physicell_template_5k.yaml")
            if quick:
                sc = sc.model_copy(
                    update={"time": sc.time.model_copy(update={"duration_min": 120.0})}
                )
            if case == "stroma":
                sc = _stroma_overrides(sc)
        else:
            sc = growth_scenario(1.0 if quick else 10.0)
        _warm(sc, tmp)
        out.update(_timed_run(sc, tmp, case))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def run_child(case: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as t:
        path = Path(t) / "r.json"
        env = os.environ.copy()
        env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
        # the wait policy the `metastroma` CLI runs with (PASSIVE) unless the caller set
        # one: what a user of the CLI gets
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        cmd = [sys.executable, __file__, "--child", case, "--child-out", str(path)]
        if quick:
            cmd.append("--quick")
        proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"case": case, "error": proc.stderr[-3000:]}
        return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="overhead,growth")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child")
    ap.add_argument("--child-out")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/ddr2_bench.json"))
    args = ap.parse_args(argv)
    if args.child:
        res = child(args.child, args.quick)
        Path(args.child_out).write_text(json.dumps(res))
        return 0
    cases = args.cases.split(",")
    results: dict[str, Any] = {
        "quick": args.quick,
        "load": os.getloadavg(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
    }
    failed = False
    if "overhead" in cases:
        e = run_child("engine", args.quick)
        s = run_child("stroma", args.quick)
        results["engine"], results["stroma"] = e, s
        if "error" in e or "error" in s:
            print(e.get("error", ""), s.get("error", ""))
            failed = True
        else:
            ratio = s["wall_s"] / e["wall_s"]
            results["overhead_ratio"] = ratio
            print(
                f"PhysiCell case: engine {e['wall_s']:.1f} s ({e['n_cells_end']} cells, "
                f"{e['peak_mb']:.0f} MB), with DDR2+collagen+intravasation "
                f"{s['wall_s']:.1f} s ({s['n_cells_end']} cells, {s['peak_mb']:.0f} MB): "
                f"ratio {ratio:.2f} (target <= {TARGET_OVERHEAD}) "
                f"{'PASS' if ratio <= TARGET_OVERHEAD else 'FAIL'}"
            )
    if "growth" in cases:
        g = run_child("growth", args.quick)
        results["growth"] = g
        if "error" in g:
            print(g["error"])
            failed = True
        else:
            ok = (
                g["n_cells_end"] >= TARGET_GROWTH_CELLS
                and g["wall_s"] <= TARGET_GROWTH_S
            )
            print(
                f"growth ({'1 day, quick' if args.quick else '10 days'}): "
                f"{g['n_cells_start']:.0f} -> {g['n_cells_end']} cells in "
                f"{g['wall_s']:.0f} s, {g['us_per_cell_step']:.3f} µs per cell-step, "
                f"{g['peak_mb']:.0f} MB (target >= {TARGET_GROWTH_CELLS} cells in "
                f"<= {TARGET_GROWTH_S:.0f} s) {'PASS' if ok or args.quick else 'FAIL'}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
