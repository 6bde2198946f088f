"""``metastroma sensitivity``: run a SALib sample as an ensemble, then analyse it.

The sample of :func:`metastroma.ensemble.sensitivity.sample_points` becomes the design
points of an ensemble (each point × ``replicates`` seeded members, run serially, on a local
Dask cluster or on an existing one, with the catalog, resume and fault handling of
:mod:`metastroma.ensemble.driver`). Each point's outcome is the mean over its finished
replicates; :func:`~metastroma.ensemble.sensitivity.analyse` turns them into indices.

Output directory (besides the ensemble's ``ensemble.json``, ``catalog.sqlite``,
``members/``)::

    results.parquet    one row per member: parameters × outcomes
    indices.parquet    the indices: outcome, method, parameter, parameter_2, index,
    indices.csv        value, conf_low, conf_high
    figures/indices.png

A failed member leaves its point without a value and the analysis cannot run (SALib needs
every row); the results are still written, the error names the points, and running the
command again reruns only the failed members.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from metastroma.config.loader import load_model, read_yaml
from metastroma.config.sensitivity import SensitivitySpec
from metastroma.ensemble.driver import EnsembleProgress, MembersRun, run_members
from metastroma.ensemble.model import ModelRef, load_model_ref
from metastroma.ensemble.plan import Member, plan_digest
from metastroma.ensemble.results import results_table
from metastroma.ensemble.sweep import prepare_members
from metastroma.store.atomic import write_bytes_atomic, write_parquet_atomic

__all__ = [
    "SensitivityPlan",
    "SensitivityRun",
    "load_sensitivity",
    "run_sensitivity",
]


@dataclass(frozen=True)
class SensitivityPlan:
    """A checked sensitivity file: spec, base model, SALib sample, members, digest."""

    path: Path
    spec: SensitivitySpec
    text: str
    ref: ModelRef
    X: np.ndarray
    members: list[Member]
    digest: str


@dataclass(frozen=True)
class SensitivityRun:
    """What :func:`run_sensitivity` produced.

    Attributes
    ----------
    out_dir : Path
    table : DataFrame
        One row per member (``results.parquet``).
    indices : DataFrame or None
        The indices; None if failed members left points without values.
    error : str or None
        Why there are no indices.
    figure : Path or None
    members : MembersRun
    """

    out_dir: Path
    table: pd.DataFrame
    indices: pd.DataFrame | None
    error: str | None
    figure: Path | None
    members: MembersRun


def load_sensitivity(path: Path) -> SensitivityPlan:
    """Read a sensitivity file, draw its sample and check every member (nothing runs).

    Raises
    ------
    ConfigError
        Naming file, line and key of every problem.
    """
    from metastroma.ensemble.sensitivity import sample_points

    path = Path(path)
    spec = load_model(path, SensitivitySpec)
    _, node, source = read_yaml(path, "sensitivity file")
    ref = load_model_ref(spec, path)
    _, X = sample_points(spec)
    names = list(spec.parameters)
    points = [
        {n: float(v) for n, v in zip(names, row, strict=True)} for row in X.tolist()
    ]
    mem = prepare_members(spec, ref, points, source, node)
    digest = plan_digest(spec, ref.digest, "sensitivity")
    return SensitivityPlan(
        path, spec, path.read_text(encoding="utf-8"), ref, X, mem, digest
    )


def run_sensitivity(
    path: Path | SensitivityPlan,
    out_dir: Path,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    force: bool = False,
    progress: EnsembleProgress | None = None,
) -> SensitivityRun:
    """Run the sample's members (continuing an earlier run) and analyse them."""
    from metastroma.ensemble.sensitivity import analyse
    from metastroma.viz.sensitivity import plot_indices

    plan = path if isinstance(path, SensitivityPlan) else load_sensitivity(path)
    spec = plan.spec
    mrun = run_members(
        Path(out_dir),
        kind="sensitivity",
        spec=spec,
        spec_text=plan.text,
        ref=plan.ref,
        members=plan.members,
        digest=plan.digest,
        workers=workers,
        scheduler=scheduler,
        force=force,
        progress=progress,
        extra_manifest={
            "method": spec.method,
            "samples": spec.samples,
            "n_points": int(plan.X.shape[0]),
        },
    )
    out = mrun.out_dir
    params = [*spec.fixed, *spec.parameters]
    table = results_table(mrun.rows, params, list(spec.outcomes) or None)
    write_parquet_atomic(out / "results.parquet", _arrow(table))
    skip = {"member_id", "point", "replicate", "seed", "status", *params}
    outcomes = [c for c in table.columns if c not in skip]
    means = table.groupby("point", sort=True)[outcomes].mean()  # NaN-skipping
    means = means.reindex(range(plan.X.shape[0]))
    bad = {o: int(means[o].isna().sum()) for o in outcomes if means[o].isna().any()}
    if bad:
        failed = sorted(table.loc[table["status"] != "done", "point"].unique())
        shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
        error = (
            "no indices: points without a value ("
            + ", ".join(f"{o}: {n}" for o, n in bad.items())
            + f"); failed members at points {shown}. Run the same command again "
            "to rerun the failed members (tracebacks in catalog.sqlite and member.log)."
        )
        return SensitivityRun(out, table, None, error, None, mrun)
    Y = {o: means[o].to_numpy(dtype=float) for o in outcomes}
    indices = analyse(spec, plan.X, Y)
    write_parquet_atomic(out / "indices.parquet", _arrow(indices))
    write_bytes_atomic(out / "indices.csv", indices.to_csv(index=False).encode())
    fig = plot_indices(
        indices,
        out / "figures" / "indices.png",
        title=f"{spec.name}: {spec.method} indices ({plan.X.shape[0]} points × "
        f"{spec.replicates} replicates)",
    )
    return SensitivityRun(out, table, indices, None, fig, mrun)


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)
