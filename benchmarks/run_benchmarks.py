"""Speed and memory benchmarks of metastroma (STYLE.md §5); see benchmarks/README.md.

    python benchmarks/run_benchmarks.py                      # everything, full sizes
    python benchmarks/run_benchmarks.py --quick              # small sizes, < 1 min
    python benchmarks/run_benchmarks.py --cases physicell,scaling2d --threads 2

Each case runs in its own child process (peak memory per case). Prints a table (case,
cells, steps, wall s, µs per cell-step, peak MB, notes) and writes the same, with
machine information and per-kernel timings, to benchmarks/results/benchmarks.json
(atomically).
Compilation is kept out of every timed number and reported in its own table.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# before anything imports numba, here and in every child (they inherit the environment)
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
sys.path.insert(0, str(HERE))

import _cases  # noqa: E402  (after NUMBA_CACHE_DIR is set and benchmarks/ is on the path)

ALL_CASES = ("physicell", "scaling2d", "scaling3d", "compile")
DEFAULT_CASES = ("physicell", "scaling2d", "scaling3d", "compile")
QUICK_DEFAULT_CASES = ("physicell", "scaling2d", "scaling3d")
RESULTS = HERE / "results" / "benchmarks.json"

SIZES_2D = (1_000, 10_000, 100_000, 1_000_000)
SIZES_3D = (1_000_000,)
QUICK_SIZES_2D = (1_000, 10_000)
QUICK_SIZES_3D = (10_000,)


# --------------------------------------------------------------------------- children


def run_child_process(
    spec: dict[str, Any],
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one case in a fresh interpreter; its result (or error) as a dict.

    Adds ``child_process_s`` (whole child, interpreter start included), ``child_cpu_s``
    and ``child_maxrss_mb`` (``wait4``: that child alone; cross-checks ``peak_mb``).
    """
    with tempfile.TemporaryDirectory(prefix="metastroma-bench-") as tmp:
        out = Path(tmp) / "result.json"
        log = Path(tmp) / "log.txt"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            json.dumps(spec),
            "--child-out",
            str(out),
        ]
        t0 = time.perf_counter()
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                cmd,
                env=env or os.environ.copy(),
                cwd=REPO,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
            code, usage = _cases.wait_with_usage(proc, timeout)
        process_s = time.perf_counter() - t0
        tail = log.read_text(errors="replace")[-3000:]
        if code is None:
            return {"case_spec": spec, "error": f"timed out after {timeout} s:\n{tail}"}
        if code != 0 or not out.is_file():
            return {"case_spec": spec, "error": f"child exited {code}:\n{tail}"}
        result = json.loads(out.read_text())
    result["child_process_s"] = process_s
    if usage is not None:
        result["child_cpu_s"] = usage.ru_utime + usage.ru_stime
        result["child_maxrss_mb"] = usage.ru_maxrss / 1024.0
    return result


def child_main(spec_json: str, out_path: str) -> int:
    spec = json.loads(spec_json)
    result = _cases.run_child(spec)
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, out_path)
    return 0


def child_env(threads: int) -> dict[str, str]:
    env = os.environ.copy()
    if "NUMBA_NUM_THREADS" not in env and threads > (os.cpu_count() or 1):
        env["NUMBA_NUM_THREADS"] = str(threads)  # oversubscribed: allowed, but noted
    return env


# --------------------------------------------------------------------------- rows


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def row(
    case: str,
    cells: str,
    steps: Any,
    wall: Any,
    us: Any,
    peak: Any,
    notes: str,
    ok: bool | None = None,
) -> dict[str, Any]:
    return {
        "case": case,
        "cells": cells,
        "steps": steps,
        "wall_s": wall,
        "us_per_cell_step": us,
        "peak_mb": peak,
        "notes": notes,
        "pass": ok,
    }


