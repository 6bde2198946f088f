"""The DDR2 scenario files and the DDR2 sections' bad-input errors.

Reference inputs (STYLE.md §7 level 1): every ``scenarios/ddr2_*.yaml`` loads, says at its
top what it models and how to run it, and differs from its reference arm in exactly the
keys its header names (so a header cannot drift from its file). Bad input (STYLE.md §4):
each case edits one line of a small valid DDR2 scenario and the ConfigError must name the
file, the line of the offending key, the key path and what is allowed; through the CLI
the same file exits with code 2 and writes nothing. Nothing here simulates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from metastroma.cli import app
from metastroma.config import CellKind, Scenario, load_scenario
from metastroma.errors import ConfigError
from metastroma.tissue.ddr2 import guidance_tables

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
DDR2_FILES = sorted(SCENARIOS.glob("ddr2_*.yaml"))

# --------------------------------------------------------------------------- the files

#: Every DDR2 scenario the docs list (docs/scenarios.md); a missing one is a failure.
EXPECTED = {
    "ddr2_wt_msc_2d.yaml",
    "ddr2_cancer_ko_msc_2d.yaml",
    "ddr2_slie_host_2d.yaml",
    "ddr2_no_msc_2d.yaml",
    "ddr2_transwell_2d.yaml",
    "ddr2_benign_msc_2d.yaml",
    "ddr2_knockdown_msc_2d.yaml",
    "ddr2_inhibitor_2d.yaml",
    "ddr2_fixed_aligned_2d.yaml",
    "ddr2_fixed_random_2d.yaml",
    "ddr2_wt_msc_3d.yaml",
    "ddr2_cancer_ko_msc_3d.yaml",
    "ddr2_no_msc_3d.yaml",
}

#: (reference file, keys that differ from it besides name and description). A list that
#: changes length is one key; lists of the same length are compared item by item.
DIFFERS_FROM: dict[str, tuple[str, set[str]]] = {
    "ddr2_cancer_ko_msc_2d.yaml": (
        "ddr2_wt_msc_2d.yaml",
        {"ddr2.cancer.perturbation"},
    ),
    "ddr2_slie_host_2d.yaml": ("ddr2_wt_msc_2d.yaml", {"msc_rules.genotype"}),
    "ddr2_no_msc_2d.yaml": ("ddr2_wt_msc_2d.yaml", {"cell_types.msc", "initial_cells"}),
    "ddr2_transwell_2d.yaml": ("ddr2_wt_msc_2d.yaml", {"ddr2.contact"}),
    "ddr2_benign_msc_2d.yaml": (
        "ddr2_wt_msc_2d.yaml",
        {
            "cell_types.benign",
            "initial_cells[0].kind",
            "intravasation.enabled",
            "intravasation.doorway_density_per_mm2",
        },
    ),
    "ddr2_knockdown_msc_2d.yaml": (
        "ddr2_wt_msc_2d.yaml",
        {"ddr2.cancer.perturbation"},
    ),
    "ddr2_inhibitor_2d.yaml": ("ddr2_wt_msc_2d.yaml", {"ddr2.inhibitor"}),
    "ddr2_fixed_random_2d.yaml": (
        "ddr2_fixed_aligned_2d.yaml",
        {"ecm.initial_anisotropy", "ecm.initial_orientation"},
    ),
    "ddr2_cancer_ko_msc_3d.yaml": (
        "ddr2_wt_msc_3d.yaml",
        {"ddr2.cancer.perturbation"},
    ),
    "ddr2_no_msc_3d.yaml": ("ddr2_wt_msc_3d.yaml", {"cell_types.msc", "initial_cells"}),
}


def _load(name: str) -> Scenario:
    return load_scenario(SCENARIOS / name)


def _diff(a: Any, b: Any, path: str = "") -> set[str]:
    """Key paths (``a.b[0].c``) where two resolved scenarios differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for k in a.keys() | b.keys():
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.add(sub)
            else:
                out |= _diff(a[k], b[k], sub)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= _diff(x, y, f"{path}[{i}]")
        return out
    return set() if a == b else {path}


def test_every_ddr2_scenario_is_there() -> None:
    assert {p.name for p in DDR2_FILES} == EXPECTED


