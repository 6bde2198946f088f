"""The in-silico experiments of SCIENCE.md §11.

Fast tests (the default suite): the registry, the WT reference embedded in the package
equals scenarios/ddr2_wt_msc_2d.yaml, the runner reports a crashing replicate with its
traceback, results do not depend on the worker count, and ``metastroma experiment`` writes
its files and exits 0 / 1 / 2 as documented.

Validation tests (``-m validation``): each experiment at size 'small' (fixed seeds), one
test per pass criterion, so the report shows which criteria hold. A failing criterion is
a finding about the model (SCIENCE.md §12 item 7), not something to tune away.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from metastroma.cli import app
from metastroma.experiments import (
    EXPERIMENTS,
    Effect,
    ExperimentResult,
    ReplicateFailure,
    run_experiment,
    write_experiment,
)
from metastroma.experiments._common import (
    WT_REFERENCE,
    StromaProbe,
    cancer_ko,
    slie_host,
    transwell,
)
from metastroma.experiments._run import Job, Probe, run_jobs

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FILES = {
    "effects.csv",
    "effects.md",
    "replicates.parquet",
    "manifest.json",
    "figure.png",
}
runner = CliRunner()

# --------------------------------------------------------------------------- fast


def test_registry_lists_the_experiments() -> None:
    assert list(EXPERIMENTS) == ["E1", "E2", "E4", "E5", "E6", "E7", "E8", "E9"]
    for name, d in EXPERIMENTS.items():
        assert d.name == name and d.title and d.description
        assert set(d.sizes) == {"small", "full"}
        assert d.sizes["full"]["replicates"] >= 10
        assert d.criteria and len(set(d.criteria)) == len(d.criteria)


def test_embedded_wt_reference_is_the_scenario_file() -> None:
    data = yaml.safe_load((REPO / "scenarios/ddr2_wt_msc_2d.yaml").read_text())
    data.pop("output", None)
    assert data == WT_REFERENCE


@pytest.mark.parametrize(
    ("arm", "path"),
    [
        (cancer_ko, "ddr2_cancer_ko_msc_2d.yaml"),
        (slie_host, "ddr2_slie_host_2d.yaml"),
        (transwell, "ddr2_transwell_2d.yaml"),
    ],
)
def test_arm_overrides_reproduce_the_arm_scenario_files(arm: Any, path: str) -> None:
    data = yaml.safe_load((REPO / "scenarios" / path).read_text())
    for key in ("output", "name", "description"):
        data.pop(key, None)
    ours = arm(WT_REFERENCE)
    for key in ("name", "description"):
        ours.pop(key, None)
    assert ours == data


def test_importing_the_package_does_not_import_numba() -> None:
    code = "import sys, metastroma.experiments; print('numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


class _Crash(Probe):
    def measure(self, sim: Any) -> dict[str, float]:
        raise RuntimeError("probe exploded on purpose")


_TINY = {
    "domain": {"lower_um": [-60, -60], "upper_um": [60, 60], "voxel_um": 20},
    "oxygen": {"enabled": False},
    "initial_cells": [
        {"kind": "cancer", "shape": "ball", "n_cells": 10, "radius_um": 40}
    ],
}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_crashing_replicate_is_reported_and_the_others_finish(workers: int) -> None:
    jobs = [
        Job("ok", 0, 1, _TINY, (12.0,), StromaProbe()),
        Job("bad", 0, 1, _TINY, (12.0,), _Crash()),
        Job("ok", 1, 2, _TINY, (6.0, 12.0), StromaProbe()),
    ]
    res = run_jobs(jobs, workers=workers)
    assert [r.arm for r in res] == ["ok", "bad", "ok"]
    assert res[0].ok and res[2].ok and not res[1].ok
    assert "probe exploded on purpose" in (res[1].error or "")
    assert "Traceback" in (res[1].error or "")
    assert [r["t_min"] for r in res[2].rows] == [6.0, 12.0]
    assert res[0].rows[0]["n_cancer"] == 10.0


def test_results_do_not_depend_on_the_worker_count() -> None:
    serial = run_experiment("E2", replicates=1, size="small", workers=0, seed=4)
    pooled = run_experiment("E2", replicates=1, size="small", workers=2, seed=4)
    assert not serial.failures and not pooled.failures
    assert len(serial.table) == 5
    pd.testing.assert_frame_equal(serial.table, pooled.table)
    assert serial.effects == pooled.effects


def test_bad_arguments_raise() -> None:
    from metastroma.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown"):
        run_experiment("E3")
    with pytest.raises(ConfigError, match="size"):
        run_experiment("E5", size="huge")
    with pytest.raises(ConfigError, match="replicates"):
        run_experiment("E5", replicates=0)


@pytest.fixture
def one_numba_thread() -> Any:
    """Run in-process simulations on one numba thread (small arrays: no gain from two)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def test_cli_runs_e5_small_and_writes_its_files(
    tmp_path: Path, one_numba_thread: None
) -> None:
    out = tmp_path / "e5"
    res = runner.invoke(
        app,
        ["experiment", "E5", "--size", "small", "--replicates", "2", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == FILES
    assert (out / "figure.png").read_bytes()[:8] == PNG_MAGIC
    effects = pd.read_csv(out / "effects.csv", keep_default_na=False)
    assert list(effects.columns) == [
        "name",
        "arms",
        "estimate",
        "ci_low",
        "ci_high",
        "criterion",
        "passed",
        "note",
    ]
    assert set(EXPERIMENTS["E5"].criteria) <= set(effects["name"])
    assert set(effects["passed"]) <= {"pass", "FAIL", "n/a"}
    table = pq.read_table(out / "replicates.parquet").to_pandas()
    arms = {"contact", "transwell", "alone", "benign", "contact_sparse"}
    assert set(table["arm"]) == arms
    assert sorted(table["replicate"].unique()) == [0, 1]
    man = json.loads((out / "manifest.json").read_text())
    assert man["experiment"] == "E5" and man["replicates"] == 2
    assert man["seeds"]["contact"] == [1, 2]
    assert set(man["scenario_hashes"]) == arms
    assert man["status"] == "complete" and man["failed_replicates"] == []
    assert "criteria pass" in res.output
    # an existing output directory needs --force
    again = runner.invoke(
        app, ["experiment", "E5", "--replicates", "1", "-o", str(out)]
    )
    assert again.exit_code == 2
    assert "--force" in again.output


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    for args in (
        ["experiment", "E42"],
        ["experiment", "E5", "--size", "medium"],
        ["experiment", "E5", "--replicates", "0"],
        ["experiment", "E5", "--workers", "-1"],
        ["experiment", "E5", "--replicates", "two"],
    ):
        res = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
        assert res.exit_code == 2, (args, res.output)
    assert not (tmp_path / "x").exists()


def test_cli_list_prints_the_registry() -> None:
    res = runner.invoke(app, ["experiment", "list"])
    assert res.exit_code == 0
    for name in EXPERIMENTS:
        assert name in res.output


def _fake_result(failures: list[ReplicateFailure]) -> ExperimentResult:
    return ExperimentResult(
        name="E5",
        title="fake",
        size="small",
        replicates=1,
        base_seed=1,
        workers=0,
        effects=[Effect("x", "a", 1.0, 0.5, 1.5, "criterion", False)],
        table=pd.DataFrame(
            {"arm": ["a"], "replicate": [0], "seed": [1], "t_min": [6.0]}
        ),
        failures=failures,
    )


def test_cli_exit_codes_for_failed_criteria_and_crashed_replicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metastroma.experiments as ex

    monkeypatch.setattr(ex, "run_experiment", lambda *a, **k: _fake_result([]))
    res = runner.invoke(app, ["experiment", "E5", "-o", str(tmp_path / "a")])
    assert res.exit_code == 0 and "FAIL" in res.output  # a failed criterion: exit 0
    crash = ReplicateFailure("contact", 1, 2, "Traceback ...\nRuntimeError: boom")
    monkeypatch.setattr(ex, "run_experiment", lambda *a, **k: _fake_result([crash]))
    res = runner.invoke(app, ["experiment", "E5", "-o", str(tmp_path / "b")])
    assert res.exit_code == 1
    man = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert man["status"] == "failed_replicates"
    assert "RuntimeError: boom" in man["failed_replicates"][0]["traceback"]


def test_write_experiment_replaces_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_experiment(_fake_result([]), out)
    (out / "stale.txt").write_text("old")
    from metastroma.errors import RunDirectoryError

    with pytest.raises(RunDirectoryError, match="--force"):
        write_experiment(_fake_result([]), out)
    write_experiment(_fake_result([]), out, force=True)
    assert {p.name for p in out.iterdir()} == FILES - {"figure.png"}  # no figure given
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


# --------------------------------------------------------------------------- validation

_CACHE: dict[str, ExperimentResult] = {}


def _small(name: str) -> ExperimentResult:
    if name not in _CACHE:
        _CACHE[name] = run_experiment(name, size="small", workers=2, seed=1)
    return _CACHE[name]


#: Criteria the model as specified does not meet at size 'small' (docs/experiments.md,
#: "Findings"). Strict: a criterion that starts to pass fails the run, so this list and
#: the docs are kept true.
_NO_RADIAL_CUE = (
    "no directional cue orients invasion radially (SCIENCE.md §12 item 16); with mean "
    "A ≈ 0.24 the band anisotropises over days, not 8 h"
)
_HOST_DDR2 = (
    "MSC genotype δ gates only MSC deposition and remodelling; contact induction and "
    "activation of cancer-cell DDR2 ignore δ (§4.7, §4.8), so the slie host barely "
    "changes exits and growth"
)
_FEW_EXITS = (
    "at the calibrated h̄ a small tumour sheds a handful of cells; doorway placement "
    "dominates the variance, so unpaired CIs overlap"
)
_SELF_WRITING = (
    "cells rewrite their own element toward their motion within minutes (r_f A), so K "
    "and co-alignment measure self-writing; basal DDR2 (D₀ = 0.25) is activated without "
    "MSCs, so the no-MSC arm is not DDR2-off (§12 item 7)"
)
KNOWN_FAILING = {
    ("E1", "beta_mode_invasive_24h"): _NO_RADIAL_CUE,
    ("E1", "first_band_a_after_onset"): _NO_RADIAL_CUE,
    ("E1", "prad_reach_from_centre_wt"): _NO_RADIAL_CUE,
    ("E1", "prad_reach_wt_minus_control"): _NO_RADIAL_CUE,
    ("E4", "cancer_ko_fewer_exits_realized"): _FEW_EXITS,
    ("E4", "cancer_ko_fewer_exits_expected"): _FEW_EXITS,
    ("E4", "exit_rate_high_vs_low_acos2"): (
        "3 boosted replicates give ~25 events per a cos²ψ bin: ratio 1.29 [0.80, 1.74] "
        "(full size, 20 boosted replicates: 1.42 [1.16, 1.72], passes)"
    ),
    ("E4", "slie_fewer_exits_realized"): _HOST_DDR2,
    ("E4", "slie_fewer_exits_expected"): _HOST_DDR2,
    ("E4", "slie_fewer_exits_paired"): _HOST_DDR2,
    ("E7", "wt_minus_slie_coalignment_cancer"): _SELF_WRITING,
    ("E7", "wt_minus_no_msc_coalignment_cancer"): _SELF_WRITING,
    ("E7", "wt_minus_cancer_ko_coalignment_msc"): _SELF_WRITING,
    ("E7", "wt_minus_slie_coalignment_msc"): _SELF_WRITING,
    ("E7", "wt_minus_slie_cell_fibre_agreement_cancer"): _SELF_WRITING,
    ("E7", "equiv_cancer_ko_no_msc_coherency_band"): _SELF_WRITING,
    ("E7", "equiv_slie_no_msc_coherency_band"): _SELF_WRITING,
    ("E7", "equiv_cancer_ko_no_msc_coalignment_cancer"): _SELF_WRITING,
    ("E7", "equiv_cancer_ko_no_msc_cell_fibre_agreement_cancer"): _SELF_WRITING,
    ("E7", "equiv_slie_no_msc_cell_fibre_agreement_cancer"): _SELF_WRITING,
    ("E8", "exits_slie_hom_over_wt"): _HOST_DDR2,
    ("E8", "colony_size_slie_hom_over_wt"): _HOST_DDR2,
    ("E9", "late_dose_monotone_expected_rate_per_min"): (
        "started half-way, θ_I lowers A within hours, but the expected exits of the "
        "treated window also follow how many cells sit at the few doorways; 3 replicates "
        "cannot resolve a 13 % (1 + g_i A) change"
    ),
    ("E9", "boundary_specificity_a"): (
        "ratio 1.8 at size small (2.8 at full size, which passes): small spheroids "
        "have few band elements"
    ),
}
CASES = [
    pytest.param(
        name,
        c,
        id=f"{name}-{c}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[(name, c)])]
        if (name, c) in KNOWN_FAILING
        else [],
    )
    for name, d in EXPERIMENTS.items()
    for c in d.criteria
]


def test_known_failures_name_real_criteria() -> None:
    names = {(n, c) for n, d in EXPERIMENTS.items() for c in d.criteria}
    assert set(KNOWN_FAILING) <= names


@pytest.mark.validation
@pytest.mark.parametrize(("name", "criterion"), CASES)
def test_small_experiment_criterion(name: str, criterion: str) -> None:
    result = _small(name)
    assert not result.failures, [f.traceback for f in result.failures]
    e = result.effect(criterion)
    assert e.passed, (
        f"{name} {criterion}: estimate {e.estimate:.4g} [{e.ci_low:.4g}, {e.ci_high:.4g}]"
        f" — {e.criterion} ({e.note})"
    )


@pytest.mark.validation
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_small_experiment_writes_its_files(name: str, tmp_path: Path) -> None:
    paths = write_experiment(_small(name), tmp_path / name)
    assert set(paths) == FILES
    assert (tmp_path / name / "figure.png").read_bytes()[:8] == PNG_MAGIC
