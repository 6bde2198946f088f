"""The curve file through the command line: `metastroma cohort` and a cohort sweep."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from metastroma.link import default_curve_file, prior_curve_file

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metastroma.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cohort_cli_reads_a_relative_curve_file(tmp_path: Path) -> None:
    shutil.copy(prior_curve_file(), tmp_path / "curves.json")
    sc = {"seed": 2, "patients": 200, "ddr2": {"curves": "curves.json"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(sc), encoding="utf-8")
    res = cli("cohort", tmp_path / "c.yaml", "--out", tmp_path / "with", "-q")
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "with" / "manifest.json").read_text())
    assert manifest["ddr2_curves"]["path"] == str((tmp_path / "curves.json").resolve())
    plain = {"seed": 2, "patients": 200}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(plain), encoding="utf-8")
    assert (
        cli(
            "cohort", tmp_path / "p.yaml", "--out", tmp_path / "without", "-q"
        ).returncode
        == 0
    )
    a = pd.read_parquet(tmp_path / "with" / "patients.parquet")
    b = pd.read_parquet(tmp_path / "without" / "patients.parquet")
    pd.testing.assert_frame_equal(a, b)  # the prior file tabulates the same formulas
    (tmp_path / "curves.json").write_text("{not json", encoding="utf-8")
    bad = cli("cohort", tmp_path / "c.yaml", "--out", tmp_path / "bad")
    assert (
        bad.returncode == 2
        and "ddr2.curves" in bad.stderr
        and "curves.json" in bad.stderr
    )


def test_cohort_sweep_with_curve_file(tmp_path: Path) -> None:
    shutil.copy(default_curve_file(), tmp_path / "curves.json")
    base = {"seed": 2, "patients": 150, "ddr2": {"curves": "curves.json"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    sweep = {
        "name": "curves_sweep",
        "base": "c.yaml",
        "parameters": {"ddr2.relative_activity_high": {"values": [0.5, 1.0]}},
        "outcomes": ["n_patients"],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    res = cli(
        "sweep", tmp_path / "s.yaml", "--out", tmp_path / "out", "--workers", "0", "-q"
    )
    assert res.returncode == 0, res.stderr
    t = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert (t["n_patients"] == 150).all() and (t["status"] == "done").all()
    run = json.loads(
        (tmp_path / "out" / "members" / "m000000" / "run" / "manifest.json").read_text()
    )
    assert run["ddr2_curves"]["path"].endswith("curves.json")
