"""Compiled kernels equal their pure-Python source (``NUMBA_DISABLE_JIT=1``).

A tiny simulation with every process switched on (motility, contacts, wall, division,
apoptosis, oxygen) runs once in a subprocess with the JIT disabled and once here,
compiled; the states must agree to 1e-12. The subprocess runs this file as a script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def _scenario():
    from metastroma.config.models import (
        CancerCellConfig,
        CellTypesConfig,
        CycleConfig,
        DeathConfig,
        DomainConfig,
        MotilityConfig,
        MscCellConfig,
        Placement,
        Scenario,
        TimeConfig,
    )

    return Scenario(
        seed=99,
        domain=DomainConfig(lower_um=[-100.0, -100.0], upper_um=[100.0, 100.0]),
        time=TimeConfig(duration_min=1.0, dt_mechanics_min=0.1, dt_phenotype_min=0.5),
        cell_types=CellTypesConfig(
            cancer=CancerCellConfig(
                motility=MotilityConfig(speed_um_per_min=2.0, persistence_min=0.3),
                cycle=CycleConfig(model="live", phase_durations_min=[2.0]),
                death=DeathConfig(apoptosis_per_min=0.4, apoptosis_duration_min=0.5),
            ),
            msc=MscCellConfig(
                motility=MotilityConfig(speed_um_per_min=1.0, persistence_min=5.0)
            ),
        ),
        initial_cells=[
            Placement(n_cells=16, radius_um=25.0),
            Placement(kind="msc", n_cells=4, radius_um=15.0, center_um=[80.0, 80.0]),
        ],
    )


def simulate(out_dir: Path) -> dict[str, int]:
    """Run two phenotype blocks; save every state array to ``out_dir``; return counts."""
    from metastroma.tissue.simulation import TissueSimulation

    sim = TissueSimulation.from_scenario(_scenario())
    divided = removed = 0
    for _ in range(2):
        rep = sim.advance_block()
        divided += rep.n_divided
        removed += rep.n_removed
    out_dir.mkdir(parents=True, exist_ok=True)
    for key, arr in sim.state_arrays().items():
        np.save(out_dir / (key.replace("/", "__") + ".npy"), arr)
    return {"divided": divided, "removed": removed}


def _load(out_dir: Path) -> dict[str, np.ndarray]:
    return {p.stem: np.load(p) for p in sorted(out_dir.glob("*.npy"))}


def test_compiled_equals_pure_python(tmp_path: Path) -> None:
    # uint64 wrap-around in the hash is intended; NumPy warns about it without the JIT
    warn = "ignore:overflow encountered:RuntimeWarning"
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONWARNINGS=warn)
    proc = subprocess.run(
        [sys.executable, __file__, str(tmp_path / "nojit")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = simulate(tmp_path / "jit")
    assert counts["divided"] > 0 and counts["removed"] > 0  # every path was taken
    slow, fast = _load(tmp_path / "nojit"), _load(tmp_path / "jit")
    assert slow.keys() == fast.keys() and "cells__pos_um" in fast
    for key in fast:
        assert slow[key].shape == fast[key].shape, key
        if np.issubdtype(fast[key].dtype, np.floating):
            np.testing.assert_allclose(
                slow[key], fast[key], rtol=0, atol=1e-12, err_msg=key
            )
        else:
            np.testing.assert_array_equal(slow[key], fast[key], err_msg=key)
    n_end = 20 + counts["divided"] - counts["removed"]
    assert fast["cells__pos_um"].shape[0] == n_end


if __name__ == "__main__":
    import numba

    assert numba.config.DISABLE_JIT, "run by the test with NUMBA_DISABLE_JIT=1"
    simulate(Path(sys.argv[1]))
