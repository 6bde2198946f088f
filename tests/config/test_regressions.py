"""Regression tests, each named after the bug it pins (found in review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metastroma import ConfigError, load_scenario
from metastroma.config import (
    DomainConfig,
    MscCellConfig,
    OxygenConfig,
    Placement,
    Scenario,
    VesselConfig,
)
from metastroma.tissue import TissueSimulation
from metastroma.tissue.diffusion import make_voxel_grid
from metastroma.tissue.oxygen import vessel_voxels


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_regression_yaml_exponents_are_numbers_not_strings(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "oxygen:\n  diffusivity_um2_per_min: 1e5\n  solver_rtol: 1.0e-10\n"
        "cell_types:\n  cancer:\n    death:\n      apoptosis_per_min: 5.31667e-5\n",
    )
    sc = load_scenario(path)
    assert sc.oxygen.diffusivity_um2_per_min == 1.0e5
    assert sc.oxygen.solver_rtol == 1.0e-10
    assert sc.cell_types.cancer is not None
    assert sc.cell_types.cancer.death.apoptosis_per_min == 5.31667e-5


def test_regression_partial_msc_subsection_keeps_msc_defaults() -> None:
    msc = MscCellConfig.model_validate(
        {
            "cycle": {"oxygen_dependent": False},
            "motility": {"speed_um_per_min": 0.5},
            "mechanics": {"repulsion_um_per_min": 5.0},
        }
    )
    assert msc.cycle.model == "none" and msc.cycle.durations == []
    assert msc.motility.persistence_min == 30.0
    assert msc.motility.speed_um_per_min == 0.5
    assert msc.mechanics.relative_max_adhesion_distance == 1.5
    assert msc.mechanics.repulsion_um_per_min == 5.0


def test_regression_cells_read_initial_oxygen_at_t0() -> None:
    sc = Scenario(
        domain=DomainConfig(lower_um=[-100.0, -100.0], upper_um=[100.0, 100.0]),
        oxygen=OxygenConfig(initial_mmhg=30.0),
        initial_cells=[Placement(n_cells=20, radius_um=40.0)],
    )
    sim = TissueSimulation.from_scenario(sc)
    np.testing.assert_array_equal(sim.cells.live("oxygen_mmhg"), 30.0)


def test_regression_ball_outside_domain_is_refused_not_clamped(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "domain:\n  lower_um: [-100, -100]\n  upper_um: [100, 100]\n"
        "initial_cells:\n  - kind: cancer\n    radius_um: 150\n",
    )
    with pytest.raises(ConfigError, match=r"s.yaml:6: initial_cells\[0\].radius_um: "):
        load_scenario(path)


def test_regression_csv_positions_outside_domain_are_refused(tmp_path: Path) -> None:
    from metastroma import run

    (tmp_path / "pos.csv").write_text("x,y\n0,0\n500,0\n", encoding="utf-8")
    path = _write(
        tmp_path,
        "domain:\n  lower_um: [-100, -100]\n  upper_um: [100, 100]\n"
        "initial_cells:\n  - kind: cancer\n    shape: csv\n    csv_path: pos.csv\n",
    )
    sc = load_scenario(path)
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"initial_cells\[0\]: 1 of 2 csv positions"):
        run(sc, out)
    assert not out.exists()  # nothing written


def test_regression_3d_vessel_density_is_per_section_area() -> None:
    sc = Scenario(
        domain=DomainConfig(lower_um=[0, 0, 0], upper_um=[1000, 1000, 200]),
        oxygen=OxygenConfig(vessels=VesselConfig(density_per_mm2=50.0)),
        initial_cells=[],
    )
    grid = make_voxel_grid(sc.domain.lower_um, sc.domain.upper_um, sc.domain.voxel_um)
    vox = vessel_voxels(sc, grid)
    mask = np.zeros(grid.shape, dtype=bool)
    mask.reshape(-1)[vox] = True
    # every z-section holds the same vessels: whole columns along z
    assert np.array_equal(mask.any(axis=2), mask.all(axis=2))
    # 50 per mm² of a 1 mm² section (a few may share a voxel)
    assert 45 <= mask[:, :, 0].sum() <= 50
