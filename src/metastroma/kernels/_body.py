"""Numba kernel of the virtual cohort: one patient's history, patients in parallel.

The maths is in :mod:`metastroma.body.cohort` (module docstring); this file holds the
compiled loop. Every random draw is ``uniform01(seed, counter, patient_id, stream)`` with a
counter that names what the draw is for (the step and source of a Poisson count, the index of
a colony), so patient k's history depends on (seed, k) and its own parameters only: not on
the cohort size, the chunk it ran in, or the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from metastroma.kernels import rng
from metastroma.kernels.rng import uniform01

# growth-law codes (body/cohort.py maps GrowthConfig.law to them)
LAW_GOMPERTZ = 0
LAW_EXPONENTIAL = 1
LAW_POWER = 2

# death models
DEATH_HAZARD = 0
DEATH_BURDEN = 1
DEATH_EITHER = 2

# colony end reasons
END_NONE = 0
END_SURGERY = 1
END_ADJUVANT = 2

# colony record columns (float64 table, one row per colony)
C_ORGAN = 0
C_KIND = 1  # 0 single-cell founder, 1 cluster founder
C_SOURCE = 2  # colony index of the parent, −1 the primary
C_GENERATION = 3
C_FOUNDING = 4  # founding cells
C_SEEDED = 5  # day (from tumour founding)
C_WAKE = 6  # day outgrowth starts
C_DETECTED = 7  # day the colony reaches its organ's detection threshold (inf: never)
C_ENDED = 8  # day removed (surgery) or eradicated (adjuvant); inf: never
C_END_REASON = 9
C_CELLS_END = 10  # cells at the patient's end time (0 if removed)
C_SOURCE_ORGAN = 11  # organ of the tumour that shed the founder
C_RATE = 12  # growth rate of the colony (patient rate × organ and DDR2 multipliers)
C_TARGET = (
    13  # cumulative cell-days (from wake-up) at which the next seeding event occurs
)
C_EVENTS = 14  # seeding events so far (counter of its threshold draws)
C_NEXT = 15  # day of the next seeding event (inf: none), or a lower bound of it
C_EXACT = 16  # 1 if C_NEXT is the event's day, 0 if only a lower bound
# the growth curve runs from (C_REF_DAY, C_REF_CELLS) at rate C_RATE: the wake-up and the
# founding cells, until a treatment switch re-bases it at the switch (N(t) is Markov)
C_REF_DAY = 17
C_REF_CELLS = 18
C_SHED_BEFORE = 19  # cells shed before C_REF_DAY (at earlier shedding scales)
C_SHED_SCALE = 20  # shedding scale in force since C_REF_DAY, cells/(cell^γs · day)
N_COLONY_COLS = 21

# treatment anchors (body/therapy.py START_CODES)
TREAT_NONE = 0
TREAT_AT_DIAGNOSIS = 1
TREAT_AT_DISTANT = 2

#: Sources per patient are indexed by 24 bits in the seeding-threshold counter.
MAX_SOURCES = 16_777_216

# per-patient scalar outputs
P_DIAGNOSIS = 0  # day of diagnosis (from founding)
P_PRIMARY_CELLS = 1  # primary cells at diagnosis
P_NODE_POSITIVE = 2  # 0/1
P_METASTATIC_AT_DX = 3  # 0/1
P_FIRST_DISTANT = 4  # day of first distant detection (inf: none)
P_DEATH = 5  # day of death (inf: alive at end)
P_END = 6  # day the history ends (death or end of follow-up)
P_N_COLONIES = 7
P_BURDEN_END = 8  # cells in living colonies at the end
P_CAP_REACHED = 9  # 0/1: max_colonies reached
P_N_LISTED = 10  # colonies written to the output (all but small nodal deposits removed)
P_N_SMALL_REMOVED = 11  # nodal deposits ≤ the node threshold removed at surgery
P_TREAT_START = 12  # day treatment started (inf: never)
P_TREAT_STOP = 13  # day treatment stopped (inf: never, or still on at the end)
N_PATIENT_COLS = 14

# ledger end states (body/cascade.py EndState)
STATE_DORMANT = 2
STATE_GROWING = 3

_SUB = 1_000_003  # stream offset between sub-draws of one Poisson count


@njit(inline="always", cache=True)
def _u(seed: int, counter: int, pid: int, stream: int) -> float:
    """Uniform in (0, 1): never exactly 0, so that logs are finite."""
    return uniform01(seed, counter, pid, stream) + 2.0**-54


@njit(cache=True)
def poisson_draw(mean: float, seed: int, counter: int, pid: int, stream: int) -> int:
    """Poisson(mean) from counter-based uniforms.

    Inversion for mean ≤ 30; a sum of inversions of parts ≤ 30 up to 10⁴ (exact: sums of
    independent Poisson counts are Poisson); above 10⁴ the normal approximation
    round(m + √m Z) (Box–Muller), whose error in distribution is O(m^−½) ≤ 1 %.
    """
    if mean <= 0.0:
        return 0
    if mean > 1.0e4:
        u1 = _u(seed, counter, pid, stream)
        u2 = _u(seed, counter, pid, stream + _SUB)
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        k = math.floor(mean + math.sqrt(mean) * z + 0.5)
        return int(max(k, 0.0))
    parts = math.ceil(mean / 30.0)
    m = mean / parts
    total = 0
    for s in range(parts):
        u = _u(seed, counter, pid, stream + s * _SUB)
        p = math.exp(-m)
        cdf = p
        k = 0
        while u > cdf and k < 1000:
            k += 1
            p *= m / k
            cdf += p
        total += k
    return total


@njit(inline="always", cache=True)
def cells_after(
    law: int, n0: float, rate: float, plateau: float, gamma_g: float, t: float
) -> float:
    """Cells after growing for t ≥ 0 days from n0 (closed forms of body/growth.py)."""
    if t <= 0.0:
        return n0
    if law == LAW_GOMPERTZ:
        return n0 * math.exp(-math.log(plateau / n0) * math.expm1(-rate * t))
    if law == LAW_EXPONENTIAL:
        return n0 * math.exp(rate * t)
    q = 1.0 - gamma_g
    return (n0**q + q * rate * t) ** (1.0 / q)


@njit(inline="always", cache=True)
def time_to(
    law: int, n0: float, rate: float, plateau: float, gamma_g: float, target: float
) -> float:
    """Days to grow from n0 to target (0 if already there, inf if never)."""
    if target <= n0:
        return 0.0
    if rate <= 0.0:
        return math.inf
    if law == LAW_GOMPERTZ:
        if target >= plateau:
            return math.inf
        frac = math.log(target / n0) / math.log(plateau / n0)
        return -math.log1p(-frac) / rate
    if law == LAW_EXPONENTIAL:
        return math.log(target / n0) / rate
    q = 1.0 - gamma_g
    return (target**q - n0**q) / (q * rate)


_EULER_GAMMA = 0.5772156649015329


@njit(cache=True)
def exp1(x: float) -> float:
    """Exponential integral E₁(x) = ∫₁^∞ e^{−xt}/t dt for x > 0, to ~1e-15 relative.

    Power series for x ≤ 1, Lentz's continued fraction beyond (Press et al., Numerical
    Recipes, §6.3 'expint'; written out here because numba has no scipy.special).
    """
    if x <= 0.0:
        return math.inf
    if x <= 1.0:
        total = -_EULER_GAMMA - math.log(x)
        term = 1.0
        for k in range(1, 200):
            term *= -x / k
            add = -term / k
            total += add
            if abs(add) < 1e-17 * abs(total):
                break
        return total
    b = x + 1.0
    c = 1.0e300
    d = 1.0 / b
    h = d
    for i in range(1, 500):
        a = -float(i * i)
        b += 2.0
        d = 1.0 / (a * d + b)
        c = b + a / c
        delta = c * d
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h * math.exp(-x)


@njit(cache=True)
def cum_cells(
    law: int, n0: float, rate: float, plateau: float, gamma_g: float, t: float
) -> float:
    """∫₀ᵗ N(s) ds, cell-days, for growth from n0 (closed forms, SCIENCE.md §9.4).

    Gompertz N = N∞ exp(−L e^{−bs}), L = ln(N∞/n0): (N∞/b)[E₁(L e^{−bt}) − E₁(L)];
    exponential: n0 (e^{at} − 1)/a; power (q = 1 − γ_g, s = n0^q + q a t):
    (s^{(1+q)/q} − n0^{1+q}) / ((1 + q) a).
    """
    if t <= 0.0:
        return 0.0
    if rate <= 0.0:
        return n0 * t
    if law == LAW_GOMPERTZ:
        big = math.log(plateau / n0)
        log_x = math.log(big) - rate * t
        if (
            log_x < -700.0
        ):  # e^{−bt} underflows: E₁(x) = −γ − ln x + O(x) at the plateau
            return plateau / rate * (-_EULER_GAMMA - log_x - exp1(big))
        return plateau / rate * (exp1(big * math.exp(-rate * t)) - exp1(big))
    if law == LAW_EXPONENTIAL:
        return n0 * math.expm1(rate * t) / rate
    q = 1.0 - gamma_g
    s = n0**q + q * rate * t
    return (s ** ((1.0 + q) / q) - n0 ** (1.0 + q)) / ((1.0 + q) * rate)


@njit(cache=True)
def _gompertz_lower_bound(n0: float, rate: float, plateau: float, x: float) -> float:
    """A cheap t_lb ≤ the Gompertz :func:`inv_cum_cells` (x).

    The specific growth rate b ln(N∞/N) falls as N grows, so ∫₀ᵗ N ≤ N(t)/(b ln(N∞/N(t)))
    and the cumulative cannot reach x before N reaches the N* with N*/ln(N∞/N*) = b x.
    Any N with N/ln(N∞/N) ≤ b x is ≤ N*, so the time to grow to it is a lower bound.
    """
    if x <= 0.0 or rate <= 0.0:
        return 0.0
    y = rate * x
    guess = min(y * math.log(plateau / max(y, n0)), 0.999 * plateau)
    for _ in range(3):
        guess = min(y * math.log(plateau / max(guess, n0)), 0.999 * plateau)
    while guess > n0 and guess / math.log(plateau / guess) > y:
        guess *= 0.5
    if guess <= n0:
        return 0.0
    return time_to(LAW_GOMPERTZ, n0, rate, plateau, 0.0, guess)


@njit(cache=True)
def inv_cum_cells(
    law: int, n0: float, rate: float, plateau: float, gamma_g: float, x: float
) -> float:
    """The t ≥ 0 with :func:`cum_cells` (t) = x (days); closed form or safeguarded Newton."""
    if x <= 0.0:
        return 0.0
    if rate <= 0.0:
        return x / n0
    if law == LAW_EXPONENTIAL:
        return math.log1p(rate * x / n0) / rate
    if law == LAW_POWER:
        q = 1.0 - gamma_g
        s = (n0 ** (1.0 + q) + (1.0 + q) * rate * x) ** (q / (1.0 + q))
        return (s - n0**q) / (q * rate)
    # Gompertz: Newton on g(t) = ln F(t) − ln x from the cheap lower bound. g is concave
    # and increasing (the specific growth rate falls with size), so from the left every
    # tangent step stays left of the root and the iterates rise to it; the bisection
    # guard only catches round-off.
    big = math.log(plateau / n0)
    e_start = exp1(big)
    scale = plateau / rate
    t = _gompertz_lower_bound(n0, rate, plateau, x)
    ln_x = math.log(x)
    for _ in range(100):
        f = scale * (exp1(big * math.exp(-rate * t)) - e_start) if t > 0.0 else 0.0
        if f <= 0.0:  # at t = 0 (or round-off): step by the initial size
            t = max(t, x / (2.0 * n0 * math.exp(big * -math.expm1(-rate * 1.0))))
            continue
        if f >= x * (1.0 - 1e-13):
            break
        n_t = n0 * math.exp(-big * math.expm1(-rate * t))
        step = (ln_x - math.log(f)) * f / n_t
        t += step
        if step <= 1e-11 * t:
            break
    return t


@njit(inline="always", cache=True)
def shed_params(
    law: int, n0: float, rate: float, plateau: float, gamma_s: float
) -> tuple[float, float, float]:
    """(n0, rate, plateau) of the curve N^γs, which sheds (SCIENCE.md §9.4, μN^γ).

    N^γs is again a growth curve of the same law: Gompertz with n0^γs and N∞^γs (same b),
    exponential with n0^γs and rate γs·a; the power law only with γs = 1.
    """
    if gamma_s == 1.0 or law == LAW_POWER:
        return n0, rate, plateau
    if law == LAW_GOMPERTZ:
        return n0**gamma_s, rate, plateau**gamma_s
    return n0**gamma_s, rate * gamma_s, plateau


@njit(cache=True)
def event_time_lower_bound(
    law: int, n0: float, rate: float, plateau: float, gamma_g: float, x: float
) -> float:
    """A cheap lower bound of :func:`inv_cum_cells` (exact for exponential and power)."""
    if law == LAW_GOMPERTZ:
        return _gompertz_lower_bound(n0, rate, plateau, x)
    return inv_cum_cells(law, n0, rate, plateau, gamma_g, x)


@njit(inline="always", cache=True)
def _push(values: np.ndarray, n: int, value: float) -> np.ndarray:
    """Set ``values[n] = value``, doubling the array (same dtype) when it is full."""
    if n >= values.shape[0]:
        bigger = np.empty(2 * values.shape[0], dtype=values.dtype)
        bigger[:n] = values[:n]
        values = bigger
    values[n] = value
    return values


@njit(cache=True)
def _grow(buf: np.ndarray, n: int) -> np.ndarray:
    """A copy of ``buf`` with at least twice the rows (first n kept)."""
    out = np.empty((max(2 * buf.shape[0], 16), N_COLONY_COLS), dtype=np.float64)
    out[:n] = buf[:n]
    return out


@njit(inline="always", cache=True)
def _colony_cells_until(
    col: np.ndarray, t: float, law: int, plateau: float, gamma_g: float
) -> float:
    """Size of a colony at day t ignoring its end (its size when it was removed)."""
    return cells_after(
        law, col[C_REF_CELLS], col[C_RATE], plateau, gamma_g, t - col[C_REF_DAY]
    )


@njit(inline="always", cache=True)
def _colony_cells(
    col: np.ndarray, t: float, law: int, plateau: float, gamma_g: float
) -> float:
    """Size of a colony at day t (founding cells before wake-up; 0 after it ended)."""
    if t >= col[C_ENDED]:
        return 0.0
    return cells_after(
        law, col[C_REF_CELLS], col[C_RATE], plateau, gamma_g, t - col[C_REF_DAY]
    )


@njit(inline="always", cache=True)
def _threshold(seed: int, source: int, event: int, pid: int) -> float:
    """Exp(1) founding-intensity gap before event ``event`` of source ``source``."""
    return -math.log(_u(seed, event * MAX_SOURCES + source, pid, rng.COHORT_COUNT))


@njit(cache=True)
def _seed(
    buf: np.ndarray,
    r: int,
    org: int,
    source: int,
    gen: float,
    ts: float,
    pid: int,
    seed: int,
    found: np.ndarray,
    found_total: np.ndarray,
    founding_cells: np.ndarray,
    rate: float,
    colony_rate_mult: np.ndarray,
    law: int,
    plateau: float,
    gamma_g: float,
    det_cells: np.ndarray,
    dormancy_mean: float,
    shed_scale: float,
    gamma_s: float,
) -> np.ndarray:
    """Write colony r, founded at day ts by a cell or cluster from organ ``org``."""
    n_org = found.shape[1]
    if r >= buf.shape[0]:
        buf = _grow(buf, r)
    # kind and destination: categorical over found[:, org, :]
    u = _u(seed, r, pid, rng.COHORT_PICK) * found_total[org]
    acc = 0.0
    kind = 1
    dest = n_org - 1
    done = False
    for kk in range(2):
        for j in range(n_org):
            acc += found[kk, org, j]
            if u <= acc:
                kind = kk
                dest = j
                done = True
                break
        if done:
            break
    wake = ts
    if dormancy_mean > 0.0:
        wake = ts - dormancy_mean * math.log(_u(seed, r, pid, rng.COHORT_WAKE))
    rc = rate * colony_rate_mult[dest]
    f0 = founding_cells[kind]
    row = buf[r]
    row[C_ORGAN] = dest
    row[C_KIND] = kind
    row[C_SOURCE] = source
    row[C_SOURCE_ORGAN] = org
    row[C_GENERATION] = gen
    row[C_FOUNDING] = f0
    row[C_SEEDED] = ts
    row[C_WAKE] = wake
    row[C_RATE] = rc
    row[C_DETECTED] = wake + time_to(law, f0, rc, plateau, gamma_g, det_cells[dest])
    row[C_ENDED] = math.inf
    row[C_END_REASON] = END_NONE
    row[C_CELLS_END] = 0.0
    row[C_EVENTS] = 1.0
    row[C_REF_DAY] = wake
    row[C_REF_CELLS] = f0
    row[C_SHED_BEFORE] = 0.0
    row[C_SHED_SCALE] = shed_scale
    per_cell_day = shed_scale * found_total[dest]
    if per_cell_day > 0.0:
        row[C_TARGET] = _threshold(seed, r + 1, 0, pid) / per_cell_day
        a, b, c = shed_params(law, f0, rc, plateau, gamma_s)
        row[C_NEXT] = wake + event_time_lower_bound(
            law, a, b, c, gamma_g, row[C_TARGET]
        )
        row[C_EXACT] = 0.0
    else:
        row[C_TARGET] = math.inf
        row[C_NEXT] = math.inf
    return buf


@njit(cache=True)
def _rebase(
    buf: np.ndarray,
    active: np.ndarray,
    n_active: int,
    nexts: np.ndarray,
    t_switch: float,
    law: int,
    rate: float,
    rate_mult: np.ndarray,
    shed_new: float,
    plateau: float,
    gamma_g: float,
    gamma_s: float,
    det_cells: np.ndarray,
) -> None:
    """Put every living colony on its new growth rate and shedding scale at ``t_switch``.

    The growth laws are Markov in N, so an awake colony continues from N(t_switch) at the
    new rate; a dormant one keeps its wake-up and founding cells. The shedding threshold
    still to be crossed is kept in units of Exp(1) mass (cell-days × scale), so seeding
    stays a Poisson process whose intensity changes at the switch. Cells shed so far are
    banked in C_SHED_BEFORE for the ledger; detection days and next-event bounds are
    recomputed.
    """
    for a in range(n_active):
        c = active[a]
        col = buf[c]
        if col[C_ENDED] <= t_switch:
            continue
        org = int(col[C_ORGAN])
        old_scale = col[C_SHED_SCALE]
        ref_t = col[C_REF_DAY]
        ref_n = col[C_REF_CELLS]
        target = col[C_TARGET]
        if ref_t < t_switch:
            span = t_switch - ref_t
            s_n0, s_rate, s_plat = shed_params(
                law, ref_n, col[C_RATE], plateau, gamma_s
            )
            cum = cum_cells(law, s_n0, s_rate, s_plat, gamma_g, span)
            col[C_SHED_BEFORE] += old_scale * cum
            # an event of a colony seeded in this step may be overdue: it fires now
            target = max(target - cum, 0.0)
            col[C_REF_CELLS] = cells_after(
                law, ref_n, col[C_RATE], plateau, gamma_g, span
            )
            col[C_REF_DAY] = t_switch
        rc = rate * rate_mult[org]
        col[C_RATE] = rc
        col[C_SHED_SCALE] = shed_new
        if math.isfinite(target):
            target = target * (old_scale / shed_new) if shed_new > 0.0 else math.inf
        col[C_TARGET] = target
        if col[C_DETECTED] > t_switch:
            col[C_DETECTED] = col[C_REF_DAY] + time_to(
                law, col[C_REF_CELLS], rc, plateau, gamma_g, det_cells[org]
            )
        if math.isfinite(target):
            s_n0, s_rate, s_plat = shed_params(
                law, col[C_REF_CELLS], rc, plateau, gamma_s
            )
            col[C_NEXT] = col[C_REF_DAY] + event_time_lower_bound(
                law, s_n0, s_rate, s_plat, gamma_g, target
            )
            col[C_EXACT] = 0.0
        else:
            col[C_NEXT] = math.inf
        nexts[c] = col[C_NEXT]


@njit(cache=True)
def simulate_patient(
    pid: int,
    seed: int,
    law: int,
    rate: float,
    n0_primary: float,
    plateau: float,
    gamma_g: float,
    colony_rate_mult: np.ndarray,  # (n_organs,) organ × DDR2 growth multipliers
    t_primary_dx: float,
    shed_scale: float,  # h_shed × r_intra × patient multiplier × N_ref^(1−γs), 1/day
    gamma_s: float,  # size exponent of shedding, shed ∝ N^γs
    found: np.ndarray,  # (2, n_organs, n_organs) founding probability per shed cell
    found_total: np.ndarray,  # (n_organs,) Σ over kind and destination
    founding_cells: np.ndarray,  # (2,) cells founding a colony: 1, n_cl
    primary: int,
    is_node: np.ndarray,  # (n_organs,) bool
    is_distant: np.ndarray,  # (n_organs,) bool
    removed: np.ndarray,  # (n_organs,) bool, deposits removed at surgery
    det_cells: np.ndarray,  # (n_organs,) detection threshold, cells
    hazard_ratio: np.ndarray,  # (n_organs,)
    follow_up: float,
    dt: float,
    death_model: int,  # DEATH_HAZARD, DEATH_BURDEN or DEATH_EITHER
    hazard0: float,
    lethal_burden: float,
    death_draw: float,  # Exp(1)
    adjuvant_kill: float,
    dormancy_mean: float,
    max_colonies: int,
    treat_mode: int,  # TREAT_NONE, TREAT_AT_DIAGNOSIS or TREAT_AT_DISTANT
    treat_delay: float,  # days after the anchor
    treat_duration: float,  # days (inf: to the end)
    treat_shed_factor: float,  # shedding × r_intra(ã_on)/r_intra(ã) on treatment, > 0
    treat_growth_factor: float,  # colony growth rate × m_grow(ã_on)/m_grow(ã), > 0
    shed_by_source: np.ndarray,  # out (n_organs,), expected shed cells by source organ
    ledger_source: np.ndarray,  # out (n_organs, n_states) int64: colony founders by source
    ledger_site: np.ndarray,  # out (n_organs, n_states) int64: colony founders by site
    out_patient: np.ndarray,  # out (N_PATIENT_COLS,)
    out_colonies: np.ndarray,  # out (cap, N_COLONY_COLS); first min(n, cap) rows filled
) -> None:
    """Simulate one patient from tumour founding to death or end of follow-up.

    Colonies below the node threshold removed with the nodes at surgery are counted in
    the ledger and in ``P_N_SMALL_REMOVED`` but not written to ``out_colonies``.
    """
    n_org = found.shape[1]
    buf = np.empty((16, N_COLONY_COLS), dtype=np.float64)
    n = 0
    # shedding scale and organ growth multipliers in force (changed by treatment)
    shed_cur = shed_scale
    rate_mult = colony_rate_mult.copy()
    treat_start = math.inf
    treat_stop = math.inf
    treat_on = False
    treat_effective = treat_shed_factor != 1.0 or treat_growth_factor != 1.0
    t_dx = t_primary_dx
    diagnosed = False
    t = 0.0
    t_stop = math.inf  # set at diagnosis
    hazard_cum = 0.0
    death = math.inf
    node_pos = 0.0
    met_dx = 0.0
    first_distant = math.inf
    primary_cells_dx = 0.0
    cap_reached = 0.0
    last_mask = -1
    h = 0.0
    for j in range(n_org):
        shed_by_source[j] = 0.0
    nexts = np.empty(16, dtype=np.float64)  # C_NEXT of every colony, contiguous
    active = np.empty(16, dtype=np.int64)  # colonies not removed, in creation order
    n_active = 0
    primary_rate = shed_scale * found_total[primary]  # colonies per primary cell-day
    p_n0, p_rate, p_plat = shed_params(law, n0_primary, rate, plateau, gamma_s)
    events_primary = 0
    target_primary = math.inf
    next_primary = math.inf
    if primary_rate > 0.0:
        target_primary = _threshold(seed, 0, 0, pid) / primary_rate
        next_primary = inv_cum_cells(law, p_n0, p_rate, p_plat, gamma_g, target_primary)
        events_primary = 1
    while True:
        t1 = min(t + dt, t_stop if diagnosed else t_dx)
        n_start = n
        n_active_start = n_active
        mask = 0  # distant organs with a metastasis detected by t (bit j = organ j)
        burden = 0.0
        # ---- the primary seeds until surgery (source 0): event times in closed form
        while not diagnosed and next_primary <= t1 and next_primary < t_dx:
            if n >= max_colonies:
                cap_reached = 1.0
                break
            buf = _seed(buf, n, primary, -1, 0.0, next_primary, pid, seed, found,
                        found_total, founding_cells, rate, rate_mult, law, plateau,
                        gamma_g, det_cells, dormancy_mean, shed_cur, gamma_s)  # fmt: skip
            active = _push(active, n_active, n)
            nexts = _push(nexts, n, buf[n, C_NEXT])
            n_active += 1
            n += 1
            target_primary += _threshold(seed, 0, events_primary, pid) / primary_rate
            events_primary += 1
            next_primary = inv_cum_cells(
                law, p_n0, p_rate, p_plat, gamma_g, target_primary
            )
        # ---- each colony: seeding events, detection, burden
        for a in range(n_active_start):
            c = active[a]
            if not diagnosed and nexts[c] > t1:
                continue  # before diagnosis only seeding events matter here
            ended = buf[c, C_ENDED]
            if ended <= t:
                continue
            org = int(buf[c, C_ORGAN])
            det = buf[c, C_DETECTED]
            if is_distant[org] and det <= t1 and ended > det:
                if det < first_distant:
                    first_distant = det
                if det <= t:
                    mask |= 1 << org
            if diagnosed:
                burden += cells_after(law, buf[c, C_REF_CELLS], buf[c, C_RATE], plateau,
                                      gamma_g, t1 - buf[c, C_REF_DAY])  # fmt: skip
            nxt = buf[c, C_NEXT]
            if nxt > t1 or nxt >= ended:
                continue
            wake = buf[c, C_REF_DAY]
            rc = buf[c, C_RATE]
            f0 = buf[c, C_REF_CELLS]
            s_n0, s_rate, s_plat = shed_params(law, f0, rc, plateau, gamma_s)
            if buf[c, C_EXACT] == 0.0:  # the bound has passed: find the event's day
                nxt = wake + inv_cum_cells(
                    law, s_n0, s_rate, s_plat, gamma_g, buf[c, C_TARGET]
                )
                buf[c, C_NEXT] = nxt
                buf[c, C_EXACT] = 1.0
                nexts[c] = nxt
                if nxt > t1 or nxt >= ended:
                    continue
            gen = buf[c, C_GENERATION] + 1.0
            events = int(buf[c, C_EVENTS])
            target = buf[c, C_TARGET]
            per_cell_day = buf[c, C_SHED_SCALE] * found_total[org]
            while nxt <= t1 and nxt < ended:
                if n >= max_colonies:
                    cap_reached = 1.0
                    break
                buf = _seed(buf, n, org, c, gen, nxt, pid, seed, found, found_total,
                            founding_cells, rate, rate_mult, law, plateau, gamma_g,
                            det_cells, dormancy_mean, shed_cur, gamma_s)  # fmt: skip
                active = _push(active, n_active, n)
                nexts = _push(nexts, n, buf[n, C_NEXT])
                n_active += 1
                n += 1
                target += _threshold(seed, c + 1, events, pid) / per_cell_day
                events += 1
                nxt = wake + inv_cum_cells(law, s_n0, s_rate, s_plat, gamma_g, target)
            buf[c, C_EVENTS] = events
            buf[c, C_TARGET] = target
            buf[c, C_NEXT] = nxt
            nexts[c] = nxt
        # a distant metastasis detectable before the primary brings the diagnosis forward
        if not diagnosed:
            for c in range(n_start, n):
                if is_distant[int(buf[c, C_ORGAN])] and buf[c, C_DETECTED] < t_dx:
                    t_dx = max(buf[c, C_DETECTED], t1)
            if first_distant < t_dx:
                t_dx = max(first_distant, t1)
        # ---- diagnosis and surgery at the end of this step
        if not diagnosed and t1 >= t_dx:
            diagnosed = True
            t_dx = t1
            primary_cells_dx = cells_after(
                law, n0_primary, rate, plateau, gamma_g, t_dx
            )
            t_stop = t_dx + follow_up
            for c in range(n):
                col = buf[c]
                org = int(col[C_ORGAN])
                size = _colony_cells(col, t_dx, law, plateau, gamma_g)
                if is_node[org] and size > det_cells[org]:
                    node_pos = 1.0
                if is_distant[org] and col[C_DETECTED] <= t_dx:
                    met_dx = 1.0
                    first_distant = t_dx
                if removed[org]:
                    col[C_ENDED] = t_dx
                    col[C_END_REASON] = END_SURGERY
                elif (
                    adjuvant_kill > 0.0
                    and col[C_DETECTED] > t_dx
                    and _u(seed, c, pid, rng.COHORT_ADJUVANT) < adjuvant_kill
                ):
                    col[C_ENDED] = t_dx
                    col[C_END_REASON] = END_ADJUVANT
            kept_active = 0
            for a in range(n_active):  # drop removed colonies from the active list
                if buf[active[a], C_ENDED] == math.inf:
                    active[kept_active] = active[a]
                    kept_active += 1
            n_active = kept_active
        elif diagnosed:
            # ---- death: hazard from the sites detected by t, and the lethal burden
            if death_model != DEATH_BURDEN and mask != 0:
                if mask != last_mask:
                    h = hazard0
                    for j in range(n_org):
                        if mask >> j & 1:
                            h *= hazard_ratio[j]
                    last_mask = mask
                if hazard_cum + h * (t1 - t) >= death_draw:
                    death = t + (death_draw - hazard_cum) / h
                hazard_cum += h * (t1 - t)
            if (
                death_model != DEATH_HAZARD
                and burden >= lethal_burden
                and death == math.inf
            ):
                death = t1
        if death < t1:
            # colonies seeded in this step after the death never existed: they are the
            # newest rows (index ≥ n_start) and have no children yet
            kept = n_start
            for c in range(n_start, n):
                if buf[c, C_SEEDED] <= death:
                    if kept != c:
                        buf[kept, :] = buf[c, :]
                    kept += 1
            n = kept
        t = min(t1, death)
        if cap_reached > 0.0 or (diagnosed and t >= t_stop) or death < math.inf:
            break
        # ---- treatment starts and stops at step ends (common random numbers up to then)
        if diagnosed and treat_mode != TREAT_NONE:
            if treat_start == math.inf:
                anchor = math.inf
                if treat_mode == TREAT_AT_DIAGNOSIS:
                    anchor = t_dx
                elif first_distant <= t1:
                    anchor = max(first_distant, t_dx)
                if t1 >= anchor + treat_delay:
                    treat_start = t1
                    treat_on = True
                    if treat_effective:
                        shed_cur = shed_scale * treat_shed_factor
                        for j in range(n_org):
                            rate_mult[j] = colony_rate_mult[j] * treat_growth_factor
                        _rebase(buf, active, n_active, nexts, t1, law, rate, rate_mult,
                                shed_cur, plateau, gamma_g, gamma_s, det_cells)  # fmt: skip
            elif treat_on and t1 >= treat_start + treat_duration:
                treat_stop = t1
                treat_on = False
                if treat_effective:
                    shed_cur = shed_scale
                    for j in range(n_org):
                        rate_mult[j] = colony_rate_mult[j]
                    _rebase(buf, active, n_active, nexts, t1, law, rate, rate_mult,
                            shed_cur, plateau, gamma_g, gamma_s, det_cells)  # fmt: skip
        if diagnosed and n_active == 0:  # nothing left that can change: jump to the end
            t = t_stop
            break
    t_end = t
    if first_distant < t_dx:
        first_distant = t_dx
    # cells shed by each source organ: ∫ N dt over its shedding life (closed form)
    shed_by_source[primary] += shed_scale * cum_cells(
        law, p_n0, p_rate, p_plat, gamma_g, t_dx
    )
    burden = 0.0
    cap = out_colonies.shape[0]
    kept = 0
    small_removed = 0
    for c in range(n):
        col = buf[c]
        size = _colony_cells(col, t_end, law, plateau, gamma_g)
        col[C_CELLS_END] = size
        burden += size
        life = min(t_end, col[C_ENDED]) - col[C_REF_DAY]
        org = int(col[C_ORGAN])
        shed_by_source[org] += col[C_SHED_BEFORE]
        if life > 0.0:
            s_n0, s_rate, s_plat = shed_params(
                law, col[C_REF_CELLS], col[C_RATE], plateau, gamma_s
            )
            shed_by_source[org] += col[C_SHED_SCALE] * cum_cells(
                law, s_n0, s_rate, s_plat, gamma_g, life
            )
        # ledger: a founder grows once awake, else it is still dormant
        org = int(col[C_ORGAN])
        state = STATE_GROWING if col[C_WAKE] <= t_end else STATE_DORMANT
        cells = int(col[C_FOUNDING] + 0.5)
        ledger_site[org, state] += cells
        ledger_source[int(col[C_SOURCE_ORGAN]), state] += cells
        # nodal deposits removed at surgery below the node threshold (isolated tumour
        # cells) are counted, not listed
        if col[C_END_REASON] == END_SURGERY and is_node[org]:
            at_surgery = _colony_cells_until(col, t_dx, law, plateau, gamma_g)
            if at_surgery <= det_cells[org]:
                small_removed += 1
                continue
        if kept < cap:
            out_colonies[kept, :] = col
        kept += 1
    out_patient[P_DIAGNOSIS] = t_dx
    out_patient[P_PRIMARY_CELLS] = primary_cells_dx
    out_patient[P_NODE_POSITIVE] = node_pos
    out_patient[P_METASTATIC_AT_DX] = met_dx
    out_patient[P_FIRST_DISTANT] = first_distant if first_distant <= t_end else math.inf
    out_patient[P_DEATH] = death
    out_patient[P_END] = t_end
    out_patient[P_N_COLONIES] = n
    out_patient[P_N_LISTED] = kept
    out_patient[P_N_SMALL_REMOVED] = small_removed
    out_patient[P_BURDEN_END] = burden
    out_patient[P_CAP_REACHED] = cap_reached
    out_patient[P_TREAT_START] = treat_start
    out_patient[P_TREAT_STOP] = treat_stop


@njit(parallel=True, cache=True)
def simulate_patients(
    pids: np.ndarray,
    seed: int,
    law: int,
    rate: np.ndarray,
    n0_primary: float,
    plateau: float,
    gamma_g: float,
    colony_rate_mult: np.ndarray,  # (n_patients, n_organs)
    t_primary_dx: np.ndarray,
    shed_scale: np.ndarray,
    gamma_s: float,
    found: np.ndarray,  # (n_categories, 2, n_organs, n_organs)
    found_total: np.ndarray,  # (n_categories, n_organs)
    category: np.ndarray,  # (n_patients,) int64
    founding_cells: np.ndarray,
    primary: int,
    is_node: np.ndarray,
    is_distant: np.ndarray,
    removed: np.ndarray,
    det_cells: np.ndarray,
    hazard_ratio: np.ndarray,
    follow_up: float,
    dt: float,
    death_model: int,
    hazard0: np.ndarray,  # (n_patients,) 1/day, frailty included
    lethal_burden: float,
    death_draw: np.ndarray,
    adjuvant_kill: float,
    dormancy_mean: float,
    max_colonies: int,
    treat_mode: int,
    treat_delay: float,
    treat_duration: float,
    treat_shed_factor: np.ndarray,  # (n_patients,)
    treat_growth_factor: np.ndarray,  # (n_patients,)
    shed_by_source: np.ndarray,  # out (n_patients, n_organs)
    ledger_source: np.ndarray,  # out (n_patients, n_organs, n_states) int64
    ledger_site: np.ndarray,  # out (n_patients, n_organs, n_states) int64
    out_patient: np.ndarray,  # out (n_patients, N_PATIENT_COLS)
    out_colonies: np.ndarray,  # out (n_patients, cap, N_COLONY_COLS)
) -> None:
    """:func:`simulate_patient` for every row, in parallel (rows are independent)."""
    for i in prange(pids.shape[0]):
        c = category[i]
        simulate_patient(
            pids[i], seed, law, rate[i], n0_primary, plateau, gamma_g,
            colony_rate_mult[i], t_primary_dx[i], shed_scale[i], gamma_s, found[c],
            found_total[c], founding_cells, primary, is_node, is_distant, removed,
            det_cells, hazard_ratio, follow_up, dt, death_model, hazard0[i],
            lethal_burden, death_draw[i], adjuvant_kill, dormancy_mean, max_colonies,
            treat_mode, treat_delay, treat_duration, treat_shed_factor[i],
            treat_growth_factor[i], shed_by_source[i], ledger_source[i], ledger_site[i], out_patient[i],
            out_colonies[i],
        )  # fmt: skip


@njit(parallel=True, cache=True)
def draw_ledger(
    pids: np.ndarray,
    seed: int,
    shed: np.ndarray,  # (n_patients, n_src) expected shed cells by source organ
    category: np.ndarray,  # (n_patients,) int64
    share: np.ndarray,  # (n_categories, n_src, n_site, n_states) end-state share per shed cell
    by_source: np.ndarray,  # out (n_patients, n_src, n_states) int64
    by_site: np.ndarray,  # out (n_patients, n_site, n_states) int64
) -> None:
    """Poisson counts of the end states that are not colonies, by source and by site.

    Colonies (growing, or dormant before wake-up) are drawn one by one in
    :func:`simulate_patients`; the caller adds their founding cells.
    """
    n_src = share.shape[1]
    n_site = share.shape[2]
    n_st = share.shape[3]
    for i in prange(pids.shape[0]):
        c = category[i]
        for a in range(n_src):
            if shed[i, a] <= 0.0:
                continue
            for b in range(n_site):
                for k in range(n_st):
                    m = shed[i, a] * share[c, a, b, k]
                    if m <= 0.0:
                        continue
                    counter = (a * n_site + b) * n_st + k
                    x = poisson_draw(m, seed, counter, pids[i], rng.COHORT_LEDGER)
                    by_source[i, a, k] += x
                    by_site[i, b, k] += x
