"""Sweeps: a base model, parameters varied over a design, seeded replicates, tidy results.

The Python API behind ``metastroma sweep``::

    from pathlib import Path
    from metastroma.ensemble import run_sweep
    out = run_sweep(Path("scenarios/sweep_induction.yaml"), Path("runs/sweep"), workers=2)
    out.table        # one row per member: parameters × outcomes (results.parquet)
    out.summary      # per point and outcome: n, mean, sd, CI (summary.parquet)

:func:`load_sweep` reads and checks a sweep file (:class:`~metastroma.config.sweep.
SweepSpec`), its base model and every member's scenario before anything runs, so that a
bad path or value is reported with its file and line and nothing is written. Running the
same command again continues the ensemble: finished members are skipped (see
:mod:`metastroma.ensemble.driver`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from metastroma.config.loader import load_model, read_yaml
from metastroma.config.sweep import EnsembleBase, SweepSpec
from metastroma.ensemble.driver import EnsembleProgress, MembersRun, run_members
from metastroma.ensemble.model import (
    ModelRef,
    check_parameter_paths,
    load_model_ref,
    member_data,
    validate_member,
)
from metastroma.ensemble.plan import Member, design_points, members, plan_digest
from metastroma.ensemble.results import results_table, summary_table
from metastroma.errors import ConfigError
from metastroma.store.atomic import write_bytes_atomic, write_parquet_atomic

__all__ = ["SweepPlan", "SweepRun", "load_sweep", "prepare_members", "run_sweep"]


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: its spec, base model, members and plan digest."""

    path: Path
    spec: SweepSpec
    text: str
    ref: ModelRef
    members: list[Member]
    digest: str

    @property
    def parameters(self) -> list[str]:
        """Parameter columns: fixed first, then varied."""
        return [*self.spec.fixed, *self.spec.parameters]


@dataclass(frozen=True)
class SweepRun:
    """What :func:`run_sweep` produced.

    Attributes
    ----------
    out_dir : Path
    table : DataFrame
        One row per member (``results.parquet``).
    summary : DataFrame
        Per point and outcome (``summary.parquet``).
    outcomes : list of str
    figures : list of Path
    members : MembersRun
    """

    out_dir: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    outcomes: list[str]
    figures: list[Path]
    members: MembersRun


def prepare_members(
    spec: EnsembleBase,
    ref: ModelRef,
    points: list[dict[str, Any]],
    source: str,
    node: Any,
    varied_loc: str = "parameters",
) -> list[Member]:
    """Check parameter paths and every member's scenario; return the members.

    Raises
    ------
    ConfigError
        An unknown path (file, line, nearby valid paths), or a member whose scenario is
        invalid (the member, its parameters, the key and what is allowed).
    """
    keys: dict[str, tuple[str, ...]] = {k: ("fixed", k) for k in spec.fixed}
    for k in points[0] if points else {}:
        keys[k] = (varied_loc, k)
    check_parameter_paths(ref, keys, source, node)
    out = members(spec, points)
    seen: set[str] = set()
    for m in out:
        if m.replicate:  # a point's replicates differ only by seed
            continue
        label = f"{source}: member {m.member_id} ({_describe(m.params)})"
        try:
            data = member_data(ref, m.params, m.seed)
        except KeyError as err:
            raise ConfigError(f"{label}: {err.args[0]}") from err
        key = repr(sorted(m.params.items(), key=lambda kv: kv[0]))
        if key in seen:
            continue
        seen.add(key)
        validate_member(ref, data, label)
    return out


def _describe(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        text = f"{v:.4g}" if isinstance(v, float) else repr(v)
        parts.append(f"{k}={text}")
    text = ", ".join(parts)
    return text if len(text) < 160 else text[:157] + "…"


def load_sweep(path: Path) -> SweepPlan:
    """Read a sweep file and check it, its base and its members (nothing is run).

    Raises
    ------
    ConfigError
        Naming file, line and key of every problem.
    """
    path = Path(path)
    spec = load_model(path, SweepSpec)
    _, node, source = read_yaml(path, "sweep file")
    ref = load_model_ref(spec, path)
    points = design_points(spec)
    mem = prepare_members(spec, ref, points, source, node)
    text = path.read_text(encoding="utf-8")
    digest = plan_digest(spec, ref.digest, [m.params for m in mem[:: spec.replicates]])
    return SweepPlan(path, spec, text, ref, mem, digest)


def run_sweep(
    path: Path | SweepPlan,
    out_dir: Path,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    force: bool = False,
    progress: EnsembleProgress | None = None,
) -> SweepRun:
    """Run a sweep into ``out_dir`` (continuing it if it holds the same sweep).

    Parameters
    ----------
    path : Path or SweepPlan
        The sweep file (or a plan from :func:`load_sweep`).
    out_dir : Path
    workers : int
        0: serially in this process; N: a local Dask cluster of N processes.
    scheduler : str, optional
        Address of an existing Dask scheduler instead of a local cluster.
    force : bool
        Replace another ensemble in ``out_dir``.
    progress : callable, optional
        ``progress(result, n_finished, n_total)`` after each member.

    Returns
    -------
    SweepRun
        Members that failed are NaN in the table; ``members.n_failed`` counts them and
        the catalog keeps their tracebacks.
    """
    plan = path if isinstance(path, SweepPlan) else load_sweep(path)
    spec = plan.spec
    mrun = run_members(
        Path(out_dir),
        kind="sweep",
        spec=spec,
        spec_text=plan.text,
        ref=plan.ref,
        members=plan.members,
        digest=plan.digest,
        workers=workers,
        scheduler=scheduler,
        force=force,
        progress=progress,
        extra_manifest={"design": spec.design, "replicates": spec.replicates},
    )
    return write_sweep_results(plan, mrun)


def write_sweep_results(plan: SweepPlan, mrun: MembersRun) -> SweepRun:
    """Write results.parquet, summary.parquet/.csv and one figure per outcome."""
    from metastroma.viz.ensemble import plot_outcome

    spec = plan.spec
    out_dir = mrun.out_dir
    table = results_table(mrun.rows, plan.parameters, list(spec.outcomes) or None)
    outcomes = [
        c
        for c in table.columns
        if c
        not in {"member_id", "point", "replicate", "seed", "status", *plan.parameters}
    ]
    import pyarrow as pa

    write_parquet_atomic(
        out_dir / "results.parquet", pa.Table.from_pandas(table, preserve_index=False)
    )
    summ = summary_table(
        table,
        plan.parameters,
        outcomes,
        level=spec.summary.level,
        interval=spec.summary.interval,
        n_boot=spec.summary.n_boot,
        seed=spec.seed,
    )
    write_parquet_atomic(
        out_dir / "summary.parquet", pa.Table.from_pandas(summ, preserve_index=False)
    )
    write_bytes_atomic(out_dir / "summary.csv", summ.to_csv(index=False).encode())
    varied = list(spec.parameters)
    logs = frozenset(k for k, p in spec.parameters.items() if p.scale == "log")
    figures = []
    for o in outcomes:  # one figure per outcome
        col = table[o].to_numpy(dtype=float)
        if not any(math.isfinite(v) for v in col):
            continue
        figures.append(
            plot_outcome(
                table,
                summ,
                varied,
                o,
                out_dir / "figures" / f"{_safe(o)}.png",
                log_parameters=logs,
                joined=spec.design == "grid",
                title=f"{spec.name}: {o}",
            )
        )
    return SweepRun(out_dir, table, summ, outcomes, figures, mrun)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
