"""Response curves of the tissue → body link: the file format, its reader and interpolation.

The tissue scale measures how DDR2 activity changes what a tumour hands to the body; the
body scale reads that as *response curves* (SCIENCE.md §10): for a grid of relative DDR2
activities ã = A/A_WT, the mean of each quantity over seeded replicates with a 95 %
confidence band, and the provenance of the numbers. The link is data, never a constant typed
into the body model. docs/link.md describes the format for users; this docstring is its
definition.

File format
-----------
One JSON object (UTF-8), ``format_version`` 1; every key below is required unless marked
optional, and unknown keys are refused (except inside ``provenance``)::

    {
      "format": "metastroma-response-curves",
      "format_version": 1,
      "axis": {"name": "relative_activity", "unit": "1"},
      "x": [0.0, 0.1, ..., 2.0],
      "quantities": {
        "<quantity>": {
          "unit": "<its unit, see QUANTITIES>",
          "mean": [...], "ci_low": [...], "ci_high": [...], "n": [...]
        }
      },
      "arms": {                                             (optional)
        "<arm>": {"x": 0.0,
                  "quantities": {"<quantity>": {"unit": "...", "mean": m,
                                                "ci_low": l, "ci_high": h, "n": k}}}
      },
      "provenance": {
        "package_version": "0.1.0",
        "created_utc": "2025-01-31T12:00:00+00:00",
        "producer": "metastroma link ... (the command line) | SCIENCE.md §10.2 defaults",
        "scenario_sha256": {"<scenario name>": "<64 hex digits>"},
        "seeds": [0, 1, ...] or "0-9",
        "replicates_per_point": 10,
        "grid": "relative_activity 0-2, 21 points",
        "ci_method": "percentile bootstrap, 2000 resamples",
        "...": "further keys are kept as they are"
      }
    }

- ``axis``: the x-axis. Format version 1 knows one, ``relative_activity`` (ã = A/A_WT,
  dimensionless, unit ``"1"``, ≥ 0): the *achieved* mean cancer-cell DDR2 activity of an
  ensemble divided by the WT reference's (SCIENCE.md §10.1). Its reference point is ã = 1.
- ``x``: the grid, float, finite, strictly increasing, at least 2 points, ≥ 0.
- ``quantities``: one entry per quantity (:data:`QUANTITIES`); ``mean``, ``ci_low`` and
  ``ci_high`` are arrays of the grid's length in the quantity's unit with
  ``ci_low ≤ mean ≤ ci_high`` at every point; ``n`` (integers ≥ 0) counts the replicates
  behind each point (0: not measured, a prior; its band must then have zero width).
  Required for the body: ``intravasation_multiplier`` (r_intra), ``cluster_event_fraction``
  (f_cl) and ``growth_multiplier`` (m_grow). Multipliers must be > 0, fractions in [0, 1],
  other quantities ≥ 0. *Relative* quantities (the two multipliers) must be 1 at ã = 1
  (|r(1) − 1| ≤ 1e-6, read through the interpolant), so the grid must contain ã = 1.
- ``arms``: optional categorical points (:data:`ARMS`), each with its achieved ã (``x``)
  and scalar ``mean``/``ci_low``/``ci_high``/``n`` for any of the quantities.
- ``provenance``: the keys of :data:`PROVENANCE_KEYS`, typed as listed there; more keys
  may follow (host, wall time, …).

NaN and infinities are refused everywhere; so is a key given twice in one object.

Interpolation
-------------
:func:`interpolate` reads a curve at any ã inside the grid with a PCHIP interpolant
(Fritsch–Carlson, ``scipy.interpolate.PchipInterpolator``) through the means and,
separately, through each band edge: it is exact at grid points, monotone on every interval
where the data are, never leaves the range of the two neighbouring points (so fractions
stay in [0, 1] and multipliers positive), and reproduces linear data. The interpolated band
is widened where needed to contain the interpolated mean. Outside the grid it refuses:
no extrapolation (SCIENCE.md §10.2).

References
----------
SCIENCE.md §10.1 (the quantities), §10.2 (how the curves are made and read, and the
default formulas tabulated by :func:`default_curves`). F. N. Fritsch and R. E. Carlson,
"Monotone piecewise cubic interpolation", SIAM J. Numer. Anal. 17 (1980) 238–246.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from metastroma._typing import F64Array, I64Array
from metastroma.config.cohort import (
    Ddr2ResponseConfig,
    growth_multiplier,
    relative_intravasation,
)
from metastroma.config.loader import read_input_text
from metastroma.errors import ConfigError
from metastroma.link._checks import check_document
from metastroma.link._spec import (
    _BAND_KEYS,
    ARMS,
    AXES,
    DEFAULTS_PRODUCER,
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
from metastroma.store.atomic import write_bytes_atomic

# ----------------------------------------------------------------------- data classes


def _frozen(values: npt.ArrayLike, dtype: type) -> np.ndarray:
    arr: np.ndarray = np.array(values, dtype=dtype, copy=True, ndmin=1)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class CurveData:
    """One quantity along the grid.

    Attributes
    ----------
    mean, ci_low, ci_high : (n_x,) float64, the quantity's unit
        Mean over replicates and the 95 % confidence band at each grid point.
    n : (n_x,) int64
        Replicates behind each point (0: a prior, not measured).
    """

    mean: F64Array
    ci_low: F64Array
    ci_high: F64Array
    n: I64Array

    def __post_init__(self) -> None:
        for name in _BAND_KEYS:
            object.__setattr__(self, name, _frozen(getattr(self, name), np.float64))
        object.__setattr__(self, "n", _frozen(self.n, np.int64))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CurveData):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in (*_BAND_KEYS, "n")
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays: mutable-like, unhashable


@dataclass(frozen=True)
class ArmValue:
    """A quantity at a categorical arm: mean, 95 % band and replicates (scalars)."""

    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class ArmPoint:
    """A categorical arm: its achieved ã and the quantities measured there.

    Attributes
    ----------
    x : float
        Achieved value on the file's axis (ã for ``relative_activity``).
    quantities : dict of str to ArmValue
        Any subset of :data:`QUANTITIES`.
    """

    x: float
    quantities: dict[str, ArmValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Axis:
    """The x-axis of the curves: a name of :data:`AXES` and its unit."""

    name: str = "relative_activity"
    unit: str = "1"


@dataclass(frozen=True, eq=False)
class ResponseCurves:
    """Tissue → body response curves with confidence bands and provenance.

    A ``ResponseCurves`` is valid by construction: it is checked as a file would be (see
    the module docstring), and :class:`~metastroma.errors.ConfigError` is raised otherwise.

    Attributes
    ----------
    axis : Axis
    x : (n_x,) float64, the axis' unit
        Grid, strictly increasing.
    quantities : dict of str to CurveData
        Quantity name (:data:`QUANTITIES`) → its curve on ``x``.
    provenance : dict
        The keys of :data:`PROVENANCE_KEYS`, and any others (JSON values).
    arms : dict of str to ArmPoint
        Optional categorical points (:data:`ARMS`).

    Raises
    ------
    ConfigError
        Any violation of the format, one line per problem with its key path.
    """

    axis: Axis
    x: F64Array
    quantities: dict[str, CurveData]
    provenance: dict[str, Any]
    arms: dict[str, ArmPoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _frozen(self.x, np.float64))
        object.__setattr__(self, "quantities", dict(self.quantities))
        object.__setattr__(self, "provenance", dict(self.provenance))
        object.__setattr__(self, "arms", dict(self.arms))
        check_document(to_document(self), "ResponseCurves")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResponseCurves):
            return NotImplemented
        return (
            self.axis == other.axis
            and np.array_equal(self.x, other.x)
            and self.quantities == other.quantities
            and self.provenance == other.provenance
            and self.arms == other.arms
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays and dicts

    def content_sha256(self) -> str:
        """SHA-256 of the curves' canonical JSON (sorted keys): same for equal curves."""
        text = json.dumps(to_document(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Interpolated(NamedTuple):
    """A curve read at some x: the mean and the two band edges (arrays of x's shape)."""

    mean: F64Array
    low: F64Array
    high: F64Array


# ----------------------------------------------------------------------- document


def to_document(curves: ResponseCurves) -> dict[str, Any]:
    """The curves as the JSON object of the file format (plain Python values).

    Parameters
    ----------
    curves : ResponseCurves

    Returns
    -------
    dict
        Keys in the order of the format; arrays as lists of float (``n``: of int).
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "axis": {"name": curves.axis.name, "unit": curves.axis.unit},
        "x": [float(v) for v in curves.x],
        "quantities": {
            name: {
                "unit": QUANTITIES[name].unit if name in QUANTITIES else "",
                **{k: [float(v) for v in getattr(q, k)] for k in _BAND_KEYS},
                "n": [int(v) for v in q.n],
            }
            for name, q in curves.quantities.items()
        },
    }
    if curves.arms:
        doc["arms"] = {
            name: {
                "x": float(arm.x),
                "quantities": {
                    q: {
                        "unit": QUANTITIES[q].unit if q in QUANTITIES else "",
                        "mean": float(v.mean),
                        "ci_low": float(v.ci_low),
                        "ci_high": float(v.ci_high),
                        "n": int(v.n),
                    }
                    for q, v in arm.quantities.items()
                },
            }
            for name, arm in curves.arms.items()
        }
    doc["provenance"] = dict(curves.provenance)
    return doc


def _from_document(doc: dict[str, Any]) -> ResponseCurves:
    """A checked document (:func:`~metastroma.link._checks.check_document`) as curves."""
    quantities = {
        name: CurveData(q["mean"], q["ci_low"], q["ci_high"], q["n"])
        for name, q in doc["quantities"].items()
    }
    arms = {
        name: ArmPoint(
            x=float(a["x"]),
            quantities={
                q: ArmValue(
                    float(v["mean"]), float(v["ci_low"]), float(v["ci_high"]), v["n"]
                )
                for q, v in a["quantities"].items()
            },
        )
        for name, a in doc.get("arms", {}).items()
    }
    return ResponseCurves(
        axis=Axis(doc["axis"]["name"], doc["axis"]["unit"]),
        x=np.asarray(doc["x"], dtype=np.float64),
        quantities=quantities,
        provenance=doc["provenance"],
        arms=arms,
    )


def _dumps(obj: Any, indent: int = 0) -> str:
    """JSON text with one line per key and each array on one line (readable diffs)."""
    pad = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [
            f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {_dumps(v, indent + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
        items = [f"{pad}{_dumps(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


# ----------------------------------------------------------------------- file I/O


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} given twice in one object")
        out[k] = v
    return out


def read_curves(path: Path | str) -> ResponseCurves:
    """Read and validate a response-curve file.

    Parameters
    ----------
    path : Path or str
        A JSON file in the format of this module's docstring.

    Returns
    -------
    ResponseCurves

    Raises
    ------
    ConfigError
        The file is missing, unreadable, not JSON, of another format or version, or any
        key is missing, unknown, of the wrong type or out of range; one line per problem,
        ``file: key.path = value: what is allowed``.
    """
    path = Path(path)
    source = path.name
    text = read_input_text(path, "response-curve file")
    try:
        doc = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{source}:{err.lineno}: not valid JSON: {err.msg}") from err
    except ValueError as err:  # a duplicate key
        raise ConfigError(f"{source}: not valid JSON: {err}") from err
    check_document(doc, source)
    return _from_document(doc)


def write_curves(curves: ResponseCurves, path: Path | str) -> None:
    """Write ``curves`` as a response-curve file, atomically.

    Parameters
    ----------
    curves : ResponseCurves
    path : Path or str
        The file to write (its directory must exist); replaced if present.
    """
    text = _dumps(to_document(curves)) + "\n"
    write_bytes_atomic(Path(path), text.encode("utf-8"))


# ----------------------------------------------------------------------- interpolation


def interpolate(
    curves: ResponseCurves, quantity: str, x_new: npt.ArrayLike
) -> Interpolated:
    """A curve and its band at ``x_new``: monotone cubic (PCHIP), no extrapolation.

    Parameters
    ----------
    curves : ResponseCurves
    quantity : str
        A quantity of ``curves`` (e.g. ``'intravasation_multiplier'``).
    x_new : float or array_like, the axis' unit
        Where to read the curve; every value must lie in ``[x[0], x[-1]]``.

    Returns
    -------
    Interpolated
        ``(mean, low, high)``, float64 arrays of ``x_new``'s shape, in the quantity's
        unit. Exact at grid points; the band edges are interpolated separately and
        widened where needed to contain the mean.

    Raises
    ------
    ValueError
        ``quantity`` is not in the curves, or a value of ``x_new`` lies outside the grid
        (or is NaN): named, with the grid range (SCIENCE.md §10.2: no extrapolation).

    Examples
    --------
    >>> from metastroma.config.cohort import Ddr2ResponseConfig
    >>> c = default_curves(Ddr2ResponseConfig())
    >>> round(float(interpolate(c, "intravasation_multiplier", 0.5).mean), 6)
    0.675
    """
    if quantity not in curves.quantities:
        raise ValueError(
            f"no quantity {quantity!r} in these curves; they hold "
            f"{', '.join(curves.quantities)}"
        )
    xs = np.asarray(x_new, dtype=np.float64)
    x = curves.x
    outside = ~((xs >= x[0]) & (xs <= x[-1]))
    if outside.any():
        v = float(xs[outside].flat[0])
        raise ValueError(
            f"{curves.axis.name} = {v:g} is outside the curve grid "
            f"[{float(x[0]):g}, {float(x[-1]):g}]: response curves are not "
            "extrapolated (SCIENCE.md §10.2)"
        )
    q = curves.quantities[quantity]
    flat = xs.reshape(-1)
    mean = _pchip(x, q.mean, flat)
    low = np.minimum(_pchip(x, q.ci_low, flat), mean)
    high = np.maximum(_pchip(x, q.ci_high, flat), mean)
    return Interpolated(
        mean.reshape(xs.shape), low.reshape(xs.shape), high.reshape(xs.shape)
    )


# ----------------------------------------------------------------------- defaults


#: The keys of ``Ddr2ResponseConfig`` that enter the §10.2 formulas.
_FORMULA_KEYS = (
    "intravasation_intercept",
    "intravasation_slope",
    "cluster_event_fraction",
    "growth_gain",
    "activity_wt",
)


def _config_sha256(cfg: Ddr2ResponseConfig) -> str:
    data = cfg.model_dump(mode="json", include=set(_FORMULA_KEYS))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def default_curves(
    ddr2: Ddr2ResponseConfig,
    x: npt.ArrayLike | None = None,
    *,
    created_utc: str | None = None,
) -> ResponseCurves:
    """The SCIENCE.md §10.2 default formulas, tabulated as response curves.

    r_intra(ã) = a + b ã, f_cl constant, m_grow = (1 + g_p ã A_WT)/(1 + g_p A_WT), each
    evaluated by the same functions the body uses without a curve file
    (:func:`~metastroma.config.cohort.relative_intravasation`,
    :func:`~metastroma.config.cohort.growth_multiplier`), with zero-width bands and
    ``n = 0`` (priors, not measurements). All three are linear in ã, which PCHIP
    reproduces, so the body reads the formulas back exactly at grid points and to
    rounding elsewhere.

    Parameters
    ----------
    ddr2 : Ddr2ResponseConfig
        Intercept, slope, f_cl, g_p and A_WT; its ``curves`` is ignored.
    x : array_like, optional
        The ã grid, strictly increasing, containing 1; default 0, 0.1, …, 2 (21 points).
    created_utc : str, optional
        ISO 8601 UTC time to record (default: now).

    Returns
    -------
    ResponseCurves
        Provenance ``producer`` ``'SCIENCE.md §10.2 defaults'``; ``scenario_sha256``
        holds, as ``ddr2``, the SHA-256 of the canonical JSON (sorted keys) of the five
        config keys that enter the formulas.
    """
    from metastroma import __version__

    # i/10: np.linspace(0, 2, 21) within one ulp, printed as written (0.3, not 0.300…04)
    grid = np.arange(21) / 10.0 if x is None else np.asarray(x, np.float64)
    n_x = grid.size

    def curve(fn: Callable[[float], float]) -> CurveData:
        values = np.array([fn(float(v)) for v in grid])  # grid points, not patients
        return CurveData(values, values, values, np.zeros(n_x, np.int64))

    f_cl = ddr2.cluster_event_fraction
    g, a_wt = ddr2.growth_gain, ddr2.activity_wt
    a, b = ddr2.intravasation_intercept, ddr2.intravasation_slope
    provenance: dict[str, Any] = {
        "package_version": __version__,
        "created_utc": created_utc or datetime.now(UTC).isoformat(timespec="seconds"),
        "producer": DEFAULTS_PRODUCER,
        "scenario_sha256": {"ddr2": _config_sha256(ddr2)},
        "seeds": "none: formulas, no simulation",
        "replicates_per_point": 0,
        "grid": f"relative_activity {float(grid[0]):g}-{float(grid[-1]):g}, "
        f"{n_x} points",
        "ci_method": "none: zero-width bands (formulas, not measurements)",
        "formulas": f"r_intra = {a:g} + {b:g} ã; f_cl = {f_cl:g}; "
        f"m_grow = (1 + {g:g} × {a_wt:g} ã)/(1 + {g:g} × {a_wt:g})",
        "note": "priors of SCIENCE.md §10.2 [A], until `metastroma link` produces "
        "tissue-derived curves",
    }
    return ResponseCurves(
        axis=Axis("relative_activity", "1"),
        x=grid,
        quantities={
            "intravasation_multiplier": curve(
                lambda v: relative_intravasation(ddr2, v)
            ),
            "cluster_event_fraction": curve(lambda v: f_cl),
            "growth_multiplier": curve(lambda v: growth_multiplier(ddr2, v)),
        },
        provenance=provenance,
    )


def default_curve_file() -> Path:
    """The shipped default curve file, produced by ``metastroma link``.

    Tissue-derived response curves: ``metastroma link scenarios/link_default.yaml --out
    runs/link_default --workers 2`` (docs/link.md, "Producer"), its ``curves.json``
    copied here; its provenance records the command, seeds, scenario hashes and grid.

    Returns
    -------
    Path
        ``metastroma/link/data/default_curves.json`` inside the installed package.
    """
    return _data_file("default_curves.json")


def prior_curve_file() -> Path:
    """The shipped prior curve file: :func:`default_curves` of the default DDR2 config.

    It tabulates the SCIENCE.md §10.2 formula priors on ã = 0, 0.1, …, 2; a cohort
    that reads it gives the same patients as one without a curve file.

    Returns
    -------
    Path
        ``metastroma/link/data/prior_curves.json`` inside the installed package.
    """
    return _data_file("prior_curves.json")


def _data_file(name: str) -> Path:
    from importlib import resources

    res = resources.files("metastroma.link").joinpath("data", name)
    return Path(str(res))


__all__ = [
    "ARMS",
    "AXES",
    "DEFAULTS_PRODUCER",
    "FORMAT",
    "FORMAT_VERSION",
    "PROVENANCE_KEYS",
    "QUANTITIES",
    "REFERENCE_TOLERANCE",
    "REQUIRED_QUANTITIES",
    "ArmPoint",
    "ArmValue",
    "Axis",
    "AxisSpec",
    "CurveData",
    "Interpolated",
    "QuantitySpec",
    "ResponseCurves",
    "default_curve_file",
    "default_curves",
    "interpolate",
    "prior_curve_file",
    "read_curves",
    "to_document",
    "write_curves",
]
