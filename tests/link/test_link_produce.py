"""The producer of response curves (`metastroma link`): aggregation and the CLI end to end."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from metastroma.link import (
    PROVENANCE_KEYS,
    default_curve_file,
    interpolate,
    load_link_scan,
    read_curves,
    write_curves,
)
from metastroma.link._aggregate import (
    bootstrap_mean_band,
    merge_by_activity,
    summarise_points,
    wilson_band,
)

REPO = Path(__file__).resolve().parents[2]
PRIMARY = REPO / "scenarios" / "link_primary_2d.yaml"


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metastroma.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# ----------------------------------------------------------------------- aggregation


def _members(
    values: dict[int, dict[str, np.ndarray]], events: dict[int, tuple[int, int]]
) -> pd.DataFrame:
    """A synthetic member table: point → column → (R,) values; events (n, k) per point."""
    rows = []
    for p, cols in values.items():
        n_rep = len(next(iter(cols.values())))
        n_ev, k_ev = events.get(p, (0, 0))
        for r in range(n_rep):
            row = {"point": p, "replicate": r}
            for c in (
                "activity",
                "hazard_per_min",
                "realised_per_min",
                "coherency_band",
                "invasion_depth_um",
                "tacs3_fraction",
                "colony_rate_per_day",
                "colony_activity",
            ):
                row[c] = float(cols[c][r]) if c in cols else 0.5
            # spread the pooled events over the replicates
            row["n_events"] = n_ev // n_rep + (r < n_ev % n_rep)
            row["n_cluster_events"] = k_ev // n_rep + (r < k_ev % n_rep)
            row["exit_cells"] = row["n_events"] + row["n_cluster_events"]
            rows.append(row)
    return pd.DataFrame(rows)


def test_bootstrap_band_contains_the_mean_and_has_the_normal_width() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.0, 2.0, 200)
    b = bootstrap_mean_band(x, 4000, np.random.default_rng(1))
    assert b.ci_low < b.mean < b.ci_high and b.n == 200
    assert b.mean == pytest.approx(float(x.mean()), abs=1e-12)
    se = float(x.std(ddof=1)) / np.sqrt(x.size)
    assert (b.ci_high - b.ci_low) == pytest.approx(2 * 1.96 * se, rel=0.15)
    one = bootstrap_mean_band(np.array([np.nan, 4.0]), 100, rng)
    assert (one.mean, one.ci_low, one.ci_high, one.n) == (4.0, 4.0, 4.0, 1)


def test_wilson_band_of_rare_events() -> None:
    lo, hi = wilson_band(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # Wilson 1927
    lo, hi = wilson_band(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(
        0.7634, abs=1e-4
    )


def test_relative_quantities_are_normalised_to_the_wt_point_with_paired_bands() -> None:
    rng = np.random.default_rng(5)
    wt_a = rng.uniform(0.2, 0.3, 10)
    wt_h = rng.uniform(1e-5, 3e-5, 10)
    wt_g = rng.uniform(0.3, 0.5, 10)
    table = _members(
        {
            0: {"activity": wt_a, "hazard_per_min": wt_h, "colony_rate_per_day": wt_g},
            1: {  # every replicate exactly half/double its WT pair
                "activity": 0.5 * wt_a,
                "hazard_per_min": 2.0 * wt_h,
                "colony_rate_per_day": 0.8 * wt_g,
            },
        },
        {0: (20, 5), 1: (0, 0)},
    )
    wt, half = summarise_points(table, [("wt", (0,)), ("half", (1,))], 0, 500, 1)
    for q in ("relative_activity", "intravasation_multiplier", "growth_multiplier"):
        b = wt.values[q]
        assert (b.mean, b.ci_low, b.ci_high) == (1.0, 1.0, 1.0), q
    # paired resampling: a constant ratio per replicate has a zero-width band
    for q, want in (
        ("relative_activity", 0.5),
        ("intravasation_multiplier", 2.0),
        ("growth_multiplier", 0.8),
    ):
        b = half.values[q]
        assert b.mean == pytest.approx(want, rel=1e-12)
        assert b.ci_high - b.ci_low < 1e-9 and b.n == 10
    # absolute rate: 1/min × 1440
    assert wt.values["intravasation_rate_per_day"].mean == pytest.approx(
        1440 * float(wt_h.mean()), rel=1e-12
    )
    # f_cl: pooled events with a Wilson band; a point without events gets the pooled
    # fraction of the whole scan and the band [0, 1]
    f = wt.values["cluster_event_fraction"]
    assert f.mean == 0.25 and (f.ci_low, f.ci_high) == pytest.approx(wilson_band(5, 20))
    g = half.values["cluster_event_fraction"]
    assert (g.mean, g.ci_low, g.ci_high) == (0.25, 0.0, 1.0) and half.n_events == 0


def test_unpaired_noise_gives_a_band_around_the_ratio() -> None:
    rng = np.random.default_rng(11)
    wt_h = rng.uniform(1e-5, 3e-5, 12)
    other = rng.uniform(1e-5, 3e-5, 12) * 0.5
    table = _members({0: {"hazard_per_min": wt_h}, 1: {"hazard_per_min": other}}, {})
    (s,) = summarise_points(table, [("p", (1,))], 0, 2000, 2)
    b = s.values["intravasation_multiplier"]
    assert b.mean == pytest.approx(float(other.mean() / wt_h.mean()), rel=1e-12)
    assert b.ci_low < b.mean < b.ci_high and b.ci_high - b.ci_low > 0.05


def test_ties_in_activity_are_merged_and_ties_with_wt_dropped() -> None:
    labels = ["fkd=0", "fkd=0.5", "theta=0.5", "fkd=1", "theta=0.01"]
    a = np.array([0.0, 0.5, 0.51, 1.0, 0.995])
    groups, merged, dropped = merge_by_activity(labels, a, 3, 0.02)
    assert [g[0] for g in groups] == ["fkd=0", "fkd=0.5+theta=0.5", "fkd=1"]
    assert [g[1] for g in groups] == [(0,), (1, 2), (3,)]
    assert len(merged) == 1 and "pooled" in merged[0]
    assert len(dropped) == 1 and dropped[0].startswith("theta=0.01")
    # merged members are pooled, pairing by replicate kept
    rng = np.random.default_rng(2)
    wt = rng.uniform(0.2, 0.3, 6)
    table = _members(
        {
            0: {"activity": wt},
            1: {"activity": 0.5 * wt},
            2: {"activity": 0.52 * wt},
        },
        {},
    )
    (s,) = summarise_points(table, [("m", (1, 2))], 0, 300, 3)
    assert s.values["relative_activity"].mean == pytest.approx(0.51, rel=1e-12)
    assert s.values["relative_activity"].n == 12


# ----------------------------------------------------------------------- end to end


def _scan(tmp_path: Path, **changes: object) -> Path:
    scan: dict[str, object] = {
        "name": "link_tiny",
        "primary": str(PRIMARY),
        "fixed": {"time.duration_min": 180},
        "window_min": [60, 180],
        "knockdown_fractions": [0, 0.5, 1],
        "blockades": [],
        "arms": ["cancer_ko", "host_het", "no_msc"],
        "colony": {"enabled": True, "duration_min": 180},
        "replicates": 2,
        "seed": 3,
        "bootstrap_resamples": 200,
    }
    scan.update(changes)
    path = tmp_path / "scan.yaml"
    path.write_text(yaml.safe_dump(scan, sort_keys=False), encoding="utf-8")
    return path


def test_link_cli_regenerates_a_small_curve_file(tmp_path: Path) -> None:
    scan = _scan(tmp_path)
    out = tmp_path / "out"
    res = cli("link", scan, "--out", out, "--workers", "0")
    assert res.returncode == 0, res.stderr + res.stdout
    for name in ("curves.json", "points.csv", "members.csv", "link.json", "scan.yaml"):
        assert (out / name).is_file(), name
    assert (out / "figures" / "curves.png").stat().st_size > 10_000
    assert "curves.json" in res.stdout and "r_intra" in res.stdout
    c = read_curves(out / "curves.json")
    # round trip: what was written reads back equal and writes back byte for byte
    write_curves(c, tmp_path / "again.json")
    assert read_curves(tmp_path / "again.json") == c
    assert (tmp_path / "again.json").read_bytes() == (out / "curves.json").read_bytes()
    # the grid: achieved ã, strictly increasing, KO at 0, WT exactly at 1
    assert np.all(np.diff(c.x) > 0) and c.x[0] == 0.0 and c.x[-1] == 1.0
    assert 0.0 < c.x[1] < 1.0  # f_KD = 0.5 lies between
    for q in ("intravasation_multiplier", "growth_multiplier"):
        assert float(interpolate(c, q, 1.0).mean) == 1.0
    assert list(c.quantities["intravasation_multiplier"].n) == [2, 2, 2]
    # arms: KO and slie/+ share the members of f_KD = 0 and WT
    assert set(c.arms) == {"cancer_ko", "host_het", "no_msc"}
    assert c.arms["cancer_ko"].x == 0.0 and c.arms["host_het"].x == 1.0
    ko = c.arms["cancer_ko"].quantities["intravasation_multiplier"]
    assert ko.mean == c.quantities["intravasation_multiplier"].mean[0]
    # provenance
    prov = c.provenance
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["producer"].startswith("metastroma link ")
    assert str(scan) in prov["producer"]
    assert prov["seeds"] == [3, 4] and prov["replicates_per_point"] == 2
    want = hashlib.sha256(PRIMARY.read_bytes()).hexdigest()
    assert prov["scenario_sha256"]["link_primary_2d.yaml"] == want
    assert prov["shared_members"] == {"cancer_ko": "fkd=0", "host_het": "fkd=1"}
    # tables: one member row per distinct scenario × replicate; points × quantities
    members = pd.read_csv(out / "members.csv")
    assert len(members) == 4 * 2 and set(members["replicate"]) == {0, 1}
    assert (members.loc[members["label"] == "fkd=0", "activity"] == 0.0).all()
    points = pd.read_csv(out / "points.csv")
    row = points[
        (points["point"] == "fkd=1") & (points["quantity"] == "relative_activity")
    ]
    assert float(row["mean"].iloc[0]) == 1.0
    # rerun: continues (nothing run again) and gives the same curves
    again = cli("link", scan, "--out", out, "--workers", "0", "-q")
    assert again.returncode == 0, again.stderr
    c2 = read_curves(out / "curves.json")
    assert np.array_equal(c2.x, c.x)
    assert c2.quantities == c.quantities and c2.arms == c.arms
    catalog = json.loads((out / "link.json").read_text())
    assert len(catalog["sessions"]) == 2 and catalog["status"] == "complete"
    # another scan into the same directory is refused without --force
    other = _scan(tmp_path, replicates=3)
    res3 = cli("link", other, "--out", out, "--workers", "0", "-q")
    assert res3.returncode == 2 and "another link scan" in res3.stderr


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"knockdown_fractions": [0, 1.5, 1]}, r"scan\.yaml:\d+: knockdown_fractions"),
        ({"knockdown_fractions": [0, 0.5]}, r"scan\.yaml:\d+: knockdown_fractions"),
        ({"blockades": [0.99]}, r"scan\.yaml:\d+: blockades"),
        ({"arms": ["cancer_ko", "mouse"]}, r"scan\.yaml:\d+: arms"),
        ({"replicate": 3}, r"scan\.yaml:\d+: replicate"),
        ({"window_min": [60, 5000]}, r"scan\.yaml:\d+: window_min .*duration_min"),
        ({"fixed": {"time.duration": 10}}, r"scan\.yaml:\d+: fixed\.time\.duration"),
        ({"primary": "nowhere.yaml"}, r"scan\.yaml:\d+: primary = 'nowhere\.yaml'"),
    ],
)
def test_a_bad_scan_file_exits_2_naming_file_line_and_key(
    tmp_path: Path, change: dict[str, object], pattern: str
) -> None:
    import re

    scan = _scan(tmp_path, **change)
    res = cli("link", scan, "--out", tmp_path / "out", "--workers", "0")
    assert res.returncode == 2, res.stderr
    assert re.search(pattern, res.stderr), res.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_default_scan_loads_and_spans_the_cohort_categories() -> None:
    plan = load_link_scan(REPO / "scenarios" / "link_default.yaml")
    assert plan.scan.replicates >= 10  # SCIENCE.md §10.2
    labels = [p.label for p in plan.points]
    assert "fkd=0" in labels and "fkd=1" in labels
    # identical scenarios share members: KO = f_KD 0, slie/+ = WT, MSC-null = host-null
    assert len(plan.run_labels) < len(plan.points)


def test_the_shipped_default_file_was_produced_by_the_default_scan() -> None:
    """Regenerate with the command in docs/link.md ("Producer") and copy curves.json."""
    c = read_curves(default_curve_file())
    prov = c.provenance
    assert prov["producer"].startswith("metastroma link scenarios/link_default.yaml")
    assert prov["replicates_per_point"] >= 10
    assert (
        prov["scenario_sha256"]["link_primary_2d.yaml"]
        == hashlib.sha256(PRIMARY.read_bytes()).hexdigest()
    )
    # it covers the cohort's default categories (ã 0.5 and 1) and the arms
    assert c.x[0] == 0.0 and c.x[-1] >= 1.0 and 1.0 in c.x
    assert {"cancer_ko", "msc_null", "host_null", "host_het", "no_msc"} <= set(c.arms)
    assert np.all(c.quantities["intravasation_multiplier"].n >= 10)
