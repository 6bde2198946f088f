"""E9 — pharmacological inhibition, hypoxia, boundary specificity (Grither 2018, Ren 2014, Bayer 2019).

Protocol (SCIENCE.md §11 E9):

(i) **Dose–response**: the WT reference tumour (R₀ = 175 µm, 48 h; 'small': R₀ = 100 µm,
    36 h) with an inhibitor occupying θ_I of the receptors from day 0, θ_I = 0, 0.25, 0.5,
    0.75, 0.95 ('small': 0, 0.5, 0.95), and the cancer-KO arm. **Late start** (SCIENCE.md's
    "from day 7", treatment of an established tumour): θ_I = 0.5 and 0.95 from half-way
    through the run (24 h; 'small': 18 h), when DDR2 activity has reached its plateau
    (τ_on ≈ 2 h) and the collagen has been remodelled for a day; a 7-day-old primary
    (~30 × the cells) is beyond these runs' budget, so the start is scaled to the run.
    Measured at the end: mean cancer A; band coherency C (mean over the last 6 h);
    invasion depth (95th percentile beyond the edge, µm); expected exits per cancer
    cell-minute (h₀ × exposure, E4; for the late start over the treated window only) and
    the realized count.
(ii) **Hypoxia**: a packed 2D spheroid of radius 400 µm (≈ 2000 cells; 'small': 300 µm)
    without MSCs or collagen field, whose core falls below the 15-mmHg hypoxic threshold,
    with hypoxic induction k_hyp = 0.5 k_ind on vs off, 24 h. Measured: mean D of live
    cancer cells below 15 mmHg (hypoxic, H > 0) and at or above it (normoxic).
(iii) **Boundary specificity**: WT vs MSC-DDR2-null (slie host) on the reference tumour;
    mean anisotropy a (and coherency C) in the boundary band (0–40 µm outside the edge)
    and inside the tumour at the end.

Pass: (i) monotone (no significant reversal, paired; last − first CI < 0) fall of A, C,
invasion depth and expected exits with θ_I, and θ_I = 0.95 closer to the cancer-KO arm
than to θ_I = 0 in each; the same monotone fall for the late start (θ_I = 0, 0.5, 0.95,
the untreated arm shared); (ii) mean D higher in hypoxic than normoxic cells with hypoxic
induction on (paired CI > 0); (iii) the WT − KO difference in a larger in the band than
inside, ratio > 2 [A] (tested as band − 2 × inside > 0, CI, with the band difference > 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    R0_UM,
    Batch,
    RunContext,
    StromaProbe,
    above_zero,
    cancer_ko,
    diff_effect,
    hours,
    hypoxic_induction,
    inhibitor,
    nanmean,
    slie_host,
    spheroid,
    time_mean,
    values,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._figures import (
    PALETTE,
    bar_ci,
    line_ci,
    new_figure,
    passed_title,
)
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._run import Probe
from metastroma.experiments._stats import (
    bootstrap_contrast_ci,
    bootstrap_mean_ci,
    bootstrap_stat_ci,
    monotone_check,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import TissueSimulation

NAME = "E9"
TITLE = "Pharmacological inhibition, hypoxia, boundary specificity"
HYPOXIC_MMHG = 15.0
#: (column, label with unit)
DOSE_METRICS = (
    ("ddr2_activity_cancer", "mean cancer-cell A"),
    ("coherency_band", "band coherency C"),
    ("invasion_depth_um", "invasion depth (µm)"),
    ("expected_rate_per_min", "expected exits per cell·min"),
)

SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "replicates": 3,
        "r0_um": 100.0,
        "duration_h": 36.0,
        "doses": (0.0, 0.5, 0.95),
        "late_doses": (0.5, 0.95),
        "late_start_h": 18.0,
        "hypoxic_radius_um": 300.0,
        "hypoxic_h": 24.0,
    },
    "full": {
        "replicates": 10,
        "r0_um": R0_UM,
        "duration_h": 48.0,
        "doses": (0.0, 0.25, 0.5, 0.75, 0.95),
        "late_doses": (0.5, 0.95),
        "late_start_h": 24.0,
        "hypoxic_radius_um": 400.0,
        "hypoxic_h": 24.0,
    },
}


def dose_arm(theta: float) -> str:
    """Arm name of a dose."""
    return f"theta_{theta:.2f}"


def late_arm(theta: float) -> str:
    """Arm name of a dose started half-way through the run (θ = 0 is the untreated arm)."""
    return dose_arm(0.0) if theta == 0.0 else f"theta_{theta:.2f}_late"


def hypoxic_spheroid(radius_um: float) -> dict[str, Any]:
    """A packed 2D spheroid with a hypoxic core; no MSCs, no collagen field."""
    half = 20.0 * math.ceil((radius_um + 120.0) / 20.0)
    n = round(0.9 * (radius_um / 8.412710547954228) ** 2)
    return {
        "name": "e9_hypoxic_spheroid",
        "description": "E9 (ii): packed spheroid with a hypoxic core.",
        "domain": {
            "lower_um": [-half, -half],
            "upper_um": [half, half],
            "voxel_um": 20,
        },
        "cell_types": {"cancer": {}},
        "initial_cells": [
            {
                "kind": "cancer",
                "shape": "ball",
                "n_cells": n,
                "radius_um": radius_um,
                "relax_overlaps": True,
            }
        ],
        "ddr2": {"enabled": True},
    }


class HypoxiaProbe(Probe):
    """Mean D of hypoxic (< 15 mmHg) and normoxic live cancer cells."""

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """D by oxygen class, hypoxic fraction, minimum oxygen."""
        from metastroma.config import CellKind
        from metastroma.kernels import LIVE

        c = sim.cells
        m = (c.live("kind") == CellKind.CANCER) & (c.live("state") == LIVE)
        o2 = c.live("oxygen_mmhg")[m]
        d = c.live("ddr2_expression")[m]
        hyp = o2 < HYPOXIC_MMHG
        return {
            "n_cancer": float(m.sum()),
            "frac_hypoxic": float(hyp.mean()) if m.any() else math.nan,
            "o2_min_cells_mmhg": float(o2.min()) if m.any() else math.nan,
            "mean_d_hypoxic": float(d[hyp].mean()) if hyp.any() else math.nan,
            "mean_d_normoxic": float(d[~hyp].mean()) if (~hyp).any() else math.nan,
        }


def _monotone_fall(
    name: str, arms: list[str], groups: list[np.ndarray], criterion: str
) -> Effect:
    """Effect: the means fall along ``arms`` (paired, no significant reversal)."""
    mono = monotone_check(groups, decreasing=True, allow_noise=True, paired=True)
    return Effect(
        name,
        " → ".join(arms),
        mono.trend.estimate,
        mono.trend.low,
        mono.trend.high,
        criterion,
        mono.monotone,
        f"means {', '.join(f'{x:.4g}' for x in mono.means)}; ordered: {mono.ordered}; "
        f"reversals: {mono.reversals}",
    )


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run the dose arms, the KO and slie arms, and the hypoxia arms; compute effects."""
    p = dict(ctx.params)
    n = ctx.replicates
    dur = float(p["duration_h"])
    wt = spheroid(float(p["r0_um"]))
    doses = tuple(float(x) for x in p["doses"])
    arms = {dose_arm(d): inhibitor(wt, d) for d in doses}
    late = (0.0, *(float(x) for x in p["late_doses"]))
    late_start = float(p["late_start_h"]) * 60.0
    for d in late[1:]:
        arms[late_arm(d)] = inhibitor(wt, d, start_min=late_start)
    arms["cancer_ko"] = cancer_ko(wt)
    arms["slie"] = slie_host(wt)
    times = hours(float(p["late_start_h"]), *np.arange(dur - 6.0, dur + 0.5, 1.0))
    main = ctx.run(arms, StromaProbe(), times, label="E9 doses")
    hyp_base = hypoxic_spheroid(float(p["hypoxic_radius_um"]))
    hyp = ctx.run(
        {"hypoxia_on": hypoxic_induction(hyp_base), "hypoxia_off": hyp_base},
        HypoxiaProbe(),
        hours(float(p["hypoxic_h"])),
        label="E9 hypoxia",
    )
    t = main.table
    end = dur * 60.0
    effects: list[Effect] = []

    def metric(arm: str, col: str) -> np.ndarray:
        if col == "coherency_band":
            return time_mean(t, arm, col, end - 360.0, end, n)
        return values(t, arm, col, end, n)

    for col, label in DOSE_METRICS:
        groups = [metric(dose_arm(d), col) for d in doses]
        effects.append(
            _monotone_fall(
                f"dose_monotone_{col}",
                [dose_arm(d) for d in doses],
                groups,
                f"{label} falls monotonically with θ_I (no significant reversal; "
                f"θ = {doses[-1]:g} − 0 CI < 0)",
            )
        )
        ko = metric("cancer_ko", col)
        hi_dose, zero = groups[-1], groups[0]

        def closer(a: np.ndarray, z: np.ndarray, k: np.ndarray) -> float:
            den = abs(float(np.mean(a) - np.mean(z)))
            return abs(float(np.mean(a) - np.mean(k))) / den if den > 0 else math.inf

        ok = np.isfinite(hi_dose) & np.isfinite(zero) & np.isfinite(ko)
        ci = bootstrap_stat_ci(
            [hi_dose[ok], zero[ok], ko[ok]], closer, paired=True, method="percentile"
        )
        effects.append(
            Effect.from_ci(
                f"high_dose_near_ko_{col}",
                f"{dose_arm(doses[-1])} vs cancer_ko, theta_0.00",
                ci,
                f"θ_I = {doses[-1]:g} approaches cancer-KO in {label}: |m(θ) − m(KO)| / |m(θ) − m(0)| < 1",
                bool(math.isfinite(ci.estimate) and ci.estimate < 1.0),
                f"KO mean {nanmean(ko):.4g}",
            )
        )

    def late_metric(arm: str, col: str) -> np.ndarray:
        if col != "expected_rate_per_min":
            return metric(arm, col)
        # the rate over the treated window only (the cumulative rate mixes in the
        # untreated first half)
        de = values(t, arm, "expected_exits", end, n) - values(
            t, arm, "expected_exits", late_start, n
        )
        dm = values(t, arm, "cancer_cell_min", end, n) - values(
            t, arm, "cancer_cell_min", late_start, n
        )
        return de / dm

    for col, label in DOSE_METRICS:
        effects.append(
            _monotone_fall(
                f"late_dose_monotone_{col}",
                [late_arm(d) for d in late],
                [late_metric(late_arm(d), col) for d in late],
                f"started at {late_start / 60:g} h: {label} falls monotonically with θ_I "
                f"(no significant reversal; θ = {late[-1]:g} − 0 CI < 0)",
            )
        )
    realized = {d: values(t, dose_arm(d), "exit_cells_total", end, n) for d in doses}
    effects.append(
        Effect(
            "dose_realized_exits",
            "doses",
            float(np.nansum(realized[doses[0]])),
            math.nan,
            math.nan,
            "descriptive: realized exit counts by dose (too few for a trend)",
            None,
            ", ".join(f"θ {d:g}: {np.nansum(realized[d]):.0f}" for d in doses),
        )
    )
    ht = hyp.table
    hd = values(ht, "hypoxia_on", "mean_d_hypoxic", None, n)
    nd = values(ht, "hypoxia_on", "mean_d_normoxic", None, n)
    effects.append(
        diff_effect(
            "hypoxic_minus_normoxic_d_on",
            "hypoxic cells",
            hd,
            "normoxic cells",
            nd,
            "mean D higher in hypoxic than normoxic cancer cells with k_hyp on (paired CI > 0)",
            above_zero,
            f"< {HYPOXIC_MMHG:g} mmHg; hypoxic fraction {nanmean(values(ht, 'hypoxia_on', 'frac_hypoxic', None, n)):.2f}",
        )
    )
    effects.append(
        diff_effect(
            "hypoxic_minus_normoxic_d_off",
            "hypoxic cells",
            values(ht, "hypoxia_off", "mean_d_hypoxic", None, n),
            "normoxic cells",
            values(ht, "hypoxia_off", "mean_d_normoxic", None, n),
            "descriptive: the same with k_hyp = 0",
            None,
        )
    )
    w0 = dose_arm(0.0)
    for col_b, col_i, sym in (
        ("anisotropy_band", "anisotropy_inside", "a"),
        ("coherency_band", "coherency_inside", "C"),
    ):
        db = metric(w0, col_b) - metric("slie", col_b)
        di = metric(w0, col_i) - metric("slie", col_i)
        crit = sym == "a"
        contrast = bootstrap_contrast_ci(db, 2.0 * di, paired=True)
        band_ci = bootstrap_mean_ci(db)
        effects.append(
            Effect.from_ci(
                f"boundary_specificity_{sym}",
                "(wt − slie): band − 2 × inside",
                contrast,
                f"WT − MSC-DDR2-null difference in {sym} larger in the band than inside, ratio > 2 [A]"
                if crit
                else "descriptive",
                bool(above_zero(contrast) and above_zero(band_ci)) if crit else None,
                f"band diff {band_ci.estimate:.4g} [{band_ci.low:.3g}, {band_ci.high:.3g}], inside diff {nanmean(di):.4g}",
            )
        )
        ratio = bootstrap_contrast_ci(db, di, kind="ratio", paired=True)
        effects.append(
            Effect.from_ci(
                f"boundary_ratio_{sym}",
                "(wt − slie) band / inside",
                ratio,
                "descriptive",
                None,
            )
        )
    batch = main.extend(hyp)
    return (
        batch,
        effects,
        {
            "doses": list(doses),
            "late_doses": list(late[1:]),
            "late_start_min": late_start,
            "hypoxic_threshold_mmhg": HYPOXIC_MMHG,
        },
    )


