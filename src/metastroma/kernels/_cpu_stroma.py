"""CPU (numba) kernels of the DDR2 tissue model.

MSC contacts, DDR2 ODEs, collagen writes, intravasation hazards and exit clusters.
Equations: SCIENCE.md §4.7 (contact-induced expression, exact exponential update), §4.8
(collagen activation with receptor occupancy), §5.2 and §5.4 (remodelling, deposition,
compression wrapping, deterministic writes), §5.6 (doorway hazard, clusters). Every
parallel loop writes only its own row or element: collagen writes are gathered per element
(cells binned by a stable counting sort) and summed in cell-id order, so the field is the
same for any thread count and any row order (STYLE.md §5).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from metastroma._typing import BoolArray, F64Array, I8Array, I32Array, I64Array
from metastroma.kernels import rng
from metastroma.kernels._cpu import _add_wall_velocity

LIVE = 0
CANCER, MSC, BENIGN = 0, 1, 2

# -------------------------------------------------------------------- MSC contacts


@njit(parallel=True, cache=True)
def count_msc_contacts(
    pos: F64Array,
    radius: F64Array,
    kind: I8Array,
    state: I8Array,
    n: int,
    reach: F64Array,
    range_factor: float,
    bin_um: F64Array,
    n_bins: I64Array,
    start: I64Array,
    order: I64Array,
    bins: I64Array,
    out: I32Array,
    span: int = 1,
) -> None:
    """Number of live MSCs in contact with each live epithelial cell (SCIENCE.md §4.7).

    Contact means d_ij < f S_ij, S_ij = ℓ_i R_i + ℓ_j R_j (§1.2), f = ``range_factor``.
    ``span`` bins on each side must cover f max S_ij. MSCs and dead cells get 0.

    Parameters
    ----------
    out : (capacity,) int32
        Overwritten for rows < n.
    """
    three = pos.shape[1] == 3
    nby = n_bins[1]
    nbz = n_bins[2] if three else 1
    nbx = n_bins[0]
    for i in prange(n):
        out[i] = 0
        if state[i] != LIVE or kind[i] == MSC:
            continue
        b = bins[i]
        iz = b % nbz
        r = b // nbz
        iy = r % nby
        ix = r // nby
        li = reach[kind[i]] * radius[i]
        count = 0
        for jx in range(max(ix - span, 0), min(ix + span + 1, nbx)):
            for jy in range(max(iy - span, 0), min(iy + span + 1, nby)):
                row = (jx * nby + jy) * nbz
                lo = row + max(iz - span, 0)
                hi = row + min(iz + span, nbz - 1)
                for s in range(start[lo], start[hi + 1]):
                    j = order[s]
                    if kind[j] != MSC or state[j] != LIVE:
                        continue
                    d2 = 0.0
                    for a in range(pos.shape[1]):
                        dx = pos[i, a] - pos[j, a]
                        d2 += dx * dx
                    s_ij = range_factor * (li + reach[MSC] * radius[j])
                    if d2 < s_ij * s_ij:
                        count += 1
        out[i] = count


# -------------------------------------------------------------------- DDR2 ODEs


@njit(parallel=True, cache=True)
def ddr2_update(
    n: int,
    kind: I8Array,
    state: I8Array,
    expression: F64Array,
    activity: F64Array,
    basal: F64Array,
    d_max: F64Array,
    competence: F64Array,
    contacts: I32Array,
    contact_min: F64Array,
    oxygen: F64Array,
    rho_at_cell: F64Array,
    k_ind: float,
    k_c: float,
    k_hyp: float,
    c_hyp: float,
    c_hyp_sat: float,
    k_deg: float,
    k_on: float,
    k_off: float,
    k_rho: float,
    theta: float,
    dt: float,
) -> None:
    """Exact update of DDR2 expression D and activity A over one phenotype step.

    Holding the contact count n, oxygen c, collagen ρ and occupancy θ fixed over Δt
    (SCIENCE.md §4.7, §4.8):

        k̃ = χ [k_ind n/(n + K_c) + k_hyp H(c)],  D* = (k̃ D_max + k_deg D₀)/(k̃ + k_deg),
        D ← D* + (D − D*) e^{−r Δt},  r = k̃ + k_deg;
        k_a = k_on ρ/(ρ + K_ρ) (1 − θ),  λ = k_a + k_off,
        A ← A e^{−λΔt} + k_a [D* (1 − e^{−λΔt})/λ + (D − D*)(e^{−rΔt} − e^{−λΔt})/(λ − r)],
        A ← min(A, D).

    The A update is the exact solution of dA/dt = k_a D(t) − λ A with D(t) moving
    exponentially over the step (SCIENCE.md §4.8 holds D at its updated value, a
    first-order splitting; the exact pair removes that error). At fixed D it is
    A* + (A − A*) e^{−λΔt} with A* = k_a D/λ.

    Only live epithelial cells (cancer, benign) change; MSC DDR2 is the constant genotype.
    ``contact_min`` accumulates the time spent with at least one MSC contact.
    """
    for i in prange(n):
        if state[i] != LIVE or kind[i] == MSC:
            continue
        nc = contacts[i]
        if nc > 0:
            contact_min[i] += dt
        h = min(max((c_hyp - oxygen[i]) / (c_hyp - c_hyp_sat), 0.0), 1.0)
        kt = competence[i] * (k_ind * nc / (nc + k_c) + k_hyp * h)
        rate = kt + k_deg
        d0 = basal[i]
        dm = d_max[i]
        d_old = expression[i]
        if rate > 0.0:
            d_star = (kt * dm + k_deg * d0) / rate
            d = d_star + (d_old - d_star) * np.exp(-rate * dt)
        else:
            d_star = d_old
            d = d_old
        d = min(max(d, 0.0), dm)
        expression[i] = d
        rho = rho_at_cell[i]
        kp = k_on * (rho / (rho + k_rho)) * (1.0 - theta) if rho > 0.0 else 0.0
        lam = kp + k_off
        a_old = activity[i]
        # exact solution of the linear pair over the step: D(s) = D* + (D₀ − D*) e^{−r s}
        # drives dA/ds = k_a D(s) − λ A, so
        # A(Δt) = A e^{−λΔt} + k_a [D* (1 − e^{−λΔt})/λ + (D₀ − D*) φ(r, λ)],
        # φ = (e^{−rΔt} − e^{−λΔt})/(λ − r)  (→ Δt e^{−λΔt} as r → λ)
        e_l = np.exp(-lam * dt)
        steady = d_star * (1.0 - e_l) / lam if lam > 0.0 else d_star * dt
        gap = lam - rate
        if abs(gap) * dt > 1e-8:
            phi = (np.exp(-rate * dt) - e_l) / gap
        else:
            phi = dt * e_l * (1.0 - 0.5 * gap * dt)
        a = a_old * e_l + kp * (steady + (d_old - d_star) * phi)
        activity[i] = min(max(a, 0.0), d)


# -------------------------------------------------------------------- ECM lookups


@njit(inline="always", cache=True)
def element_of(
    pos: F64Array, i: int, lower: F64Array, dx: float, shape: I64Array
) -> int:
    """Flat (C-order) index of the ECM element holding cell i (clamped to the grid)."""
    e = 0
    for a in range(pos.shape[1]):
        k = int(np.floor((pos[i, a] - lower[a]) / dx))
        k = min(max(k, 0), shape[a] - 1)
        e = e * shape[a] + k
    return e


@njit(parallel=True, cache=True)
def elements_of_cells(
    pos: F64Array, n: int, lower: F64Array, dx: float, shape: I64Array
) -> I64Array:
    """ECM element of each of the first ``n`` cells."""
    out = np.empty(n, dtype=np.int64)
    for i in prange(n):
        out[i] = element_of(pos, i, lower, dx, shape)
    return out


# -------------------------------------------------------------------- guided motility


@njit(inline="always", cache=True)
def _guide(
    dx_: float,
    dy_: float,
    dz_: float,
    fx: float,
    fy: float,
    fz: float,
    gamma: float,
) -> tuple[float, float, float]:
    """m̃ = (1 − γ) c₁ d_⊥ + c₂ f (SCIENCE.md §5.5; M24 [C]); d̂ unit, f unit."""
    c2 = dx_ * fx + dy_ * fy + dz_ * fz
    px = dx_ - c2 * fx
    py = dy_ - c2 * fy
    pz = dz_ - c2 * fz
    pn = np.sqrt(px * px + py * py + pz * pz)
    if pn > 1e-12:
        px /= pn
        py /= pn
        pz /= pn
    else:
        px = 0.0
        py = 0.0
        pz = 0.0
    c1 = dx_ * px + dy_ * py + dz_ * pz
    w = (1.0 - gamma) * c1
    return w * px + c2 * fx, w * py + c2 * fy, w * pz + c2 * fz


@njit(inline="always", cache=True)
def density_window(rho: float, lo: float, mid: float, hi: float) -> float:
    """h(ρ): 0 at ρ ≤ ρ_L, rising to 1 at ρ_I, falling to 0 at ρ_H (M24 [C], §5.5)."""
    if rho <= lo or rho >= hi:
        return 0.0
    if rho <= mid:
        return (rho - lo) / (mid - lo)
    return (rho - hi) / (mid - hi)


@njit(parallel=True, cache=True)
def guided_motility_and_integrate(
    seed: int,
    step: int,
    dt: float,
    n: int,
    cell_id: I64Array,
    kind: I8Array,
    state: I8Array,
    pos: F64Array,
    radius: F64Array,
    vel: F64Array,
    vel_prev: F64Array,
    has_prev: BoolArray,
    direction: F64Array,
    motility: F64Array,
    activity: F64Array,
    genotype: F64Array,
    speed_by_kind: F64Array,
    persistence_by_kind: F64Array,
    bias_by_kind: F64Array,
    sens_base: F64Array,
    sens_slope: F64Array,
    speed_gain: F64Array,
    persist_gain: F64Array,
    gamma_gain: F64Array,
    drive_is_genotype: BoolArray,
    bias_grad: F64Array,
    o2_lower: F64Array,
    o2_dx: float,
    o2_shape: I64Array,
    ecm_on: bool,
    ecm_lower: F64Array,
    ecm_dx: float,
    ecm_shape: I64Array,
    ecm_rho: F64Array,
    ecm_aniso: F64Array,
    ecm_fibre: F64Array,
    guidance: bool,
    normalised: bool,
    window: bool,
    rho_lo: float,
    rho_mid: float,
    rho_hi: float,
    mt_gain: float,
    mt_rho: float,
    lower: F64Array,
    upper: F64Array,
    wall_on: bool,
    wall_cr: float,
    use_ab2: bool,
    elem_out: I64Array,
) -> None:
    """Motility with DDR2 gains and contact guidance, wall, and integration (§1.3, §5.5).

    Per live motile cell, with x = A (epithelial) or δ (MSCs, ``drive_is_genotype``) and
    the cell's ECM element (ρ, a, f):

    - sensitivity s = s_base + s_slope x; γ = s a (0 if the field is off or guidance off);
    - persistence T = T_p (1 + g_T x)(1 + g_γ γ); with probability Δt/T (always if T < Δt
      or the cell has no direction yet) d̂ = (b ĝ + (1 − b) ξ)/|·| (§1.3);
    - if s ≥ 1e-4: m̃ = (1 − γ) c₁ d_⊥ + c₂ f, else m̃ = d̂;
    - speed v = v_base (1 + g_v x) h(ρ) b_mt × (1 if normalised else |m̃|); m = v m̃/|m̃|,
      with the micro-track bonus b_mt = 1 + g_mt a max(0, 1 − ρ/ρ_mt) (1 when
      ``mt_gain`` is 0 or the field is off).

    ``motility`` receives m; ``vel`` (holding the contact velocities) receives + m + wall,
    then positions advance by Adams–Bashforth 2 (Euler on a cell's first step).
    ``elem_out`` receives the ECM element of each cell's new position (for the collagen
    writes that follow; untouched if the field is off).
    """
    dim = pos.shape[1]
    for i in prange(n):
        k = kind[i]
        v = speed_by_kind[k]
        mx = 0.0
        my = 0.0
        mz = 0.0
        if state[i] == LIVE and v > 0.0:
            x = genotype[i] if drive_is_genotype[k] else activity[i]
            gam = 0.0
            s = sens_base[k] + sens_slope[k] * x
            fx = 0.0
            fy = 0.0
            fz = 0.0
            h = 1.0
            if ecm_on:
                e = element_of(pos, i, ecm_lower, ecm_dx, ecm_shape)
                if guidance and s >= 1e-4:
                    gam = min(max(s * ecm_aniso[e], 0.0), 1.0)
                    fx = ecm_fibre[e, 0]
                    fy = ecm_fibre[e, 1]
                    if dim == 3:
                        fz = ecm_fibre[e, 2]
                if window:
                    h = density_window(ecm_rho[e], rho_lo, rho_mid, rho_hi)
                if mt_gain > 0.0:
                    h *= 1.0 + mt_gain * ecm_aniso[e] * max(
                        0.0, 1.0 - ecm_rho[e] / mt_rho
                    )
            tp = persistence_by_kind[k] * (1.0 + persist_gain[k] * x)
            tp *= 1.0 + gamma_gain[k] * gam
            has_dir = False
            for a in range(dim):
                if direction[i, a] != 0.0:
                    has_dir = True
            cid = cell_id[i]
            turn = (
                (not has_dir)
                or tp < dt
                or rng.uniform01(seed, step, cid, rng.MOTILITY_TURN) < dt / tp
            )
            if turn:
                ux, uy, uz = rng.random_unit_vector(
                    seed, step, cid, rng.MOTILITY_DIR_A, rng.MOTILITY_DIR_B, dim
                )
                b = bias_by_kind[k]
                if b > 0.0:
                    vox = 0
                    for a in range(dim):
                        c = int(np.floor((pos[i, a] - o2_lower[a]) / o2_dx))
                        c = min(max(c, 0), o2_shape[a] - 1)
                        vox = vox * o2_shape[a] + c
                    ux = b * bias_grad[vox, 0] + (1.0 - b) * ux
                    uy = b * bias_grad[vox, 1] + (1.0 - b) * uy
                    if dim == 3:
                        uz = b * bias_grad[vox, 2] + (1.0 - b) * uz
                    norm = np.sqrt(ux * ux + uy * uy + uz * uz)
                    if norm > 0.0:
                        ux /= norm
                        uy /= norm
                        uz /= norm
                direction[i, 0] = ux
                direction[i, 1] = uy
                if dim == 3:
                    direction[i, 2] = uz
            dx_ = direction[i, 0]
            dy_ = direction[i, 1]
            dz_ = direction[i, 2] if dim == 3 else 0.0
            if gam > 0.0 or (ecm_on and guidance and s >= 1e-4):
                gx, gy, gz = _guide(dx_, dy_, dz_, fx, fy, fz, gam)
            else:
                gx, gy, gz = dx_, dy_, dz_
            gn = np.sqrt(gx * gx + gy * gy + gz * gz)
            if gn > 1e-12:
                speed = v * (1.0 + speed_gain[k] * x) * h
                if not normalised:
                    speed *= gn
                mx = speed * gx / gn
                my = speed * gy / gn
                mz = speed * gz / gn
        motility[i, 0] = mx
        motility[i, 1] = my
        if dim == 3:
            motility[i, 2] = mz
        vel[i, 0] += mx
        vel[i, 1] += my
        if dim == 3:
            vel[i, 2] += mz
        if wall_on:
            _add_wall_velocity(i, pos, radius, lower, upper, wall_cr, dim, vel)
        for a in range(dim):
            if use_ab2 and has_prev[i]:
                step_a = dt * (1.5 * vel[i, a] - 0.5 * vel_prev[i, a])
            else:
                step_a = dt * vel[i, a]
            xa = pos[i, a] + step_a
            pos[i, a] = min(max(xa, lower[a]), upper[a])
            vel_prev[i, a] = vel[i, a]
        has_prev[i] = True
        if ecm_on:
            elem_out[i] = element_of(pos, i, ecm_lower, ecm_dx, ecm_shape)


# -------------------------------------------------------------------- collagen writes


@njit(parallel=True, cache=True)
def ecm_remodel(
    dt: float,
    cell_id: I64Array,
    kind: I8Array,
    state: I8Array,
    motility: F64Array,
    activity: F64Array,
    genotype: F64Array,
    start: I64Array,
    order: I64Array,
    drive_is_genotype: BoolArray,
    realign_per_um: F64Array,
    aniso_per_um: F64Array,
    deposit_per_min: F64Array,
    deposit_null_fraction: F64Array,
    target_density: F64Array,
    band_boost: F64Array,
    instant: bool,
    band: BoolArray,
    normal: F64Array,
    edge_speed_um_per_min: float,
    wrap_per_um: float,
    rho: F64Array,
    aniso: F64Array,
    fibre: F64Array,
    written: BoolArray,
) -> None:
    """One mechanics step of collagen writes, gathered per element (SCIENCE.md §5.2, §5.4).

    Writers of element e are the live cells binned there (``order[start[e]:start[e+1]]``).
    With x = A (cancer) or δ (MSC), v = |m| and d̂ = m/v, each writer adds, from the state
    (ρ, a, f) of e at the start of the step and in the frame of f (f̃ = σ f, σ = sign(f·d̂)):

        Δρ = r_ρ (x + (1 − x) f_null) Δt (ρ* − ρ),
        Δf = −Δt r_f x v (1 − a)(f − σ d̂),   Δa = Δt r_a x (1 + β 1_band) v (1 − a);

    in the boundary band compression wraps fibres toward the tangent t̂ at the edge speed
    u_n (d̂ → t̂, v → u_n, rate r_c). Increments are summed in cell-id order and applied
    once: f ← normalise(f + k ΣΔf) with k = min(1, 1/Σ c), c = Δt r_f x v (1 − a) each
    writer's turning weight (so f never overshoots the writers' directions), a and ρ
    clamped to [0, 1]. ``instant`` mode sets
    f ← normalise(Σ σ d̂), a ← 1 (M24 mode 0). ``written`` flags elements that got a write.
    """
    n_el = rho.shape[0]
    dim = fibre.shape[1]
    for e in prange(n_el):
        s0 = start[e]
        s1 = start[e + 1]
        in_band = band[e]
        if s0 == s1 and not (in_band and edge_speed_um_per_min > 0.0):
            continue
        wraps = in_band and edge_speed_um_per_min > 0.0 and wrap_per_um > 0.0
        if not wraps:  # a quick pass: does any cell here write at all?
            any_writer = False
            for s in range(s0, s1):
                j = order[s]
                k = kind[j]
                if state[j] != LIVE:
                    continue
                if deposit_per_min[k] > 0.0:
                    any_writer = True
                    break
                if realign_per_um[k] > 0.0 or aniso_per_um[k] > 0.0:
                    m2s = 0.0
                    for a in range(dim):
                        m2s += motility[j, a] * motility[j, a]
                    if m2s > 0.0:
                        any_writer = True
                        break
            if not any_writer:
                continue
        r0 = rho[e]
        a0 = aniso[e]
        f0 = fibre[e, 0]
        f1 = fibre[e, 1]
        f2 = fibre[e, 2] if dim == 3 else 0.0
        d_rho = 0.0
        d_a = 0.0
        g0 = 0.0
        g1 = 0.0
        g2 = 0.0
        n_inst = 0
        c_sum = 0.0  # Σ of the writers' turning weights Δt r v (1 − a)
        wrote = False
        # writers in cell-id order: repeated selection of the next smallest id (an element
        # holds a handful of cells), so sums do not depend on row order or threads
        last = np.int64(-1)
        for _ in range(s1 - s0):
            best = -1
            best_id = np.int64(0)
            for s in range(s0, s1):
                j = order[s]
                cid = cell_id[j]
                if cid > last and (best < 0 or cid < best_id):
                    best = j
                    best_id = cid
            if best < 0:
                break
            last = best_id
            j = best
            if state[j] != LIVE:
                continue
            k = kind[j]
            x = genotype[j] if drive_is_genotype[k] else activity[j]
            rr = deposit_per_min[k] * (x + (1.0 - x) * deposit_null_fraction[k])
            if rr > 0.0:
                d_rho += rr * dt * (target_density[k] - r0)
                wrote = True
            rf = realign_per_um[k] * x
            ra = aniso_per_um[k] * x * (1.0 + (band_boost[k] if in_band else 0.0))
            if rf <= 1e-12 and ra <= 1e-12:
                continue
            m0 = motility[j, 0]
            m1 = motility[j, 1]
            m2 = motility[j, 2] if dim == 3 else 0.0
            v = np.sqrt(m0 * m0 + m1 * m1 + m2 * m2)
            if v <= 0.0:
                continue
            m0 /= v
            m1 /= v
            m2 /= v
            sg = 1.0 if f0 * m0 + f1 * m1 + f2 * m2 >= 0.0 else -1.0
            wrote = True
            if instant:
                if rf > 1e-5 and ra > 1e-5:
                    g0 += sg * m0
                    g1 += sg * m1
                    g2 += sg * m2
                    n_inst += 1
                continue
            c = dt * rf * v * (1.0 - a0)
            c_sum += c
            g0 -= c * (f0 - sg * m0)
            g1 -= c * (f1 - sg * m1)
            g2 -= c * (f2 - sg * m2)
            d_a += dt * ra * v * (1.0 - a0)
        if wraps:
            n0 = normal[e, 0]
            n1 = normal[e, 1]
            n2 = normal[e, 2] if dim == 3 else 0.0
            if dim == 2:
                t0 = -n1
                t1 = n0
                t2 = 0.0
            else:  # the direction of the tangent plane closest to f
                fn = f0 * n0 + f1 * n1 + f2 * n2
                t0 = f0 - fn * n0
                t1 = f1 - fn * n1
                t2 = f2 - fn * n2
                tn = np.sqrt(t0 * t0 + t1 * t1 + t2 * t2)
                if tn > 1e-12:
                    t0 /= tn
                    t1 /= tn
                    t2 /= tn
                else:
                    t0 = 0.0
                    t1 = 0.0
                    t2 = 0.0
            if t0 * t0 + t1 * t1 + t2 * t2 > 0.5:
                sg = 1.0 if f0 * t0 + f1 * t1 + f2 * t2 >= 0.0 else -1.0
                c = dt * wrap_per_um * edge_speed_um_per_min * (1.0 - a0)
                c_sum += c
                g0 -= c * (f0 - sg * t0)
                g1 -= c * (f1 - sg * t1)
                g2 -= c * (f2 - sg * t2)
                d_a += c
                wrote = True
        if not wrote:
            continue
        written[e] = True
        rho[e] = min(max(r0 + d_rho, 0.0), 1.0)
        if instant and n_inst > 0:
            h0, h1, h2 = g0, g1, g2
            new_a = 1.0
        else:
            # one writer turns f at most onto its direction (weight ≤ 1, as M24's
            # sequential updates); many writers' summed weights are capped at 1 so
            # that f is never pushed past the writers' mean direction
            k = 1.0 / c_sum if c_sum > 1.0 else 1.0
            h0 = f0 + k * g0
            h1 = f1 + k * g1
            h2 = f2 + k * g2
            new_a = min(max(a0 + d_a, 0.0), 1.0)
        hn = np.sqrt(h0 * h0 + h1 * h1 + h2 * h2)
        if hn > 1e-12:
            fibre[e, 0] = h0 / hn
            fibre[e, 1] = h1 / hn
            if dim == 3:
                fibre[e, 2] = h2 / hn
        aniso[e] = new_a


@njit(parallel=True, cache=True)
def ecm_relax(
    rho: F64Array,
    aniso: F64Array,
    written: BoolArray,
    a_base: float,
    rho_base: float,
    factor: float,
) -> None:
    """Relaxation over one phenotype step (SCIENCE.md §5.4), then clear ``written``.

    a ← a₀ + (a − a₀) φ everywhere, ρ ← ρ₀ + (ρ − ρ₀) φ where no cell wrote during the
    step, φ = e^{−k_relax Δt_ph}; the director f is unchanged.
    """
    for e in prange(rho.shape[0]):
        aniso[e] = a_base + (aniso[e] - a_base) * factor
        if not written[e]:
            rho[e] = rho_base + (rho[e] - rho_base) * factor
        written[e] = False


# -------------------------------------------------------------------- intravasation


@njit(parallel=True, cache=True)
def doorway_hazard(
    seed: int,
    step: int,
    dt: float,
    n: int,
    cell_id: I64Array,
    kind: I8Array,
    state: I8Array,
    pos: F64Array,
    radius: F64Array,
    activity: F64Array,
    doors: F64Array,
    capture_radii: float,
    h0: float,
    g_i: float,
    g_f: float,
    ecm_on: bool,
    ecm_lower: F64Array,
    ecm_dx: float,
    ecm_shape: I64Array,
    ecm_aniso: F64Array,
    ecm_fibre: F64Array,
    exits: BoolArray,
    door_of: I64Array,
    cos2psi: F64Array,
    exposure: F64Array,
) -> None:
    """Which live cancer cells leave at a doorway this phenotype step (SCIENCE.md §5.6).

    A cell within ``capture_radii`` R of its nearest doorway (in x–y: 3D doorways are
    vessel lines along z) has hazard h = h₀ (1 + g_i A)(1 + g_f a cos² ψ), ψ the angle
    between its element's fibre and the direction to the doorway, and leaves with
    probability 1 − e^{−h Δt}. ``exposure`` gets h/h₀ (0 away from doorways), the
    quantity that calibrates h₀ (E4).
    """
    n_doors = doors.shape[0]
    dim = pos.shape[1]
    for i in prange(n):
        exits[i] = False
        door_of[i] = -1
        cos2psi[i] = 0.0
        exposure[i] = 0.0
        if state[i] != LIVE or kind[i] != CANCER or n_doors == 0:
            continue
        cap = capture_radii * radius[i]
        best = -1
        best_d2 = cap * cap
        for q in range(n_doors):
            dx = doors[q, 0] - pos[i, 0]
            dy = doors[q, 1] - pos[i, 1]
            d2 = dx * dx + dy * dy
            if d2 < best_d2:
                best_d2 = d2
                best = q
        if best < 0:
            continue
        c2 = 0.0
        fac_f = 1.0
        if ecm_on:
            e = element_of(pos, i, ecm_lower, ecm_dx, ecm_shape)
            ux = doors[best, 0] - pos[i, 0]
            uy = doors[best, 1] - pos[i, 1]
            un = np.sqrt(ux * ux + uy * uy)
            if un > 1e-12:
                fxy = ecm_fibre[e, 0] * ux + ecm_fibre[e, 1] * uy
                c2 = (fxy / un) ** 2
            else:
                c2 = 1.0
            fac_f = 1.0 + g_f * ecm_aniso[e] * c2
        if dim < 2:
            c2 = 0.0
        hz = (1.0 + g_i * activity[i]) * fac_f
        exposure[i] = hz
        door_of[i] = best
        cos2psi[i] = c2
        p = 1.0 - np.exp(-h0 * hz * dt)
        if rng.uniform01(seed, step, cell_id[i], rng.INTRAVASATION) < p:
            exits[i] = True


@njit(cache=True)
def exit_clusters(
    seed: int,
    step: int,
    n: int,
    cell_id: I64Array,
    kind: I8Array,
    state: I8Array,
    pos: F64Array,
    radius: F64Array,
    reach: F64Array,
    exits: BoolArray,
    p_cluster: float,
    n_bins: I64Array,
    start: I64Array,
    order: I64Array,
    bins: I64Array,
    leader_of: I64Array,
    span: int = 1,
) -> int:
    """Assemble exit clusters; returns the number of events (SCIENCE.md §5.6).

    Leaders (``exits``) are taken in cell-id order; with probability p_cl a leader takes
    its contacting live cancer neighbours (d < S_ij) that no earlier event took. A row's
    ``leader_of`` is the row of its event's leader (−1: stays). Serial: events are few.
    """
    for i in range(n):
        leader_of[i] = -1
    leaders = np.flatnonzero(exits[:n])
    ids = cell_id[leaders]
    leaders = leaders[np.argsort(ids, kind="mergesort")]
    three = pos.shape[1] == 3
    nby = n_bins[1]
    nbz = n_bins[2] if three else 1
    nbx = n_bins[0]
    n_events = 0
    for li in range(leaders.shape[0]):
        i = leaders[li]
        if leader_of[i] >= 0:
            continue  # already taken by an earlier cluster
        leader_of[i] = i
        n_events += 1
        if rng.uniform01(seed, step, cell_id[i], rng.CLUSTER) >= p_cluster:
            continue
        b = bins[i]
        iz = b % nbz
        r = b // nbz
        iy = r % nby
        ix = r // nby
        for jx in range(max(ix - span, 0), min(ix + span + 1, nbx)):
            for jy in range(max(iy - span, 0), min(iy + span + 1, nby)):
                row = (jx * nby + jy) * nbz
                lo = row + max(iz - span, 0)
                hi = row + min(iz + span, nbz - 1)
                for s in range(start[lo], start[hi + 1]):
                    j = order[s]
                    if j == i or leader_of[j] >= 0:
                        continue
                    if kind[j] != CANCER or state[j] != LIVE:
                        continue
                    d2 = 0.0
                    for a in range(pos.shape[1]):
                        dd = pos[i, a] - pos[j, a]
                        d2 += dd * dd
                    s_ij = reach[CANCER] * (radius[i] + radius[j])
                    if d2 < s_ij * s_ij:
                        leader_of[j] = i
    return n_events
