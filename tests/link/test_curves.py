"""Response curves of the tissue → body link (link/): file format, checks, interpolation,
the §10.2 defaults, and the cohort that reads a curve file (SCIENCE.md §10).

The hand-made curve of :func:`good_doc` lies on ã = 0, 0.5, 1, 1.5, 2 with bands and 10
replicates per point, and carries an arm; each refusal test breaks one thing in it and
checks that the message names the file, the key path and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import doctest
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from metastroma.body.cohort import build_plan, simulate_cohort
from metastroma.config.cohort import (
    CohortScenario,
    Ddr2ResponseConfig,
    growth_multiplier,
    relative_intravasation,
)
from metastroma.errors import ConfigError
from metastroma.link import (
    ArmPoint,
    ArmValue,
    CurveData,
    ResponseCurves,
    default_curve_file,
    default_curves,
    interpolate,
    load_cohort,
    prior_curve_file,
    read_curves,
    to_document,
    write_curves,
)
from metastroma.link import curves as curves_module
from metastroma.store.cohort import write_cohort

SHA = "0" * 63 + "1"

# ----------------------------------------------------------------------- helpers


def good_doc() -> dict[str, Any]:
    """A valid curve file: r_intra and m_grow 1 at ã = 1, bands around the means."""
    x = [0.0, 0.5, 1.0, 1.5, 2.0]

    def series(mean: list[float], half: float, unit: str = "1") -> dict[str, Any]:
        return {
            "unit": unit,
            "mean": mean,
            "ci_low": [m - half for m in mean],
            "ci_high": [m + half for m in mean],
            "n": [10] * len(mean),
        }

    return {
        "format": "metastroma-response-curves",
        "format_version": 1,
        "axis": {"name": "relative_activity", "unit": "1"},
        "x": x,
        "quantities": {
            "intravasation_multiplier": series([0.3, 0.6, 1.0, 1.3, 1.5], 0.05),
            "cluster_event_fraction": series([0.02, 0.025, 0.03, 0.035, 0.04], 0.005),
            "growth_multiplier": series([0.9, 0.95, 1.0, 1.04, 1.07], 0.01),
            "invasion_depth_um": series([10.0, 20.0, 40.0, 55.0, 60.0], 5.0, "µm"),
        },
        "arms": {
            "cancer_ko": {
                "x": 0.0,
                "quantities": {
                    "intravasation_multiplier": {
                        "unit": "1",
                        "mean": 0.28,
                        "ci_low": 0.2,
                        "ci_high": 0.36,
                        "n": 10,
                    }
                },
            }
        },
        "provenance": {
            "package_version": "0.1.0",
            "created_utc": "2025-01-31T12:00:00+00:00",
            "producer": "metastroma link scan.yaml --out curves.json",
            "scenario_sha256": {"ddr2_wt_msc_2d": SHA},
            "seeds": list(range(10)),
            "replicates_per_point": 10,
            "grid": "relative_activity 0-2, 5 points (knockdown and blockade scan)",
            "ci_method": "percentile bootstrap, 2000 resamples",
            "host": "kept as it is",
        },
    }


def flat(values: list[float], n: int = 10) -> dict[str, Any]:
    """A dimensionless series with a zero-width band."""
    return {
        "unit": "1",
        "mean": list(values),
        "ci_low": list(values),
        "ci_high": list(values),
        "n": [n] * len(values),
    }


def write_doc(tmp_path: Path, doc: Any, name: str = "curves.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        read_curves(path)
    return str(err.value)


def assert_line(message: str, pattern: str) -> None:
    assert re.search(pattern, message, flags=re.MULTILINE), message


def get_path(doc: dict[str, Any], dotted: str) -> tuple[Any, str]:
    """The container of the last key of ``dotted`` and that key."""
    parts = dotted.split(".")
    cur: Any = doc
    for p in parts[:-1]:
        cur = cur[p]
    return cur, parts[-1]


# ----------------------------------------------------------------------- round trip


def test_round_trip_write_then_read_gives_equal_curves(tmp_path: Path) -> None:
    first = read_curves(write_doc(tmp_path, good_doc()))
    assert first.arms["cancer_ko"] == ArmPoint(
        0.0, {"intravasation_multiplier": ArmValue(0.28, 0.2, 0.36, 10)}
    )
    assert first.provenance["host"] == "kept as it is"
    out = tmp_path / "again.json"
    write_curves(first, out)
    second = read_curves(out)
    assert second == first
    assert second.content_sha256() == first.content_sha256()
    assert to_document(second) == good_doc()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # a change anywhere makes them differ
    q = first.quantities["growth_multiplier"]
    m = q.mean.copy()
    m[0] += 0.001
    third = dataclasses.replace(
        first,
        quantities={**first.quantities, "growth_multiplier": CurveData(m, m, m, q.n)},
    )
    assert third != first and third.content_sha256() != first.content_sha256()


def test_curves_are_read_only() -> None:
    c = default_curves(Ddr2ResponseConfig())
    with pytest.raises(ValueError, match="read-only"):
        c.x[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        c.quantities["growth_multiplier"].mean[0] = 5.0


def test_constructing_invalid_curves_is_refused() -> None:
    c = default_curves(Ddr2ResponseConfig())
    with pytest.raises(
        ConfigError,
        match=r"^ResponseCurves: provenance\.where = \"x\": not a JSON value",
    ):
        dataclasses.replace(c, provenance={**c.provenance, "where": Path("x")})
    q = c.quantities["growth_multiplier"]
    with pytest.raises(
        ConfigError, match=r"^ResponseCurves: quantities\.growth_multiplier\.mean\[0\]"
    ):
        dataclasses.replace(
            c,
            quantities={
                **c.quantities,
                "growth_multiplier": CurveData(-q.mean, -q.mean, -q.mean, q.n),
            },
        )


# ----------------------------------------------------------------------- refusals


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert_line(
        refused(tmp_path / "nowhere.json"),
        r"nowhere\.json: response-curve file not found",
    )


def test_text_that_is_not_json_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    path.write_text('{\n  "format": "metastroma-response-curves",\n  "x": [0, 1,\n}\n')
    assert_line(refused(path), r"^curves\.json:4: not valid JSON")


def test_undecodable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert_line(refused(path), r"curves\.json: cannot read response-curve file")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    text = json.dumps(good_doc())
    path.write_text(
        text.replace('"format_version": 1', '"format_version": 1, "x": [0, 1]')
    )
    assert_line(refused(path), r"^curves\.json: not valid JSON: key 'x' given twice")


def test_a_json_value_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    msg = refused(write_doc(tmp_path, [1, 2, 3]))
    assert_line(
        msg,
        r"^curves\.json: \(top level\) = \[1, 2, 3\]: a response-curve file must be a JSON object",
    )


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        (
            "format",
            "something-else",
            r"^curves\.json: format = \"something-else\": must be 'metastroma-response-curves'",
        ),
        (
            "format_version",
            2,
            r"^curves\.json: format_version = 2: unsupported version; this metastroma reads version 1",
        ),
        (
            "format_version",
            "1",
            r"^curves\.json: format_version = \"1\": unsupported version",
        ),
    ],
    ids=["format", "version", "version-text"],
)
def test_another_format_or_version_is_refused_at_once(
    tmp_path: Path, key: str, value: Any, pattern: str
) -> None:
    doc = good_doc()
    doc[key] = value
    doc["x"] = "broken too"  # not reported: another format is refused first
    msg = refused(write_doc(tmp_path, doc))
    assert_line(msg, pattern)
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    "key",
    [
        "format",
        "format_version",
        "axis",
        "x",
        "quantities",
        "provenance",
        "axis.unit",
        "quantities.intravasation_multiplier",
        "quantities.cluster_event_fraction",
        "quantities.growth_multiplier",
        "quantities.growth_multiplier.ci_low",
        "quantities.growth_multiplier.n",
        "quantities.growth_multiplier.unit",
        "arms.cancer_ko.x",
        "arms.cancer_ko.quantities.intravasation_multiplier.ci_high",
        *[f"provenance.{k}" for k in curves_module.PROVENANCE_KEYS],
    ],
)
def test_each_missing_key_is_named(tmp_path: Path, key: str) -> None:
    doc = good_doc()
    parent, last = get_path(doc, key)
    del parent[last]
    msg = refused(write_doc(tmp_path, doc))
    assert_line(
        msg, rf"^curves\.json: {re.escape(key)}: required (key|quantity) is missing"
    )


def test_several_missing_keys_are_all_named(tmp_path: Path) -> None:
    doc = good_doc()
    del doc["quantities"]["growth_multiplier"]
    del doc["provenance"]["seeds"]
    del doc["provenance"]["ci_method"]
    lines = refused(write_doc(tmp_path, doc)).splitlines()
    assert len(lines) == 3, lines
    for key in (
        "quantities.growth_multiplier",
        "provenance.seeds",
        "provenance.ci_method",
    ):
        assert any(line.startswith(f"curves.json: {key}: required") for line in lines)


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        (
            "extra",
            r"^curves\.json: extra: unknown key; allowed: format, format_version, axis, x, quantities, provenance, arms",
        ),
        (
            "quantities.growth_rate",
            r"^curves\.json: quantities\.growth_rate: unknown quantity; allowed: intravasation_multiplier",
        ),
        (
            "quantities.growth_multiplier.sd",
            r"^curves\.json: quantities\.growth_multiplier\.sd: unknown key",
        ),
        (
            "arms.wt",
            r"^curves\.json: arms\.wt: unknown arm; allowed: cancer_ko, msc_null, host_null, host_het, no_msc",
        ),
    ],
)
def test_unknown_keys_are_refused(tmp_path: Path, key: str, pattern: str) -> None:
    doc = good_doc()
    parent, last = get_path(doc, key)
    parent[last] = {}
    assert_line(refused(write_doc(tmp_path, doc)), pattern)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        (
            "axis.name",
            "coherency",
            r"^curves\.json: axis\.name = \"coherency\": unknown axis; allowed: relative_activity",
        ),
        (
            "axis.unit",
            "1/min",
            r"^curves\.json: axis\.unit = \"1/min\": must be '1' for relative_activity",
        ),
        (
            "quantities.invasion_depth_um.unit",
            "mm",
            r"^curves\.json: quantities\.invasion_depth_um\.unit = \"mm\": must be 'µm' for invasion_depth_um",
        ),
        ("x", "0-2", r"^curves\.json: x = \"0-2\": must be a list of numbers"),
        ("x", [0.0, True], r"^curves\.json: x\[1\] = true: must be a number"),
        (
            "quantities.growth_multiplier.n",
            [10, 10, 10.5, 10, 10],
            r"^curves\.json: quantities\.growth_multiplier\.n\[2\] = 10\.5: must be an integer",
        ),
        (
            "quantities.growth_multiplier.n",
            [10, -1, 10, 10, 10],
            r"^curves\.json: quantities\.growth_multiplier\.n\[1\] = -1: must be >= 0 \(replicates\)",
        ),
        (
            "arms.cancer_ko.x",
            -0.1,
            r"^curves\.json: arms\.cancer_ko\.x = -0\.1: must be >= 0",
        ),
        (
            "arms.cancer_ko.quantities.intravasation_multiplier.n",
            2.5,
            r"^curves\.json: arms\.cancer_ko\.quantities\.intravasation_multiplier\.n = 2\.5: must be an integer",
        ),
    ],
    ids=[
        "axis",
        "axis-unit",
        "unit",
        "x-text",
        "x-bool",
        "n-float",
        "n-negative",
        "arm-x",
        "arm-n",
    ],
)
def test_wrong_types_and_units_are_refused(
    tmp_path: Path, key: str, value: Any, pattern: str
) -> None:
    doc = good_doc()
    parent, last = get_path(doc, key)
    parent[last] = value
    assert_line(refused(write_doc(tmp_path, doc)), pattern)


@pytest.mark.parametrize(
    ("key", "index", "value", "shown"),
    [
        ("quantities.intravasation_multiplier.mean", 3, math.nan, "nan"),
        ("quantities.cluster_event_fraction.ci_high", 0, math.inf, "inf"),
        ("x", 4, math.inf, "inf"),
        (
            "arms.cancer_ko.quantities.intravasation_multiplier.mean",
            None,
            math.nan,
            "nan",
        ),
        ("provenance.wall_s", None, -math.inf, "-inf"),
    ],
)
def test_non_finite_values_are_refused(
    tmp_path: Path, key: str, index: int | None, value: float, shown: str
) -> None:
    doc = good_doc()
    parent, last = get_path(doc, key)
    if index is None:
        parent[last] = value
        where = re.escape(key)
    else:
        parent[last][index] = value
        where = re.escape(f"{key}[{index}]")
    path = write_doc(tmp_path, doc)
    assert "NaN" in path.read_text() or "Infinity" in path.read_text()
    assert_line(
        refused(path), rf"^curves\.json: {where} = {shown}: must be a finite number"
    )


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (
            [0.0, 0.5, 1.0, 0.9, 2.0],
            r"^curves\.json: x\[3\] = 0\.9: the grid must be strictly increasing \(x\[2\] = 1\)",
        ),
        (
            [0.0, 0.5, 1.0, 1.0, 2.0],
            r"^curves\.json: x\[3\] = 1\.0: the grid must be strictly increasing \(x\[2\] = 1\)",
        ),
        (
            [-0.5, 0.5, 1.0, 1.5, 2.0],
            r"^curves\.json: x\[0\] = -0\.5: must be >= 0 on this axis",
        ),
    ],
    ids=["decreasing", "repeated", "negative"],
)
def test_a_grid_that_is_not_strictly_increasing_is_refused(
    tmp_path: Path, x: list[float], pattern: str
) -> None:
    doc = good_doc()
    doc["x"] = x
    assert_line(refused(write_doc(tmp_path, doc)), pattern)


def test_a_grid_of_one_point_is_refused(tmp_path: Path) -> None:
    doc = good_doc()
    doc["x"] = [1.0]
    for q in doc["quantities"].values():
        for k in ("mean", "ci_low", "ci_high", "n"):
            q[k] = q[k][2:3]
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: x = \[1\.0\]: needs at least 2 grid points",
    )


@pytest.mark.parametrize("key", ["mean", "ci_low", "ci_high", "n"])
def test_arrays_of_the_wrong_length_are_refused(tmp_path: Path, key: str) -> None:
    doc = good_doc()
    doc["quantities"]["cluster_event_fraction"][key].pop()
    assert_line(
        refused(write_doc(tmp_path, doc)),
        rf"^curves\.json: quantities\.cluster_event_fraction\.{key} = \[0\.\d+, .*\]|"
        rf"^curves\.json: quantities\.cluster_event_fraction\.{key} = \[10, 10, 10, 10\]",
    )
    assert "has 4 values; the grid x has 5" in refused(write_doc(tmp_path, doc))


@pytest.mark.parametrize(
    ("key", "index", "value", "pattern"),
    [
        (
            "ci_low",
            2,
            1.02,
            r"^curves\.json: quantities\.growth_multiplier\.ci_low\[2\] = 1\.02: is above mean = 1: the band must contain the mean",
        ),
        (
            "ci_high",
            4,
            1.06,
            r"^curves\.json: quantities\.growth_multiplier\.ci_high\[4\] = 1\.06: is below mean = 1\.07: the band must contain the mean",
        ),
    ],
)
def test_a_band_that_does_not_contain_the_mean_is_refused(
    tmp_path: Path, key: str, index: int, value: float, pattern: str
) -> None:
    doc = good_doc()
    doc["quantities"]["growth_multiplier"][key][index] = value
    assert_line(refused(write_doc(tmp_path, doc)), pattern)


def test_an_arm_band_that_does_not_contain_the_mean_is_refused(tmp_path: Path) -> None:
    doc = good_doc()
    doc["arms"]["cancer_ko"]["quantities"]["intravasation_multiplier"]["ci_low"] = 0.3
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: arms\.cancer_ko\.quantities\.intravasation_multiplier\.ci_low = 0\.3: is above mean = 0\.28",
    )


@pytest.mark.parametrize(
    ("key", "values", "pattern"),
    [
        (
            "mean",
            [0.02, 0.025, 1.2, 0.035, 0.04],
            r"quantities\.cluster_event_fraction\.mean\[2\] = 1\.2: must be in \[0, 1\] \(a fraction\)",
        ),
        (
            "ci_low",
            [-0.01, 0.02, 0.025, 0.03, 0.035],
            r"quantities\.cluster_event_fraction\.ci_low\[0\] = -0\.01: must be in \[0, 1\] \(a fraction\)",
        ),
    ],
)
def test_fractions_outside_zero_one_are_refused(
    tmp_path: Path, key: str, values: list[float], pattern: str
) -> None:
    doc = good_doc()
    q = doc["quantities"]["cluster_event_fraction"]
    q[key] = values
    q["ci_high"] = [max(a, b) for a, b in zip(q["ci_high"], q["mean"], strict=True)]
    q["ci_low"] = [min(a, b) for a, b in zip(q["ci_low"], q["mean"], strict=True)]
    assert_line(refused(write_doc(tmp_path, doc)), "^curves\\.json: " + pattern)


@pytest.mark.parametrize("name", ["intravasation_multiplier", "growth_multiplier"])
def test_multipliers_that_are_not_positive_are_refused(
    tmp_path: Path, name: str
) -> None:
    doc = good_doc()
    q = doc["quantities"][name]
    q["ci_low"][0] = 0.0
    msg = refused(write_doc(tmp_path, doc))
    assert_line(
        msg,
        rf"^curves\.json: quantities\.{name}\.ci_low\[0\] = 0\.0: must be > 0 \(a multiplier\)",
    )
    q["mean"][0] = q["ci_low"][0] = -0.2
    msg = refused(write_doc(tmp_path, doc))
    assert_line(
        msg, rf"^curves\.json: quantities\.{name}\.mean\[0\] = -0\.2: must be > 0"
    )


def test_a_negative_depth_is_refused(tmp_path: Path) -> None:
    doc = good_doc()
    doc["quantities"]["invasion_depth_um"]["ci_low"][0] = -1.0
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: quantities\.invasion_depth_um\.ci_low\[0\] = -1\.0: must be >= 0",
    )


def test_zero_replicates_need_a_zero_width_band(tmp_path: Path) -> None:
    doc = good_doc()
    doc["quantities"]["growth_multiplier"]["n"][1] = 0
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: quantities\.growth_multiplier\.n\[1\] = 0: 0 replicates \(a prior\) needs a zero-width band",
    )


@pytest.mark.parametrize("name", ["intravasation_multiplier", "growth_multiplier"])
def test_a_relative_quantity_not_one_at_the_reference_is_refused(
    tmp_path: Path, name: str
) -> None:
    doc = good_doc()
    q = doc["quantities"][name]
    for k in ("mean", "ci_low", "ci_high"):
        q[k][2] += 2e-6
    assert_line(
        refused(write_doc(tmp_path, doc)),
        rf"^curves\.json: quantities\.{name}\.mean: is 1\.000002 at relative_activity = 1 \(interpolated\); a relative quantity must be 1 there",
    )
    for k in ("mean", "ci_low", "ci_high"):
        q[k][2] -= 1.5e-6  # 0.5e-6 off: within the tolerance
    read_curves(write_doc(tmp_path, doc))


def test_the_reference_is_checked_through_the_interpolant(tmp_path: Path) -> None:
    """Without a grid point at ã = 1, r(1) is read through PCHIP: linear data that pass
    through 1 are accepted, data whose interpolant misses 1 are refused."""
    cfg = Ddr2ResponseConfig()
    doc = good_doc()
    x = [0.0, 0.45, 0.9, 1.3, 2.0]
    doc["x"] = x
    q = doc["quantities"]
    q["intravasation_multiplier"] = flat([relative_intravasation(cfg, v) for v in x])
    q["growth_multiplier"] = flat([growth_multiplier(cfg, v) for v in x])
    c = read_curves(write_doc(tmp_path, doc))
    assert (
        abs(float(interpolate(c, "intravasation_multiplier", 1.0).mean) - 1.0) < 1e-12
    )
    # the same points bent off the line between 0.9 and 1.3: r(0.9) = r(1.3) = 1
    q["intravasation_multiplier"] = flat([0.35, 0.6, 1.0, 1.0, 1.5])
    read_curves(write_doc(tmp_path, doc))  # flat between equal points: 1 at ã = 1
    q["intravasation_multiplier"] = flat([0.35, 0.6, 1.0, 1.2, 1.5])
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: quantities\.intravasation_multiplier\.mean: is 1\.0\d+ at relative_activity = 1 \(interpolated\)",
    )


def test_a_grid_without_the_reference_is_refused(tmp_path: Path) -> None:
    doc = good_doc()
    doc["x"] = [0.0, 0.2, 0.4, 0.6, 0.8]
    assert_line(
        refused(write_doc(tmp_path, doc)),
        r"^curves\.json: x: the grid \[0, 0\.8\] must contain the reference relative_activity = 1",
    )


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        (
            "created_utc",
            "2025-01-31T12:00:00+02:00",
            r"provenance\.created_utc = \"2025-01-31T12:00:00\+02:00\": must be in UTC",
        ),
        (
            "created_utc",
            "2025-01-31T12:00:00",
            r"provenance\.created_utc = \"2025-01-31T12:00:00\": must be in UTC",
        ),
        (
            "created_utc",
            "yesterday",
            r"provenance\.created_utc = \"yesterday\": not an ISO 8601 time",
        ),
        (
            "scenario_sha256",
            {"wt": "abc"},
            r"provenance\.scenario_sha256\.wt = \"abc\": must be a SHA-256 digest",
        ),
        (
            "scenario_sha256",
            {},
            r"provenance\.scenario_sha256 = \{…\}: must be a non-empty mapping",
        ),
        (
            "seeds",
            [],
            r"provenance\.seeds = \[\]: must be a non-empty list of integers >= 0 or a text",
        ),
        ("seeds", [1, -2], r"provenance\.seeds = \[1, -2\]: must be a non-empty list"),
        (
            "replicates_per_point",
            -1,
            r"provenance\.replicates_per_point = -1: must be an integer >= 0",
        ),
        ("producer", " ", r"provenance\.producer = \" \": must be a non-empty text"),
        (
            "package_version",
            1,
            r"provenance\.package_version = 1: must be a non-empty text",
        ),
    ],
)
def test_bad_provenance_is_refused(
    tmp_path: Path, key: str, value: Any, pattern: str
) -> None:
    doc = good_doc()
    doc["provenance"][key] = value
    assert_line(refused(write_doc(tmp_path, doc)), "^curves\\.json: " + pattern)


def test_seeds_may_be_a_range_text_and_time_may_end_in_z(tmp_path: Path) -> None:
    doc = good_doc()
    doc["provenance"]["seeds"] = "0-9"
    doc["provenance"]["created_utc"] = "2025-01-31T12:00:00Z"
    assert read_curves(write_doc(tmp_path, doc)).provenance["seeds"] == "0-9"


# ----------------------------------------------------------------------- interpolation


def test_interpolation_is_exact_at_grid_points(tmp_path: Path) -> None:
    c = read_curves(write_doc(tmp_path, good_doc()))
    for name, q in c.quantities.items():
        got = interpolate(c, name, c.x)
        assert np.array_equal(got.mean, q.mean), name
        assert np.array_equal(got.low, q.ci_low), name
        assert np.array_equal(got.high, q.ci_high), name
        one = interpolate(c, name, 1.5)  # a scalar gives 0-d arrays
        assert one.mean.shape == () and float(one.mean) == q.mean[3]


def test_interpolation_between_points_differs_from_linear_where_it_should(
    tmp_path: Path,
) -> None:
    c = read_curves(write_doc(tmp_path, good_doc()))
    # between ã = 1 and 1.5 the mean bends (slopes 0.8 then 0.6): PCHIP is not linear
    got = float(interpolate(c, "intravasation_multiplier", 1.25).mean)
    assert 1.0 < got < 1.3 and abs(got - 1.15) > 1e-3


def test_interpolation_refuses_outside_the_grid(tmp_path: Path) -> None:
    c = read_curves(write_doc(tmp_path, good_doc()))
    for bad in (2.5, -0.1, math.nan):
        with pytest.raises(
            ValueError,
            match=r"relative_activity = (2\.5|-0\.1|nan) is outside the curve grid \[0, 2\]: response curves are not extrapolated",
        ):
            interpolate(c, "growth_multiplier", [1.0, bad])
    assert (
        float(interpolate(c, "growth_multiplier", 2.0).mean) == 1.07
    )  # the edge is in
    with pytest.raises(
        ValueError,
        match=r"no quantity 'tacs3_fraction' in these curves; they hold intravasation_multiplier",
    ):
        interpolate(c, "tacs3_fraction", 1.0)


def _curve(x: np.ndarray, mean: np.ndarray, half: np.ndarray) -> ResponseCurves:
    """Curves over ``x`` with ``mean`` as an extra quantity (the required ones flat at 1)."""
    ones = np.ones_like(x)
    flat = CurveData(ones, ones, ones, np.full(x.size, 3))
    frac = CurveData(0.5 * ones, 0.5 * ones, 0.5 * ones, np.full(x.size, 3))
    return ResponseCurves(
        axis=curves_module.Axis(),
        x=x,
        quantities={
            "intravasation_multiplier": flat,
            "cluster_event_fraction": frac,
            "growth_multiplier": flat,
            "invasion_depth_um": CurveData(
                mean, mean - half, mean + half, np.full(x.size, 3)
            ),
        },
        provenance=good_doc()["provenance"],
    )


@st.composite
def monotone_curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A grid on [0, 2] through 1 (where the required curves are 1) and monotone data."""
    inner = draw(st.lists(st.integers(1, 199), min_size=0, max_size=10, unique=True))
    x = np.unique(np.array([0, 100, 200, *inner])) / 100.0
    n = x.size
    steps = draw(st.lists(st.floats(0.0, 50.0), min_size=n - 1, max_size=n - 1))
    mean = 200.0 + np.concatenate([[0.0], np.cumsum(steps)])
    half = np.array(draw(st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n)))
    sign = draw(st.sampled_from([1, -1]))
    return x, mean, half, sign


