"""Pydantic models of tumour growth, metastatic emission and detection at the body scale.

Body-scale units (SCIENCE.md §0): time in days, rates in 1/day, tumour size in cells,
diameters in mm. The number of cells per mm³ is a parameter (§9.2), never implicit: it
converts every diameter threshold into cells and scales μ and the per-cell shedding hazard.

Defaults are SCIENCE.md §9.1–§9.5 (Tables 9.2 and 9.3, the derived μ of §9.5). Evidence
marks follow SCIENCE.md: [V] verified, [M] literature not checked, [D] derived (the
arithmetic is in the description), [A] assumption with a range, to be calibrated (§9.7).
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import Field, model_validator

from metastroma.config.models import _Model

#: Growth laws implemented in :mod:`metastroma.body.growth`.
GrowthLaw = Literal["gompertz", "exponential", "power"]

#: Median volume doubling time at 10–20 mm, days [D] (Weedon-Fekjær 2008; SCIENCE.md Table 9.2).
MEDIAN_DOUBLING_10_20_MM_DAY = 97.0


class GrowthConfig(_Model):
    """Growth law of the primary tumour (and, times an organ multiplier, of metastases).

    One law per cohort; its rate parameter varies across patients as a log-normal
    (median, σ_log). Sizes are in cells: N(t) for one patient is given in closed form in
    :mod:`metastroma.body.growth`.
    """

    law: GrowthLaw = Field(
        "gompertz",
        description="Growth law: 'gompertz' (default), 'exponential' or 'power' (dN/dt = a N^γ_g). [A] SCIENCE.md Table 9.2; Hart 1998 prefers a power law [V].",
    )
    initial_cells: float = Field(
        1.0,
        ge=1.0,
        le=1.0e9,
        description="Size at t = 0, cells; default one founding cell [A] (range 1–10⁶).",
    )
    gompertz_plateau_cells: float = Field(
        3.0e12,
        ge=1.0e9,
        le=1.0e14,
        description="Gompertz plateau N∞, cells; default 3 × 10¹², range 10¹²–10¹³. [M] (Norton 1988, Cancer Res).",
    )
    gompertz_rate_median_per_day: float = Field(
        9.9e-4,
        gt=0.0,
        le=1.0,
        description="Median Gompertz rate b in N(t) = N₀ exp[ln(N∞/N₀)(1 − e^{−bt})], 1/day; 0.03 month⁻¹. [M] (Norton 1988); gives a volume doubling ≈ 106 d at 2 cm [D], cf. 97 d (Weedon-Fekjær 2008) [D].",
    )
    gompertz_rate_sigma_log: float = Field(
        1.26,
        ge=0.0,
        le=3.0,
        description="σ of ln b across patients. [D] the time 10 → 20 mm is ∝ 1/b at fixed N∞, N₀ and is log-normal with σ_log 1.26 (Weedon-Fekjær 2008 percentiles, SCIENCE.md §9.1); range 0.5–1.5 [A].",
    )
    exponential_rate_median_per_day: float = Field(
        math.log(2.0) / MEDIAN_DOUBLING_10_20_MM_DAY,
        gt=0.0,
        le=1.0,
        description="Median exponential rate a₀ in N(t) = N₀ e^{a₀t}, 1/day; ln 2 / 97 d = 7.15 × 10⁻³. [D] (Weedon-Fekjær 2008 median doubling at 10–20 mm); Zhang 2017 median 164 d [V] gives 4.2 × 10⁻³.",
    )
    exponential_rate_sigma_log: float = Field(
        1.26,
        ge=0.0,
        le=3.0,
        description="σ of ln a₀ across patients. [D] (Weedon-Fekjær 2008, as for the Gompertz rate); range 0.5–1.5 [A].",
    )
    power_exponent: float = Field(
        0.5,
        gt=0.0,
        lt=1.0,
        description="Exponent γ_g of the power law dN/dt = a N^γ_g, dimensionless in (0, 1). [V] (Hart 1998, Br J Cancer: γ_g = 0.5 fits screening size distributions); mouse LM2-4 0.58 [M] (Benzekry 2014).",
    )
    power_coefficient_median: float = Field(
        290.0,
        gt=0.0,
        le=1.0e6,
        description="Median coefficient a of the power law, cells^(1−γ_g)/day. [D] so that 10 → 20 mm takes the median 0.79 y of Weedon-Fekjær 2008 at γ_g = 0.5 and 10⁶ cells/mm³: a = (N₂₀^½ − N₁₀^½)/(½ · 288.5 d) = 290; rescale with cells_per_mm3 and power_exponent.",
    )
    power_coefficient_sigma_log: float = Field(
        1.26,
        ge=0.0,
        le=3.0,
        description="σ of ln a across patients. [D] the time 10 → 20 mm is ∝ 1/a (Weedon-Fekjær 2008); range 0.5–1.5 [A].",
    )
    metastasis_rate_multiplier: float = Field(
        3.0,
        gt=0.0,
        le=10.0,
        description="Multiplies the growth rate of every metastasis relative to the primary's (before the organ and DDR2 multipliers). 1 = metastases follow the primary's law (Coumans 2013 assumes so [V]); Coumans' fit to times to distant metastasis gives a doubling of 1.7 ± 0.9 months [V], 2–4 × faster than primary volume doubling (97–164 d) [D]. Range 1–4 [A]; 3 is calibrated (docs/body-scale.md): with 1, colonies seeded by a primary growing on the same curve can hardly be detectable before it.",
    )
    cells_per_mm3: float = Field(
        1.0e6,
        ge=1.0e4,
        le=1.0e7,
        description="Tumour cells per mm³; 10⁶ (10⁹ per cm³) as in Benzekry's diam2cell [V] and the 10⁹ cells/g used for shedding [A]. Del Monte 2009 [V]: ≈ 10⁵ (10⁸ per cm³) is more realistic for epithelial tumours; the choice scales μ and every size threshold in cells by 10× (SCIENCE.md §9.2).",
    )

    @model_validator(mode="after")
    def _plateau_above_start(self) -> Self:
        if self.law == "gompertz" and self.gompertz_plateau_cells <= self.initial_cells:
            raise ValueError(
                f"gompertz_plateau_cells = {self.gompertz_plateau_cells:g} must exceed "
                f"initial_cells = {self.initial_cells:g} (cells)"
            )
        return self

    @property
    def rate_median(self) -> float:
        """Median of the active law's rate parameter (1/day; power law: cells^(1−γ_g)/day)."""
        return {
            "gompertz": self.gompertz_rate_median_per_day,
            "exponential": self.exponential_rate_median_per_day,
            "power": self.power_coefficient_median,
        }[self.law]

    @property
    def rate_sigma_log(self) -> float:
        """σ of the log of the active law's rate parameter."""
        return {
            "gompertz": self.gompertz_rate_sigma_log,
            "exponential": self.exponential_rate_sigma_log,
            "power": self.power_coefficient_sigma_log,
        }[self.law]


