"""E2 — contact guidance changes direction, not speed (Riching 2014, Ray 2017, Carey 2016).

Protocol (SCIENCE.md §11 E2): 200 isolated cancer cells (no cell–cell forces, no division,
no death) on fixed collagen fields (remodelling off), ρ = 0.5 (full speed, h(ρ) = 1):
random directors with a = 0, or aligned a = 1 along f = x̂. DDR2 is off (A = 0) and the
guidance sensitivity is set through s₀: s = 1 (``guidance_sensitivity_off: 1.0``, the A = 1
limit) or s = 0.2 (s₀, A = 0). Persistence gain from alignment g_γ = 1 (default, Riching's
persistence gain) or 0 (Ray's unchanged motility). 6-h tracks sampled every 6 min.

Arms: ``random_s1``, ``aligned_s1``, ``aligned_s02`` (g_γ = 1) and ``random_s1_g0``,
``aligned_s1_g0`` (g_γ = 0).

Measured per replicate: mean instantaneous speed |m| (µm/min); the time-averaged MSD along
x and y at lags 0.5–6 h (µm²); the long-time slope of the total MSD, a least-squares line
through lags 1–3 h (µm²/min).

Pass: speed ratio aligned/random 1.0 ± 0.1 (normalised mode); MSD along/across f at 1 h
≥ 5 at s = 1 and ≤ 1.5 at s = 0.2; long-time MSD ratio (slopes) aligned/random within 10 %
of 1 + g_γ (2 for g_γ = 1, 1 for g_γ = 0); on the random field the MSD at 1 h and 3 h within
5 % of the persistent-walk formula 2 v² T [t − T(1 − e^{−t/T})] with the effective
persistence T = −Δt/ln(1 − Δt/T_p) (§1.3; on a = 0 the alignment gain is 1 + g_γ·0 = 1).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    Batch,
    RunContext,
    mean_effect,
    nanmean,
    ratio_effect,
    values,
    within,
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
from metastroma.experiments._stats import bootstrap_contrast_ci, bootstrap_mean_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import BlockReport, TissueSimulation

NAME = "E2"
TITLE = "Contact guidance changes direction, not speed"
TRACK_H = 6.0
LAGS_MIN = tuple(range(30, 361, 30))
SLOPE_LAGS_MIN = (60.0, 180.0)
SPEED_UM_PER_MIN = 0.3
PERSISTENCE_MIN = 15.0
DT_MECH_MIN = 0.1

SIZES: dict[str, dict[str, Any]] = {
    "small": {"replicates": 4, "n_cells": 400},
    "full": {"replicates": 10, "n_cells": 200},
}


def field_scenario(
    aligned: bool, s: float, g_gamma: float, n_cells: int
) -> dict[str, Any]:
    """Isolated cells on a fixed random (a = 0) or aligned (a = 1, f = x̂) field."""
    return {
        "name": "e2_" + ("aligned" if aligned else "random"),
        "description": "E2: isolated cells on a fixed collagen field.",
        "domain": {
            "lower_um": [-1000, -1000],
            "upper_um": [1000, 1000],
            "voxel_um": 20,
        },
        "time": {"dt_mechanics_min": DT_MECH_MIN},
        "oxygen": {"enabled": False},
        "cell_types": {
            "cancer": {
                "mechanics": {"repulsion_um_per_min": 0.0, "adhesion_um_per_min": 0.0},
                "motility": {
                    "speed_um_per_min": SPEED_UM_PER_MIN,
                    "persistence_min": PERSISTENCE_MIN,
                },
                "cycle": {"model": "none"},
                "death": {"apoptosis_per_min": 0.0, "necrosis": "off"},
            }
        },
        "initial_cells": [
            {"kind": "cancer", "shape": "ball", "n_cells": n_cells, "radius_um": 700}
        ],
        "ddr2": {
            "enabled": False,
            "effects": {
                "guidance_sensitivity_off": s,
                "alignment_persistence_gain": g_gamma,
            },
        },
        "ecm": {
            "enabled": True,
            "remodelling": "off",
            "initial_density": 0.5,
            "initial_anisotropy": 1.0 if aligned else 0.0,
            "baseline_anisotropy": 1.0 if aligned else 0.0,
            "initial_orientation": "angle" if aligned else "random",
            "orientation_angle_deg": 0.0,
            "wrapping": False,
        },
    }


def arms(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The five field × sensitivity × g_γ arms."""
    n = int(p["n_cells"])
    return {
        "random_s1": field_scenario(False, 1.0, 1.0, n),
        "aligned_s1": field_scenario(True, 1.0, 1.0, n),
        "aligned_s02": field_scenario(True, 0.2, 1.0, n),
        "random_s1_g0": field_scenario(False, 1.0, 0.0, n),
        "aligned_s1_g0": field_scenario(True, 1.0, 0.0, n),
    }


