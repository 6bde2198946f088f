"""Commands of the body scale: cohort and trial."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Self

import typer
from rich.markup import escape

from metastroma.cli._common import (
    _BAD_INPUT,
    _Bar,
    _fail,
    app,
    console,
)
from metastroma.errors import ConfigError


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
