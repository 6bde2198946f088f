"""``metastroma demo``: the DDR2 story end to end, from tissue to patients.

Three acts, each with figures and numbers, written to one directory with a report
(docs/tutorial.md walks through it):

1. **Tissue** (SCIENCE.md §4–§6, §11 E1/E7): the WT reference tumour — cancer cells with
   inducible DDR2 and a ring of DDR2+ MSCs in random collagen — and two perturbations of
   it (SCIENCE.md Table 8.1): no MSCs, and DDR2 knocked out in the cancer cells. Images of
   cells and fibres, DDR2 activity, boundary alignment, invasion and exits side by side.
2. **Link** (§10): the shipped response curves (produced by ``metastroma link``): how the
   per-cell intravasation rate, the cluster share and the growth advantage of a colony
   depend on the relative DDR2 activity ã; the demo's own tissue runs are placed on them.
3. **Virtual trial** (§8, §9): the same virtual patients (common random numbers) as
   control, with DDR2 knocked out in the cancer cells, with a DDR2 inhibitor from
   diagnosis (adjuvant) and with the inhibitor started when metastases are detected:
   distant-metastasis shares, sites, Kaplan–Meier curves, hazard ratios.

Sizes: ``full`` (the README's command; ≤ 5 min on 2 cores) and ``small`` (seconds, for
tests; the same files).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from metastroma.config.loader import scenario_from_dict
from metastroma.store.atomic import write_bytes_atomic

__all__ = [
    "DEMO_SIZES",
    "TISSUE_ARMS",
    "DemoReport",
    "demo_tissue_scenario",
    "run_demo",
]

#: Tissue arms: name → (label, SCIENCE.md Table 8.1 perturbation).
TISSUE_ARMS: dict[str, tuple[str, str]] = {
    "wt_msc": ("WT + MSCs", "none"),
    "no_msc": ("no MSCs", "msc_depletion"),
    "cancer_ko": ("cancer DDR2 KO + MSCs", "cancer_knockout"),
}

#: Per size: tumour radius (µm), cancer cells, MSCs, domain half-width (µm), hours,
#: snapshot interval (min), trial patients.
DEMO_SIZES: dict[str, dict[str, float]] = {
    "full": {
        "radius_um": 175.0,
        "n_cancer": 390,
        "n_msc": 39,
        "half_um": 600.0,
        "hours": 48.0,
        "every_min": 480.0,
        "patients": 4000,
    },
    "small": {
        "radius_um": 60.0,
        "n_cancer": 45,
        "n_msc": 6,
        "half_um": 240.0,
        "hours": 3.0,
        "every_min": 60.0,
        "patients": 300,
    },
}


def demo_tissue_scenario(size: str = "full") -> dict[str, Any]:
    """The WT reference tumour of the demo, as a scenario mapping.

    'full' is ``scenarios/ddr2_wt_msc_2d.yaml`` (SCIENCE.md §11's reference arm: ~390
    cancer cells, R₀ = 175 µm, 1 MSC : 10 cancer cells in the 150–260 µm ring, random
    collagen, doorways at 20 /mm², 48 h; a test checks the two agree); 'small' the same
    tissue scaled down for tests.
    """
    if size not in DEMO_SIZES:
        raise ValueError(f"size = {size!r}: one of {', '.join(DEMO_SIZES)}")
    s = DEMO_SIZES[size]
    r = s["radius_um"]
    half = s["half_um"]
    every = s["every_min"]
    return {
        "name": "ddr2_wt_msc_2d" if size == "full" else "demo_wt_msc_small",
        "description": "DDR2 wild type with DDR2+ MSCs, 2D spheroid in random collagen.",
        "seed": 1,
        "domain": {
            "lower_um": [-half, -half],
            "upper_um": [half, half],
            "voxel_um": 20,
        },
        "time": {"duration_min": s["hours"] * 60.0},
        "cell_types": {"cancer": {}, "msc": {}},
        "initial_cells": [
            {
                "kind": "cancer",
                "shape": "ball",
                "n_cells": int(s["n_cancer"]),
                "radius_um": r,
                "relax_overlaps": True,
            },
            {
                "kind": "msc",
                "shape": "ring",
                "n_cells": int(s["n_msc"]),
                "inner_radius_um": r * 150.0 / 175.0,
                "radius_um": r * 260.0 / 175.0,
            },
        ],
        "ddr2": {"enabled": True},
        "ecm": {"enabled": True},
        "msc_rules": {"genotype": 1.0},
        "intravasation": {"enabled": True, "doorway_density_per_mm2": 20},
        "output": {
            "metrics_every_min": 60 if size == "full" else 30,
            "snapshot_every_min": every,
            "fields_every_min": every,
            "checkpoint_every_min": every,
        },
    }


@dataclass(frozen=True)
class DemoReport:
    """What the demo wrote.

    Attributes
    ----------
    out : Path
        The demo directory.
    figures : list of Path
    summary_md, summary_csv, report : Path
        The summary table (Markdown, CSV) and the report that explains each figure.
    tables : list of rich.table.Table
        The printed tables.
    wall_s : dict of str to float
        Wall time of each act, s.
    """

    out: Path
    figures: list[Path]
    summary_md: Path
    summary_csv: Path
    report: Path
    tables: list[Table] = field(default_factory=list)
    wall_s: dict[str, float] = field(default_factory=dict)


Progress = Callable[[str], None]


# --------------------------------------------------------------------------- act 1


@dataclass(frozen=True)
class _TissueArm:
    """A finished tissue arm: its run directory, metrics columns and exit hazard h₀."""

    run_dir: Path
    metrics: dict[str, np.ndarray]
    h0_per_min: float


def _run_tissue_arms(
    out: Path, size: str, threads: int | None, force: bool, say: Progress
) -> dict[str, _TissueArm]:
    from metastroma.runner import run
    from metastroma.therapy.perturbations import apply_to_tissue

    base = demo_tissue_scenario(size)
    runs: dict[str, _TissueArm] = {}
    for name, (label, kind) in TISSUE_ARMS.items():  # three arms, not cells
        data = apply_to_tissue(copy.deepcopy(base), kind)  # type: ignore[arg-type]
        data["name"] = f"demo_{name}"
        sc = scenario_from_dict(data, source=f"demo arm {name}")
        say(f"tissue: {label} ({sc.time.duration_min / 60:.0f} simulated hours)")
        res = run(sc, out / "tissue" / name, threads=threads, force=force)
        metrics = {k: np.asarray(v) for k, v in res.metrics.items()}
        h0 = sc.intravasation.base_hazard_per_min
        runs[name] = _TissueArm(res.run_dir, metrics, h0)
    return runs


def _tissue_table(runs: dict[str, _TissueArm]) -> pd.DataFrame:
    """End-of-run DDR2, alignment, invasion and exit numbers of each arm."""
    rows = []
    for name, arm in runs.items():  # three arms
        last = {k: v[-1] for k, v in arm.metrics.items()}
        cell_min = float(last["cancer_cell_min_total"])
        exposure = float(last["door_exposure_min_total"])
        rows.append(
            {
                "arm": name,
                "label": TISSUE_ARMS[name][0],
                "hours": float(last["t_min"]) / 60.0,
                "cancer_cells": float(last["n_cancer"]),
                "ddr2_activity_cancer": float(last["ddr2_activity_cancer"]),
                "coherency_band": float(last["coherency_band"]),
                "coherency_inside": float(last["coherency_inside"]),
                "invasion_depth_um": float(last["invasion_depth_um"]),
                "n_invading": float(last["n_invading"]),
                "expected_exits_per_1000_cells_day": (
                    1000.0 * 1440.0 * arm.h0_per_min * exposure / cell_min
                    if cell_min > 0
                    else np.nan
                ),
                "exit_cells": float(last["exit_cells_total"]),
            }
        )
    return pd.DataFrame(rows)


def _tissue_figures(
    runs: dict[str, _TissueArm], table: pd.DataFrame, fig_dir: Path
) -> list[Path]:
    from metastroma.viz.demo import (
        tissue_arms_figure,
        tissue_bars_figure,
        tissue_timecourse_figure,
    )
    from metastroma.viz.tissue import plot_tissue_snapshot

    labels = {k: v[0] for k, v in TISSUE_ARMS.items()}
    snaps = {
        name: plot_tissue_snapshot(arm.run_dir, fig_dir / f"tissue_{name}.png")
        for name, arm in runs.items()  # three arms
    }
    metrics = {name: arm.metrics for name, arm in runs.items()}
    h0 = {name: arm.h0_per_min for name, arm in runs.items()}
    return [
        tissue_arms_figure(snaps, labels, fig_dir / "tissue_arms.png"),
        tissue_timecourse_figure(
            metrics, labels, h0, fig_dir / "tissue_timecourse.png"
        ),
        tissue_bars_figure(table, fig_dir / "tissue_relative.png"),
        *snaps.values(),
    ]


# --------------------------------------------------------------------------- act 2

#: Link quantities shown in the demo: file name, label, unit, digits.
_LINK_ROWS = [
    ("intravasation_multiplier", "intravasation multiplier r_intra (curve)", "1", 3),
    (
        "cluster_event_fraction",
        "cluster share of exit events f_cl (tissue curve)",
        "1",
        3,
    ),
    ("growth_multiplier", "growth multiplier m_grow of a colony (curve)", "1", 3),
]

#: Tissue arm → the curve file's categorical arm (WT is the reference, ã = 1).
_CURVE_ARM = {"no_msc": "no_msc", "cancer_ko": "cancer_ko"}


def _curve_value(curves: Any, arm: str, quantity: str) -> tuple[float, float]:
    """(ã, mean) of ``quantity`` at a demo arm's point of the curve file."""
    from metastroma.link import interpolate

    if arm == "wt_msc":
        return 1.0, float(interpolate(curves, quantity, [1.0]).mean[0])
    point = curves.arms.get(_CURVE_ARM[arm])
    if point is not None and quantity in point.quantities:
        return float(point.x), float(point.quantities[quantity].mean)
    x = float(point.x) if point is not None else 0.0
    x = min(max(x, float(curves.x[0])), float(curves.x[-1]))
    return x, float(interpolate(curves, quantity, [x]).mean[0])


