"""Scenario sections of the DDR2 tissue model: DDR2 kinetics, collagen, MSCs, intravasation.

Every field carries its unit in its name, bounds and a source with SCIENCE.md's evidence
marks ([V] verified, [C] read in code, [D] derived, [M] literature not checked, [A]
assumption with a range). The sections are off by default (``enabled: false``) so that a
scenario of the tissue engine alone (e.g. the PhysiCell comparison) is unchanged; the
scenarios in ``scenarios/ddr2_*.yaml`` switch them on.

- :class:`Ddr2Config` — SCIENCE.md §4.6–4.9, Table 4.5: contact-induced expression D,
  collagen-dependent activity A, inhibitor occupancy θ_I, and what A does (Table 4.4).
- :class:`EcmConfig` — §5.1–5.5, Tables 5.1, 5.2: the collagen field (density and nematic
  tensor on its own grid), remodelling by cells, MSC deposition, relaxation, compression
  wrapping, boundary emphasis, contact guidance and the density speed window.
- :class:`MscRulesConfig` — §4.10: MSC genotype and recruitment.
- :class:`IntravasationConfig` — §5.6, Table 5.4: doorways, hazard, clusters.
- :class:`MeasureConfig` — what the time series measures (§6.3, §6.4).
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model

# --------------------------------------------------------------------------- DDR2


class Ddr2CellConfig(_Model):
    """DDR2 of one epithelial cell type (SCIENCE.md §4.6, Table 4.5)."""

    basal_expression: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Basal DDR2 expression D₀ (normalised), MDA-MB-231-like [A] 0.25; range 0.1–0.5 "
        "(benign epithelium 0, Toy 2015 [V qualitative]).",
    )
    max_expression: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Maximum expression D_max; the normalisation (SCIENCE.md Table 4.5).",
    )
    competence: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Induction competence χ: 1 cancer, 0 benign (G10 [V]).",
    )
    perturbation: Literal["none", "knockout", "knockdown"] = Field(
        "none",
        description="'knockout': D₀ = D_max = 0 (so A = 0); 'knockdown': D₀ and D_max × "
        "knockdown_fraction (SCIENCE.md §8.1, Table 8.1).",
    )
    knockdown_fraction: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Fraction f_KD of normal expression left by a knockdown [A] 0.2; range 0–0.5.",
    )

    @model_validator(mode="after")
    def _basal_below_max(self) -> Self:
        if self.basal_expression > self.max_expression:
            raise ValueError("basal_expression: must not exceed max_expression")
        return self

    @property
    def basal_effective(self) -> float:
        """D₀ after the perturbation."""
        return self.basal_expression * self._scale

    @property
    def max_effective(self) -> float:
        """D_max after the perturbation."""
        return self.max_expression * self._scale

    @property
    def _scale(self) -> float:
        if self.perturbation == "knockout":
            return 0.0
        if self.perturbation == "knockdown":
            return self.knockdown_fraction
        return 1.0


class InhibitorPhase(_Model):
    """From ``start_min`` on, a fraction ``occupancy`` of DDR2 receptors is blocked."""

    start_min: float = Field(0.0, ge=0.0, le=1.0e7, description="Phase start.")
    occupancy: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="θ_I, fraction of receptors blocked (SCIENCE.md §4.8; from PK/PD, §8.4).",
    )


class Ddr2EffectsConfig(_Model):
    """What DDR2 activity A does to a cancer cell (SCIENCE.md §4.9, Table 4.4)."""

    guidance_sensitivity_off: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Contact-guidance sensitivity s₀ at A = 0 [A] 0.2; range 0–0.5 (G7, G8).",
    )
    guidance_sensitivity_on: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="s₁ at A = 1 [A] 1.0; range 0.7–1 (M24 readers 1.0 [C]).",
    )
    speed_gain: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="g_v: speed × (1 + g_v A) [A] 0.5; range 0–1 (Zhang 2013, Ren 2014 [V qualitative]).",
    )
    persistence_gain: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="g_T: persistence × (1 + g_T A) [A] 0.5; range 0–1 (SNAIL1 stabilisation [V]).",
    )
    alignment_persistence_gain: float = Field(
        1.0,
        ge=0.0,
        le=5.0,
        description="g_γ: persistence × (1 + g_γ γ), γ = s a [A] 1.0; range 0–2 (Riching 2014 [V]); "
        "0 reproduces Ray 2017's unchanged total motility.",
    )
    adhesion_loss: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="g_adh: cell–cell adhesion × (1 − g_adh A) (EMT) [A] 0.5; range 0–1 "
        "(Zhang 2013, Ren 2014 [V]).",
    )
    proliferation_gain: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="g_p: cycle rate × (1 + g_p A); 0 in the primary (Corsa 2016 [V]), 0.3 at "
        "metastatic sites [A]; range 0–0.5.",
    )
    intravasation_gain: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="g_i: intravasation hazard × (1 + g_i A) [A] 1.0; range 0–3 (Zhang 2013, Ren 2014 "
        "[V qualitative]).",
    )


class Ddr2Config(_Model):
    """DDR2 expression and activity of epithelial cells (SCIENCE.md §4.7, §4.8)."""

    enabled: bool = Field(
        False, description="Solve the DDR2 ODEs (otherwise D = A = 0 in every cell)."
    )
    cancer: Ddr2CellConfig = Field(default_factory=Ddr2CellConfig)
    benign: Ddr2CellConfig = Field(
        default_factory=lambda: Ddr2CellConfig(basal_expression=0.0, competence=0.0),
        description="Benign epithelium: D₀ = 0, χ = 0 (Toy 2015 [V qualitative]; G10 [V]).",
    )
    contact: Literal["direct", "transwell"] = Field(
        "direct",
        description="'direct': induction by MSCs in contact (d < S_ij; G3 [V]); 'transwell': "
        "contact disabled (n_i ≡ 0) while MSCs share the medium and oxygen (E5 control).",
    )
    contact_range_factor: float = Field(
        1.0,
        ge=0.5,
        le=3.0,
        description="Contact means d_ij < factor × S_ij (S_ij the adhesion distance, §1.2) [A] 1.0; "
        "sensitivity range 1.0–1.5 (SCIENCE.md §12 item 13).",
    )
    induction_per_min: float = Field(
        1.39e-3,
        ge=0.0,
        le=1.0,
        description="Contact-induced expression rate k_ind [A] 1.39e-3 (= 1/12 h); range "
        "1/(72 h)–1/(4 h) (G3 qualitative).",
    )
    contact_saturation: float = Field(
        1.0,
        gt=0.0,
        le=100.0,
        description="K_c in n/(n + K_c), n = MSC contacts [A] 1; range 0.5–3.",
    )
    decay_per_min: float = Field(
        9.6e-4,
        ge=0.0,
        le=1.0,
        description="k_deg, relaxation of D to D₀ [A] 9.6e-4 (= ln 2/12 h); range ln 2/(8–24 h) "
        "(receptor half-life not found).",
    )
    hypoxic_induction_per_min: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="k_hyp, extra induction × H(c) [A] 0 (option 0.5 k_ind); range 0–1 × k_ind "
        "(Ren 2014 [V qualitative]).",
    )
    hypoxic_threshold_mmhg: float = Field(
        15.0,
        ge=0.0,
        le=160.0,
        description="H(c) = clamp((c_h − c)/(c_h − c_hs), 0, 1): c_h [C] PC hypoxic threshold 15.",
    )
    hypoxic_saturation_mmhg: float = Field(
        4.0, ge=0.0, le=160.0, description="c_hs [C] PC hypoxic saturation 4."
    )
    activation_per_min: float = Field(
        8.3e-3,
        ge=0.0,
        le=1.0,
        description="k_on, collagen activation [V qualitative] 'extended period' (Vogel 1997); "
        "8.3e-3 (= 1/2 h), range 1/(6 h)–1/(0.5 h).",
    )
    deactivation_per_min: float = Field(
        1.4e-3,
        ge=0.0,
        le=1.0,
        description="k_off [V] (weak) 'sustained > 24 h'; 1.4e-3 (= 1/12 h), range 1/(48 h)–1/(6 h).",
    )
    collagen_half_activation: float = Field(
        0.3,
        gt=0.0,
        le=10.0,
        description="K_ρ in g(ρ) = ρ/(ρ + K_ρ) [A] 0.3; range 0.1–0.6.",
    )
    inhibitor: list[InhibitorPhase] = Field(
        default_factory=list,
        description="Receptor occupancy θ_I(t), piecewise constant (phases by start time; 0 before "
        "the first). The therapy capability drives it from PK/PD (SCIENCE.md §8.4).",
    )
    effects: Ddr2EffectsConfig = Field(default_factory=Ddr2EffectsConfig)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.hypoxic_saturation_mmhg >= self.hypoxic_threshold_mmhg:
            raise ValueError(
                "hypoxic_saturation_mmhg: must be below hypoxic_threshold_mmhg"
            )
        starts = [p.start_min for p in self.inhibitor]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("inhibitor: phases must have increasing start_min")
        return self

    def occupancy_at(self, t_min: float) -> float:
        """θ_I at simulated time ``t_min`` (the last phase started at or before it)."""
        theta = 0.0
        for p in self.inhibitor:
            if p.start_min <= t_min + 1e-9:
                theta = p.occupancy
        return theta


# --------------------------------------------------------------------------- collagen


class EcmConfig(_Model):
    """Collagen fibres on their own grid (SCIENCE.md §5, Tables 5.1, 5.2)."""

    enabled: bool = Field(
        False,
        description="Simulate the collagen field (contact guidance, remodelling, deposition).",
    )
    element_um: float = Field(
        20.0,
        ge=5.0,
        le=200.0,
        description="ECM element edge Δx_ECM [C] M24 20 µm; range 10–30.",
    )
    initial_density: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="ρ₀, initial and baseline collagen density [C] M24 0.5; range 0–1 (E6 uses 0.1).",
    )
    initial_anisotropy: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Initial anisotropy a [A] = baseline a₀ 0.1 (M24 0 [C]; pre-aligned tests 0.9–1).",
    )
    initial_orientation: Literal["random", "angle", "circular", "radial"] = Field(
        "random",
        description="Initial fibre directors: 'random' (uniform per element, seeded), 'angle' "
        "(all at orientation_angle_deg), 'circular'/'radial' about the domain centre [C] M24 options.",
    )
    orientation_angle_deg: float = Field(
        0.0,
        ge=-360.0,
        le=360.0,
        description="Director angle for 'angle' (0° = +x, counter-clockwise; in the x–y plane).",
    )
    baseline_anisotropy: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="a₀, random-stroma baseline that anisotropy relaxes to [A] 0.1; range 0–0.3.",
    )
    relaxation_per_min: float = Field(
        9.9e-5,
        ge=0.0,
        le=1.0,
        description="k_relax, fibre turnover [A] 9.9e-5 (= 1/(7 d)); range 1/(30 d)–1/(2 d). Density "
        "relaxes to ρ₀ at the same rate in elements no cell writes that step.",
    )
    remodelling: Literal["finite", "instant", "off"] = Field(
        "finite",
        description="'finite' rates (M24 discrete_ECM_remodeling = 1 [C]), 'instant' (f ← d̂, a ← 1), "
        "or 'off': a fixed field (no writes, no relaxation; E2).",
    )
    cancer_realignment_per_um: float = Field(
        4.0,
        ge=0.0,
        le=100.0,
        description="r_f of cancer cells at A = 1, per µm travelled [C] M24 leaders 4; range 0–4; "
        "scaled by A [A].",
    )
    cancer_anisotropy_per_um: float = Field(
        0.004,
        ge=0.0,
        le=1.0,
        description="r_a of cancer cells at A = 1, per µm travelled [C] M24 0.004; range 0.001–0.02; "
        "scaled by A [A].",
    )
    msc_realignment_per_um: float = Field(
        4.0,
        ge=0.0,
        le=100.0,
        description="r_f of DDR2+ MSCs, per µm travelled [A]; M24 fibroblasts 4 [C]; scaled by δ.",
    )
    msc_anisotropy_per_um: float = Field(
        0.004,
        ge=0.0,
        le=1.0,
        description="r_a of DDR2+ MSCs, per µm travelled [A] 0.004 (Corsa 2016, Bayer 2019 [V "
        "qualitative]); scaled by δ and × (1 + β) in the boundary band.",
    )
    msc_deposition_per_min: float = Field(
        1.0e-3,
        ge=0.0,
        le=1.0,
        description="r_ρ of DDR2+ MSCs [C] M24 invasive-carcinoma fibroblast 1e-3; range 1e-4–1e-3.",
    )
    msc_null_deposition_fraction: float = Field(
        0.0,
        ge=0.0,
        le=0.2,
        description="Deposition of DDR2-null MSCs as a fraction of DDR2+ (G4 [V]: none) [A] 0; range 0–0.2.",
    )
    msc_target_density: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="ρ*_MSC, deposition target [A] 0.8; range 0.6–1.0 (M24 fibrosis 1.0 [C]).",
    )
    boundary_emphasis: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="β: MSC r_a × (1 + β) in the boundary band [A] 1; range 0–3 (Bayer 2019 [V "
        "qualitative]).",
    )
    wrapping: bool = Field(
        True,
        description="Compression-driven tangential wrapping in the boundary band (PMC6868165 [V "
        "qualitative]).",
    )
    wrapping_per_um: float = Field(
        0.004,
        ge=0.0,
        le=1.0,
        description="r_c per µm of edge advance [A] = r_a 0.004; range 0.001–0.016.",
    )
    edge_speed_window_min: float = Field(
        120.0,
        gt=0.0,
        le=1.0e5,
        description="Time constant of the moving average of the tumour-edge speed u_n [A] 120 min "
        "(numerical smoothing of a noisy radius; range 30–600).",
    )
    band_um: float = Field(
        40.0,
        gt=0.0,
        le=500.0,
        description="Boundary band width w_band [A] 40 µm (2 elements); range 20–60 (§6.4).",
    )
    guidance: bool = Field(
        True,
        description="Contact guidance: motility projected on the local fibre (§5.5, M24 [C]).",
    )
    normalised_speed: bool = Field(
        True,
        description="Guided motility keeps its speed (Riching 2014, Ray 2017 [V]); False: speed × |m̃| "
        "(M24 leader–follower runs [C]).",
    )
    density_speed_window: bool = Field(
        True, description="Speed × h(ρ), the M24 density window [C]."
    )
    motility_density_low: float = Field(
        0.0, ge=0.0, le=1.0, description="ρ_L, no motion at or below [C] M24 0."
    )
    motility_density_ideal: float = Field(
        0.5, ge=0.0, le=1.0, description="ρ_I, full speed [C] M24 0.5."
    )
    motility_density_high: float = Field(
        1.0, ge=0.0, le=1.0, description="ρ_H, no motion at or above [C] M24 1."
    )
    microtrack_speed_gain: float = Field(
        0.0,
        ge=0.0,
        le=3.0,
        description=(
            "g_mt, the optional micro-track bonus of SCIENCE.md §5.5: speed × (1 + g_mt a "
            "max(0, 1 − ρ/ρ_mt)), faster in aligned, locally sparse matrix (Kraning-Rush "
            "2013 [V qualitative]: micro-tracks raise MDA-MB-231 speed). 0 = off "
            "(default) [A]; range 0–1."
        ),
    )
    microtrack_max_density: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description=(
            "ρ_mt: no micro-track bonus at or above this density; largest in an empty "
            "aligned element [A] (default the baseline ρ₀ 0.5; range 0.3–0.8)."
        ),
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        lo, mid, hi = (
            self.motility_density_low,
            self.motility_density_ideal,
            self.motility_density_high,
        )
        if not lo < mid < hi:
            raise ValueError(
                "motility_density_ideal: needs motility_density_low < ideal < high"
            )
        return self


# --------------------------------------------------------------------------- MSCs


class MscRulesConfig(_Model):
    """MSC/CAF rules (SCIENCE.md §4.10): DDR2 genotype and recruitment."""

    genotype: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="MSC DDR2 δ: 1 DDR2+ (metastasis-derived MSCs, G1 [V]), 0 DDR2-null (slie/slie "
        "host, G9, G11 [V]); constant, never induced [A].",
    )
    recruitment_per_min: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="k_rec, MSCs recruited per cancer cell per minute, entering at the domain edge "
        "[A] 0 (no data; off by default).",
    )


# --------------------------------------------------------------------------- intravasation


class IntravasationConfig(_Model):
    """Exit of cancer cells into vessels at doorways (SCIENCE.md §5.6, Table 5.4)."""

    enabled: bool = Field(False, description="Cancer cells may leave at doorways.")
    doorway_density_per_mm2: float = Field(
        2.5,
        ge=0.0,
        le=1.0e4,
        description="n_door, doorways per mm² of the x–y section, placed by the seeded generator "
        "[C] MetaSpread (10 entry points on 2 × 2 mm); [A] range 1–20. In 3D each is a vessel "
        "line along z.",
    )
    doorway_positions_um: list[list[float]] = Field(
        default_factory=list,
        description="Doorways at given points (x, y; a z is ignored: 3D doorways are lines along z). [A]",
    )
    doorways_on_oxygen_vessels: bool = Field(
        False,
        description="Also put a doorway at every oxygen vessel (oxygen.vessels) (Wyckoff 2007 [V]).",
    )
    exclusion_radius_um: float = Field(
        0.0,
        ge=0.0,
        le=1.0e5,
        description="No random doorway within this distance of the domain centre (a tumour "
        "implanted away from vessels) [A] 0.",
    )
    base_hazard_per_min: float = Field(
        1.0e-4,
        ge=0.0,
        le=1.0,
        description="h₀ at a doorway, fitted on the WT reference (E4) to h̄ = 2.2e-6 /cell/min; [D]/[A] "
        "default 1e-4, range 4.4e-5–4.4e-4.",
    )
    capture_radii: float = Field(
        2.0,
        ge=0.5,
        le=10.0,
        description="Capture distance in cell radii (one diameter = 2) [A]; range 1–3.",
    )
    fibre_gain: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="g_f in (1 + g_f a cos² ψ) [A] 1; range 0–3 (Han 2016 [V qualitative]).",
    )
    cluster_probability: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="p_cl, the leaving cell takes its contacting cancer-cell neighbours [A] 0.3; "
        "range 0.1–0.5.",
    )
    lymphatic_doorway_density_per_mm2: float = Field(
        0.0,
        ge=0.0,
        le=1.0e4,
        description="n_lymph, lymphatic doorways per mm² of the x–y section, placed like the "
        "random blood doorways (same exclusion radius, own streams); exit there follows the same "
        "rule with the same h₀ and gains, SCIENCE.md §5.6: off by default (the blood/lymph split "
        "is a body-scale parameter, f_lymph §7.3) [A] 0.",
    )
    lymphatic_doorway_positions_um: list[list[float]] = Field(
        default_factory=list,
        description="Lymphatic doorways at given points (x, y; a z is ignored: 3D doorways are "
        "lines along z), SCIENCE.md §5.6 [A] none.",
    )

    @field_validator("doorway_positions_um", "lymphatic_doorway_positions_um")
    @classmethod
    def _finite(cls, v: list[list[float]]) -> list[list[float]]:
        for p in v:
            if len(p) not in (2, 3) or not all(math.isfinite(x) for x in p):
                raise ValueError("each doorway needs 2 or 3 finite coordinates")
        return v


# --------------------------------------------------------------------------- measurements


class MeasureConfig(_Model):
    """Definitions used by the time series of ``metrics.parquet`` (SCIENCE.md §6)."""

    invasion_threshold_um: float = Field(
        20.0,
        ge=0.0,
        le=1.0e4,
        description="A cancer cell farther than this beyond the bulk edge is invading [A] 20 µm "
        "(one element, about one cell diameter).",
    )
    tacs2_max_angle_deg: float = Field(
        15.0,
        gt=0.0,
        lt=90.0,
        description="TACS-2: fibre within this angle of the edge tangent (Provenzano 2008 [V]).",
    )
    tacs3_min_angle_deg: float = Field(
        60.0,
        gt=0.0,
        lt=90.0,
        description="TACS-3: fibre beyond this angle to the tangent [A] project convention.",
    )
