"""The ``metastroma`` command: it parses options and calls the Python API, nothing more.

Exit codes: 0 success; 2 bad input (scenario, option, run directory, checkpoint), with a
message naming the problem and where it is; 1 an unexpected error (out of memory included);
130 interrupted (a tissue run directory is left resumable; a cohort writes nothing).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Self, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from metastroma.errors import CheckpointError, ConfigError, RunDirectoryError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="metastroma: breast cancer metastasis around DDR2, from tissue to body.",
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
console = Console()

_BAD_INPUT = (ConfigError, RunDirectoryError, CheckpointError)
T = TypeVar("T")


class _Bar:
    """A rich progress bar on a terminal (``progress`` is None otherwise)."""

    unit = "steps"

    def __init__(self, label: str) -> None:
        self.label = label
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> Self:
        if console.is_terminal:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(f"{self.unit} · {{task.fields[detail]}}"),
                TimeElapsedColumn(),
                console=console,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(self.label, total=None, detail="")
        return self

    def _bar(self, done: int, total: int, detail: str) -> bool:
        """Update the bar; False if there is none (not a terminal)."""
        if self.progress is None or self.task is None:
            return False
        self.progress.update(self.task, completed=done, total=total, detail=detail)
        return True

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)


class _Reporter(_Bar):
    """Progress of a run: the bar, or a plain line every 10 % when not a terminal."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.last_decile = -1

    def __call__(self, step: int, n_steps: int, n_cells: int) -> None:
        if self._bar(step, n_steps, f"{n_cells} cells"):
            return
        decile = (10 * step) // max(n_steps, 1)
        if decile != self.last_decile:
            self.last_decile = decile
            print(
                f"{self.label}: step {step}/{n_steps} ({10 * decile}%), {n_cells} cells",
                flush=True,
            )


def _fail(err: BaseException, code: int) -> typer.Exit:
    err_console.print(
        f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code)


def _summary(result: object) -> None:
    from metastroma.runner import RunResult

    assert isinstance(result, RunResult)
    m = result.metrics
    console.print(
        f"[bold green]{result.status}[/]: {result.run_dir} — {result.n_steps} steps, "
        f"{result.n_cells} cells, {result.wall_s:.1f} s wall"
    )
    if m.get("t_min"):
        console.print(
            f"  t = {m['t_min'][-1]:g} min: live {m['n_live'][-1]:g}, apoptotic "
            f"{m['n_apoptotic'][-1]:g}, necrotic {m['n_necrotic'][-1]:g}; tumour radius "
            f"{m['tumour_radius_um'][-1]:.0f} µm; O2 min {m['o2_min_mmhg'][-1]:.1f} mmHg"
        )


