"""E1 — TACS-3 at invasive sectors; radial orientation; its time scale (Provenzano 2006).

Protocol (SCIENCE.md §11 E1): the 2D WT spheroid (R₀ = 175 µm, 390 cancer cells) with
DDR2+ MSCs (1 : 10, ring 150–260 µm) in random collagen (ρ = 0.5), 48 h; control:
cancer-KO without MSCs. 'small' scales the tumour to R₀ = 100 µm (127 cells, 13 MSCs;
everything else as the reference).

Measured hourly: the metrics row (``measure_stroma``), the mean anisotropy a of the first
band of elements outside the edge (0–20 µm) and the invading fraction. At 8, 24 and 48 h:
- per 30° sector around the tumour centre, whether it holds an invading cell (a cancer
  cell > 20 µm beyond the edge, ``measure.invasion_threshold_um``); the β histogram
  (fibre-to-tangent angle, 10° bins, weights ρ a: the collagen's aligned part) of the
  boundary-band elements (0–40 µm) in invasive and in other sectors, and their TACS-3
  fractions (β > 60°);
- P_rad(r) = ⟨cos 2(θ_e − θ_radial)⟩ (unweighted, θ_radial from the tumour centre,
  §6.3) over elements at distance r outside the edge, in 20-µm shells out to 300 µm.

Derived: the β mode of the replicate-mean histogram of invasive sectors; invasion onset
= the first hour with ≥ 2 % of cancer cells invading [A], and the largest first-band a in
[onset + 4 h, onset + 12 h]; the reach of P_rad > 0.2 (outer edge of the last shell of the
unbroken run of shells from the edge with P_rad > 0.2) of the replicate-mean profile,
counted from the tumour centre (edge radius + reach).

Pass: β mode of invasive sectors at 24 h within 90° ± 15° (mode bin centre 75° or 85°);
first-band a ≥ 0.5 within 4–12 h of invasion onset (τ_a ≈ 8 h); P_rad > 0.2 out to ≥ 2 R₀
from the centre in WT at 48 h [A]; the control's reach significantly shorter (WT − control
CI > 0).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from metastroma.experiments._common import (
    R0_UM,
    Batch,
    RunContext,
    above_zero,
    cancer_ko,
    diff_effect,
    hours,
    mean_effect,
    nanmean,
    spheroid,
    stroma_row,
    values,
    without_msc,
)
from metastroma.experiments._definition import definition
from metastroma.experiments._figures import (
    PALETTE,
    line_ci,
    new_figure,
    passed_title,
)
from metastroma.experiments._result import Effect, ExperimentResult
from metastroma.experiments._run import Probe
from metastroma.experiments._stats import bootstrap_mean_ci, bootstrap_stat_ci

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.tissue.simulation import TissueSimulation

NAME = "E1"
TITLE = "TACS-3 at invasive sectors; radial orientation; time scale"
PROFILE_H = (8.0, 24.0, 48.0)
SHELL_UM = 20.0
N_SHELLS = 15
BETA_EDGES = tuple(range(0, 91, 10))
SECTOR_DEG = 30.0
ONSET_FRACTION = 0.02
PRAD_THRESHOLD = 0.2
ARMS = ("wt", "ko_no_msc")

SIZES: dict[str, dict[str, Any]] = {
    "small": {"replicates": 3, "r0_um": 100.0, "duration_h": 48.0},
    "full": {"replicates": 10, "r0_um": R0_UM, "duration_h": 48.0},
}


def arms(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """WT with MSCs and the control (cancer-KO, no MSCs)."""
    wt = spheroid(float(p["r0_um"]))
    return {"wt": wt, "ko_no_msc": without_msc(cancer_ko(wt))}


def shell_label(k: int) -> str:
    """Column suffix of shell k (its outer distance, µm)."""
    return f"{int((k + 1) * SHELL_UM):03d}"


class SpheroidProbe(Probe):
    """Hourly metrics; the β sector histograms and P_rad profile at :data:`PROFILE_H`."""

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Metrics row, first-band anisotropy, and the profile extras at profile times."""
        row = stroma_row(sim)
        row.update(
            edge_extras(sim, any(abs(sim.t_min - 60 * h) < 1e-6 for h in PROFILE_H))
        )
        return row