def physicell_rows(
    res: dict[str, Any], cli: dict[str, Any] | None, quick: bool
) -> list[dict]:
    rows = []
    label = "physicell (2 h, quick)" if quick else "physicell (1 day)"
    if "error" in res:
        return [row(label, "—", None, None, None, None, "ERROR: " + res["error"][:200])]
    c = res["counts"]
    dev = c.get("max_rel_dev")
    dev_txt = (
        f"count dev ≤ {100 * dev:.1f}% (max at t={c['max_rel_dev_at_min']:g} min)"
        if dev is not None
        else "no reference counts"
    )
    wall, peak = res["wall_s"], res["peak_mb"]
    ok = None
    notes = [f"runner.run, {res['threads']} threads, CPU {res['cpu_s']:.1f} s", dev_txt]
    if not quick:
        ok = (
            wall <= _cases.TARGET_PHYSICELL_WALL_S
            and peak <= _cases.TARGET_PHYSICELL_PEAK_MB
        )
        notes.append(
            f"target ≤ {_cases.TARGET_PHYSICELL_WALL_S:g} s, ≤ 1 GB: "
            + ("PASS" if ok else "FAIL")
        )
    rows.append(
        row(
            label,
            f"{res['cells_initial']}→{res['cells_final']}",
            res["steps"],
            wall,
            res["us_per_cell_step"],
            peak,
            "; ".join(notes),
            ok,
        )
    )
    if cli is not None:
        if "error" in cli:
            rows.append(
                row(
                    label + " CLI",
                    "—",
                    None,
                    None,
                    None,
                    None,
                    "ERROR: " + cli["error"][:200],
                )
            )
        else:
            cs = res.get("cell_steps")
            same = cli["metrics_n_cells"] == res["metrics_n_cells"]
            us = 1e6 * cli["wall_s"] / cs if cs and same else None
            notes = [
                f"whole process `metastroma run`, cache warm, {cli['threads']} threads",
                f"CPU {cli['cpu_s']:.1f} s",
                "counts identical to runner.run"
                if same
                else "COUNTS DIFFER from runner.run",
            ]
            rows.append(
                row(
                    label + " CLI",
                    f"{cli['cells_initial']}→{cli['cells_final']}",
                    cli["steps"],
                    cli["wall_s"],
                    us,
                    cli["peak_mb"],
                    "; ".join(notes),
                )
            )
    return rows


def mechanics_rows(results: list[dict[str, Any]], dim: int) -> list[dict]:
    rows = []
    for r in results:
        spec = r["case_spec"]
        label = f"mechanics {dim}D"
        if "error" in r:
            rows.append(
                row(
                    label,
                    f"{spec['n_cells']:,}",
                    None,
                    None,
                    None,
                    None,
                    "ERROR: " + r["error"][:200],
                )
            )
            continue
        notes = [
            f"{r['s_per_step']:.4g} s/step, CPU {r['cpu_s'] / r['wall_s']:.2f}× wall"
        ]
        ok = None
        if dim == 2 and r["cells"] == 1_000_000:
            ok = r["s_per_step"] <= _cases.TARGET_MECH_2D_1E6_S_PER_STEP
            notes.append(
                f"target ≤ {_cases.TARGET_MECH_2D_1E6_S_PER_STEP:g} s/step: "
                + ("PASS" if ok else "FAIL")
            )
        if r["steps_with_sort"]:
            notes.append(f"{r['steps_with_sort']} sort step(s) timed")
        if not r["finite"]:
            notes.append("NON-FINITE POSITIONS")
            ok = False
        rows.append(
            row(
                label,
                f"{r['cells']:,}",
                r["steps"],
                r["wall_s"],
                r["us_per_cell_step"],
                r["peak_mb"],
                "; ".join(notes),
                ok,
            )
        )
    return rows


def scaling_summary(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    good = [r for r in results if "error" not in r]
    if len(good) < 2:
        return None
    us = [r["us_per_cell_step"] for r in good]
    ratio = max(us) / min(us)
    return {
        "cells": [r["cells"] for r in good],
        "us_per_cell_step": us,
        "relative_to_smallest": [u / us[0] for u in us],
        "max_over_min": ratio,
        "flat": ratio <= _cases.FLAT_SCALING_RATIO,
        "criterion": f"max/min µs per cell-step ≤ {_cases.FLAT_SCALING_RATIO:g}"
        " (the harness's own)",
    }


# --------------------------------------------------------------------------- printing

#: Backend kernels in call order, with short column labels.
KERNEL_LABELS = {
    "bin_of_cells": "bin",
    "counting_sort": "count sort",
    "contact_velocity": "contact",
    "motility_and_integrate": "motility+move",
    "other": "other",
}


def print_table(title: str, columns: list[str], body: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text
        widths = [
            max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)
        ]
        print(f"\n{title}")
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        for r in body:
            print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)))
        return
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        table.add_column(
            c,
            justify="left" if i in (0, len(columns) - 1) else "right",
            overflow="fold",
        )
    for r in body:
        table.add_row(*r)
    Console(
        width=max(
            100,
            min(200, os.get_terminal_size(0).columns if sys.stdout.isatty() else 160),
        )
    ).print(table)


