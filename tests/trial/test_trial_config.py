"""Trial files: a valid file loads with its cohort; each bad one gives one clear error.

Every error must name the trial file, the line of the offending key and the key path
(STYLE.md §4); the cohort scenario's own errors are prefixed with the trial's ``cohort``
key. Nothing here simulates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metastroma.config.trial import load_trial
from metastroma.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "scenarios" / "cohort_default.yaml"

GOOD = f"""\
name: t
cohort: {COHORT}
patients: 50
horizons_years: [10, 5]
arms:
  - {{name: control, kind: control}}
  - {{name: ko, kind: cancer_knockout}}
  - {{name: kd, kind: cancer_knockdown, activity_factor: 0.3}}
  - name: adj
    kind: inhibitor
    start: diagnosis
    duration_days: 1826
    inhibitor: {{drug: dasatinib_a, schedule: {{dose_mg: 70, interval_h: 12}}}}
"""


def _write(tmp_path: Path, text: str, name: str = "trial.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _line(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_a_valid_trial_loads_with_its_cohort(tmp_path: Path) -> None:
    loaded = load_trial(_write(tmp_path, GOOD))
    t = loaded.trial
    assert [a.name for a in t.arms] == ["control", "ko", "kd", "adj"]
    assert [a.kind for a in t.arms] == [
        "control",
        "cancer_knockout",
        "cancer_knockdown",
        "inhibitor",
    ]
    assert t.horizons_years == [5.0, 10.0]  # sorted
    assert loaded.cohort.patients == 50  # the trial's patients replace the cohort's
    assert t.arms[3].inhibitor.schedule.dose_mg == 70.0
    assert t.arms[3].duration_days == 1826.0
    assert t.arms[2].activity_factor == 0.3
    assert loaded.curves is None


def test_relative_cohort_path_and_patients_option(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("seed: 9\npatients: 77\n", encoding="utf-8")
    text = "name: t\ncohort: c.yaml\narms:\n  - {name: control, kind: control}\n"
    loaded = load_trial(_write(tmp_path, text))
    assert loaded.cohort.seed == 9
    assert loaded.cohort.patients == 77  # no trial patients: the cohort's
    assert load_trial(_write(tmp_path, text), patients=12).cohort.patients == 12


BAD = [
    # (what to replace in GOOD, by what, the key named, what the message says)
    (
        "patients: 50",
        "patients: 50\nbogus: 1",
        "bogus",
        "unknown key; allowed keys here: arms",
    ),
    ("dose_mg: 70", "dose_mg: -70", "arms[3].inhibitor.schedule.dose_mg", ">= 0"),
    ("activity_factor: 0.3", "activity_factor: 1.5", "arms[2].activity_factor", "<= 1"),
    ("kind: cancer_knockout", "kind: knockout", "arms[1].kind", "cancer_knockout"),
    (
        "{name: control, kind: control}",
        "{name: control, kind: control, duration_days: 3}",
        "arms[0]",
        "duration_days: not a key of a 'control' arm",
    ),
    (
        "interval_h: 12}",
        "interval_h: 12, stop_day: 30}",
        "arms[3]",
        "stop_day = 30 would be ignored",
    ),
    ("name: ko,", "name: kd,", "arms", "'kd' is used twice"),
    (
        "patients: 50",
        "patients: 50\nreference_arm: placebo",
        "reference_arm",
        "placebo",
    ),
    ("horizons_years: [10, 5]", "horizons_years: [10, -5]", "horizons_years", "> 0"),
    ("name: adj", "name: a/b", "arms[3].name", "pattern"),
    (
        "duration_days: 1826",
        "duration_days: '5 years'",
        "arms[3].duration_days",
        "number",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "says"), BAD, ids=[b[2] for b in BAD])
def test_a_bad_trial_file_names_file_line_and_key(
    tmp_path: Path, old: str, new: str, key: str, says: str
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        load_trial(_write(tmp_path, text))
    msg = str(info.value)
    assert re.search(rf"^trial\.yaml:\d+: {re.escape(key)}", msg, re.M), msg
    assert says in msg, msg
    line = int(msg.split(":")[1])
    first_key = key.split("[")[0].split(".")[0]
    assert line >= _line(text, first_key), msg  # the key's line (or inside its block)


def test_a_missing_cohort_file_is_named(tmp_path: Path) -> None:
    text = GOOD.replace(str(COHORT), "nowhere.yaml")
    with pytest.raises(ConfigError) as info:
        load_trial(_write(tmp_path, text))
    msg = str(info.value)
    assert msg.startswith(
        f"trial.yaml:{_line(text, 'cohort:')}: cohort = 'nowhere.yaml'"
    )
    assert "file not found" in msg and str(tmp_path / "nowhere.yaml") in msg


def test_a_bad_cohort_scenario_is_named_through_the_trial(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("seed: 1\nfollow_up_years: -3\n", encoding="utf-8")
    text = "name: t\ncohort: c.yaml\narms:\n  - {name: control, kind: control}\n"
    with pytest.raises(ConfigError) as info:
        load_trial(_write(tmp_path, text))
    msg = str(info.value)
    assert msg.startswith("trial.yaml:2: cohort = 'c.yaml': c.yaml:2: follow_up_years")


def test_a_horizon_beyond_follow_up_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("follow_up_years: 8\n", encoding="utf-8")
    text = (
        "name: t\ncohort: c.yaml\nhorizons_years: [5, 10]\n"
        "arms:\n  - {name: control, kind: control}\n"
    )
    with pytest.raises(ConfigError, match=r"horizons_years\[1\] = 10: beyond"):
        load_trial(_write(tmp_path, text))


def test_patients_option_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--patients = 0"):
        load_trial(_write(tmp_path, GOOD), patients=0)


def test_a_missing_trial_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trial file not found"):
        load_trial(tmp_path / "absent.yaml")