def _link_act(
    tissue: pd.DataFrame, fig_dir: Path
) -> tuple[Path, pd.DataFrame, str, list[Path]]:
    """Plot the shipped curves and read them at the demo's arms."""
    from metastroma.link import default_curve_file, read_curves
    from metastroma.viz.link import plot_curves

    path = default_curve_file()
    curves = read_curves(path)
    fig = plot_curves(
        curves,
        fig_dir / "link_curves.png",
        title="shipped response curves (metastroma link, scenarios/link_default.yaml)",
    )
    t = tissue.set_index("arm")
    a_wt = float(t.loc["wt_msc", "ddr2_activity_cancer"])
    e_wt = float(t.loc["wt_msc", "expected_exits_per_1000_cells_day"])
    rows = []
    for arm in TISSUE_ARMS:  # three arms
        measured = (
            float(t.loc[arm, "ddr2_activity_cancer"]) / a_wt if a_wt > 0 else np.nan
        )
        exits = float(t.loc[arm, "expected_exits_per_1000_cells_day"])
        x = np.nan
        for q, name, unit, _ in _LINK_ROWS:
            x, v = _curve_value(curves, arm, q)
            rows.append(
                {
                    "section": "link",
                    "quantity": name,
                    "unit": unit,
                    "arm": arm,
                    "value": v,
                }
            )
        rows.append(
            {
                "section": "link",
                "quantity": "relative DDR2 activity ã (curve file, replicates)",
                "unit": "1",
                "arm": arm,
                "value": x,
            }
        )
        rows.append(
            {
                "section": "link",
                "quantity": "relative DDR2 activity ã (this demo's run)",
                "unit": "1",
                "arm": arm,
                "value": measured,
            }
        )
        rows.append(
            {
                "section": "link",
                "quantity": "exit rate relative to WT (this demo's run)",
                "unit": "1",
                "arm": arm,
                "value": exits / e_wt if e_wt > 0 else np.nan,
            }
        )
    tidy = pd.DataFrame(rows)
    prov = curves.provenance
    text = f"""## 2. The link: what DDR2 activity does to the rates the body needs

![Response curves](figures/link_curves.png)

`figures/link_curves.png`: the response curves shipped with metastroma
(`{path.name}`, produced by `{prov.get("producer", "?")}` on {prov.get("created_utc", "?")},
{prov.get("replicates_per_point", "?")} seeded replicates per point; docs/link.md). The x
axis is the *achieved* relative DDR2 activity of the cancer cells, ã = A/A_WT (1 = the WT
tumour with MSCs), reached by knocking DDR2 down and by blocking the receptor; the
coloured points are the categorical arms (cancer KO, MSC-null, host-null, heterozygote,
no MSCs). Shaded: 95 % bootstrap bands. Panels: r_intra, exits per cancer cell per minute
relative to WT (multiplies the body's shedding); f_cl, the share of exits that are
clusters (the body uses its ratio to WT on its calibrated 3 % cluster share); m_grow, the
growth-rate ratio of a colony in lung-like tissue (multiplies metastasis growth); and the
alignment covariates (boundary coherency, invasion depth, TACS-3 share, absolute exit
rate).

The body reads these curves (PCHIP, never extrapolated): a patient whose cancer cells lack
DDR2 sheds r_intra(ã_KO) = {_fmt(_curve_value(curves, "cancer_ko", "intravasation_multiplier")[1], 2)}
times as many cells as WT, and their metastases grow at
m_grow = {_fmt(_curve_value(curves, "cancer_ko", "growth_multiplier")[1], 3)} times the WT
rate. This demo's own single-seed tissue runs sit at ã = 1 (WT),
{_fmt(float(t.loc["no_msc", "ddr2_activity_cancer"]) / a_wt if a_wt > 0 else np.nan, 2)}
(no MSCs) and {_fmt(float(t.loc["cancer_ko", "ddr2_activity_cancer"]) / a_wt if a_wt > 0 else np.nan, 2)}
(KO) on that axis (rows "this demo's run" in the summary). Regenerate the curves with
`metastroma link scenarios/link_default.yaml --out runs/link --workers 2`.
"""
    return path, tidy, text, [fig]


