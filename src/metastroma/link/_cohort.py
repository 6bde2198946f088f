"""The cohort's edge of the link: find, read and check the curve file a cohort names.

A cohort scenario may name a response-curve file in ``ddr2.curves`` (docs/link.md). The
body scale never opens files (DESIGN.md), so the file is read here, where the scenario is
loaded, and the body receives the :class:`~metastroma.link.curves.ResponseCurves`::

    sc, curves = load_cohort(path)            # a scenario file
    result = simulate_cohort(sc, curves=curves)

or, for a scenario validated elsewhere (an ensemble member, a mapping)::

    sc, curves = load_for_cohort(sc, base_dir=scenario_file.parent, source="x.yaml")

A relative ``ddr2.curves`` is resolved against the scenario file's directory and written
back absolute, so the resolved ``config.yaml`` of a cohort run names the file wherever the
run is read. Every problem is a :class:`~metastroma.errors.ConfigError` that names the
scenario file (and line), the key ``ddr2.curves``, and the curve file's own problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from metastroma.config.cohort import CohortScenario
from metastroma.config.loader import _line_of, model_from_dict, read_yaml
from metastroma.errors import ConfigError
from metastroma.link.curves import AXES, ResponseCurves, read_curves

#: The cohort keys whose ã the curves must cover (the two DDR2 categories).
CATEGORY_KEYS = ("relative_activity_high", "relative_activity_low")


def _where(source: str, node: yaml.Node | None, loc: tuple[str, ...]) -> str:
    line = _line_of(node, loc) if node is not None else None
    return f"{source}:{line}" if line else source


def resolve_curves_path(
    sc: CohortScenario,
    base_dir: Path | str,
    source: str = "<cohort scenario>",
    node: yaml.Node | None = None,
) -> CohortScenario:
    """``sc`` with ``ddr2.curves`` made absolute against ``base_dir``, checked to exist.

    Parameters
    ----------
    sc : CohortScenario
    base_dir : Path or str
        The directory of the cohort scenario file.
    source : str
        The scenario file's name, for messages.
    node : yaml.Node, optional
        The composed YAML, for the line of ``ddr2.curves``.

    Returns
    -------
    CohortScenario
        Unchanged when ``ddr2.curves`` is unset.

    Raises
    ------
    ConfigError
        ``file:line: ddr2.curves = '…': file not found (looked for /abs/path)``.
    """
    given = sc.ddr2.curves
    if given is None:
        return sc
    key = f"{_where(source, node, ('ddr2', 'curves'))}: ddr2.curves = {str(given)!r}"
    try:
        path = given if given.is_absolute() else Path(base_dir) / given
        path = path.resolve()
        found = path.is_file()
    except (OSError, ValueError) as err:
        raise ConfigError(f"{key}: not a usable path ({err})") from err
    if not found:
        raise ConfigError(f"{key}: file not found (looked for {path})")
    ddr2 = sc.ddr2.model_copy(update={"curves": path})
    return sc.model_copy(update={"ddr2": ddr2})


def check_cohort_coverage(curves: ResponseCurves, sc: CohortScenario) -> list[str]:
    """Problems that keep ``curves`` from serving cohort ``sc`` (empty if none).

    The curves must use the ``relative_activity`` axis and their grid must contain the
    ã of both DDR2 categories (``ddr2.relative_activity_high`` and ``_low``): the body
    does not extrapolate (SCIENCE.md §10.2). A ``ddr2.curve_arm`` must be an arm of the
    file with r_intra, f_cl and m_grow.

    Returns
    -------
    list of str
        ``key = value: problem`` lines.
    """
    if curves.axis.name != "relative_activity":
        return [
            f"axis.name = {curves.axis.name!r}: a cohort needs curves over "
            f"relative_activity ({AXES['relative_activity'].meaning})"
        ]
    lo, hi = float(curves.x[0]), float(curves.x[-1])
    out = []
    for key in CATEGORY_KEYS:  # two categories
        a = float(getattr(sc.ddr2, key))
        if not lo <= a <= hi:
            out.append(
                f"ddr2.{key} = {a:g} is outside the curve grid [{lo:g}, {hi:g}] "
                "(relative_activity): response curves are not extrapolated "
                "(SCIENCE.md §10.2)"
            )
    arm = sc.ddr2.curve_arm
    if arm is not None:
        point = curves.arms.get(arm)
        need = (
            "intravasation_multiplier",
            "cluster_event_fraction",
            "growth_multiplier",
        )
        if point is None:
            have = ", ".join(sorted(curves.arms)) or "none"
            out.append(
                f"ddr2.curve_arm = {arm!r}: the file has no such arm (arms: {have})"
            )
        elif missing := [q for q in need if q not in point.quantities]:
            out.append(
                f"ddr2.curve_arm = {arm!r}: the file's arm lacks {', '.join(missing)}"
            )
    return out


def load_for_cohort(
    sc: CohortScenario,
    base_dir: Path | str | None = None,
    source: str = "<cohort scenario>",
    node: yaml.Node | None = None,
) -> tuple[CohortScenario, ResponseCurves | None]:
    """Resolve, read and check the curve file of a cohort scenario.

    Parameters
    ----------
    sc : CohortScenario
    base_dir : Path or str, optional
        Directory that a relative ``ddr2.curves`` is resolved against (the scenario
        file's); None: the path is used as it is (absolute, or relative to the working
        directory).
    source : str
        The scenario file's name, for messages.
    node : yaml.Node, optional
        The composed YAML, for line numbers.

    Returns
    -------
    (CohortScenario, ResponseCurves or None)
        The scenario with ``ddr2.curves`` absolute, and the curves (None when the
        scenario names no file: the body then uses the SCIENCE.md §10.2 formulas).

    Raises
    ------
    ConfigError
        Missing or invalid curve file, or a grid that does not cover the cohort's ã;
        one line per problem: ``file:line: ddr2.curves = '…': curves.json: key: problem``.
    """
    if sc.ddr2.curves is None:
        return sc, None
    sc = resolve_curves_path(
        sc, Path(base_dir) if base_dir is not None else Path(), source, node
    )
    path = sc.ddr2.curves
    assert path is not None  # resolve_curves_path keeps it set
    key = f"{_where(source, node, ('ddr2', 'curves'))}: ddr2.curves = {str(path)!r}"
    try:
        curves = read_curves(path)
    except ConfigError as err:
        lines = str(err).splitlines()
        raise ConfigError("\n".join(f"{key}: {line}" for line in lines)) from err
    problems = check_cohort_coverage(curves, sc)
    if problems:
        raise ConfigError("\n".join(f"{key}: {path.name}: {p}" for p in problems))
    return sc, curves


def load_cohort(
    path: Path | str, overrides: dict[str, Any] | None = None
) -> tuple[CohortScenario, ResponseCurves | None]:
    """Read and validate a cohort scenario file and the curve file it names.

    The drop-in for ``load_model(path, CohortScenario, overrides)`` when the scenario
    may set ``ddr2.curves``.

    Parameters
    ----------
    path : Path or str
        The cohort scenario YAML file.
    overrides : dict, optional
        Top-level keys replacing the file's (the CLI's ``--seed``, ``--patients``).

    Returns
    -------
    (CohortScenario, ResponseCurves or None)
        As :func:`load_for_cohort`.

    Raises
    ------
    ConfigError
        The scenario or its curve file is missing or invalid (file, line, key).
    """
    path = Path(path)
    data, node, source = read_yaml(path)
    if overrides and isinstance(data, dict):
        data = {**data, **overrides}
    sc = model_from_dict(data, CohortScenario, source, node)
    return load_for_cohort(sc, path.parent, source, node)


__all__ = [
    "CATEGORY_KEYS",
    "check_cohort_coverage",
    "load_cohort",
    "load_for_cohort",
    "resolve_curves_path",
]
