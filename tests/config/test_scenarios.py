"""Scenario files: the examples load and round-trip; bad input gives one clear ConfigError.

Levels (STYLE.md §7): every file in ``scenarios/`` (reference inputs), a YAML round trip of
random valid scenarios (property), hand-written bad files whose error must name the file,
the line of the offending key, the key path and what is allowed (STYLE.md §4), and a fuzz
of random mutations of a valid scenario: a Scenario or a ConfigError, never anything else.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metastroma.config import (
    CancerCellConfig,
    CellTypesConfig,
    CycleConfig,
    DeathConfig,
    DomainConfig,
    MotilityConfig,
    OutputConfig,
    OxygenConfig,
    Placement,
    Scenario,
    TimeConfig,
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_hash,
    scenario_to_yaml,
)
from metastroma.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
# Tissue scenarios; cohort scenarios (cohort_*.yaml) are checked in tests/cli/test_cohort_cli.py,
# ensemble files (sweep_*, sensitivity_*, calibrate_*) in tests/ensemble/test_ensemble_files.py,
# trial files (trial_*) below and in tests/trial/, link scan files (link_*) in tests/link/.
SCENARIO_FILES = sorted(
    p
    for p in (REPO / "scenarios").glob("*.yaml")
    if not p.name.startswith(
        ("cohort_", "sweep_", "sensitivity_", "calibrate_", "trial_", "link_")
    )
)
TRIAL_FILES = sorted((REPO / "scenarios").glob("trial_*.yaml"))


@pytest.mark.parametrize("path", TRIAL_FILES, ids=lambda p: p.name)
def test_trial_files_load_as_trials(path: Path) -> None:
    from metastroma.config.trial import load_trial

    loaded = load_trial(path)
    assert len(loaded.trial.arms) >= 2
    assert loaded.trial.cohort.is_file()
    assert loaded.cohort.patients == loaded.trial.patients


def test_a_trial_file_is_shipped() -> None:
    assert "trial_ddr2.yaml" in {p.name for p in TRIAL_FILES}


# --------------------------------------------------------------------------- examples


def test_the_examples_exist() -> None:
    names = {p.name for p in SCENARIO_FILES}
    assert {
        "spheroid_2d.yaml",
        "spheroid_3d.yaml",
        "physicell_template_5k.yaml",
    } <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_example_loads_and_round_trips(path: Path, tmp_path: Path) -> None:
    sc = load_scenario(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert sc.name == raw["name"]
    assert sc.seed == raw["seed"]
    assert sc.domain.lower_um == [float(x) for x in raw["domain"]["lower_um"]]
    assert sc.initial_cells[0].n_cells == raw["initial_cells"][0]["n_cells"]

    text = scenario_to_yaml(sc)
    resolved = yaml.safe_load(text)
    # resolved: every default written out, down to the leaves
    assert "necrotic_removal_min" in resolved["cell_types"]["cancer"]["death"]
    assert "solver_rtol" in resolved["oxygen"]
    again = scenario_from_dict(resolved, source="resolved.yaml")
    assert again == sc
    assert scenario_hash(again) == scenario_hash(sc)

    saved = tmp_path / path.name
    save_scenario(sc, saved)
    assert load_scenario(saved) == sc
    assert saved.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        path.name
    ]  # no temporary left


def test_a_changed_value_changes_the_hash() -> None:
    sc = load_scenario(REPO / "scenarios" / "spheroid_2d.yaml")
    other = Scenario.model_validate({**sc.model_dump(), "seed": sc.seed + 1})
    assert other != sc
    assert scenario_hash(other) != scenario_hash(sc)


# --------------------------------------------------------------------------- round trip


@st.composite
def valid_scenarios(draw: st.DrawFn) -> Scenario:
    """Scenarios from random valid values of a few fields (bounds of models.py)."""
    dim = draw(st.sampled_from([2, 3]))
    voxel = draw(st.floats(1.0, 100.0, allow_nan=False, allow_infinity=False))
    n_vox = draw(st.lists(st.integers(3, 12), min_size=dim, max_size=dim))
    lower = draw(
        st.lists(
            st.floats(-1.0e4, 1.0e4, allow_nan=False, allow_infinity=False),
            min_size=dim,
            max_size=dim,
        )
    )
    upper = [lo + n * voxel for lo, n in zip(lower, n_vox, strict=True)]
    dt_mech = draw(st.sampled_from([0.05, 0.1, 0.2, 0.25, 0.5, 1.0]))
    per_block = draw(st.integers(1, round(60.0 / dt_mech)))
    finite = {"allow_nan": False, "allow_infinity": False}
    far_field = draw(st.floats(10.0, 160.0, **finite))
    centre = [(lo + hi) / 2 for lo, hi in zip(lower, upper, strict=True)]
    return Scenario(
        name=draw(
            st.text(
                st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1,
                max_size=20,
            )
        ),
        seed=draw(st.integers(0, 2**63 - 1)),
        domain=DomainConfig(
            lower_um=lower, upper_um=upper, voxel_um=voxel, wall=draw(st.booleans())
        ),
        time=TimeConfig(
            duration_min=draw(st.floats(1.0, 1.0e5, **finite)),
            dt_mechanics_min=dt_mech,
            dt_phenotype_min=dt_mech * per_block,
        ),
        oxygen=OxygenConfig(
            decay_per_min=draw(st.floats(0.0, 1.0e4, **finite)),
            diffusivity_um2_per_min=draw(st.floats(1.0, 1.0e8, **finite)),
            far_field_mmhg=far_field,
        ),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                oxygen_uptake_per_min=draw(st.floats(0.0, 1.0e4, **finite)),
                motility=MotilityConfig(
                    speed_um_per_min=draw(st.floats(0.0, 100.0, **finite))
                ),
                cycle=CycleConfig(
                    phase_durations_min=[draw(st.floats(1.0, 1.0e6, **finite))]
                ),
                death=DeathConfig(
                    apoptosis_per_min=draw(st.floats(0.0, 1.0, **finite))
                ),
            )
        ),
        initial_cells=[
            Placement(
                n_cells=draw(st.integers(0, 100_000)),
                # the ball must fit in the domain (a validator refuses one that does not)
                radius_um=min(n * voxel for n in n_vox)
                / 2
                * draw(st.floats(0.01, 1.0, **finite)),
                center_um=draw(st.sampled_from([None, centre])),
            )
        ],
        output=OutputConfig(metrics_every_min=draw(st.floats(0.5, 1.0e4, **finite))),
    )


@settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(sc=valid_scenarios())
def test_valid_scenario_survives_a_yaml_round_trip(
    sc: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> None:
    text = scenario_to_yaml(sc)
    assert scenario_from_dict(yaml.safe_load(text)) == sc
    path = tmp_path_factory.mktemp("roundtrip") / "random.yaml"
    save_scenario(sc, path)
    back = load_scenario(path)
    assert back == sc
    assert scenario_hash(back) == scenario_hash(sc)


# --------------------------------------------------------------------------- bad input

#: A valid tiny scenario; each bad case below edits one line of it.
BASE = """\
name: tiny
seed: 3
domain:
  lower_um: [-100, -100]
  upper_um: [100, 100]
  voxel_um: 20
