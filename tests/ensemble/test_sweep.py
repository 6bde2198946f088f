"""Sweeps: files and their errors, designs, seeds, worker-count independence, faults, resume."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from metastroma.config.loader import load_model
from metastroma.config.sweep import SweepSpec, check_path
from metastroma.ensemble import load_sweep, run_sweep
from metastroma.ensemble.plan import design_points, member_seed
from metastroma.errors import ConfigError, RunDirectoryError

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make tests/ensemble/ensemble_models.py importable here and in Dask workers."""
    monkeypatch.syspath_prepend(str(HERE))
    old = [
        p for p in [*(__import__("os").environ.get("PYTHONPATH", "").split(":"))] if p
    ]
    monkeypatch.setenv("PYTHONPATH", ":".join([str(HERE), *old]))


def write_sweep(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def fn_sweep(tmp: Path, fn: str = "noisy_square", **extra: Any) -> dict[str, Any]:
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    doc: dict[str, Any] = {
        "name": "fn_sweep",
        "function": f"ensemble_models:{fn}",
        "design": "grid",
        "parameters": {"x": {"values": [0.0, 1.0, 2.0, 3.0]}},
        "fixed": {"log_dir": str(logs)},
        "replicates": 3,
        "seed": 11,
    }
    doc.update(extra)
    return doc


def calls(tmp: Path) -> Counter[tuple[str, str, str]]:
    lines = (tmp / "logs" / "calls.txt").read_text().split()
    return Counter(zip(lines[0::3], lines[1::3], lines[2::3], strict=True))


def done_lines(out: Path) -> dict[str, int]:
    return {
        d.name: (d / "member.log").read_text().count("] done in ")
        for d in sorted((out / "members").iterdir())
    }


# -- files and their errors ------------------------------------------------------------


def test_unknown_parameter_path_names_file_line_and_nearby_path(tmp_path: Path) -> None:
    doc = {
        "name": "bad",
        "base": str(REPO / "scenarios" / "ddr2_wt_msc_2d.yaml"),
        "parameters": {
            "ddr2.induction_rate_per_min": {"values": [0.001]},
            "oxygen.decay_per_mn": {"values": [0.1, 0.2]},
        },
    }
    path = write_sweep(tmp_path / "s.yaml", doc)
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    msg = str(err.value)
    line = path.read_text().splitlines().index("  oxygen.decay_per_mn:") + 1
    assert f"s.yaml:{line}: parameters.oxygen.decay_per_mn" in msg
    assert "oxygen.decay_per_min" in msg  # the valid path nearby


def test_check_path_walks_lists_and_refuses_sections() -> None:
    from metastroma.config.cohort import CohortScenario
    from metastroma.config.models import Scenario

    check_path(Scenario, "initial_cells[0].n_cells")
    check_path(CohortScenario, "anatomy.organs[3].extravasation_probability")
    with pytest.raises(ValueError, match="names a section"):
        check_path(Scenario, "oxygen")
    with pytest.raises(ValueError, match=r"nearby: initial_cells\[0\]\.n_cells"):
        check_path(Scenario, "initial_cells[2].n_cellz")


def test_member_value_out_of_range_names_the_member(tmp_path: Path) -> None:
    doc = {
        "name": "neg",
        "base": str(REPO / "scenarios" / "spheroid_2d.yaml"),
        "parameters": {"oxygen.far_field_mmhg": {"values": [38.0, -5.0]}},
    }
    with pytest.raises(ConfigError) as err:
        load_sweep(write_sweep(tmp_path / "s.yaml", doc))
    msg = str(err.value)
    assert "member 1 (oxygen.far_field_mmhg=-5)" in msg
    assert "oxygen.far_field_mmhg = -5.0: must be >= 0 (mmHg)" in msg


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"design": "lhs"}, "needs low and high"),
        (
            {
                "design": "sobol",
                "samples": 12,
                "parameters": {"x": {"low": 0, "high": 1}},
            },
            "power of two",
        ),
        ({"parameters": {"x": {"values": [1], "low": 0, "high": 1}}}, "not both"),
        ({"replicates": 0}, "replicates = 0: must be >= 1"),
        ({"replicatez": 2}, "did you mean 'replicates'"),
        (
            {
                "parameters": {"x": {"low": 2.0, "high": 1.0}},
                "design": "lhs",
                "samples": 4,
            },
            "must be above low",
        ),
    ],
)
def test_bad_sweep_files(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    doc = fn_sweep(tmp_path)
    doc.update(change)
    path = write_sweep(tmp_path / "s.yaml", doc)
    with pytest.raises(ConfigError, match=r"s\.yaml") as err:
        load_model(path, SweepSpec)
    assert needle in str(err.value)


def test_function_that_cannot_be_imported(tmp_path: Path) -> None:
    doc = fn_sweep(tmp_path)
    doc["function"] = "no_such_module_xyz:f"
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_xyz'"):
        load_sweep(write_sweep(tmp_path / "s.yaml", doc))


# -- designs and seeds -----------------------------------------------------------------


def test_grid_and_list_designs() -> None:
    grid = SweepSpec.model_validate(
        {
            "name": "g",
            "function": "m:f",
            "parameters": {"a": {"values": [1, 2]}, "b": {"values": ["u", "v", "w"]}},
        }
    )
    pts = design_points(grid)
    assert pts == [{"a": a, "b": b} for a in (1, 2) for b in ("u", "v", "w")]
    lst = grid.model_copy(
        update={
            "design": "list",
            "parameters": {
                "a": grid.parameters["a"],
                "b": grid.parameters["a"].model_copy(update={"values": [5, 6]}),
            },
        }
    )
    assert design_points(lst) == [{"a": 1, "b": 5}, {"a": 2, "b": 6}]


def test_latin_hypercube_is_stratified_and_log_scaled() -> None:
    spec = SweepSpec.model_validate(
        {
            "name": "l",
            "function": "m:f",
            "design": "lhs",
            "samples": 20,
            "parameters": {
                "lin": {"low": -1.0, "high": 1.0},
                "log": {"low": 1e-4, "high": 1e-2, "scale": "log"},
            },
        }
    )
    pts = design_points(spec)
    lin = np.array([p["lin"] for p in pts])
    logv = np.log10([p["log"] for p in pts])
    # one point in each of the 20 equal strata, in each dimension
    assert sorted(np.floor((lin + 1) / 2 * 20).astype(int)) == list(range(20))
    assert sorted(np.floor((logv + 4) / 2 * 20).astype(int)) == list(range(20))
    assert design_points(spec) == pts  # seeded


def test_sobol_points_fill_the_box() -> None:
    spec = SweepSpec.model_validate(
        {
            "name": "s",
            "function": "m:f",
            "design": "sobol",
            "samples": 64,
            "parameters": {
                "a": {"low": 0, "high": 2},
                "k": {"low": 1, "high": 9, "integer": True},
            },
        }
    )
    pts = design_points(spec)
    a = np.array([p["a"] for p in pts])
    k = [p["k"] for p in pts]
    assert a.min() >= 0 and a.max() < 2 and abs(a.mean() - 1.0) < 0.05
    assert set(k) <= set(range(1, 10)) and all(isinstance(v, int) for v in k)


def test_common_and_independent_seeds() -> None:
    base = {
        "name": "s",
        "function": "m:f",
        "parameters": {"a": {"values": [1]}},
        "seed": 5,
    }
    common = SweepSpec.model_validate(base)
    indep = SweepSpec.model_validate({**base, "seeds": "independent"})
    assert [member_seed(common, p, 2) for p in range(3)] == [7, 7, 7]
    s = {member_seed(indep, p, r) for p in range(5) for r in range(5)}
    assert len(s) == 25 and all(0 <= v < 2**62 for v in s)


# -- running ---------------------------------------------------------------------------


def test_serial_sweep_results_summary_and_figure(tmp_path: Path, models: None) -> None:
    path = write_sweep(tmp_path / "s.yaml", fn_sweep(tmp_path))
    out = run_sweep(path, tmp_path / "out", workers=0)
    t = out.table
    assert list(t.columns[:7]) == [
        "member_id",
        "point",
        "replicate",
        "seed",
        "status",
        "log_dir",
        "x",
    ]
    assert (t["status"] == "done").all() and len(t) == 12
    assert t["seed"].tolist() == [11, 12, 13] * 4  # common random numbers
    np.testing.assert_allclose(t["z"], t["x"] + t["seed"])
    s = out.summary[out.summary["outcome"] == "y"].reset_index(drop=True)
    # replicate noise is common across points: the mean is x² + the same offset
    offset = s["mean"] - s["x"] ** 2
    np.testing.assert_allclose(offset, offset[0], atol=1e-12)
    assert (s["ci_low"] < s["mean"]).all() and (s["mean"] < s["ci_high"]).all()
    assert (s["n"] == 3).all()
    back = pd.read_parquet(tmp_path / "out" / "results.parquet")
    pd.testing.assert_frame_equal(back, t)
    fig = tmp_path / "out" / "figures" / "y.png"
    assert fig.stat().st_size > 10_000
    assert sum(calls(tmp_path).values()) == 24  # 12 starts, 12 ends


def test_results_do_not_depend_on_workers(tmp_path: Path, models: None) -> None:
    doc = fn_sweep(tmp_path, seeds="independent")
    path = write_sweep(tmp_path / "s.yaml", doc)
    serial = run_sweep(path, tmp_path / "w0", workers=0)
    parallel = run_sweep(path, tmp_path / "w2", workers=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)
    workers = {r["worker"] for r in parallel.members.rows}
    assert len(workers) == 2  # both worker processes ran members


def test_killed_worker_loses_no_member(tmp_path: Path, models: None) -> None:
    doc = fn_sweep(tmp_path, fn="crash_once")
    doc["fixed"]["crash_x"] = 2.0
    doc["fixed"]["sleep_s"] = 0.05
    path = write_sweep(tmp_path / "s.yaml", doc)
    out = run_sweep(path, tmp_path / "out", workers=2)
    assert (tmp_path / "logs" / "crashed").exists()  # a worker process did die
    assert out.members.n_failed == 0 and (out.table["status"] == "done").all()
    c = calls(tmp_path)
    assert sum(v for (w, _, _), v in c.items() if w == "crash") == 1
    ends = Counter((x, s) for (w, x, s), v in c.items() if w == "end" for _ in range(v))
    assert len(ends) == 12 and set(ends.values()) == {1}  # every member ended once
    assert set(done_lines(tmp_path / "out").values()) == {1}


def test_failing_member_is_recorded_and_the_sweep_goes_on(
    tmp_path: Path, models: None
) -> None:
    doc = fn_sweep(tmp_path, fn="fails_at")
    doc["fixed"]["bad_x"] = 1.0
    path = write_sweep(tmp_path / "s.yaml", doc)
    out = run_sweep(path, tmp_path / "out", workers=0)
    failed = out.table[out.table["status"] == "failed"]
    assert failed["x"].tolist() == [1.0, 1.0, 1.0]
    assert failed["y"].isna().all() and out.table["y"].notna().sum() == 9
    with sqlite3.connect(tmp_path / "out" / "catalog.sqlite") as db:
        errors = db.execute(
            "SELECT error FROM members WHERE status='failed'"
        ).fetchall()
    assert all("fails on purpose" in e[0] and "Traceback" in e[0] for e in errors)
    log = (tmp_path / "out" / "members" / "m000003" / "member.log").read_text()
    assert "FAILED" in log and "RuntimeError" in log


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_after_interruption_runs_no_member_twice(
    tmp_path: Path, models: None, workers: int
) -> None:
    doc = fn_sweep(tmp_path)
    doc["fixed"]["sleep_s"] = 0.05
    path = write_sweep(tmp_path / "s.yaml", doc)
    out_dir = tmp_path / "out"

    def stop_after_five(res: Any, done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, out_dir, workers=workers, progress=stop_after_five)
    with sqlite3.connect(out_dir / "catalog.sqlite") as db:
        status = Counter(s for (s,) in db.execute("SELECT status FROM members"))
    assert status["done"] == 5 and status["pending"] == 7 and "queued" not in status
    again = run_sweep(path, out_dir, workers=workers)
    assert again.members.n_skipped == 5 and again.members.n_run == 7
    assert (again.table["status"] == "done").all()
    # each member finished once: catalog, member directories and the model agree
    assert set(done_lines(out_dir).values()) == {1} and len(done_lines(out_dir)) == 12
    ends = Counter(
        (x, s)
        for (w, x, s), v in calls(tmp_path).items()
        if w == "end"
        for _ in range(v)
    )
    assert len(ends) == 12 and set(ends.values()) == {1}
    third = run_sweep(path, out_dir, workers=0)
    assert third.members.n_run == 0
    pd.testing.assert_frame_equal(third.table, again.table)


def test_out_dir_of_another_sweep_is_refused(tmp_path: Path, models: None) -> None:
    path = write_sweep(tmp_path / "s.yaml", fn_sweep(tmp_path))
    run_sweep(path, tmp_path / "out", workers=0)
    other = write_sweep(tmp_path / "s2.yaml", fn_sweep(tmp_path, replicates=2))
    with pytest.raises(RunDirectoryError, match="holds another ensemble"):
        run_sweep(other, tmp_path / "out", workers=0)
    again = run_sweep(other, tmp_path / "out", workers=0, force=True)
    assert len(again.table) == 8
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="never overwritten"):
        run_sweep(other, tmp_path / "plain", workers=0, force=True)
    assert (tmp_path / "plain" / "keep.txt").read_text() == "mine"


