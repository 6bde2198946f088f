"""Figures of a virtual trial (``metastroma trial``; docs/trials.md).

- :func:`trial_km_figure`: Kaplan–Meier metastasis-free or overall survival, one curve per
  arm with its 95 % band, the hazard ratio vs the reference arm and the log-rank p in the
  legend, and a number-at-risk table;
- :func:`trial_sites_figure`: grouped bars, per distant organ, of the share of each arm's
  patients with that organ ever involved (95 % Wilson intervals);
- :func:`trial_shares_figure`: share of patients with a detected distant metastasis at
  each horizon, per arm, with 95 % intervals.

Inputs are the tables of :class:`metastroma.body.trial.TrialAnalysis`. Writes are atomic
(:func:`metastroma.viz._save.save_figure`); matplotlib runs on Agg. Each function returns
the path written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from metastroma.viz._save import save_figure

__all__ = ["trial_km_figure", "trial_shares_figure", "trial_sites_figure"]

_ENDPOINT_LABEL = {
    "mfs": "distant-metastasis-free survival",
    "os": "overall survival",
}


_STYLES = ("-", "--", "-.", ":")


def _colours(arms: Sequence[str]) -> dict[str, str]:
    return {a: f"C{i % 10}" for i, a in enumerate(arms)}


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _hr_text(summary_row: pd.Series, endpoint: str) -> str:
    hr = float(summary_row[f"hr_{endpoint}"])
    lo = float(summary_row[f"hr_{endpoint}_ci_low"])
    hi = float(summary_row[f"hr_{endpoint}_ci_high"])
    if not math.isfinite(lo):
        return "reference"
    p = float(summary_row[f"logrank_p_{endpoint}"])
    return f"HR {hr:.2f} ({lo:.2f}–{hi:.2f}), log-rank {_p_text(p)}"


def _month_step(max_months: float) -> float:
    for step in (3.0, 6.0, 12.0, 24.0, 36.0, 60.0):
        if max_months / step <= 10:
            return step
    return 120.0


def trial_km_figure(
    survival: pd.DataFrame,
    summary: pd.DataFrame,
    endpoint: str,
    out: Path,
    *,
    title: str | None = None,
) -> Path:
    """Kaplan–Meier curves of one endpoint, one per arm, with 95 % bands.

    Parameters
    ----------
    survival : DataFrame
        ``TrialAnalysis.survival`` (columns ``arm``, ``endpoint``, ``time_months``,
        ``survival``, ``ci_low``, ``ci_high``, ``n_at_risk``).
    summary : DataFrame
        ``TrialAnalysis.summary`` (arm order, hazard ratios and log-rank p-values).
    endpoint : {'mfs', 'os'}
    out : Path
        Image file (PNG, SVG or PDF by suffix).
    title : str, optional

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError
        An unknown endpoint.
    """
    if endpoint not in _ENDPOINT_LABEL:
        raise ValueError(
            f"trial_km_figure: endpoint must be one of {list(_ENDPOINT_LABEL)}"
        )
    arms = list(summary["arm"])
    colours = _colours(arms)
    tidy = survival[survival["endpoint"] == endpoint]
    t_max = float(tidy["time_months"].max()) if len(tidy) else 12.0
    t_max = t_max if math.isfinite(t_max) and t_max > 0 else 12.0
    step = _month_step(t_max)
    ticks = np.arange(0.0, t_max + 1e-9, step)
    n_arms = len(arms)
    fig, (ax, ax_risk) = plt.subplots(
        2,
        1,
        figsize=(8.0, 5.0 + 0.25 * n_arms),
        gridspec_kw={"height_ratios": [4.0, 0.5 + 0.3 * n_arms]},
        sharex=True,
    )
    lowest = 1.0
    for _, row in summary.iterrows():  # a few arms
        arm = str(row["arm"])
        c = tidy[tidy["arm"] == arm]
        label = f"{arm} (n = {int(row['n_patients'])}): {_hr_text(row, endpoint)}"
        if c.empty:
            ax.plot([], [], color=colours[arm], label=f"{arm}: no patients")
            continue
        x = c["time_months"].to_numpy()
        i = arms.index(arm)
        ax.step(
            x,
            c["survival"].to_numpy(),
            where="post",
            color=colours[arm],
            label=label,
            # styles and widths differ so that arms that coincide stay visible
            linestyle=_STYLES[i % len(_STYLES)],
            linewidth=2.6 if i == 0 else 1.4,
        )
        ax.fill_between(
            x,
            c["ci_low"].to_numpy(),
            c["ci_high"].to_numpy(),
            step="post",
            color=colours[arm],
            alpha=0.18,
            linewidth=0,
        )
        lowest = min(lowest, float(np.nanmin(c["ci_low"].to_numpy())))
    # the curves of a cohort stay high: zoom in, but keep the axis honest (labelled)
    y_low = max(0.0, math.floor((lowest - 0.05) * 10.0) / 10.0)
    ax.set_ylim(y_low, 1.005)
    ax.set_xlim(0.0, t_max)
    ax.set_xticks(ticks)
    ax.set_ylabel(f"{_ENDPOINT_LABEL[endpoint]}\n(probability; axis from {y_low:g})")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.25)
    ax.set_title(
        title
        or f"Kaplan–Meier {_ENDPOINT_LABEL[endpoint]} by arm (bands: 95 % CI; HR vs "
        "the reference, Cox)",
        fontsize=10,
    )
    ax.tick_params(labelbottom=True)
    ax.set_xlabel("months since diagnosis")
    for i, arm in enumerate(arms):  # a few arms
        c = tidy[tidy["arm"] == arm]
        t = c["time_months"].to_numpy()
        r = c["n_at_risk"].to_numpy()
        j = np.searchsorted(t, ticks - 1e-9, side="left")
        n_risk = np.append(r, 0)[j]
        y = n_arms - 1 - i
        for xk, nk in zip(ticks, n_risk, strict=True):  # one label per tick
            ax_risk.text(
                xk,
                y,
                str(int(nk)),
                ha="center",
                va="center",
                fontsize=7,
                color=colours[arm],
            )
    ax_risk.set_ylim(-0.6, n_arms - 0.4)
    ax_risk.set_yticks(np.arange(n_arms), list(reversed(arms)), fontsize=7)
    ax_risk.tick_params(axis="x", labelbottom=False, length=0)
    ax_risk.tick_params(axis="y", length=0, pad=14)
    for s in ax_risk.spines.values():
        s.set_visible(False)
    ax_risk.set_title("number at risk", fontsize=8, loc="left")
    fig.tight_layout()
    return save_figure(fig, out)


def trial_sites_figure(
    sites: pd.DataFrame, out: Path, *, title: str | None = None
) -> Path:
    """Grouped bars: share of each arm's patients with a distant organ ever involved.

    Parameters
    ----------
    sites : DataFrame
        ``TrialAnalysis.sites`` (``arm``, ``organ``, ``share_of_patients``, ``ci_low``,
        ``ci_high``). Organs never involved in any arm are left out.
    out : Path
    title : str, optional

    Returns
    -------
    Path
    """
    arms = list(dict.fromkeys(sites["arm"]))
    colours = _colours(arms)
    total = sites.groupby("organ", sort=False)["n_patients"].sum()
    organs = [o for o in dict.fromkeys(sites["organ"]) if total[o] > 0]
    ref = sites[sites["arm"] == arms[0]].set_index("organ")["share_of_patients"]
    organs.sort(key=lambda o: -float(ref.get(o, 0.0)))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(organs) + 2.5), 4.4))
    width = 0.8 / max(len(arms), 1)
    x = np.arange(len(organs))
    for i, arm in enumerate(arms):  # a few arms
        s = sites[sites["arm"] == arm].set_index("organ").reindex(organs)
        v = 100.0 * s["share_of_patients"].to_numpy()
        err = 100.0 * np.clip(
            np.vstack(
                [
                    s["share_of_patients"].to_numpy() - s["ci_low"].to_numpy(),
                    s["ci_high"].to_numpy() - s["share_of_patients"].to_numpy(),
                ]
            ),
            0.0,
            None,
        )  # rounding: Wilson bounds of a share of 0 can sit 1e-20 off
        ax.bar(
            x + (i - (len(arms) - 1) / 2) * width,
            v,
            width,
            yerr=err,
            capsize=2,
            color=colours[arm],
            label=arm,
            error_kw={"linewidth": 0.8},
        )
    ax.set_xticks(x, [o.replace("_", " ") for o in organs])
    ax.set_ylabel("patients with the site involved (%)")
    ax.set_xlabel("distant site (ever detected by death or end of follow-up)")
    ax.legend(fontsize=8, title="arm", title_fontsize=8)
    ax.grid(axis="y", alpha=0.25)
    ax.set_title(
        title or "Distant sites by arm (share of all patients; bars: 95 % CI)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, out)


def trial_shares_figure(
    shares: pd.DataFrame, out: Path, *, title: str | None = None
) -> Path:
    """Share of patients with a detected distant metastasis by each horizon, per arm.

    Parameters
    ----------
    shares : DataFrame
        ``TrialAnalysis.shares`` (``arm``, ``year``, ``share``, ``ci_low``, ``ci_high``).
    out : Path
    title : str, optional

    Returns
    -------
    Path
    """
    arms = list(dict.fromkeys(shares["arm"]))
    colours = _colours(arms)
    years = sorted(shares["year"].unique())
    fig, ax = plt.subplots(
        figsize=(max(5.5, 1.6 * len(years) * len(arms) / 2 + 2), 4.4)
    )
    width = 0.8 / max(len(arms), 1)
    x = np.arange(len(years))
    for i, arm in enumerate(arms):  # a few arms
        s = shares[shares["arm"] == arm].set_index("year").reindex(years)
        v = 100.0 * s["share"].to_numpy()
        err = 100.0 * np.clip(
            np.vstack(
                [
                    s["share"].to_numpy() - s["ci_low"].to_numpy(),
                    s["ci_high"].to_numpy() - s["share"].to_numpy(),
                ]
            ),
            0.0,
            None,
        )
        pos = x + (i - (len(arms) - 1) / 2) * width
        ax.bar(pos, v, width, yerr=err, capsize=3, color=colours[arm], label=arm)
        top = 100.0 * s["ci_high"].to_numpy()
        for px, pv, pt in zip(pos, v, top, strict=True):  # one label per bar
            if math.isfinite(pv):
                y = pt if math.isfinite(pt) else pv
                ax.text(px, y, f"{pv:.1f} %", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [f"{y:g} years" for y in years])
    ax.set_xlabel("time since diagnosis")
    ax.set_ylabel("patients with a distant metastasis (%)")
    ax.legend(fontsize=8, title="arm", title_fontsize=8)
    ax.grid(axis="y", alpha=0.25)
    ax.set_title(
        title or "Detected distant metastasis by horizon (bars: 95 % CI)", fontsize=10
    )
    fig.tight_layout()
    return save_figure(fig, out)
