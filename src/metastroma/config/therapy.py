"""Pydantic models of therapy: DDR2 inhibitors (PK, schedule, PD) and genetic perturbations.

SCIENCE.md §8. Time in hours (dosing days where a name says ``_day``), doses in mg,
concentrations in ng/mL and nM (nM = ng/mL ÷ MW × 10³), volumes in L. Every field carries
its source with SCIENCE.md's evidence marks ([V] verified, [M] literature not checked,
[D] derived, [A] assumption with a range).

- :class:`DrugConfig` — one-compartment oral PK with first-order absorption (§8.3) and the
  drug's cellular DDR2 IC50 (Table 8.2). Presets in :data:`DRUGS`: dasatinib set A (the
  default) and set B of Table 8.3, and a generic DDR2-selective compound (all [A]).
- :class:`ScheduleConfig` — dose, interval, start and stop day, missed doses.
- :class:`PdConfig` — Emax/Hill inhibition, free or total basis, tumour penetration, an
  optional effect compartment (§8.4, Table 8.5).
- :class:`InhibitorConfig` — a drug (preset name or full mapping), a schedule and PD.
- :class:`PerturbationConfig` (alias ``KnockoutConfig``) — the genetic perturbations of
  Table 8.1, applied to a tissue scenario by :mod:`metastroma.therapy.perturbations`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model

__all__ = [
    "DRUGS",
    "DrugConfig",
    "InhibitorConfig",
    "KnockoutConfig",
    "PdConfig",
    "PerturbationConfig",
    "PerturbationKind",
    "ScheduleConfig",
]


def _refuse_bool_or_str(v: Any) -> Any:
    """Refuse ``true`` or ``'3'`` in an optional number (``_Model`` checks plain numbers only)."""
    if isinstance(v, bool | str):
        raise ValueError(f"must be a number, got {type(v).__name__} {v!r}")
    return v


# --------------------------------------------------------------------------- drug


class DrugConfig(_Model):
    """One-compartment oral PK of a DDR2 inhibitor and its cellular IC50 (SCIENCE.md §8.2, §8.3).

    The defaults are dasatinib set A of Table 8.3 (AUC and terminal half-life matched).
    Volumes and clearance are apparent (V/F, CL/F), so ``bioavailability`` stays 1.
    Clearance is derived: CL/F = k_e · V/F.
    """

    name: str = Field(
        "dasatinib_a",
        min_length=1,
        max_length=100,
        description="Label written into outputs.",
    )
    source: str = Field(
        "SCIENCE.md Table 8.3 set A [D] (one-compartment fit to AUC and terminal t½ of "
        "dasatinib 100 mg); MW, f_u [V] label; IC50 [M] Day 2008.",
        max_length=2000,
        description="Where the values come from, with evidence marks.",
    )
    molecular_weight_g_per_mol: float = Field(
        488.0,
        gt=50.0,
        le=5000.0,
        description="Molecular weight MW, g/mol; dasatinib 488 [V] (Table 8.2). Converts "
        "ng/mL to nM: C[nM] = C[ng/mL] / MW × 10³.",
    )
    ka_per_h: float = Field(
        4.35,
        gt=0.0,
        le=100.0,
        description="Absorption rate k_a, 1/h; dasatinib set A 4.35 [D], set B 5.67 [D] "
        "(Table 8.3; Tmax 0.5 h, range 0.25–1.5 h [V]).",
    )
    ke_per_h: float = Field(
        0.193,
        gt=0.0,
        le=100.0,
        description="Elimination rate k_e = CL/V, 1/h; dasatinib set A 0.193 (t½ 3.6 h) [D], "
        "set B 0.408 (t½ 1.7 h) [D] (Table 8.3); label t½ 3–5 h [V].",
    )
    volume_l: float = Field(
        1484.0,
        gt=0.0,
        le=1.0e5,
        description="Apparent volume V/F, L; dasatinib set A 1484 [D], set B 780 [D] "
        "(Table 8.3); label 2505 [V], range 780–2505.",
    )
    bioavailability: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="F; 1 because V/F and CL/F are apparent parameters (SCIENCE.md §8.3). "
        "Set F < 1 only with a true V and CL.",
    )
    fraction_unbound: float = Field(
        0.04,
        gt=0.0,
        le=1.0,
        description="Unbound fraction in plasma f_u; dasatinib 0.04 (96 % bound) [V] label "
        "(Table 8.2).",
    )
    ic50_nmol_per_l: float = Field(
        1.4,
        gt=0.0,
        le=1.0e6,
        description="Cellular DDR2 IC50, nM; dasatinib 1.4 (collagen-induced "
        "autophosphorylation, serum-containing medium) [M] Day 2008; WRG-28 230 "
        "(range 100–1000) [M] Grither 2018 (Table 8.2).",
    )

    @property
    def clearance_l_per_h(self) -> float:
        """Apparent clearance CL/F = k_e · V/F, L/h."""
        return self.ke_per_h * self.volume_l

    @property
    def half_life_h(self) -> float:
        """Elimination half-life ln 2 / k_e, h."""
        return math.log(2.0) / self.ke_per_h

    @classmethod
    def preset(cls, name: str) -> DrugConfig:
        """The preset ``name`` of :data:`DRUGS`.

        Raises
        ------
        ValueError
            If ``name`` is not a preset; the message lists the presets.
        """
        try:
            return DRUGS[name]
        except KeyError:
            raise ValueError(
                f"drug: unknown preset {name!r}; choose one of {sorted(DRUGS)} "
                "or give a full drug mapping"
            ) from None


#: Drug presets (SCIENCE.md Tables 8.2, 8.3), read-only.
DRUGS: Mapping[str, DrugConfig] = MappingProxyType(
    {
        "dasatinib_a": DrugConfig(),
        "dasatinib_b": DrugConfig(
            name="dasatinib_b",
            source="SCIENCE.md Table 8.3 set B [D] (one-compartment fit to Cmax and AUC "
            "of dasatinib 100 mg; misses the terminal t½); MW, f_u [V] label; IC50 [M] "
            "Day 2008.",
            ka_per_h=5.67,
            ke_per_h=0.408,
            volume_l=780.0,
        ),
        "dasatinib_mouse": DrugConfig(
            name="dasatinib_mouse",
            source="SCIENCE.md Table 8.2, dasatinib in mice [V] (Abcb1a/1b;Abcg2 "
            "study, Lagas 2009 [M]): 10 mg/kg p.o. Cmax 0.37 mg/L, AUC0-6 1.02 mg·h/L, "
            "CL/F 10.4 L/h/kg; t½ 0.93 h (5 mg/kg i.p.). One-compartment fit [D] for a "
            "25-g mouse [A] (doses in mg per mouse: 10 mg/kg = 0.25 mg): k_e = ln 2/0.93 "
            "h, CL/F = 0.26 L/h, V/F = CL/k_e = 0.349 L, k_a = 1.62 /h matching Cmax "
            "(Tmax 0.89 h; AUC0-6 0.94, 8 % below the observed 1.02). f_u 0.04 and IC50 "
            "1.4 nM as in humans [A] (mouse binding not found).",
            ka_per_h=1.62,
            ke_per_h=math.log(2.0) / 0.93,
            volume_l=0.26 / (math.log(2.0) / 0.93),
        ),
        "generic_ddr2": DrugConfig(
            name="generic_ddr2",
            source="SCIENCE.md Table 8.2 'generic DDR2-selective compound' [A]: no "
            "published PK for a selective DDR2 inhibitor. IC50 230 nM = WRG-28 [M] "
            "(Grither 2018; range 100–1000). PK assumed [A], typical of an oral small-"
            "molecule kinase inhibitor: MW 500 g/mol (300–700); k_a 1.0 /h (0.3–5, Tmax "
            "≈ 2–4 h); k_e 0.0866 /h = ln 2/8 h (0.03–0.35, t½ 2–24 h, between dasatinib "
            "3.6 h and nilotinib/imatinib 17–18 h); V/F 500 L (100–2500); f_u 0.05 "
            "(0.01–0.2; dasatinib 0.04, nilotinib 0.02, imatinib 0.05).",
            molecular_weight_g_per_mol=500.0,
            ka_per_h=1.0,
            ke_per_h=math.log(2.0) / 8.0,
            volume_l=500.0,
            fraction_unbound=0.05,
            ic50_nmol_per_l=230.0,
        ),
    }
)


# --------------------------------------------------------------------------- schedule


class ScheduleConfig(_Model):
    """A dosing schedule: dose ``dose_mg`` every ``interval_h`` from ``start_day``.

    Dose k (k = 0, 1, ...) is scheduled at 24·start_day + k·interval_h hours, while that
    time is before 24·stop_day; the indices in ``missed_doses`` are not taken. Hour 0 is
    the start of day 0 (SCIENCE.md §8.3: "arbitrary schedules (start, stop, missed doses)").
    """

    dose_mg: float = Field(
        100.0,
        ge=0.0,
        le=1.0e4,
        description="Dose per administration, mg; dasatinib 100 mg QD or 70 mg BID [V] "
        "(SCIENCE.md §8.5). 0 gives the untreated control exactly.",
    )
    interval_h: float = Field(
        24.0,
        gt=0.0,
        le=24.0 * 28,
        description="Dosing interval τ, h; 24 (QD) or 12 (BID) [V] (SCIENCE.md §8.5).",
    )
    start_day: float = Field(
        0.0,
        ge=0.0,
        le=3650.0,
        description="Day of the first dose (hour 24·start_day) [A] scenario choice.",
    )
    stop_day: float | None = Field(
        None,
        description="No dose at or after this day; None: dosing until the end [A] scenario "
        "choice. Must exceed start_day (days, at most 3650).",
    )
    missed_doses: list[int] = Field(
        default_factory=list,
        description="Indices (0 = first scheduled dose) of doses not taken [A] scenario choice.",
    )

    @field_validator("stop_day", mode="before")
    @classmethod
    def _stop_is_number(cls, v: Any) -> Any:
        return v if v is None else _refuse_bool_or_str(v)

    @field_validator("missed_doses", mode="before")
    @classmethod
    def _indices_are_integers(cls, v: Any) -> Any:
        if isinstance(v, list):
            bad = [x for x in v if not isinstance(x, int) or isinstance(x, bool)]
            if bad:
                raise ValueError(f"must be whole dose indices, got {bad[0]!r}")
        return v

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.stop_day is not None:
            if not math.isfinite(self.stop_day) or self.stop_day > 3650.0:
                raise ValueError(
                    f"stop_day = {self.stop_day}: must be finite and at most 3650 (days)"
                )
            if self.stop_day <= self.start_day:
                raise ValueError(
                    f"stop_day = {self.stop_day:g}: must be after start_day = "
                    f"{self.start_day:g} (days)"
                )
        neg = [i for i in self.missed_doses if i < 0]
        if neg:
            raise ValueError(
                f"missed_doses: index {neg[0]} is negative (0 is the first dose)"
            )
        if len(set(self.missed_doses)) != len(self.missed_doses):
            raise ValueError("missed_doses: an index is listed twice")
        n = self.n_scheduled
        if n is not None:
            late = [i for i in self.missed_doses if i >= n]
            if late:
                raise ValueError(
                    f"missed_doses: index {late[0]} is beyond the last scheduled dose "
                    f"(the schedule has {n} doses, indices 0–{n - 1})"
                )
        return self

    @property
    def n_scheduled(self) -> int | None:
        """Number of scheduled doses (missed ones included); None without a stop day."""
        if self.stop_day is None:
            return None
        span_h = 24.0 * (self.stop_day - self.start_day)
        # dose k is given when k·τ < span (a dose exactly at the stop hour is not)
        return math.ceil(span_h / self.interval_h - 1e-9)


# --------------------------------------------------------------------------- PD


class PdConfig(_Model):
    """Inhibition of DDR2 by a concentration (SCIENCE.md §8.4, Table 8.5).

    I(C) = I_max · C^n / (IC50^n + C^n), C compared with the drug's IC50 on the chosen
    basis, times the tumour penetration factor, optionally delayed by an effect compartment.
    """

    imax: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Maximal inhibition I_max [A] 1; range 0–1 (Table 8.5).",
    )
    hill: float = Field(
        1.0,
        ge=0.5,
        le=3.0,
        description="Hill coefficient n [A] 1; range 0.5–3 (Table 8.5).",
    )
    ic50_basis: Literal["free", "total"] = Field(
        "free",
        description="Compare the IC50 with the free (f_u · C) or total plasma concentration "
        "[A] free (Table 8.5); cellular IC50s were measured in serum, so 'free' may "
        "understate inhibition (SCIENCE.md §8.4). Written into every output.",
    )
    penetration: float = Field(
        1.0,
        ge=0.3,
        le=1.0,
        description="Tumour/stroma penetration factor multiplying the plasma concentration at "
        "the tissue [A] 1; range 0.3–1.0 (SCIENCE.md §8.3, Table 8.5).",
    )
    ke0_per_h: float | None = Field(
        None,
        description="Effect-compartment rate k_e0, 1/h: dC_e/dt = k_e0 (C − C_e), I at C_e "
        "[A] off (None); range 1–10 (Table 8.5).",
    )

    @field_validator("ke0_per_h", mode="before")
    @classmethod
    def _ke0_is_number(cls, v: Any) -> Any:
        return v if v is None else _refuse_bool_or_str(v)

    @model_validator(mode="after")
    def _ke0_range(self) -> Self:
        k = self.ke0_per_h
        if k is not None and not (1.0 <= k <= 10.0):
            raise ValueError(f"ke0_per_h = {k}: must be in 1–10 (1/h) or null (off)")
        return self


# --------------------------------------------------------------------------- inhibitor


def dose_for_exposure_ratio(
    drug: DrugConfig, pd: PdConfig, ratio: float, interval_h: float
) -> float:
    """Dose (mg) whose steady-state average exposure is ``ratio`` × the IC50.

    C_avg = F · D · 10³/(CL/F · τ) ng/mL (SCIENCE.md §8.3); the exposure compared with
    the IC50 is C_avg in nM times f_u (free basis) and the penetration factor (§8.4).

    Parameters
    ----------
    drug : DrugConfig
    pd : PdConfig
        Basis and penetration.
    ratio : float
        Target C_avg (on the basis) / IC50, > 0.
    interval_h : float, h
        Dosing interval τ.

    Returns
    -------
    float, mg
    """
    scale = (drug.fraction_unbound if pd.ic50_basis == "free" else 1.0) * pd.penetration
    c_total_ng_per_ml = (
        ratio * drug.ic50_nmol_per_l * drug.molecular_weight_g_per_mol / 1.0e3 / scale
    )
    return (
        c_total_ng_per_ml
        * drug.clearance_l_per_h
        * interval_h
        / (drug.bioavailability * 1.0e3)
    )


class InhibitorConfig(_Model):
    """A DDR2 inhibitor given on a schedule: drug, schedule and PD (SCIENCE.md §8.2–§8.4)."""

    drug: str | DrugConfig = Field(
        "dasatinib_a",
        description="A preset name of DRUGS ('dasatinib_a' default [D], 'dasatinib_b' [D], "
        "'generic_ddr2' [A]) or a full drug mapping (SCIENCE.md Tables 8.2, 8.3).",
    )
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    pd: PdConfig = Field(default_factory=PdConfig)
    target_exposure_ratio: float | None = Field(
        None,
        gt=0.0,
        le=1.0e3,
        description="Dose by target exposure (SCIENCE.md Table 8.2, generic compound: "
        "'a target free exposure C_u,avg/IC50 given by the scenario') [A]: the dose is "
        "chosen so that the steady-state average exposure on the PD basis (f_u · C for "
        "'free', C for 'total', times the penetration factor) is this multiple of the "
        "IC50: D = ratio · IC50 · MW/10³ / scale · CL/F · τ / 10³ mg. Replaces "
        "schedule.dose_mg, which must then be left out. None: the schedule's dose.",
    )

    @model_validator(mode="after")
    def _dose_from_target(self) -> Self:
        if self.target_exposure_ratio is None:
            return self
        dose = dose_for_exposure_ratio(
            self.drug_config,
            self.pd,
            self.target_exposure_ratio,
            self.schedule.interval_h,
        )
        given = self.schedule.dose_mg
        # a resolved config written back holds the dose the target gave: accept that one
        if "dose_mg" in self.schedule.model_fields_set and not math.isclose(
            given, dose, rel_tol=1e-9
        ):
            raise ValueError(
                f"target_exposure_ratio = {self.target_exposure_ratio:g} sets the dose "
                f"({dose:.6g} mg), but schedule.dose_mg = {given:g} is also given; give one"
            )
        schedule = self.schedule.model_copy(update={"dose_mg": dose})
        object.__setattr__(self, "schedule", schedule)  # frozen model: set once here
        return self

    @field_validator("drug")
    @classmethod
    def _known_preset(cls, v: str | DrugConfig) -> str | DrugConfig:
        if isinstance(v, str):
            DrugConfig.preset(v)  # raises with the list of presets
        return v

    @property
    def drug_config(self) -> DrugConfig:
        """The drug's parameters (the preset looked up where ``drug`` is a name)."""
        return DrugConfig.preset(self.drug) if isinstance(self.drug, str) else self.drug