# -- tissue and cohort members ---------------------------------------------------------

TINY_TISSUE = {
    "name": "tiny_sweep_base",
    "seed": 1,
    "domain": {
        "lower_um": [-100.0, -100.0],
        "upper_um": [100.0, 100.0],
        "voxel_um": 20.0,
    },
    "time": {"duration_min": 30.0, "dt_mechanics_min": 0.2, "dt_phenotype_min": 6.0},
    "cell_types": {"cancer": {"motility": {"enabled": True, "speed_um_per_min": 0.5}}},
    "initial_cells": [
        {"kind": "cancer", "shape": "ball", "n_cells": 30, "radius_um": 50.0}
    ],
    "output": {
        "metrics_every_min": 12.0,
        "snapshot_every_min": 30.0,
        "fields_every_min": 30.0,
        "checkpoint_every_min": 12.0,
    },
}


def test_tissue_sweep_two_workers_equals_serial(tmp_path: Path) -> None:
    base = tmp_path / "tiny.yaml"
    base.write_text(yaml.safe_dump(TINY_TISSUE), encoding="utf-8")
    doc = {
        "name": "tissue",
        "base": "tiny.yaml",
        "parameters": {
            "cell_types.cancer.motility.speed_um_per_min": {"values": [0.2, 1.0]}
        },
        "replicates": 2,
        "outcomes": ["n_live", "tumour_radius_um"],
    }
    path = write_sweep(tmp_path / "s.yaml", doc)
    a = run_sweep(path, tmp_path / "a", workers=0)
    b = run_sweep(path, tmp_path / "b", workers=2)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert (a.table["n_live"] >= 30).all()
    run_dir = tmp_path / "b" / "members" / "m000003" / "run"
    assert (run_dir / "metrics.parquet").is_file() and (
        run_dir / "manifest.json"
    ).is_file()
    # faster cells spread further: the radius grows with speed (same seeds)
    r = a.table.pivot(
        index="replicate",
        columns="cell_types.cancer.motility.speed_um_per_min",
        values="tumour_radius_um",
    )
    assert (r[1.0] > r[0.2]).all()


