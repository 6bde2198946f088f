"""Cohort figures and tables (issue 4, item 8): files written, and what is drawn is the data.

Each figure function renders and closes its figure; the tests wrap the private ``_save``
to keep a handle on the figure, then check its axes, lines, bars and texts against the
analysis functions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _cohort_factory import DAYS_PER_MONTH, synthetic_cohort
from matplotlib.patches import FancyArrowPatch, Rectangle

from metastroma.body import analysis as an
from metastroma.config.body import AnatomyConfig, default_anatomy
from metastroma.viz import body as vb

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_cohort(n=1500, seed=4)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Figures passed to ``_save``, kept for inspection after they are written."""
    kept: list[Any] = []
    save = vb._save

    def keep(fig: Any, path: Path, dpi: int = 130) -> Path:
        kept.append(fig)
        return save(fig, path, dpi)

    monkeypatch.setattr(vb, "_save", keep)
    return kept


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 5000 and data.startswith(PNG_MAGIC)


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_km_figure_draws_each_curve_with_band_and_numbers_at_risk(
    cohort: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, figures: list[Any]
) -> None:
    patients, _ = cohort
    curves = an.survival_curves(patients)
    out = vb.km_figure(curves, tmp_path / "km.png")
    assert out == tmp_path / "km.png" and _is_png(out) and _no_temp_files(tmp_path)
    fig = figures[-1]
    ax, ax_risk = fig.axes
    assert len(fig.axes) == 2
    curve_lines = [
        ln for ln in ax.get_lines() if ln.get_label().startswith(("overall", "distant"))
    ]
    assert len(curve_lines) == 2
    assert len(ax.collections) == 2  # one CI band per curve
    assert "median not reached" in curve_lines[0].get_label()
    # the numbers at risk printed are the patients still followed at each tick
    ticks = ax.get_xticks()
    texts = [int(t.get_text()) for t in ax_risk.texts]
    assert len(texts) == 2 * ticks.size
    fu_months = patients["follow_up_days"].to_numpy() / DAYS_PER_MONTH
    expected = [(fu_months >= t - 1e-6).sum() for t in ticks]
    assert texts[: ticks.size] == expected


def test_km_figure_after_metastasis_without_risk_table(
    cohort: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, figures: list[Any]
) -> None:
    patients, _ = cohort
    curves = an.survival_curves(patients)
    vb.km_figure(
        curves,
        tmp_path / "km.png",
        which=("after_first_metastasis",),
        show_at_risk=False,
    )
    fig = figures[-1]
    assert len(fig.axes) == 1
    (line,) = [
        ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("survival")
    ]
    med = curves.median_months("after_first_metastasis")
    assert f"median {med:.1f} mo" in line.get_label()
    tab = curves.curves[curves.curves["curve"] == "after_first_metastasis"]
    np.testing.assert_allclose(line.get_ydata(), tab["survival"])
    with pytest.raises(ValueError, match="which must name"):
        vb.km_figure(curves, tmp_path / "bad.png", which=("disease_free",))


def test_site_bar_chart_bars_are_the_shares_and_literature_is_overlaid(
    cohort: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, figures: list[Any]
) -> None:
    patients, _ = cohort
    out = vb.site_bar_chart(
        patients,
        tmp_path / "sites.png",
        literature_patient_shares={"bone_marrow": an.K3_BONE_SHARE_AT_DIAGNOSIS},
        literature_involvement_shares=an.K4_SITE_INVOLVEMENT_SHARES,
        first_at_diagnosis=True,
    )
    assert _is_png(out)
    fig = figures[-1]
    assert len(fig.axes) == 2
    ever = an.site_involvement(patients, "ever")
    n_org = len(ever)
    left, right = fig.axes
    bars = [p for p in left.patches if isinstance(p, Rectangle)]
    assert len(bars) == 2 * n_org
    heights = np.array([b.get_height() for b in bars[:n_org]])
    np.testing.assert_allclose(heights, 100 * ever["share_of_metastatic_patients"])
    right_heights = np.array([b.get_height() for b in right.patches[:n_org]])
    np.testing.assert_allclose(right_heights, 100 * ever["share_of_site_involvements"])
    (k3,) = [ln for ln in left.get_lines() if ln.get_label() == "literature"]
    np.testing.assert_allclose(k3.get_ydata(), [65.1])
    (k4,) = [ln for ln in right.get_lines() if ln.get_label() == "literature"]
    assert len(k4.get_ydata()) == 4
    organs = list(ever["organ"])
    assert list(k4.get_xdata()) == [
        organs.index(o) for o in organs if o in an.K4_SITE_INVOLVEMENT_SHARES
    ]