@given(monotone_curves())
def test_interpolant_of_monotone_data_is_monotone_and_stays_between_neighbours(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int],
) -> None:
    x, mean, half, sign = case
    mean = mean if sign > 0 else mean[::-1].copy()
    c = _curve(x, mean, half)
    dense = np.linspace(0.0, 2.0, 2001)
    got = interpolate(c, "invasion_depth_um", dense)
    d = np.diff(got.mean) * sign
    assert np.all(d >= -1e-9 * mean.max()), d.min()
    # each interval stays within its two data points (no overshoot)
    i = np.clip(np.searchsorted(x, dense, side="right") - 1, 0, x.size - 2)
    lo = np.minimum(mean[i], mean[i + 1])
    hi = np.maximum(mean[i], mean[i + 1])
    tol = 1e-9 * mean.max()
    assert np.all(got.mean >= lo - tol) and np.all(got.mean <= hi + tol)
    # the interpolated band contains the interpolated mean
    assert np.all(got.low <= got.mean) and np.all(got.mean <= got.high)


def test_monotone_test_can_fail_on_an_overshooting_interpolant() -> None:
    """The property above would catch a cubic spline's overshoot on the same kind of data."""
    from scipy.interpolate import CubicSpline

    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    dense = np.linspace(0, 2, 401)
    assert np.any(np.diff(CubicSpline(x, y)(dense)) < -1e-6)
    c = _curve(x, 200.0 + 100.0 * y, np.zeros(5))
    assert np.all(np.diff(interpolate(c, "invasion_depth_um", dense).mean) >= 0.0)