def test_cohort_sweep_over_a_list_item(tmp_path: Path) -> None:
    base = tmp_path / "cohort.yaml"
    base.write_text(yaml.safe_dump({"seed": 3, "patients": 300}), encoding="utf-8")
    doc = {
        "name": "cohort",
        "base": "cohort.yaml",
        "parameters": {"shedding.hazard_per_day": {"values": [3.2e-4, 3.2e-2]}},
        "outcomes": ["distant_metastasis_10y", "n_patients"],
    }
    out = run_sweep(write_sweep(tmp_path / "s.yaml", doc), tmp_path / "out", workers=0)
    t = out.table.set_index("shedding.hazard_per_day")
    assert (t["n_patients"] == 300).all()
    # 100× the shedding hazard gives more patients with distant metastases
    assert (
        t.loc[3.2e-2, "distant_metastasis_10y"]
        > t.loc[3.2e-4, "distant_metastasis_10y"]
    )
    assert (
        tmp_path / "out" / "members" / "m000000" / "run" / "patients.parquet"
    ).is_file()


def test_existing_scheduler_gives_the_same_table(tmp_path: Path, models: None) -> None:
    from distributed import LocalCluster

    path = write_sweep(tmp_path / "s.yaml", fn_sweep(tmp_path, seeds="independent"))
    serial = run_sweep(path, tmp_path / "w0", workers=0)
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        remote = run_sweep(
            path, tmp_path / "remote", scheduler=cluster.scheduler_address
        )
        assert len(cluster.workers) == 2  # still up: not ours to close
    pd.testing.assert_frame_equal(serial.table, remote.table)
    import json

    manifest = json.loads((tmp_path / "remote" / "ensemble.json").read_text())
    assert manifest["scheduler"] == cluster.scheduler_address
    ran_on = {r["worker"].rsplit(":", 1)[1] for r in remote.members.rows}
    assert len(ran_on) == 2 and str(__import__("os").getpid()) not in ran_on


def test_member_that_kills_every_worker_is_failed_not_lost(
    tmp_path: Path, models: None
) -> None:
    import dask

    doc = fn_sweep(tmp_path, fn="crash_always", replicates=1)
    doc["fixed"]["crash_x"] = 1.0
    path = write_sweep(tmp_path / "s.yaml", doc)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        out = run_sweep(path, tmp_path / "out", workers=2)
    status = dict(zip(out.table["x"], out.table["status"], strict=True))
    assert status == {0.0: "done", 1.0: "failed", 2.0: "done", 3.0: "done"}
    with sqlite3.connect(tmp_path / "out" / "catalog.sqlite") as db:
        (err,) = db.execute(
            "SELECT error FROM members WHERE status='failed'"
        ).fetchone()
    assert "KilledWorker" in err and "died on every attempt" in err
    crashes = sum(v for (w, _, _), v in calls(tmp_path).items() if w == "crash")
    assert crashes == 2  # the first try and one retry (allowed-failures = 1)
