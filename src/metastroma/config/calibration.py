"""Pydantic model of a calibration file (``metastroma calibrate``): ABC-SMC of parameters.

A calibration file shares the fields of every ensemble file (:class:`EnsembleBase`: the
base model or function, fixed changes, the seed) and adds a prior for each parameter to
calibrate, a file of observed outcomes to match, and the settings of pyABC's sequential
Monte Carlo sampler (Toni et al. 2009, *J. R. Soc. Interface* 6:187; Klinger et al. 2018,
*Bioinformatics* 34:3591)::

    name: logistic_growth_rate
    function: metastroma.ensemble.functions:noisy_logistic
    fixed: {k_cells: 10000.0}                 # set in every particle
    priors:                                   # parameter path -> prior
      r_per_day: {distribution: uniform, low: 0.05, high: 1.0}
    targets: calibrate_logistic_targets.yaml  # outcome -> observed value
    population_size: 200
    generations: 8
    seed: 1

Priors (the parameter's units throughout):

- ``uniform``: ``low`` < ``high``;
- ``loguniform``: 0 < ``low`` < ``high``, uniform in ln x;
- ``normal``: ``mean``, ``sd`` > 0;
- ``lognormal``: ``median`` > 0, ``sigma_log`` > 0, the standard deviation of ln x.

Log-scale priors are sampled as ln x (uniform or normal there), so that the sampler's
Gaussian perturbation kernel moves the parameter by factors rather than by amounts.

The targets file (YAML or CSV, relative to the calibration file) gives the observed value
of each outcome the model must reproduce, and optionally its scale (the expected size of
a mismatch, in the outcome's units), which the ``scaled`` distance divides by:

.. code-block:: yaml

    n_day_0: 100.0                            # outcome: value
    n_day_20: {value: 3100.0, scale: 310.0}   # outcome: {value, scale}

.. code-block:: text

    outcome,value,scale
    n_day_0,100.0,
    n_day_20,3100.0,310.0

Outcome names are those the base model returns (a tissue run's last metrics row, a
cohort's summary metrics, a function's keys); they are checked by running one particle
at the prior medians before the calibration starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model
from metastroma.config.sweep import EnsembleBase, split_path

#: Which fields each prior distribution takes.
PRIOR_FIELDS: dict[str, tuple[str, str]] = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma_log"),
}


class PriorSpec(_Model):
    """The prior of one calibrated parameter, in the parameter's units."""

    distribution: Literal["uniform", "loguniform", "normal", "lognormal"] = Field(
        ...,
        description="'uniform' on [low, high]; 'loguniform' on [low, high], uniform in "
        "ln x; 'normal' (mean, sd); 'lognormal' (median, sigma_log: ln x is normal with "
        "mean ln median and standard deviation sigma_log).",
    )
    low: float | None = Field(
        None,
        description="Lower end (uniform, loguniform; > 0 for loguniform), in the "
        "parameter's units.",
    )
    high: float | None = Field(
        None,
        description="Upper end (uniform, loguniform), above low, in the parameter's units.",
    )
    mean: float | None = Field(
        None, description="Mean (normal), in the parameter's units."
    )
    sd: float | None = Field(
        None, description="Standard deviation (normal), > 0, in the parameter's units."
    )
    median: float | None = Field(
        None, description="Median (lognormal), > 0, in the parameter's units."
    )
    sigma_log: float | None = Field(
        None,
        description="Standard deviation of ln x (lognormal), > 0, dimensionless; 0.7 "
        "puts 95 % of the prior within a factor 4 of the median.",
    )
    integer: bool = Field(
        False,
        description="Round each sampled value to the nearest integer before the model "
        "runs (counts such as n_cells). Default: false.",
    )

    @field_validator("low", "high", "mean", "sd", "median", "sigma_log", mode="before")
    @classmethod
    def _a_number(cls, v: Any) -> Any:
        """Refuse ``true`` or ``'3'`` (pydantic would coerce them to numbers)."""
        if isinstance(v, bool | str):
            raise ValueError(f"must be a number, got {type(v).__name__} {v!r}")
        return v

    @model_validator(mode="after")
    def _fields_of_distribution(self) -> Self:
        wanted = PRIOR_FIELDS[self.distribution]
        given = {
            k: getattr(self, k)
            for k in ("low", "high", "mean", "sd", "median", "sigma_log")
            if getattr(self, k) is not None
        }
        for key in given:
            if key not in wanted:
                raise ValueError(
                    f"{key}: not used by a {self.distribution} prior (it takes "
                    f"{wanted[0]} and {wanted[1]})"
                )
        for key in wanted:
            if key not in given:
                raise ValueError(
                    f"{key}: required by a {self.distribution} prior (it takes "
                    f"{wanted[0]} and {wanted[1]})"
                )
            if not math.isfinite(given[key]):
                raise ValueError(f"{key}: must be a finite number")
        if self.distribution in ("uniform", "loguniform"):
            assert self.low is not None and self.high is not None  # checked above
            if not self.low < self.high:
                raise ValueError(
                    f"high: must be above low ({self.high:g} <= {self.low:g})"
                )
            if self.distribution == "loguniform" and self.low <= 0:
                raise ValueError(
                    f"low: must be > 0 for a loguniform prior (got {self.low:g})"
                )
        elif self.distribution == "normal":
            assert self.sd is not None
            if self.sd <= 0:
                raise ValueError(f"sd: must be > 0 (got {self.sd:g})")
        else:
            assert self.median is not None and self.sigma_log is not None
            if self.median <= 0:
                raise ValueError(f"median: must be > 0 (got {self.median:g})")
            if self.sigma_log <= 0:
                raise ValueError(f"sigma_log: must be > 0 (got {self.sigma_log:g})")
        return self

    @property
    def log_scale(self) -> bool:
        """True if the prior is sampled as ln x (loguniform, lognormal)."""
        return self.distribution in ("loguniform", "lognormal")