# --------------------------------------------------------------------------- act 3


def demo_trial(patients: int, curves_path: Path) -> tuple[Any, Any]:
    """The demo's trial and cohort: five arms on the same virtual patients.

    The cohort is the calibrated default (docs/body-scale.md) with Toy 2015's share of
    DDR2-high tumours (56 %) and the shipped response curves; arms: control, cancer-cell
    DDR2 knockout, dasatinib 70 mg BID (set A) as 5 years of adjuvant therapy from
    diagnosis (free and total IC50 basis), and dasatinib from the first detected distant
    metastasis.
    """
    from metastroma.config.cohort import CohortScenario
    from metastroma.config.trial import TrialConfig

    sc = CohortScenario(
        seed=2017,
        patients=patients,
        ddr2={"high_fraction": 0.56, "curves": str(curves_path)},
    )
    dasatinib = {
        "drug": "dasatinib_a",
        "schedule": {"dose_mg": 70.0, "interval_h": 12.0},
    }
    trial = TrialConfig(
        name="demo_ddr2_trial",
        cohort=Path("<demo: default cohort, ddr2.high_fraction 0.56>"),
        patients=patients,
        horizons_years=[5.0, 10.0],
        reference_arm="control",
        arms=[
            {"name": "control", "kind": "control"},
            {"name": "cancer_ko", "kind": "cancer_knockout"},
            {
                "name": "adjuvant_dasatinib",
                "kind": "inhibitor",
                "start": "diagnosis",
                "duration_days": 1826.0,
                "inhibitor": dasatinib,
            },
            {
                "name": "adjuvant_dasatinib_total",
                "kind": "inhibitor",
                "start": "diagnosis",
                "duration_days": 1826.0,
                "inhibitor": {**dasatinib, "pd": {"ic50_basis": "total"}},
            },
            {
                "name": "dasatinib_at_relapse",
                "kind": "inhibitor",
                "start": "distant_detection",
                "inhibitor": dasatinib,
            },
        ],
    )
    return trial, sc