def print_main(rows: list[dict[str, Any]]) -> None:
    body = [
        [
            r["case"],
            r["cells"],
            _fmt(r["steps"], "d"),
            _fmt(r["wall_s"], ".3f"),
            _fmt(r["us_per_cell_step"], ".4g"),
            _fmt(r["peak_mb"], ".0f"),
            r["notes"],
        ]
        for r in rows
    ]
    print_table(
        "metastroma benchmarks (compilation excluded)",
        ["case", "cells", "steps", "wall s", "µs per cell-step", "peak MB", "notes"],
        body,
    )


def print_scaling(
    results: list[dict[str, Any]], dim: int, summary: dict | None
) -> None:
    good = [r for r in results if "error" not in r]
    if not good:
        return
    present = {k for r in good for k in r["kernels"]}
    names = [k for k in KERNEL_LABELS if k in present] + sorted(
        present - set(KERNEL_LABELS)
    )
    body = []
    for r in good:
        rel = r["us_per_cell_step"] / good[0]["us_per_cell_step"]
        ks = [
            _fmt(
                1e6 * r["kernels"].get(k, {}).get("s_per_step", 0.0) / r["cells"], ".3g"
            )
            for k in names
        ]
        body.append(
            [
                f"{r['cells']:,}",
                f"{r['s_per_step']:.4g}",
                f"{r['us_per_cell_step']:.4g}",
                f"{rel:.2f}",
                *ks,
                f"{1e6 * r['permute_s_amortised_per_step'] / r['cells']:.3g}",
            ]
        )
    title = (
        f"mechanics {dim}D scaling: µs per cell-step, total and by kernel (timed in "
        "the same steps; 'row sort/k': the every-k-steps reorder, amortised)"
    )
    if summary is not None:
        title += (
            f" — max/min {summary['max_over_min']:.2f}: "
            + ("flat" if summary["flat"] else "NOT flat")
            + f" (criterion ≤ {_cases.FLAT_SCALING_RATIO:g})"
        )
    print_table(
        title,
        [
            "cells",
            "s/step",
            "µs/cell-step",
            "× smallest",
            *[KERNEL_LABELS.get(k, k) for k in names],
            "row sort/k",
        ],
        body,
    )


def print_compile(results: list[dict[str, Any]]) -> None:
    body = []
    for r in results:
        if "error" in r:
            body.append(
                [r["case_spec"]["cache"], "—", "—", "—", "ERROR: " + r["error"][:200]]
            )
            continue
        body.append(
            [
                r["cache"],
                f"{r['import_s']:.2f}",
                f"{r['first_run_s']:.2f}",
                f"{r['child_process_s']:.2f}",
                f"{r['peak_mb']:.0f}",
            ]
        )
    print_table(
        "compilation / start-up: a fresh process runs the tiny 50-cell PhysiCell-like "
        "warm-up run (every kernel, every writer); NOT in the timings above",
        ["numba cache", "import s", "first tiny run s", "whole process s", "peak MB"],
        body,
    )


# --------------------------------------------------------------------------- machine


