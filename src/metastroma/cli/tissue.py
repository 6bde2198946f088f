"""Commands of the tissue scale: run, demo, align, plot, schema, experiment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from metastroma.cli._common import (
    _BAD_INPUT,
    _Bar,
    _fail,
    _Reporter,
    _summary,
    app,
    console,
    err_console,
)
from metastroma.errors import ConfigError


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
