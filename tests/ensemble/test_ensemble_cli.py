"""End to end: ``metastroma sweep`` and ``metastroma sensitivity`` in subprocesses.

Exit codes (0 done, 1 failed members, 2 bad input, 130 interrupted), the files promised,
Ctrl-C (SIGINT) leaving a consistent catalog that a second run completes, and every
ensemble file shipped in scenarios/ loading cleanly.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    e["PYTHONPATH"] = os.pathsep.join([str(HERE), e.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return e


def cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metastroma.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env(),
        timeout=timeout,
        check=False,
    )


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def square_sweep(tmp: Path, **extra: Any) -> dict[str, Any]:
    (tmp / "logs").mkdir(exist_ok=True)
    doc: dict[str, Any] = {
        "name": "cli_sweep",
        "function": "ensemble_models:noisy_square",
        "parameters": {"x": {"values": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}},
        "fixed": {"log_dir": str(tmp / "logs")},
        "replicates": 2,
    }
    doc.update(extra)
    return doc


def test_sweep_cli_writes_every_promised_file(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", square_sweep(tmp_path))
    res = cli("sweep", path, "--out", tmp_path / "out", "--workers", "2")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out"
    for name in (
        "results.parquet",
        "summary.parquet",
        "summary.csv",
        "catalog.sqlite",
        "ensemble.json",
        "spec.yaml",
        "figures/y.png",
        "figures/z.png",
    ):
        assert (out / name).is_file(), name
    t = pd.read_parquet(out / "results.parquet")
    assert len(t) == 12 and (t["status"] == "done").all()
    assert "12 members: 12 run now, 0 already done, 0 failed" in " ".join(
        res.stdout.split()
    )
    again = cli("sweep", path, "--out", out, "--workers", "0", "--quiet")
    assert again.returncode == 0 and again.stdout == ""
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), t)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--workers", "-1"], "--workers -1: must be in 0..1024"),
        (["--scheduler", " "], "--scheduler: empty address"),
    ],
)
def test_sweep_cli_bad_options_exit_2(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    path = write(tmp_path / "s.yaml", square_sweep(tmp_path))
    res = cli("sweep", path, "--out", tmp_path / "out", *args)
    assert res.returncode == 2 and needle in res.stderr
    assert not (tmp_path / "out").exists()


def test_sweep_cli_bad_file_exit_2_names_line(tmp_path: Path) -> None:
    doc = {
        "name": "bad",
        "base": str(REPO / "scenarios" / "spheroid_2d.yaml"),
        "parameters": {"oxygen.far_feld_mmhg": {"values": [20, 38]}},
    }
    res = cli("sweep", write(tmp_path / "s.yaml", doc), "--out", tmp_path / "out")
    assert res.returncode == 2
    assert "s.yaml:4: parameters.oxygen.far_feld_mmhg" in res.stderr
    assert "oxygen.far_field_mmhg" in res.stderr
    missing = cli("sweep", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_unreachable_scheduler_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", square_sweep(tmp_path))
    res = cli(
        "sweep",
        path,
        "--out",
        tmp_path / "out",
        "--scheduler",
        "tcp://127.0.0.1:9",
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in res.stderr


def test_sweep_cli_failed_members_exit_1(tmp_path: Path) -> None:
    doc = square_sweep(tmp_path, function="ensemble_models:fails_at")
    doc["fixed"]["bad_x"] = 2.0
    res = cli(
        "sweep",
        write(tmp_path / "s.yaml", doc),
        "--out",
        tmp_path / "out",
        "--workers",
        "0",
    )
    assert res.returncode == 1
    assert (
        "member failed: 4 (seed 1): RuntimeError: member with x = 2.0 fails"
        in res.stderr
    )
    assert "m000004" in res.stderr and (tmp_path / "out" / "results.parquet").is_file()


def test_sigint_leaves_a_consistent_catalog_and_the_rerun_finishes(
    tmp_path: Path,
) -> None:
    doc = square_sweep(tmp_path)
    doc["fixed"]["sleep_s"] = 0.4
    path = write(tmp_path / "s.yaml", doc)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metastroma.cli",
            "sweep",
            str(path),
            "--out",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        # a suite started in the background by a non-interactive shell inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and done < 3:
        time.sleep(0.2)
        try:
            with sqlite3.connect(out / "catalog.sqlite", timeout=5) as db:
                done = db.execute(
                    "SELECT COUNT(*) FROM members WHERE status='done'"
                ).fetchone()[0]
        except sqlite3.Error:
            done = 0
    assert done >= 3, "the sweep did not get going"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to continue" in err
    with sqlite3.connect(out / "catalog.sqlite") as db:
        status = Counter(s for (s,) in db.execute("SELECT status FROM members"))
    assert set(status) <= {"done", "pending"} and 3 <= status["done"] < 12
    import json

    assert json.loads((out / "ensemble.json").read_text())["status"] == "interrupted"
    res = cli("sweep", path, "--out", out, "--workers", "2")
    assert res.returncode == 0, res.stderr
    assert f"{status['done']} already done" in " ".join(res.stdout.split())
    logs = {d.name: (d / "member.log").read_text() for d in (out / "members").iterdir()}
    assert len(logs) == 12
    assert all(text.count("] done in ") == 1 for text in logs.values())


def test_sensitivity_cli_morris_on_ishigami(tmp_path: Path) -> None:
    doc = {
        "name": "ish_morris",
        "function": "metastroma.ensemble.functions:ishigami",
        "method": "morris",
        "parameters": {f"x{i}": {"low": -3.14159, "high": 3.14159} for i in (1, 2, 3)},
        "samples": 30,
        "seed": 4,
    }
    res = cli(
        "sensitivity",
        write(tmp_path / "m.yaml", doc),
        "--out",
        tmp_path / "out",
        "--workers",
        "0",
    )
    assert res.returncode == 0, res.stderr
    idx = pd.read_csv(tmp_path / "out" / "indices.csv")
    mu_star = idx[idx["index"] == "mu_star"].set_index("parameter")["value"]
    assert set(mu_star.index) == {"x1", "x2", "x3"}
    assert mu_star["x3"] < mu_star["x2"]  # x3 acts only through its interaction with x1
    assert (tmp_path / "out" / "figures" / "indices.png").stat().st_size > 5_000
    assert len(pd.read_parquet(tmp_path / "out" / "results.parquet")) == 30 * 4


def test_sensitivity_cli_bad_key_exit_2(tmp_path: Path) -> None:
    doc = {
        "name": "bad",
        "function": "metastroma.ensemble.functions:ishigami",
        "parameters": {"x1": {"low": -3, "high": 3, "skale": "log"}},
        "samples": 16,
    }
    path = write(tmp_path / "b.yaml", doc)
    line = path.read_text().splitlines().index("    skale: log") + 1
    res = cli("sensitivity", path, "--out", tmp_path / "out")
    assert res.returncode == 2
    assert (
        f"b.yaml:{line}: parameters.x1.skale = 'log': unknown key (did you mean 'scale'?)"
        in res.stderr
    )


ENSEMBLE_FILES = sorted(
    p
    for p in (REPO / "scenarios").glob("*.yaml")
    if p.name.startswith(("sweep_", "sensitivity_", "calibrate_"))
    and not p.name.endswith("_targets.yaml")
)


@pytest.mark.parametrize("path", ENSEMBLE_FILES, ids=lambda p: p.name)
def test_shipped_ensemble_files_load(path: Path) -> None:
    from metastroma.ensemble import load_sweep
    from metastroma.ensemble.sensitivity_run import load_sensitivity

    if path.name.startswith("calibrate_"):
        from metastroma.ensemble.calibration import load_calibration

        cplan = load_calibration(path)
        assert cplan.spec.priors and cplan.targets.outcomes
    elif path.name.startswith("sweep_"):
        plan = load_sweep(path)
        assert len(plan.members) >= 4
    else:
        splan = load_sensitivity(path)
        assert len(splan.members) == splan.X.shape[0] * splan.spec.replicates
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and "Run:" in text  # documented at its top


def test_calibrate_cli_small_run_and_bad_prior(tmp_path: Path) -> None:
    doc = yaml.safe_load((REPO / "scenarios" / "calibrate_logistic.yaml").read_text())
    doc.update(population_size=30, generations=2)
    doc["targets"] = str(REPO / "scenarios" / doc["targets"])
    res = cli("calibrate", write(tmp_path / "c.yaml", doc), "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    for name in (
        "posterior.parquet",
        "posterior_summary.csv",
        "populations.csv",
        "calibration.json",
        "figures/posterior_pairs.png",
    ):
        assert (tmp_path / "out" / name).is_file(), name
    post = pd.read_parquet(tmp_path / "out" / "posterior.parquet")
    assert len(post) == 30 and abs(post["weight"].sum() - 1.0) < 1e-9
    assert "population 1: epsilon" in res.stdout
    again = cli("calibrate", tmp_path / "c.yaml", "--out", tmp_path / "out")
    assert again.returncode == 2 and "--force" in again.stderr
    prior = next(iter(doc["priors"]))
    doc["priors"][prior] = {"distribution": "uniform", "low": 1.0, "high": 0.5}
    bad = cli("calibrate", write(tmp_path / "b.yaml", doc), "--out", tmp_path / "o2")
    assert bad.returncode == 2 and f"priors.{prior}" in bad.stderr
    assert not (tmp_path / "o2").exists()


def test_run_sensitivity_sobol_ishigami_through_the_ensemble(tmp_path: Path) -> None:
    from metastroma.ensemble import run_sensitivity
    from metastroma.ensemble.functions import ishigami_indices

    doc = {
        "name": "ish_sobol",
        "function": "metastroma.ensemble.functions:ishigami",
        "parameters": {
            f"x{i}": {"low": -3.141592653589793, "high": 3.141592653589793}
            for i in (1, 2, 3)
        },
        "samples": 512,
        "seed": 5,
    }
    res = run_sensitivity(write(tmp_path / "s.yaml", doc), tmp_path / "out", workers=0)
    assert res.indices is not None and res.members.n_members == 512 * 5
    # the ensemble maps members to sample rows correctly: same indices as evaluating
    # the sample directly
    import numpy as np

    from metastroma.ensemble import load_sensitivity
    from metastroma.ensemble.functions import ishigami
    from metastroma.ensemble.sensitivity import analyse

    plan = load_sensitivity(tmp_path / "s.yaml")
    X = plan.X
    y = np.asarray(ishigami({"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2]}, 0)["y"])
    direct = analyse(plan.spec, X, {"y": y})
    pd.testing.assert_frame_equal(res.indices, direct)
    exact = ishigami_indices()
    idx = res.indices.set_index(["index", "parameter"])
    for ix in ("S1", "ST"):
        for p in ("x1", "x2", "x3"):
            row = idx.loc[(ix, p)]
            assert row["conf_low"] - 0.02 <= exact[ix][p] <= row["conf_high"] + 0.02, (
                ix,
                p,
            )