time:
  duration_min: 60
  dt_mechanics_min: 0.1
  dt_phenotype_min: 6
oxygen:
  decay_per_min: 0.1
  far_field_mmhg: 38
cell_types:
  cancer:
    cycle:
      model: live
      proliferation_threshold_mmhg: 5
      proliferation_saturation_mmhg: 38
    death:
      necrosis: ramp
      necrosis_threshold_mmhg: 5
      necrosis_max_mmhg: 2.5
initial_cells:
  - kind: cancer
    shape: ball
    n_cells: 40
    radius_um: 60
    center_um: [0, 0]
"""


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line of ``text`` that contains ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def load_text(tmp_path: Path, text: str, name: str = "bad.yaml") -> Scenario:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def assert_names(
    message: str, name: str, lines: set[int], fragments: list[str]
) -> None:
    """The message's first line is ``name:LINE: …`` with LINE in ``lines``, and has every
    fragment."""
    first = message.splitlines()[0]
    m = re.match(rf"^{re.escape(name)}:(\d+): ", first)
    assert m is not None, f"no 'file:line: ' prefix in {first!r}"
    assert int(m.group(1)) in lines, (
        f"line {m.group(1)}, expected one of {sorted(lines)}: {first!r}"
    )
    for frag in fragments:
        assert frag in first, f"{frag!r} not in {first!r}"


def test_base_is_valid(tmp_path: Path) -> None:
    sc = load_text(tmp_path, BASE, "base.yaml")
    assert sc.oxygen.decay_per_min == 0.1
    assert sc.initial_cells[0].n_cells == 40


def test_unknown_key_names_line_path_and_suggestion(tmp_path: Path) -> None:
    text = edited("  voxel_um: 20\n", "  voxl_um: 20\n")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "voxl_um")},
        ["domain.voxl_um", "unknown key", "did you mean 'voxel_um'", "wall"],
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = BASE + "oxygen_decay: 0.1\n"
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "oxygen_decay")},
        ["oxygen_decay", "unknown key", "did you mean 'oxygen'"],
    )


def test_negative_rate_names_bound_and_unit(tmp_path: Path) -> None:
    text = edited("decay_per_min: 0.1", "decay_per_min: -0.1")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "decay_per_min")},
        ["oxygen.decay_per_min = -0.1", "must be >= 0", "(1/min)"],
    )


def test_upper_bound_names_bound_and_unit(tmp_path: Path) -> None:
    text = edited("far_field_mmhg: 38", "far_field_mmhg: 200")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "far_field_mmhg")},
        ["oxygen.far_field_mmhg = 200", "must be <= 160", "(mmHg)"],
    )


def test_string_for_a_float(tmp_path: Path) -> None:
    text = edited("decay_per_min: 0.1", "decay_per_min: fast")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "decay_per_min")},
        ["oxygen.decay_per_min = 'fast'", "number"],
    )


def test_string_for_an_int_in_a_list_entry(tmp_path: Path) -> None:
    text = edited("n_cells: 40", "n_cells: many")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "n_cells")},
        ["initial_cells[0].n_cells = 'many'", "must be a number"],
    )


@pytest.mark.parametrize("bad", [".nan", ".inf", "-.inf"])
def test_non_finite_number(tmp_path: Path, bad: str) -> None:
    text = edited("decay_per_min: 0.1", f"decay_per_min: {bad}")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "decay_per_min")},
        ["oxygen.decay_per_min", "finite"],
    )


def test_non_finite_in_a_list(tmp_path: Path) -> None:
    text = edited("lower_um: [-100, -100]", "lower_um: [-100, .nan]")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "lower_um")},
        ["domain.lower_um", "finite"],
    )


def test_missing_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ")
    assert "not found" in msg


def test_missing_csv(tmp_path: Path) -> None:
    text = edited(
        "    shape: ball\n    n_cells: 40\n    radius_um: 60\n    center_um: [0, 0]\n",
        "    shape: csv\n    csv_path: cells/missing.csv\n",
    )
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "csv_path")},
        ["initial_cells[0].csv_path", "cells/missing.csv", "not found"],
    )


def test_csv_next_to_the_scenario_loads(tmp_path: Path) -> None:
    (tmp_path / "cells.csv").write_text("x,y\n0,0\n10,0\n", encoding="utf-8")
    text = edited(
        "    shape: ball\n    n_cells: 40\n    radius_um: 60\n    center_um: [0, 0]\n",
        "    shape: csv\n    csv_path: cells.csv\n",
    )
    sc = load_text(tmp_path, text, "ok.yaml")
    assert sc.initial_cells[0].csv_path == (tmp_path / "cells.csv").resolve()


def test_regression_csv_path_with_nul_byte_is_a_config_error(tmp_path: Path) -> None:
    # Path.resolve() raises ValueError('embedded null byte'): it must become a ConfigError
    text = edited(
        "    shape: ball\n    n_cells: 40\n    radius_um: 60\n    center_um: [0, 0]\n",
        '    shape: csv\n    csv_path: "a\\0b.csv"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "csv_path")},
        ["initial_cells[0].csv_path"],
    )


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = edited("  voxel_um: 20\n", "  voxel_um: 20\n bad: : x\n")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value), "bad.yaml", {line_of(text, "bad: : x")}, ["not valid YAML"]
    )


def test_yaml_tab_indentation_names_its_line(tmp_path: Path) -> None:
    text = edited("  far_field_mmhg: 38\n", "\tfar_field_mmhg: 38\n")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "\tfar_field_mmhg")},
        ["not valid YAML"],
    )


@pytest.mark.parametrize(
    "text", ["", "\n", "# only a comment\n"], ids=["empty", "blank", "comment"]
)
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, "empty.yaml")
    msg = str(info.value)
    assert msg.startswith("empty.yaml: ")
    assert "empty" in msg.removeprefix("empty.yaml: ")


@pytest.mark.parametrize(
    "text",
    ["- name: a\n- name: b\n", "42\n", "just words\n"],
    ids=["list", "number", "string"],
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, "top.yaml")
    msg = str(info.value)
    assert msg.startswith("top.yaml: ")
    assert "mapping" in msg


def test_necrosis_max_not_below_threshold(tmp_path: Path) -> None:
    text = edited("necrosis_max_mmhg: 2.5", "necrosis_max_mmhg: 5")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    # the model-level check belongs to the 'death' mapping (or its offending key)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "death:"), line_of(text, "necrosis_max_mmhg")},
        [
            "cell_types.cancer.death",
            "necrosis_max_mmhg: must be below necrosis_threshold_mmhg",
        ],
    )


def test_necrosis_max_above_threshold_is_fine_without_the_ramp(tmp_path: Path) -> None:
    text = edited("necrosis: ramp", "necrosis: deterministic")
    text = text.replace("necrosis_max_mmhg: 2.5", "necrosis_max_mmhg: 5")
    assert load_text(tmp_path, text).cell_types.cancer is not None


def test_phenotype_step_not_a_multiple_of_mechanics_step(tmp_path: Path) -> None:
    text = edited("dt_phenotype_min: 6", "dt_phenotype_min: 6.05")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "time:"), line_of(text, "dt_phenotype_min")},
        [
            "time",
            "dt_phenotype_min: 6.05 must be a whole multiple of dt_mechanics_min",
        ],
    )


def test_domain_extent_not_a_multiple_of_the_voxel(tmp_path: Path) -> None:
    text = edited("voxel_um: 20", "voxel_um: 30")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "domain:"), line_of(text, "voxel_um")},
        ["domain", "200 µm, must be a whole number", "voxel_um = 30 µm"],
    )


def test_proliferation_threshold_not_below_saturation(tmp_path: Path) -> None:
    text = edited("proliferation_threshold_mmhg: 5", "proliferation_threshold_mmhg: 38")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert_names(
        str(info.value),
        "bad.yaml",
        {line_of(text, "cycle:"), line_of(text, "proliferation_threshold_mmhg")},
        [
            "cell_types.cancer.cycle",
            "proliferation_threshold_mmhg: must be below proliferation_saturation_mmhg",
        ],
    )


def test_placing_msc_without_msc_type_names_the_placement_line(tmp_path: Path) -> None:
    text = edited("  - kind: cancer", "  - kind: msc")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    msg = str(info.value)
    assert "initial_cells[0]" in msg
    assert "cell_types.msc is not defined" in msg
    # STYLE.md §4: the line is where the problem is, not line 1 of the file
    assert_names(
        msg,
        "bad.yaml",
        {line_of(text, "initial_cells:"), line_of(text, "kind: msc")},
        ["initial_cells[0]"],
    )


def test_centre_outside_domain_names_the_centre_line(tmp_path: Path) -> None:
    text = edited("center_um: [0, 0]", "center_um: [500, 0]")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    msg = str(info.value)
    assert "initial_cells[0].center_um: lies outside the domain" in msg
    assert_names(
        msg,
        "bad.yaml",
        {
            line_of(text, "initial_cells:"),
            line_of(text, "- kind"),
            line_of(text, "center_um"),
        },
        ["initial_cells[0]"],
    )


def test_several_problems_give_one_line_each(tmp_path: Path) -> None:
    text = edited("decay_per_min: 0.1", "decay_per_min: -1")
    text = text.replace("n_cells: 40", "n_cells: -5")
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert any(
        ln.startswith(
            f"bad.yaml:{line_of(text, 'decay_per_min')}: oxygen.decay_per_min"
        )
        for ln in lines
    )
    assert any(
        ln.startswith(f"bad.yaml:{line_of(text, 'n_cells')}: initial_cells[0].n_cells")
        for ln in lines
    )


# --------------------------------------------------------------------------- fuzz

_SPHEROID_PATH = REPO / "scenarios" / "spheroid_2d.yaml"
_RAW = yaml.safe_load(_SPHEROID_PATH.read_text(encoding="utf-8"))
_RESOLVED = yaml.safe_load(scenario_to_yaml(load_scenario(_SPHEROID_PATH)))

Path_ = tuple[str | int, ...]


def _node_paths(obj: Any, prefix: Path_ = ()) -> list[Path_]:
    """Paths of every node below ``obj`` (not ``obj`` itself), depth first."""
    out: list[Path_] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_node_paths(v, (*prefix, k)))
    return out


def _get(obj: Any, path: Path_) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _dict_paths(obj: Any) -> list[Path_]:
    return [()] + [p for p in _node_paths(obj) if isinstance(_get(obj, p), dict)]


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    _TEXT,
    st.floats(-1.0e6, 1.0e6, allow_nan=False, allow_infinity=False),  # NaN, inf: _OPS
)
_RETYPED = st.one_of(
    _TEXT,
    st.sampled_from(
        ["", "1e3", "fast", "csv", "msc", "none", "ramp", "up_oxygen", "[/]"]
    ),
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.sampled_from(["a", "x", "kind", "seed"]), _SCALARS, max_size=2),
    st.booleans(),
    st.none(),
)
_UNKNOWN_KEYS = st.one_of(
    st.sampled_from(
        ["voxl_um", "decay_per_minute", "n_cell", "colour", "seeds", "cancers"]
    ),
    st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True),
)
_OPS = ["drop", "add", "retype", "negate", "non_finite", "huge", "zero"]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from([_RAW, _RESOLVED])))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(_OPS))
        if op == "add":
            target = _get(data, draw(st.sampled_from(_dict_paths(data))))
            target[draw(_UNKNOWN_KEYS)] = draw(_SCALARS)
            continue
        paths = _node_paths(data)
        if op == "negate":
            paths = [
                p for p in paths if isinstance(_get(data, p), int | float)
            ] or paths
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        old = parent[key]
        if op == "drop":
            del parent[key]
        elif op == "retype":
            parent[key] = draw(_RETYPED)
        elif op == "negate":
            parent[key] = -old if isinstance(old, int | float) and old else -1
        elif op == "non_finite":
            parent[key] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        elif op == "huge":
            parent[key] = draw(st.sampled_from([1.0e30, -1.0e30, 10**30]))
        else:
            parent[key] = 0
    return data


@settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=mutated())
def test_fuzzed_scenario_loads_or_raises_config_error(
    data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    try:
        sc = load_scenario(path)
    except ConfigError as err:
        msg = str(err)
        assert msg.startswith("fuzz.yaml")
        for line in msg.splitlines():
            assert re.match(r"^fuzz\.yaml(:\d+)?: ", line), (
                f"badly formed line {line!r}"
            )
    else:
        assert isinstance(sc, Scenario)
        assert scenario_from_dict(yaml.safe_load(scenario_to_yaml(sc))) == sc
