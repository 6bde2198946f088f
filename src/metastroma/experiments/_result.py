"""An experiment's result (effects table, replicate table) and its output directory.

``write_experiment(result, out_dir)`` writes, each file atomically (``store.atomic``), and the
directory as a whole by building it under a temporary name and renaming it into place:

- ``effects.csv`` and ``effects.md`` — one row per effect: name, arms, estimate, 95 % CI,
  criterion, pass/fail (``n/a`` for descriptive rows);
- ``replicates.parquet`` — the per-replicate measurements (arm, replicate, seed, t_min,
  measurement columns);
- ``manifest.json`` — package version, experiment, size, replicates, seeds, workers, wall
  time, failed replicates with their tracebacks, and the SHA-256 of each arm's scenario
  (``config.scenario_hash``);
- ``figure.png`` — the experiment's figure.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metastroma.errors import RunDirectoryError
from metastroma.experiments._stats import CI

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "Effect",
    "ExperimentResult",
    "ReplicateFailure",
    "check_out_dir",
    "write_experiment",
]

EFFECT_COLUMNS = (
    "name",
    "arms",
    "estimate",
    "ci_low",
    "ci_high",
    "criterion",
    "passed",
    "note",
)


@dataclass(frozen=True)
class Effect:
    """One row of the effects table.

    Attributes
    ----------
    name : str
        Short identifier (``'wt_minus_ko_coherency_band'``); criteria names are stable.
    arms : str
        Which arms it compares (``'wt vs cancer_ko'``).
    estimate, ci_low, ci_high : float
        Point estimate and 95 % bootstrap interval (NaN where undefined).
    criterion : str
        The pass criterion in words, with its SCIENCE.md source, or ``'descriptive'``.
    passed : bool or None
        None for descriptive rows.
    note : str
        Units, counts, method.
    """

    name: str
    arms: str
    estimate: float
    ci_low: float
    ci_high: float
    criterion: str
    passed: bool | None
    note: str = ""

    @classmethod
    def from_ci(
        cls,
        name: str,
        arms: str,
        ci: CI,
        criterion: str,
        passed: bool | None,
        note: str = "",
    ) -> Effect:
        """An effect whose estimate and interval come from a :class:`CI`."""
        extra = f"n = {ci.n}, {ci.method}"
        return cls(
            name,
            arms,
            ci.estimate,
            ci.low,
            ci.high,
            criterion,
            passed,
            f"{note}; {extra}" if note else extra,
        )

    def as_row(self) -> dict[str, Any]:
        """The row as plain values (``passed`` as 'pass' / 'FAIL' / 'n/a')."""
        return {
            "name": self.name,
            "arms": self.arms,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "criterion": self.criterion,
            "passed": "n/a"
            if self.passed is None
            else ("pass" if self.passed else "FAIL"),
            "note": self.note,
        }


@dataclass(frozen=True)
class ReplicateFailure:
    """A replicate that raised: which one, and its traceback."""

    arm: str
    replicate: int
    seed: int
    traceback: str


@dataclass
class ExperimentResult:
    """What an experiment returns.

    Attributes
    ----------
    name, title : str
        ``'E7'`` and a one-line description.
    size : str
        ``'small'`` or ``'full'``.
    replicates : int
        Replicates per arm.
    base_seed : int
        Replicate r of an arm ran with seed ``base_seed + r`` (plus the arm's offset,
        recorded in ``seeds``).
    workers : int
    effects : list of Effect
    table : pandas.DataFrame
        Per-replicate measurements: arm, replicate, seed, t_min, then measurement columns.
    failures : list of ReplicateFailure
    scenario_hashes : dict
        Arm → SHA-256 of its resolved scenario (seed of replicate 0).
    seeds : dict
        Arm → seeds used.
    params : dict
        The size's parameters and fitted values (e.g. E4's h₀).
    wall_s : float, s
    figure : callable
        ``figure(result) -> matplotlib Figure``.
    """

    name: str
    title: str
    size: str
    replicates: int
    base_seed: int
    workers: int
    effects: list[Effect]
    table: pd.DataFrame
    failures: list[ReplicateFailure] = field(default_factory=list)
    scenario_hashes: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, list[int]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    figure: Callable[[ExperimentResult], Figure] | None = None

    def effects_frame(self) -> pd.DataFrame:
        """The effects table as a DataFrame (columns of :data:`EFFECT_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame(
            [e.as_row() for e in self.effects], columns=list(EFFECT_COLUMNS)
        )

    def effect(self, name: str) -> Effect:
        """The effect called ``name``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for e in self.effects:
            if e.name == name:
                return e
        raise KeyError(f"{self.name}: no effect {name!r}")

    @property
    def criteria(self) -> list[Effect]:
        """The effects that carry a pass criterion."""
        return [e for e in self.effects if e.passed is not None]

    @property
    def all_passed(self) -> bool:
        """Every criterion passed (and no replicate failed)."""
        return not self.failures and all(e.passed for e in self.criteria)


def _fmt(x: float) -> str:
    if isinstance(x, float | int) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if not isinstance(x, float | int) or not math.isfinite(x):
        return "–"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.3g}"
    return f"{x:.4g}"


def effects_markdown(result: ExperimentResult) -> str:
    """The effects table as GitHub markdown, with a header line."""
    lines = [
        f"# {result.name} — {result.title}",
        "",
        f"size {result.size}, {result.replicates} replicates per arm, base seed "
        f"{result.base_seed}; 95 % bootstrap CIs over replicates.",
        "",
        "| effect | arms | estimate | 95 % CI | criterion | result | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in result.effects:
        r = e.as_row()
        ci = f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]"
        cells = [
            e.name,
            e.arms,
            _fmt(e.estimate),
            ci,
            e.criterion,
            r["passed"],
            e.note,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if result.failures:
        lines += ["", f"**{len(result.failures)} replicate(s) failed**:"]
        lines += [
            f"- {f.arm} replicate {f.replicate} (seed {f.seed})"
            for f in result.failures
        ]
    return "\n".join(lines) + "\n"


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse an existing non-empty ``out_dir`` unless ``force``.

    Raises
    ------
    RunDirectoryError
        ``out_dir`` exists (and is not empty) and ``force`` is False, or it is a file.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise RunDirectoryError(
            f"{out_dir}: exists and is not empty; use --force to replace it"
        )


def write_experiment(
    result: ExperimentResult, out_dir: Path, force: bool = False
) -> dict[str, Path]:
    """Write the result's five files into ``out_dir`` (replaced as a whole, atomically).

    Parameters
    ----------
    result : ExperimentResult
    out_dir : Path
        Created (with parents); with ``force`` an existing directory is replaced once
        the new one is complete.
    force : bool
        If False (default), refuse a non-empty existing ``out_dir``.

    Raises
    ------
    RunDirectoryError
        ``out_dir`` is not empty and ``force`` is False (:func:`check_out_dir`).

    Returns
    -------
    dict
        File name → path of each file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow as pa

    import metastroma
    from metastroma.store.atomic import (
        build_dir_atomic,
        write_bytes_atomic,
        write_json_atomic,
        write_parquet_atomic,
    )

    out_dir = Path(out_dir)
    check_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    frame = result.effects_frame()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EFFECT_COLUMNS)
    for row in frame.itertuples(index=False):
        writer.writerow(
            [repr(v) if isinstance(v, float) and math.isfinite(v) else v for v in row]
        )
    table = pa.Table.from_pandas(result.table, preserve_index=False)
    manifest = {
        "experiment": result.name,
        "title": result.title,
        "package": "metastroma",
        "version": metastroma.__version__,
        "size": result.size,
        "replicates": result.replicates,
        "base_seed": result.base_seed,
        "seeds": result.seeds,
        "workers": result.workers,
        "wall_s": round(result.wall_s, 3),
        "params": result.params,
        "scenario_hashes": result.scenario_hashes,
        "n_effects": len(result.effects),
        "n_criteria": len(result.criteria),
        "n_passed": sum(1 for e in result.criteria if e.passed),
        "failed_replicates": [
            {
                "arm": f.arm,
                "replicate": f.replicate,
                "seed": f.seed,
                "traceback": f.traceback,
            }
            for f in result.failures
        ],
        "status": "failed_replicates" if result.failures else "complete",
    }
    fig = result.figure(result) if result.figure is not None else None
    png = io.BytesIO()
    if fig is not None:
        fig.savefig(png, format="png", dpi=110)
        plt.close(fig)

    def fill(tmp: Path) -> None:
        write_bytes_atomic(tmp / "effects.csv", buf.getvalue().encode())
        write_bytes_atomic(tmp / "effects.md", effects_markdown(result).encode())
        write_parquet_atomic(tmp / "replicates.parquet", table)
        if fig is not None:
            write_bytes_atomic(tmp / "figure.png", png.getvalue())
        write_json_atomic(tmp / "manifest.json", manifest)

    build_dir_atomic(out_dir, fill)
    names = ["effects.csv", "effects.md", "replicates.parquet", "manifest.json"]
    if fig is not None:
        names.append("figure.png")
    return {n: out_dir / n for n in names}
