"""E8 — fewer and smaller metastases without host DDR2; primary growth unaffected (G9).

Protocol (SCIENCE.md §11 E8), two parts, arms WT, slie/+ (δ = 1, D₀ unchanged: the WT
model with other seeds, a different group of animals [A], SCIENCE.md §12 item 19) and
slie/slie (δ = 0):

- **Primary**: the WT reference tumour (R₀ = 175 µm, 48 h; 'small': R₀ = 100 µm, 36 h).
  SCIENCE.md asks for 14–21 d, beyond what a 2D agent model of a growing tumour runs in
  minutes; the primary is therefore compared over its first 2 days. Measured: live cancer
  cells, tumour radius (radius of gyration), exits per primary (realized, and expected =
  h₀ × doorway exposure, at the default h₀ = 1e-4 /min: ratios do not depend on h₀).
- **Metastasis growth**: a lung-like secondary tissue seeded with a colony of 30 cancer
  cells (a 50-µm disc) with MSCs 3 × enriched (3 : 10 MSC : cancer [A], a ring at
  43–74 µm, the primary's ring geometry scaled), proliferation gain g_p = 0.3 at the
  metastatic site (§4.9, §12 item 6), no intravasation, grown 5 d ('small': 3 d).
  Measured: live cancer cells of the colony.

Pass: primary cell count and radius within ±10 % across arms; exits per primary lower in
slie/slie by 30–80 % (expected-exit ratio 0.2–0.7) [A]; mean colony size smaller in
slie/slie by 20–70 % (ratio 0.3–0.8) [A]; slie/+ within ±15 % of WT (exits and colony
size) [A]. Metastasis counts follow from the exits through the body model (SCIENCE.md
§10); the tissue model hands over the exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    R0_UM,
    Batch,
    RunContext,
    StromaProbe,
    hours,
    ratio_effect,
    slie_host,
    spheroid,
    values,
    within,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._figures import bar_ci, new_figure, passed_title
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._stats import bootstrap_mean_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "E8"
TITLE = "Fewer and smaller metastases without host DDR2; primary growth unaffected"
HET_SEED_OFFSET = 1000
COLONY_CELLS = 30
COLONY_RADIUS_UM = 50.0
MSC_ENRICHMENT = 3.0
PROLIFERATION_GAIN = 0.3
ARMS = ("wt", "slie_het", "slie_hom")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"replicates": 3, "r0_um": 100.0, "primary_h": 36.0, "colony_days": 3.0},
    "full": {"replicates": 10, "r0_um": R0_UM, "primary_h": 48.0, "colony_days": 5.0},
}


def colony() -> dict[str, Any]:
    """A lung-like secondary tissue with a 30-cell colony and 3 × enriched MSCs."""
    f = COLONY_RADIUS_UM / R0_UM
    n_msc = max(1, round(COLONY_CELLS * MSC_ENRICHMENT / 10.0))
    return {
        "name": "e8_lung_colony",
        "description": "E8: metastatic colony in a lung-like tissue, MSCs 3x enriched, g_p 0.3.",
        "domain": {"lower_um": [-300, -300], "upper_um": [300, 300], "voxel_um": 20},
        "cell_types": {"cancer": {}, "msc": {}},
        "initial_cells": [
            {
                "kind": "cancer",
                "shape": "ball",
                "n_cells": COLONY_CELLS,
                "radius_um": COLONY_RADIUS_UM,
                "relax_overlaps": True,
            },
            {
                "kind": "msc",
                "shape": "ring",
                "n_cells": n_msc,
                "inner_radius_um": 150.0 * f,
                "radius_um": 260.0 * f,
            },
        ],
        "ddr2": {
            "enabled": True,
            "effects": {"proliferation_gain": PROLIFERATION_GAIN},
        },
        "ecm": {"enabled": True},
        "msc_rules": {"genotype": 1.0},
    }


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run primaries and colonies of the three genotypes; compute the E8 effects."""
    p = dict(ctx.params)
    n = ctx.replicates
    wt = spheroid(float(p["r0_um"]))
    prim = ctx.run(
        {"wt": wt, "slie_het": wt, "slie_hom": slie_host(wt)},
        StromaProbe(),
        hours(float(p["primary_h"])),
        seed_offsets={"slie_het": HET_SEED_OFFSET},
        label="E8 primary",
    )
    col = colony()
    mets = ctx.run(
        {"met_wt": col, "met_slie_het": col, "met_slie_hom": slie_host(col)},
        StromaProbe(),
        hours(24.0 * float(p["colony_days"])),
        seed_offsets={"met_slie_het": HET_SEED_OFFSET},
        label="E8 colonies",
    )
    t = prim.table
    m = mets.table

    def v(table: Any, arm: str, c: str) -> np.ndarray:
        return values(table, arm, c, None, n)

    effects: list[Effect] = []
    for arm in ("slie_hom", "slie_het"):
        pair = arm == "slie_hom"
        for c, label in (("n_cancer", "cell count"), ("tumour_radius_um", "radius")):
            effects.append(
                ratio_effect(
                    f"primary_{c}_{arm}_over_wt",
                    arm,
                    v(t, arm, c),
                    "wt",
                    v(t, "wt", c),
                    f"primary {label} within ±10 % of WT",
                    within(0.9, 1.1),
                    "paired seeds" if pair else "independent seeds",
                    use_pairs=pair,
                )
            )
    effects.append(
        ratio_effect(
            "exits_slie_hom_over_wt",
            "slie_hom",
            v(t, "slie_hom", "expected_exits"),
            "wt",
            v(t, "wt", "expected_exits"),
            "exits per primary lower in slie/slie by 30–80 % (ratio 0.2–0.7) [A]",
            within(0.2, 0.7),
            f"expected exits h₀ × exposure; realized: slie/slie {np.nansum(v(t, 'slie_hom', 'exit_cells_total')):.0f}, "
            f"WT {np.nansum(v(t, 'wt', 'exit_cells_total')):.0f} cells",
        )
    )
    effects.append(
        ratio_effect(
            "exits_slie_het_over_wt",
            "slie_het",
            v(t, "slie_het", "expected_exits"),
            "wt",
            v(t, "wt", "expected_exits"),
            "slie/+ exits within ±15 % of WT [A]",
            within(0.85, 1.15),
            "expected exits, independent seeds",
            use_pairs=False,
        )
    )
    effects.append(
        ratio_effect(
            "colony_size_slie_hom_over_wt",
            "met_slie_hom",
            v(m, "met_slie_hom", "n_cancer"),
            "met_wt",
            v(m, "met_wt", "n_cancer"),
            "mean metastasis size smaller in slie/slie by 20–70 % (ratio 0.3–0.8) [A]",
            within(0.3, 0.8),
            f"live cancer cells after {float(p['colony_days']):g} d, from {COLONY_CELLS}",
        )
    )
    effects.append(
        ratio_effect(
            "colony_size_slie_het_over_wt",
            "met_slie_het",
            v(m, "met_slie_het", "n_cancer"),
            "met_wt",
            v(m, "met_wt", "n_cancer"),
            "slie/+ colony size within ±15 % of WT [A]",
            within(0.85, 1.15),
            "independent seeds",
            use_pairs=False,
        )
    )
    for arm in ("met_wt", "met_slie_hom"):
        effects.append(
            Effect.from_ci(
                f"colony_activity_{arm}",
                arm,
                bootstrap_mean_ci(v(m, arm, "ddr2_activity_cancer")),
                "descriptive: mean cancer-cell A in the colony",
                None,
            )
        )
    batch = prim.extend(mets)
    return (
        batch,
        effects,
        {
            "colony_cells": COLONY_CELLS,
            "msc_enrichment": MSC_ENRICHMENT,
            "proliferation_gain": PROLIFERATION_GAIN,
        },
    )