def _version(value: bool) -> None:
    if value:
        from metastroma import __version__

        console.print(f"metastroma {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """metastroma: breast cancer metastasis around DDR2, from tissue to body."""


@app.command()
def run(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario YAML file.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory to create.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Replace the scenario's seed.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="numba threads (results do not depend on it).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the run in this directory.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite a run directory that holds a run.")
    ] = False,
) -> None:
    """Run a tissue scenario into a run directory (or --resume one)."""
    from metastroma.config import load_scenario
    from metastroma.runner import resume as resume_run
    from metastroma.runner import run as run_scenario

    try:
        if resume is not None:
            if scenario is not None or out is not None or seed is not None:
                raise ConfigError("--resume DIR takes no SCENARIO, --out or --seed")
            with _Reporter(f"resume {resume.name}") as rep:
                result = resume_run(resume, threads=threads, progress=rep)
        else:
            if scenario is None or out is None:
                raise ConfigError("give SCENARIO and --out DIR (or --resume DIR)")
            sc = load_scenario(scenario)
            with _Reporter(sc.name) as rep:
                result = run_scenario(
                    sc, out, seed=seed, threads=threads, force=force, progress=rep
                )
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    except KeyboardInterrupt as err:
        where = resume if resume is not None else out
        msg = f"interrupted; continue with: metastroma run --resume {where}"
        raise _fail(RuntimeError(msg), 130) from err
    _summary(result)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the demo's outputs.")
    ] = Path("metastroma-demo"),
    size: Annotated[
        str,
        typer.Option(
            help="'full' (≤ 5 min on 2 cores) or 'small' (seconds, for tests)."
        ),
    ] = "full",
    threads: Annotated[int | None, typer.Option(help="numba threads.")] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite an earlier demo in --out.")
    ] = False,
) -> None:
    """The DDR2 story end to end: tissue arms, the link curves, a virtual trial.

    Writes figures, a summary table (summary.md, summary.csv) and report.md, which says
    what each figure shows (docs/tutorial.md walks through it).
    """
    from metastroma.demo import run_demo

    if size not in ("full", "small"):
        raise _fail(ConfigError(f"--size = {size!r}: must be 'full' or 'small'"), 2)

    def say(msg: str) -> None:
        console.print(f"[dim]demo:[/dim] {escape(msg)}", highlight=False)

    try:
        report = run_demo(out, size=size, threads=threads, force=force, say=say)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    for table in report.tables:
        console.print(table)
    console.print(f"report:  {report.report}", highlight=False)
    console.print(
        f"summary: {report.summary_md} and {report.summary_csv}", highlight=False
    )
    console.print(
        f"figures: {report.out / 'figures'}/ ({len(report.figures)} files)",
        highlight=False,
    )


class _FileReporter(_Bar):
    """Progress over files: the bar, or one plain line per file when not a terminal."""

    unit = "files"

    def __call__(self, done: int, total: int, path: Path) -> None:
        if not self._bar(done, total, escape(path.name)):
            print(f"{self.label}: {done}/{total} {path}", flush=True)


def _align_table(result: object) -> None:
    from rich.table import Table

    from metastroma.analysis.batch import BatchResult

    assert isinstance(result, BatchResult)
    table = Table(
        title=f"collagen alignment, σ = {result.rows[0]['sigma_px']:g} px"
        if result.rows
        else "collagen alignment: no image analysed"
    )
    cols = ["image", "dominant_angle_deg", "coherency", "alignment", "n_pixels"]
    heads = ["image", "angle (°)", "coherency", "alignment", "pixels"]
    if "tacs_call" in result.columns:
        cols += ["tacs2_fraction", "tacs3_fraction", "tacs_call"]
        heads += ["TACS-2 frac.", "TACS-3 frac.", "TACS call"]
    for i, head in enumerate(heads):
        table.add_column(head, justify="left" if i == 0 else "right", overflow="fold")
    for row in result.rows:
        cells = []
        for c in cols:
            v = row[c]
            if c == "image":  # the full path is in the table file; the name fits here
                cells.append(escape(Path(str(v)).name))
            elif c == "dominant_angle_deg":
                cells.append(f"{v:.1f}")
            elif isinstance(v, float):
                cells.append(f"{v:.3f}")
            else:
                cells.append(escape(str(v)))
        table.add_row(*cells)
    console.print(table)
    console.print(f"table: {escape(str(result.table_csv))} (and .parquet)")
    console.print(f"figures: {escape(str(result.out_dir / 'figures'))}/")


@app.command()
def align(
    images: Annotated[
        list[Path],
        typer.Argument(help="Image files (TIFF, PNG, JPEG) or directories of them."),
    ],
    boundary: Annotated[
        Path | None,
        typer.Option(help="Tumour boundary CSV (x,y pixels): score TACS against it."),
    ] = None,
    sigma_px: Annotated[
        float, typer.Option(help="Structure-tensor scale σ (px, > 0).")
    ] = 2.0,
    page: Annotated[
        int | None, typer.Option(help="Page of multi-page TIFFs (from 0).")
    ] = None,
    band_px: Annotated[
        float | None,
        typer.Option(
            help="Width of the scored band outside the boundary (px); default "
            "40 µm / --pixel-um, or 40 px without a pixel size."
        ),
    ] = None,
    band_um: Annotated[
        float | None,
        typer.Option(help="Band width in µm (SCIENCE.md §6.4: 40); needs --pixel-um."),
    ] = None,
    pixel_um: Annotated[
        float | None,
        typer.Option(help="Pixel size of the images (µm/px): converts the band to px."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the table and figures.")
    ] = Path("alignment"),
) -> None:
    """Measure collagen fibre alignment (and TACS) in images; write a table and figures."""
    from metastroma.analysis import BoundaryError, ImageError
    from metastroma.analysis.batch import align_images, resolve_band_px

    try:
        band = resolve_band_px(band_px, band_um, pixel_um)
        with _FileReporter("align") as rep:
            result = align_images(
                images,
                out,
                sigma_px=sigma_px,
                boundary=boundary,
                page=page,
                band_px=band,
                progress=rep,
            )
    except (ConfigError, BoundaryError, ImageError) as err:
        raise _fail(err, 2) from err
    _align_table(result)
    if result.failures:
        for _, message in result.failures:
            err_console.print(
                f"[bold red]error:[/] {escape(message)}",
                highlight=False,
                soft_wrap=True,
            )
        err_console.print(
            f"{len(result.failures)} of {len(result.failures) + len(result.rows)} "
            f"failed; listed in {escape(str(result.failures_csv))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)


class _PatientReporter(_Bar):
    """Progress over patients: the bar, or a plain line every 10 % when not a terminal.

    Called with the number of patients finished since the last call (simulate_cohort's
    ``progress``).
    """

    unit = "patients"

    def __init__(self, label: str, total: int) -> None:
        super().__init__(label)
        self.total = total
        self.done = 0
        self.last_decile = -1

    def __enter__(self) -> Self:
        super().__enter__()
        self._bar(0, self.total, "")  # the total is known from the start
        return self

    def __call__(self, n_done: int) -> None:
        self.done += n_done
        if self._bar(self.done, self.total, ""):
            return
        decile = (10 * self.done) // max(self.total, 1)
        if decile != self.last_decile:
            self.last_decile = decile
            print(
                f"{self.label}: {self.done}/{self.total} patients ({10 * decile}%)",
                flush=True,
            )


def _cohort_options(**options: int | None) -> dict[str, int]:
    """The options given (not None), checked against the cohort scenario's bounds.

    Raises
    ------
    ConfigError
        Naming the option, its value and the allowed range.
    """
    import operator

    from metastroma.config.cohort import CohortScenario

    tests = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    given = {k: v for k, v in options.items() if v is not None}
    problems = []
    for name, value in given.items():  # a few options
        limits = [
            (attr, getattr(m, attr))
            for m in CohortScenario.model_fields[name].metadata  # annotated_types
            for attr in tests
            if getattr(m, attr, None) is not None
        ]
        if not all(tests[attr](value, limit) for attr, limit in limits):
            allowed = " and ".join(f"{signs[a]} {limit}" for a, limit in limits)
            problems.append(f"--{name} = {value}: must be {allowed}")
    if problems:
        raise ConfigError("\n".join(problems))
    return given


def _percent(summary: object, metric: str) -> tuple[str, str]:
    """(value, 95 % CI) of a summary-table row as text; 'n/a' where undefined."""
    import math

    import pandas as pd

    assert isinstance(summary, pd.DataFrame)
    row = summary[summary["metric"] == metric]
    if row.empty or not math.isfinite(float(row["value"].iloc[0])):
        return "n/a", ""
    v, lo, hi = (float(row[c].iloc[0]) for c in ("value", "ci_low", "ci_high"))
    unit = str(row["unit"].iloc[0])
    if unit == "patients":
        return f"{v:.0f}", ""
    value = f"{v:.1f} %" if unit == "%" else f"{v:.1f} {unit}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return value, ""
    return value, f"{lo:.1f}–{hi:.1f}"


def _cohort_table(outputs: object) -> None:
    from rich.table import Table

    from metastroma.store.cohort import CohortOutputs

    assert isinstance(outputs, CohortOutputs)
    m = outputs.manifest
    table = Table(
        title=f"virtual cohort, seed {m['seed']}",
        caption=f"follow-up {m['follow_up_years']:g} y after diagnosis; death model "
        f"'{m['death_model']}'; {m['cells_per_mm3']:,.0f} cells/mm³",
    )
    for i, head in enumerate(("", "value", "95 % CI")):
        table.add_column(head, justify="left" if i == 0 else "right")
    rows = (
        ("patients", "n_patients"),
        ("node-positive at surgery", "node_positive"),
        ("metastatic at diagnosis", "metastatic_at_diagnosis"),
        ("distant metastasis by 5 y", "distant_metastasis_5y"),
        ("distant metastasis by 10 y", "distant_metastasis_10y"),
        ("median OS after first metastasis", "median_os_after_first_metastasis"),
    )
    for label, metric in rows:  # six rows
        table.add_row(label, *_percent(outputs.summary, metric))
    console.print(table)
    where = escape(str(outputs.out_dir))
    console.print(f"outputs in {where}/", highlight=False)
    for name, what in (
        ("summary.md", "summary table with the SCIENCE.md §9.7 figures (and .csv)"),
        ("patients.parquet", f"one row per patient ({m['n_patients']})"),
        ("metastases.parquet", f"one row per metastasis ({m['n_metastases']})"),
        ("ledger.parquet", "end states of the shed cells, per patient and organ"),
        ("figures/", "km.png, sites.png, sizes.png, organ_graph.png"),
    ):
        console.print(f"  {name:<20}{what}", highlight=False)


@contextmanager
def _body_run_errors(out: Path, oom: str, advice: str) -> Iterator[None]:
    """Exit codes of simulating and writing a body-scale run (cohort, trial).

    ``--out`` taken meanwhile → 2; out of memory → 1 with ``oom`` and ``advice``; Ctrl-C →
    130 (the run directory is written atomically at the end, so nothing was written).
    """
    try:
        yield
    except _BAD_INPUT as err:  # --out taken meanwhile
        raise _fail(err, 2) from err
    except MemoryError as err:
        msg = f"{oom} ({err or 'allocation failed'}); {advice}"
        raise _fail(MemoryError(msg), 1) from err
    except KeyboardInterrupt as err:
        raise _fail(
            RuntimeError(f"interrupted; nothing written to {out}"), 130
        ) from err


@app.command()
def cohort(
    scenario: Annotated[Path, typer.Argument(help="Cohort scenario YAML file.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Cohort run directory to create.")
    ],
    patients: Annotated[
        int | None,
        typer.Option(
            "--patients", "-n", help="Replace the scenario's patients (>= 1)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Replace the scenario's seed.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite an earlier run in --out.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")
    ] = False,
) -> None:
    """Simulate a virtual cohort; write its tables, summary and figures to --out."""
    import time

    from metastroma.body.cohort import simulate_cohort
    from metastroma.link import load_cohort
    from metastroma.store.cohort import check_cohort_out, write_cohort
    from metastroma.store.manifest import utc_now

    try:
        overrides = _cohort_options(patients=patients, seed=seed)
        sc, curves = load_cohort(scenario, overrides)  # and its response curves
        check_cohort_out(out, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    started, t0 = utc_now(), time.perf_counter()
    oom = f"{scenario.name}: out of memory simulating {sc.patients} patients"
    with _body_run_errors(out, oom, "try fewer patients or fewer colonies"):
        try:
            if quiet:
                result = simulate_cohort(sc, curves=curves)
            else:
                with _PatientReporter("cohort", sc.patients) as rep:
                    result = simulate_cohort(sc, progress=rep, curves=curves)
        except ValueError as err:  # the cohort cannot be simulated as given (named)
            raise _fail(ValueError(f"{scenario.name}: {err}"), 2) from err
        wall_s = time.perf_counter() - t0
        if not quiet:
            console.print(
                f"simulated {sc.patients} patients in {wall_s:.1f} s; writing "
                f"{escape(str(out))}/",
                highlight=False,
            )
        outputs = write_cohort(
            result,
            out,
            force=force,
            scenario_file=scenario,
            started_utc=started,
            wall_s=round(wall_s, 3),
        )
    if not quiet:
        _cohort_table(outputs)


@app.command()
def plot(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN", help="Tissue run directory.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Directory for the figures (default: RUN/figures)."
        ),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option(help="Snapshot (mechanics step) to draw (default: the last)."),
    ] = None,
    movie: Annotated[
        bool, typer.Option(help="Also write tissue.mp4, one frame per snapshot.")
    ] = False,
    fps: Annotated[int, typer.Option(help="Movie frames per second (1-60).")] = 6,
) -> None:
    """Draw a tissue run: snapshot, time series and (--movie) a movie of it."""
    from metastroma.viz import (
        check_tissue_run,
        plot_tissue_snapshot,
        plot_tissue_timeseries,
        write_movie,
    )

    where = out if out is not None else run_dir / "figures"
    try:
        if movie and not 1 <= fps <= 60:
            raise ConfigError(f"--fps {fps}: must be an integer from 1 to 60")
        drawn = check_tissue_run(run_dir, step, metrics=True)  # before writing
        paths = [
            (
                "snapshot",
                plot_tissue_snapshot(run_dir, where / "tissue_snapshot.png", drawn),
            ),
            (
                "time series",
                plot_tissue_timeseries(run_dir, where / "tissue_timeseries.png"),
            ),
        ]
        if movie:
            paths.append(("movie", write_movie(run_dir, where / "tissue.mp4", fps=fps)))
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    for what, path in paths:  # two or three files
        console.print(f"{what}: {escape(str(path))}", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON schema of a scenario file."""
    from metastroma.config import scenario_json_schema

    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2) + "\n")