def machine_info(threads: int) -> dict[str, Any]:
    import numba
    import numpy

    try:
        from importlib.metadata import version

        ms_version = version("metastroma")
    except Exception:  # not installed: not fatal for a benchmark
        ms_version = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = None, None
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "loadavg_at_start": load,
        "threads_requested": threads,
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "numpy": numpy.__version__,
        "metastroma": ms_version,
        "git_commit": commit,
        "git_dirty": dirty,
    }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=float)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (10³–10⁴ cells, a 2-hour PhysiCell-like case): smoke check",
    )
    p.add_argument(
        "--cases",
        default=None,
        help=f"comma-separated subset of {','.join(ALL_CASES)} (default: all; "
        f"with --quick: {','.join(QUICK_DEFAULT_CASES)})",
    )
    p.add_argument("--threads", type=int, default=2, help="numba threads (default 2)")
    p.add_argument(
        "--sizes2d", default=None, help="override 2D sizes, e.g. 1000,100000"
    )
    p.add_argument("--sizes3d", default=None, help="override 3D sizes")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="target timed seconds per mechanics case (default 4; quick 0.5)",
    )
    p.add_argument(
        "--no-cli", action="store_true", help="skip the `metastroma run` subprocess"
    )
    p.add_argument(
        "--out", type=Path, default=RESULTS, help=f"JSON path (default {RESULTS})"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _sizes(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not text:
        return default
    return tuple(int(float(x)) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.child_out)
    if args.threads < 1:
        raise SystemExit("--threads must be ≥ 1")
    cases = (
        tuple(args.cases.split(","))
        if args.cases
        else (QUICK_DEFAULT_CASES if args.quick else DEFAULT_CASES)
    )
    unknown = sorted(set(cases) - set(ALL_CASES))
    if unknown:
        raise SystemExit(
            f"unknown case(s) {unknown}; choose from {','.join(ALL_CASES)}"
        )
    quick = args.quick
    seconds = args.seconds if args.seconds is not None else (0.5 if quick else 4.0)
    env = child_env(args.threads)
    t_start = time.perf_counter()
    out: dict[str, Any] = {
        "schema": 1,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
        "cases": list(cases),
        "machine": machine_info(args.threads),
        "targets": {
            "physicell_wall_s": _cases.TARGET_PHYSICELL_WALL_S,
            "physicell_peak_mb": _cases.TARGET_PHYSICELL_PEAK_MB,
            "mechanics_2d_1e6_s_per_step": _cases.TARGET_MECH_2D_1E6_S_PER_STEP,
            "flat_scaling_max_over_min": _cases.FLAT_SCALING_RATIO,
        },
    }
    rows: list[dict[str, Any]] = []

    def log(msg: str) -> None:
        print(
            f"[{time.perf_counter() - t_start:7.1f} s] {msg}",
            file=sys.stderr,
            flush=True,
        )

    scaling: dict[int, list[dict[str, Any]]] = {}
    compile_results: list[dict[str, Any]] = []

    if "physicell" in cases:
        spec = {"case": "physicell", "quick": quick, "threads": args.threads}
        log("physicell: runner.run (after a warm-up run) ...")
        res = run_child_process(spec, env)
        cli = None
        if not args.no_cli:
            log("physicell: `metastroma run` subprocess ...")
            cli = run_child_process({**spec, "case": "physicell_cli"}, env)
        out["physicell"] = res
        out["physicell_cli"] = cli
        rows += physicell_rows(res, cli, quick)

    for dim, name, sizes in (
        (2, "scaling2d", _sizes(args.sizes2d, QUICK_SIZES_2D if quick else SIZES_2D)),
        (3, "scaling3d", _sizes(args.sizes3d, QUICK_SIZES_3D if quick else SIZES_3D)),
    ):
        if name not in cases:
            continue
        results = []
        for n in sizes:
            spec = {
                "case": "mechanics",
                "dim": dim,
                "n_cells": n,
                "threads": args.threads,
                "target_s": seconds,
                "warmup_steps": 3 if n < 1_000_000 else 2,
                "min_steps": 3,
                "max_steps": 5000,
            }
            log(f"{name}: {n:,} cells ...")
            results.append(run_child_process(spec, env))
        scaling[dim] = results
        out[name] = {"results": results, "summary": scaling_summary(results)}
        rows += mechanics_rows(results, dim)

    if "compile" in cases:
        with tempfile.TemporaryDirectory(prefix="metastroma-numba-cold-") as cold:
            log("compile: fresh process, empty numba cache (minutes) ...")
            compile_results.append(
                run_child_process(
                    {
                        "case": "compile",
                        "cache": "empty (cold compile)",
                        "threads": args.threads,
                    },
                    {**env, "NUMBA_CACHE_DIR": cold},
                )
            )
        log("compile: fresh process, warm numba cache ...")
        compile_results.append(
            run_child_process(
                {"case": "compile", "cache": "warm (load)", "threads": args.threads},
                env,
            )
        )
        out["compile"] = compile_results

    out["rows"] = rows
    out["total_s"] = time.perf_counter() - t_start
    write_json_atomic(args.out, out)

    if rows:
        print_main(rows)
    for dim, results in scaling.items():
        print_scaling(results, dim, out[f"scaling{dim}d"]["summary"])
    if compile_results:
        print_compile(compile_results)
    print(
        f"\nJSON: {args.out}   ({out['total_s']:.0f} s; machine load at start "
        f"{out['machine']['loadavg_at_start']})"
    )
    failed = any(str(r["notes"]).startswith("ERROR") for r in rows) or any(
        "error" in r for r in compile_results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
