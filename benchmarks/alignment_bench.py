"""Speed of the collagen-alignment analysis (metastroma.analysis).

Times ``analyse_image`` on 512² and 4096² images and ``field_alignment`` on a 1000² nematic
field: the median of a few repeats after one warm-up call (numba compilation or cache load
is excluded). Prints a table and writes ``benchmarks/results/alignment.json`` atomically.

    NUMBA_CACHE_DIR=.numba_cache .venv/bin/python benchmarks/alignment_bench.py [--repeats 5]

Targets (2 cores): 512² ≤ 0.1 s, 4096² ≤ 5 s, 1000² field ≤ 0.05 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))

import numba  # noqa: E402  (after NUMBA_CACHE_DIR)
import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from metastroma.analysis import analyse_image, field_alignment, nematic_from_angles  # noqa: E402


def fibre_image(n: int, seed: int) -> np.ndarray:
    """Random-ish fibre texture: smoothed noise stretched along a wobbly direction."""
    rng = np.random.default_rng(seed)
    noise = rng.random((n, n))
    return ndi.gaussian_filter(noise, sigma=(1.0, 4.0)) + 0.05 * noise


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up: compilation or cache load, page faults
    times = []
    for _ in range(repeats):  # a few repeats, not a loop over data
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "alignment.json"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    theta = ndi.gaussian_filter(rng.normal(size=(1000, 1000)), 20.0) * 2000.0
    q_xx, q_xy = nematic_from_angles(theta, rng.random((1000, 1000)))
    density = rng.random((1000, 1000))
    small, large = fibre_image(512, 0), fibre_image(4096, 0)
    cases = [
        (
            "analyse_image 512x512",
            0.1,
            lambda: analyse_image(small),
        ),
        (
            "analyse_image 4096x4096",
            5.0,
            lambda: analyse_image(large),
        ),
        (
            "field_alignment 1000x1000",
            0.05,
            lambda: field_alignment(q_xx, q_xy, density=density),
        ),
    ]
    rows = []
    print(f"{'case':<28} {'median s':>10} {'target s':>9}  status")
    for name, target, fn in cases:  # three cases
        reps = max(2, args.repeats // 2) if "4096" in name else args.repeats
        median, times = timed(fn, reps)
        status = "PASS" if median <= target else "FAIL"
        print(f"{name:<28} {median:>10.4f} {target:>9.3f}  {status}")
        rows.append(
            {
                "case": name,
                "median_s": median,
                "times_s": times,
                "target_s": target,
                "status": status,
            }
        )
    record = {
        "cases": rows,
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    with tmp.open("w") as fh:
        json.dump(record, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
