"""Scheduling overhead and parallel throughput of ensembles (metastroma.ensemble, issue 6).

Two measurements, each in a fresh child process (its own imports, numba cache load and,
with workers, its own Dask LocalCluster, all counted: what a user waits for):

1. **Overhead per member.** Sweeps of ``metastroma.ensemble.functions:noop`` members (a
   function that returns at once) of N₁ and N₂ members; the marginal cost per member is
   (T(N₂) − T(N₁)) / (N₂ − N₁): the scheduler round trip, the member directory, its
   member.json and member.log, the catalog's transactions and the progress callback,
   without the cluster's start-up. Measured with 2 workers and serially.
2. **Throughput.** 40 short tissue members (a 2D spheroid of 600 cells, 1 simulated day,
   members differing by motility speed and seed, full run directories) run serially in
   one process (``--workers 0``; numba on 1 and on 2 threads) and on a LocalCluster of 2
   workers (one numba thread each). Speed-up = serial wall / 2-worker wall, cluster start
   included. The serial baseline is the faster of the two thread counts.

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/ensemble_bench.py [--members 40]

Targets (issue 6, this 2-core machine): overhead ≤ 50 ms per member; 2 workers ≥ 1.7× the
serial throughput. Prints a table and writes ``benchmarks/results/ensemble.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
RESULTS = REPO / "benchmarks" / "results" / "ensemble.json"
TARGET_OVERHEAD_MS = 50.0
TARGET_SPEEDUP = 1.7

BASE = {
    "name": "bench_member",
    "seed": 1,
    "domain": {"lower_um": [-400, -400], "upper_um": [400, 400], "voxel_um": 20},
    "time": {"duration_min": 1440},
    "cell_types": {"cancer": {"motility": {"enabled": True, "speed_um_per_min": 0.5}}},
    "initial_cells": [
        {
            "kind": "cancer",
            "shape": "ball",
            "n_cells": 600,
            "radius_um": 210,
            "relax_overlaps": True,
        }
    ],
    "output": {
        "metrics_every_min": 120,
        "snapshot_every_min": 1440,
        "fields_every_min": 1440,
        "checkpoint_every_min": 720,
    },
}


def _child(sweep: str, out: str, workers: int, threads: int | None) -> dict[str, Any]:
    """Run one sweep in this (fresh) process; returns wall and counts."""
    t0 = time.perf_counter()
    if threads is not None:
        import numba

        numba.set_num_threads(threads)
    from metastroma.ensemble import run_sweep

    res = run_sweep(Path(sweep), Path(out), workers=workers)
    return {
        "wall_s": time.perf_counter() - t0,
        "members": res.members.n_members,
        "failed": res.members.n_failed,
    }


def _run_child(
    sweep: Path, out: Path, workers: int, threads: int | None
) -> dict[str, Any]:
    env = dict(os.environ)
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(max(threads, 1))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps([str(sweep), str(out), workers, threads]),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child failed:\n{proc.stdout}\n{proc.stderr}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    got["process_wall_s"] = wall
    return dict(got)


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def overhead(tmp: Path, sizes: tuple[int, int]) -> list[dict[str, Any]]:
    rows = []
    for workers in (2, 0):
        walls = []
        for n in sizes:
            sweep = _write(
                tmp / f"noop_{n}.yaml",
                {
                    "name": f"noop{n}",
                    "function": "metastroma.ensemble.functions:noop",
                    "design": "list",
                    "parameters": {"x": {"values": [float(i) for i in range(n)]}},
                },
            )
            got = _run_child(sweep, tmp / f"noop_{n}_w{workers}", workers, 1)
            walls.append(got["wall_s"])
        per = (walls[1] - walls[0]) / (sizes[1] - sizes[0])
        rows.append(
            {
                "case": f"overhead, {workers or 'serial'} workers",
                "members": f"{sizes[0]} / {sizes[1]}",
                "wall_s": f"{walls[0]:.2f} / {walls[1]:.2f}",
                "per_member_ms": 1000 * per,
                "pass": 1000 * per <= TARGET_OVERHEAD_MS,
            }
        )
    return rows


def throughput(tmp: Path, n_members: int) -> list[dict[str, Any]]:
    base = _write(tmp / "base.yaml", BASE)
    n_points = max(n_members // 2, 1)
    speeds = [round(0.2 + 0.6 * i / max(n_points - 1, 1), 4) for i in range(n_points)]
    sweep = _write(
        tmp / "tissue.yaml",
        {
            "name": "throughput",
            "base": str(base),
            "parameters": {
                "cell_types.cancer.motility.speed_um_per_min": {"values": speeds}
            },
            "replicates": 2,
            "outcomes": ["n_live", "tumour_radius_um"],
        },
    )
    out = []
    # warm the numba cache for this scenario once (not timed)
    _run_child(
        _write(
            tmp / "warm.yaml",
            {
                **yaml.safe_load(sweep.read_text()),
                "replicates": 1,
                "parameters": {
                    "cell_types.cancer.motility.speed_um_per_min": {"values": [0.5]}
                },
            },
        ),
        tmp / "warm",
        0,
        1,
    )
    for label, workers, threads in (
        ("serial, 1 thread", 0, 1),
        ("serial, 2 threads", 0, 2),
        ("2 workers × 1 thread", 2, 1),
    ):
        got = _run_child(sweep, tmp / f"tissue_{workers}_{threads}", workers, threads)
        got["case"] = f"throughput, {label}"
        got["members_per_min"] = 60.0 * got["members"] / got["wall_s"]
        out.append(got)
    serial = min(r["wall_s"] for r in out[:2])
    out[2]["speedup"] = serial / out[2]["wall_s"]
    out[2]["pass"] = out[2]["speedup"] >= TARGET_SPEEDUP
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=40, help="tissue members (even)")
    ap.add_argument("--noop", default="40,440", help="noop sweep sizes N1,N2")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sweep, out, workers, threads = json.loads(args.child)
        print(json.dumps(_child(sweep, out, workers, threads)))
        return 0
    n1, n2 = (int(x) for x in args.noop.split(","))
    with tempfile.TemporaryDirectory(prefix="metastroma-ens-bench-") as tmp_s:
        tmp = Path(tmp_s)
        rows_o = overhead(tmp, (n1, n2))
        rows_t = throughput(tmp, args.members)
    print(f"{'case':<38}{'members':>12}{'wall s':>16}{'result':>26}")
    for r in rows_o:
        verdict = "PASS" if r["pass"] else "FAIL"
        print(
            f"{r['case']:<38}{r['members']:>12}{r['wall_s']:>16}"
            f"{r['per_member_ms']:>14.1f} ms/member {verdict}"
        )
    for r in rows_t:
        extra = (
            f"{r['speedup']:.2f}× {'PASS' if r['pass'] else 'FAIL'}"
            if "speedup" in r
            else f"{r['members_per_min']:.1f} members/min"
        )
        print(f"{r['case']:<38}{r['members']:>12}{r['wall_s']:>16.1f}{extra:>26}")
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "python": platform.python_version(),
        },
        "targets": {"overhead_ms": TARGET_OVERHEAD_MS, "speedup": TARGET_SPEEDUP},
        "overhead": rows_o,
        "throughput": rows_t,
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    from metastroma.store.atomic import write_json_atomic

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS, doc)
    print(f"written {RESULTS}")
    ok = all(r["pass"] for r in rows_o) and rows_t[2]["pass"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