def figure(result: ExperimentResult) -> Figure:
    """Dose–response of the four metrics (KO as a line); hypoxia; boundary specificity."""
    t = result.table
    n = result.replicates
    p = result.params
    doses = [float(x) for x in p["doses"]]
    end = float(p["duration_h"]) * 60.0
    fig, axes = new_figure(4, 3.6, 3.8)
    for i, (col, label) in enumerate(DOSE_METRICS[:2]):
        ax = axes[i]
        line_ci(
            ax,
            doses,
            [values(t, dose_arm(d), col, end, n) for d in doses],
            "inhibitor",
            PALETTE[0],
        )
        late = [0.0, *(float(x) for x in p.get("late_doses", ()))]
        if len(late) > 1:
            line_ci(
                ax,
                late,
                [values(t, late_arm(d), col, end, n) for d in late],
                f"from {float(p['late_start_h']):g} h",
                PALETTE[2],
            )
        ko = values(t, "cancer_ko", col, end, n)
        ax.axhline(
            float(nanmean(ko)), color=PALETTE[1], ls="--", lw=1.2, label="cancer-KO"
        )
        ax.set_xlabel("receptor occupancy θ_I")
        ax.set_ylabel(label)
        ax.set_title(f"dose–response at {end / 60:g} h", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    ax = axes[2]
    hd = values(t, "hypoxia_on", "mean_d_hypoxic", None, n)
    nd = values(t, "hypoxia_on", "mean_d_normoxic", None, n)
    hd0 = values(t, "hypoxia_off", "mean_d_hypoxic", None, n)
    nd0 = values(t, "hypoxia_off", "mean_d_normoxic", None, n)
    samples = [nd, hd, nd0, hd0]
    bar_ci(
        ax,
        ["k_hyp on, normoxic", "k_hyp on, hypoxic", "off, normoxic", "off, hypoxic"],
        [bootstrap_mean_ci(s) for s in samples],
        "mean DDR2 expression D (normalised)",
        "hypoxic induction (< 15 mmHg)",
        samples,
    )
    ax = axes[3]
    w0 = dose_arm(0.0)
    cols = ("anisotropy_band", "anisotropy_inside")
    diffs = [values(t, w0, c, end, n) - values(t, "slie", c, end, n) for c in cols]
    bar_ci(
        ax,
        ["band (0–40 µm out)", "inside the tumour"],
        [bootstrap_mean_ci(d) for d in diffs],
        "WT − MSC-DDR2-null anisotropy a",
        "boundary specificity",
        diffs,
    )
    ax.axhline(0, color="k", lw=0.8)
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


def criteria() -> tuple[str, ...]:
    """Names of the pass criteria."""
    names: list[str] = []
    for col, _ in DOSE_METRICS:
        names += [f"dose_monotone_{col}", f"high_dose_near_ko_{col}"]
    names += [f"late_dose_monotone_{col}" for col, _ in DOSE_METRICS]
    return (*names, "hypoxic_minus_normoxic_d_on", "boundary_specificity_a")


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=criteria(),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
