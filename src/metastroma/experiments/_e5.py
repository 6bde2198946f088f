"""E5 — DDR2 induction needs direct MSC contact and competent (cancer) cells (G3, G10).

Protocol (SCIENCE.md §11 E5): a 2D co-culture for 72 h, four arms — (a) cancer cells with
MSCs in contact; (b) "transwell" (same cells, contact disabled: n_i ≡ 0); (c) cancer
cells alone; (d) benign epithelium (D₀ = 0, χ = 0) with MSCs. The co-culture is a
near-confluent mixed monolayer (MSC : epithelial 1 : 1, ~70 % of the area covered [A])
without division or apoptosis over the 72 h [A] (the assay measures induction, not
growth) and without a collagen field or oxygen gradient (uniform ρ₀ = 0.5 and 38 mmHg:
shared medium). A descriptive fifth arm, ``contact_sparse``, has a quarter of the cells
(≈ 17 % of the area covered): how much (a) depends on the assay's density.

Measured at 24, 48 and 72 h: mean D of live cancer (benign) cells; mean D of cancer
cells that touched ≥ 1 MSC for ≥ 24 h in total (column ``msc_contact_min``); mean D by the
number of MSCs touching a cell now (0, 1, 2, ≥ 3) and by its cumulative contact time.

Pass: (a) that mean D ≥ 2 D₀; (b), (c) mean D within 5 % of D₀; (d) D = 0; D rises
monotonically with the contact count.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    D0,
    Batch,
    RunContext,
    benign,
    hours,
    mean_effect,
    merge,
    transwell,
    values,
    within,
    without_msc,
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
from metastroma.experiments._stats import bootstrap_mean_ci, monotone_check

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import TissueSimulation

NAME = "E5"
TITLE = "DDR2 induction needs direct MSC contact and competent cells"
CONTACT_GROUPS = ("0", "1", "2", "3+")
#: Cumulative contact-time bins (h): 0, (0, 12], (12, 24], (24, 48], > 48.
TIME_BINS_H = (0.0, 12.0, 24.0, 48.0)
TIME_LABELS = ("0", "0–12", "12–24", "24–48", ">48")
TOUCH_MIN = 1440.0
#: The descriptive 'contact_sparse' arm has 1/4 of the cells (≈ 17 % of the area covered).
SPARSE_DIVISOR = 4

SIZES: dict[str, dict[str, Any]] = {
    "small": {"replicates": 3, "n_cancer": 100, "n_msc": 100, "half_width_um": 140.0},
    "full": {"replicates": 10, "n_cancer": 200, "n_msc": 200, "half_width_um": 200.0},
}


def coculture(n_cancer: int, n_msc: int, half_width_um: float) -> dict[str, Any]:
    """A mixed 2D co-culture of cancer cells and DDR2+ MSCs (no growth, no O₂ field)."""
    h = float(half_width_um)
    return {
        "name": "e5_coculture",
        "description": "E5: 2D co-culture of cancer cells and MSCs, 72 h.",
        "domain": {"lower_um": [-h, -h], "upper_um": [h, h], "voxel_um": 20},
        "oxygen": {"enabled": False},
        "cell_types": {
            "cancer": {
                "cycle": {"model": "none"},
                "death": {"apoptosis_per_min": 0.0},
            },
            "msc": {"death": {"apoptosis_per_min": 0.0}},
        },
        "initial_cells": [
            {"kind": "cancer", "shape": "box", "n_cells": n_cancer},
            {"kind": "msc", "shape": "box", "n_cells": n_msc},
        ],
        "ddr2": {"enabled": True},
    }


def arms(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The four arms (a)–(d)."""
    base = coculture(int(p["n_cancer"]), int(p["n_msc"]), float(p["half_width_um"]))
    sparse = merge(base)
    for plc in sparse["initial_cells"]:
        plc["n_cells"] = max(1, plc["n_cells"] // SPARSE_DIVISOR)
    return {
        "contact": base,
        "transwell": transwell(base),
        "alone": without_msc(base),
        "benign": merge(benign(base), {"intravasation": {"enabled": False}}),
        "contact_sparse": sparse,
    }


class CoCultureProbe(Probe):
    """Mean DDR2 expression overall, of cells touched ≥ 24 h, by contacts and time."""

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Sums and means of D by group (NaN where a group is empty)."""
        from metastroma.config import CellKind
        from metastroma.kernels import LIVE

        c = sim.cells
        kind = c.live("kind")
        live = c.live("state") == LIVE
        d = c.live("ddr2_expression")
        n_c = c.live("msc_contacts")
        t_c = c.live("msc_contact_min")
        row: dict[str, float] = {}
        ben = live & (kind == CellKind.BENIGN)
        row["mean_d_benign"] = float(d[ben].mean()) if ben.any() else math.nan
        can = live & (kind == CellKind.CANCER)
        row["n_cancer"] = float(can.sum())
        row["mean_d_cancer"] = float(d[can].mean()) if can.any() else math.nan
        row["mean_a_cancer"] = (
            float(c.live("ddr2_activity")[can].mean()) if can.any() else math.nan
        )
        touched = can & (t_c >= TOUCH_MIN)
        row["n_touched24"] = float(touched.sum())
        row["mean_d_touched24"] = (
            float(d[touched].mean()) if touched.any() else math.nan
        )
        row["frac_touching_now"] = (
            float((n_c[can] > 0).mean()) if can.any() else math.nan
        )
        for g, label in enumerate(CONTACT_GROUPS):
            m = can & ((n_c == g) if g < 3 else (n_c >= 3))
            row[f"n_contacts_{label}"] = float(m.sum())
            row[f"mean_d_contacts_{label}"] = (
                float(d[m].mean()) if m.any() else math.nan
            )
        edges = [e * 60.0 for e in TIME_BINS_H]
        for k, label in enumerate(TIME_LABELS):
            if k == 0:
                m = can & (t_c <= 0.0)
            elif k < len(edges):
                m = can & (t_c > edges[k - 1]) & (t_c <= edges[k])
            else:
                m = can & (t_c > edges[-1])
            row[f"n_time_{label}"] = float(m.sum())
            row[f"mean_d_time_{label}"] = float(d[m].mean()) if m.any() else math.nan
        return row


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run the four arms and compute the E5 effects."""
    batch = ctx.run(arms(dict(ctx.params)), CoCultureProbe(), hours(24, 48, 72))
    t = batch.table
    n = ctx.replicates
    end = 72 * 60.0
    touched = values(t, "contact", "mean_d_touched24", end, n)
    effects = [
        mean_effect(
            "contact_touched24_fold",
            "contact",
            touched / D0,
            "mean D of cancer cells that touched ≥ 1 MSC for ≥ 24 h ≥ 2 × D₀ [A]",
            lambda ci: math.isfinite(ci.estimate) and ci.estimate >= 2.0,
            f"fold over D₀ = {D0}; cells per replicate "
            f"{_mean_str(values(t, 'contact', 'n_touched24', end, n))}",
        ),
        mean_effect(
            "transwell_rel_d0",
            "transwell",
            values(t, "transwell", "mean_d_cancer", end, n) / D0 - 1.0,
            "mean D within 5 % of D₀ (no contact, shared medium)",
            within(-0.05, 0.05),
            "relative deviation D/D₀ − 1",
        ),
        mean_effect(
            "alone_rel_d0",
            "alone",
            values(t, "alone", "mean_d_cancer", end, n) / D0 - 1.0,
            "mean D within 5 % of D₀ (cancer cells alone)",
            within(-0.05, 0.05),
            "relative deviation D/D₀ − 1",
        ),
        mean_effect(
            "benign_d",
            "benign",
            values(t, "benign", "mean_d_benign", end, n),
            "benign cells (χ = 0, D₀ = 0) with MSCs: D = 0 (|D| < 1e-12)",
            lambda ci: math.isfinite(ci.estimate) and abs(ci.estimate) < 1e-12,
            "G10",
        ),
    ]
    groups = [
        values(t, "contact", f"mean_d_contacts_{g}", end, n) for g in CONTACT_GROUPS
    ]
    mono = monotone_check(groups, paired=True)
    effects.append(
        Effect(
            "d_monotone_in_contacts",
            "contact",
            mono.trend.estimate,
            mono.trend.low,
            mono.trend.high,
            "mean D rises monotonically with the number of MSC contacts (0, 1, 2, ≥ 3): "
            "ordered means and D(≥3) − D(0) CI > 0",
            mono.monotone,
            "means "
            + ", ".join(
                f"{g}: {m:.3f}" for g, m in zip(CONTACT_GROUPS, mono.means, strict=True)
            ),
        )
    )
    tgroups = [values(t, "contact", f"mean_d_time_{g}", end, n) for g in TIME_LABELS]
    tm = monotone_check(tgroups, paired=True)
    effects.append(
        Effect(
            "d_by_contact_time",
            "contact",
            tm.trend.estimate,
            tm.trend.low,
            tm.trend.high,
            "descriptive: D(> 48 h of contact) − D(never touched)",
            None,
            "means by contact time (h) "
            + ", ".join(
                f"{g}: {m:.3f}" for g, m in zip(TIME_LABELS, tm.means, strict=True)
            ),
        )
    )
    effects.append(
        mean_effect(
            "sparse_touched24_fold",
            "contact_sparse",
            values(t, "contact_sparse", "mean_d_touched24", end, n) / D0,
            "descriptive: (a) in a sparse co-culture (1/4 of the cells)",
            None,
            "fold over D₀; cells per replicate "
            f"{_mean_str(values(t, 'contact_sparse', 'n_touched24', end, n))}",
        )
    )
    effects.append(
        mean_effect(
            "contact_mean_d_all",
            "contact",
            values(t, "contact", "mean_d_cancer", end, n) / D0,
            "descriptive: mean D of all cancer cells / D₀",
            None,
        )
    )
    return batch, effects, {}


def _mean_str(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return f"{x.mean():.0f}" if x.size else "–"


def figure(result: ExperimentResult) -> Figure:
    """D by arm (72 h), D vs contact count, D over time."""
    t = result.table
    n = result.replicates
    end = 72 * 60.0
    fig, (a1, a2, a3) = new_figure(3)
    arms_ = ["contact", "transwell", "alone", "benign"]
    cols = ["mean_d_cancer", "mean_d_cancer", "mean_d_cancer", "mean_d_benign"]
    samples = [values(t, a, c, end, n) for a, c in zip(arms_, cols, strict=True)]
    samples.insert(1, values(t, "contact", "mean_d_touched24", end, n))
    samples.append(values(t, "contact_sparse", "mean_d_touched24", end, n))
    labels = [
        "contact (all)",
        "contact, ≥24 h touched",
        "transwell",
        "alone",
        "benign + MSC",
        "sparse, ≥24 h touched",
    ]
    bar_ci(
        a1,
        labels,
        [bootstrap_mean_ci(s) for s in samples],
        "DDR2 expression D (normalised)",
        "mean D at 72 h",
        samples,
    )
    a1.axhline(D0, ls="--", color="grey", lw=1)
    a1.axhline(2 * D0, ls=":", color="k", lw=1)
    a1.text(5.4, D0, " D₀", va="bottom", fontsize=8)
    a1.text(5.4, 2 * D0, " 2 D₀", va="bottom", fontsize=8)
    groups = [
        values(t, "contact", f"mean_d_contacts_{g}", end, n) for g in CONTACT_GROUPS
    ]
    bar_ci(
        a2,
        list(CONTACT_GROUPS),
        [bootstrap_mean_ci(g) for g in groups],
        "DDR2 expression D (normalised)",
        "contact arm: D vs MSCs touching now",
        groups,
    )
    a2.set_xlabel("MSC contacts at 72 h")
    a2.axhline(D0, ls="--", color="grey", lw=1)
    times = sorted(t["t_min"].unique())
    styles = ("-", "--", ":", "-", "-.")
    for i, arm in enumerate((*arms_, "contact_sparse")):
        col = "mean_d_benign" if arm == "benign" else "mean_d_cancer"
        line_ci(
            a3,
            [x / 60 for x in times],
            [values(t, arm, col, x, n) for x in times],
            arm,
            PALETTE[i],
            "os^dv"[i],
            styles[i],
        )
    a3.set_xlabel("time (h)")
    a3.set_ylabel("mean D (normalised)")
    a3.set_title("mean D over the co-culture", fontsize=10)
    a3.legend(fontsize=7, loc="center right")
    a3.grid(alpha=0.3)
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=(
        "contact_touched24_fold",
        "transwell_rel_d0",
        "alone_rel_d0",
        "benign_d",
        "d_monotone_in_contacts",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
