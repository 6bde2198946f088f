"""End to end through ``metastroma cohort`` (typer's CliRunner, in process).

A cohort of 300 patients is simulated once per module (the compiled kernel is loaded from
``NUMBA_CACHE_DIR``, compiled on the first run); bad inputs stop before the simulation.
No test asserts a default outcome figure: the defaults are being calibrated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from metastroma.body.cohort import simulate_cohort
from metastroma.cli import app
from metastroma.config.cohort import CohortScenario
from metastroma.config.loader import load_model
from metastroma.errors import RunDirectoryError
from metastroma.store.cohort import FIGURES, config_sha256, read_cohort, write_cohort

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N = 300
PATIENT_COLUMNS = [
    "patient_id",
    "diameter_mm_at_diagnosis",
    "node_positive",
    "metastatic_at_diagnosis",
    "time_to_distant_metastasis_days",
    "sites_at_first_metastasis",
    "sites_ever",
    "n_metastases_at_death",
    "time_to_death_days",
    "death_observed",
    "follow_up_days",
]
METASTASIS_COLUMNS = [
    "patient_id",
    "organ",
    "seeded_day",
    "detected_day",
    "cells_at_end",
]
END_STATES = [
    "died_in_transit",
    "arrested_died",
    "dormant",
    "growing",
    "still_circulating",
]
#: The scenario of the module's cohort: the file says 1000 patients, --patients says 300.
SMALL: dict[str, Any] = {"seed": 5, "patients": 1000, "follow_up_years": 10}

runner = CliRunner()


def cohort(*args: str | Path) -> Any:
    return runner.invoke(app, ["cohort", *map(str, args)])


def write(path: Path, data: dict[str, Any] | str) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cohort")


@pytest.fixture(scope="module")
def run1(work: Path) -> Iterator[tuple[Path, Any]]:
    scenario = write(work / "small.yaml", SMALL)
    result = cohort(scenario, "--patients", N, "--out", work / "run1")
    assert result.exit_code == 0, result.output
    yield work / "run1", result


def test_cohort_writes_every_file_and_each_parses(run1: tuple[Path, Any]) -> None:
    out, _ = run1
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert on_disk == manifest["files"]
    expected = {
        "config.yaml",
        "manifest.json",
        "patients.parquet",
        "metastases.parquet",
        "ledger.parquet",
        "summary.md",
        "summary.csv",
        "site_involvement.csv",
        "node_positivity.csv",
        "metastasis_sizes.csv",
        "cox_hazard_ratios.csv",
        *(f"figures/{f}" for f in FIGURES),
    }
    assert set(on_disk) == expected
    for name in FIGURES:
        assert (out / "figures" / name).read_bytes()[:8] == PNG_MAGIC
    for name in (
        "site_involvement",
        "node_positivity",
        "metastasis_sizes",
        "cox_hazard_ratios",
    ):
        assert len(pd.read_csv(out / f"{name}.csv")) > 0, name
    summary = pd.read_csv(out / "summary.csv")
    n_row = summary[summary["metric"] == "n_patients"]
    assert float(n_row["value"].iloc[0]) == N
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| metric | value |" in md
    assert f"death model: `{manifest['death_model']}`" in md
    # nothing hidden left beside the run directory
    assert not [n for n in leftovers(out.parent) if n.startswith(".")]


def test_config_and_manifest_state_the_scenario_death_model_and_cell_density(
    run1: tuple[Path, Any], work: Path
) -> None:
    out, _ = run1
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    resolved = load_model(out / "config.yaml", CohortScenario)
    expected = CohortScenario.model_validate({**SMALL, "patients": N})
    assert resolved == expected  # --patients applied, every default written out
    raw = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert "hazard_per_day" in raw["shedding"]
    assert len(raw["anatomy"]["organs"]) == len(expected.anatomy.organs)
    assert manifest["config_sha256"] == config_sha256(resolved)
    assert manifest["kind"] == "cohort"
    assert manifest["status"] == "complete"
    assert manifest["seed"] == SMALL["seed"]
    assert manifest["n_patients"] == N
    assert manifest["death_model"] == resolved.death.model
    assert manifest["death"]["model"] == resolved.death.model
    assert manifest["cells_per_mm3"] == resolved.growth.cells_per_mm3
    assert manifest["scenario_file"] == str(work / "small.yaml")
    assert manifest["version"]
    assert manifest["started_utc"] <= manifest["ended_utc"]
    assert manifest["wall_s"] > 0


def test_patients_metastases_and_ledger_tables(run1: tuple[Path, Any]) -> None:
    out, _ = run1
    tables = read_cohort(out)
    patients, metastases, ledger = (
        tables["patients"],
        tables["metastases"],
        tables["ledger"],
    )
    assert set(PATIENT_COLUMNS) <= set(patients.columns)
    assert len(patients) == N
    assert patients["patient_id"].tolist() == list(range(N))
    for col in ("node_positive", "metastatic_at_diagnosis", "death_observed"):
        assert patients[col].dtype == bool, col
    # empty (null) exactly where there is nothing to report
    assert (
        patients["time_to_death_days"].isna().tolist()
        == (~patients["death_observed"]).tolist()
    )
    has_met = patients["time_to_distant_metastasis_days"].notna()
    assert has_met.any()
    assert (~has_met).any()
    assert (patients.loc[~has_met, "sites_at_first_metastasis"] == "").all()
    assert (patients.loc[has_met, "sites_ever"] != "").all()
    fu = patients["follow_up_days"]
    assert ((fu > 0) & (fu <= SMALL["follow_up_years"] * 365.25 + 1e-6)).all()

    assert set(METASTASIS_COLUMNS) <= set(metastases.columns)
    assert len(metastases) > 0
    assert set(metastases["patient_id"]) <= set(patients["patient_id"])
    assert metastases["organ"].map(type).eq(str).all()

    assert {"patient_id", "organ", "shed", *END_STATES} <= set(ledger.columns)
    # every shed cell ends in exactly one state (counted at its site or its source)
    assert ledger["shed"].sum() > 0
    assert ledger["shed"].sum() == ledger[END_STATES].to_numpy().sum()


def test_cohort_prints_where_the_outputs_are_and_the_table(
    run1: tuple[Path, Any],
) -> None:
    out, result = run1
    text = result.stdout
    assert f"{N}/{N} patients" in text  # progress, as plain lines off a terminal
    for label in (
        "node-positive at surgery",
        "metastatic at diagnosis",
        "distant metastasis by 5 y",
        "distant metastasis by 10 y",
        "median OS after first metastasis",
    ):
        assert label in text
    assert str(out) in text.replace("\n", "")


def test_rerun_with_the_same_seed_is_identical_and_force_replaces_it(
    run1: tuple[Path, Any], work: Path
) -> None:
    out, _ = run1
    again = work / "run1-again"
    again.mkdir()  # an empty directory is used as it is
    result = cohort(work / "small.yaml", "--patients", N, "--out", again, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet: errors only
    for name in ("patients", "metastases", "ledger"):
        a = pq.read_table(out / f"{name}.parquet")
        b = pq.read_table(again / f"{name}.parquet")
        assert a.num_rows > 0
        assert a.equals(b), name

    # a non-empty --out is refused, then replaced with --force
    before = (again / "manifest.json").read_bytes()
    result = cohort(work / "small.yaml", "-n", N, "--seed", 6, "--out", again)
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert "--force" in result.stderr
    assert (again / "manifest.json").read_bytes() == before
    result = cohort(
        work / "small.yaml", "-n", N, "--seed", 6, "--out", again, "--force", "-q"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((again / "manifest.json").read_text())["seed"] == 6
    first = pq.read_table(out / "patients.parquet")
    assert not first.equals(pq.read_table(again / "patients.parquet"))
    assert not [n for n in leftovers(work) if n.startswith(".")]


#: Bad scenario files: (text, fragments the error message must hold).
BAD_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "yaml_syntax": ("seed: 1\nshedding: [1, 2\n", ("bad.yaml:3: not valid YAML",)),
    "unknown_key": (
        "seed: 1\nshedding:\n  hazard_per_dya: 0.1\n",
        (
            "bad.yaml:3: shedding.hazard_per_dya = 0.1: unknown key",
            "did you mean 'hazard_per_day'?",
        ),
    ),
    "negative_rate": (
        "seed: 1\nshedding:\n  hazard_per_day: -0.1\n",
        ("bad.yaml:3: shedding.hazard_per_day = -0.1: must be >= 0 (1/day)",),
    ),
    "zero_patients": (
        "seed: 1\npatients: 0\n",
        ("bad.yaml:2: patients = 0: must be >= 1",),
    ),
    "unknown_organ": (
        "seed: 1\nsurgery:\n  removes_organs: [axillary_nodes, spleen]\n",
        ("bad.yaml:", "surgery.removes_organs", "unknown organ 'spleen'"),
    ),
    "not_a_mapping": ("- 1\n- 2\n", ("bad.yaml: expected a YAML mapping",)),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_exits_2_naming_the_problem_and_writes_nothing(
    tmp_path: Path, case: str
) -> None:
    text, fragments = BAD_FILES[case]
    scenario = write(tmp_path / "bad.yaml", text)
    result = cohort(scenario, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.stderr
    assert leftovers(tmp_path) == ["bad.yaml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--patients", "0"), "--patients = 0: must be >= 1"),
        (("--patients", "-3"), "--patients = -3: must be >= 1"),
        (("--seed", "-1"), "--seed = -1: must be >= 0"),
    ],
)
def test_bad_option_exits_2_naming_it_and_writes_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    scenario = write(tmp_path / "ok.yaml", SMALL)
    result = cohort(scenario, *args, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert leftovers(tmp_path) == ["ok.yaml"]


def test_missing_scenario_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    result = cohort(tmp_path / "nowhere.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "nowhere.yaml: file not found" in result.stderr
    assert leftovers(tmp_path) == []


def test_a_cohort_that_cannot_be_simulated_exits_2_and_writes_nothing(
    tmp_path: Path,
) -> None:
    scenario = write(
        tmp_path / "cap.yaml", {**SMALL, "patients": 40, "max_colonies_per_patient": 1}
    )
    result = cohort(scenario, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2, result.output
    assert "cap.yaml: patient" in result.stderr
    assert "max_colonies_per_patient = 1" in result.stderr
    assert leftovers(tmp_path) == ["cap.yaml"]


def test_a_directory_that_is_not_a_run_is_never_overwritten(tmp_path: Path) -> None:
    scenario = write(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    for extra in ((), ("--force",)):
        result = cohort(scenario, "--out", out, *extra)
        assert result.exit_code == 2
        assert "not a run directory" in result.stderr
    assert leftovers(out) == ["notes.txt"]


def test_a_failed_write_leaves_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metastroma.viz.body as viz

    result = simulate_cohort(CohortScenario.model_validate(SMALL), 20)

    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(viz, "km_figure", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        write_cohort(result, tmp_path / "out")
    assert leftovers(tmp_path) == []  # neither the run nor its temporary
    # and the refusal of a non-empty directory happens before anything is written
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RunDirectoryError, match="--force"):
        write_cohort(result, tmp_path / "out")
    assert leftovers(tmp_path) == ["out"]


COHORT_FILES = sorted((REPO / "scenarios").glob("cohort_*.yaml"))


@pytest.mark.parametrize("path", COHORT_FILES, ids=[p.name for p in COHORT_FILES])
def test_cohort_scenario_files_load_and_round_trip(path: Path, tmp_path: Path) -> None:
    sc = load_model(path, CohortScenario)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert sc.seed == raw["seed"]
    assert sc.patients == raw["patients"]
    resolved = write(tmp_path / "resolved.yaml", sc.model_dump(mode="json"))
    assert load_model(resolved, CohortScenario) == sc


def test_the_default_cohort_scenario_is_the_reference_cohort() -> None:
    sc = load_model(REPO / "scenarios" / "cohort_default.yaml", CohortScenario)
    assert sc.patients == 10_000
    assert sc.follow_up_years >= 15  # K1 is a lifetime (>= 15 y) figure
