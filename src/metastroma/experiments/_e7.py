"""E7 — DDR2-dependent co-alignment; knockouts look like the no-MSC control (G7, G8).

Protocol (SCIENCE.md §11 E7): the growing 2D tumour with stroma (the WT reference: R₀ =
175 µm, 390 cancer cells, 39 MSCs, random collagen ρ = 0.5, 48 h) in four arms: WT + MSC;
cancer-KO + MSC; WT + DDR2-null MSCs ("slie host", δ = 0); WT without MSCs. 'small'
scales the tumour to R₀ = 100 µm (127 cells, 13 MSCs) and runs 36 h, so that enough
replicates for the equivalence test fit in a few minutes.

Measured hourly over the last 12 h and averaged per replicate (the co-alignment of
motility vectors changes at every re-orientation): C, the local (60-µm) collagen coherency
in the boundary band (``coherency_band``); C_cells of cancer cells and of MSCs (doubled-angle
alignment of their motility vectors); K = ⟨cos 2(φ − θ)⟩, cancer cell–fibre agreement.

Pass: WT + MSC exceeds every other arm in C, C_cells and K (paired bootstrap CI of the
difference > 0; MSC C_cells only among arms with MSCs); each knockout arm (cancer-KO, slie
host) equivalent to no-MSC in C, C_cells (cancer) and K: Welch TOST at α = 0.05 with the
margin ±1 pooled SD of the two arms [A]. SCIENCE.md §12 item 7: with DDR2+ MSCs still
remodelling in the cancer-KO arm, a failure of its equivalence is informative.
"""

from __future__ import annotations

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
    slie_host,
    spheroid,
    time_mean,
    without_msc,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._figures import bar_ci, new_figure, passed_title
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._stats import bootstrap_mean_ci, tost_equivalence

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "E7"
TITLE = "DDR2-dependent co-alignment; knockouts look like the no-MSC control"
ARMS = ("wt", "cancer_ko", "slie", "no_msc")
#: (column, symbol, label with unit)
METRICS = (
    ("coherency_band", "C", "band collagen coherency C"),
    ("coalignment_cancer", "C_cells,cancer", "cancer-cell co-alignment C_cells"),
    ("coalignment_msc", "C_cells,MSC", "MSC co-alignment C_cells"),
    ("cell_fibre_agreement_cancer", "K", "cancer cell–fibre agreement K"),
)
WINDOW_H = 12.0

SIZES: dict[str, dict[str, Any]] = {
    "small": {"replicates": 8, "r0_um": 100.0, "duration_h": 36.0},
    "full": {"replicates": 10, "r0_um": R0_UM, "duration_h": 48.0},
}


def arms(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The four arms."""
    wt = spheroid(float(p["r0_um"]))
    return {
        "wt": wt,
        "cancer_ko": cancer_ko(wt),
        "slie": slie_host(wt),
        "no_msc": without_msc(wt),
    }


def window_means(t: Any, arm: str, col: str, p: dict[str, Any], n: int) -> np.ndarray:
    """Per-replicate mean of ``col`` over the last :data:`WINDOW_H` hours."""
    end = float(p["duration_h"]) * 60.0
    return time_mean(t, arm, col, end - WINDOW_H * 60.0, end, n)


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run the four arms and compute the E7 effects."""
    p = dict(ctx.params)
    dur = float(p["duration_h"])
    times = hours(*np.arange(dur - WINDOW_H, dur + 0.5, 1.0))
    batch = ctx.run(arms(p), StromaProbe(), times)
    t = batch.table
    n = ctx.replicates
    effects: list[Effect] = []
    for col, sym, _ in METRICS:
        wt = window_means(t, "wt", col, p, n)
        others = ("cancer_ko", "slie") if col == "coalignment_msc" else ARMS[1:]
        for arm in others:
            effects.append(
                diff_effect(
                    f"wt_minus_{arm}_{col}",
                    "wt",
                    wt,
                    arm,
                    window_means(t, arm, col, p, n),
                    f"WT + MSC exceeds {arm} in {sym} (CI > 0)",
                    above_zero,
                    f"mean over the last {WINDOW_H:g} h, paired replicates",
                )
            )
    for col, sym, _ in METRICS:
        if col == "coalignment_msc":
            continue
        ref = window_means(t, "no_msc", col, p, n)
        for arm in ("cancer_ko", "slie"):
            x = window_means(t, arm, col, p, n)
            res = tost_equivalence(x, ref)
            effects.append(
                Effect(
                    f"equiv_{arm}_no_msc_{col}",
                    f"{arm} − no_msc",
                    res.difference,
                    res.low,
                    res.high,
                    f"{arm} indistinguishable from no-MSC in {sym}: TOST within ±1 pooled SD",
                    res.equivalent,
                    f"90 % CI (TOST), margin ±{res.margin:.3g}, p = {res.p_value:.3g}",
                )
            )
    return batch, effects, {"window_h": WINDOW_H}


def figure(result: ExperimentResult) -> Figure:
    """Each metric by arm, replicate means and 95 % CIs."""
    t = result.table
    n = result.replicates
    p = result.params
    fig, axes = new_figure(len(METRICS), 3.6, 3.8)
    for ax, (col, sym, label) in zip(axes, METRICS, strict=True):
        arms_ = [a for a in ARMS if not (col == "coalignment_msc" and a == "no_msc")]
        samples = [window_means(t, a, col, p, n) for a in arms_]
        bar_ci(
            ax,
            arms_,
            [bootstrap_mean_ci(s) for s in samples],
            f"{sym} (dimensionless)",
            label,
            samples,
        )
        lo = min(
            (float(np.nanmin(s)) for s in samples if np.isfinite(s).any()), default=0.0
        )
        ax.set_ylim(min(0.0, lo * 1.1), None)
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


def criteria() -> tuple[str, ...]:
    """Names of the pass criteria."""
    names = []
    for col, _, _ in METRICS:
        others = ("cancer_ko", "slie") if col == "coalignment_msc" else ARMS[1:]
        names += [f"wt_minus_{a}_{col}" for a in others]
    for col, _, _ in METRICS:
        if col != "coalignment_msc":
            names += [f"equiv_{a}_no_msc_{col}" for a in ("cancer_ko", "slie")]
    return tuple(names)


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=criteria(),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
