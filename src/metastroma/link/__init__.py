"""The tissue → body link: response curves with provenance (SCIENCE.md §10, docs/link.md).

The tissue scale measures how DDR2 activity changes intravasation, cluster shedding and
metastatic growth; the body scale reads these as response curves over the relative DDR2
activity ã = A/A_WT. This package holds the curve file format (:func:`read_curves`,
:func:`write_curves`), monotone interpolation without extrapolation (:func:`interpolate`),
the SCIENCE.md §10.2 default formulas as curves (:func:`default_curves`, shipped as
:func:`prior_curve_file`), the cohort's edge that reads the file a cohort scenario names
(:func:`load_cohort`, :func:`load_for_cohort`), and the producer that runs tissue
ensembles over DDR2 activity (``metastroma link``: :func:`load_link_scan`,
:func:`run_link`, :mod:`metastroma.link.produce`), whose output for
``scenarios/link_default.yaml`` is shipped as :func:`default_curve_file`.
"""

from metastroma.link._cohort import (
    check_cohort_coverage,
    load_cohort,
    load_for_cohort,
    resolve_curves_path,
)
from metastroma.link.curves import (
    ARMS,
    AXES,
    DEFAULTS_PRODUCER,
    FORMAT,
    FORMAT_VERSION,
    PROVENANCE_KEYS,
    QUANTITIES,
    REFERENCE_TOLERANCE,
    REQUIRED_QUANTITIES,
    ArmPoint,
    ArmValue,
    Axis,
    CurveData,
    Interpolated,
    ResponseCurves,
    default_curve_file,
    default_curves,
    interpolate,
    prior_curve_file,
    read_curves,
    to_document,
    write_curves,
)
from metastroma.link.produce import load_link_scan, run_link

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
    "CurveData",
    "Interpolated",
    "ResponseCurves",
    "check_cohort_coverage",
    "default_curve_file",
    "default_curves",
    "interpolate",
    "load_cohort",
    "load_for_cohort",
    "load_link_scan",
    "prior_curve_file",
    "read_curves",
    "resolve_curves_path",
    "run_link",
    "to_document",
    "write_curves",
]
