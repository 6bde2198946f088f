"""Checks of a parsed response-curve file: one line per problem, with its key path.

:func:`check_document` is what :func:`metastroma.link.read_curves` and the
:class:`~metastroma.link.ResponseCurves` constructor run; the rules are those of the file
format in :mod:`metastroma.link.curves`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import numpy as np

from metastroma.errors import ConfigError
from metastroma.link._spec import (
    _BAND_KEYS,
    _HEX64,
    _OPTIONAL_TOP_KEYS,
    _SERIES_KEYS,
    _TOP_KEYS,
    ARMS,
    AXES,
    FORMAT,
    FORMAT_VERSION,
    PROVENANCE_KEYS,
    QUANTITIES,
    REFERENCE_TOLERANCE,
    REQUIRED_QUANTITIES,
    AxisSpec,
    QuantitySpec,
    _pchip,
)


class _Problems:
    """Collects one line per problem: ``source: key.path = value: what is allowed``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, path: str, message: str, value: Any = ...) -> None:
        shown = "" if value is ... else f" = {_show(value)}"
        self.lines.append(f"{self.source}: {path or '(top level)'}{shown}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError("\n".join(self.lines))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list) and len(value) > 4:
        return f"[… {len(value)} values]"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _non_finite(obj: Any, path: str, problems: _Problems) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        problems.add(
            path, "must be a finite number (NaN and infinity are refused)", obj
        )
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _non_finite(v, f"{path}.{k}" if path else str(k), problems)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _non_finite(v, f"{path}[{i}]", problems)


def _keys(
    obj: Any,
    path: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: _Problems,
    what: str = "key",
) -> bool:
    """Check a JSON object's keys; False if it is not an object."""
    if not isinstance(obj, dict):
        problems.add(path, "must be a JSON object", obj)
        return False
    for k in required:
        if k not in obj:
            problems.add(f"{path}.{k}" if path else k, f"required {what} is missing")
    allowed = (*required, *optional)
    for k in obj:
        if k not in allowed:
            problems.add(
                f"{path}.{k}" if path else str(k),
                f"unknown {what}; allowed: {', '.join(allowed)}",
            )
    return True


def _array(
    value: Any,
    path: str,
    length: int | None,
    problems: _Problems,
    integer: bool = False,
) -> np.ndarray | None:
    """A list of numbers (integers if asked) of ``length`` as an array, or None."""
    if not isinstance(value, list):
        problems.add(path, "must be a list of numbers", value)
        return None
    ok = _is_int if integer else _is_number
    bad = [i for i, v in enumerate(value) if not ok(v)]
    if bad:
        i = bad[0]
        kind = "an integer" if integer else "a number"
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        problems.add(f"{path}[{i}]", f"must be {kind}{more}", value[i])
        return None
    if length is not None and len(value) != length:
        problems.add(
            path,
            f"has {len(value)} values; the grid x has {length}",
            value,
        )
        return None
    arr = np.asarray(value, dtype=np.int64 if integer else np.float64)
    if not integer and not np.all(np.isfinite(arr)):
        return None  # reported by the finite scan
    return arr


def _first_bad(mask: np.ndarray) -> tuple[int, str]:
    idx = np.flatnonzero(mask)
    more = f" (and {idx.size - 1} more)" if idx.size > 1 else ""
    return int(idx[0]), more


def _check_values(
    spec: QuantitySpec,
    bands: dict[str, np.ndarray],
    n: np.ndarray | None,
    path: str,
    problems: _Problems,
    scalar: bool = False,
) -> bool:
    """Band order, range of the quantity's kind, zero-width prior bands; True if clean."""
    before = len(problems.lines)

    def at(key: str, i: int) -> str:
        return f"{path}.{key}" if scalar else f"{path}.{key}[{i}]"

    mean, low, high = bands["mean"], bands["ci_low"], bands["ci_high"]
    for key, lhs, rhs, rel in (
        ("ci_low", low, mean, "mean"),
        ("ci_high", mean, high, "mean"),
    ):
        bad = lhs > rhs
        if bad.any():
            i, more = _first_bad(bad)
            if key == "ci_low":
                msg = f"is above {rel} = {float(mean[i]):g}"
                value = float(low[i])
            else:
                msg = f"is below {rel} = {float(mean[i]):g}"
                value = float(high[i])
            problems.add(
                at(key, i),
                f"{msg}: the band must contain the mean (ci_low <= mean <= ci_high)"
                f"{more}",
                value,
            )
    for key in _BAND_KEYS:
        arr = bands[key]
        if spec.kind == "multiplier":
            bad, allowed = arr <= 0.0, "must be > 0 (a multiplier)"
        elif spec.kind == "fraction":
            bad, allowed = (arr < 0.0) | (arr > 1.0), "must be in [0, 1] (a fraction)"
        else:
            bad, allowed = arr < 0.0, "must be >= 0"
        if bad.any():
            i, more = _first_bad(bad)
            problems.add(at(key, i), allowed + more, float(arr[i]))
    if n is not None:
        neg = n < 0
        if neg.any():
            i, more = _first_bad(neg)
            problems.add(at("n", i), "must be >= 0 (replicates)" + more, int(n[i]))
        prior = (n == 0) & ((low != mean) | (high != mean))
        if prior.any():
            i, more = _first_bad(prior)
            problems.add(
                at("n", i),
                "0 replicates (a prior) needs a zero-width band, ci_low = mean = "
                f"ci_high{more}",
                0,
            )
    return len(problems.lines) == before


def _check_series(
    name: str,
    q: Any,
    path: str,
    n_x: int | None,
    problems: _Problems,
    scalar: bool = False,
) -> np.ndarray | None:
    """One quantity (a curve, or an arm's scalars); returns its clean means, or None."""
    spec = QUANTITIES[name]
    if not _keys(q, path, _SERIES_KEYS, (), problems):
        return None
    if "unit" in q and q["unit"] != spec.unit:
        problems.add(f"{path}.unit", f"must be {spec.unit!r} for {name}", q["unit"])
    bands: dict[str, np.ndarray] = {}
    for key in _BAND_KEYS:
        if key not in q:
            continue
        if scalar:
            v = q[key]
            if not _is_number(v):
                problems.add(f"{path}.{key}", "must be a number", v)
            elif math.isfinite(v):
                bands[key] = np.array([float(v)])
        else:
            arr = _array(q[key], f"{path}.{key}", n_x, problems)
            if arr is not None:
                bands[key] = arr
    n: np.ndarray | None = None
    if "n" in q:
        if scalar:
            if not _is_int(q["n"]):
                problems.add(f"{path}.n", "must be an integer (replicates)", q["n"])
            else:
                n = np.array([q["n"]], dtype=np.int64)
        else:
            n = _array(q["n"], f"{path}.n", n_x, problems, integer=True)
    if len(bands) < 3 or (n_x is None and not scalar):
        return None
    ok = _check_values(spec, bands, n, path, problems, scalar=scalar)
    return bands["mean"] if ok else None


def _check_provenance(prov: Any, problems: _Problems) -> None:
    if not isinstance(prov, dict):
        problems.add("provenance", "must be a JSON object", prov)
        return
    for k, v in prov.items():  # further keys are kept as they are: JSON values
        try:
            json.dumps(v)
        except (TypeError, ValueError) as err:
            problems.add(f"provenance.{k}", f"not a JSON value ({err})", str(v))
    for k in PROVENANCE_KEYS:
        if k not in prov:
            problems.add(
                f"provenance.{k}", f"required key is missing ({PROVENANCE_KEYS[k]})"
            )
    for key in ("package_version", "producer", "grid", "ci_method"):
        v = prov.get(key, "")
        if key in prov and (not isinstance(v, str) or not v.strip()):
            problems.add(f"provenance.{key}", "must be a non-empty text", v)
    if "created_utc" in prov:
        v = prov["created_utc"]
        problem = _utc_problem(v)
        if problem:
            problems.add("provenance.created_utc", problem, v)
    if "scenario_sha256" in prov:
        v = prov["scenario_sha256"]
        if not isinstance(v, dict) or not v:
            problems.add(
                "provenance.scenario_sha256",
                "must be a non-empty mapping of scenario name to SHA-256",
                v,
            )
        else:
            for name, digest in v.items():
                if not isinstance(digest, str) or not _HEX64.match(digest):
                    problems.add(
                        f"provenance.scenario_sha256.{name}",
                        "must be a SHA-256 digest (64 lowercase hex digits)",
                        digest,
                    )
    if "seeds" in prov:
        v = prov["seeds"]
        ok = (isinstance(v, str) and v.strip()) or (
            isinstance(v, list) and v and all(_is_int(s) and s >= 0 for s in v)
        )
        if not ok:
            problems.add(
                "provenance.seeds",
                "must be a non-empty list of integers >= 0 or a text such as '0-9'",
                v,
            )
    if "replicates_per_point" in prov:
        v = prov["replicates_per_point"]
        if not _is_int(v) or v < 0:
            problems.add(
                "provenance.replicates_per_point", "must be an integer >= 0", v
            )


def _utc_problem(value: Any) -> str:
    if not isinstance(value, str):
        return "must be an ISO 8601 time in UTC, e.g. '2025-01-31T12:00:00+00:00'"
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "not an ISO 8601 time, e.g. '2025-01-31T12:00:00+00:00'"
    offset = t.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        return "must be in UTC (offset +00:00 or Z)"
    return ""


def check_document(doc: Any, source: str) -> None:
    """Check a parsed curve file; ConfigError with one line per problem.

    The format and version are checked first (a file of another kind or version is
    refused at once); then every key, with all problems reported together.
    """
    problems = _Problems(source)
    if not isinstance(doc, dict):
        problems.add("", "a response-curve file must be a JSON object", doc)
        problems.raise_if_any()
    if "format" not in doc:
        problems.add("format", f"required key is missing (must be {FORMAT!r})")
    elif doc["format"] != FORMAT:
        problems.add(
            "format", f"must be {FORMAT!r}: not a response-curve file", doc["format"]
        )
    elif "format_version" not in doc:
        problems.add("format_version", "required key is missing")
    elif not _is_int(doc["format_version"]) or doc["format_version"] != FORMAT_VERSION:
        problems.add(
            "format_version",
            f"unsupported version; this metastroma reads version {FORMAT_VERSION}",
            doc["format_version"],
        )
    problems.raise_if_any()  # another kind of file, or version: nothing else applies
    _non_finite(doc, "", problems)
    _keys(doc, "", _TOP_KEYS, _OPTIONAL_TOP_KEYS, problems)

    # axis
    axis_spec: AxisSpec | None = None
    axis = doc.get("axis")
    if "axis" in doc and _keys(axis, "axis", ("name", "unit"), (), problems):
        name = axis.get("name")
        if "name" in axis and name not in AXES:
            problems.add("axis.name", f"unknown axis; allowed: {', '.join(AXES)}", name)
        elif "name" in axis:
            axis_spec = AXES[name]
            if "unit" in axis and axis["unit"] != axis_spec.unit:
                problems.add(
                    "axis.unit", f"must be {axis_spec.unit!r} for {name}", axis["unit"]
                )

    # grid
    x: np.ndarray | None = None
    if "x" in doc:
        x = _array(doc["x"], "x", None, problems)
        if x is not None:
            if x.size < 2:
                problems.add("x", "needs at least 2 grid points", doc["x"])
                x = None
            else:
                steps = np.diff(x) <= 0.0
                if steps.any():
                    i, more = _first_bad(steps)
                    problems.add(
                        f"x[{i + 1}]",
                        f"the grid must be strictly increasing (x[{i}] = "
                        f"{float(x[i]):g}){more}",
                        float(x[i + 1]),
                    )
                    x = None
        if x is not None and axis_spec is not None and x[0] < axis_spec.minimum:
            problems.add(
                "x[0]", f"must be >= {axis_spec.minimum:g} on this axis", float(x[0])
            )
    n_x = None if x is None else int(x.size)

    # quantities
    quantities = doc.get("quantities")
    if "quantities" in doc and _keys(
        quantities,
        "quantities",
        REQUIRED_QUANTITIES,
        tuple(k for k in QUANTITIES if k not in REQUIRED_QUANTITIES),
        problems,
        what="quantity",
    ):
        for name, q in quantities.items():
            if name not in QUANTITIES:
                continue
            path = f"quantities.{name}"
            mean = _check_series(name, q, path, n_x, problems)
            if mean is None or x is None or axis_spec is None:
                continue
            if QUANTITIES[name].relative:
                _check_reference(
                    x, mean, axis_spec, doc["axis"]["name"], path, problems
                )

    # arms
    if "arms" in doc:
        arms = doc["arms"]
        if _keys(arms, "arms", (), tuple(ARMS), problems, what="arm"):
            for name, arm in arms.items():
                if name not in ARMS:
                    continue
                path = f"arms.{name}"
                if not _keys(arm, path, ("x", "quantities"), (), problems):
                    continue
                if "x" in arm:
                    v = arm["x"]
                    if not _is_number(v):
                        problems.add(f"{path}.x", "must be a number", v)
                    elif axis_spec is not None and v < axis_spec.minimum:
                        problems.add(
                            f"{path}.x", f"must be >= {axis_spec.minimum:g}", v
                        )
                qs = arm.get("quantities")
                if "quantities" in arm and _keys(
                    qs,
                    f"{path}.quantities",
                    (),
                    tuple(QUANTITIES),
                    problems,
                    "quantity",
                ):
                    for q_name, q in qs.items():
                        if q_name in QUANTITIES:
                            _check_series(
                                q_name,
                                q,
                                f"{path}.quantities.{q_name}",
                                None,
                                problems,
                                scalar=True,
                            )

    if "provenance" in doc:
        _check_provenance(doc["provenance"], problems)
    problems.raise_if_any()


def _check_reference(
    x: np.ndarray,
    mean: np.ndarray,
    axis_spec: AxisSpec,
    axis_name: str,
    path: str,
    problems: _Problems,
) -> None:
    ref = axis_spec.reference
    if not x[0] <= ref <= x[-1]:
        problems.add(
            "x",
            f"the grid [{float(x[0]):g}, {float(x[-1]):g}] must contain the reference "
            f"{axis_name} = {ref:g}, where relative quantities are 1",
        )
        return
    value = float(_pchip(x, mean, np.array([ref]))[0])
    if abs(value - 1.0) > REFERENCE_TOLERANCE:
        problems.add(
            f"{path}.mean",
            f"is {value:.9g} at {axis_name} = {ref:g} (interpolated); a relative "
            f"quantity must be 1 there (|r({ref:g}) - 1| <= {REFERENCE_TOLERANCE:g})",
        )