class TrackProbe(Probe):
    """Positions every block (by cell id); speed, MSD along x / y and the MSD slope."""

    def __init__(self) -> None:
        self.ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self.track: list[np.ndarray] = []
        self.speeds: list[float] = []

    def _positions(self, sim: TissueSimulation) -> np.ndarray:
        c = sim.cells
        ids = c.live("cell_id")
        order = np.argsort(ids)
        if not np.array_equal(ids[order], self.ids):
            raise RuntimeError("E2: the set of cells changed during the track")
        return np.asarray(c.live("pos_um")[order], dtype=np.float64).copy()

    def start(self, sim: TissueSimulation) -> None:
        """Record the cells and their initial positions."""
        self.ids = np.sort(sim.cells.live("cell_id"))
        self.track = [self._positions(sim)]

    def after_block(self, sim: TissueSimulation, report: BlockReport) -> None:
        """Append positions and the mean instantaneous speed |m|."""
        self.track.append(self._positions(sim))
        m = sim.cells.live("motility_um_per_min")
        self.speeds.append(float(np.linalg.norm(m, axis=1).mean()))

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Speed, time-averaged MSD along x and y at :data:`LAGS_MIN`, long-time slope."""
        xy = np.stack(self.track)  # (n_t, n_cells, 2)
        dt = sim.scenario.time.dt_phenotype_min
        row: dict[str, float] = {"speed_um_per_min": float(np.mean(self.speeds))}
        lag_steps = np.arange(1, xy.shape[0])
        msd_x = np.array(
            [np.mean((xy[k:, :, 0] - xy[:-k, :, 0]) ** 2) for k in lag_steps]
        )
        msd_y = np.array(
            [np.mean((xy[k:, :, 1] - xy[:-k, :, 1]) ** 2) for k in lag_steps]
        )
        lag_min = lag_steps * dt
        for lag in LAGS_MIN:
            k = round(lag / dt) - 1
            if 0 <= k < msd_x.size:
                row[f"msd_x_{lag:03d}min"] = float(msd_x[k])
                row[f"msd_y_{lag:03d}min"] = float(msd_y[k])
        sel = (lag_min >= SLOPE_LAGS_MIN[0] - 1e-9) & (
            lag_min <= SLOPE_LAGS_MIN[1] + 1e-9
        )
        slope = (
            np.polyfit(lag_min[sel], (msd_x + msd_y)[sel], 1)[0]
            if sel.sum() >= 2
            else math.nan
        )
        row["msd_slope_um2_per_min"] = float(slope)
        return row


def formula_msd(lag_min: float, persistence_min: float) -> float:
    """Persistent-walk MSD (µm²) at ``lag_min`` with the discrete rule's effective T."""
    from metastroma.tissue.motility import (
        effective_persistence_min,
        persistent_walk_msd_um2,
    )

    t_eff = effective_persistence_min(persistence_min, DT_MECH_MIN)
    return float(
        persistent_walk_msd_um2(np.array([lag_min]), SPEED_UM_PER_MIN, t_eff)[0]
    )


