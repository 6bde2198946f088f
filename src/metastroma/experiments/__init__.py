"""In-silico versions of the published experiments (SCIENCE.md §11, E1–E9).

Each experiment runs arms (documented overrides of the WT reference scenario) × seeded
replicates, measures each replicate at a few times, and reports effects with 95 %
bootstrap confidence intervals and the pass criteria of SCIENCE.md §11:

>>> from metastroma.experiments import EXPERIMENTS
>>> sorted(EXPERIMENTS)[:2]
['E1', 'E2']

- :func:`run_experiment` — ``run_experiment("E7", replicates=10, size="full", workers=2)``
  returns an :class:`ExperimentResult` (effects table, replicate table, failures).
- :func:`write_experiment` — ``effects.csv``, ``effects.md``, ``replicates.parquet``,
  ``manifest.json`` and ``figure.png`` into a directory, atomically.
- :data:`EXPERIMENTS` — the registry (name → :class:`ExperimentDef`, with the protocol as
  run in ``description``).

The protocols, the sizes ('small' for validation tests, 'full' for SCIENCE.md's ≥ 10
replicates per arm) and the results are in docs/experiments.md. Importing this package
does not import numba (worker processes configure it first).
"""

from metastroma.experiments._definition import ExperimentDef
from metastroma.experiments._registry import EXPERIMENTS, SIZES, run_experiment
from metastroma.experiments._result import (
    Effect,
    ExperimentResult,
    ReplicateFailure,
    check_out_dir,
    write_experiment,
)

__all__ = [
    "EXPERIMENTS",
    "SIZES",
    "Effect",
    "ExperimentDef",
    "ExperimentResult",
    "ReplicateFailure",
    "check_out_dir",
    "run_experiment",
    "write_experiment",
]
