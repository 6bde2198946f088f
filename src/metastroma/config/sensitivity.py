"""Pydantic model of a sensitivity file (``metastroma sensitivity``): global sensitivity analysis.

A sensitivity file shares the fields of every ensemble file (:class:`EnsembleBase`: the base
model or function, fixed changes, seeds, outcomes) and says which parameters vary over which
ranges and which SALib method apportions the variance of each outcome among them::

    name: ishigami_sobol
    function: metastroma.ensemble.functions:ishigami
    method: sobol                      # or morris (screening, fewer runs)
    parameters:                        # path -> range
      x1: {low: -3.141592653589793, high: 3.141592653589793}
      x2: {low: -3.141592653589793, high: 3.141592653589793}
      x3: {low: -3.141592653589793, high: 3.141592653589793}
    samples: 1024                      # SALib's N; a power of 2 for sobol
    second_order: false
    seed: 1

Every parameter is uniform on its range, in its own units (``scale: linear``) or in log10
(``scale: log``, for rates spanning decades). The number of model runs follows from the
method, ``samples`` (N) and the number of parameters (D):

- ``sobol``: Saltelli's cross-sampling of a scrambled Sobol' sequence, N·(D + 2) points
  (N·(2D + 2) with ``second_order``); first-order (S1) and total (ST) indices with bootstrap
  confidence intervals (Saltelli et al. 2010, *Comput. Phys. Commun.* 181:259);
- ``morris``: N one-at-a-time trajectories on a ``levels``-level grid, N·(D + 1) points;
  the elementary-effect statistics mu, mu_star and sigma (Morris 1991, *Technometrics*
  33:161; Campolongo et al. 2007, *Environ. Model. Softw.* 22:1509).

Each point gets ``replicates`` seeded runs; the analysis uses their mean per point.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model
from metastroma.config.sweep import EnsembleBase, split_path


class RangeSpec(_Model):
    """The range of one varied parameter: uniform on [low, high] in its units or in log10."""

    low: float = Field(
        ..., description="Lower end of the range, in the parameter's units."
    )
    high: float = Field(
        ..., description="Upper end of the range, in the parameter's units; above low."
    )
    scale: Literal["linear", "log"] = Field(
        "linear",
        description="Uniform in the parameter's units ('linear') or in log10 ('log', "
        "which needs low > 0). Default: linear.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"high: must be above low ({self.high:g} <= {self.low:g})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"low: must be > 0 on a log scale (got {self.low:g})")
        return self


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class SensitivitySpec(EnsembleBase):
    """A sensitivity file: parameter ranges, a SALib method and its settings."""

    method: Literal["sobol", "morris"] = Field(
        "sobol",
        description="'sobol': variance-based first-order and total indices (Saltelli "
        "sampling, SALib); 'morris': elementary-effects screening (SALib). Default: sobol.",
    )
    parameters: dict[str, RangeSpec] = Field(
        ...,
        min_length=1,
        description="Parameter path → its range; the order here is the column order of "
        "the sample.",
    )
    samples: int = Field(
        ...,
        ge=2,
        le=1_000_000,
        description="SALib's N. sobol: base sample size, a power of 2 (the balance of "
        "Sobol' sequences needs it), giving N·(D + 2) points, N·(2D + 2) with "
        "second_order; morris: number of trajectories, giving N·(D + 1) points.",
    )
    second_order: bool = Field(
        False,
        description="sobol only: also estimate the second-order indices S2 (almost "
        "doubles the runs). Default: false (SALib's default is true).",
    )
    levels: int = Field(
        4,
        ge=2,
        le=1000,
        description="morris only: number of grid levels p, even (odd p biases the "
        "sample). Default: 4, SALib default and Morris (1991).",
    )
    conf_level: float = Field(
        0.95,
        gt=0.5,
        lt=1.0,
        description="Confidence level of the bootstrap intervals. Default: 0.95, SALib "
        "default.",
    )
    resamples: int = Field(
        1000,
        ge=100,
        le=100_000,
        description="Bootstrap resamples of the analysis. Default: 1000 (SALib's is "
        "100, too few for stable 95 % intervals). sobol holds about 4 arrays of "
        "N·resamples floats at once: 8 GB for N = 2^18.",
    )

    @field_validator("parameters")
    @classmethod
    def _parameter_paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            split_path(key)
        return v

    @model_validator(mode="after")
    def _method_settings(self) -> Self:
        given = self.model_fields_set
        default_levels = type(self).model_fields["levels"].default
        if self.method == "sobol":
            if not _is_power_of_two(self.samples):
                lower = 1 << (self.samples.bit_length() - 1)
                raise ValueError(
                    f"samples: {self.samples} is not a power of 2, which method 'sobol' "
                    f"needs (Sobol' sequences lose their balance otherwise); use "
                    f"{lower} or {2 * lower}"
                )
            if "levels" in given and self.levels != default_levels:
                raise ValueError("levels: used by method 'morris' only")
        if self.method == "morris":
            if self.levels % 2:
                raise ValueError(
                    f"levels: {self.levels} is odd; method 'morris' needs an even number "
                    "of levels (an odd one biases the sample)"
                )
            if self.second_order:
                raise ValueError("second_order: used by method 'sobol' only")
        clash = set(self.fixed) & set(self.parameters)
        if clash:
            raise ValueError(
                f"fixed: {sorted(clash)[0]} is also a varied parameter; keep one"
            )
        return self

    @property
    def n_points(self) -> int:
        """Number of sample points (before replicates) the method and ``samples`` give."""
        d = len(self.parameters)
        if self.method == "morris":
            return self.samples * (d + 1)
        return self.samples * (2 * d + 2 if self.second_order else d + 2)


__all__ = ["RangeSpec", "SensitivitySpec"]
