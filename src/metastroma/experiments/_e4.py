"""E4 — shedding rate and the DDR2 dependence of intravasation (Butler & Gullino 1975).

Protocol (SCIENCE.md §11 E4, §5.6): calibrate the doorway hazard h₀ once on the WT
reference tumour, never on a knockout arm: run WT with h₀_used (the default 1e-4 /min,
seeds offset by 10 000 so the fit is out of sample) and set

    h₀_fit = h̄ × Σ cancer_cell_min / Σ exposure_min,   h̄ = 2.2e-6 /cell/min,

because the expected number of exit events is h₀ × exposure_min (``ExitCounters``:
exposure = Σ Δt Σ h_i/h₀ over cells at doorways). Then run WT, cancer-KO and slie host
with h₀_fit (common seeds). The WT reference (R₀ = 175 µm, 20 doorways/mm², 48 h); 'small'
runs the same tumour for 24 h.

At the calibrated rate a 48-h run sheds only a few cells (≈ 2.2e-6 × 10⁶ cell·min ≈ 3),
so two estimators are reported for every arm: the **realized** exits per cancer
cell-minute (counts, honest but Poisson-noisy) and the **expected** exits per cancer
cell-minute, h₀ × exposure / cell-minutes: the conditional expectation of the count given
each run's trajectory (same mean, far less noise). To see whether exits are more frequent
where a cos²ψ is high, a WT arm with h₀ × 30 (``wt_h0x30``; labelled: more events, same
hazard shape) records, for every cancer cell at a doorway and every phenotype step, its
a cos²ψ in bins < 0.05, 0.05–0.2, ≥ 0.2 (a the anisotropy of its element, ψ the angle
between the fibre and the direction to the doorway, as the hazard kernel computes it),
and the exits by the leader's a cos²ψ.

Pass: WT tumour-average exit rate (cells per cancer cell-minute) within 0.3–3 × 2.2e-6;
cancer-KO and slie host give fewer exits per cancer cell than WT (non-overlapping 95 %
CIs, realized and expected); the exit rate at doorways is higher for a cos²ψ ≥ 0.2 than
for a cos²ψ < 0.05 (ratio CI > 1). With common seeds the arms are also compared replicate
by replicate (paired ratio of expected rates CI < 1), the comparison the design allows; the
non-overlap of two unpaired CIs also carries the doorway-placement variance.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    SHEDDING_TARGET_PER_MIN,
    Batch,
    RunContext,
    cancer_ko,
    hours,
    merge,
    slie_host,
    spheroid,
    stroma_row,
    values,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._figures import PALETTE, bar_ci, new_figure, passed_title
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._run import Probe
from metastroma.experiments._stats import CI, bootstrap_contrast_ci, bootstrap_stat_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import BlockReport, TissueSimulation

NAME = "E4"
TITLE = "Shedding rate and DDR2 dependence of intravasation"
FIT_SEED_OFFSET = 10_000
BOOST = 30.0
#: a cos²ψ bins: low [0, 0.05), mid [0.05, 0.2), high [0.2, 1] (fixed; the tissue's
#: anisotropy is mostly 0.1–0.5, so a cos²ψ ≥ 0.5 is too rare to count exits in).
ACOS2_BINS = (0.0, 0.05, 0.2, 1.0 + 1e-12)
BIN_NAMES = ("low", "mid", "high")
EVAL_ARMS = ("wt", "cancer_ko", "slie")

SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "replicates": 3,
        "fit_replicates": 2,
        "boost_replicates": 3,
        "duration_h": 24.0,
    },
    "full": {
        "replicates": 10,
        "fit_replicates": 5,
        "boost_replicates": 20,
        "duration_h": 48.0,
    },
}


def with_hazard(data: dict[str, Any], h0: float) -> dict[str, Any]:
    """The scenario with doorway hazard h₀."""
    return merge(data, {"intravasation": {"base_hazard_per_min": h0}})


class DoorwayProbe(Probe):
    """Metrics row plus exposure and exits at doorways binned by a cos²ψ."""

    def __init__(self) -> None:
        self.cell_min = np.zeros(len(BIN_NAMES))
        self.exits = np.zeros(len(BIN_NAMES))
        self.at_door_min = 0.0
        self._pending = np.zeros(len(BIN_NAMES))
        self.cluster_cells = 0.0

    def _snapshot(self, sim: TissueSimulation) -> np.ndarray:
        """Cell-minutes at doorways per bin for the next phenotype step."""
        from metastroma.config import CellKind
        from metastroma.kernels import LIVE

        out = np.zeros(len(BIN_NAMES))
        doors = sim.doors
        f = sim.ecm
        if doors.shape[0] == 0 or f is None:
            return out
        c = sim.cells
        m = (c.live("kind") == CellKind.CANCER) & (c.live("state") == LIVE)
        pos = c.live("pos_um")[m][:, :2]
        if pos.shape[0] == 0:
            return out
        cap = sim.scenario.intravasation.capture_radii * c.live("radius_um")[m]
        d = doors[None, :, :] - pos[:, None, :]
        d2 = np.einsum("ijk,ijk->ij", d, d)
        best = np.argmin(d2, axis=1)
        near = d2[np.arange(pos.shape[0]), best] < cap**2
        if not near.any():
            return out
        el = sim.backend.elements_of_cells(
            c["pos_um"], c.n_live, f.lower_um, f.element_um, f.shape
        )[: c.n_live][m][near]
        u = d[np.flatnonzero(near), best[near]]
        un = np.linalg.norm(u, axis=1)
        fxy = np.einsum("ij,ij->i", f.fibre[el][:, :2], u)
        cos2 = np.where(un > 1e-12, (fxy / np.where(un > 1e-12, un, 1.0)) ** 2, 1.0)
        x = f.aniso[el] * cos2
        k = np.clip(
            np.searchsorted(ACOS2_BINS, x, side="right") - 1, 0, len(BIN_NAMES) - 1
        )
        dt = sim.scenario.time.dt_phenotype_min
        np.add.at(out, k, dt)
        return out

    def start(self, sim: TissueSimulation) -> None:
        """Exposure of the first phenotype step."""
        self._pending = self._snapshot(sim)

    def after_block(self, sim: TissueSimulation, report: BlockReport) -> None:
        """Book the block's exposure and exits, then snapshot the next step's exposure."""
        self.cell_min += self._pending
        for ev in report.events:
            a = float(ev.get("ecm_anisotropy", math.nan))
            psi = float(ev.get("psi_deg", math.nan))
            x = (
                a * math.cos(math.radians(psi)) ** 2
                if math.isfinite(a) and math.isfinite(psi)
                else 0.0
            )
            k = int(
                np.clip(
                    np.searchsorted(ACOS2_BINS, x, side="right") - 1,
                    0,
                    len(BIN_NAMES) - 1,
                )
            )
            self.exits[k] += 1.0
            self.cluster_cells += float(ev.get("cluster_size", 1))
        self._pending = self._snapshot(sim)

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Metrics row and the binned doorway tallies."""
        row = stroma_row(sim)
        for k, name in enumerate(BIN_NAMES):
            row[f"door_cell_min_{name}"] = float(self.cell_min[k])
            row[f"door_exits_{name}"] = float(self.exits[k])
        row["door_cell_min_total"] = float(self.cell_min.sum())
        return row


