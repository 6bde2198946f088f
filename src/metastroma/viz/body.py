"""Figures and tables of a virtual cohort (body scale, issue 4).

- :func:`km_figure`: Kaplan–Meier overall and metastasis-free survival (and, on request,
  survival after the first distant metastasis) with 95 % bands, months on the x axis and
  an optional number-at-risk table;
- :func:`site_bar_chart`: per distant organ, the share of metastatic patients with it
  involved (ever and at first detection) and the share of site involvements, with
  literature values (SCIENCE.md §9.7, K3 and K4) drawn as markers when given;
- :func:`size_distribution_figure`: per organ, the histogram of log10 cells per metastasis
  at the end of follow-up, with the organ's detection threshold;
- :func:`organ_graph_figure`: the organ graph of an :class:`AnatomyConfig`, nodes coloured
  by kind, edge width proportional to the flow fraction, blood and lymph edges apart;
- :func:`write_table`: a table (e.g. :func:`metastroma.body.analysis.summary_table`) as
  Markdown or CSV.

All writes are atomic (:mod:`metastroma.store.atomic`): the figure is rendered in memory
and written as ``.name.tmp``, fsynced and renamed. matplotlib runs on the Agg backend; no
window opens. Each function returns the path written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from metastroma.body.analysis import (
    CELLS_PER_MM3,
    SurvivalCurves,
    site_involvement,
    to_csv_text,
    to_markdown,
)
from metastroma.body.growth import cells_to_diameter_mm
from metastroma.config.body import AnatomyConfig
from metastroma.store.atomic import write_bytes_atomic
from metastroma.viz._save import save_figure

#: Colour, legend label and short (number-at-risk) label of each survival curve.
CURVE_STYLE: Mapping[str, tuple[str, str, str]] = {
    "overall": ("C0", "overall survival", "OS"),
    "metastasis_free": ("C1", "distant-metastasis-free survival", "DMFS"),
    "after_first_metastasis": (
        "C3",
        "survival after first distant metastasis",
        "post-met",
    ),
}
#: Node colours of the organ graph, by organ kind.
KIND_COLOURS: Mapping[str, str] = {
    "primary": "#c2a5cf",
    "lymph_node": "#a6dba0",
    "capillary_bed": "#fdb863",
    "pool": "#b2d4e8",
}
#: Edge colours and line styles, by edge kind.
EDGE_STYLE: Mapping[str, tuple[str, Literal["solid", "dashed"]]] = {
    "blood": ("#b2182b", "solid"),
    "lymph": ("#1b7837", "dashed"),
}

#: Hand-set positions (x, y; arbitrary units) of the default anatomy's organs, drawn as a
#: loop: venous pool → right heart → lungs (left side) → arterial pool (top) → the
#: systemic beds (middle row) → back down to the venous pool; the breast and its nodes feed
#: the venous pool from below, the portal vein sits between gut and liver.
DEFAULT_LAYOUT: Mapping[str, tuple[float, float]] = {
    "breast": (6.0, -3.2),
    "axillary_nodes": (4.2, -1.7),
    "internal_mammary_nodes": (7.8, -1.7),
    "venous": (6.0, 0.0),
    "right_heart": (0.0, 0.0),
    "lungs": (0.0, 6.0),
    "arterial": (6.0, 6.0),
    "brain": (1.5, 3.0),
    "adrenals": (3.0, 3.0),
    "bone_marrow": (4.5, 3.0),
    "kidneys": (6.0, 3.0),
    "rest_of_body": (7.5, 3.0),
    "gut_spleen_pancreas": (9.0, 3.0),
    "portal": (9.75, 1.5),
    "liver": (10.5, 3.0),
}


def _save(fig: Any, path: Path, dpi: int = 130) -> Path:
    """Render ``fig`` in memory and write it atomically; the format follows the suffix."""
    return save_figure(fig, path, dpi)


def write_table(table: pd.DataFrame, path: Path, digits: int = 4) -> Path:
    """Write a table atomically as Markdown (``.md``) or CSV (``.csv``).

    Parameters
    ----------
    table : DataFrame
        E.g. :func:`metastroma.body.analysis.summary_table`.
    path : Path
        Target file; its suffix picks the format.
    digits : int
        Significant digits in Markdown (CSV keeps full precision).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The suffix is neither ``.md`` nor ``.csv``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".md":
        text = to_markdown(table, digits)
    elif suffix == ".csv":
        text = to_csv_text(table)
    else:
        raise ValueError(f"write_table: {path}: suffix must be .md or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, text.encode())
    return path


# ------------------------------------------------------------------ survival


def _month_step(max_months: float) -> float:
    for step in (3.0, 6.0, 12.0, 24.0, 36.0, 60.0):
        if max_months / step <= 10:
            return step
    return 120.0


def _median_text(row: pd.Series) -> str:
    med = float(row["median_months"])
    if math.isnan(med):
        return "median not reached"
    lo, hi = float(row["ci_low_months"]), float(row["ci_high_months"])
    ci = f"{lo:.1f}–{hi:.1f}" if math.isfinite(hi) else f"{lo:.1f}–NR"
    return f"median {med:.1f} mo (95 % CI {ci})"


def km_figure(
    curves: SurvivalCurves,
    out: Path,
    which: Sequence[str] = ("overall", "metastasis_free"),
    *,
    show_at_risk: bool = True,
    title: str | None = None,
) -> Path:
    """Kaplan–Meier curves with 95 % confidence bands; time in months.

    Parameters
    ----------
    curves : SurvivalCurves
        From :func:`metastroma.body.analysis.survival_curves`.
    out : Path
        Image file to write (PNG, SVG or PDF by suffix).
    which : sequence of str
        Curves to draw, among ``'overall'``, ``'metastasis_free'`` and
        ``'after_first_metastasis'``; each is one line (plus its band); an empty curve is
        drawn as a legend entry only.
    show_at_risk : bool
        Add a number-at-risk table under the plot (a second axes).
    title : str, optional

    Returns
    -------
    Path
        ``out``.
    """
    unknown = [c for c in which if c not in CURVE_STYLE]
    if unknown or not which:
        raise ValueError(f"km_figure: which must name curves among {list(CURVE_STYLE)}")
    tidy = curves.curves
    medians = curves.medians.set_index("curve")
    t_max = float(tidy.loc[tidy["curve"].isin(which), "time_months"].max())
    t_max = t_max if math.isfinite(t_max) and t_max > 0 else 12.0
    step = _month_step(t_max)
    ticks = np.arange(0.0, t_max + 1e-9, step)
    xlabel = "months since diagnosis"
    if "after_first_metastasis" in which:
        xlabel += " (post-metastasis curve: since first detection)"
    if show_at_risk:
        fig, (ax, ax_risk) = plt.subplots(
            2,
            1,
            figsize=(7.2, 4.6 + 0.25 * len(which)),
            gridspec_kw={"height_ratios": [4.0, 0.5 + 0.3 * len(which)]},
            sharex=True,
        )
    else:
        fig, ax = plt.subplots(figsize=(7.2, 4.6))
    for curve in which:  # a few curves
        colour, label, _ = CURVE_STYLE[curve]
        c = tidy[tidy["curve"] == curve]
        text = f"{label}: {_median_text(medians.loc[curve])}, n = {medians.loc[curve, 'n']}"
        if c.empty:
            ax.plot([], [], color=colour, label=f"{label}: no patients")
            continue
        x = c["time_months"].to_numpy()
        ax.step(x, c["survival"].to_numpy(), where="post", color=colour, label=text)
        ax.fill_between(
            x,
            c["ci_low"].to_numpy(),
            c["ci_high"].to_numpy(),
            step="post",
            color=colour,
            alpha=0.2,
            linewidth=0,
        )
    ax.axhline(0.5, color="0.6", linewidth=0.6, linestyle=":")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(0.0, t_max)
    ax.set_xticks(ticks)
    ax.set_ylabel("survival probability")
    ax.legend(fontsize=7.5, loc="best")
    ax.grid(alpha=0.25)
    ax.set_title(title or "Kaplan–Meier estimates (bands: 95 % CI)", fontsize=10)
    if show_at_risk:
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(xlabel)
        for i, curve in enumerate(which):  # a few curves
            c = tidy[tidy["curve"] == curve]
            t = c["time_months"].to_numpy()
            r = c["n_at_risk"].to_numpy()
            # patients at risk at a tick: those at risk at the first step time ≥ the tick
            j = np.searchsorted(t, ticks - 1e-9, side="left")
            padded = np.append(r, 0)  # past the last time nobody is at risk
            n_risk = padded[j]
            y = len(which) - 1 - i
            for xk, nk in zip(ticks, n_risk, strict=True):  # one label per tick
                ax_risk.text(
                    xk,
                    y,
                    str(int(nk)),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=CURVE_STYLE[curve][0],
                )
        ax_risk.set_ylim(-0.6, len(which) - 0.4)
        ax_risk.set_yticks(
            np.arange(len(which)),
            [CURVE_STYLE[c][2] for c in reversed(which)],
            fontsize=7,
        )
        ax_risk.tick_params(axis="x", labelbottom=False, length=0)
        ax_risk.tick_params(axis="y", length=0, pad=14)
        for s in ax_risk.spines.values():
            s.set_visible(False)
        ax_risk.set_title("number at risk", fontsize=8, loc="left")
    else:
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return _save(fig, out)


# ------------------------------------------------------------------ sites


def site_bar_chart(
    patients: pd.DataFrame,
    out: Path,
    *,
    literature_patient_shares: Mapping[str, float] | None = None,
    literature_involvement_shares: Mapping[str, float] | None = None,
    literature_label: str = "literature",
    first_at_diagnosis: bool = False,
    organs: Sequence[str] | None = None,
) -> Path:
    """Bar charts of distant-site involvement: per metastatic patient and per site.

    Left panel: share of metastatic patients with each organ involved (Gong-style; bars
    for sites ever and at first detection). Right panel: share of site involvements
    (Wu-style; (patient, site) pairs over all pairs). Literature values are black
    diamonds, e.g. ``{"bone_marrow": K3_BONE_SHARE_AT_DIAGNOSIS}`` on the left and
    ``K4_SITE_INVOLVEMENT_SHARES`` on the right (both in
    :mod:`metastroma.body.analysis`; fractions).

    Parameters
    ----------
    patients : DataFrame
        Needs ``sites_ever`` and ``sites_at_first_metastasis``; with
        ``first_at_diagnosis`` also ``metastatic_at_diagnosis``.
    out : Path
        Image file to write.
    literature_patient_shares, literature_involvement_shares : Mapping[str, float]
        Literature shares ([0, 1]) by organ, for the left and the right panel.
    literature_label : str
        Legend text of the markers.
    first_at_diagnosis : bool
        Restrict the "first" bars to patients metastatic at diagnosis (the definition of
        K3 and K4) instead of all patients at their first detection.
    organs : sequence of str, optional
        Organs always shown (0 if never involved).

    Returns
    -------
    Path
        ``out``.
    """
    ever = site_involvement(patients, "ever", organs=organs)
    sub = patients
    first_label = "at first detection"
    if first_at_diagnosis:
        if "metastatic_at_diagnosis" not in patients.columns:
            raise ValueError(
                "site_bar_chart: patients table is missing column "
                "'metastatic_at_diagnosis' (needed with first_at_diagnosis)"
            )
        sub = patients[np.asarray(patients["metastatic_at_diagnosis"], dtype=bool)]
        first_label = "at diagnosis (de novo)"
    first = site_involvement(sub, "first", organs=list(ever["organ"]))
    order = list(ever["organ"]) + [
        o for o in first["organ"] if o not in set(ever["organ"])
    ]
    ever = ever.set_index("organ").reindex(order)
    first = first.set_index("organ").reindex(order)
    x = np.arange(len(order))
    w = 0.38
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.5 + 1.3 * len(order)), 4.2))
    panels = (
        (
            "share_of_metastatic_patients",
            "% of metastatic patients",
            literature_patient_shares,
        ),
        (
            "share_of_site_involvements",
            "% of site involvements",
            literature_involvement_shares,
        ),
    )
    n_ever = int(ever["n_metastatic_patients"].max()) if len(order) else 0
    n_first = int(first["n_metastatic_patients"].max()) if len(order) else 0
    for ax, (col, ylabel, lit) in zip(axes, panels, strict=True):  # two panels
        ax.bar(
            x - w / 2,
            100 * ever[col].fillna(0).to_numpy(),
            w,
            color="#4d7ea8",
            label=f"ever (n = {n_ever})",
        )
        ax.bar(
            x + w / 2,
            100 * first[col].fillna(0).to_numpy(),
            w,
            color="#a9c6e0",
            label=f"{first_label} (n = {n_first})",
        )
        if col == "share_of_metastatic_patients":
            lo = 100 * ever["ci_low"].fillna(0).to_numpy()
            hi = 100 * ever["ci_high"].fillna(0).to_numpy()
            mid = 100 * ever[col].fillna(0).to_numpy()
            ax.errorbar(
                x - w / 2,
                mid,
                yerr=[mid - lo, hi - mid],
                fmt="none",
                ecolor="0.2",
                elinewidth=0.8,
                capsize=2,
            )
        if lit:
            known = [o for o in order if o in lit]
            ax.plot(
                [order.index(o) for o in known],
                [100 * lit[o] for o in known],
                "D",
                color="k",
                markersize=5,
                linestyle="none",
                label=literature_label,
            )
        ax.set_xticks(x, [o.replace("_", " ") for o in order], rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.25)
        ax.legend(fontsize=7.5)
    axes[0].set_title(
        "patients with the site involved (error bars: 95 % CI)", fontsize=9
    )
    axes[1].set_title("site involvements (sums to 100 %)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


# ------------------------------------------------------------------ sizes


def _thresholds(spec: Mapping[str, float] | AnatomyConfig | None) -> dict[str, float]:
    if spec is None:
        return {}
    if isinstance(spec, AnatomyConfig):
        return {o.name: float(o.detection_threshold_cells) for o in spec.organs}
    return {str(k): float(v) for k, v in spec.items()}


def size_distribution_figure(
    metastases: pd.DataFrame,
    out: Path,
    detection_thresholds: Mapping[str, float] | AnatomyConfig | None = None,
    *,
    distant_only: bool = False,
    n_cols: int = 3,
    n_bins: int = 30,
    cells_per_mm3: float = CELLS_PER_MM3,
) -> Path:
    """Histograms of log10(cells) per metastasis at the end of follow-up, one per organ.

    Parameters
    ----------
    metastases : DataFrame
        Needs ``organ`` and ``cells_at_end`` (cells); ``detected_day`` splits detected
        from undetected metastases when present; ``is_distant`` with ``distant_only``.
        Deposits of 0 cells are left out (log scale).
    out : Path
        Image file to write.
    detection_thresholds : Mapping[str, float] or AnatomyConfig, optional
        Detection threshold per organ, in cells (an anatomy gives its
        ``detection_threshold_cells``); drawn as a dashed line.
    distant_only : bool
        Leave out lymph-node metastases.
    n_cols : int
        Panels per row; one panel (axes) per organ, most metastases first.
    n_bins : int
        Bins over the common log10 range.
    cells_per_mm3 : float, cells/mm³
        Turns each threshold into the diameter printed beside it (SCIENCE.md §9.2).

    Returns
    -------
    Path
        ``out``.
    """
    for c in ("organ", "cells_at_end") + (("is_distant",) if distant_only else ()):
        if c not in metastases.columns:
            raise ValueError(
                f"size_distribution_figure: metastases table is missing column {c!r}"
            )
    m = metastases
    if distant_only:
        m = m[np.asarray(m["is_distant"], dtype=bool)]
    cells = np.asarray(m["cells_at_end"], dtype=np.float64)
    keep = cells > 0
    m = m[keep]
    logc = np.log10(cells[keep])
    detected = (
        np.isfinite(np.asarray(m["detected_day"], dtype=np.float64))
        if "detected_day" in m.columns
        else None
    )
    organs = list(m["organ"].value_counts(sort=True).index)
    thresholds = _thresholds(detection_thresholds)
    if not organs:
        fig, ax = plt.subplots(figsize=(5.0, 3.0))
        ax.text(0.5, 0.5, "no metastases", ha="center", va="center")
        ax.set_axis_off()
        return _save(fig, out)
    lo = float(logc.min())
    hi = float(logc.max())
    th_log = [math.log10(thresholds[o]) for o in organs if o in thresholds]
    lo, hi = min([lo, *th_log]) - 0.2, max([hi, *th_log]) + 0.2
    bins = np.linspace(lo, hi, n_bins + 1)
    n_rows = math.ceil(len(organs) / n_cols)
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(3.3 * n_cols, 2.4 * n_rows + 0.4),
        sharex=True,
        squeeze=False,
    )
    organ_of = np.asarray(m["organ"], dtype=object)
    for k, organ in enumerate(organs):  # over organs
        ax = axes[k // n_cols, k % n_cols]
        sel = organ_of == organ
        if detected is not None:
            ax.hist(
                [logc[sel & detected], logc[sel & ~detected]],
                bins=bins,
                stacked=True,
                color=["#4d7ea8", "#c9c9c9"],
                label=["detected", "not detected"],
            )
        else:
            ax.hist(logc[sel], bins=bins, color="#4d7ea8")
        if organ in thresholds:
            xt = math.log10(thresholds[organ])
            ax.axvline(
                xt,
                color="#b2182b",
                linestyle="--",
                linewidth=1.0,
                label="detection threshold",
            )
            d_mm = float(cells_to_diameter_mm(thresholds[organ], cells_per_mm3))
            ax.annotate(
                f" {d_mm:.2g} mm",
                (xt, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=7,
                color="#b2182b",
            )
        ax.set_title(f"{organ.replace('_', ' ')} (n = {int(sel.sum())})", fontsize=9)
        # dormant 1–5-cell colonies outnumber detected ones 10–100-fold: log counts
        ax.set_yscale("symlog", linthresh=1.0)
        ax.tick_params(labelsize=8)
        ax.tick_params(axis="x", labelbottom=True)
        if k % n_cols == 0:
            ax.set_ylabel("metastases (log scale)", fontsize=8)
        if k // n_cols == n_rows - 1 or k + n_cols >= len(organs):
            ax.set_xlabel("log10 cells at end", fontsize=8)
    for k in range(len(organs), n_rows * n_cols):  # unused panels
        fig.delaxes(axes[k // n_cols, k % n_cols])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=8, ncols=len(handles))
    fig.suptitle("metastasis sizes at end of follow-up", fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, out)


# ------------------------------------------------------------------ organ graph


def organ_graph(anatomy: AnatomyConfig) -> nx.DiGraph:
    """The organ graph as a networkx DiGraph.

    Nodes carry ``kind``; edges carry ``kind`` ('blood' or 'lymph') and
    ``flow_fraction`` (share of the source's outflow).
    """
    g = nx.DiGraph()
    for o in anatomy.organs:  # organs, not patients
        g.add_node(o.name, kind=o.kind)
    for e in anatomy.edges:
        g.add_edge(e.source, e.target, kind=e.kind, flow_fraction=e.flow_fraction)
    return g


def organ_layout(anatomy: AnatomyConfig) -> dict[str, tuple[float, float]]:
    """Node positions: hand-set for the default organs, computed for other graphs.

    - every organ in :data:`DEFAULT_LAYOUT`: those positions;
    - at least half of them there (an edited default body): the known organs keep their
      places and the others are placed among their neighbours by a seeded spring layout
      (``networkx.spring_layout`` with the known organs fixed);
    - otherwise: the Kamada–Kawai layout, started from columns by distance (in edges)
      from the primary (``networkx.multipartite_layout``), so that it is deterministic.

    Returns
    -------
    dict
        Organ name → (x, y), arbitrary units.
    """
    g = organ_graph(anatomy)
    known = [n for n in g.nodes if n in DEFAULT_LAYOUT]
    if len(known) == g.number_of_nodes():
        return {n: DEFAULT_LAYOUT[n] for n in g.nodes}
    if 2 * len(known) >= g.number_of_nodes():
        init = {n: np.asarray(DEFAULT_LAYOUT[n], dtype=np.float64) for n in known}
        pos = nx.spring_layout(
            g.to_undirected(), pos=init, fixed=known, seed=1, k=1.5, iterations=200
        )
    else:
        depth = nx.single_source_shortest_path_length(g, anatomy.primary)
        layer = {n: depth.get(n, max(depth.values()) + 1) for n in g.nodes}
        nx.set_node_attributes(g, layer, "layer")
        start = nx.multipartite_layout(g, subset_key="layer", scale=4.0)
        pos = nx.kamada_kawai_layout(g.to_undirected(), pos=start, scale=4.0)
    return {str(n): (float(p[0]), float(p[1])) for n, p in pos.items()}


def _wrap(name: str) -> str:
    words = name.split("_")
    if len(name) <= 12 or len(words) == 1:
        return name.replace("_", " ")
    half = math.ceil(len(words) / 2)
    return " ".join(words[:half]) + "\n" + " ".join(words[half:])


def organ_graph_figure(
    anatomy: AnatomyConfig, out: Path, *, title: str | None = None
) -> Path:
    """Draw the organ graph with its flows.

    Nodes are boxes coloured by kind (primary, lymph node, capillary bed, pool); blood
    edges are red and solid, lymph edges green and dashed; edge width grows with the flow
    fraction (share of the source's outflow), and edges below 100 % are labelled with it
    in percent. Positions: :func:`organ_layout`.

    Parameters
    ----------
    anatomy : AnatomyConfig
        E.g. :func:`metastroma.config.body.default_anatomy`.
    out : Path
        Image file to write.
    title : str, optional

    Returns
    -------
    Path
        ``out``.
    """
    g = organ_graph(anatomy)
    pos = organ_layout(anatomy)
    xs = np.array([p[0] for p in pos.values()])
    ys = np.array([p[1] for p in pos.values()])
    span_x = float(np.ptp(xs)) or 1.0
    span_y = float(np.ptp(ys)) or 1.0
    fig, ax = plt.subplots(figsize=(10.0, max(5.0, 10.0 * span_y / span_x + 1.0)))
    node_size = 2600.0  # points², the box size used to stop arrows short of the labels
    for kind, (colour, style) in EDGE_STYLE.items():  # two edge kinds
        for u, v, data in g.edges(data=True):  # edges, not patients
            if data["kind"] != kind:
                continue
            # an edge with a reverse twin (lungs ⇄ arterial) curves to its own side
            rad = 0.15 if g.has_edge(v, u) else 0.0
            nx.draw_networkx_edges(
                g,
                pos,
                edgelist=[(u, v)],
                width=0.6 + 3.4 * data["flow_fraction"],
                edge_color=colour,
                style=style,
                alpha=0.8,
                arrows=True,
                arrowstyle="-|>",
                arrowsize=12,
                node_size=node_size,
                connectionstyle=f"arc3,rad={rad}",
                ax=ax,
            )
    primary = {o.name for o in anatomy.organs if o.kind == "primary"}
    # straight edges, then curved twins; labels of the primary's edges sit near it
    for twin, from_primary in ((False, False), (False, True), (True, False)):
        labels = {
            (u, v): f"{100 * f:.3g} %"
            for u, v, f in g.edges(data="flow_fraction")
            if f < 1.0 - 1e-9
            and g.has_edge(v, u) == twin
            and (u in primary) == from_primary
        }
        if labels:
            nx.draw_networkx_edge_labels(
                g,
                pos,
                edge_labels=labels,
                font_size=7,
                label_pos=0.8 if from_primary else 0.6,
                rotate=False,
                node_size=node_size,
                connectionstyle=f"arc3,rad={0.15 if twin else 0.0}",
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "fc": "white",
                    "ec": "none",
                    "alpha": 0.85,
                },
                ax=ax,
            )
    for kind, colour in KIND_COLOURS.items():  # four kinds
        nodes = [n for n, k in g.nodes(data="kind") if k == kind]
        nx.draw_networkx_labels(
            g,
            pos,
            labels={n: _wrap(n) for n in nodes},
            font_size=8,
            bbox={"boxstyle": "round,pad=0.4", "fc": colour, "ec": "0.3", "lw": 0.6},
            ax=ax,
        )
    handles: list[Artist] = [
        Patch(fc=c, ec="0.3", label=k.replace("_", " "))
        for k, c in KIND_COLOURS.items()
    ]
    handles += [
        Line2D([], [], color=c, linestyle=s, linewidth=2, label=f"{k} flow")
        for k, (c, s) in EDGE_STYLE.items()
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(
        title
        or "organ graph: edge labels = % of the source organ's outflow "
        "(unlabelled edges carry 100 %); width ∝ flow fraction",
        fontsize=9,
    )
    pad_x, pad_y = 0.08 * span_x, 0.12 * span_y
    ax.set_xlim(xs.min() - pad_x, xs.max() + pad_x)
    ax.set_ylim(ys.min() - 2 * pad_y, ys.max() + pad_y)
    ax.set_axis_off()
    return _save(fig, out)


__all__ = [
    "CURVE_STYLE",
    "DEFAULT_LAYOUT",
    "EDGE_STYLE",
    "KIND_COLOURS",
    "km_figure",
    "organ_graph",
    "organ_graph_figure",
    "organ_layout",
    "site_bar_chart",
    "size_distribution_figure",
    "write_table",
]