def _anisotropy_effect(
    name: str, arm: str, t: Any, n: int, criterion: str, test: Any
) -> Effect:
    """MSD along / across at 1 h (inf when the across MSD is exactly 0)."""
    x = values(t, arm, "msd_x_060min", None, n)
    y = values(t, arm, "msd_y_060min", None, n)
    if np.isfinite(y).any() and nanmean(y) == 0.0:
        est = math.inf
        return Effect(
            name,
            f"{arm}: along / across",
            est,
            math.inf,
            math.inf,
            criterion,
            bool(test(est)),
            "across-f MSD is exactly 0 (γ = 1 projects motion onto ±f)",
        )
    ci = bootstrap_contrast_ci(x, y, kind="ratio", paired=True)
    return Effect.from_ci(
        name,
        f"{arm}: along / across",
        ci,
        criterion,
        bool(test(ci.estimate)),
        "MSD_x / MSD_y at lag 1 h",
    )


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run the five arms and compute the E2 effects."""
    batch = ctx.run(arms(dict(ctx.params)), TrackProbe(), (TRACK_H * 60.0,))
    t = batch.table
    n = ctx.replicates

    def v(arm: str, col: str) -> np.ndarray:
        return values(t, arm, col, None, n)

    effects = [
        ratio_effect(
            "speed_ratio_aligned_random",
            "aligned_s1",
            v("aligned_s1", "speed_um_per_min"),
            "random_s1",
            v("random_s1", "speed_um_per_min"),
            "instantaneous speed ratio aligned/random 1.0 ± 0.1 (normalised mode)",
            within(0.9, 1.1),
            "s = 1",
        ),
        _anisotropy_effect(
            "msd_along_across_s1",
            "aligned_s1",
            t,
            n,
            "MSD along/across f ≥ 5 at s = 1",
            lambda e: (math.isfinite(e) and e >= 5.0) or e == math.inf,
        ),
        _anisotropy_effect(
            "msd_along_across_s02",
            "aligned_s02",
            t,
            n,
            "MSD along/across f ≤ 1.5 at s = 0.2",
            lambda e: math.isfinite(e) and e <= 1.5,
        ),
        ratio_effect(
            "long_time_ratio_g1",
            "aligned_s1",
            v("aligned_s1", "msd_slope_um2_per_min"),
            "random_s1",
            v("random_s1", "msd_slope_um2_per_min"),
            "long-time MSD ratio aligned/random within 10 % of 1 + g_γ = 2 (Riching 2014)",
            within(1.8, 2.2),
            "slopes of MSD over lags 1–3 h, g_γ = 1",
        ),
        ratio_effect(
            "long_time_ratio_g0",
            "aligned_s1_g0",
            v("aligned_s1_g0", "msd_slope_um2_per_min"),
            "random_s1_g0",
            v("random_s1_g0", "msd_slope_um2_per_min"),
            "long-time MSD ratio aligned/random within 10 % of 1 + g_γ = 1 (Ray 2017)",
            within(0.9, 1.1),
            "slopes of MSD over lags 1–3 h, g_γ = 0",
        ),
    ]
    for lag in (60, 180):
        ref = formula_msd(float(lag), PERSISTENCE_MIN)
        msd = v("random_s1", f"msd_x_{lag:03d}min") + v(
            "random_s1", f"msd_y_{lag:03d}min"
        )
        effects.append(
            mean_effect(
                f"random_msd_vs_formula_{lag // 60}h",
                "random_s1",
                msd / ref - 1.0,
                f"random-field MSD at {lag // 60} h within 5 % of the persistent walk (§1.3)",
                within(-0.05, 0.05),
                f"relative deviation; formula {ref:.0f} µm² (T_eff from T_p = {PERSISTENCE_MIN:g} min)",
            )
        )
    for arm in ("aligned_s02", "random_s1_g0"):
        effects.append(
            ratio_effect(
                f"speed_ratio_{arm}",
                arm,
                v(arm, "speed_um_per_min"),
                "random_s1",
                v("random_s1", "speed_um_per_min"),
                "descriptive",
                None,
            )
        )
    return batch, effects, {}


def figure(result: ExperimentResult) -> Figure:
    """Speeds by arm; MSD along and across f vs lag; random-field MSD vs the formula."""
    t = result.table
    n = result.replicates
    fig, (a1, a2, a3) = new_figure(3)
    arm_names = [
        "random_s1",
        "aligned_s1",
        "aligned_s02",
        "random_s1_g0",
        "aligned_s1_g0",
    ]
    sp = [values(t, a, "speed_um_per_min", None, n) for a in arm_names]
    bar_ci(
        a1,
        arm_names,
        [bootstrap_mean_ci(s) for s in sp],
        "mean speed |m| (µm/min)",
        "instantaneous speed",
        sp,
    )
    a1.set_ylim(0, SPEED_UM_PER_MIN * 1.3)
    lags = np.array(LAGS_MIN, dtype=float)
    styles = [("aligned_s1", 0), ("aligned_s02", 2), ("random_s1", 1)]
    for arm, ci in styles:
        xs = [values(t, arm, f"msd_x_{lag:03d}min", None, n) for lag in LAGS_MIN]
        ys = [values(t, arm, f"msd_y_{lag:03d}min", None, n) for lag in LAGS_MIN]
        line_ci(a2, lags / 60, xs, f"{arm}: along f (x)", PALETTE[ci], "o")
        line_ci(a2, lags / 60, ys, f"{arm}: across f (y)", PALETTE[ci], "x")
    a2.set_xlabel("lag (h)")
    a2.set_ylabel("MSD per axis (µm²)")
    a2.set_title("MSD along and across the fibres", fontsize=10)
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3)
    tot = [
        values(t, "random_s1", f"msd_x_{lag:03d}min", None, n)
        + values(t, "random_s1", f"msd_y_{lag:03d}min", None, n)
        for lag in LAGS_MIN
    ]
    line_ci(a3, lags / 60, tot, "random field, simulated", PALETTE[0])
    tot_al = [
        values(t, "aligned_s1", f"msd_x_{lag:03d}min", None, n)
        + values(t, "aligned_s1", f"msd_y_{lag:03d}min", None, n)
        for lag in LAGS_MIN
    ]
    line_ci(a3, lags / 60, tot_al, "aligned, s = 1, simulated", PALETTE[1])
    fine = np.linspace(0, 360, 200)
    a3.plot(
        fine / 60,
        [formula_msd(x, PERSISTENCE_MIN) if x > 0 else 0 for x in fine],
        "k--",
        lw=1,
        label="persistent walk, T_p",
    )
    a3.plot(
        fine / 60,
        [formula_msd(x, 2 * PERSISTENCE_MIN) if x > 0 else 0 for x in fine],
        "k:",
        lw=1,
        label="persistent walk, 2 T_p",
    )
    a3.set_xlabel("lag (h)")
    a3.set_ylabel("total MSD (µm²)")
    a3.set_title("MSD vs the persistent-walk formula", fontsize=10)
    a3.legend(fontsize=7)
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
        "speed_ratio_aligned_random",
        "msd_along_across_s1",
        "msd_along_across_s02",
        "long_time_ratio_g1",
        "long_time_ratio_g0",
        "random_msd_vs_formula_1h",
        "random_msd_vs_formula_3h",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
