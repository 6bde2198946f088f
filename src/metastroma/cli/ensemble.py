"""Commands of ensembles on Dask: sweep, sensitivity, calibrate, and the link scan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from metastroma.cli._common import (
    _BAD_INPUT,
    T,
    _Bar,
    _fail,
    app,
    console,
    err_console,
)
from metastroma.errors import ConfigError


class _MemberReporter(_Bar):
    """Progress over ensemble members: the bar, or a plain line every 10 % otherwise."""

    unit = "members"

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.last_decile = -1
        self.failed = 0

    def __call__(self, result: object, done: int, total: int) -> None:
        from metastroma.ensemble import MemberResult

        assert isinstance(result, MemberResult)
        self.failed += 0 if result.ok else 1
        detail = f"{self.failed} failed" if self.failed else ""
        if self._bar(done, total, detail):
            return
        decile = (10 * done) // max(total, 1)
        if decile != self.last_decile:
            self.last_decile = decile
            print(f"{self.label}: {done}/{total} members {detail}".rstrip(), flush=True)


def _ensemble_options(workers: int, scheduler: str | None) -> None:
    if not 0 <= workers <= 1024:
        raise ConfigError(f"--workers {workers}: must be in 0..1024")
    if scheduler is not None and not scheduler.strip():
        raise ConfigError("--scheduler: empty address (e.g. tcp://10.0.0.5:8786)")


_WORKERS_HELP = (
    "Worker processes of a local Dask cluster, one thread each (0: run the members "
    "one after the other in this process, for debugging)."
)
_SCHEDULER_HELP = (
    "Address of an existing Dask scheduler (tcp://host:8786) to run on instead of a "
    "local cluster."
)


def _failed_members(out_dir: Path, rows: list[dict[str, object]]) -> None:
    failed = [r for r in rows if r["status"] == "failed"]
    for r in failed[:5]:
        last = str(r["error"] or "").strip().splitlines()[-1:] or [""]
        err_console.print(
            f"[bold red]member failed:[/] {r['member_id']} (seed {r['seed']}): "
            f"{escape(last[0])}; traceback in {escape(str(out_dir / str(r['run_dir'])))}"
            "/member.log",
            highlight=False,
            soft_wrap=True,
        )
    if len(failed) > 5:
        err_console.print(f"… and {len(failed) - 5} more (catalog.sqlite)")


def _run_ensemble(
    run: Callable[..., T],
    plan: object,
    out: Path,
    label: str,
    *,
    workers: int,
    scheduler: str | None,
    force: bool,
    quiet: bool,
) -> T:
    """Run a sweep or sensitivity plan with a progress bar; bad input → 2, Ctrl-C → 130."""
    try:
        with _MemberReporter(label) as rep:
            return run(
                plan,
                out,
                workers=workers,
                scheduler=scheduler,
                force=force,
                progress=None if quiet else rep,
            )
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    except KeyboardInterrupt as err:
        raise _fail(
            RuntimeError(
                f"interrupted; finished members are kept in {out}; run the same "
                "command again to continue"
            ),
            130,
        ) from err


@app.command()
def sweep(
    sweep_file: Annotated[
        Path,
        typer.Argument(metavar="SWEEP.yaml", help="Sweep file (docs/ensembles.md)."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Ensemble directory (created or continued)."),
    ],
    workers: Annotated[int, typer.Option(help=_WORKERS_HELP)] = 2,
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    force: Annotated[
        bool, typer.Option(help="Replace another ensemble in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Run a sweep: a base scenario with parameters varied, replicates, tidy results.

    Running the same command again continues the sweep: finished members are skipped.
    Exits 0 when every member finished, 1 if some failed (their tracebacks are in the
    catalog and their member.log), 2 on bad input, 130 when interrupted (the catalog
    stays consistent; run the command again to continue).
    """
    from rich.table import Table

    from metastroma.ensemble import load_sweep, run_sweep

    try:
        _ensemble_options(workers, scheduler)
        plan = load_sweep(sweep_file)
        from metastroma.ensemble import check_out

        check_out(out, plan.digest, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    n = len(plan.members)
    where = scheduler or (f"{workers} local workers" if workers else "this process")
    if not quiet:
        console.print(
            f"sweep {escape(plan.spec.name)}: {n} members "
            f"({n // plan.spec.replicates} points × {plan.spec.replicates} replicates) "
            f"of {escape(plan.ref.source)} on {escape(where)}",
            highlight=False,
        )
    result = _run_ensemble(
        run_sweep,
        plan,
        out,
        plan.spec.name,
        workers=workers,
        scheduler=scheduler,
        force=force,
        quiet=quiet,
    )
    m = result.members
    if not quiet:
        table = Table(title=f"{plan.spec.name}: point means (first outcomes)")
        shown = result.outcomes[:4]
        for col in (*plan.spec.parameters, *shown):
            table.add_column(col, overflow="fold")
        summ = result.summary
        for _point, grp in list(summ.groupby("point"))[:20]:  # at most 20 rows
            first = grp.iloc[0]
            means = {r.outcome: r.mean for r in grp.itertuples()}
            table.add_row(
                *(str(first[p]) for p in plan.spec.parameters),
                *(f"{means.get(o, float('nan')):.4g}" for o in shown),
            )
        console.print(table)
        console.print(
            f"{m.n_members} members: {m.n_run} run now, {m.n_skipped} already done, "
            f"{m.n_failed} failed; files in {escape(str(out))}/: results.parquet, "
            f"summary.parquet, summary.csv, catalog.sqlite, figures/ "
            f"({len(result.figures)} figures)",
            highlight=False,
        )
    if m.n_failed:
        _failed_members(out, m.rows)
        raise typer.Exit(1)


@app.command()
def sensitivity(
    sensitivity_file: Annotated[
        Path,
        typer.Argument(
            metavar="SENS.yaml", help="Sensitivity file (docs/ensembles.md)."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Ensemble directory (created or continued)."),
    ],
    workers: Annotated[int, typer.Option(help=_WORKERS_HELP)] = 2,
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    force: Annotated[
        bool, typer.Option(help="Replace another ensemble in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Global sensitivity (SALib Sobol' or Morris) of outcomes to parameter ranges.

    Writes the indices with confidence intervals (indices.parquet, indices.csv) and a bar
    plot (figures/indices.png). Exits 1 if failed members left the analysis without
    values (run the command again to rerun them), 2 on bad input, 130 when interrupted.
    """
    from rich.table import Table

    from metastroma.ensemble import check_out
    from metastroma.ensemble.sensitivity_run import load_sensitivity, run_sensitivity

    try:
        _ensemble_options(workers, scheduler)
        plan = load_sensitivity(sensitivity_file)
        check_out(out, plan.digest, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    spec = plan.spec
    where = scheduler or (f"{workers} local workers" if workers else "this process")
    if not quiet:
        console.print(
            f"sensitivity {escape(spec.name)} ({spec.method}): {plan.X.shape[0]} points "
            f"× {spec.replicates} replicates of {escape(plan.ref.source)} on "
            f"{escape(where)}",
            highlight=False,
        )
    result = _run_ensemble(
        run_sensitivity,
        plan,
        out,
        spec.name,
        workers=workers,
        scheduler=scheduler,
        force=force,
        quiet=quiet,
    )
    if result.indices is None:
        _failed_members(out, result.members.rows)
        raise _fail(RuntimeError(result.error), 1)
    if not quiet:
        idx = result.indices
        main_ix = ("S1", "ST") if spec.method == "sobol" else ("mu_star", "sigma")
        table = Table(title=f"{spec.name}: {spec.method} indices")
        for col in ("outcome", "parameter", *main_ix):
            table.add_column(col, overflow="fold")
        first = idx[idx["parameter_2"] == ""]
        for (o, p), grp in list(first.groupby(["outcome", "parameter"], sort=False))[
            :40
        ]:
            cells = []
            for ix in main_ix:
                r = grp[grp["index"] == ix]
                if r.empty:
                    cells.append("–")
                    continue
                v, lo, hi = r.iloc[0][["value", "conf_low", "conf_high"]]
                ci = f" [{lo:.3g}, {hi:.3g}]" if lo == lo else ""  # NaN: none
                cells.append(f"{v:.3g}{ci}")
            table.add_row(escape(str(o)), escape(str(p)), *cells)
        console.print(table)
        console.print(
            f"files in {escape(str(out))}/: indices.parquet, indices.csv, "
            "results.parquet, catalog.sqlite, figures/indices.png",
            highlight=False,
        )


@app.command()
def calibrate(
    calibration_file: Annotated[
        Path,
        typer.Argument(
            metavar="CALIB.yaml", help="Calibration file (docs/ensembles.md)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes of a local Dask cluster (0: particles run in this "
            "process, and the posterior is reproducible from the seed)."
        ),
    ] = 0,
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    force: Annotated[
        bool, typer.Option(help="Replace an earlier calibration in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Calibrate parameters to target outcomes by ABC-SMC (pyabc; extra 'calibrate').

    Writes the posterior sample (posterior.parquet), its summary with 95 % credible
    intervals (posterior_summary.csv), the populations (populations.csv) and a pairs plot
    (figures/posterior_pairs.png). Exits 1 if a particle's simulation failed (named),
    2 on bad input, 130 when interrupted.
    """
    from rich.table import Table

    from metastroma.ensemble.calibration import load_calibration, run_calibration

    try:
        _ensemble_options(workers, scheduler)
        plan = load_calibration(calibration_file)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    spec = plan.spec
    if not quiet:
        where = scheduler or (f"{workers} local workers" if workers else "this process")
        console.print(
            f"calibrate {escape(spec.name)}: {len(spec.priors)} parameters, "
            f"{len(plan.targets.outcomes)} targets, "
            f"{spec.population_size} particles × up to {spec.generations} populations "
            f"on {escape(where)}",
            highlight=False,
        )

    def progress(t: int, eps: float, rate: float) -> None:
        if not quiet:
            console.print(
                f"  population {t}: epsilon {eps:.4g}, acceptance rate {rate:.3f}",
                highlight=False,
            )

    try:
        result = run_calibration(
            plan,
            out,
            workers=workers,
            scheduler=scheduler,
            force=force,
            progress=progress,
        )
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    except KeyboardInterrupt as err:
        raise _fail(
            RuntimeError(f"interrupted; see {out}/calibration.json"), 130
        ) from err
    except RuntimeError as err:  # a particle's simulation failed (named)
        raise _fail(err, 1) from err
    if quiet:
        return
    table = Table(title=f"{spec.name}: posterior (95 % credible intervals)")
    for col in ("parameter", "mean", "median", "95 % CI", "truth"):
        table.add_column(col, overflow="fold")
    for r in result.summary.itertuples():
        truth = getattr(r, "truth", float("nan"))
        table.add_row(
            escape(str(r.parameter)),
            f"{r.mean:.4g}",
            f"{r.median:.4g}",
            f"[{r.ci95_low:.4g}, {r.ci95_high:.4g}]",
            "" if truth != truth else f"{truth:.4g}",  # NaN: none given
        )
    console.print(table)
    console.print(
        f"files in {escape(str(out))}/: posterior.parquet, posterior_summary.csv, "
        "populations.csv, calibration.json, abc.db, figures/posterior_pairs.png",
        highlight=False,
    )


@app.command()
def link(
    scan_file: Annotated[
        Path,
        typer.Argument(metavar="SCAN.yaml", help="Link scan file (docs/link.md)."),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Link directory (created or continued)."),
    ],
    workers: Annotated[int, typer.Option(help=_WORKERS_HELP)] = 2,
    scheduler: Annotated[str | None, typer.Option(help=_SCHEDULER_HELP)] = None,
    force: Annotated[
        bool, typer.Option(help="Replace another link scan in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Produce tissue → body response curves: tissue ensembles over DDR2 activity.

    Runs the scan's primary tumour at every knockdown fraction, blockade and arm, and
    E8's lung-like colonies with the same perturbations, seeded replicates each; writes
    curves.json (the response-curve file a cohort's ddr2.curves reads), points.csv,
    members.csv and figures/curves.png. Running the same command again continues the
    scan. Exits 0 when every member finished, 1 if some failed, 2 on bad input, 130
    when interrupted.
    """
    import functools
    import shlex

    from rich.table import Table

    from metastroma.link.produce import check_out, load_link_scan, run_link

    try:
        _ensemble_options(workers, scheduler)
        plan = load_link_scan(scan_file)
        check_out(out, plan, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    where = scheduler or (f"{workers} local workers" if workers else "this process")
    if not quiet:
        n_run = len(plan.run_labels)
        console.print(
            f"link {escape(plan.scan.name)}: {len(plan.points)} points "
            f"({n_run} distinct scenarios) × {plan.scan.replicates} replicates, "
            f"{plan.n_members} members (primary"
            f"{' and colony' if plan.colony else ''}) on {escape(where)}",
            highlight=False,
        )
    producer = shlex.join(["metastroma", "link", *sys.argv[2:]])
    result = _run_ensemble(
        functools.partial(run_link, producer=producer),
        plan,
        out,
        plan.scan.name,
        workers=workers,
        scheduler=scheduler,
        force=force,
        quiet=quiet,
    )
    if not quiet:
        c = result.curves
        table = Table(title=f"{plan.scan.name}: response curves (mean [95 % band])")
        for col in ("point", "ã", "r_intra", "f_cl", "m_grow"):
            table.add_column(col)

        def cell(q: object) -> str:
            return f"{q.mean:.3g} [{q.ci_low:.3g}, {q.ci_high:.3g}]"  # type: ignore[attr-defined]  # ArmValue

        from metastroma.link import ArmValue

        names = c.provenance.get("grid_points", [""] * c.x.size)
        keys = (
            "intravasation_multiplier",
            "cluster_event_fraction",
            "growth_multiplier",
        )
        for i, x in enumerate(c.x):
            vals = [
                ArmValue(
                    float(c.quantities[k].mean[i]),
                    float(c.quantities[k].ci_low[i]),
                    float(c.quantities[k].ci_high[i]),
                    int(c.quantities[k].n[i]),
                )
                for k in keys
            ]
            table.add_row(str(names[i]), f"{x:.3f}", *(cell(v) for v in vals))
        for arm, pt in c.arms.items():
            table.add_row(
                f"arm {arm}",
                f"{pt.x:.3f}",
                *(cell(pt.quantities[k]) if k in pt.quantities else "–" for k in keys),
            )
        console.print(table)
        console.print(
            f"{result.n_run} members run now, {result.n_skipped} already done, "
            f"{result.n_failed} failed; {result.wall_s:.0f} s; files in "
            f"{escape(str(out))}/: curves.json, points.csv, members.csv, "
            "figures/curves.png, primary/, colony/",
            highlight=False,
        )
    if result.n_failed:
        raise typer.Exit(1)