@pytest.mark.parametrize("path", DDR2_FILES, ids=[p.name for p in DDR2_FILES])
def test_ddr2_scenario_loads_and_documents_itself(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert sc.ddr2.enabled or sc.name.startswith("ddr2_fixed_")
    assert sc.ecm.enabled
    assert sc.dim == (3 if path.stem.endswith("_3d") else 2)
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    text = "\n".join(header)
    assert "SCIENCE.md" in text, "the header names the experiment or section it models"
    run = [ln for ln in header if "Run:" in ln]
    assert run, "the header gives the run command"
    assert f"metastroma run scenarios/{path.name} --out " in run[0]


@pytest.mark.parametrize("name", sorted(DIFFERS_FROM))
def test_arm_differs_from_its_reference_only_where_its_header_says(name: str) -> None:
    ref, expected = DIFFERS_FROM[name]
    a = _load(ref).model_dump(mode="json")
    b = _load(name).model_dump(mode="json")
    assert _diff(a, b) - {"name", "description"} == expected


def test_arm_values() -> None:
    """The values the arms stand for (SCIENCE.md §8.1, §11 E5, E9)."""
    ko = _load("ddr2_cancer_ko_msc_2d.yaml").ddr2.cancer
    assert (ko.basal_effective, ko.max_effective) == (0.0, 0.0)
    kd = _load("ddr2_knockdown_msc_2d.yaml").ddr2.cancer
    assert kd.knockdown_fraction == 0.2
    assert kd.basal_effective == pytest.approx(0.05)
    assert kd.max_effective == pytest.approx(0.2)
    assert _load("ddr2_slie_host_2d.yaml").msc_rules.genotype == 0.0
    assert _load("ddr2_transwell_2d.yaml").ddr2.contact == "transwell"
    inhib = _load("ddr2_inhibitor_2d.yaml").ddr2
    assert inhib.occupancy_at(0.0) == 0.9
    assert inhib.occupancy_at(2880.0) == 0.9
    benign = _load("ddr2_benign_msc_2d.yaml")
    assert benign.cell_types.benign is not None
    assert [p.kind for p in benign.initial_cells] == ["benign", "msc"]
    assert not benign.intravasation.enabled
    assert (benign.ddr2.benign.basal_effective, benign.ddr2.benign.competence) == (
        0.0,
        0.0,
    )
    no_msc = _load("ddr2_no_msc_2d.yaml")
    assert no_msc.cell_types.msc is None
    assert [p.kind for p in no_msc.initial_cells] == ["cancer"]


@pytest.mark.parametrize(
    ("name", "anisotropy", "s"),
    [("ddr2_fixed_aligned_2d.yaml", 1.0, 1.0), ("ddr2_fixed_random_2d.yaml", 0.0, 1.0)],
)
def test_e2_fixed_field_arms(name: str, anisotropy: float, s: float) -> None:
    """SCIENCE.md §11 E2: 200 isolated cells, 2 × 2 mm, fixed field, 6 h, s from s₀."""
    sc = _load(name)
    assert sc.domain.upper_um[0] - sc.domain.lower_um[0] == 2000.0
    assert sc.domain.upper_um[1] - sc.domain.lower_um[1] == 2000.0
    assert sc.time.duration_min == 360.0
    assert [(p.kind, p.shape, p.n_cells) for p in sc.initial_cells] == [
        ("cancer", "box", 200)
    ]
    cancer = sc.cell_types.cancer
    assert cancer is not None and sc.cell_types.msc is None
    assert cancer.cycle.model == "none"
    assert cancer.death.apoptosis_per_min == 0.0
    assert cancer.death.necrosis == "off"
    assert not sc.oxygen.enabled
    assert not sc.intravasation.enabled
    assert not sc.ddr2.enabled  # A = 0 in every cell
    ecm = sc.ecm
    assert (ecm.remodelling, ecm.initial_density) == ("off", 0.5)
    assert ecm.initial_anisotropy == anisotropy
    if anisotropy > 0:
        assert (ecm.initial_orientation, ecm.orientation_angle_deg) == ("angle", 0.0)
    g = guidance_tables(sc)  # s = s₀ + (s₁ − s₀) A at A = 0
    assert g.sens_base[CellKind.CANCER] == s
    assert g.speed_gain[CellKind.CANCER] == 0.0
    assert g.persist_gain[CellKind.CANCER] == 0.0


@pytest.mark.parametrize(
    "name", ["ddr2_wt_msc_3d.yaml", "ddr2_cancer_ko_msc_3d.yaml", "ddr2_no_msc_3d.yaml"]
)
def test_3d_geometry(name: str) -> None:
    sc = _load(name)
    assert sc.domain.lower_um == [-250.0] * 3
    assert sc.domain.upper_um == [250.0] * 3
    assert (sc.domain.voxel_um, sc.ecm.element_um) == (20.0, 20.0)
    assert sc.time.duration_min == 1440.0
    cancer = sc.initial_cells[0]
    assert (cancer.kind, cancer.shape, cancer.n_cells) == ("cancer", "ball", 1000)
    mscs = [p for p in sc.initial_cells if p.kind == "msc"]
    if name != "ddr2_no_msc_3d.yaml":
        assert [(p.shape, p.n_cells, p.inner_radius_um, p.radius_um) for p in mscs] == [
            ("ring", 100, 100.0, 170.0)
        ]
    else:
        assert mscs == []


# --------------------------------------------------------------------------- bad input

#: A small valid DDR2 scenario; each bad case edits one line of it.
BASE = """\
name: tiny_ddr2
seed: 3
domain:
  lower_um: [-100, -100]
  upper_um: [100, 100]
  voxel_um: 20
time:
  duration_min: 12
cell_types:
  cancer: {}
  msc: {}
initial_cells:
  - kind: cancer
    shape: ball
    n_cells: 20
    radius_um: 40
  - kind: msc
    shape: ring
    n_cells: 4
    inner_radius_um: 50
    radius_um: 80
ddr2:
  enabled: true
  induction_per_min: 1.39e-3
  cancer:
    perturbation: none
  inhibitor:
    - {start_min: 0, occupancy: 0.5}
    - {start_min: 60, occupancy: 0.9}
ecm:
  enabled: true
  element_um: 20
  motility_density_low: 0.0
  motility_density_ideal: 0.5
  motility_density_high: 1.0
"""

#: case: (old text, new text, text on the line the error must point at, fragments of
#: the message). Each is one edit of BASE.
BAD: dict[str, tuple[str, str, str, list[str]]] = {
    "unknown_key_under_ddr2": (
        "  induction_per_min: 1.39e-3\n",
        "  induction_per_min: 1.39e-3\n  inductoin_per_min: 1\n",
        "inductoin_per_min",
        [
            "ddr2.inductoin_per_min",
            "unknown key",
            "did you mean 'induction_per_min'",
            "contact_saturation",  # the allowed keys of ddr2 are listed
        ],
    ),
    "negative_rate": (
        "induction_per_min: 1.39e-3",
        "induction_per_min: -1",
        "induction_per_min",
        ["ddr2.induction_per_min = -1", "must be >= 0", "(1/min)"],
    ),
    "bad_perturbation": (
        "perturbation: none",
        "perturbation: knockedout",
        "perturbation",
        ["ddr2.cancer.perturbation = 'knockedout'", "'knockout'", "'knockdown'"],
    ),
    "ring_inner_not_below_outer": (
        "inner_radius_um: 50",
        "inner_radius_um: 80",
        "inner_radius_um",
        ["initial_cells[1].inner_radius_um", "must be below radius_um"],
    ),
    "inhibitor_phases_out_of_order": (
        "{start_min: 60, occupancy: 0.9}",
        "{start_min: 0, occupancy: 0.9}",
        "inhibitor:",
        ["ddr2.inhibitor", "increasing start_min"],
    ),
    "element_does_not_tile_the_domain": (
        "element_um: 20",
        "element_um: 30",
        "element_um",
        ["ecm.element_um", "200 µm, must be a whole number", "element_um = 30 µm"],
    ),
    "density_window_out_of_order": (
        "motility_density_ideal: 0.5",
        "motility_density_ideal: 1.0",
        "motility_density_ideal",
        ["ecm.motility_density_ideal", "motility_density_low < ideal < high"],
    ),
}


def _edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _line_of(text: str, needle: str) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def test_base_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    sc = load_scenario(path)
    assert sc.ddr2.enabled and sc.ecm.enabled
    assert sc.initial_cells[1].shape == "ring"
    assert [p.occupancy for p in sc.ddr2.inhibitor] == [0.5, 0.9]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_ddr2_input_names_file_line_and_key(tmp_path: Path, case: str) -> None:
    old, new, where, fragments = BAD[case]
    text = _edited(old, new)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    first = str(info.value).splitlines()[0]
    m = re.match(r"^bad\.yaml:(\d+): ", first)
    assert m is not None, f"no 'file:line: ' prefix in {first!r}"
    assert int(m.group(1)) == _line_of(text, where), first
    for frag in fragments:
        assert frag in first, f"{frag!r} not in {first!r}"


def test_cli_run_of_a_bad_ddr2_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    old, new, _, fragments = BAD["negative_rate"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(_edited(old, new), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 2, result.output
    for frag in fragments:
        assert frag in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