#: Trial summary columns shown in the demo: column, label, unit, digits, scale.
_TRIAL_ROWS = [
    ("distant_metastasis_5y", "distant metastasis by 5 years", "%", 1, 100.0),
    ("distant_metastasis_10y", "distant metastasis by 10 years", "%", 1, 100.0),
    ("hr_mfs", "hazard ratio, metastasis-free survival (vs control)", "1", 3, 1.0),
    ("logrank_p_mfs", "log-rank p, metastasis-free survival", "1", -1, 1.0),
    ("hr_os", "hazard ratio, overall survival (vs control)", "1", 3, 1.0),
    ("logrank_p_os", "log-rank p, overall survival", "1", -1, 1.0),
    (
        "mean_metastases_per_metastatic_patient",
        "metastases per metastatic patient (at death or end)",
        "1",
        2,
        1.0,
    ),
    ("median_metastasis_diameter_mm", "median metastasis diameter", "mm", 2, 1.0),
    ("activity_factor", "DDR2 activity factor on treatment", "1", 3, 1.0),
]


def _trial_act(
    out: Path, size: str, curves_path: Path, force: bool, say: Progress
) -> tuple[pd.DataFrame, str, list[Path]]:
    from metastroma.body.trial import analyse_trial, run_trial
    from metastroma.link import read_curves
    from metastroma.store.trial import write_trial

    n = int(DEMO_SIZES[size]["patients"])
    trial, sc = demo_trial(n, curves_path)
    say(f"virtual trial: {len(trial.arms)} arms × {n} patients (same patients)")
    t0 = time.perf_counter()
    result = run_trial(trial, sc, read_curves(curves_path))
    analysis = analyse_trial(result)
    written = write_trial(
        result, analysis, out / "trial", force=force, wall_s=time.perf_counter() - t0
    )
    summ = analysis.summary.set_index("arm")
    rows = []
    for col, name, unit, _, scale in _TRIAL_ROWS:  # nine quantities
        if col not in summ.columns:
            continue
        for arm in summ.index:  # five arms
            v = summ.loc[arm, col]
            value = float(v) * scale if v is not None and pd.notna(v) else np.nan
            rows.append(
                {
                    "section": "trial",
                    "quantity": name,
                    "unit": unit,
                    "arm": arm,
                    "value": value,
                }
            )
    tidy = pd.DataFrame(rows)
    ctl, ko = summ.loc["control"], summ.loc["cancer_ko"]
    adj, adj_t = summ.loc["adjuvant_dasatinib"], summ.loc["adjuvant_dasatinib_total"]

    def pct(row: pd.Series, col: str) -> str:
        return _fmt(100.0 * float(row[col]), 1)

    text = f"""## 3. A virtual trial: what would blocking DDR2 do for patients?

{n:,} virtual women with breast cancer (the calibrated default cohort, 56 % DDR2-high
tumours, Toy 2015), simulated five times on the **same patients** (common random
numbers: every arm's patient k has the same tumour, growth rate, detection size and random
draws; histories differ only where the arm acts). Arms: untreated control; DDR2 knocked out
in the cancer cells (lifelong); dasatinib 70 mg twice daily for 5 years from diagnosis
(IC50 compared with the free concentration, SCIENCE.md's default, and with the total
concentration); dasatinib from the first detected distant metastasis. Outputs in `trial/`
(docs/trials.md).

![Kaplan–Meier, metastasis-free survival](trial/figures/km_mfs.png)

`trial/figures/km_mfs.png`: distant-metastasis-free survival from diagnosis per arm, with
95 % bands; the legend gives each arm's hazard ratio against control (Cox) and the log-rank
p-value.

![Kaplan–Meier, overall survival](trial/figures/km_os.png)

`trial/figures/km_os.png`: overall survival, likewise.

![Sites](trial/figures/sites.png)

`trial/figures/sites.png`: share of each arm's patients with each distant organ ever
involved (95 % Wilson intervals).

![Shares](trial/figures/shares.png)

`trial/figures/shares.png`: share of patients with a detected distant metastasis by 5 and 10
years.

By 10 years {pct(ctl, "distant_metastasis_10y")} % of control patients have a detected
distant metastasis, against {pct(ko, "distant_metastasis_10y")} % with DDR2 knocked out in
the cancer cells (hazard ratio {_fmt(float(ko["hr_mfs"]), 2)}, log-rank p =
{float(ko["logrank_p_mfs"]):.2g}): a tumour without DDR2 sheds fewer cells from its first
cell on, so fewer patients are seeded before surgery. Adjuvant dasatinib changes little
({pct(adj, "distant_metastasis_10y")} % on the free basis, {pct(adj_t, "distant_metastasis_10y")} %
on the total basis): it starts at diagnosis, after most metastases were seeded. On the free
basis it lowers DDR2 activity by only {_fmt(100.0 * (1.0 - float(adj["activity_factor"])), 0)} %,
because the activation ODE saturates (docs/therapy.md, "At the body scale"); even on the
total basis, a {_fmt(100.0 * (1.0 - float(adj_t["activity_factor"])), 0)} % reduction, the
share barely moves, because what a drug can still change after surgery — shedding by
established colonies and their growth — matters little by then. Started at relapse it
cannot change metastasis-free survival at all (it starts at the event). This is the model's
version of SCIENCE.md §8.5: a DDR2-directed drug acts on dissemination and colonisation,
not on established disease. The paired tables (`trial/paired.csv`) count patients whose
outcome differs between arm and control.
"""
    figs = [
        written.out_dir / "figures" / f
        for f in ("km_mfs.png", "km_os.png", "sites.png", "shares.png")
    ]
    return tidy, text, figs


