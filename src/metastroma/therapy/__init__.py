"""Therapy: DDR2 inhibitor pharmacokinetics and -dynamics, and genetic perturbations.

SCIENCE.md §8. :mod:`~metastroma.therapy.pk` gives plasma concentrations of any oral
dosing schedule in closed form (one compartment, first-order absorption; superposition of
doses; steady state); :mod:`~metastroma.therapy.pd` the Emax/Hill inhibition on a free or
total basis, an optional effect compartment, and the piecewise-constant receptor
occupancy θ_I that a tissue scenario takes; :mod:`~metastroma.therapy.perturbations`
writes the knockouts, knockdowns and MSC depletion of Table 8.1, or an inhibitor
schedule, into a tissue scenario. Parameters and presets: :mod:`metastroma.config.therapy`.
The code is pure (no files, no printing); docs/therapy.md has the equations and numbers.
"""

from metastroma.therapy.pd import (
    Exposure,
    effect_site_concentration_ng_per_ml,
    exposure,
    exposure_basis,
    fraction_time_above_ic50,
    inhibition,
    mean_inhibition_steady_state,
    occupancy,
    steady_state_exposure,
    tissue_inhibitor_phases,
)
from metastroma.therapy.perturbations import apply_inhibitor_to_tissue, apply_to_tissue
from metastroma.therapy.pk import (
    SingleDoseSummary,
    SteadyStateSummary,
    concentration_ng_per_ml,
    dose_times_h,
    free_concentration,
    ng_per_ml_to_nmol_per_l,
    single_dose_summary,
    steady_state,
    steady_state_summary,
)

__all__ = [
    "Exposure",
    "SingleDoseSummary",
    "SteadyStateSummary",
    "apply_inhibitor_to_tissue",
    "apply_to_tissue",
    "concentration_ng_per_ml",
    "dose_times_h",
    "effect_site_concentration_ng_per_ml",
    "exposure",
    "exposure_basis",
    "fraction_time_above_ic50",
    "free_concentration",
    "inhibition",
    "mean_inhibition_steady_state",
    "ng_per_ml_to_nmol_per_l",
    "occupancy",
    "single_dose_summary",
    "steady_state",
    "steady_state_exposure",
    "steady_state_summary",
    "tissue_inhibitor_phases",
]
