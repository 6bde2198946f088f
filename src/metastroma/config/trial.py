"""Pydantic model of a virtual trial (``metastroma trial``; SCIENCE.md §8, §9.6, §10.2).

A trial file names a cohort scenario and lists **arms**, each a way of treating the same
virtual patients: the untreated control, a DDR2 knockout or knockdown in the cancer cells
(SCIENCE.md Table 8.1, read through the link's response curves, §10.2), or a DDR2
inhibitor (§8.2–§8.4) started at diagnosis (adjuvant) or when a distant metastasis is
detected. Every arm runs the cohort's seed on the same patient ids, so the arms share
their patients (**common random numbers**): patient k is the same woman in every arm
until the arms' treatments differ.

Example (``scenarios/trial_ddr2.yaml``)::

    name: ddr2_trial
    cohort: cohort_default.yaml        # relative to this file
    patients: 10000                    # replaces the cohort's
    horizons_years: [5, 10]
    reference_arm: control
    arms:
      - {name: control, kind: control}
      - {name: cancer_ko, kind: cancer_knockout}
      - name: adjuvant_dasatinib
        kind: inhibitor
        start: diagnosis
        duration_days: 1826
        inhibitor: {drug: dasatinib_a, schedule: {dose_mg: 70, interval_h: 12}}

:func:`load_trial` reads the file, the cohort scenario it names and that scenario's
response-curve file; every problem is a :class:`~metastroma.errors.ConfigError` naming
file, line and key. Evidence marks as in SCIENCE.md: [V] verified, [M] literature, [D]
derived, [A] assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import yaml
from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model
from metastroma.config.therapy import InhibitorConfig

if TYPE_CHECKING:  # pragma: no cover
    from metastroma.config.cohort import CohortScenario
    from metastroma.link import ResponseCurves

__all__ = [
    "ARM_KEYS",
    "ArmConfig",
    "LoadedTrial",
    "TrialConfig",
    "load_trial",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


#: Arm kinds and the keys each may set besides ``name`` and ``kind``.
ARM_KEYS: dict[str, tuple[str, ...]] = {
    "control": (),
    "cancer_knockout": (),
    "cancer_knockdown": ("activity_factor",),
    "inhibitor": ("start", "delay_days", "duration_days", "inhibitor"),
    "host": ("curve_arm",),
}


class ArmConfig(_Model):
    """One arm of a trial: how its patients are treated (SCIENCE.md §8).

    - ``control``: the cohort as its scenario describes it.
    - ``cancer_knockout``: DDR2 knocked out in every patient's cancer cells (Table 8.1,
      row 1): both DDR2 categories' ã at the knockout point, the achieved ã ``x`` of the
      response-curve file's ``cancer_ko`` arm when the cohort's ``ddr2.curves`` file has
      one, else 0 (D₀ = D_max = 0 ⇒ A = 0); r_intra, f_cl and m_grow are read there.
    - ``cancer_knockdown``: both categories' ã × ``activity_factor`` (Table 8.1, row 2).
    - ``inhibitor``: a DDR2 inhibitor from diagnosis (adjuvant) or from the first distant
      detection. On treatment a patient's ã is multiplied by the drug's steady-state
      activity factor (mean DDR2 activity on treatment / untreated: the activation ODE of
      §4.8 under θ_I(t) from PK/PD at ρ = 0.5, §8.3–§8.4, §10.2), computed by
      :func:`metastroma.body.therapy.inhibitor_activity_factor`. The schedule's own
      ``start_day``, ``stop_day`` and ``missed_doses`` are not used at the body scale
      (steady state), so they must keep their defaults; ``start``, ``delay_days`` and
      ``duration_days`` set when treatment runs.

    Keys that do not apply to the arm's ``kind`` are refused (:data:`ARM_KEYS`).
    """

    name: str = Field(
        pattern=_NAME,
        description="Arm name: letters, digits, '_', '.', '-' (a directory name under "
        "arms/), at most 64 characters, unique within the trial.",
    )
    kind: Literal[
        "control", "cancer_knockout", "cancer_knockdown", "inhibitor", "host"
    ] = Field(
        description="'control' untreated; 'cancer_knockout' link curves at the "
        "cancer-KO point (SCIENCE.md Table 8.1, §10.1; direction [V] Ren 2014, Zhang "
        "2013, Corsa 2016; size [A]); 'cancer_knockdown' ã × activity_factor; "
        "'inhibitor' a DDR2 inhibitor (§8.2–§8.4); 'host' a host-side perturbation "
        "read at a categorical arm of the curve file (curve_arm: MSC-null, slie/slie "
        "host, slie/+ or no MSCs; Table 8.1)."
    )
    curve_arm: Literal["msc_null", "host_null", "host_het", "no_msc"] = Field(
        "host_null",
        description="host only: the curve file's categorical arm every patient is read "
        "at (ddr2.curve_arm of the cohort, docs/perturbations.md): 'msc_null' DDR2-null "
        "MSCs, 'host_null' DDR2-null host (slie/slie; fewer and smaller metastases, G9 "
        "[V]), 'host_het' slie/+, 'no_msc' no MSCs. Needs the cohort's ddr2.curves file "
        "to have that arm [A] host and cancer effects multiply.",
    )
    activity_factor: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="cancer_knockdown only: multiplier of each category's ã, in [0, 1]; "
        "0.2 = f_KD, the expression left by a knockdown (SCIENCE.md Table 8.1, Table "
        "4.5, range 0–0.5) [A], assuming activity scales with expression [A].",
    )
    start: Literal["diagnosis", "distant_detection"] = Field(
        "diagnosis",
        description="inhibitor only: anchor of the start, 'diagnosis' (adjuvant, after "
        "surgery) or 'distant_detection' (the first detected distant metastasis; "
        "patients who never have one are never treated) [A] trial design.",
    )
    delay_days: float = Field(
        0.0,
        ge=0.0,
        le=36525.0,
        description="inhibitor only: days from the anchor to the start; treatment starts "
        "at the first step end of the cohort clock at or after anchor + delay [A] trial "
        "design.",
    )
    duration_days: float | None = Field(
        None,
        gt=0.0,
        le=36525.0,
        description="inhibitor only: days on treatment, then it stops (at a step end); "
        "none: until death or the end of follow-up. 1826 ≈ 5 years of adjuvant therapy "
        "[A] trial design.",
    )
    inhibitor: InhibitorConfig = Field(
        default_factory=InhibitorConfig,
        description="inhibitor only: drug (preset or mapping), schedule (dose_mg, "
        "interval_h) and PD (ic50_basis free/total, stated in every output) "
        "(SCIENCE.md §8.2–§8.4; docs/therapy.md).",
    )

    @field_validator("duration_days", mode="before")
    @classmethod
    def _duration_is_number(cls, v: Any) -> Any:
        if isinstance(v, bool | str):
            raise ValueError(f"must be a number, got {type(v).__name__} {v!r}")
        return v

    @model_validator(mode="after")
    def _keys_of_kind(self) -> Self:
        allowed = ARM_KEYS[self.kind]
        extra = sorted(self.model_fields_set - {"name", "kind", *allowed})
        if extra:
            listed = ", ".join(allowed) if allowed else "none"
            raise ValueError(
                f"{extra[0]}: not a key of a {self.kind!r} arm (its keys besides name "
                f"and kind: {listed})"
            )
        s = self.inhibitor.schedule
        ignored = []
        if s.start_day != 0.0:
            ignored.append(f"start_day = {s.start_day:g}")
        if s.stop_day is not None:
            ignored.append(f"stop_day = {s.stop_day:g}")
        if s.missed_doses:
            ignored.append("missed_doses")
        if ignored:
            raise ValueError(
                f"inhibitor.schedule: {', '.join(ignored)} would be ignored: a trial arm "
                "uses the steady-state activity factor of the schedule; set when the "
                "treatment starts and stops with the arm's start, delay_days and "
                "duration_days"
            )
        return self


class TrialConfig(_Model):
    """A virtual trial: arms run on the same virtual patients of one cohort scenario."""

    name: str = Field(
        pattern=_NAME,
        description="Name of the trial, written into the outputs [A] free text (letters, "
        "digits, '_', '.', '-').",
    )
    cohort: Path = Field(
        description="Cohort scenario file (metastroma cohort's YAML, docs/body-scale.md); "
        "a relative path is resolved against the trial file's directory. Its seed fixes "
        "the patients of every arm (common random numbers)."
    )
    patients: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Patients per arm, replacing the cohort scenario's `patients`; none: "
        "the scenario's [A] choose N for the power needed.",
    )
    horizons_years: list[float] = Field(
        default_factory=lambda: [5.0, 10.0],
        min_length=1,
        max_length=10,
        description="Years after diagnosis at which the share of patients with a "
        "detected distant metastasis is reported, each in (0, the cohort's "
        "follow_up_years]; default 5 and 10 [A] (usual clinical horizons).",
    )
    reference_arm: str = Field(
        "control",
        description="Arm every other arm is compared with (log-rank test, Cox hazard "
        "ratio, paired discordance); must be one of the arms.",
    )
    arms: list[ArmConfig] = Field(
        min_length=1,
        max_length=20,
        description="The arms, each run on the same patients (common random numbers).",
    )

    @field_validator("horizons_years")
    @classmethod
    def _positive_horizons(cls, v: list[float]) -> list[float]:
        bad = [h for h in v if not (math.isfinite(h) and h > 0)]
        if bad:
            raise ValueError(f"horizons must be > 0 (years), got {bad[0]!r}")
        if len(set(v)) != len(v):
            raise ValueError("a horizon is listed twice")
        return sorted(v)

    @model_validator(mode="after")
    def _arm_names(self) -> Self:
        names = [a.name for a in self.arms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"arms: name {twice[0]!r} is used twice; names must differ"
            )
        if self.reference_arm not in names:
            raise ValueError(
                f"reference_arm: {self.reference_arm!r} is not an arm; choose one of "
                f"{names}"
            )
        return self


@dataclass(frozen=True)
class LoadedTrial:
    """A trial file with its cohort scenario and response curves, ready to run.

    Attributes
    ----------
    trial : TrialConfig
        With ``cohort`` absolute.
    cohort : CohortScenario
        With ``patients`` replaced by the trial's, and ``ddr2.curves`` absolute.
    curves : ResponseCurves or None
        The cohort's response curves (None: the SCIENCE.md §10.2 formulas).
    source : str
        The trial file's path, for the outputs.
    """

    trial: TrialConfig
    cohort: CohortScenario
    curves: ResponseCurves | None = None
    source: str = "<trial>"


def _where(source: str, node: yaml.Node | None, loc: tuple[int | str, ...]) -> str:
    from metastroma.config.loader import _line_of

    line = _line_of(node, loc) if node is not None else None
    return f"{source}:{line}" if line else source


def load_trial(path: Path | str, patients: int | None = None) -> LoadedTrial:
    """Read a trial file, the cohort scenario it names and that scenario's curves.

    Parameters
    ----------
    path : Path or str
        The trial YAML file.
    patients : int, optional
        Patients per arm, replacing the trial file's ``patients`` (the CLI's
        ``--patients``); >= 1.

    Returns
    -------
    LoadedTrial

    Raises
    ------
    ConfigError
        A missing or invalid trial file, a missing or invalid cohort scenario or curve
        file, a horizon beyond the cohort's follow-up, or curves that do not reach an
        arm's ã; each line names file, line and key.
    """
    from metastroma.config.loader import model_from_dict, read_yaml
    from metastroma.errors import ConfigError
    from metastroma.link import load_cohort

    path = Path(path)
    data, node, source = read_yaml(path, "trial file")
    if patients is not None:
        if isinstance(patients, bool) or not 1 <= int(patients) <= 10_000_000:
            raise ConfigError(f"--patients = {patients}: must be >= 1 and <= 10000000")
        if isinstance(data, dict):
            data = {**data, "patients": int(patients)}
    trial = model_from_dict(data, TrialConfig, source, node)
    cohort_path = (
        trial.cohort if trial.cohort.is_absolute() else path.parent / trial.cohort
    )
    cohort_path = cohort_path.resolve()
    key = f"{_where(source, node, ('cohort',))}: cohort = {str(trial.cohort)!r}"
    if not cohort_path.is_file():
        raise ConfigError(f"{key}: file not found (looked for {cohort_path})")
    overrides = {"patients": trial.patients} if trial.patients is not None else None
    try:
        sc, curves = load_cohort(cohort_path, overrides)
    except ConfigError as err:
        lines = str(err).splitlines()
        raise ConfigError("\n".join(f"{key}: {line}" for line in lines)) from err
    problems = []
    for i, h in enumerate(trial.horizons_years):
        if h > sc.follow_up_years:
            problems.append(
                f"{_where(source, node, ('horizons_years', i))}: horizons_years[{i}] = "
                f"{h:g}: beyond the cohort's follow_up_years = {sc.follow_up_years:g} "
                "(years)"
            )
    if curves is not None:
        lo, hi = float(curves.x[0]), float(curves.x[-1])
        for i, arm in enumerate(trial.arms):
            need = _lowest_activity(arm, sc, curves)
            if need is not None and not lo <= need <= hi:
                problems.append(
                    f"{_where(source, node, ('arms', i))}: arms[{i}] ({arm.name}): ã = "
                    f"{need:g} is outside the response curves' grid [{lo:g}, {hi:g}] "
                    f"of {sc.ddr2.curves}: curves are not extrapolated (SCIENCE.md §10.2)"
                )
    for i, arm in enumerate(trial.arms):  # host arms read a categorical arm of the file
        if arm.kind != "host":
            continue
        where = f"{_where(source, node, ('arms', i, 'curve_arm'))}: arms[{i}].curve_arm"
        point = None if curves is None else curves.arms.get(arm.curve_arm)
        if curves is None:
            problems.append(
                f"{where} = {arm.curve_arm!r}: a 'host' arm reads the cohort's response-"
                "curve file, and the cohort scenario names none (set its ddr2.curves, "
                "e.g. to the shipped default, docs/link.md)"
            )
        elif point is None:
            have = ", ".join(sorted(curves.arms)) or "none"
            problems.append(
                f"{where} = {arm.curve_arm!r}: {sc.ddr2.curves} has no such arm "
                f"(arms: {have})"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    trial = trial.model_copy(update={"cohort": cohort_path})
    return LoadedTrial(
        trial=trial, cohort=sc, curves=curves, source=str(path.absolute())
    )


def knockout_activity(curves: ResponseCurves | None) -> float:
    """ã of a cancer-cell DDR2 knockout: the curves' ``cancer_ko`` arm ``x``, else 0."""
    if curves is not None and "cancer_ko" in curves.arms:
        return float(curves.arms["cancer_ko"].x)
    return 0.0


def _lowest_activity(
    arm: ArmConfig, sc: CohortScenario, curves: ResponseCurves | None
) -> float | None:
    """The lowest ã an arm reads from the curves (None: only the cohort's own ã)."""
    if arm.kind == "cancer_knockout":
        return knockout_activity(curves)
    low = min(sc.ddr2.relative_activity_high, sc.ddr2.relative_activity_low)
    if arm.kind == "cancer_knockdown":
        return low * arm.activity_factor
    return None  # control; an inhibitor's ã × factor is checked by the body
