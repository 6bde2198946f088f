"""Ensembles on Dask: sweeps, sensitivity analyses and calibration over any model.

An ensemble member is a tissue scenario, a cohort scenario or a Python function with some
parameters set and a seed; members run serially, on a local Dask cluster (the default of
the CLI), or on an existing cluster, and are recorded in a SQLite run catalog. See
docs/ensembles.md.
"""

from metastroma.ensemble.driver import MembersRun, check_out, run_members
from metastroma.ensemble.executor import (
    WORKER_ENV,
    MemberResult,
    MemberTask,
    dask_client,
    execute,
    run_member,
)
from metastroma.ensemble.model import ModelRef, evaluate, load_model_ref
from metastroma.ensemble.plan import Member, design_points, members
from metastroma.ensemble.results import mean_ci, results_table, summary_table
from metastroma.ensemble.sensitivity_run import (
    SensitivityPlan,
    SensitivityRun,
    load_sensitivity,
    run_sensitivity,
)
from metastroma.ensemble.sweep import SweepPlan, SweepRun, load_sweep, run_sweep
from metastroma.store.catalog import Catalog

# calibration (pyabc, optional extra) is imported from metastroma.ensemble.calibration

__all__ = [
    "WORKER_ENV",
    "Catalog",
    "Member",
    "MemberResult",
    "MemberTask",
    "MembersRun",
    "ModelRef",
    "SensitivityPlan",
    "SensitivityRun",
    "SweepPlan",
    "SweepRun",
    "check_out",
    "dask_client",
    "design_points",
    "evaluate",
    "execute",
    "load_model_ref",
    "load_sensitivity",
    "load_sweep",
    "mean_ci",
    "members",
    "results_table",
    "run_member",
    "run_members",
    "run_sensitivity",
    "run_sweep",
    "summary_table",
]
