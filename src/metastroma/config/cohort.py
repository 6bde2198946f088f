"""Pydantic model of a virtual-cohort scenario (``metastroma cohort``; SCIENCE.md §7, §9, §10).

A cohort scenario is a YAML file with the keys of :class:`CohortScenario`. Every section has
defaults: an empty mapping ``{}`` is the reference adult female cohort with the calibrated
defaults of docs/body-scale.md. Body-scale units (SCIENCE.md §0): days, 1/day, cells, mm.

Evidence marks follow SCIENCE.md: [V] verified, [M] literature not checked, [D] derived,
[A] assumption with a range, to be calibrated. Values marked "calibrated" were chosen so that
the default cohort reproduces the figures of SCIENCE.md §9.7; docs/body-scale.md gives the
reasoning and the figures reached.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from metastroma.config.body import AnatomyConfig, default_anatomy
from metastroma.config.body_growth import DetectionConfig, GrowthConfig
from metastroma.config.models import _Model

#: Mean cancer-cell DDR2 activity of the WT reference, A_WT (SCIENCE.md §10.2, "0.3 until
#: measured") [A].
A_WT = 0.3


class SheddingConfig(_Model):
    """Shedding of cells by a tumour and the survival chain of a shed cell (Tables 7.5, 7.6).

    Cells leave a tumour of N cells at rate h_shed · r_intra · N (cells/day). A shed cell is
    viable with f_viable, survives the circulation with P_circ (single cell or cluster), then
    meets the organ graph's first-pass filters (arrest, extravasation, dormant survival,
    colonisation in the organ) and founds a macroscopic colony with P_macro.
    """

    hazard_per_day: float = Field(
        3.2e-3,
        ge=0.0,
        le=1.0,
        description="Per-cell shedding hazard h_shed, 1/day: 3.2 × 10⁶ cells g⁻¹ day⁻¹ (Butler & Gullino 1975 [V]) at 10⁹ cells/g [D]; range 3.2 × 10⁻³ – 3.2 × 10⁻² (SCIENCE.md Table 7.5).",
    )
    size_exponent: float = Field(
        0.5,
        ge=0.5,
        le=1.0,
        description="γ_s: a tumour of N cells sheds h_shed · N_ref · (N/N_ref)^γs cells/day. 1 = every cell sheds alike (Benzekry's γ = 1 [V]); 2/3 = shedding from a vascularised surface (Iwata 2000 fit 0.663 [M]). [A] range 0.5–1; calibrated to 0.5 (docs/body-scale.md): with γs = 1 too few colonies are seeded early enough to be detectable at diagnosis (K2). Only 1 with the power growth law.",
    )
    reference_size_cells: float = Field(
        4.2e9,
        ge=1.0,
        le=1.0e13,
        description="N_ref, the size at which h_shed holds exactly when γs < 1: 4.2 × 10⁹ cells (a 2-cm, 4.2-g tumour [D]; Butler & Gullino measured 2–4 g tumours [V]).",
    )
    patient_sigma_log: float = Field(
        1.5,
        ge=0.0,
        le=3.0,
        description="σ of ln of a patient's shedding multiplier (median 1): the inter-patient variability that Benzekry 2016 puts on μ [V concept]; 1.5 (range 1–2) as for μ in SCIENCE.md §9.5 [A].",
    )
    viable_fraction: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="f_viable, share of shed cells that are viable; range 0.01–1, default 0.1 in Table 7.5 [A]; calibrated to its low end 0.01 (SCIENCE.md §7.6 and §12 item 2: the chain must sit at or below its low ends).",
    )
    circulation_survival_single: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="P_circ of a single cell (shear, anoikis, immune attack in blood or lymph); range 0.01–0.1, default 0.03 in Table 7.5 [A]; calibrated to 0.01 (low end).",
    )
    circulation_survival_cluster: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="P_circ of a cluster; 0.5 (range 0.3–0.8) [A] Table 7.5 (MetaSpread's single:cluster ratio 50 [C], Aceto 2014's 23–50-fold potential [V]).",
    )
    cluster_size_cells: int = Field(
        5,
        ge=2.0,
        le=50.0,
        description="Mean number of cells in a shed cluster, n_cl; clusters hold 2–50 cells (Aceto 2014 [V]); mean 5 [A] (range 2–50). The link hands the mean over (SCIENCE.md §10.1).",
    )
    macrometastasis_probability: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="P_macro, share of micrometastases that become macroscopic, growing colonies; 0.01 (range 0.01–0.05) [A]; Luzzi 1998 [M] ⇒ ≈ 0.01 [D] (SCIENCE.md Table 7.5). Micrometastases that fail stay dormant (Chambers 2001 [V]: dormancy of single cells and micrometastases).",
    )
    dormancy_mean_days: float = Field(
        1095.0,
        ge=0.0,
        le=3650.0,
        description="Mean of the exponential delay between seeding and outgrowth of a colony (wake-up), days; 0 = grows at once (Benzekry's τ0 = 0). Calibrated to 1095 d (3 y) within the 0–1826 d range of SCIENCE.md Table 7.5 [A], so that relapses continue past 5 years (K1 vs K6); dormancy of single cells and micrometastases: Chambers 2001 [V].",
    )


class Ddr2ResponseConfig(_Model):
    """DDR2-dependent rates of the body scale: the tissue → body link (SCIENCE.md §10).

    A patient's relative DDR2 activity ã = A/A_WT sets the intravasation multiplier
    r_intra(ã), the cluster share f_cl and the metastasis growth multiplier m_grow. With
    ``curves`` set they are read from that response-curve file (docs/link.md), interpolated
    at the two categories' ã; without it, the SCIENCE.md §10.2 default formulas
    r_intra(ã) = a + b ã, f_cl constant and m_grow(A) = (1 + g_p A)/(1 + g_p A_WT) apply.
    r_intra and m_grow are 1 at ã = 1 either way.
    """

    relative_activity_high: float = Field(
        1.0,
        ge=0.0,
        le=5.0,
        description="ã of DDR2-high tumours; 1 = the WT reference [A].",
    )
    relative_activity_low: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="ã of DDR2-low tumours [A] (range 0–1; 0 = DDR2 knocked out).",
    )
    high_fraction: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of patients with DDR2-high tumours. Default 1: the calibration cohort is the WT reference (SCIENCE.md §10.2: absolute scales are calibrated once on WT) [A]; 0.56 reproduces Toy 2015's share of DDR2-high invasive tumours [V].",
    )
    intravasation_intercept: float = Field(
        0.35,
        ge=0.0,
        le=10.0,
        description="a in r_intra(ã) = a + b ã; 0.35, the count prior of SCIENCE.md Table 4.2 [A] (§10.2 default curve). Not used when `curves` is set.",
    )
    intravasation_slope: float = Field(
        0.65,
        ge=0.0,
        le=10.0,
        description="b in r_intra(ã) = a + b ã; 0.65 [A] (§10.2); a + b = 1 keeps r_intra(1) = 1. Not used when `curves` is set.",
    )
    cluster_event_fraction: float = Field(
        0.03,
        ge=0.0,
        le=1.0,
        description="f_cl, share of shedding events that are clusters; 0.03 (range 0.02–0.05) [M] (Aceto 2014); constant in ã by default (§10.2). With `curves`, the body's WT reference: f_cl(ã) = this × f_cl,file(ã)/f_cl,file(1), so the calibration holds at WT (docs/link.md) [A].",
    )
    growth_gain: float = Field(
        0.3,
        ge=0.0,
        le=10.0,
        description="g_p in m_grow(A) = (1 + g_p A)/(1 + g_p A_WT), the DDR2 growth advantage at metastatic sites; 0.3 [A] (SCIENCE.md §12 item 6, §10.2). Not used when `curves` is set.",
    )
    activity_wt: float = Field(
        A_WT,
        gt=0.0,
        le=1.0,
        description="A_WT, mean cancer-cell DDR2 activity of the WT reference; 0.3 until measured [A] (SCIENCE.md §10.2). Enters only m_grow's default formula: not used when `curves` is set.",
    )
    curves: Path | None = Field(
        None,
        description="Response-curve file of the tissue → body link (JSON, format 'metastroma-response-curves' version 1, docs/link.md). When set, r_intra, f_cl and m_grow are read from it, interpolated (PCHIP, no extrapolation) at relative_activity_high and relative_activity_low (f_cl relative to the file's WT value, times cluster_event_fraction), and intravasation_intercept, intravasation_slope, growth_gain and activity_wt are not used. A relative path is resolved against the directory of the cohort scenario file. The shipped file metastroma/link/data/default_curves.json holds tissue-derived curves (metastroma link scenarios/link_default.yaml); metastroma/link/data/prior_curves.json tabulates the §10.2 defaults [A]. Default: none (the §10.2 formulas).",
    )

    curve_arm: Literal["msc_null", "host_null", "host_het", "no_msc"] | None = Field(
        None,
        description="A host-side perturbation read from a categorical arm of the curve file (SCIENCE.md Table 8.1, body column: 'link curves at the MSC-null / host-null point', 'no-MSC point'; docs/perturbations.md): every category's r_intra and m_grow are multiplied by the arm's values (relative to WT), and its f_cl by the arm's f_cl over the file's WT f_cl; the cancer cells' ã is unchanged. Host and cancer-cell effects compose by multiplication [A]. Requires `curves` and that the file has the arm with those three quantities. Default: none (the WT host).",
    )

    @model_validator(mode="after")
    def _arm_needs_curves(self) -> Self:
        if self.curve_arm is not None and self.curves is None:
            raise ValueError(
                f"curve_arm = {self.curve_arm!r} reads a categorical arm of a response-curve "
                "file: set ddr2.curves too (e.g. the shipped default, docs/link.md)"
            )
        return self

    @model_validator(mode="after")
    def _reference_is_one(self) -> Self:
        total = self.intravasation_intercept + self.intravasation_slope
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"intravasation_slope: intercept + slope = {total:g} must be 1 so that "
                "r_intra = 1 at the WT reference (SCIENCE.md §10.2)"
            )
        return self


class SurgeryConfig(_Model):
    """Surgery at diagnosis and adjuvant therapy."""

    removes_organs: list[str] = Field(
        default_factory=lambda: ["axillary_nodes", "internal_mammary_nodes"],
        description="Organs whose deposits are cleared with the primary at diagnosis: axillary surgery (sentinel-node biopsy or dissection) and regional nodal irradiation of the internal-mammary chain [A]; organ names of the anatomy. Without regional treatment, untreated nodal disease grows to the lethal burden.",
    )
    adjuvant_kill_probability: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Probability that adjuvant systemic therapy at surgery eradicates each remaining occult colony (dormant or growing). Calibrated to 0.55 [A] (range 0–0.6): the clinical figures (K1, K6) come from treated patients; adjuvant chemotherapy and endocrine therapy each cut recurrence by about a third to a half (EBCTCG meta-analyses [M]). 0 = no adjuvant therapy.",
    )


class DeathConfig(_Model):
    """Death from metastatic disease (SCIENCE.md §9.6, 'death model')."""

    model: Literal["hazard", "burden", "hazard_or_burden"] = Field(
        "hazard_or_burden",
        description="'hazard': once a distant metastasis is detected, death hazard h₀ × Π HR(site) over detected sites; 'burden': death when the total burden reaches detection.lethal_burden_cells (Coumans 2013); 'hazard_or_burden' (default): whichever comes first. SCIENCE.md §9.6 makes 'hazard' the default; alone it lets burdens grow past 1 kg, where secondary seeding explodes, so the default adds the lethal burden as a ceiling [A].",
    )
    median_survival_days: float = Field(
        803.6,
        gt=0.0,
        le=36525.0,
        description="Median survival of bone-only metastatic disease, days: h₀ = ln 2 / median = 8.6 × 10⁻⁴ /day at 2.2 y (luminal A, Kennecke 2010 [V]) [D]; range 730–913 (2–2.5 y).",
    )
    frailty_sigma_log: float = Field(
        1.2,
        ge=0.0,
        le=2.0,
        description="σ of ln of a patient's frailty, a log-normal multiplier of the death hazard with mean 1 (shared-frailty models) [A] range 0–1.5: clinical survival with metastatic disease has a heavier tail than any constant hazard: no constant hazard meets K8 and K11 together; 1.2 is calibrated to both (docs/body-scale.md). 0 = no frailty.",
    )


class CohortScenario(_Model):
    """A virtual cohort: anatomy, growth, shedding, DDR2 response, detection, surgery, death."""

    seed: int = Field(
        0,
        ge=0,
        le=2**62,
        description="Seed of the counter-based generator; patient k's history depends on (seed, k) only.",
    )
    patients: int = Field(
        1000,
        ge=1,
        le=100_000_000,
        description="Number of virtual patients (ids 0 … N − 1); the CLI's --patients overrides it.",
    )
    follow_up_years: float = Field(
        15.0,
        gt=0.0,
        le=60.0,
        description="Follow-up after diagnosis, years; patients alive at its end are censored. 15 y covers the lifetime relapse figure K1 (SCIENCE.md §9.7).",
    )
    max_onset_to_diagnosis_years: float = Field(
        50.0,
        gt=0.0,
        le=100.0,
        description="The cohort is of women whose primary is diagnosed at most this many years after its founding cell; a patient whose drawn growth rate would take longer redraws it (counter-based rejection: a truncated log-normal). Without it the log-normal rate (σ_log 1.26) gives 5 % of patients preclinical phases over 30 y and a few over a century. 50 y [A] (range 20–50, calibrated at its top: shorter windows cut the slow growers that carry the mean 10 → 20 mm time, K12, and early dissemination, K2; BCDDP sojourn 538 d and doublings 28–732 d [M]).",
    )
    time_step_days: float = Field(
        7.0,
        gt=0.0,
        le=60.0,
        description="Step of the cohort clock, days: shedding integrals (trapezoid), death hazard and burden are evaluated per step; colony seeding times are placed within their step. 7 d is ≤ 1/10 of the fastest median doubling [A].",
    )
    max_colonies_per_patient: int = Field(
        1_000_000,
        ge=1,
        le=10_000_000,
        description="Cap on colonies tracked per patient (memory guard); a patient reaching it is reported and the run fails rather than dropping colonies.",
    )
    anatomy: AnatomyConfig = Field(
        default_factory=default_anatomy,
        description="The organ graph (SCIENCE.md §7); default the reference adult female.",
    )
    growth: GrowthConfig = Field(
        default_factory=GrowthConfig,
        description="Growth law of the primary and metastases (SCIENCE.md §9.1).",
    )
    shedding: SheddingConfig = Field(
        default_factory=SheddingConfig, description="Shedding and the cascade chain."
    )
    ddr2: Ddr2ResponseConfig = Field(
        default_factory=Ddr2ResponseConfig,
        description="DDR2 response: the SCIENCE.md §10.2 default formulas, or a response-curve file of the link (ddr2.curves).",
    )
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig,
        description="Primary detection and lethal burden (SCIENCE.md §9.3).",
    )
    surgery: SurgeryConfig = Field(
        default_factory=SurgeryConfig, description="Surgery and adjuvant therapy."
    )
    death: DeathConfig = Field(
        default_factory=DeathConfig, description="Death model (SCIENCE.md §9.6)."
    )

    @model_validator(mode="after")
    def _power_law_sheds_linearly(self) -> Self:
        if self.growth.law == "power" and self.shedding.size_exponent != 1.0:
            raise ValueError(
                "shedding.size_exponent: must be 1 with the power growth law "
                f"(got {self.shedding.size_exponent:g})"
            )
        return self

    @model_validator(mode="after")
    def _organs_exist(self) -> Self:
        names = [o.name for o in self.anatomy.organs]
        for i, organ in enumerate(self.surgery.removes_organs):
            if organ not in names:
                near = difflib.get_close_matches(organ, names, n=3)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                raise ValueError(
                    f"surgery.removes_organs[{i}]: unknown organ {organ!r}{hint}; "
                    f"organs are {', '.join(names)}"
                )
        return self

    @property
    def follow_up_days(self) -> float:
        """Follow-up after diagnosis in days (365.25 d per year)."""
        return self.follow_up_years * 365.25


def relative_intravasation(cfg: Ddr2ResponseConfig, relative_activity: float) -> float:
    """r_intra(ã) = a + b ã (SCIENCE.md §10.2 default curve), dimensionless."""
    return cfg.intravasation_intercept + cfg.intravasation_slope * relative_activity


def growth_multiplier(cfg: Ddr2ResponseConfig, relative_activity: float) -> float:
    """m_grow(A) = (1 + g_p A)/(1 + g_p A_WT) with A = ã A_WT (SCIENCE.md §10.2)."""
    a = relative_activity * cfg.activity_wt
    return (1.0 + cfg.growth_gain * a) / (1.0 + cfg.growth_gain * cfg.activity_wt)


__all__ = [
    "A_WT",
    "CohortScenario",
    "Ddr2ResponseConfig",
    "DeathConfig",
    "SheddingConfig",
    "SurgeryConfig",
    "growth_multiplier",
    "relative_intravasation",
]