class EmissionConfig(_Model):
    """Metastatic emission d(N) = μ N^γ (Iwata 2000; Benzekry's discrete algorithm).

    μ varies across patients as a log-normal (Benzekry 2016: μ carries the inter-individual
    variability). The unit of μ is cell^−γ day⁻¹ (cell⁻¹ day⁻¹ at the default γ = 1); its
    default was derived for γ = 1 (SCIENCE.md §9.5), so a scenario changing γ must change μ.
    """

    mu_median_per_day: float = Field(
        1.0e-12,
        gt=0.0,
        le=1.0e-6,
        description="Median μ, cell^−γ day⁻¹. [A] 10⁻¹² (SCIENCE.md §9.5: μ = 0.29 α/N_d gives 3–8 × 10⁻¹³ for doublings 150–60 d [D]); Benzekry neuroblastoma 10⁻¹¹ [V]; Avanzini 2019 explored 10⁻¹⁴–10⁻¹⁰ [V]. ×10 at 10⁵ cells/mm³.",
    )
    mu_sigma_log: float = Field(
        1.5,
        ge=0.0,
        le=3.0,
        description="σ of ln μ across patients. [A] 1.5, range 1–2 (SCIENCE.md §9.5), to be calibrated on §9.7.",
    )
    gamma: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Exponent γ of d(N) = μ N^γ, dimensionless in [0, 1]: 1 = every cell may shed (Benzekry [V]), 2/3 = vascularised surface (Iwata 2000: 0.663 [M]). [A] default 1.",
    )


class DetectionConfig(_Model):
    """Clinical detection of the primary and the lethal burden (SCIENCE.md Table 9.3).

    Metastasis and node detection thresholds are per organ, in the organ graph
    (:attr:`~metastroma.config.body.OrganConfig.detection_threshold_cells`). Screening
    mammography (Weedon-Fekjær's sensitivity curve) is not modelled: the primary is found
    clinically when it reaches its detection diameter.
    """

    primary_clinical_mm: float = Field(
        18.0,
        gt=0.0,
        le=100.0,
        description="Median diameter of clinical detection of the primary, mm; 18 (calibrated within the 10–20 range of SCIENCE.md Table 9.3, where 1 cm³ = 12.4 mm [D] is the textbook size [V secondary]) so that, with the spread below, about 57 % of tumours are T1 (≤ 20 mm), 40 % T2 and 3 % T3 (> 50 mm), close to the SEER mix [A].",
    )
    primary_clinical_sigma_log: float = Field(
        0.55,
        ge=0.0,
        le=2.0,
        description="σ of ln(detection diameter) across patients; 0.55 puts 90 % of diagnoses between 7 and 44 mm around the 18-mm median [A] (range 0.3–0.7; SEER size mix T1 > T2 > T3).",
    )
    staging_window_days: float = Field(
        30.0,
        ge=0.0,
        le=365.0,
        description="Sites found by the staging work-up that follows a first distant detection: every distant metastasis detectable within this many days counts among the sites at first metastasis, days [A] (range 0–90).",
    )
    lethal_burden_cells: float = Field(
        1.0e12,
        ge=1.0e9,
        le=1.0e14,
        description="Total tumour burden at which burden-based death occurs, cells (≈ 1 kg, ≈ 40 doublings). [V] (Coumans 2013, supplement).",
    )


__all__ = [
    "MEDIAN_DOUBLING_10_20_MM_DAY",
    "DetectionConfig",
    "EmissionConfig",
    "GrowthConfig",
    "GrowthLaw",
]