# ----------------------------------------------------------------------- §10.2 defaults


def test_default_curves_reproduce_the_science_formulas() -> None:
    cfg = Ddr2ResponseConfig()
    c = default_curves(cfg)
    assert c.provenance["producer"] == "SCIENCE.md §10.2 defaults"
    assert np.allclose(c.x, np.linspace(0.0, 2.0, 21), rtol=0, atol=1e-15)
    rng = np.random.default_rng(17)
    xs = np.concatenate([c.x, rng.uniform(0.0, 2.0, 200)])
    r = interpolate(c, "intravasation_multiplier", xs)
    m = interpolate(c, "growth_multiplier", xs)
    f = interpolate(c, "cluster_event_fraction", xs)
    want_r = 0.35 + 0.65 * xs  # SCIENCE.md §10.2, written out
    want_m = (1.0 + 0.3 * 0.3 * xs) / (1.0 + 0.3 * 0.3)
    np.testing.assert_allclose(r.mean, want_r, rtol=0, atol=1e-13)
    np.testing.assert_allclose(m.mean, want_m, rtol=0, atol=1e-13)
    assert np.all(f.mean == 0.03)
    for band in (r, m, f):  # zero-width bands
        assert np.array_equal(band.low, band.mean) and np.array_equal(
            band.high, band.mean
        )
    # at grid points: bit for bit the body's own formulas
    for v, got_r, got_m in zip(c.x, r.mean, m.mean, strict=False):
        assert got_r == relative_intravasation(cfg, float(v))
        assert got_m == growth_multiplier(cfg, float(v))