@app.command()
def experiment(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="E1, E2, E4 ... E9, or 'list' for the registry."
        ),
    ],
    replicates: Annotated[
        int | None,
        typer.Option(
            "--replicates", "-n", help="Replicates per arm (default: the size's)."
        ),
    ] = None,
    size: Annotated[
        str, typer.Option(help="'small' (validation size) or 'full' (SCIENCE.md §11).")
    ] = "small",
    workers: Annotated[
        int,
        typer.Option(help="Worker processes, one numba thread each (0: this process)."),
    ] = 0,
    seed: Annotated[
        int, typer.Option(help="Base seed: replicate r of an arm uses seed + r.")
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output directory (default: runs/NAME_SIZE)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace an existing output directory.")
    ] = False,
) -> None:
    """Run an in-silico experiment of SCIENCE.md §11; write its effects and figure.

    Exits 0 when the experiment ran (even if a criterion failed: the table says which),
    1 if a replicate crashed (its traceback is in manifest.json), 2 on bad input.
    """
    import math

    from rich.table import Table

    from metastroma.experiments import (
        EXPERIMENTS,
        SIZES,
        check_out_dir,
        run_experiment,
        write_experiment,
    )

    if name.lower() == "list":
        table = Table(title="experiments (SCIENCE.md §11)")
        for col in ("name", "title", "criteria", "replicates small / full"):
            table.add_column(col)
        for key, d in EXPERIMENTS.items():
            reps = " / ".join(str(d.sizes[s]["replicates"]) for s in SIZES)
            table.add_row(key, d.title, str(len(d.criteria)), reps)
        console.print(table)
        return
    key = name.upper()
    where = out if out is not None else Path("runs") / f"{key}_{size}"
    try:
        if key not in EXPERIMENTS:
            raise ConfigError(
                f"experiment {name!r}: unknown; one of {', '.join(EXPERIMENTS)} or 'list'"
            )
        if size not in SIZES:
            raise ConfigError(f"--size {size!r}: must be one of {', '.join(SIZES)}")
        if replicates is not None and not 1 <= replicates <= 10_000:
            raise ConfigError(f"--replicates {replicates}: must be in 1..10000")
        if not 0 <= workers <= 1024:
            raise ConfigError(f"--workers {workers}: must be in 0..1024")
        if not 0 <= seed <= 2**62:
            raise ConfigError(f"--seed {seed}: must be in 0..2^62")
        check_out_dir(where, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err

    with _Bar(f"{key} ({size})") as bar:
        bar.unit = "replicates"

        def progress(label: str, done: int, total: int) -> None:
            if not bar._bar(done, total, label):
                print(f"{label}: replicate {done}/{total}", flush=True)

        try:
            result = run_experiment(key, replicates, size, workers, seed, progress)
        except _BAD_INPUT as err:
            raise _fail(err, 2) from err
    table = Table(
        title=f"{key} — {result.title} ({result.size}, {result.replicates} replicates)"
    )
    for col in ("effect", "arms", "estimate", "95 % CI", "criterion", "result"):
        table.add_column(col, overflow="fold")

    def num(x: float) -> str:
        return f"{x:.4g}" if math.isfinite(x) or math.isinf(x) else "–"

    for e in result.effects:
        verdict = (
            "n/a"
            if e.passed is None
            else ("[green]pass[/]" if e.passed else "[bold red]FAIL[/]")
        )
        table.add_row(
            escape(e.name),
            escape(e.arms),
            num(e.estimate),
            f"[{num(e.ci_low)}, {num(e.ci_high)}]",
            escape(e.criterion),
            verdict,
        )
    console.print(table)
    try:
        paths = write_experiment(result, where, force=force)
    except _BAD_INPUT as err:  # --out taken meanwhile
        raise _fail(err, 2) from err
    n_pass = sum(1 for e in result.criteria if e.passed)
    console.print(
        f"{n_pass}/{len(result.criteria)} criteria pass; {result.wall_s:.1f} s wall; "
        f"files in {escape(str(where))}/: {', '.join(sorted(paths))}",
        highlight=False,
    )
    if result.failures:
        for f in result.failures:
            err_console.print(
                f"[bold red]replicate failed:[/] {escape(f.arm)} replicate "
                f"{f.replicate} (seed {f.seed}); traceback in manifest.json",
                highlight=False,
            )
        raise typer.Exit(1)


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


def _trial_table(outputs: object) -> None:
    import math

    import pandas as pd
    from rich.table import Table

    from metastroma.store.trial import TrialOutputs

    assert isinstance(outputs, TrialOutputs)
    m = outputs.manifest
    s = outputs.analysis.summary
    years = m["horizons_years"]

    def pct(r: pd.Series, key: str) -> str:
        v = float(r[key])
        lo, hi = float(r[f"{key}_ci_low"]), float(r[f"{key}_ci_high"])
        return (
            f"{100 * v:.1f} % ({100 * lo:.1f}–{100 * hi:.1f})"
            if math.isfinite(v)
            else "n/a"
        )

    def hr(r: pd.Series, ep: str) -> str:
        v = float(r[f"hr_{ep}"])
        lo, hi = float(r[f"hr_{ep}_ci_low"]), float(r[f"hr_{ep}_ci_high"])
        if not math.isfinite(lo):
            return "ref." if math.isclose(v, 1.0) else "n/a"
        p = float(r[f"logrank_p_{ep}"])
        ptxt = "p<0.001" if p < 0.001 else f"p={p:.3f}"
        return f"{v:.2f} ({lo:.2f}–{hi:.2f}) {ptxt}"

    table = Table(
        title=f"virtual trial {m['trial_name']}: {m['n_patients_per_arm']} patients per "
        f"arm, seed {m['seed']}",
        caption="same patients in every arm (common random numbers): the log-rank p and "
        "Cox CIs are conservative; see paired.csv",
    )
    table.add_column("arm")
    for y in years:
        table.add_column(f"metastatic by {y:g} y (95 % CI)", justify="right")
    table.add_column("HR MFS (95 % CI), log-rank", justify="right")
    table.add_column("HR OS (95 % CI), log-rank", justify="right")
    table.add_column("activity factor [basis]", justify="right")
    for _, r in s.iterrows():  # a few arms
        f = float(r["activity_factor"])
        basis = f" [{r['ic50_basis']}]" if r["ic50_basis"] else ""
        table.add_row(
            str(r["arm"]),
            *(pct(r, f"distant_metastasis_{y:g}y") for y in years),
            hr(r, "mfs"),
            hr(r, "os"),
            (f"{f:.3f}" if math.isfinite(f) else "–") + basis,
        )
    console.print(table)
    where = escape(str(outputs.out_dir))
    console.print(f"outputs in {where}/", highlight=False)
    for name, what in (
        ("summary.md", "one row per arm, comparisons, paired view (and .csv)"),
        ("shares.csv", "distant-metastasis share per arm and horizon"),
        ("sites.csv", "share of patients with each distant site, per arm"),
        ("survival.csv", "Kaplan–Meier MFS and OS curves per arm"),
        ("comparisons.csv", "log-rank tests and Cox hazard ratios vs the reference"),
        ("paired.csv", "patients whose outcome differs from the reference"),
        ("arms/<arm>/", "patients.parquet, metastases.parquet"),
        ("figures/", "km_mfs.png, km_os.png, sites.png, shares.png"),
    ):
        console.print(f"  {name:<18}{what}", highlight=False)


@app.command()
def trial(
    trial_file: Annotated[
        Path, typer.Argument(metavar="TRIAL", help="Trial YAML file (docs/trials.md).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Trial run directory to create.")
    ],
    patients: Annotated[
        int | None,
        typer.Option(
            "--patients", "-n", help="Replace the trial's patients per arm (>= 1)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite an earlier run in --out.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")
    ] = False,
) -> None:
    """Run a virtual trial: every arm on the same patients; compare them with the reference.

    Writes per-arm tables, the summary (shares at the horizons, Kaplan–Meier medians,
    log-rank tests, Cox hazard ratios, the paired view), sites, survival curves and
    figures to --out. Exit codes: 0 done, 2 bad input (nothing written), 1 unexpected
    error, 130 interrupted (nothing written).
    """
    import time

    from metastroma.body.trial import analyse_trial, run_trial
    from metastroma.config.trial import load_trial
    from metastroma.store.manifest import utc_now
    from metastroma.store.trial import check_trial_out, write_trial

    try:
        loaded = load_trial(trial_file, patients)
        check_trial_out(out, force)
    except _BAD_INPUT as err:
        raise _fail(err, 2) from err
    sc = loaded.cohort
    n_arms = len(loaded.trial.arms)
    started, t0 = utc_now(), time.perf_counter()
    oom = f"{trial_file.name}: out of memory simulating {n_arms} arms × {sc.patients} patients"
    with _body_run_errors(out, oom, "try fewer patients"):
        try:
            if quiet:
                result = run_trial(loaded.trial, sc, loaded.curves)
            else:
                with _PatientReporter("trial", sc.patients * n_arms) as rep:
                    result = run_trial(
                        loaded.trial,
                        sc,
                        loaded.curves,
                        progress=lambda _arm, n: rep(n),
                    )
        except ValueError as err:  # an arm cannot be simulated as given (named)
            raise _fail(ValueError(f"{trial_file.name}: {err}"), 2) from err
        analysis = analyse_trial(result)
        wall_s = time.perf_counter() - t0
        if not quiet:
            console.print(
                f"simulated {n_arms} arms × {sc.patients} patients and compared them in "
                f"{wall_s:.1f} s; writing {escape(str(out))}/",
                highlight=False,
            )
        outputs = write_trial(
            result,
            analysis,
            out,
            force=force,
            trial_file=trial_file,
            started_utc=started,
            wall_s=round(wall_s, 3),
        )
    if not quiet:
        _trial_table(outputs)


def main() -> None:
    """Entry point of the ``metastroma`` console script.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it: numba's OpenMP threads
    otherwise spin between kernels, and on a machine whose cores are busy with other work
    a step becomes ~10× slower; on an idle machine passive waiting costs ~10 %.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except (
        _BAD_INPUT
    ) as err:  # raised outside a command (never expected, still reported)
        err_console.print(f"error: {escape(str(err))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
