"""DDR2-directed treatment of virtual patients (SCIENCE.md §8.3–§8.4, §10.2).

A cohort arm may treat every patient from an anchor in their history — the diagnosis (an
adjuvant arm) or the first detection of a distant metastasis (treatment at relapse) —
for a set duration. On treatment a patient's relative DDR2 activity is ã_on = ã × f, where
the **activity factor** f is the steady-state mean of the DDR2 activation ODE (§4.8)
under the inhibitor's receptor blockade θ_I(t), over the untreated steady state
(:func:`inhibitor_activity_factor`). The link's response curves turn ã_on into the body's
rates: from the start of treatment, every tumour of the patient sheds
r_intra(ã_on)/r_intra(ã) times as many cells and every colony grows at m_grow(ã_on)/
m_grow(ã) times its rate (:func:`treatment_factors`); both return to their untreated
values when treatment stops.

What the treatment does not change, by design [A]: the primary (removed at diagnosis,
before any treatment starts), the cluster share f_cl of shed cells (the patient keeps
their category's cascade; docs/trials.md), and the death hazard of detected sites.

Timing. The cohort is simulated on a clock of ``time_step_days``; treatment starts at
the first step end at or after anchor + delay and stops at the first step end at or
after its start + duration. Because the switch falls on a step end, a treated patient's
history is identical, draw for draw, to the untreated one up to the start of treatment
(common random numbers; SCIENCE.md §10.2). With the diagnosis as anchor and no delay the
start is the diagnosis itself; with the distant detection as anchor it lags the
detection by less than one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from metastroma._typing import F64Array
from metastroma.config.stroma import Ddr2Config
from metastroma.config.therapy import InhibitorConfig
from metastroma.therapy.pd import inhibition, steady_state_exposure

__all__ = [
    "REFERENCE_COLLAGEN_DENSITY",
    "START_CODES",
    "ActivityFactor",
    "CohortTherapy",
    "inhibitor_activity_factor",
]

#: Collagen density at which the body solves the activation ODE (SCIENCE.md §10.2) [A].
REFERENCE_COLLAGEN_DENSITY = 0.5

#: Kernel codes of the treatment anchors (0: no treatment).
START_CODES = {"diagnosis": 1, "distant_detection": 2}


@dataclass(frozen=True)
class CohortTherapy:
    """A DDR2-directed treatment given to every patient of a cohort arm.

    Attributes
    ----------
    activity_factor : float
        f in [0, 1]: on treatment ã_on = ã × f (1: no effect, 0: DDR2 activity abolished).
    start : {'diagnosis', 'distant_detection'}
        The anchor: diagnosis (adjuvant) or the first detection of a distant metastasis.
    delay_days : float, days
        ≥ 0; treatment starts at the first step end ≥ anchor + delay.
    duration_days : float, days
        > 0 (``math.inf``: until death or the end of follow-up).
    label : str
        Name for outputs (e.g. ``'dasatinib 70 mg BID'``).
    """

    activity_factor: float
    start: Literal["diagnosis", "distant_detection"] = "diagnosis"
    delay_days: float = 0.0
    duration_days: float = math.inf
    label: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.activity_factor <= 1.0:
            raise ValueError(
                f"activity_factor = {self.activity_factor}: must lie in [0, 1]"
            )
        if self.start not in START_CODES:
            raise ValueError(
                f"start = {self.start!r}: one of {', '.join(map(repr, START_CODES))}"
            )
        if not (self.delay_days >= 0.0 and math.isfinite(self.delay_days)):
            raise ValueError(f"delay_days = {self.delay_days}: must be finite and >= 0")
        if not self.duration_days > 0.0:
            raise ValueError(f"duration_days = {self.duration_days}: must be > 0")


@dataclass(frozen=True)
class ActivityFactor:
    """The effect of an inhibitor regimen on DDR2 activity at steady state.

    Attributes
    ----------
    factor : float
        Mean DDR2 activity over a dosing interval on treatment ÷ the untreated steady
        state, in [0, 1] (independent of the expression D: the ODE is linear in D).
    mean_occupancy : float
        Time-mean receptor blockade θ_I over the interval, in [0, I_max].
    basis : {'free', 'total'}
        Concentration basis the IC50 was compared with (SCIENCE.md §8.4).
    instantaneous_factor : float
        1 − mean θ_I: what the instantaneous form a = a₀(1 − I) would give on average,
        for comparison (SCIENCE.md §8.4).
    """

    factor: float
    mean_occupancy: float
    basis: str
    instantaneous_factor: float


def _periodic_mean(
    theta: F64Array, dt_min: float, k_on_g: float, k_off: float
) -> float:
    """Period mean of A/A*₀ for dA/dt = k_on g (1 − θ)(1 − A) − k_off A, θ piecewise constant.

    Exact for piecewise-constant θ (SCIENCE.md §4.8's exponential update on each piece);
    the periodic solution's start A₀ solves A₀ = α A₀ + β for the period map.
    """
    k_act = k_on_g * (1.0 - theta)
    lam = k_act + k_off  # 1/min, > 0
    a_star = k_act / lam
    e = np.exp(-lam * dt_min)
    # A_k = e^{-L_k} [A_0 + Σ_{j<k} A*_j (e^{L_{j+1}} − e^{L_j})],  L_k = Σ_{i<k} λ_i Δ
    big_l = np.concatenate([[0.0], np.cumsum(lam * dt_min)])
    incr = a_star * (np.exp(big_l[1:]) - np.exp(big_l[:-1]))
    s = np.concatenate([[0.0], np.cumsum(incr)])
    alpha = math.exp(-big_l[-1])
    beta = alpha * s[-1]
    a0 = beta / (1.0 - alpha)
    a_k = np.exp(-big_l[:-1]) * (a0 + s[:-1])  # A at the start of each piece
    # ∫ over a piece of A* + (A_k − A*) e^{−λ t} dt
    integral = a_star * dt_min + (a_k - a_star) * (1.0 - e) / lam
    untreated = k_on_g / (k_on_g + k_off)
    return float(integral.sum() / (dt_min * theta.size) / untreated)


def inhibitor_activity_factor(
    inhibitor: InhibitorConfig,
    ddr2: Ddr2Config | None = None,
    *,
    collagen_density: float = REFERENCE_COLLAGEN_DENSITY,
    n_pieces: int = 4000,
) -> ActivityFactor:
    """Steady-state effect of an inhibitor regimen on DDR2 activity (SCIENCE.md §8.4, §10.2).

    Solves the activation ODE of §4.8, dA/dt = k_on g(ρ)(1 − θ_I(t))(D − A) − k_off A, at
    the reference collagen density under the periodic blockade θ_I(t) = I(C(t)) of the
    regimen at PK steady state (closed form, :func:`~metastroma.therapy.pd.
    steady_state_exposure`; effect site when the PD has k_e0), and returns its mean over
    a dosing interval relative to the untreated A* = k_on g D/(k_on g + k_off). Because
    τ_off ≈ 12 h exceeds dasatinib's half-life, this differs from 1 − mean θ_I (§4.8).

    Parameters
    ----------
    inhibitor : InhibitorConfig
        Drug, schedule (``dose_mg`` every ``interval_h``; start, stop and missed doses are
        the arm's business, not the steady state's) and PD.
    ddr2 : Ddr2Config, optional
        k_on, k_off and K_ρ (default: the tissue defaults, SCIENCE.md Table 4.3).
    collagen_density : float
        ρ in [0, 1] (default 0.5, §10.2 [A]).
    n_pieces : int
        θ_I is held at its midpoint value on each of ``n_pieces`` equal pieces of the
        interval (error O(1/n²) in the mean).

    Returns
    -------
    ActivityFactor
        ``factor`` exactly 1 for a dose of 0 mg.
    """
    cfg = ddr2 if ddr2 is not None else Ddr2Config()
    if not 0.0 <= collagen_density <= 1.0:
        raise ValueError(f"collagen_density = {collagen_density}: must lie in [0, 1]")
    if n_pieces < 2:
        raise ValueError(f"n_pieces = {n_pieces}: must be >= 2")
    drug, pd = inhibitor.drug_config, inhibitor.pd
    basis = pd.ic50_basis
    sched = inhibitor.schedule
    if sched.dose_mg == 0.0:
        return ActivityFactor(1.0, 0.0, basis, 1.0)
    tau_h = sched.interval_h
    dt_h = tau_h / n_pieces
    t_mid = np.asarray((np.arange(n_pieces) + 0.5) * dt_h, dtype=np.float64)
    e = steady_state_exposure(drug, pd, sched.dose_mg, tau_h, t_mid)
    theta = inhibition(e.c_nmol_per_l, pd, drug.ic50_nmol_per_l)
    rho = collagen_density
    g = rho / (rho + cfg.collagen_half_activation)
    k_on_g = cfg.activation_per_min * g
    if k_on_g <= 0.0:  # no activation at all: nothing for the inhibitor to block
        return ActivityFactor(
            1.0, float(theta.mean()), basis, 1.0 - float(theta.mean())
        )
    factor = _periodic_mean(theta, dt_h * 60.0, k_on_g, cfg.deactivation_per_min)
    factor = min(max(factor, 0.0), 1.0)
    mean_theta = float(theta.mean())
    return ActivityFactor(factor, mean_theta, basis, 1.0 - mean_theta)