def test_default_curves_follow_the_config() -> None:
    cfg = Ddr2ResponseConfig(
        intravasation_intercept=0.2,
        intravasation_slope=0.8,
        cluster_event_fraction=0.05,
        growth_gain=0.5,
    )
    c = default_curves(cfg, x=[0.0, 0.25, 1.0, 3.0])
    got = interpolate(c, "intravasation_multiplier", [0.0, 2.0]).mean
    np.testing.assert_allclose(got, [0.2, 1.8], rtol=1e-14)
    assert float(interpolate(c, "cluster_event_fraction", 0.7).mean) == 0.05
    assert (
        c.provenance["scenario_sha256"]["ddr2"]
        != default_curves(Ddr2ResponseConfig()).provenance["scenario_sha256"]["ddr2"]
    )


def test_the_shipped_prior_file_is_the_default_curves() -> None:
    """Regenerate after changing a §10.2 default: ``write_curves(default_curves(
    Ddr2ResponseConfig()), prior_curve_file())``."""
    path = prior_curve_file()
    assert path.is_file() and path.parent.name == "data"
    shipped = read_curves(path)
    fresh = default_curves(
        Ddr2ResponseConfig(), created_utc=shipped.provenance["created_utc"]
    )
    fresh_doc, shipped_doc = to_document(fresh), to_document(shipped)
    fresh_doc["provenance"]["package_version"] = shipped_doc["provenance"][
        "package_version"
    ]
    assert shipped_doc == fresh_doc