# --------------------------------------------------------------------------- perturbations

#: Genetic perturbations of SCIENCE.md Table 8.1.
PerturbationKind = Literal[
    "none",
    "cancer_knockout",
    "cancer_knockdown",
    "msc_knockout",
    "host_knockout",
    "heterozygote",
    "msc_depletion",
]


class PerturbationConfig(_Model):
    """A genetic perturbation of DDR2 or of the MSCs (SCIENCE.md §8.1, Table 8.1).

    ``metastroma.therapy.apply_to_tissue`` writes it into a tissue scenario.
    """

    kind: PerturbationKind = Field(
        "none",
        description="'cancer_knockout' D₀ = D_max = 0 in cancer cells; 'cancer_knockdown' "
        "D₀, D_max × knockdown_fraction; 'msc_knockout' δ = 0 for MSCs; 'host_knockout' "
        "(slie/slie) δ = 0 for all host-derived cells, cancer cells keep their DDR2 [A]; "
        "'heterozygote' (slie/+) WT-like [A]; 'msc_depletion' no MSCs (E7 control) "
        "(Table 8.1 [V]/[A]).",
    )
    knockdown_fraction: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="f_KD, fraction of normal expression left by a knockdown [A] 0.2; range "
        "0–0.5 (Table 4.5). Used by 'cancer_knockdown' only.",
    )


#: The name the therapy issue uses for :class:`PerturbationConfig`.
KnockoutConfig = PerturbationConfig