def figure(result: ExperimentResult) -> Figure:
    """Primary size, exits per primary, colony size by genotype."""
    t = result.table
    n = result.replicates
    fig, axes = new_figure(3)
    labels = ["WT", "slie/+", "slie/slie"]
    panels = (
        (ARMS, "n_cancer", "live cancer cells", "primary tumour"),
        (ARMS, "expected_exits", "expected exits per primary", "exits (h₀ × exposure)"),
        (
            tuple(f"met_{a}" for a in ARMS),
            "n_cancer",
            "live cancer cells",
            "metastatic colony",
        ),
    )
    for ax, (arms_, col, ylabel, title) in zip(axes, panels, strict=True):
        samples = [values(t, a, col, None, n) for a in arms_]
        bar_ci(
            ax, labels, [bootstrap_mean_ci(s) for s in samples], ylabel, title, samples
        )
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=(
        "primary_n_cancer_slie_hom_over_wt",
        "primary_tumour_radius_um_slie_hom_over_wt",
        "primary_n_cancer_slie_het_over_wt",
        "primary_tumour_radius_um_slie_het_over_wt",
        "exits_slie_hom_over_wt",
        "exits_slie_het_over_wt",
        "colony_size_slie_hom_over_wt",
        "colony_size_slie_het_over_wt",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
