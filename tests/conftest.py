"""Shared fixtures: numba cache in the work tree, tiny scenarios and cell factories.

``NUMBA_CACHE_DIR`` is set before anything imports numba, so compiled kernels are cached
in ``<repo>/.numba_cache`` (STYLE.md §7) and reused by every pytest-xdist worker.
Test modules import the plain helpers below with ``from conftest import ...``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
# pytest -n 2 runs two processes of two numba threads on two cores: with OpenMP's default
# spin-waiting, each parallel kernel then waits for a descheduled thread (measured: 35 ms
# instead of 1 ms per mechanics step). Passive waiting changes no result, only the wait.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from metastroma.config.models import (  # noqa: E402  (imports numba: after the env above)
    KIND_NAMES,
    CancerCellConfig,
    CellTypesConfig,
    CycleConfig,
    DeathConfig,
    DomainConfig,
    MechanicsConfig,
    MotilityConfig,
    MscCellConfig,
    OxygenConfig,
    Placement,
    Scenario,
    TimeConfig,
)
from metastroma.tissue.state import Cells  # noqa: E402  (imports numba: after the env)

# Fixed examples in CI (STYLE.md §7): the same inputs on every run, no example database.
settings.register_profile(
    "metastroma",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("metastroma")

PHYSICELL_DATA = (
    Path(os.environ.get("METASTROMA_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    / "physicell_template_5k"
)


@pytest.fixture
def every_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulations use numba's whole thread count however small the tumour.

    TissueSimulation lowers the count for small tumours (``kernels.threads_for``); tests
    that compare 1 and 2 threads need the second thread to run.
    """
    import metastroma.tissue.simulation as simulation

    monkeypatch.setattr(simulation, "CELLS_PER_THREAD", {2: 1, 3: 1})
    monkeypatch.setattr(simulation, "VOXELS_PER_THREAD", 1)


@pytest.fixture(params=[2, 3], ids=["2d", "3d"])
def dim(request: pytest.FixtureRequest) -> int:
    """Space dimension: every test that takes ``dim`` runs in 2D and in 3D."""
    return int(request.param)


def box(dim: int, half_um: float) -> DomainConfig:
    """A centred cubic domain of half-width ``half_um`` (whole number of 20 µm voxels)."""
    return DomainConfig(lower_um=[-half_um] * dim, upper_um=[half_um] * dim)


def still_cancer(**kw: Any) -> CancerCellConfig:
    """Cancer cells that neither move nor divide nor die unless ``kw`` says so."""
    defaults: dict[str, Any] = {
        "motility": MotilityConfig(enabled=False),
        "cycle": CycleConfig(model="none"),
        "death": DeathConfig(apoptosis_per_min=0.0, necrosis="off"),
    }
    defaults.update(kw)
    return CancerCellConfig(**defaults)


def tiny_scenario(
    dim: int = 2,
    *,
    half_um: float = 200.0,
    n_cells: int = 50,
    ball_um: float = 60.0,
    duration_min: float = 60.0,
    cancer: CancerCellConfig | None = None,
    msc: MscCellConfig | None = None,
    placements: list[Placement] | None = None,
    oxygen: OxygenConfig | None = None,
    **kw: Any,
) -> Scenario:
    """A small scenario: still, immortal cancer cells in a ball unless overridden."""
    return Scenario(
        domain=kw.pop("domain", box(dim, half_um)),
        time=kw.pop("time", TimeConfig(duration_min=duration_min)),
        cell_types=CellTypesConfig(cancer=cancer or still_cancer(), msc=msc),
        initial_cells=placements
        if placements is not None
        else [Placement(n_cells=n_cells, radius_um=ball_um)],
        oxygen=oxygen or OxygenConfig(enabled=False),
        **kw,
    )


def two_kind_types() -> CellTypesConfig:
    """Cancer cells and MSCs with different radii, reach, stiffness and affinities."""
    return CellTypesConfig(
        cancer=CancerCellConfig(
            radius_um=8.0,
            mechanics=MechanicsConfig(
                repulsion_um_per_min=10.0,
                adhesion_um_per_min=0.4,
                relative_max_adhesion_distance=1.25,
                adhesion_affinity={"msc": 0.5},
            ),
            motility=MotilityConfig(enabled=False),
            cycle=CycleConfig(model="none"),
        ),
        msc=MscCellConfig(
            radius_um=10.0,
            mechanics=MechanicsConfig(
                repulsion_um_per_min=20.0,
                adhesion_um_per_min=2.0,
                relative_max_adhesion_distance=1.5,
                adhesion_affinity={"cancer": 0.8, "msc": 0.9},
            ),
            motility=MotilityConfig(enabled=False),
        ),
    )


def random_cells(
    rng: np.random.Generator,
    n: int,
    dim: int,
    box_um: float,
    scenario: Scenario,
    msc_fraction: float = 0.0,
    capacity: int | None = None,
) -> Cells:
    """``n`` cells uniform in a centred box of edge ``box_um``, kinds drawn at random.

    Radii are those of the scenario's cell types; ids are 0..n-1.
    """
    cells = Cells.empty(dim, capacity or max(n, 1))
    kinds = np.where(
        rng.random(n) < msc_fraction, KIND_NAMES["msc"], KIND_NAMES["cancer"]
    )
    radius = np.zeros(n)
    for name, k in KIND_NAMES.items():
        ct = getattr(scenario.cell_types, name)
        if ct is not None:
            radius[kinds == k] = ct.radius_um
    cells["pos_um"][:n] = (rng.random((n, dim)) - 0.5) * box_um
    cells["kind"][:n] = kinds
    cells["radius_um"][:n] = radius
    cells["cell_id"][:n] = np.arange(n)
    cells.n_live = n
    cells.next_id = n
    return cells


@pytest.fixture
def make_cells() -> Callable[..., Cells]:
    """Factory: ``make_cells(rng, n, dim, box_um, scenario, msc_fraction=0.0)``."""
    return random_cells


@pytest.fixture
def make_scenario() -> Callable[..., Scenario]:
    """Factory: ``make_scenario(dim, **options)``; see :func:`tiny_scenario`."""
    return tiny_scenario


def by_id(cells: Cells, name: str) -> np.ndarray:
    """Live values of a column, rows ordered by ``cell_id`` (rows move; ids do not)."""
    order = np.argsort(cells.live("cell_id"), kind="stable")
    return cells.live(name)[order]