def test_size_distribution_has_one_panel_per_organ_and_the_thresholds(
    cohort: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, figures: list[Any]
) -> None:
    _, all_metastases = cohort
    three = ["axillary_nodes", "lungs", "liver"]
    metastases = all_metastases[all_metastases["organ"].isin(three)]
    anatomy = default_anatomy()
    out = vb.size_distribution_figure(metastases, tmp_path / "sizes.png", anatomy)
    assert _is_png(out)
    fig = figures[-1]
    organs = metastases["organ"].value_counts().index
    assert len(fig.axes) == len(organs)
    thresholds = {o.name: o.detection_threshold_cells for o in anatomy.organs}
    for ax, organ in zip(fig.axes, organs, strict=True):
        assert ax.get_title().startswith(organ.replace("_", " "))
        (line,) = ax.get_lines()
        assert line.get_xdata()[0] == pytest.approx(math.log10(thresholds[organ]))
        n = (metastases["organ"] == organ).sum()
        assert sum(p.get_height() for p in ax.patches) == n  # stacked detected + not
    few = all_metastases[all_metastases["organ"].isin(["axillary_nodes", "brain"])]
    vb.size_distribution_figure(few, tmp_path / "distant.png", distant_only=True)
    (ax,) = figures[-1].axes  # the nodal deposits are left out
    assert ax.get_title() == f"brain (n = {(few.organ == 'brain').sum()})"
    assert not ax.get_lines()  # no threshold without an anatomy


def test_organ_graph_figure_draws_every_edge_and_labels_fractions(
    tmp_path: Path, figures: list[Any]
) -> None:
    anatomy = default_anatomy()
    out = vb.organ_graph_figure(anatomy, tmp_path / "graph.png")
    assert _is_png(out)
    fig = figures[-1]
    (ax,) = fig.axes
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(anatomy.edges)
    texts = [t.get_text() for t in ax.texts]
    for o in anatomy.organs:
        assert vb._wrap(o.name) in texts
    n_partial = sum(e.flow_fraction < 1 - 1e-9 for e in anatomy.edges)
    percent = [t for t in texts if t.endswith(" %")]
    assert len(percent) == n_partial
    assert (
        "37.5 %" in percent and "12.5 %" in percent
    )  # axillary / internal mammary lymph
    widths = {a.get_linewidth() for a in arrows}
    assert max(widths) > 3 * min(widths)  # width follows the flow fraction


def test_organ_layout_is_hand_set_for_the_default_and_computed_otherwise() -> None:
    default = default_anatomy()
    pos = vb.organ_layout(default)
    assert pos == {o.name: vb.DEFAULT_LAYOUT[o.name] for o in default.organs}
    edited = AnatomyConfig.model_validate(
        json.loads(
            json.dumps(default.model_dump()).replace('"rest_of_body"', '"muscle"')
        )
    )
    pos = vb.organ_layout(edited)
    assert pos["lungs"] == vb.DEFAULT_LAYOUT["lungs"]  # known organs keep their place
    assert all(math.isfinite(c) for c in pos["muscle"])
    custom = AnatomyConfig.model_validate(
        {
            "organs": [
                {"name": "tumour", "kind": "primary"},
                {"name": "blood", "kind": "pool"},
                {"name": "lung", "kind": "capillary_bed"},
                {"name": "bone", "kind": "capillary_bed"},
            ],
            "edges": [
                {"source": "tumour", "target": "blood", "flow_fraction": 1.0},
                {"source": "blood", "target": "lung", "flow_fraction": 1.0},
                {"source": "lung", "target": "bone", "flow_fraction": 1.0},
                {"source": "bone", "target": "blood", "flow_fraction": 1.0},
            ],
        }
    )
    pos = vb.organ_layout(custom)
    xy = np.array(list(pos.values()))
    assert xy.shape == (4, 2) and np.isfinite(xy).all()
    assert len({tuple(np.round(p, 6)) for p in xy}) == 4  # no two organs on one spot


def test_figures_of_an_empty_cohort_are_written(
    tmp_path: Path, figures: list[Any]
) -> None:
    patients, metastases = synthetic_cohort(n=50, seed=1)
    empty_p, empty_m = patients.iloc[:0], metastases.iloc[:0]
    vb.km_figure(an.survival_curves(empty_p), tmp_path / "km.png")
    vb.site_bar_chart(empty_p, tmp_path / "sites.png")
    vb.size_distribution_figure(empty_m, tmp_path / "sizes.png")
    for name in ("km.png", "sites.png", "sizes.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    assert len(figures) == 3
    assert not plt.get_fignums()  # every figure was closed


def test_write_table_markdown_and_csv(
    cohort: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    patients, metastases = cohort
    table = an.summary_table(patients, metastases)
    md = vb.write_table(table, tmp_path / "summary.md")
    lines = md.read_text().splitlines()
    assert len(lines) == len(table) + 2
    assert lines[0] == "| metric | value | unit | ci_low | ci_high | reference |"
    csv = vb.write_table(table, tmp_path / "summary.csv")
    back = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(back["value"], table["value"])
    assert list(back["metric"]) == list(table["metric"])
    assert _no_temp_files(tmp_path)
    with pytest.raises(ValueError, match=r"suffix must be \.md or \.csv"):
        vb.write_table(table, tmp_path / "summary.txt")
