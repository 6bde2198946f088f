"""End to end through ``metastroma trial`` (typer's CliRunner, in process).

One trial of 4 arms × 300 patients runs once per module; bad inputs stop before the
simulation with exit 2 and write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from metastroma.cli import app
from metastroma.store.trial import TRIAL_FIGURES, TRIAL_TABLES

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ARMS = ["control", "cancer_ko", "adjuvant_dasatinib", "dasatinib_at_relapse"]


def _trial_file(tmp: Path, extra: str = "") -> Path:
    (tmp / "cohort.yaml").write_text(
        "seed: 3\npatients: 1000\nfollow_up_years: 10\n", encoding="utf-8"
    )
    text = f"""\
name: cli_trial
cohort: cohort.yaml
patients: 2000
horizons_years: [5, 10]
arms:
  - {{name: control, kind: control}}
  - {{name: cancer_ko, kind: cancer_knockout}}
  - name: adjuvant_dasatinib
    kind: inhibitor
    duration_days: 1826
    inhibitor: {{drug: dasatinib_a, schedule: {{dose_mg: 70, interval_h: 12}}}}
  - name: dasatinib_at_relapse
    kind: inhibitor
    start: distant_detection
    inhibitor: {{drug: dasatinib_a, schedule: {{dose_mg: 70, interval_h: 12}}}}
{extra}"""
    path = tmp / "trial.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("trial")
    out = tmp / "out"
    res = CliRunner().invoke(
        app, ["trial", str(_trial_file(tmp)), "--out", str(out), "--patients", "300"]
    )
    assert res.exit_code == 0, res.output
    return out, res.output


def test_cli_writes_every_promised_file(run: tuple[Path, str]) -> None:
    out, output = run
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "trial" and m["status"] == "complete"
    assert m["n_patients_per_arm"] == 300 and m["seed"] == 3
    expected = {
        "manifest.json",
        "trial.yaml",
        "config.yaml",
        *TRIAL_TABLES,
        *(f"figures/{f}" for f in TRIAL_FIGURES),
        *(f"arms/{a}/{t}.parquet" for a in ARMS for t in ("patients", "metastases")),
    }
    assert set(m["files"]) == expected
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == expected
    for f in TRIAL_FIGURES:
        assert (out / "figures" / f).read_bytes()[:8] == PNG_MAGIC
    for a in ARMS:
        p = pq.read_table(out / "arms" / a / "patients.parquet").to_pandas()
        assert len(p) == 300 and p["patient_id"].tolist() == list(range(300))
    # the summary: one row per arm, the IC50 basis and activity factor of the drug arms
    s = pd.read_csv(out / "summary.csv").set_index("arm")
    assert list(s.index) == ARMS
    assert s.loc["adjuvant_dasatinib", "ic50_basis"] == "free"
    assert 0 < s.loc["adjuvant_dasatinib", "activity_factor"] < 1
    assert s.loc["cancer_ko", "hr_mfs"] < 1
    arms = {a["name"]: a for a in m["arms"]}
    assert arms["dasatinib_at_relapse"]["ic50_basis"] == "free"
    assert m["common_random_numbers"] is True
    md = (out / "summary.md").read_text()
    assert "Common random numbers" in md and "conservative" in md
    assert "IC50 compared with the free plasma concentration" in md
    sv = pd.read_csv(out / "survival.csv")
    assert set(sv["endpoint"]) == {"mfs", "os"} and set(sv["arm"]) == set(ARMS)
    assert ((sv["ci_low"] <= sv["survival"]) & (sv["survival"] <= sv["ci_high"])).all()
    sites = pd.read_csv(out / "sites.csv")
    assert set(sites["arm"]) == set(ARMS) and "bone_marrow" in set(sites["organ"])
    assert "virtual trial cli_trial" in output and "summary.md" in output


def test_cli_refuses_a_non_empty_out_without_force(
    run: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = run
    trial = _trial_file(tmp_path)
    before = (out / "manifest.json").read_bytes()
    res = CliRunner().invoke(app, ["trial", str(trial), "--out", str(out), "-q"])
    assert res.exit_code == 2
    assert "--force" in res.output
    assert (out / "manifest.json").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    res = CliRunner().invoke(
        app, ["trial", str(trial), "--out", str(other), "--force", "-q"]
    )
    assert res.exit_code == 2 and "not a run directory" in res.output
    assert (other / "notes.txt").read_text() == "mine"


def test_cli_force_replaces_an_earlier_trial(tmp_path: Path) -> None:
    trial = _trial_file(tmp_path)
    out = tmp_path / "out"
    args = ["trial", str(trial), "--out", str(out), "-q"]
    assert CliRunner().invoke(app, [*args, "-n", "40"]).exit_code == 0
    res = CliRunner().invoke(app, [*args, "-n", "50", "--force"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["n_patients_per_arm"] == 50


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("bogus_key: 1\n", "trial.yaml:16: bogus_key = 1: unknown key"),
        (None, "arms[2].inhibitor.schedule.dose_mg = -70: must be >= 0"),
        ("", "cohort = 'missing.yaml': file not found"),
    ],
    ids=["wrong key", "negative dose", "missing cohort"],
)
def test_cli_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, extra: str | None, says: str
) -> None:
    trial = _trial_file(tmp_path, extra or "")
    text = trial.read_text()
    if extra is None:
        text = text.replace("dose_mg: 70", "dose_mg: -70", 1)
    elif extra == "":
        text = text.replace("cohort: cohort.yaml", "cohort: missing.yaml")
    trial.write_text(text)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["trial", str(trial), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert says in " ".join(res.output.split()), res.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_cli_patients_option_is_checked(tmp_path: Path) -> None:
    trial = _trial_file(tmp_path)
    res = CliRunner().invoke(
        app, ["trial", str(trial), "--out", str(tmp_path / "o"), "-n", "0"]
    )
    assert res.exit_code == 2 and "--patients = 0" in res.output
