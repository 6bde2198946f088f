"""Pydantic model of a link scan file (``metastroma link``, SCIENCE.md §10, docs/link.md).

A link scan names a tissue scenario, the WT reference primary tumour, and the points at
which tissue ensembles are run to produce the tissue → body response curves::

    name: link_default
    primary: link_primary_2d.yaml        # relative to this file: the WT reference
    fixed: {time.duration_min: 720}      # dotted-path overrides, as in sweep files
    window_min: [240, 720]               # averaging window of the primary run
    knockdown_fractions: [0, 0.25, 0.5, 0.75, 1]   # f_KD scan (1 = WT, 0 = knockout)
    blockades: [0.9]                     # constant θ_I at f_KD = 1
    arms: [cancer_ko, msc_null, host_null, host_het, no_msc]
    colony: {enabled: true, duration_min: 2160}
    replicates: 10
    seed: 1
    bootstrap_resamples: 2000

Every grid point and arm is the primary with a Table 8.1 perturbation written in
(:func:`metastroma.therapy.apply_to_tissue`) or a constant blockade θ_I
(``ddr2.inhibitor``); the colony runs (growth advantage) apply the same perturbation to
the lung-like secondary tissue of experiment E8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model
from metastroma.config.sweep import Scalar

__all__ = ["LINK_ARMS", "LinkColonyConfig", "LinkScan"]

#: Categorical arms a scan may run (the keys of ``metastroma.link.ARMS``).
LINK_ARMS = ("cancer_ko", "msc_null", "host_null", "host_het", "no_msc")
LinkArm = Literal["cancer_ko", "msc_null", "host_null", "host_het", "no_msc"]
_ARM_DEFAULT: tuple[LinkArm, ...] = (
    "cancer_ko",
    "msc_null",
    "host_null",
    "host_het",
    "no_msc",
)


class LinkColonyConfig(_Model):
    """Colonies in a lung-like secondary tissue (E8): the growth multiplier m_grow."""

    enabled: bool = Field(
        True,
        description="Run colonies for the growth multiplier; off: m_grow is 1 with "
        "zero-width bands and n = 0 (not measured) [A].",
    )
    duration_min: float = Field(
        2160.0,
        gt=0.0,
        le=43_200.0,
        description="Colony growth time T; the rate is ln(N_end/N_0)/T. SCIENCE.md "
        "Table 10.1 asks 14 d; 1.5 d [A] keeps the default scan within 15 min on 2 "
        "cores (the rate, not the size, is compared, SCIENCE.md §10.2).",
    )
    fixed: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="Dotted-path overrides of the colony scenario (E8's lung-like "
        "tissue: 30 cancer cells, MSCs 3x enriched, g_p 0.3).",
    )


class LinkScan(_Model):
    """A link scan: WT primary, f_KD and θ_I scans, categorical arms, colonies."""

    name: str = Field(
        ...,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Name of the scan (letters, digits, _ . -).",
    )
    description: str = Field("", max_length=10_000, description="Free text.")
    primary: Path = Field(
        ...,
        description="Tissue scenario of the WT reference primary tumour, relative to "
        "this file; intravasation and DDR2 must be enabled.",
    )
    fixed: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="Dotted-path overrides set in every primary member (as in sweep "
        "files), e.g. time.duration_min.",
    )
    window_min: tuple[float, float] = Field(
        (240.0, 720.0),
        description="Averaging window [start, end] of the primary run, min: A is the "
        "mean over its metrics rows, the exit hazard the increment over it "
        "(SCIENCE.md Table 10.1: 'a fixed window of the primary run') [A].",
    )
    knockdown_fractions: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0],
        min_length=1,
        max_length=100,
        description="f_KD of the cancer cells, in [0, 1] (1: WT, 0: knockout), "
        "SCIENCE.md §10.1, Table 8.1; must include 1 (the reference).",
    )
    blockades: list[float] = Field(
        default_factory=list,
        max_length=100,
        description="Constant receptor occupancies θ_I in (0, 0.95] at f_KD = 1 "
        "(SCIENCE.md §10.1: 0–0.95; ddr2.inhibitor).",
    )
    arms: list[LinkArm] = Field(
        default_factory=lambda: list(_ARM_DEFAULT),
        max_length=len(LINK_ARMS),
        description="Categorical arms (SCIENCE.md §10.1, Table 8.1): cancer_ko, "
        "msc_null, host_null, host_het, no_msc.",
    )
    colony: LinkColonyConfig = Field(
        default_factory=LinkColonyConfig,
        description="Colonies for the growth multiplier (E8 lung-like tissue).",
    )
    replicates: int = Field(
        10,
        ge=2,
        le=10_000,
        description="Seeded replicates per point; SCIENCE.md §10.2 asks >= 10 [A].",
    )
    seed: int = Field(
        1,
        ge=0,
        le=2**62,
        description="Base seed: replicate r of every point uses seed + r (common "
        "random numbers across points).",
    )
    bootstrap_resamples: int = Field(
        2000,
        ge=100,
        le=100_000,
        description="Percentile-bootstrap resamples of the 95 % bands.",
    )
    merge_tolerance: float = Field(
        0.02,
        ge=0.0,
        le=0.5,
        description="Grid points whose achieved ã differ by less than this are merged "
        "(their members pooled) [A]; the merge is recorded in the provenance.",
    )

    @field_validator("knockdown_fractions", "blockades")
    @classmethod
    def _distinct(cls, v: list[float]) -> list[float]:
        if len(set(v)) != len(v):
            raise ValueError("values must be distinct")
        return v

    @field_validator("knockdown_fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        bad = [x for x in v if not 0.0 <= x <= 1.0]
        if bad:
            raise ValueError(f"{bad[0]!r}: knockdown fractions must be in [0, 1]")
        if 1.0 not in v:
            raise ValueError("must include 1 (f_KD = 1 is the WT reference, ã = 1)")
        return v

    @field_validator("blockades")
    @classmethod
    def _occupancies(cls, v: list[float]) -> list[float]:
        bad = [x for x in v if not 0.0 < x <= 0.95]
        if bad:
            raise ValueError(f"{bad[0]!r}: blockades θ_I must be in (0, 0.95]")
        return v

    @field_validator("arms")
    @classmethod
    def _arms_distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("arms must be distinct")
        return v

    @model_validator(mode="after")
    def _window_ordered(self) -> Self:
        lo, hi = self.window_min
        if not 0.0 <= lo < hi:
            raise ValueError(
                f"window_min: need 0 <= start < end, got [{lo:g}, {hi:g}] (min)"
            )
        return self
