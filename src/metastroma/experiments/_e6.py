"""E6 — MSC DDR2 is required for deposition and for cancer-cell DDR2 activation (G4, G5).

Protocol (SCIENCE.md §11 E6): the E5 co-culture (a near-confluent mixed monolayer, MSC :
cancer 1 : 1, no division or apoptosis [A]) on low collagen ρ₀ = 0.1 [A] with the
collagen field simulated (deposition, remodelling, relaxation to ρ₀), 5 days, with
DDR2+ MSCs (δ = 1) or DDR2-null MSCs (δ = 0); and a δ = 0 arm on no collagen (ρ₀ = 0:
the ρ → 0 limit).

Measured daily: mean collagen density in elements within 30 µm of an MSC
(``density_near_msc``), mean cancer-cell D and A.

Pass: density near MSCs higher with δ = 1 (paired CI of the difference excludes 0); mean
cancer A lower with δ = 0 (CI < 0) although D is still contact-induced (δ = 0: mean D −
D₀ CI > 0); A ≈ 0 when ρ → 0 (mean A < 0.01 [A] at ρ₀ = 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    D0,
    Batch,
    RunContext,
    above_zero,
    below_zero,
    diff_effect,
    hours,
    mean_effect,
    merge,
    slie_host,
    stroma_row,
    values,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._e5 import coculture
from metastroma.experiments._figures import PALETTE, line_ci, new_figure, passed_title
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._run import Probe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import TissueSimulation

NAME = "E6"
TITLE = "MSC DDR2 is required for deposition and cancer-cell DDR2 activation"
RHO_LOW = 0.1
A_ZERO = 0.01
ARMS = ("delta1", "delta0", "delta0_rho0")

SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "replicates": 3,
        "n_cancer": 100,
        "n_msc": 100,
        "half_width_um": 140.0,
        "days": 5.0,
    },
    "full": {
        "replicates": 10,
        "n_cancer": 200,
        "n_msc": 200,
        "half_width_um": 200.0,
        "days": 5.0,
    },
}


def arms(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """δ = 1 and δ = 0 on ρ₀ = 0.1; δ = 0 on ρ₀ = 0."""
    base = coculture(int(p["n_cancer"]), int(p["n_msc"]), float(p["half_width_um"]))
    base = merge(
        base,
        {"name": "e6_coculture", "ecm": {"enabled": True, "initial_density": RHO_LOW}},
    )
    return {
        "delta1": base,
        "delta0": slie_host(base),
        "delta0_rho0": merge(slie_host(base), {"ecm": {"initial_density": 0.0}}),
    }


class CollagenProbe(Probe):
    """The metrics row (density near MSCs, mean D and A of cancer cells)."""

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Metrics row now."""
        return stroma_row(sim)


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run the three arms and compute the E6 effects."""
    p = dict(ctx.params)
    days = float(p["days"])
    batch = ctx.run(
        arms(p), CollagenProbe(), hours(*np.arange(24.0, 24.0 * days + 1.0, 24.0))
    )
    t = batch.table
    n = ctx.replicates

    def v(arm: str, col: str) -> np.ndarray:
        return values(t, arm, col, None, n)

    effects = [
        diff_effect(
            "density_near_msc_delta1_minus_delta0",
            "delta1",
            v("delta1", "density_near_msc"),
            "delta0",
            v("delta0", "density_near_msc"),
            "collagen density within 30 µm of MSCs higher with δ = 1 (CI excludes 0)",
            above_zero,
            f"ρ₀ = {RHO_LOW}, day {days:g}",
        ),
        diff_effect(
            "activity_delta0_minus_delta1",
            "delta0",
            v("delta0", "ddr2_activity_cancer"),
            "delta1",
            v("delta1", "ddr2_activity_cancer"),
            "mean cancer-cell A lower with δ = 0 (CI < 0)",
            below_zero,
        ),
        mean_effect(
            "expression_delta0_minus_d0",
            "delta0",
            v("delta0", "ddr2_expression_cancer") - D0,
            "D still contact-induced with δ = 0: mean D − D₀ CI > 0",
            above_zero,
        ),
        mean_effect(
            "activity_rho0",
            "delta0_rho0",
            v("delta0_rho0", "ddr2_activity_cancer"),
            f"A ≈ 0 when ρ → 0: mean A < {A_ZERO} [A] at ρ₀ = 0",
            lambda ci: math.isfinite(ci.estimate) and ci.estimate < A_ZERO,
        ),
        diff_effect(
            "expression_delta0_minus_delta1",
            "delta0",
            v("delta0", "ddr2_expression_cancer"),
            "delta1",
            v("delta1", "ddr2_expression_cancer"),
            "descriptive",
            None,
        ),
        mean_effect(
            "density_mean_delta1",
            "delta1",
            v("delta1", "density_mean"),
            "descriptive",
            None,
            "mean density of the whole field",
        ),
    ]
    return batch, effects, {"rho_low": RHO_LOW}


def figure(result: ExperimentResult) -> Figure:
    """Density near MSCs, mean A and mean D over the 5 days."""
    t = result.table
    n = result.replicates
    fig, axes = new_figure(3)
    times = sorted(t["t_min"].unique())
    days = [x / 1440 for x in times]
    for ax, col, label in zip(
        axes,
        ("density_near_msc", "ddr2_activity_cancer", "ddr2_expression_cancer"),
        (
            "collagen density ρ within 30 µm of MSCs",
            "mean cancer-cell DDR2 activity A",
            "mean cancer-cell DDR2 expression D",
        ),
        strict=True,
    ):
        for i, arm in enumerate(ARMS):
            line_ci(
                ax, days, [values(t, arm, col, x, n) for x in times], arm, PALETTE[i]
            )
        ax.set_xlabel("time (days)")
        ax.set_ylabel(f"{label} (normalised)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[2].axhline(D0, color="grey", ls="--", lw=1)
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=(
        "density_near_msc_delta1_minus_delta0",
        "activity_delta0_minus_delta1",
        "expression_delta0_minus_d0",
        "activity_rho0",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
