"""``metastroma demo``: a 2D tumour spheroid grows in oxygen; figures and a summary table.

The demo is the tissue engine end to end on an embedded scenario (``demo_scenario``):
cancer cells with SCIENCE.md §1–§3 defaults (persistent random walk, oxygen-dependent
cycling, apoptosis, hypoxic necrosis) around which oxygen diffuses from a Dirichlet far
field. Later capabilities extend the demo to the DDR2 story (MSCs, collagen, metastasis).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table

from metastroma.config.models import (
    DomainConfig,
    OutputConfig,
    Placement,
    Scenario,
    TimeConfig,
)
from metastroma.runner import ProgressFn, run
from metastroma.store.atomic import write_bytes_atomic


def demo_scenario(size: str = "full") -> Scenario:
    """The demo's scenario: 'full' (2000 cells, 2 days) or 'small' (150 cells, 6 h).

    The full spheroid (radius ≈ 390 µm, about three oxygen penetration lengths) starts
    with a hypoxic core below the 5 mmHg necrosis threshold and a proliferating rim.
    """
    if size == "small":
        half, n, radius, hours = 300.0, 150, 110.0, 6.0
    else:
        half, n, radius, hours = 600.0, 2000, 390.0, 48.0
    return Scenario(
        name=f"demo_spheroid_2d_{size}",
        description="2D cancer-cell spheroid in oxygen (metastroma demo).",
        seed=2017,
        domain=DomainConfig(lower_um=[-half, -half], upper_um=[half, half]),
        time=TimeConfig(duration_min=hours * 60.0),
        initial_cells=[
            Placement(
                kind="cancer",
                shape="ball",
                n_cells=n,
                radius_um=radius,
                relax_overlaps=True,
            )
        ],
        output=OutputConfig(
            metrics_every_min=60.0,
            snapshot_every_min=hours * 15.0,
            fields_every_min=hours * 15.0,
            checkpoint_every_min=hours * 15.0,
        ),
    )


@dataclass(frozen=True)
class DemoReport:
    """Paths the demo wrote and the summary table."""

    run_dir: Path
    figures: list[Path]
    summary_csv: Path
    table: Table
    rows: list[tuple[str, str, str]]


def run_demo(
    out: Path,
    size: str = "full",
    threads: int | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> DemoReport:
    """Run the demo into ``out`` (run directory ``out/run``, figures ``out/figures``)."""
    from metastroma.viz import plot_snapshot, plot_timeseries

    out = Path(out)
    scenario = demo_scenario(size)
    result = run(scenario, out / "run", threads=threads, force=force, progress=progress)
    figs = [
        plot_snapshot(result.run_dir, out / "figures" / "spheroid_snapshot.png"),
        plot_timeseries(result.run_dir, out / "figures" / "spheroid_timeseries.png"),
    ]
    m = {k: np.asarray(v) for k, v in result.metrics.items()}
    hours = m["t_min"][-1] / 60.0
    growth = np.log(m["n_live"][-1] / m["n_live"][0]) / max(hours, 1e-9)
    doubling = f"{np.log(2.0) / growth:.1f}" if growth > 0 else "no net growth"
    rows = [
        ("simulated time", "h", f"{hours:.1f}"),
        (
            "cells at start / end",
            "cells",
            f"{m['n_cells'][0]:.0f} / {m['n_cells'][-1]:.0f}",
        ),
        (
            "live / apoptotic / necrotic at end",
            "cells",
            f"{m['n_live'][-1]:.0f} / {m['n_apoptotic'][-1]:.0f} / {m['n_necrotic'][-1]:.0f}",
        ),
        (
            "tumour radius start / end",
            "µm",
            f"{m['tumour_radius_um'][0]:.0f} / {m['tumour_radius_um'][-1]:.0f}",
        ),
        ("net population doubling time (live cells)", "h", doubling),
        ("minimum oxygen at end", "mmHg", f"{m['o2_min_mmhg'][-1]:.2f}"),
        (
            "live cells below 5 mmHg at end",
            "%",
            f"{100 * m['frac_live_below_5_mmhg'][-1]:.1f}",
        ),
        ("wall time", "s", f"{result.wall_s:.1f}"),
    ]
    table = Table(title=f"metastroma demo ({size}): 2D spheroid in oxygen")
    for col in ("quantity", "unit", "value"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    csv = "quantity,unit,value\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    summary = out / "summary.csv"
    write_bytes_atomic(summary, csv.encode())
    return DemoReport(result.run_dir, figs, summary, table, rows)
