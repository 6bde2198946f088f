"""Speed and memory of the virtual-cohort simulation (metastroma.body.simulate_cohort).

Simulates cohorts of 10³, 10⁴ and 10⁵ patients of the DEFAULT cohort scenario
(``CohortScenario()``: reference anatomy, calibrated defaults, 15-year follow-up). Each size
runs in its own child process, so that its peak memory is its own: the child first calls
``simulate_cohort`` on 200 patients (numba compilation or cache load, imports; reported as
``warm-up s``, never mixed with the timed number), then times one call on N patients.

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/body_bench.py [--sizes 1000,10000]

Memory is the child's peak resident set size, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
read at its end: it includes the interpreter, the imports and the compiled kernels
(``rss after warm-up`` gives that baseline). Prints a table and writes
``benchmarks/results/body.json`` atomically. Targets (issue 4, 2 cores): 10⁵ patients ≤ 30 s
and ≤ 2 GB peak; cost linear in patients (µs per patient flat across sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
# two numba threads on two cores: passive waiting, as the CLI does (benchmarks/README.md)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SIZES = (1_000, 10_000, 100_000)
WARM_UP_PATIENTS = 200
TARGET_WALL_S = 30.0
TARGET_PEAK_MB = 2048.0
TARGET_SIZE = 100_000
RESULTS = REPO / "benchmarks" / "results" / "body.json"


def _rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(n_patients: int, seed: int) -> dict[str, Any]:
    """Warm up, then time one cohort of ``n_patients`` (runs in a fresh process)."""
    t0 = time.perf_counter()
    import numba

    from metastroma.body.cohort import simulate_cohort
    from metastroma.config.cohort import CohortScenario

    sc = CohortScenario(seed=seed)
    simulate_cohort(sc, WARM_UP_PATIENTS, first_patient=10**9)  # other patients
    warm_s = time.perf_counter() - t0
    rss_warm = _rss_mb()
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = simulate_cohort(sc, n_patients)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    pat = res.patients
    return {
        "patients": n_patients,
        "wall_s": wall,
        "cpu_s": cpu,
        "us_per_patient": 1e6 * wall / n_patients,
        "patients_per_s": n_patients / wall,
        "colonies": int(pat["n_colonies"].sum()),
        "colonies_listed": len(res.metastases),
        "max_colonies_per_patient": int(pat["n_colonies"].max()),
        "distant_metastasis_share": float(
            pat["time_to_distant_metastasis_days"].notna().mean()
        ),
        "peak_rss_mb": _rss_mb(),
        "rss_after_warm_up_mb": rss_warm,
        "warm_up_s": warm_s,
        "follow_up_years": sc.follow_up_years,
        "numba_threads": numba.get_num_threads(),
        "threading_layer": _threading_layer(numba),
    }


def _threading_layer(numba: Any) -> str:
    try:
        return str(numba.threading_layer())
    except ValueError:  # no parallel region has run
        return "unknown"


def run_size(n: int, seed: int, timeout: float) -> dict[str, Any]:
    """One size in a child process; its result, or the error it printed."""
    with tempfile.TemporaryDirectory(prefix="metastroma-body-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)]
        cmd += ["--seed", str(seed), "--child-out", str(out)]
        try:
            proc = subprocess.run(
                cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"patients": n, "error": f"timed out after {timeout:g} s"}
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stdout + proc.stderr)[-2000:]
            return {"patients": n, "error": f"exit {proc.returncode}: {tail}"}
        return dict(json.loads(out.read_text()))


def _write_atomic(path: Path, record: dict[str, Any]) -> None:
    from metastroma.store.atomic import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="s per size")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        result = child(args.child, args.seed)
        args.child_out.write_text(json.dumps(result))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(
        f"{'patients':>9} {'wall s':>8} {'µs/patient':>11} {'patients/s':>11} "
        f"{'colonies':>10} {'peak MB':>8} {'warm-up s':>9}  notes"
    )
    rows = []
    for n in sizes:  # a few sizes
        r = run_size(n, args.seed, args.timeout)
        rows.append(r)
        if "error" in r:
            print(f"{n:>9} ERROR: {r['error'][-300:]}")
            continue
        notes = f"cpu×wall {r['cpu_s'] / r['wall_s']:.2f}"
        if n == TARGET_SIZE:
            ok = r["wall_s"] <= TARGET_WALL_S and r["peak_rss_mb"] <= TARGET_PEAK_MB
            r["pass"] = ok
            notes += f"; target ≤ {TARGET_WALL_S:g} s, ≤ 2 GB: " + (
                "PASS" if ok else "FAIL"
            )
        print(
            f"{n:>9} {r['wall_s']:>8.2f} {r['us_per_patient']:>11.1f} "
            f"{r['patients_per_s']:>11.0f} {r['colonies']:>10} "
            f"{r['peak_rss_mb']:>8.0f} {r['warm_up_s']:>9.1f}  {notes}"
        )
    done = [r for r in rows if "error" not in r and r["patients"] >= 10_000]
    flat = None
    if len(done) >= 2:  # µs per patient at 10⁴ and above (10³ is overhead-bound)
        us = [r["us_per_patient"] for r in done]
        flat = max(us) / min(us)
        print(f"linearity: max/min µs per patient over sizes ≥ 10⁴ = {flat:.2f}")
    record = {
        "cases": rows,
        "linearity_max_over_min": flat,
        "memory": "peak RSS of each child process (resource.getrusage ru_maxrss)",
        "scenario": "CohortScenario() defaults, seed " + str(args.seed),
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git": _git_commit(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        },
    }
    _write_atomic(args.out, record)
    print(f"wrote {args.out}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