def test_doctests_of_the_curves_module_pass() -> None:
    result = doctest.testmod(curves_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 1 and result.failed == 0


# ----------------------------------------------------------------------- the cohort


def cohort_yaml(
    tmp_path: Path, ddr2: dict[str, Any], name: str = "cohort.yaml"
) -> Path:
    path = tmp_path / name
    data = {"seed": 5, "patients": 300, "ddr2": ddr2}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_cohort_with_the_shipped_default_file_equals_the_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "scen"
    (sub / "link").mkdir(parents=True)
    shutil.copy(prior_curve_file(), sub / "link" / "defaults.json")
    with_file = cohort_yaml(sub, {"high_fraction": 0.5, "curves": "link/defaults.json"})
    without = cohort_yaml(sub, {"high_fraction": 0.5}, "plain.yaml")
    monkeypatch.chdir(
        tmp_path
    )  # relative to the scenario file, not the working directory
    sc, curves = load_cohort(with_file)
    assert sc.ddr2.curves == (sub / "link" / "defaults.json").resolve()
    assert (
        curves is not None
        and curves.provenance["producer"] == "SCIENCE.md §10.2 defaults"
    )
    sc0, none = load_cohort(without)
    assert none is None and sc0.ddr2.curves is None
    a = simulate_cohort(sc, curves=curves)
    b = simulate_cohort(sc0)
    low = a.patients["ddr2_relative_activity"] == 0.5
    assert 100 < low.sum() < 200  # both categories present
    pd.testing.assert_frame_equal(a.patients, b.patients, check_exact=True)
    pd.testing.assert_frame_equal(a.metastases, b.metastases, check_exact=True)
    assert np.array_equal(a.plan.found, b.plan.found)
    # the manifest records the file and its provenance; config.yaml the absolute path
    out = write_cohort(a, tmp_path / "run", scenario_file=with_file)
    rec = out.manifest["ddr2_curves"]
    assert rec["path"] == str(sc.ddr2.curves)
    assert rec["provenance"] == curves.provenance
    assert rec["content_sha256"] == curves.content_sha256()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["ddr2_curves"] == rec
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["ddr2"]["curves"] == str(sc.ddr2.curves)
    assert load_cohort(tmp_path / "run" / "config.yaml")[1] == curves


def test_halved_intravasation_for_ddr2_low_gives_fewer_metastatic_low_patients() -> (
    None
):
    sc = CohortScenario.model_validate(
        {"seed": 5, "ddr2": {"high_fraction": 0.5, "relative_activity_low": 0.5}}
    )
    base = read_curves(prior_curve_file())
    q = base.quantities["intravasation_multiplier"]
    halved = np.where(base.x <= 0.5, 0.5 * q.mean, q.mean)  # r(1) = 1 still
    curves = dataclasses.replace(
        base,
        quantities={
            **base.quantities,
            "intravasation_multiplier": CurveData(halved, halved, halved, q.n),
        },
    )
    n = 4000  # two cohorts: about 1.2 s together once compiled (2 cores)
    a = simulate_cohort(sc, n, curves=base)
    b = simulate_cohort(sc, n, curves=curves)
    assert (
        b.plan.intravasation_multiplier[1] == 0.5 * a.plan.intravasation_multiplier[1]
    )
    assert (
        b.plan.intravasation_multiplier[0] == a.plan.intravasation_multiplier[0] == 1.0
    )
    low = (a.patients["ddr2_relative_activity"] == 0.5).to_numpy()
    assert 0.45 * n < low.sum() < 0.55 * n
    met_a = a.patients["time_to_distant_metastasis_days"].notna().to_numpy()
    met_b = b.patients["time_to_distant_metastasis_days"].notna().to_numpy()
    k_a, k_b = int(met_a[low].sum()), int(met_b[low].sum())
    assert k_a > 100  # enough events for the comparison to mean something
    assert k_b < k_a - 4 * math.sqrt(k_a + k_b), (k_a, k_b)
    # DDR2-high patients are untouched (common random numbers)
    pd.testing.assert_frame_equal(
        a.patients[~low].reset_index(drop=True),
        b.patients[~low].reset_index(drop=True),
        check_exact=True,
    )


def _bad_curves(tmp_path: Path) -> Path:
    doc = good_doc()
    doc["quantities"]["growth_multiplier"]["mean"][3] = -0.5
    doc["quantities"]["growth_multiplier"]["ci_low"][3] = -0.6
    return write_doc(tmp_path, doc, "bad.json")


def test_a_bad_curve_file_names_the_cohort_key_and_the_problem(tmp_path: Path) -> None:
    _bad_curves(tmp_path)
    path = cohort_yaml(tmp_path, {"high_fraction": 0.5, "curves": "bad.json"})
    with pytest.raises(ConfigError) as err:
        load_cohort(path)
    msg = str(err.value)
    assert_line(
        msg,
        r"^cohort\.yaml:\d+: ddr2\.curves = '.*bad\.json': bad\.json: quantities\.growth_multiplier\.mean\[3\] = -0\.5: must be > 0 \(a multiplier\)$",
    )
    assert all(line.startswith("cohort.yaml:") for line in msg.splitlines())


def test_a_missing_curve_file_names_the_cohort_key(tmp_path: Path) -> None:
    path = cohort_yaml(tmp_path, {"curves": "nowhere.json"})
    with pytest.raises(
        ConfigError,
        match=r"^cohort\.yaml:\d+: ddr2\.curves = 'nowhere\.json': file not found \(looked for .*nowhere\.json\)",
    ):
        load_cohort(path)


def test_a_grid_that_misses_a_category_is_refused(tmp_path: Path) -> None:
    cfg = Ddr2ResponseConfig()
    narrow = default_curves(cfg, x=[0.8, 1.0, 1.2])
    write_curves(narrow, tmp_path / "narrow.json")
    path = cohort_yaml(
        tmp_path, {"relative_activity_low": 0.5, "curves": "narrow.json"}
    )
    with pytest.raises(
        ConfigError,
        match=r"^cohort\.yaml:\d+: ddr2\.curves = '.*narrow\.json': narrow\.json: ddr2\.relative_activity_low = 0\.5 is outside the curve grid \[0\.8, 1\.2\]",
    ):
        load_cohort(path)
    # the body refuses too, naming the key, when handed the curves directly
    sc = CohortScenario.model_validate({"ddr2": {"relative_activity_low": 0.5}})
    with pytest.raises(
        ValueError,
        match=r"^ddr2\.relative_activity_low = 0\.5: relative_activity = 0\.5 is outside the curve grid \[0\.8, 1\.2\]",
    ):
        build_plan(sc, narrow)


def test_a_scenario_naming_curves_is_not_simulated_without_them(tmp_path: Path) -> None:
    path = cohort_yaml(tmp_path, {"curves": str(default_curve_file())})
    sc, curves = load_cohort(path)
    assert curves is not None
    with pytest.raises(
        ValueError,
        match=r"^ddr2\.curves = '.*default_curves\.json': the response-curve file is not loaded",
    ):
        simulate_cohort(sc, 10)


def test_curve_values_reach_the_plan_for_each_category(tmp_path: Path) -> None:
    """f_cl and m_grow of the file (not the config constants) set each category's plan."""
    c = read_curves(write_doc(tmp_path, good_doc()))
    sc = CohortScenario.model_validate(
        {
            "ddr2": {
                "relative_activity_low": 0.5,
                "cluster_event_fraction": 0.2,
                "growth_gain": 5.0,
            }
        }
    )
    plan = build_plan(sc, c)
    assert list(plan.intravasation_multiplier) == [1.0, 0.6]
    # f_cl relative to the file's WT value (0.03), on the body's calibrated 0.2
    np.testing.assert_allclose(plan.cluster_event_fraction, [0.2, 0.2 * 0.025 / 0.03])
    assert list(plan.growth_multiplier) == [1.0, 0.95]
    # the categories' cascades differ through f_cl: more cluster founders at 0.03
    clusters = plan.found[:, 1].sum(axis=(1, 2))
    singles = plan.found[:, 0].sum(axis=(1, 2))
    assert clusters[0] > clusters[1] and singles[0] < singles[1]
    plain_sc = CohortScenario.model_validate({"ddr2": {"relative_activity_low": 0.5}})
    same = copy.deepcopy(good_doc())
    same["quantities"]["cluster_event_fraction"] = flat([0.27] * 5)  # any flat level
    c2 = read_curves(write_doc(tmp_path, same, "same.json"))
    # a flat f_cl leaves the calibrated cascade exactly as without a file
    assert np.array_equal(build_plan(plain_sc, c2).found, build_plan(plain_sc).found)