def edge_extras(sim: TissueSimulation, profiles: bool) -> dict[str, float]:
    """First-band a; with ``profiles``, sector β histograms and the P_rad(r) profile."""
    from scipy import ndimage as ndi

    from metastroma.config import CellKind
    from metastroma.kernels import LIVE
    from metastroma.tissue.edge import distance_at, tumour_edge

    f = sim.ecm
    sc = sim.scenario
    out: dict[str, float] = {}
    if f is None:
        return out
    c = sim.cells
    cancer = (c.live("kind") == CellKind.CANCER) & (c.live("state") == LIVE)
    pos = c.live("pos_um")[cancer]
    shape = tuple(int(x) for x in f.shape)
    ct = sc.cell_types.cancer
    edge = tumour_edge(
        pos,
        f.lower_um,
        f.element_um,
        shape,
        sc.ecm.band_um,
        ct.radius_um if ct else 8.41,
    )
    if not edge.inside.any():
        return out
    dx = f.element_um
    dist = np.asarray(ndi.distance_transform_edt(~edge.inside, sampling=dx)) - 0.5 * dx
    dist = np.where(edge.inside, -1.0, dist).ravel()
    an = f.aniso
    first = (dist > 0) & (dist <= SHELL_UM)
    out["aniso_first_band"] = float(an[first].mean()) if first.any() else math.nan
    if not profiles:
        return out
    cx = f.lower_um[0] + (np.arange(shape[0]) + 0.5) * dx
    cy = f.lower_um[1] + (np.arange(shape[1]) + 0.5) * dx
    gx, gy = np.meshgrid(cx, cy, indexing="ij")
    rx, ry = gx.ravel() - edge.centre_um[0], gy.ravel() - edge.centre_um[1]
    rr = np.hypot(rx, ry)
    rr[rr == 0] = 1.0
    fr = (f.fibre[:, 0] * rx + f.fibre[:, 1] * ry) / rr
    cos2 = 2.0 * fr**2 - 1.0
    for k in range(N_SHELLS):
        m = (dist > k * SHELL_UM) & (dist <= (k + 1) * SHELL_UM)
        out[f"prad_{shell_label(k)}"] = (
            float(cos2[m].mean()) if m.sum() >= 8 else math.nan
        )
    # sectors with invading cells
    d_cells = distance_at(edge, pos, f.lower_um, dx)
    inv = d_cells > sc.measure.invasion_threshold_um
    n_sec = round(360.0 / SECTOR_DEG)
    ang_cells = (
        np.degrees(
            np.arctan2(pos[inv, 1] - edge.centre_um[1], pos[inv, 0] - edge.centre_um[0])
        )
        % 360.0
    )
    invasive = np.zeros(n_sec, dtype=bool)
    invasive[(ang_cells // SECTOR_DEG).astype(int) % n_sec] = True
    out["n_invasive_sectors"] = float(invasive.sum())
    band = edge.band.ravel()
    normal = edge.normal.reshape(-1, 2)[band]
    fn = np.abs(np.einsum("ij,ij->i", f.fibre[band], normal))
    beta = np.degrees(np.arcsin(np.clip(fn, 0.0, 1.0)))
    w = f.rho[band] * an[band]
    ang_el = np.degrees(np.arctan2(ry[band], rx[band])) % 360.0
    sec_el = (ang_el // SECTOR_DEG).astype(int) % n_sec
    in_inv = invasive[sec_el]
    for label, m in (("inv", in_inv), ("non", ~in_inv)):
        hist, _ = np.histogram(beta[m], bins=BETA_EDGES, weights=w[m])
        sw = float(w[m].sum())
        for lo, hi, h in zip(BETA_EDGES[:-1], BETA_EDGES[1:], hist, strict=True):
            out[f"beta_{label}_{lo:02d}_{hi:02d}"] = (
                float(h / sw) if sw > 0 else math.nan
            )
        out[f"tacs3_{label}"] = (
            float(w[m][beta[m] > sc.measure.tacs3_min_angle_deg].sum() / sw)
            if sw > 0
            else math.nan
        )
    return out


def beta_columns(label: str) -> list[str]:
    """Histogram columns of one sector class."""
    return [
        f"beta_{label}_{lo:02d}_{hi:02d}" for lo, hi in itertools.pairwise(BETA_EDGES)
    ]


def _mode_centre(hists: np.ndarray) -> float:
    """Centre (°) of the largest bin of the mean histogram over rows (NaN rows dropped)."""
    ok = np.all(np.isfinite(hists), axis=1)
    if not ok.any():
        return math.nan
    mean = hists[ok].mean(axis=0)
    k = int(np.argmax(mean))
    return 0.5 * (BETA_EDGES[k] + BETA_EDGES[k + 1])


def _reach(profile: np.ndarray) -> float:
    """Outer distance (µm) of the unbroken run of shells from the edge with P_rad > 0.2."""
    k = 0
    while (
        k < profile.size and math.isfinite(profile[k]) and profile[k] > PRAD_THRESHOLD
    ):
        k += 1
    return k * SHELL_UM


def profiles(t: Any, arm: str, t_min: float, n: int) -> np.ndarray:
    """(n_rep, n_shells) P_rad profiles of one arm at one time."""
    return np.stack(
        [values(t, arm, f"prad_{shell_label(k)}", t_min, n) for k in range(N_SHELLS)],
        axis=1,
    )


def _mean_profile_reach(p: np.ndarray) -> float:
    ok = np.isfinite(p).any(axis=1)
    if not ok.any():
        return math.nan
    return _reach(nanmean(p[ok], axis=0))


def onset_anisotropy(t: Any, arm: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(onset hour, max first-band a in [onset + 4 h, onset + 12 h]) per replicate."""
    onset = np.full(n, math.nan)
    a_max = np.full(n, math.nan)
    sub = t[t["arm"] == arm]
    for r in range(n):
        rr = sub[sub["replicate"] == r].sort_values("t_min")
        if rr.empty:
            continue
        tt = rr["t_min"].to_numpy(float)
        hit = np.flatnonzero(rr["frac_invading"].to_numpy(float) >= ONSET_FRACTION)
        if hit.size == 0:
            continue
        t0 = tt[hit[0]]
        onset[r] = t0 / 60.0
        win = (tt >= t0 + 240.0 - 1e-6) & (tt <= t0 + 720.0 + 1e-6)
        a = rr["aniso_first_band"].to_numpy(float)[win]
        if a.size and np.isfinite(a).any():
            a_max[r] = float(np.max(a[np.isfinite(a)]))
    return onset, a_max


def analyse(ctx: RunContext) -> tuple[Batch, list[Effect], dict[str, Any]]:
    """Run WT and the control; compute the E1 effects."""
    p = dict(ctx.params)
    dur = float(p["duration_h"])
    times = hours(*np.arange(0.0, dur + 0.5, 1.0))
    batch = ctx.run(arms(p), SpheroidProbe(), times)
    t = batch.table
    n = ctx.replicates
    r0 = float(p["r0_um"])
    effects: list[Effect] = []
    idx = np.arange(n, dtype=float)
    for h in (24.0, 48.0):
        hists = np.stack(
            [values(t, "wt", c, h * 60, n) for c in beta_columns("inv")], axis=1
        )
        ci = bootstrap_stat_ci(
            [idx],
            lambda i, H=hists: _mode_centre(H[i.astype(int)]),
            method="percentile",
        )
        crit = h == 24.0
        effects.append(
            Effect.from_ci(
                f"beta_mode_invasive_{int(h)}h",
                "wt",
                ci,
                "β mode in sectors with invading cells within 90° ± 15° by 24 h (TACS-3)"
                if crit
                else "descriptive",
                (math.isfinite(ci.estimate) and 75.0 <= ci.estimate <= 105.0)
                if crit
                else None,
                "mode bin centre (°) of the replicate-mean histogram, weights ρ a",
            )
        )
        hn = np.stack(
            [values(t, "wt", c, h * 60, n) for c in beta_columns("non")], axis=1
        )
        effects.append(
            Effect.from_ci(
                f"beta_mode_other_{int(h)}h",
                "wt",
                bootstrap_stat_ci(
                    [idx],
                    lambda i, H=hn: _mode_centre(H[i.astype(int)]),
                    method="percentile",
                ),
                "descriptive",
                None,
                "sectors without invading cells",
            )
        )
        effects.append(
            diff_effect(
                f"tacs3_invasive_minus_other_{int(h)}h",
                "wt invasive sectors",
                values(t, "wt", "tacs3_inv", h * 60, n),
                "other sectors",
                values(t, "wt", "tacs3_non", h * 60, n),
                "descriptive",
                None,
                "TACS-3 fraction (β > 60°) of the band's aligned collagen",
            )
        )
    onset, a_max = onset_anisotropy(t, "wt", n)
    effects.append(
        mean_effect(
            "first_band_a_after_onset",
            "wt",
            a_max,
            "mean a in the first band ≥ 0.5 within 4–12 h of invasion onset (τ_a ≈ 8 h)",
            lambda ci: math.isfinite(ci.estimate) and ci.estimate >= 0.5,
            f"max a (0–20 µm shell) over [onset + 4, onset + 12] h; onset (≥ {ONSET_FRACTION:.0%} "
            f"invading) at {nanmean(onset) if np.isfinite(onset).any() else math.nan:.1f} h",
        )
    )
    effects.append(
        mean_effect("invasion_onset_h", "wt", onset, "descriptive", None, "hours")
    )
    end = dur * 60.0
    p_wt, p_ko = profiles(t, "wt", end, n), profiles(t, "ko_no_msc", end, n)
    radius_wt = values(t, "wt", "edge_radius_um", end, n)
    radius_ko = values(t, "ko_no_msc", "edge_radius_um", end, n)

    def reach_from_centre(
        i: np.ndarray, P: np.ndarray = p_wt, R: np.ndarray = radius_wt
    ) -> float:
        j = i.astype(int)
        return float(nanmean(R[j])) + _mean_profile_reach(P[j])

    ci = bootstrap_stat_ci([idx], reach_from_centre, method="percentile")
    effects.append(
        Effect.from_ci(
            "prad_reach_from_centre_wt",
            "wt",
            ci,
            f"P_rad > 0.2 out to ≥ 2 R₀ = {2 * r0:g} µm from the centre in WT at {dur:g} h [A]",
            math.isfinite(ci.estimate) and ci.estimate >= 2 * r0,
            f"edge radius + reach (µm); reach of the mean profile {_mean_profile_reach(p_wt):g} µm",
        )
    )

    def reach_diff(i: np.ndarray) -> float:
        j = i.astype(int)
        return _mean_profile_reach(p_wt[j]) - _mean_profile_reach(p_ko[j])

    ci = bootstrap_stat_ci([idx], reach_diff, method="percentile")
    effects.append(
        Effect.from_ci(
            "prad_reach_wt_minus_control",
            "wt − ko_no_msc",
            ci,
            "the control's P_rad profile significantly shorter (reach difference CI > 0)",
            above_zero(ci),
            "reach of P_rad > 0.2 (µm), paired replicates",
        )
    )
    near = slice(0, 5)
    effects.append(
        diff_effect(
            "prad_0_100um_wt_minus_control",
            "wt",
            nanmean(p_wt[:, near], axis=1)
            if np.isfinite(p_wt).any()
            else np.full(n, math.nan),
            "ko_no_msc",
            nanmean(p_ko[:, near], axis=1)
            if np.isfinite(p_ko).any()
            else np.full(n, math.nan),
            "descriptive",
            None,
            "mean P_rad over 0–100 µm outside the edge",
        )
    )
    effects.append(
        diff_effect(
            "radius_wt_minus_control",
            "wt",
            radius_wt,
            "ko_no_msc",
            radius_ko,
            "descriptive",
            None,
            "edge radius (µm)",
        )
    )
    return (
        batch,
        effects,
        {"onset_fraction": ONSET_FRACTION, "prad_threshold": PRAD_THRESHOLD},
    )


def figure(result: ExperimentResult) -> Figure:
    """β histograms (invasive vs other sectors), P_rad(r) at 8/24/48 h, first-band a(t)."""
    t = result.table
    n = result.replicates
    fig, (a1, a2, a3) = new_figure(3, 4.6, 3.8)
    centres = [0.5 * (lo + hi) for lo, hi in itertools.pairwise(BETA_EDGES)]
    for i, (label, name) in enumerate(
        (("inv", "invasive sectors"), ("non", "other sectors"))
    ):
        cols = beta_columns(label)
        samples = [values(t, "wt", c, 24 * 60, n) for c in cols]
        cis = [bootstrap_mean_ci(s) for s in samples]
        est = np.array([c.estimate for c in cis])
        a1.bar(
            np.array(centres) + (i - 0.5) * 4,
            est,
            width=4,
            color=PALETTE[i],
            alpha=0.8,
            label=f"WT, {name}",
        )
    a1.set_xlabel("fibre angle to the edge tangent β (°)")
    a1.set_ylabel("fraction of aligned collagen (ρ a)")
    a1.set_title("β histogram at 24 h", fontsize=10)
    a1.legend(fontsize=7)
    a1.grid(alpha=0.3)
    r = (np.arange(N_SHELLS) + 0.5) * SHELL_UM
    end = float(t["t_min"].max()) if not t.empty else 0.0
    for i, h in enumerate(PROFILE_H):
        if h * 60 > end + 1e-6:
            continue
        pw = profiles(t, "wt", h * 60, n)
        line_ci(a2, r, list(pw.T), f"WT {h:g} h", PALETTE[[0, 3, 1][i]])
    pk = profiles(t, "ko_no_msc", end, n)
    line_ci(a2, r, list(pk.T), f"control {end / 60:g} h", PALETTE[6], "x")
    a2.axhline(PRAD_THRESHOLD, color="k", ls=":", lw=1)
    a2.axhline(0, color="grey", lw=0.8)
    a2.set_xlabel("distance outside the tumour edge (µm)")
    a2.set_ylabel("P_rad = ⟨cos 2(θ − θ_radial)⟩")
    a2.set_title("radial order profile", fontsize=10)
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3)
    times = sorted(t["t_min"].unique())
    for i, arm in enumerate(("wt", "ko_no_msc")):
        line_ci(
            a3,
            [x / 60 for x in times],
            [values(t, arm, "aniso_first_band", x, n) for x in times],
            arm,
            PALETTE[[0, 6][i]],
        )
    a3.axhline(0.5, color="k", ls=":", lw=1)
    a3.set_xlabel("time (h)")
    a3.set_ylabel("anisotropy a, 0–20 µm shell")
    a3.set_title("first-band anisotropy", fontsize=10)
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
        "beta_mode_invasive_24h",
        "first_band_a_after_onset",
        "prad_reach_from_centre_wt",
        "prad_reach_wt_minus_control",
    ),
    sizes=SIZES,
    analyse=analyse,
    figure=figure,
)
