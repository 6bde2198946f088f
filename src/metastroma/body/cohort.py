"""Virtual cohorts: who develops metastases, where, how many, how large, when found, survival.

Each patient is simulated from the founding cell of the primary to death or the end of
follow-up, on a clock of ``time_step_days`` (SCIENCE.md §7, §9, §10.2):

1. **Primary.** N_p(t) by the cohort's growth law (Gompertz by default) with the patient's
   log-normal rate; clinical diagnosis when its diameter reaches the patient's log-normal
   detection diameter (median 12.4 mm), or earlier when a distant metastasis becomes
   detectable first (de novo stage IV presenting with a metastasis). Surgery at diagnosis
   removes the primary and the deposits in ``surgery.removes_organs``; adjuvant therapy
   eradicates each other occult colony with ``adjuvant_kill_probability``.
2. **Shedding.** Every tumour (primary and colonies) sheds cells at h_shed · r_intra(ã) · s_k · N
   cells/day (s_k the patient's log-normal multiplier). Cells leave as single cells or as
   clusters of n_cl cells (a share f_cl of events). r_intra, f_cl and the growth multiplier
   m_grow of each DDR2 category come from the link's response curves when the scenario
   names a curve file (``ddr2.curves``, read at the edge by :mod:`metastroma.link` and
   passed in), else from the SCIENCE.md §10.2 default formulas (:func:`ddr2_response`).
3. **Cascade, by Poisson splitting** (SCIENCE.md §9.4, "For metastroma"). A shed cell is viable
   (f_viable), survives the circulation (P_circ, single or cluster), meets the filters of the
   organ graph (exact first-pass distribution, :func:`~metastroma.body.cascade.arrest_distribution`),
   extravasates (P_ext), survives as a solitary cell (P_dorm), forms a micrometastasis (the
   organ's colonisation 'soil' P_micro) and a macroscopic colony (P_macro). Per shed cell
   the probability of founding a colony in organ j is therefore a constant q_kj per source
   organ and kind; colonies founded over a step are Poisson(q · shed cells) and placed in
   time by inverting the step's linear intensity. Every other end state is counted by
   Poisson draws with the same splitting, so the **ledger** is exact: each shed cell ends in
   exactly one of died in transit, arrested and died, dormant, growing, still circulating.
4. **Metastases** are individual colonies with their own seeding time, optional dormancy
   before outgrowth (exponential, mean τ0), and growth by the patient's law with rate
   × organ multiplier × DDR2 growth multiplier m_grow. Colonies shed like the primary:
   **secondary seeding**, with a generation counter. A colony is detected when it reaches
   its organ's detection threshold (closed form).
5. **Outcomes.** Node status at surgery (a nodal deposit above the node threshold),
   metastatic at diagnosis, time to the first distant detection and the sites found by the
   staging work-up, death (hazard h₀ Π HR(site) over detected distant sites, or lethal
   burden), censoring at the end of follow-up.

Patients are independent: every draw is ``uniform01(seed, counter, patient_id, stream)``
(:mod:`metastroma.kernels.rng`), so patient k's history does not depend on the cohort size,
the chunk or the number of threads. The per-patient loop is compiled
(:mod:`metastroma.kernels._body`) and runs patients in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from metastroma._typing import F64Array, I64Array
from metastroma.body.anatomy import Anatomy, OrganKind, build_anatomy
from metastroma.body.cascade import (
    N_END_STATES,
    EndState,
    Ledger,
    arrest_distribution,
)
from metastroma.body.growth import (
    STREAM_GROWTH_RATE,
    PatientGrowth,
    cells_to_diameter_mm,
    diameter_mm_to_cells,
    lognormal_per_patient,
    sample_patient_growth,
    time_to_cells,
)
from metastroma.body.therapy import START_CODES, CohortTherapy
from metastroma.config.cohort import (
    CohortScenario,
    Ddr2ResponseConfig,
    growth_multiplier,
    relative_intravasation,
)
from metastroma.kernels import _body, rng
from metastroma.kernels.rng import uniform01_many
from metastroma.link import ResponseCurves, interpolate

_LAW_CODES = {
    "gompertz": _body.LAW_GOMPERTZ,
    "exponential": _body.LAW_EXPONENTIAL,
    "power": _body.LAW_POWER,
}

_DEATH_CODES = {
    "hazard": _body.DEATH_HAZARD,
    "burden": _body.DEATH_BURDEN,
    "hazard_or_burden": _body.DEATH_EITHER,
}

#: Patients per compiled call (memory: chunk × slab colonies × 11 float64).
CHUNK_PATIENTS = 1024
#: Patients handed to a thread at a time (numba.parallel_chunksize).
PARALLEL_CHUNK = 4
#: Colony rows reserved per patient in a chunk; patients with more are re-run together.
SLAB_COLONIES = 128

END_REASONS = ("", "surgery", "adjuvant")

#: Colony columns kept after the compiled loop (the others are its scheduling state).
_KEEP = np.array(
    [
        _body.C_ORGAN,
        _body.C_KIND,
        _body.C_SOURCE,
        _body.C_SOURCE_ORGAN,
        _body.C_GENERATION,
        _body.C_FOUNDING,
        _body.C_SEEDED,
        _body.C_WAKE,
        _body.C_DETECTED,
        _body.C_ENDED,
        _body.C_END_REASON,
        _body.C_CELLS_END,
    ]
)
_K = {int(c): i for i, c in enumerate(_KEEP)}

#: Largest clinical detection diameter drawn, mm: the log-normal tail is cut here [A]
#: (T4 tumours of 10 cm are seen; larger ones are not diagnosed "by size").
MAX_PRIMARY_DIAMETER_MM = 100.0


@dataclass(frozen=True)
class CohortPlan:
    """Everything the kernel needs that does not depend on the patient.

    Attributes
    ----------
    anatomy : Anatomy
    found : (n_categories, 2, n_organs, n_organs) float64
        Colonies founded in organ j (last axis) per cell shed from organ i, for single-cell
        (kind 0) and cluster (kind 1) founders; category 0 DDR2-high, 1 DDR2-low.
    share : (n_categories, n_organs, n_organs, N_END_STATES) float64
        Expected end-state share per shed cell, by source i and site j; the GROWING and
        DORMANT shares of colony founders are zero here (colonies are drawn one by one).
    founding_cells : (2,) float64
        Cells that found a colony: 1 (single) and n_cl (cluster).
    relative_activity : (n_categories,) float64
        ã of each category.
    intravasation_multiplier : (n_categories,) float64
        r_intra of each category (dimensionless, 1 at ã = 1): multiplies shedding.
    cluster_event_fraction : (n_categories,) float64
        f_cl of each category: share of shedding events that are clusters, in [0, 1].
    growth_multiplier : (n_categories,) float64
        m_grow of each category (dimensionless, 1 at ã = 1): multiplies colony growth.
    """

    anatomy: Anatomy
    found: F64Array
    share: F64Array
    founding_cells: F64Array
    relative_activity: F64Array
    intravasation_multiplier: F64Array
    cluster_event_fraction: F64Array
    growth_multiplier: F64Array


def ddr2_response(
    cfg: Ddr2ResponseConfig, curves: ResponseCurves | None = None
) -> tuple[F64Array, F64Array, F64Array, F64Array]:
    """ã, r_intra, f_cl and m_grow of the two DDR2 categories (high, low).

    Parameters
    ----------
    cfg : Ddr2ResponseConfig
    curves : ResponseCurves, optional
        The link's response curves (loaded by :func:`metastroma.link.load_cohort`); their
        means are read at each category's ã (PCHIP, :func:`metastroma.link.interpolate`);
        f_cl relative to its WT value, times ``cfg.cluster_event_fraction``
        (:func:`_relative_cluster_fraction`). Without them, the SCIENCE.md §10.2 default
        formulas of ``cfg``.

    Returns
    -------
    tuple of four (2,) float64 arrays
        ``(relative_activity, intravasation_multiplier, cluster_event_fraction,
        growth_multiplier)``, dimensionless; index 0 DDR2-high, 1 DDR2-low.

    Raises
    ------
    ValueError
        ``cfg.curves`` is set but no curves were given (a curve file is never ignored),
        the curves are not over ``relative_activity``, or a category's ã lies outside
        their grid (no extrapolation, SCIENCE.md §10.2).
    """
    acts = np.array([cfg.relative_activity_high, cfg.relative_activity_low])
    if curves is None:
        if cfg.curves is not None:
            raise ValueError(
                f"ddr2.curves = {str(cfg.curves)!r}: the response-curve file is not "
                "loaded; read the scenario with metastroma.link.load_cohort (or "
                "load_for_cohort) and pass its curves"
            )
        r_intra = np.array([relative_intravasation(cfg, a) for a in acts])
        m_grow = np.array([growth_multiplier(cfg, a) for a in acts])
        f_cl = np.full(2, cfg.cluster_event_fraction)
        return acts, r_intra, f_cl, m_grow
    if curves.axis.name != "relative_activity":
        raise ValueError(
            f"ddr2.curves: the curves' axis is {curves.axis.name!r}; a cohort needs "
            "relative_activity"
        )
    out = []
    for name in (
        "intravasation_multiplier",
        "cluster_event_fraction",
        "growth_multiplier",
    ):  # three quantities
        try:
            out.append(interpolate(curves, name, acts).mean)
            if name == "cluster_event_fraction":
                out[-1] = _relative_cluster_fraction(cfg, curves, out[-1])
        except ValueError as err:
            keys = ("relative_activity_high", "relative_activity_low")
            bad = [
                f"ddr2.{k} = {a:g}"
                for k, a in zip(keys, acts, strict=True)
                if not curves.x[0] <= a <= curves.x[-1]
            ]
            raise ValueError(f"{', '.join(bad)}: {err}") from err
    if cfg.curve_arm is not None:
        r_arm, f_arm, m_arm = _arm_factors(cfg.curve_arm, curves)
        return acts, out[0] * r_arm, np.clip(out[1] * f_arm, 0.0, 1.0), out[2] * m_arm
    return acts, out[0], out[1], out[2]


def _arm_factors(arm: str, curves: ResponseCurves) -> tuple[float, float, float]:
    """r_intra, f_cl and m_grow factors of a categorical (host-side) arm, relative to WT.

    r_intra and m_grow are relative in the file already; f_cl is divided by the file's
    WT value (1 when it has no clusters at WT).
    """
    point = curves.arms.get(arm)
    names = ("intravasation_multiplier", "cluster_event_fraction", "growth_multiplier")
    missing = [] if point is None else [q for q in names if q not in point.quantities]
    if point is None or missing:
        what = "has no such arm" if point is None else f"lacks {', '.join(missing)}"
        raise ValueError(
            f"ddr2.curve_arm = {arm!r}: the curve file {what} (arms: "
            f"{', '.join(sorted(curves.arms)) or 'none'})"
        )
    q = point.quantities
    ref = float(interpolate(curves, "cluster_event_fraction", [1.0]).mean[0])
    f_ratio = q["cluster_event_fraction"].mean / ref if ref > 0.0 else 1.0
    return (
        float(q["intravasation_multiplier"].mean),
        float(f_ratio),
        float(q["growth_multiplier"].mean),
    )


def _relative_cluster_fraction(
    cfg: Ddr2ResponseConfig, curves: ResponseCurves, f_cl: F64Array
) -> F64Array:
    """The body's cluster share: its calibrated WT value × f_cl(ã)/f_cl(1) of the curves.

    SCIENCE.md §10.2 calibrates the body's absolute scales once on the WT reference and
    lets perturbations act only through the curves. The tissue's cluster share of exit
    events (0.27 at WT in the shipped curves, a 2D tumour's) is not the body's calibrated
    share of shedding events (0.03, Table 7.5), so it enters relative to its WT value,
    like r_intra and m_grow (docs/link.md). A file with no clusters at WT carries no
    ratio: the calibrated value is used.
    """
    ref = float(interpolate(curves, "cluster_event_fraction", [1.0]).mean[0])
    if ref <= 0.0:
        return np.full(f_cl.shape, cfg.cluster_event_fraction)
    return np.clip(cfg.cluster_event_fraction * f_cl / ref, 0.0, 1.0)


def build_plan(sc: CohortScenario, curves: ResponseCurves | None = None) -> CohortPlan:
    """Per-shed-cell colony and end-state probabilities for each source organ.

    Parameters
    ----------
    sc : CohortScenario
    curves : ResponseCurves, optional
        Required when ``sc.ddr2.curves`` is set; see :func:`ddr2_response`.

    Returns
    -------
    CohortPlan

    Raises
    ------
    ValueError
        From :func:`ddr2_response`.
    """
    an = build_anatomy(sc.anatomy)
    sh = sc.shedding
    n = an.n_organs
    acts, r_intra, f_cls, m_grow = ddr2_response(sc.ddr2, curves)
    n_cl = sh.cluster_size_cells
    p_circ = np.array([sh.circulation_survival_single, sh.circulation_survival_cluster])
    founding = np.array([1.0, n_cl])
    settle = an.extravasation * an.dormant_survival
    colonise = an.colonisation * sh.macrometastasis_probability
    sources = [i for i in range(n) if an.kind[i] != OrganKind.POOL]
    dists = {
        (kind, i): arrest_distribution(an, i, cluster=bool(kind))
        for kind in (0, 1)
        for i in sources
    }

    n_cat = acts.size
    found = np.zeros((n_cat, 2, n, n))
    share = np.zeros((n_cat, n, n, N_END_STATES))
    # loops over the DDR2 categories (f_cl), founder kinds and organs, not patients
    for c in range(n_cat):
        f_cl = float(f_cls[c])
        mean_event = (1.0 - f_cl) + f_cl * n_cl  # cells per event
        weight_cells = np.array([(1.0 - f_cl) / mean_event, f_cl * n_cl / mean_event])
        for kind in (0, 1):
            live = weight_cells[kind] * sh.viable_fraction * p_circ[kind]
            for i in sources:
                d = dists[kind, i]
                arrested = live * d.arrested
                share[c, i, i, EndState.DIED_IN_TRANSIT] += (
                    weight_cells[kind] - live + live * d.died_in_transit
                )
                share[c, i, i, EndState.STILL_CIRCULATING] += live * d.still_circulating
                share[c, i, :, EndState.ARRESTED_DIED] += arrested * (1.0 - settle)
                share[c, i, :, EndState.DORMANT] += arrested * settle * (1.0 - colonise)
                found[c, kind, i, :] = arrested * settle * colonise / founding[kind]
    return CohortPlan(
        anatomy=an,
        found=found,
        share=share,
        founding_cells=founding,
        relative_activity=acts,
        intravasation_multiplier=r_intra,
        cluster_event_fraction=f_cls,
        growth_multiplier=m_grow,
    )


@dataclass(frozen=True)
class CohortResult:
    """A simulated cohort.

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient; columns in docs/body-scale.md ("patients.parquet").
    metastases : pandas.DataFrame
        One row per colony (metastasis), with its organ, seeding, detection and size.
    ledger : Ledger
        End states of every shed cell per patient and organ (by source and by site).
    plan : CohortPlan
    scenario : CohortScenario
    curves : ResponseCurves or None
        The link's response curves the cohort used (None: the §10.2 formulas).
    therapy : CohortTherapy or None
        The treatment every patient received (None: untreated).
    """

    patients: pd.DataFrame
    metastases: pd.DataFrame
    ledger: Ledger
    plan: CohortPlan
    scenario: CohortScenario
    curves: ResponseCurves | None = None
    therapy: CohortTherapy | None = None

    def ledger_table(self) -> pd.DataFrame:
        """The ledger as one row per patient and organ (end states counted by site).

        Columns: ``patient_id``, ``organ``, ``shed`` (cells shed by tumours in this organ),
        then one column per :class:`EndState` (cells that ended in this organ; cells that
        died in transit or still circulate are counted at their source organ).
        """
        lg = self.ledger
        n_p, n_o = lg.shed.shape
        table = {
            "patient_id": np.repeat(self.patients["patient_id"].to_numpy(), n_o),
            "organ": np.tile(np.array(lg.organ_names, dtype=object), n_p),
            "shed": lg.shed.reshape(-1),
        }
        for st in EndState:
            table[st.name.lower()] = lg.by_site[:, :, st].reshape(-1)
        df = pd.DataFrame(table)
        keep = df.drop(columns=["patient_id", "organ"]).to_numpy().any(axis=1)
        return df[keep].reset_index(drop=True)


def treatment_factors(
    sc: CohortScenario,
    plan: CohortPlan,
    therapy: CohortTherapy,
    curves: ResponseCurves | None = None,
) -> tuple[F64Array, F64Array]:
    """Shedding and growth factors of each DDR2 category on treatment.

    On treatment ã_on = ã × f (``therapy.activity_factor``); shedding is multiplied by
    r_intra(ã_on)/r_intra(ã) and colony growth rates by m_grow(ã_on)/m_grow(ã), both read
    from the same source as the plan (the curves, else the §10.2 formulas).

    Returns
    -------
    tuple of two (n_categories,) float64 arrays
        Exactly 1 where f = 1 (no effect).
    """
    f = therapy.activity_factor
    acts = plan.relative_activity
    if f == 1.0:
        ones = np.ones(acts.size)
        return ones, ones.copy()
    cfg = sc.ddr2.model_copy(
        update={
            "relative_activity_high": float(acts[0]) * f,
            "relative_activity_low": float(acts[1]) * f,
        }
    )
    try:
        _, r_on, _, m_on = ddr2_response(cfg, curves)
    except ValueError as err:
        raise ValueError(
            f"treatment {therapy.label or ''} (activity factor {f:g}): {err}"
        ) from err
    return r_on / plan.intravasation_multiplier, m_on / plan.growth_multiplier


def _patient_draws(
    sc: CohortScenario,
    ids: I64Array,
    plan: CohortPlan,
    factors: tuple[F64Array, F64Array] | None = None,
) -> dict[str, np.ndarray]:
    """Per-patient parameters, vectorised and counter-based."""
    seed = sc.seed
    det_mm = lognormal_per_patient(
        sc.detection.primary_clinical_mm,
        sc.detection.primary_clinical_sigma_log,
        ids,
        seed,
        rng.COHORT_DETECTION_SIZE,
    )
    det_cells = diameter_mm_to_cells(
        np.minimum(det_mm, MAX_PRIMARY_DIAMETER_MM), sc.growth.cells_per_mm3
    )
    if sc.growth.law == "gompertz":  # a size the primary can reach
        det_cells = np.minimum(det_cells, 0.5 * sc.growth.gompertz_plateau_cells)
    det_cells = np.maximum(det_cells, sc.growth.initial_cells)
    growth, t_dx = _growth_within_window(sc, ids, det_cells)
    mult = lognormal_per_patient(
        1.0, sc.shedding.patient_sigma_log, ids, seed, rng.COHORT_SHEDDING
    )
    u = uniform01_many(seed, 0, ids, rng.COHORT_DDR2)
    category = np.where(u < sc.ddr2.high_fraction, 0, 1).astype(np.int64)
    act = plan.relative_activity[category]
    r_intra = plan.intravasation_multiplier
    m_grow = plan.growth_multiplier
    # shed ∝ N^γs, normalised at the reference size where h_shed was measured
    sh = sc.shedding
    shed_scale = (
        sh.hazard_per_day
        * sh.reference_size_cells ** (1.0 - sh.size_exponent)
        * r_intra[category]
        * mult
    )
    organ_mult = (
        sc.growth.metastasis_rate_multiplier
        * plan.anatomy.growth_rate_multiplier[None, :]
        * m_grow[category][:, None]
    )
    death_draw = -np.log(uniform01_many(seed, 0, ids, rng.COHORT_DEATH) + 2.0**-54)
    # frailty: log-normal with mean 1, so the cohort's mean hazard stays h₀
    sig = sc.death.frailty_sigma_log
    frailty = lognormal_per_patient(
        math.exp(-0.5 * sig * sig), sig, ids, seed, rng.COHORT_FRAILTY
    )
    hazard0 = math.log(2.0) / sc.death.median_survival_days * frailty
    if factors is None:
        treat_shed = np.ones(ids.size)
        treat_growth = np.ones(ids.size)
    else:
        treat_shed = factors[0][category]
        treat_growth = factors[1][category]
    return {
        "treat_shed": treat_shed,
        "treat_growth": treat_growth,
        "rate": growth.rate,
        "t_dx": t_dx,
        "shed_mult": mult,
        "shed_scale": shed_scale,
        "category": category,
        "activity": act,
        "colony_mult": np.ascontiguousarray(organ_mult),
        "death_draw": death_draw,
        "hazard0": hazard0,
        "frailty": frailty,
    }


def _growth_within_window(
    sc: CohortScenario, ids: I64Array, det_cells: F64Array
) -> tuple[PatientGrowth, F64Array]:
    """Growth rates whose primary is diagnosed within ``max_onset_to_diagnosis_years``.

    A patient whose draw takes longer redraws (draw index 1, 2, …) until it does: a
    rejection sampler over rounds, not patients, that keeps patient k's rate a function of
    (seed, k) only.
    """
    window = sc.max_onset_to_diagnosis_years * 365.25
    growth = sample_patient_growth(sc.growth, ids, sc.seed)
    rate = growth.rate.copy()
    t_dx = time_to_cells(growth, det_cells)
    bad = np.flatnonzero(~(t_dx <= window))
    draw = 0
    while bad.size:  # loop over redraw rounds; each round shrinks the set geometrically
        draw += 1
        if draw > 1000:
            raise ValueError(
                "max_onset_to_diagnosis_years: no growth rate diagnosed within "
                f"{sc.max_onset_to_diagnosis_years:g} years after 1000 redraws; raise it"
            )
        g = sc.growth
        rate[bad] = lognormal_per_patient(
            g.rate_median, g.rate_sigma_log, ids[bad], sc.seed, STREAM_GROWTH_RATE, draw
        )
        sub = PatientGrowth(
            law=g.law,
            rate=rate[bad],
            initial_cells=growth.initial_cells[bad],
            plateau_cells=growth.plateau_cells[bad],
            power_exponent=g.power_exponent,
        )
        t_dx[bad] = time_to_cells(sub, det_cells[bad])
        bad = bad[~(t_dx[bad] <= window)]
    growth = PatientGrowth(
        law=growth.law,
        rate=rate,
        initial_cells=growth.initial_cells,
        plateau_cells=growth.plateau_cells,
        power_exponent=growth.power_exponent,
    )
    return growth, t_dx


def _run_kernel(
    sc: CohortScenario,
    plan: CohortPlan,
    ids: I64Array,
    draws: dict[str, np.ndarray],
    cap: int,
    therapy: CohortTherapy | None = None,
) -> tuple[F64Array, np.ndarray, np.ndarray, F64Array, F64Array]:
    """Run the compiled loop for ``ids``.

    Returns shed cells by source, the colony ledger by source and by site, the patient
    scalars and the colony rows (``cap`` per patient).
    """
    an = plan.anatomy
    n = ids.shape[0]
    n_o = an.n_organs
    shed = np.zeros((n, n_o))
    led_src = np.zeros((n, n_o, N_END_STATES), dtype=np.int64)
    led_site = np.zeros((n, n_o, N_END_STATES), dtype=np.int64)
    out_p = np.zeros((n, _body.N_PATIENT_COLS))
    out_c = np.zeros((n, cap, _body.N_COLONY_COLS))
    removed = np.zeros(n_o, dtype=np.bool_)
    for name in sc.surgery.removes_organs:
        removed[an.organ(name)] = True
    # patients differ 10⁴-fold in cost (colonies): small chunks balance the threads
    with numba.parallel_chunksize(PARALLEL_CHUNK):
        _simulate(
            sc,
            plan,
            ids,
            draws,
            removed,
            therapy,
            shed,
            led_src,
            led_site,
            out_p,
            out_c,
        )
    return shed, led_src, led_site, out_p, out_c


def _simulate(
    sc: CohortScenario,
    plan: CohortPlan,
    ids: I64Array,
    draws: dict[str, np.ndarray],
    removed: np.ndarray,
    therapy: CohortTherapy | None,
    *out: np.ndarray,
) -> None:
    an = plan.anatomy
    g = sc.growth
    mode = 0 if therapy is None else START_CODES[therapy.start]
    delay = 0.0 if therapy is None else therapy.delay_days
    duration = math.inf if therapy is None else therapy.duration_days
    _body.simulate_patients(
        ids,
        sc.seed,
        _LAW_CODES[g.law],
        draws["rate"],
        g.initial_cells,
        g.gompertz_plateau_cells,
        g.power_exponent,
        draws["colony_mult"],
        draws["t_dx"],
        draws["shed_scale"],
        sc.shedding.size_exponent,
        plan.found,
        plan.found.sum(axis=(1, 3)),
        draws["category"],
        plan.founding_cells,
        an.primary,
        an.kind == OrganKind.LYMPH_NODE,
        an.kind == OrganKind.CAPILLARY_BED,
        removed,
        an.detection_threshold_cells,
        an.death_hazard_ratio,
        sc.follow_up_days,
        sc.time_step_days,
        _DEATH_CODES[sc.death.model],
        draws["hazard0"],
        sc.detection.lethal_burden_cells,
        draws["death_draw"],
        sc.surgery.adjuvant_kill_probability,
        sc.shedding.dormancy_mean_days,
        sc.max_colonies_per_patient,
        mode,
        delay,
        duration,
        draws["treat_shed"],
        draws["treat_growth"],
        *out,
    )


def simulate_cohort(
    sc: CohortScenario,
    n_patients: int | None = None,
    *,
    first_patient: int = 0,
    progress: Callable[[int], None] | None = None,
    curves: ResponseCurves | None = None,
    therapy: CohortTherapy | None = None,
) -> CohortResult:
    """Simulate a cohort of virtual patients.

    Parameters
    ----------
    sc : CohortScenario
    n_patients : int, optional
        Overrides ``sc.patients``.
    first_patient : int
        Id of the first patient (ids are ``first_patient … first_patient + n − 1``); patient
        k's history is the same in any cohort that contains k.
    progress : callable, optional
        Called with the number of patients finished after each chunk.
    curves : ResponseCurves, optional
        The link's response curves: r_intra, f_cl and m_grow of each DDR2 category come
        from them (:func:`ddr2_response`). Required when ``sc.ddr2.curves`` is set:
        :func:`metastroma.link.load_cohort` reads both from a scenario file.
    therapy : CohortTherapy, optional
        A DDR2-directed treatment given to every patient from diagnosis or from the first
        distant detection (:mod:`metastroma.body.therapy`). Each patient's history is
        the untreated one up to the start of treatment (common random numbers); an
        activity factor of 1 gives the untreated cohort exactly.

    Returns
    -------
    CohortResult

    Raises
    ------
    ValueError
        An empty cohort, a patient that reached ``max_colonies_per_patient`` (named),
        ``ddr2.curves`` set without ``curves``, or curves that do not cover the
        categories' ã.
    """
    n = sc.patients if n_patients is None else int(n_patients)
    if n < 1:
        raise ValueError(f"patients = {n}: a cohort needs at least one patient")
    if first_patient < 0:
        raise ValueError(f"first_patient = {first_patient} must be >= 0")
    plan = build_plan(sc, curves)
    an = plan.anatomy
    if an.n_organs > 63:
        raise ValueError(
            f"anatomy: {an.n_organs} organs; the cohort kernel handles at most 63"
        )
    ids_all = np.arange(first_patient, first_patient + n, dtype=np.int64)
    factors = None if therapy is None else treatment_factors(sc, plan, therapy, curves)
    draws_all = _patient_draws(sc, ids_all, plan, factors)
    n_o = an.n_organs
    shed = np.zeros((n, n_o))
    ledger = Ledger.zeros(an, n)
    out_p = np.zeros((n, _body.N_PATIENT_COLS))
    colony_blocks: list[
        tuple[np.ndarray, np.ndarray]
    ] = []  # (patient rows, colony rows)
    for start in range(0, n, CHUNK_PATIENTS):
        stop = min(start + CHUNK_PATIENTS, n)
        sl = slice(start, stop)
        ids = ids_all[sl]
        draws = {k: v[sl] for k, v in draws_all.items()}
        s, lsrc, lsite, p, c = _run_kernel(sc, plan, ids, draws, SLAB_COLONIES, therapy)
        shed[sl], out_p[sl] = s, p
        ledger.by_source[sl], ledger.by_site[sl] = lsrc, lsite
        counts = p[:, _body.P_N_LISTED].astype(np.int64)
        over = np.flatnonzero(counts > SLAB_COLONIES)
        fits = np.where(counts > SLAB_COLONIES, 0, counts)
        mask = np.arange(SLAB_COLONIES)[None, :] < fits[:, None]
        chunk = [(np.repeat(np.arange(start, stop), fits), c[mask][:, _KEEP])]
        del c
        if p[:, _body.P_CAP_REACHED].any():
            _refuse_capped(sc, ids, p)
        # crowded patients: re-run in buckets of similar size (2× at most)
        if over.size:
            caps = 2 ** np.ceil(np.log2(counts[over])).astype(np.int64)
            for cap in np.unique(caps):  # loop over size buckets, not patients
                sel = over[caps == cap]
                d1 = {key: v[sel] for key, v in draws.items()}
                c1 = _run_kernel(sc, plan, ids[sel], d1, int(cap), therapy)[4]
                mask = np.arange(cap)[None, :] < counts[sel][:, None]
                chunk.append((np.repeat(start + sel, counts[sel]), c1[mask][:, _KEEP]))
                del c1
        # patient order (creation order within a patient), chunk by chunk
        rows_c = np.concatenate([b[0] for b in chunk])
        order = np.argsort(rows_c, kind="stable")
        colony_blocks.append(
            (rows_c[order], np.concatenate([b[1] for b in chunk])[order])
        )
        if progress is not None:
            progress(stop - start)
    rows = np.concatenate([b[0] for b in colony_blocks])
    cols = np.concatenate([b[1] for b in colony_blocks])
    del colony_blocks
    _body.draw_ledger(
        ids_all,
        sc.seed,
        shed,
        draws_all["category"],
        plan.share,
        ledger.by_source,
        ledger.by_site,
    )
    ledger.shed[:] = ledger.by_source.sum(axis=2)
    ledger.check()
    patients = _patients_table(sc, plan, ids_all, draws_all, out_p, rows, cols)
    metastases = _metastases_table(sc, plan, ids_all, out_p, rows, cols)
    return CohortResult(patients, metastases, ledger, plan, sc, curves, therapy)


def _refuse_capped(sc: CohortScenario, ids: I64Array, out_p: F64Array) -> None:
    capped = np.flatnonzero(out_p[:, _body.P_CAP_REACHED] > 0)
    raise ValueError(
        f"patient {int(ids[capped[0]])} (and {capped.size - 1} others in its chunk) reached "
        f"max_colonies_per_patient = {sc.max_colonies_per_patient}; raise it or lower "
        "the shedding/colonisation parameters"
    )


def _distant_mask(plan: CohortPlan) -> np.ndarray:
    return plan.anatomy.kind == OrganKind.CAPILLARY_BED


def _site_strings(
    plan: CohortPlan, n: int, rows: I64Array, organ: I64Array, take: np.ndarray
) -> np.ndarray:
    """';'-joined sorted organ names per patient for the colonies selected by ``take``."""
    names = plan.anatomy.names
    mask = np.zeros(n, dtype=np.uint64)
    np.bitwise_or.at(
        mask, rows[take], np.left_shift(np.uint64(1), organ[take].astype(np.uint64))
    )
    uniq, inv = np.unique(mask, return_inverse=True)
    order = sorted(range(len(names)), key=lambda j: names[j])
    labels = []
    for m in uniq:  # loop over distinct site patterns, not patients
        labels.append(";".join(names[j] for j in order if int(m) >> j & 1))
    return np.array(labels, dtype=object)[inv]


def _patients_table(
    sc: CohortScenario,
    plan: CohortPlan,
    ids: I64Array,
    draws: dict[str, np.ndarray],
    out_p: F64Array,
    rows: I64Array,
    cols: F64Array,
) -> pd.DataFrame:
    n = ids.shape[0]
    an = plan.anatomy
    t_dx = out_p[:, _body.P_DIAGNOSIS]
    t_end = out_p[:, _body.P_END]
    first = out_p[:, _body.P_FIRST_DISTANT]
    death = out_p[:, _body.P_DEATH]
    organ = cols[:, _K[_body.C_ORGAN]].astype(np.int64)
    distant = _distant_mask(plan)[organ]
    det = cols[:, _K[_body.C_DETECTED]]
    ended = cols[:, _K[_body.C_ENDED]]
    seen = distant & (det <= t_end[rows]) & (ended > det)
    window = sc.detection.staging_window_days
    at_first = seen & (det <= first[rows] + window)
    thr = an.detection_threshold_cells[organ]
    visible_end = distant & (cols[:, _K[_body.C_CELLS_END]] >= thr)
    n_visible = np.bincount(rows[visible_end], minlength=n)
    has_met = np.isfinite(first)
    observed = np.isfinite(death)
    cells_dx = out_p[:, _body.P_PRIMARY_CELLS]
    return pd.DataFrame(
        {
            "patient_id": ids,
            "diameter_mm_at_diagnosis": cells_to_diameter_mm(
                cells_dx, sc.growth.cells_per_mm3
            ),
            "node_positive": out_p[:, _body.P_NODE_POSITIVE] > 0,
            "metastatic_at_diagnosis": out_p[:, _body.P_METASTATIC_AT_DX] > 0,
            "time_to_distant_metastasis_days": np.where(has_met, first - t_dx, np.nan),
            "sites_at_first_metastasis": _site_strings(plan, n, rows, organ, at_first),
            "sites_ever": _site_strings(plan, n, rows, organ, seen),
            "n_metastases_at_death": n_visible.astype(np.int64),
            "time_to_death_days": np.where(observed, death - t_dx, np.nan),
            "death_observed": observed,
            "follow_up_days": t_end - t_dx,
            "ddr2_relative_activity": draws["activity"],
            "growth_rate": draws["rate"],
            "shedding_multiplier": draws["shed_mult"],
            "death_frailty": draws["frailty"],
            "days_from_onset_to_diagnosis": t_dx,
            "primary_cells_at_diagnosis": cells_dx,
            "n_colonies": out_p[:, _body.P_N_COLONIES].astype(np.int64),
            "n_nodal_deposits_removed_unlisted": out_p[
                :, _body.P_N_SMALL_REMOVED
            ].astype(np.int64),
            "burden_cells_at_end": out_p[:, _body.P_BURDEN_END],
            "treatment_start_day": _days_after(out_p[:, _body.P_TREAT_START], t_dx),
            "treatment_stop_day": _days_after(out_p[:, _body.P_TREAT_STOP], t_dx),
        }
    )


def _days_after(day: F64Array, t_dx: F64Array) -> F64Array:
    """Days from diagnosis of a kernel day (NaN for inf: never)."""
    return np.where(np.isfinite(day), day - t_dx, np.nan)


def _metastases_table(
    sc: CohortScenario,
    plan: CohortPlan,
    ids: I64Array,
    out_p: F64Array,
    rows: I64Array,
    cols: F64Array,
) -> pd.DataFrame:
    an = plan.anatomy
    names = np.array(an.names, dtype=object)
    t_dx = out_p[rows, _body.P_DIAGNOSIS]

    def text(values: np.ndarray) -> pd.arrays.ArrowStringArray:
        return pd.array(values, dtype="string[pyarrow]")  # compact (dictionary-free)

    t_end = out_p[rows, _body.P_END]
    organ = cols[:, _K[_body.C_ORGAN]].astype(np.int64)
    det = cols[:, _K[_body.C_DETECTED]]
    ended = cols[:, _K[_body.C_ENDED]]
    detected = (det <= t_end) & (ended > det)
    kind = np.where(cols[:, _K[_body.C_KIND]] > 0, "cluster", "single").astype(object)
    return pd.DataFrame(
        {
            "patient_id": ids[rows] if rows.size else np.zeros(0, np.int64),
            "organ": text(names[organ]),
            "is_distant": _distant_mask(plan)[organ],
            "founder": text(kind),
            "source_organ": text(
                names[cols[:, _K[_body.C_SOURCE_ORGAN]].astype(np.int64)]
            ),
            "generation": cols[:, _K[_body.C_GENERATION]].astype(np.int64),
            "founding_cells": cols[:, _K[_body.C_FOUNDING]],
            "seeded_day": cols[:, _K[_body.C_SEEDED]] - t_dx,
            "wake_day": cols[:, _K[_body.C_WAKE]] - t_dx,
            "detected_day": np.where(detected, det - t_dx, np.nan),
            "ended_day": np.where(np.isfinite(ended), ended - t_dx, np.nan),
            "end_reason": text(
                np.array(END_REASONS, dtype=object)[
                    cols[:, _K[_body.C_END_REASON]].astype(np.int64)
                ]
            ),
            "cells_at_end": cols[:, _K[_body.C_CELLS_END]],
            "diameter_mm_at_end": cells_to_diameter_mm(
                cols[:, _K[_body.C_CELLS_END]], sc.growth.cells_per_mm3
            ),
        }
    )


__all__ = [
    "CHUNK_PATIENTS",
    "CohortPlan",
    "CohortResult",
    "build_plan",
    "ddr2_response",
    "simulate_cohort",
    "treatment_factors",
]