class CalibrationSpec(EnsembleBase):
    """A calibration file: priors, targets, and the ABC-SMC settings."""

    priors: dict[str, PriorSpec] = Field(
        ...,
        min_length=1,
        description="Parameter path → its prior; the parameters calibrated, in this order.",
    )
    targets: Path = Field(
        ...,
        description="YAML or CSV file of observed outcomes (outcome → value, optional "
        "scale), relative to this file; format in the module docstring.",
    )
    population_size: int = Field(
        200,
        ge=10,
        le=100_000,
        description="Accepted particles per population. Default: 200 (pyABC's is 100; "
        "more particles give smoother posteriors and more reliable 95 % intervals).",
    )
    generations: int = Field(
        8,
        ge=1,
        le=1000,
        description="Most populations to sample (pyABC max_nr_populations). Default: 8.",
    )
    min_epsilon: float = Field(
        0.0,
        ge=0.0,
        description="Stop once a population's acceptance threshold is at or below this "
        "distance. Default: 0 (never: stop by generations).",
    )
    min_acceptance_rate: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Stop once a population accepts fewer than this fraction of its "
        "simulations; with one worker a population also stops sampling after "
        "population_size / min_acceptance_rate simulations (then it is discarded). "
        "Default: 0 (never).",
    )
    distance: Literal["adaptive", "scaled"] = Field(
        "adaptive",
        description="'adaptive': Euclidean distance with each outcome divided by its "
        "median absolute deviation over the previous population (pyABC "
        "AdaptivePNormDistance, Prangle 2017); 'scaled': Euclidean distance with each "
        "outcome divided by its scale from the targets file (pyABC PNormDistance). "
        "Default: adaptive.",
    )
    max_walltime_min: float | None = Field(
        None,
        gt=0.0,
        le=1.0e6,
        description="Stop after the population that ends past this wall time, minutes "
        "(checked between populations). Default: none.",
    )
    truth: dict[str, float] = Field(
        default_factory=dict,
        description="Parameter path → true value, for synthetic checks: marked in the "
        "pairs plot and compared with the 95 % credible interval in the summary.",
    )
    seeds: Literal["independent"] = Field(
        "independent",
        description="Each particle's seed comes from (seed, its parameter values, "
        "replicate), so a particle's simulation is reproducible; common random numbers "
        "across particles would make the posterior depend on one noise realisation, so "
        "'independent' is the only choice.",
    )
    replicates: int = Field(
        1,
        ge=1,
        le=1000,
        description="Seeded runs of each particle; the particle's outcomes are their "
        "means. Default: 1.",
    )

    @field_validator("max_walltime_min", mode="before")
    @classmethod
    def _walltime_a_number(cls, v: Any) -> Any:
        if isinstance(v, bool | str):
            raise ValueError(f"must be a number, got {type(v).__name__} {v!r}")
        return v

    @field_validator("truth", mode="before")
    @classmethod
    def _truth_numbers(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for key, x in v.items():
                if isinstance(x, bool | str):
                    raise ValueError(
                        f"{key}: must be a number, got {type(x).__name__} {x!r}"
                    )
        return v

    @field_validator("priors")
    @classmethod
    def _prior_paths(cls, v: dict[str, PriorSpec]) -> dict[str, PriorSpec]:
        for key in v:
            split_path(key)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        clash = sorted(set(self.fixed) & set(self.priors))
        if clash:
            raise ValueError(
                f"fixed: {clash[0]} also has a prior; keep one (fixed values are not "
                "calibrated)"
            )
        unknown = sorted(set(self.truth) - set(self.priors))
        if unknown:
            raise ValueError(
                f"truth: {unknown[0]} has no prior; truth names calibrated parameters "
                f"({', '.join(self.priors)})"
            )
        if self.outcomes:
            raise ValueError(
                "outcomes: not used by a calibration; the outcomes compared are those "
                "named in the targets file"
            )
        if self.targets.suffix.lower() not in (".yaml", ".yml", ".csv"):
            raise ValueError(
                f"targets: {str(self.targets)!r} must be a .yaml, .yml or .csv file"
            )
        return self


__all__ = ["PRIOR_FIELDS", "CalibrationSpec", "PriorSpec"]