# --------------------------------------------------------------------------- driver


def run_demo(
    out: Path,
    size: str = "full",
    threads: int | None = None,
    force: bool = False,
    say: Progress | None = None,
) -> DemoReport:
    """Run the demo into ``out``; see the module docstring for what it writes.

    Parameters
    ----------
    out : Path
        Demo directory: ``tissue/<arm>/`` (run directories), ``trial/`` (the trial's
        outputs), ``figures/``, ``summary.md``, ``summary.csv``, ``report.md``.
    size : {'full', 'small'}
    threads : int, optional
        numba threads of the tissue runs.
    force : bool
        Replace an earlier demo's runs.
    say : callable, optional
        Called with a line of progress text.

    Raises
    ------
    RunDirectoryError
        ``out`` holds another demo's runs and ``force`` is not set.
    """
    if size not in DEMO_SIZES:
        raise ValueError(f"--size = {size!r}: one of {', '.join(DEMO_SIZES)}")
    out = Path(out)
    say = say or (lambda _msg: None)
    wall: dict[str, float] = {}
    t0 = time.perf_counter()
    runs = _run_tissue_arms(out, size, threads, force, say)
    tissue = _tissue_table(runs)
    figures = _tissue_figures(runs, tissue, out / "figures")
    wall["tissue"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("link: the shipped response curves")
    curves_path, link_tidy, link_text, link_figs = _link_act(tissue, out / "figures")
    wall["link"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    trial_tidy, trial_text, trial_figs = _trial_act(out, size, curves_path, force, say)
    wall["trial"] = time.perf_counter() - t0
    sections = [
        ("Link (response curves at the demo's arms)", link_tidy, link_text),
        ("Virtual trial (per arm)", trial_tidy, trial_text),
    ]
    return _write_report(
        out, size, tissue, [*figures, *link_figs, *trial_figs], wall, sections
    )


# --------------------------------------------------------------------------- report

#: Tissue quantities of the summary: column, name, unit, digits.
_TISSUE_ROWS = [
    ("cancer_cells", "live cancer cells at the end", "cells", 0),
    ("ddr2_activity_cancer", "mean DDR2 activity A of cancer cells", "0-1", 3),
    ("coherency_band", "collagen coherency C in the boundary band", "0-1", 3),
    ("coherency_inside", "collagen coherency C inside the tumour", "0-1", 3),
    ("invasion_depth_um", "invasion depth (95th percentile beyond the edge)", "µm", 1),
    ("n_invading", "invading cancer cells", "cells", 0),
    (
        "expected_exits_per_1000_cells_day",
        "expected exits per 1000 cancer cells per day",
        "1/(1000 cells·day)",
        3,
    ),
    ("exit_cells", "cells that left through doorways (realised)", "cells", 0),
]


def _fmt(v: float, digits: int) -> str:
    """``v`` with ``digits`` decimals; ``digits`` < 0: two significant digits (p-values)."""
    if not np.isfinite(v):
        return "n/a"
    if digits < 0:
        return f"{v:.2g}"
    return f"{v:,.{digits}f}"


def _tissue_summary(tissue: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows (section, quantity, unit, arm, value) of the tissue act."""
    rows = []
    for col, name, unit, _ in _TISSUE_ROWS:  # eight quantities
        for r in tissue.itertuples():  # three arms
            rows.append(
                {
                    "section": "tissue",
                    "quantity": name,
                    "unit": unit,
                    "arm": r.arm,
                    "value": float(getattr(r, col)),
                }
            )
    return pd.DataFrame(rows)


def _markdown_table(tidy: pd.DataFrame, digits: dict[str, int]) -> str:
    """One row per quantity, one column per arm."""
    arms = list(dict.fromkeys(tidy["arm"]))
    lines = [
        "| quantity | unit | " + " | ".join(arms) + " |",
        "|---|---|" + "---:|" * len(arms),
    ]
    for (q, unit), grp in tidy.groupby(["quantity", "unit"], sort=False):
        vals = dict(zip(grp["arm"], grp["value"], strict=True))
        d = digits.get(str(q), 3)
        cells = [_fmt(vals.get(a, np.nan), d) for a in arms]
        lines.append(f"| {q} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rich_table(title: str, tidy: pd.DataFrame, digits: dict[str, int]) -> Table:
    arms = list(dict.fromkeys(tidy["arm"]))
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("unit")
    for a in arms:
        table.add_column(a, justify="right")
    for (q, unit), grp in tidy.groupby(["quantity", "unit"], sort=False):
        vals = dict(zip(grp["arm"], grp["value"], strict=True))
        d = digits.get(str(q), 3)
        table.add_row(str(q), str(unit), *(_fmt(vals.get(a, np.nan), d) for a in arms))
    return table


#: Short column headers of the printed trial table (arms as rows); the other
#: quantities are in summary.md.
_SHORT = {
    "distant metastasis by 5 years": "DM 5 y %",
    "distant metastasis by 10 years": "DM 10 y %",
    "hazard ratio, metastasis-free survival (vs control)": "HR MFS",
    "log-rank p, metastasis-free survival": "p MFS",
    "DDR2 activity factor on treatment": "A factor",
}


def _rich_table_by_arm(title: str, tidy: pd.DataFrame, digits: dict[str, int]) -> Table:
    """Arms as rows, quantities as (short) columns: for tables with many arms."""
    quantities = [q for q in dict.fromkeys(tidy["quantity"]) if q in _SHORT]
    table = Table(title=title)
    table.add_column("arm")
    for q in quantities:
        table.add_column(_SHORT.get(q, q), justify="right")
    for arm, grp in tidy.groupby("arm", sort=False):
        vals = dict(zip(grp["quantity"], grp["value"], strict=True))
        table.add_row(
            str(arm),
            *(_fmt(vals.get(q, np.nan), digits.get(q, 3)) for q in quantities),
        )
    return table


def _tissue_text(tissue: pd.DataFrame, size: str) -> str:
    t = tissue.set_index("arm")
    wt, no, ko = t.loc["wt_msc"], t.loc["no_msc"], t.loc["cancer_ko"]
    s = DEMO_SIZES[size]
    return f"""## 1. Tissue: MSCs switch on DDR2, DDR2 aligns the collagen

Three 2D tumours of {int(s["n_cancer"])} cancer cells (radius {s["radius_um"]:.0f} µm) in
random collagen, {s["hours"]:.0f} simulated hours each (SCIENCE.md §4–§6; the WT arm is
`scenarios/ddr2_wt_msc_2d.yaml`{" scaled down" if size == "small" else ""}):

- **WT + MSCs**: cancer cells with inducible DDR2 and a ring of DDR2+ mesenchymal stem cells
  (1 MSC : 10 cancer cells). MSCs that touch cancer cells induce DDR2 expression; collagen
  activates it slowly.
- **no MSCs**: the same tumour without MSCs (SCIENCE.md Table 8.1, MSC depletion).
- **cancer DDR2 KO + MSCs**: MSCs present, DDR2 knocked out in the cancer cells.

![The three arms at the end of the run](figures/tissue_arms.png)

`figures/tissue_arms.png`: one row per arm, the tissue at the end: collagen fibres as short
segments along the local fibre direction (length ∝ anisotropy, opacity ∝ density), cancer
cells coloured by DDR2 activity A (dark = 0, yellow = 1), MSCs green, the tumour edge and
the scored boundary band (dashed), exits as ×; the right half of each panel colours the
band's fibres by their angle to the edge (tangential = TACS-2, radial = TACS-3).

![Time courses](figures/tissue_timecourse.png)

`figures/tissue_timecourse.png`: mean DDR2 activity of the cancer cells, collagen
coherency in the boundary band (0 = random, 1 = all fibres parallel; SCIENCE.md §6.1),
invasion depth, and expected exits per cancer cell (h₀ × time at vessel doorways weighted by
DDR2 and fibre orientation, §5.6).

![Relative to WT](figures/tissue_relative.png)

`figures/tissue_relative.png`: the end-of-run values relative to WT + MSCs.

At the end, the cancer cells' DDR2 activity is {_fmt(wt.ddr2_activity_cancer, 3)} with MSCs,
{_fmt(no.ddr2_activity_cancer, 3)} without them and {_fmt(ko.ddr2_activity_cancer, 3)} with
DDR2 knocked out; boundary coherency {_fmt(wt.coherency_band, 3)} vs
{_fmt(no.coherency_band, 3)} and {_fmt(ko.coherency_band, 3)}; invasion depth
{_fmt(wt.invasion_depth_um, 0)} vs {_fmt(no.invasion_depth_um, 0)} and
{_fmt(ko.invasion_depth_um, 0)} µm; expected exits per 1000 cancer cells per day
{_fmt(wt.expected_exits_per_1000_cells_day, 2)} vs
{_fmt(no.expected_exits_per_1000_cells_day, 2)} and
{_fmt(ko.expected_exits_per_1000_cells_day, 2)}. One seed per arm: the full experiments
with replicates and confidence intervals are `metastroma experiment E7` and `E9`
(docs/experiments.md).
"""


def _write_report(
    out: Path,
    size: str,
    tissue: pd.DataFrame,
    figures: list[Path],
    wall: dict[str, float],
    sections: list[tuple[str, pd.DataFrame, str]] | None = None,
) -> DemoReport:
    """Write summary.csv, summary.md and report.md; return the :class:`DemoReport`."""
    digits = {name: d for _, name, _, d in _TISSUE_ROWS}
    digits |= {name: d for _, name, _, d in _LINK_ROWS}
    digits |= {name: d for _, name, _, d, _ in _TRIAL_ROWS}
    parts = [
        ("Tissue (end of run)", _tissue_summary(tissue), _tissue_text(tissue, size))
    ]
    parts += sections or []
    tidy = pd.concat([p[1] for p in parts], ignore_index=True)
    summary_csv = out / "summary.csv"
    write_bytes_atomic(summary_csv, tidy.to_csv(index=False).encode("utf-8"))
    md = ["# metastroma demo: summary\n"]
    tables = []
    for title, frame, _ in parts:  # the acts
        md.append(f"## {title}\n\n" + _markdown_table(frame, digits))
        by_arm = frame["section"].iloc[0] == "trial" if len(frame) else False
        tables.append(
            _rich_table_by_arm(title, frame, digits)
            if by_arm
            else _rich_table(title, frame, digits)
        )
    summary_md = out / "summary.md"
    write_bytes_atomic(summary_md, "\n".join(md).encode("utf-8"))
    from metastroma import __version__

    walls = ", ".join(f"{k} {v:.0f} s" for k, v in wall.items())
    report = [
        "# metastroma demo: the DDR2 story from tissue to patients\n",
        f"metastroma {__version__}, size '{size}'. Wall time: {walls}. The numbers are in "
        "`summary.md` and `summary.csv` (one row per quantity and arm); "
        "docs/tutorial.md explains every figure in more depth.\n",
        *(text for _, _, text in parts),
    ]
    report_md = out / "report.md"
    write_bytes_atomic(report_md, "\n".join(report).encode("utf-8"))
    return DemoReport(
        out=out,
        figures=figures,
        summary_md=summary_md,
        summary_csv=summary_csv,
        report=report_md,
        tables=tables,
        wall_s=wall,
    )