def _pooled_rate(num: np.ndarray, den: np.ndarray) -> CI:
    """Σ num / Σ den over replicates, bootstrap over replicates (paired)."""
    ok = np.isfinite(num) & np.isfinite(den)

    def stat(a: np.ndarray, b: np.ndarray) -> float:
        s = float(b.sum())
        return float(a.sum()) / s if s > 0 else math.nan

    return bootstrap_stat_ci([num[ok], den[ok]], stat, paired=True, method="percentile")


def _fewer(name: str, arm: str, ko: CI, wt: CI, kind: str, counts: str) -> Effect:
    ratio = ko.estimate / wt.estimate if wt.estimate else math.nan
    passed = bool(ko.estimate < wt.estimate and not ko.overlaps(wt))
    return Effect(
        name,
        f"{arm} vs wt",
        ratio,
        math.nan,
        math.nan,
        f"{arm} fewer {kind} exits per cancer cell than WT (non-overlapping 95 % CIs)",
        passed,
        f"ratio of rates; {arm} {ko.estimate:.3g} [{ko.low:.3g}, {ko.high:.3g}], wt "
        f"{wt.estimate:.3g} [{wt.low:.3g}, {wt.high:.3g}] /cell/min; {counts}",
    )


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Fit h₀ on WT, run the arms with it, compute the E4 effects."""
    p = dict(ctx.params)
    dur = float(p["duration_h"])
    times = hours(dur)
    wt = spheroid()
    from metastroma.config.stroma import IntravasationConfig

    default_h0 = IntravasationConfig().base_hazard_per_min
    h0_used = float(wt["intravasation"].get("base_hazard_per_min", default_h0))
    n_fit = int(p["fit_replicates"])
    fit = ctx.run(
        {"fit_wt": with_hazard(wt, h0_used)},
        DoorwayProbe(),
        times,
        replicates=n_fit,
        seed_offsets={"fit_wt": FIT_SEED_OFFSET},
        label="E4 fit",
    )
    ft = fit.table
    cmin = values(ft, "fit_wt", "cancer_cell_min_total", None, n_fit)
    expo = values(ft, "fit_wt", "door_exposure_min_total", None, n_fit)
    ok = np.isfinite(cmin) & np.isfinite(expo)
    if not ok.any() or float(expo[ok].sum()) <= 0:
        h0_fit = math.nan
    else:
        h0_fit = SHEDDING_TARGET_PER_MIN * float(cmin[ok].sum()) / float(expo[ok].sum())
    door_min = values(ft, "fit_wt", "door_cell_min_total", None, n_fit)
    f_door = float(door_min[ok].sum() / cmin[ok].sum()) if ok.any() else math.nan
    extra: dict[str, Any] = {
        "h0_used_per_min": h0_used,
        "h0_fit_per_min": h0_fit,
        "f_door": f_door,
        "boost": BOOST,
        "target_per_min": SHEDDING_TARGET_PER_MIN,
    }
    if not math.isfinite(h0_fit):
        failed = [
            Effect(
                "h0_fit",
                "fit_wt",
                h0_fit,
                math.nan,
                math.nan,
                "h₀ fitted on WT",
                False,
                "fit failed",
            )
        ]
        return fit, failed, extra
    wt_fit = with_hazard(wt, h0_fit)
    arms = {"wt": wt_fit, "cancer_ko": cancer_ko(wt_fit), "slie": slie_host(wt_fit)}
    batch = ctx.run(arms, DoorwayProbe(), times, label="E4 arms")
    n_boost = int(p["boost_replicates"])
    boost = ctx.run(
        {"wt_h0x30": with_hazard(wt, h0_fit * BOOST)},
        DoorwayProbe(),
        times,
        replicates=n_boost,
        label="E4 boosted",
    )
    allb = fit.extend(batch).extend(boost)
    t = batch.table
    n = ctx.replicates
    cm = {a: values(t, a, "cancer_cell_min_total", None, n) for a in EVAL_ARMS}
    cells = {a: values(t, a, "exit_cells_total", None, n) for a in EVAL_ARMS}
    events = {a: values(t, a, "exit_events_total", None, n) for a in EVAL_ARMS}
    expected = {a: values(t, a, "expected_exits", None, n) for a in EVAL_ARMS}
    rate_cells = {a: _pooled_rate(cells[a], cm[a]) for a in EVAL_ARMS}
    rate_events = {a: _pooled_rate(events[a], cm[a]) for a in EVAL_ARMS}
    rate_exp = {a: _pooled_rate(expected[a], cm[a]) for a in EVAL_ARMS}
    w = rate_cells["wt"]
    effects: list[Effect] = [
        Effect(
            "wt_rate_vs_target",
            "wt",
            w.estimate / SHEDDING_TARGET_PER_MIN,
            w.low / SHEDDING_TARGET_PER_MIN,
            w.high / SHEDDING_TARGET_PER_MIN,
            "WT tumour-average exit rate (cells/cancer cell/min) within 0.3–3 × 2.2e-6",
            bool(
                math.isfinite(w.estimate)
                and 0.3 <= w.estimate / SHEDDING_TARGET_PER_MIN <= 3.0
            ),
            f"fold of the target; {np.nansum(cells['wt']):.0f} cells in {np.nansum(events['wt']):.0f} "
            f"events over {np.nansum(cm['wt']):.3g} cell·min; h₀_fit = {h0_fit:.3g} /min",
        ),
    ]
    for arm in ("cancer_ko", "slie"):
        counts = f"counts: {arm} {np.nansum(events[arm]):.0f} events, wt {np.nansum(events['wt']):.0f}"
        effects.append(
            _fewer(
                f"{arm}_fewer_exits_realized",
                arm,
                rate_events[arm],
                rate_events["wt"],
                "realized",
                counts,
            )
        )
        effects.append(
            _fewer(
                f"{arm}_fewer_exits_expected",
                arm,
                rate_exp[arm],
                rate_exp["wt"],
                "expected (h₀ × exposure)",
                counts,
            )
        )
        ci = bootstrap_contrast_ci(
            expected[arm] / cm[arm],
            expected["wt"] / cm["wt"],
            kind="ratio",
            paired=True,
        )
        effects.append(
            Effect.from_ci(
                f"{arm}_fewer_exits_paired",
                f"{arm} / wt",
                ci,
                f"{arm} fewer expected exits per cancer cell than WT, replicate by "
                "replicate (common seeds: same cells and doorways): paired ratio CI < 1",
                bool(math.isfinite(ci.high) and ci.high < 1.0),
                "ratio of expected exit rates, paired bootstrap",
            )
        )
    bt = boost.table
    num = {
        k: values(bt, "wt_h0x30", f"door_exits_{k}", None, n_boost) for k in BIN_NAMES
    }
    den = {
        k: values(bt, "wt_h0x30", f"door_cell_min_{k}", None, n_boost)
        for k in BIN_NAMES
    }

    def rate_ratio(
        eh: np.ndarray, ch: np.ndarray, el: np.ndarray, cl: np.ndarray
    ) -> float:
        sh, sl = float(ch.sum()), float(cl.sum())
        if sh <= 0 or sl <= 0 or float(el.sum()) <= 0:
            return math.nan
        return (float(eh.sum()) / sh) / (float(el.sum()) / sl)

    ci = bootstrap_stat_ci(
        [num["high"], den["high"], num["low"], den["low"]],
        rate_ratio,
        paired=True,
        method="percentile",
    )
    tot = {k: float(np.nansum(num[k])) for k in BIN_NAMES}
    effects.append(
        Effect.from_ci(
            "exit_rate_high_vs_low_acos2",
            "wt_h0x30: a cos²ψ ≥ 0.2 vs < 0.05",
            ci,
            "exits per cell-minute at doorways higher where a cos²ψ is high (ratio CI > 1)",
            bool(math.isfinite(ci.low) and ci.low > 1.0),
            "events by bin "
            + ", ".join(f"{k} {tot[k]:.0f}" for k in BIN_NAMES)
            + f"; h₀ × {BOOST:g}",
        )
    )
    effects.append(
        Effect(
            "f_door",
            "fit_wt",
            f_door,
            math.nan,
            math.nan,
            "descriptive: fraction of cancer cell-minutes within one diameter of a doorway",
            None,
            "SCIENCE.md §5.6 prior 0.5–5 %",
        )
    )
    effects.append(
        Effect(
            "h0_fit_per_min",
            "fit_wt",
            h0_fit,
            math.nan,
            math.nan,
            "descriptive: fitted doorway hazard (SCIENCE.md Table 5.4 range 4.4e-5–4.4e-4 /min)",
            None,
            f"{n_fit} WT replicates at h₀ = {h0_used:g}",
        )
    )
    return allb, effects, extra


def figure(result: ExperimentResult) -> Figure:
    """Exit rates by arm (realized and expected), rate by a cos²ψ bin."""
    t = result.table
    n = result.replicates
    fig, (a1, a2, a3) = new_figure(3, 4.4, 3.8)
    target = SHEDDING_TARGET_PER_MIN
    for ax, col, label in (
        (a1, "exit_cells_total", "realized (cells)"),
        (a2, "expected_exits", "expected (h₀ × exposure)"),
    ):
        cis, pts = [], []
        for arm in EVAL_ARMS:
            num = values(t, arm, col, None, n)
            den = values(t, arm, "cancer_cell_min_total", None, n)
            ci = _pooled_rate(num, den)
            cis.append(
                CI(ci.estimate * 1e6, ci.low * 1e6, ci.high * 1e6, ci.n, ci.method)
            )
            pts.append(num / den * 1e6)
        bar_ci(
            ax,
            list(EVAL_ARMS),
            cis,
            "exits per cancer cell per min (×10⁻⁶)",
            label,
            pts,
        )
        ax.axhline(target * 1e6, color="k", ls=":", lw=1)
        ax.text(2.3, target * 1e6, " target", fontsize=8, va="bottom")
    nb = int(result.params.get("boost_replicates", n))
    rates, lows, highs = [], [], []
    for k in BIN_NAMES:
        e = values(t, "wt_h0x30", f"door_exits_{k}", None, nb)
        c = values(t, "wt_h0x30", f"door_cell_min_{k}", None, nb)
        ci = _pooled_rate(e, c)
        rates.append(ci.estimate * 1e3)
        lows.append(ci.low * 1e3)
        highs.append(ci.high * 1e3)
    x = np.arange(len(BIN_NAMES))
    est = np.array(rates)
    err = np.vstack(
        [np.nan_to_num(est - np.array(lows)), np.nan_to_num(np.array(highs) - est)]
    )
    a3.bar(x, np.nan_to_num(est), color=PALETTE[3], alpha=0.8)
    a3.errorbar(x, est, yerr=np.clip(err, 0, None), fmt="none", ecolor="k", capsize=4)
    a3.set_xticks(x)
    a3.set_xticklabels(["a cos²ψ < 0.05", "0.05–0.2", "≥ 0.2"], fontsize=8)
    a3.set_ylabel("exits per cell-minute at a doorway (×10⁻³)")
    a3.set_title(f"WT, h₀ × {BOOST:g}: hazard vs fibre orientation", fontsize=10)
    a3.grid(axis="y", alpha=0.3)
    crit = result.criteria
    passed_title(fig, result.name, TITLE, sum(bool(e.passed) for e in crit), len(crit))
    fig.tight_layout()
    return fig


DEFINITION = definition(
    name=NAME,
    title=TITLE,
    description=__doc__ or "",
    criteria=(
        "wt_rate_vs_target",
        "cancer_ko_fewer_exits_realized",
        "cancer_ko_fewer_exits_expected",
        "slie_fewer_exits_realized",
        "slie_fewer_exits_expected",
        "cancer_ko_fewer_exits_paired",
        "slie_fewer_exits_paired",
        "exit_rate_high_vs_low_acos2",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
