"""End to end through the ``metastroma`` command (STYLE.md §7): subprocesses, tiny runs.

Bad input exits 2 having written nothing; a run writes the run directory of DESIGN.md;
results do not depend on the thread count; a run killed with SIGKILL and resumed equals an
uninterrupted one, bitwise; the demo writes its figures and summary.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from _helpers import (
    TINY,
    assert_same_outputs,
    checkpoint_steps,
    finish,
    manifest,
    positions_by_id,
    read_oxygen,
    read_snapshot,
    run_cli,
    run_status,
    scenario_dict,
    snapshot_names,
    start_cli,
    write_scenario,
)

import metastroma
from metastroma.config import load_scenario

# --------------------------------------------------------------------------- bad input


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _tiny_text() -> str:
    return yaml.safe_dump(TINY, sort_keys=False)


BAD_SCENARIOS = {
    "unknown_key": (
        lambda t: t.replace(
            "  voxel_um: 20.0\n", "  voxel_um: 20.0\n  voxl_um: 20.0\n"
        ),
        ["bad.yaml:", "domain.voxl_um", "did you mean 'voxel_um'"],
    ),
    "negative_rate": (
        lambda t: t + "oxygen:\n  decay_per_min: -0.1\n",
        ["bad.yaml:", "oxygen.decay_per_min = -0.1", "must be >= 0", "1/min"],
    ),
    "wrong_type": (
        lambda t: t.replace("n_cells: 40", "n_cells: forty"),
        ["bad.yaml:", "initial_cells[0].n_cells", "'forty'"],
    ),
    "unreadable_yaml": (
        lambda t: t.replace("  voxel_um: 20.0\n", "  voxel_um: 20.0\n bad: : x\n"),
        ["bad.yaml:", "not valid YAML"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_exits_2_and_writes_nothing(tmp_path: Path, case: str) -> None:
    edit, fragments = BAD_SCENARIOS[case]
    text = edit(_tiny_text())
    assert text != _tiny_text()
    out = tmp_path / "run"
    res = run_cli("run", _bad(tmp_path, text), "--out", out)
    assert res.returncode == 2, res.stderr
    for frag in fragments:
        assert frag in res.stderr, f"{frag!r} not in {res.stderr!r}"
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_missing_scenario_file_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run_cli("run", tmp_path / "absent.yaml", "--out", out)
    assert res.returncode == 2, res.stderr
    assert "absent.yaml" in res.stderr
    assert "not found" in res.stderr
    assert not out.exists()


def test_regression_square_brackets_in_a_bad_value_are_printed_verbatim(
    tmp_path: Path,
) -> None:
    # the error is printed through rich with markup on: '[/]' raised MarkupError (exit 1,
    # traceback) and '[bold]' vanished from the message
    out = tmp_path / "run"
    for value in ("[/]", "[bold]x"):
        text = _tiny_text() + f"oxygen:\n  decay_per_min: '{value}'\n"
        res = run_cli("run", _bad(tmp_path, text), "--out", out)
        assert res.returncode == 2, res.stderr
        assert f"oxygen.decay_per_min = '{value}'" in res.stderr
        assert not out.exists()


@pytest.mark.parametrize(
    "option", [["--threads", "0"], ["--threads", "99"]], ids=["zero", "too_many"]
)
def test_bad_thread_count_exits_2_and_writes_nothing(
    tmp_path: Path, option: list[str]
) -> None:
    out = tmp_path / "run"
    res = run_cli("run", write_scenario(tmp_path / "tiny.yaml"), "--out", out, *option)
    assert res.returncode == 2, res.stderr
    assert option[0] in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_regression_bad_seed_message_names_the_allowed_range(tmp_path: Path) -> None:
    # STYLE.md §4: 'option = value: what is allowed', one line, not pydantic's dump
    out = tmp_path / "run"
    res = run_cli(
        "run", write_scenario(tmp_path / "tiny.yaml"), "--out", out, "--seed", "-1"
    )
    assert res.returncode == 2, res.stderr
    assert "--seed = -1: must be between 0 and 2**63 - 1" in res.stderr
    assert "errors.pydantic.dev" not in res.stderr
    assert not out.exists()


def test_out_that_is_not_a_run_directory_is_never_deleted(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me", encoding="utf-8")
    res = run_cli(
        "run", write_scenario(tmp_path / "tiny.yaml"), "--out", out, "--force"
    )
    assert res.returncode == 2, res.stderr
    assert "not a run directory" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_schema_prints_json_schema() -> None:
    res = run_cli("schema")
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    props = schema["properties"]
    assert {"domain", "oxygen", "cell_types", "time", "initial_cells", "seed"} <= set(
        props
    )
    assert schema.get("additionalProperties") is False  # unknown keys are refused


# --------------------------------------------------------------------------- a tiny run


def test_tiny_run_writes_the_run_directory(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "tiny.yaml")
    out = tmp_path / "run"
    res = run_cli("run", scenario, "--out", out, "--seed", "5", "--threads", "2")
    assert res.returncode == 0, res.stderr

    # config.yaml: the resolved scenario, with the seed that ran
    config = load_scenario(out / "config.yaml")
    assert config.seed == 5
    assert config == load_scenario(scenario).model_copy(update={"seed": 5})

    man = manifest(out)
    assert man["status"] == "complete"
    assert man["seed"] == 5
    assert man["threads"] == 2
    assert man["version"] == metastroma.__version__
    assert man["wall_s"] > 0
    started = datetime.fromisoformat(man["started_utc"])
    ended = datetime.fromisoformat(man["ended_utc"])
    assert started <= ended

    # metrics every 30 min (5 phenotype steps of 30 mechanics steps), the last at the end
    metrics = pq.read_table(out / "metrics.parquet")
    np.testing.assert_allclose(
        metrics.column("t_min").to_numpy(), [0.0, 30.0, 60.0, 90.0], rtol=0, atol=1e-9
    )
    assert metrics.column("step").to_pylist() == [0, 150, 300, 450]
    n_cells = metrics.column("n_cells").to_numpy()
    assert n_cells[0] == 40
    assert n_cells[-1] > 40  # cells divided

    # one snapshot per 30 min, each with the cells the metrics counted
    names = snapshot_names(out)
    assert names == [f"step={s:09d}" for s in (0, 150, 300, 450)]
    for name, n in zip(names, n_cells, strict=True):
        table = read_snapshot(out, name)
        assert table.num_rows == n
        assert {"cell_id", "x_um", "y_um", "kind", "state"} <= set(table.column_names)
    assert not [p for p in (out / "cells").iterdir() if p.name.startswith(".")]

    # fields.zarr: readable by xarray, one frame per 30 min
    import xarray as xr

    ds = xr.open_zarr(out / "fields.zarr", consolidated=False)
    try:
        o2 = ds["oxygen_mmhg"]
        assert o2.dims == ("time", "x", "y")
        assert o2.shape == (4, 10, 10)
        np.testing.assert_allclose(
            ds["t_min"].values, [0.0, 30.0, 60.0, 90.0], atol=1e-9
        )
        np.testing.assert_allclose(ds["x"].values, np.arange(-90.0, 100.0, 20.0))
        values = o2.values
    finally:
        ds.close()
    assert np.all(values[0] == 38.0)  # the initial field
    assert values[-1].min() < 38.0  # cells took up oxygen
    assert np.all(np.isfinite(values))


def test_rerun_into_a_finished_run_needs_force(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path / "tiny.yaml",
        scenario_dict(
            time={
                "duration_min": 12.0,
                "dt_mechanics_min": 0.5,
                "dt_phenotype_min": 6.0,
            }
        ),
    )
    out = tmp_path / "run"
    assert run_cli("run", scenario, "--out", out).returncode == 0
    before = (out / "manifest.json").read_bytes()
    assert manifest(out)["status"] == "complete"

    res = run_cli("run", scenario, "--out", out)
    assert res.returncode == 2
    assert "--force" in res.stderr
    assert (out / "manifest.json").read_bytes() == before  # untouched

    (out / "marker.txt").write_text("from the first run", encoding="utf-8")
    res = run_cli("run", scenario, "--out", out, "--force")
    assert res.returncode == 0, res.stderr
    assert manifest(out)["status"] == "complete"
    assert not (out / "marker.txt").exists()  # replaced, not written over


# --------------------------------------------------------------------------- determinism


def test_one_and_two_threads_agree_bitwise_and_seeds_differ(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "tiny.yaml")
    runs = {
        "t1": ["--threads", "1", "--seed", "1"],
        "t2": ["--threads", "2", "--seed", "1"],
        "s2": ["--threads", "2", "--seed", "2"],
    }
    procs = {
        k: start_cli("run", scenario, "--out", tmp_path / k, *v)
        for k, v in runs.items()
    }
    for k, p in procs.items():
        code, err = finish(p)
        assert code == 0, f"{k}: {err}"

    t1, t2, s2 = tmp_path / "t1", tmp_path / "t2", tmp_path / "s2"
    assert_same_outputs(t1, t2)
    assert manifest(t1)["threads"] == 1
    assert manifest(t2)["threads"] == 2

    # the case is not trivial: cells moved and divided
    names = snapshot_names(t1)
    first = positions_by_id(read_snapshot(t1, names[0]))
    last = positions_by_id(read_snapshot(t1, names[-1]))
    assert len(last) > len(first)
    moved = [
        np.hypot(last[i][0] - first[i][0], last[i][1] - first[i][1])
        for i in first
        if i in last
    ]
    assert np.median(moved) > 1.0  # µm

    # another seed: other positions
    other = positions_by_id(read_snapshot(s2, snapshot_names(s2)[-1]))
    common = sorted(set(other) & set(last))
    assert common
    assert any(other[i] != last[i] for i in common)
    assert not pq.read_table(s2 / "metrics.parquet").equals(
        pq.read_table(t1 / "metrics.parquet")
    )


# --------------------------------------------------------------------------- kill and resume

#: Long enough to be killed midway: 60 blocks of 60 mechanics steps, a checkpoint every
#: 2 blocks; fields every 3 blocks so that frames after the checkpoint must be truncated.
LONG = scenario_dict(
    domain={"lower_um": [-150.0, -150.0], "upper_um": [150.0, 150.0], "voxel_um": 20.0},
    time={"duration_min": 360.0, "dt_mechanics_min": 0.1, "dt_phenotype_min": 6.0},
    cell_types={
        "cancer": {
            "motility": {
                "enabled": True,
                "speed_um_per_min": 0.5,
                "persistence_min": 10.0,
            },
            "cycle": {"model": "live", "phase_durations_min": [400.0]},
        }
    },
    initial_cells=[
        {"kind": "cancer", "shape": "ball", "n_cells": 60, "radius_um": 80.0}
    ],
    output={
        "metrics_every_min": 12.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 18.0,
        "checkpoint_every_min": 12.0,
    },
)
KILL_AFTER_STEP = 1200  # block 20 of 60


def test_killed_run_resumes_bitwise(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "long.yaml", LONG)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    reference = start_cli("run", scenario, "--out", whole, "--threads", "1")
    proc = start_cli("run", scenario, "--out", killed, "--threads", "1")
    try:
        deadline = time.monotonic() + 240.0
        while True:
            steps = checkpoint_steps(killed)
            if (
                steps
                and max(steps) >= KILL_AFTER_STEP
                and run_status(killed) == "running"
            ):
                break
            assert proc.poll() is None, (
                f"run ended before the kill: {proc.stderr.read()}"
            )
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()
    assert run_status(killed) == "running"
    assert manifest(killed)["status"] != "complete"
    assert f"step={3600:09d}" not in snapshot_names(killed)  # the run was cut short

    res = run_cli("run", "--resume", killed, "--threads", "1")
    assert res.returncode == 0, res.stderr
    man = manifest(killed)
    assert man["status"] == "complete"
    assert len(man["resumed"]) == 1
    from_step = man["resumed"][0]["from_step"]
    assert KILL_AFTER_STEP <= from_step < 3600
    assert from_step % 120 == 0  # a checkpoint every 2 blocks of 60 steps

    code, err = finish(reference)
    assert code == 0, err
    assert manifest(whole)["resumed"] == []
    assert_same_outputs(killed, whole)
    # frames at t = 0, 18, ..., 342 min and at the end: none lost, none doubled
    t_k, _ = read_oxygen(killed)
    assert t_k.shape == (21,)
    assert np.all(np.diff(t_k) > 0)
    assert (killed / "config.yaml").read_bytes() == (whole / "config.yaml").read_bytes()

    # a complete run cannot be resumed
    res = run_cli("run", "--resume", killed)
    assert res.returncode == 2
    assert "complete" in res.stderr


def test_resume_without_a_run_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for target in (empty, tmp_path / "absent"):
        res = run_cli("run", "--resume", target)
        assert res.returncode == 2, res.stderr
        assert "no run to resume" in res.stderr
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "absent").exists()
    assert list(empty.iterdir()) == []


def test_resume_without_a_checkpoint_exits_2(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_scenario(run_dir / "config.yaml")
    (run_dir / "manifest.json").write_text(json.dumps({"status": "running", "step": 0}))
    res = run_cli("run", "--resume", run_dir)
    assert res.returncode == 2, res.stderr
    assert "no complete checkpoint" in res.stderr
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"


def test_resume_takes_no_scenario(tmp_path: Path) -> None:
    res = run_cli("run", write_scenario(tmp_path / "tiny.yaml"), "--resume", tmp_path)
    assert res.returncode == 2
    assert "--resume" in res.stderr


# --------------------------------------------------------------------------- demo


def test_small_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = run_cli("demo", "--out", out, "--size", "small")
    assert res.returncode == 0, res.stderr
    promised = [
        "figures/tissue_arms.png",
        "figures/tissue_timecourse.png",
        "figures/tissue_relative.png",
        "figures/link_curves.png",
        "trial/figures/km_mfs.png",
        "trial/figures/km_os.png",
        "trial/figures/sites.png",
        "trial/figures/shares.png",
        "trial/summary.csv",
        "trial/arms/control/patients.parquet",
        "summary.md",
        "summary.csv",
        "report.md",
    ]
    for rel in promised:
        assert (out / rel).is_file(), rel
    import matplotlib.image as mpimg

    for fig in sorted(out.rglob("figures/*.png")):
        data = fig.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(fig)
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert np.ptp(img[..., :3]) > 0  # not a blank canvas
    # every figure the report shows exists
    report = (out / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+\.png)\)", report)
    assert len(links) >= 8
    for link in links:
        assert (out / link).is_file(), link
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    tissue = {
        (r["quantity"], r["arm"]): float(r["value"] or "nan")
        for r in rows
        if r["section"] == "tissue"
    }
    a = "mean DDR2 activity A of cancer cells"
    assert tissue[(a, "cancer_ko")] == 0.0  # knocked out: never any DDR2
    assert tissue[(a, "wt_msc")] > 0.0
    for arm in ("wt_msc", "no_msc", "cancer_ko"):
        run = out / "tissue" / arm
        assert manifest(run)["status"] == "complete"
    trial = {
        (r["quantity"], r["arm"]): float(r["value"] or "nan")
        for r in rows
        if r["section"] == "trial"
    }
    arms = {r["arm"] for r in rows if r["section"] == "trial"}
    assert arms == {
        "control",
        "cancer_ko",
        "adjuvant_dasatinib",
        "adjuvant_dasatinib_total",
        "dasatinib_at_relapse",
    }
    share = "distant metastasis by 10 years"
    assert 0.0 < trial[(share, "control")] < 100.0
    # the knockout sheds less from the first cell on: fewer metastatic patients
    assert trial[(share, "cancer_ko")] < trial[(share, "control")]
    assert "free" in report and "total" in report  # the IC50 basis is stated
    assert str(out / "report.md") in res.stdout.replace("\n", "")


def test_demo_refuses_an_unknown_size(tmp_path: Path) -> None:
    res = run_cli("demo", "--out", tmp_path / "demo", "--size", "huge")
    assert res.returncode == 2
    assert "--size" in res.stderr
    assert not (tmp_path / "demo").exists()
