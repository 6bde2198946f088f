"""The ``metastroma`` command's shared parts: the app, consoles, progress bars, errors.

Exit codes: 0 success; 2 bad input (scenario, option, run directory, checkpoint), with a
message naming the problem and where it is; 1 an unexpected error (out of memory included);
130 interrupted (a tissue run directory is left resumable; a cohort writes nothing).
"""

from __future__ import annotations

import os
import sys
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
