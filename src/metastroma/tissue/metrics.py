"""Summary measurements of the tissue at one time (the rows of ``metrics.parquet``).

Every value is deterministic (no wall-clock time), so resumed and uninterrupted runs give
identical tables. Columns and their meaning are listed in docs/run-directory.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from metastroma.config.models import KIND_NAMES, CellKind, Scenario
from metastroma.kernels import APOPTOTIC, LIVE, NECROTIC, Backend
from metastroma.tissue.ecm import EcmField
from metastroma.tissue.oxygen import OxygenField
from metastroma.tissue.state import Cells

if TYPE_CHECKING:
    from metastroma.tissue.simulation import ExitCounters

#: Oxygen tensions (mmHg) at which the hypoxic fractions are reported: PC hypoxic threshold
#: 15, necrosis threshold 5, and the "≤ 2.5 mmHg" class of PMC4159937 (SCIENCE.md §2.3).
HYPOXIA_LEVELS_MMHG = (15.0, 5.0, 2.5)


def tumour_radius_um(pos: np.ndarray, dim: int) -> tuple[float, float]:
    """Radius of the cancer-cell mass: from the radius of gyration and the 95th percentile.

    The gyration radius of a uniform disc is R/√2 and of a ball R√(3/5), so
    R_gyr = √2 Rg (2D) or √(5/3) Rg (3D); R_95 is the 95th percentile of the distance to the
    centroid (robust to a few invading cells).
    """
    if pos.shape[0] == 0:
        return 0.0, 0.0
    d = np.linalg.norm(pos - pos.mean(axis=0), axis=1)
    rg = float(np.sqrt(np.mean(d**2)))
    factor = np.sqrt(2.0) if dim == 2 else np.sqrt(5.0 / 3.0)
    return float(factor * rg), float(np.percentile(d, 95.0))


def measure(
    cells: Cells, field: OxygenField, step: int, t_min: float
) -> dict[str, float]:
    """One row of metrics: counts by type and state, tumour radius, oxygen statistics."""
    n = cells.n_live
    state = cells.live("state")
    kind = cells.live("kind")
    row: dict[str, float] = {"step": float(step), "t_min": t_min, "n_cells": float(n)}
    row["n_live"] = float(np.count_nonzero(state == LIVE))
    row["n_apoptotic"] = float(np.count_nonzero(state == APOPTOTIC))
    row["n_necrotic"] = float(np.count_nonzero(state == NECROTIC))
    for name, k in KIND_NAMES.items():
        row[f"n_{name}"] = float(np.count_nonzero(kind == k))
    cancer = (kind == KIND_NAMES["cancer"]) & (state == LIVE)
    r_gyr, r95 = tumour_radius_um(cells.live("pos_um")[cancer], cells.dim)
    row["tumour_radius_um"] = r_gyr
    row["tumour_r95_um"] = r95
    c = field.c
    row["o2_min_mmhg"] = float(c.min())
    row["o2_mean_mmhg"] = float(c.mean())
    row["o2_max_mmhg"] = float(c.max())
    oc = cells.live("oxygen_mmhg")[state == LIVE]
    row["o2_cells_mean_mmhg"] = float(oc.mean()) if oc.size else float("nan")
    for level in HYPOXIA_LEVELS_MMHG:
        key = f"frac_live_below_{str(level).replace('.', 'p').removesuffix('p0')}_mmhg"
        row[key] = float(np.mean(oc < level)) if oc.size else float("nan")
    row["o2_solver_iterations"] = (
        float(field.last.iterations) if field.last is not None else 0.0
    )
    return row


#: Edges (degrees) of the fibre-to-tangent angle β histogram in ``metrics.parquet``.
BETA_EDGES_DEG = tuple(range(0, 91, 10))


def _mean_or_nan(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def _coherency(q_xx: np.ndarray, q_xy: np.ndarray, w: np.ndarray) -> float:
    """C = |Σ w z| / Σ w with z = 2(q_xx + i q_xy) (SCIENCE.md §6.1); NaN if Σ w = 0."""
    sw = float(w.sum())
    if sw <= 0:
        return float("nan")
    return float(np.hypot(2.0 * np.vdot(w, q_xx), 2.0 * np.vdot(w, q_xy)) / sw)


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    sw = float(w.sum())
    return float(np.vdot(w, x) / sw) if sw > 0 else float("nan")


def local_coherency(ecm: EcmField, window_elements: int = 3) -> np.ndarray:
    """(n_el,) coherency C of each element's window of ``window_elements``³ elements.

    C = |Σ ρ z| / Σ ρ over the window (SCIENCE.md §6.1, z = 2(q_xx + i q_xy)): the
    field-side analogue of an image's structure-tensor coherency at an integration
    scale (3 elements = 60 µm by default). A ring of tangential fibres around a round
    tumour has a high local and a near-zero global C, so boundary alignment is reported
    with the local one (``coherency_band``); the global C is ``coherency_band_global``.
    """
    from scipy import ndimage as ndi

    shp = tuple(int(x) for x in ecm.shape)
    q_xx, q_xy = ecm.nematic_2d()
    w = ecm.grid("rho")
    sw = ndi.uniform_filter(w, window_elements, mode="constant")
    zx = ndi.uniform_filter(2.0 * w * q_xx, window_elements, mode="constant")
    zy = ndi.uniform_filter(2.0 * w * q_xy, window_elements, mode="constant")
    c = np.divide(np.hypot(zx, zy), sw, out=np.zeros(shp), where=sw > 1e-12)
    return np.clip(c, 0.0, 1.0).ravel()


def measure_stroma(
    cells: Cells,
    scenario: Scenario,
    ecm: EcmField | None,
    counters: ExitCounters,
    backend: Backend,
) -> dict[str, float]:
    """The DDR2, collagen, co-alignment, TACS, invasion and exit columns of one metrics row.

    - DDR2: mean D and A of live cancer and benign cells; share of cancer cells touching an
      MSC; mean contacts.
    - Collagen (SCIENCE.md §6.1, weights ρ): local coherency C (60-µm windows,
      :func:`local_coherency`) and mean anisotropy in the boundary band and inside the
      bulk, and the band's global C; mean density within 30 µm of an MSC (E6); radial
      order ⟨cos 2(θ − θ_n)⟩ in the band (§6.3, θ_n the edge normal: +1 radial, −1
      tangential); TACS-2 and TACS-3 fractions of the band's collagen and the β histogram
      (β = arcsin |f·n̂|, the angle to the edge tangent, §6.4).
    - Cells (§6.3): co-alignment C_cells of the motility vectors of cancer cells and of
      MSCs; cell–fibre agreement K = ⟨2 (m̂·f)² − 1⟩ (= ⟨cos 2(φ − θ)⟩ in 2D).
    - Invasion: signed distance of live cancer cells beyond the bulk edge; 95th
      percentile and maximum beyond it; cells farther than ``measure.invasion_threshold_um``.
    - Exits: running totals (events, cells, cancer cell-minutes, doorway exposure), over
      all doorways and over the lymphatic ones alone.
    """
    from metastroma.analysis.alignment import cell_alignment
    from metastroma.tissue.edge import distance_at, invasion_stats, tumour_edge

    n = cells.n_live
    kind = cells.live("kind")
    live = cells.live("state") == LIVE
    cancer = live & (kind == CellKind.CANCER)
    benign = live & (kind == CellKind.BENIGN)
    msc = live & (kind == CellKind.MSC)
    d = cells.live("ddr2_expression")
    a = cells.live("ddr2_activity")
    row: dict[str, float] = {
        "ddr2_expression_cancer": _mean_or_nan(d[cancer]),
        "ddr2_activity_cancer": _mean_or_nan(a[cancer]),
        "ddr2_expression_benign": _mean_or_nan(d[benign]),
        "ddr2_activity_benign": _mean_or_nan(a[benign]),
    }
    contacts = cells.live("msc_contacts")
    row["frac_cancer_touching_msc"] = _mean_or_nan((contacts[cancer] > 0) * 1.0)
    row["msc_contacts_cancer_mean"] = _mean_or_nan(contacts[cancer] * 1.0)
    mot = cells.live("motility_um_per_min")
    for name, mask in (("cancer", cancer), ("msc", msc)):
        v = mot[mask]
        moving = np.linalg.norm(v, axis=1) > 0 if v.size else np.zeros(0, bool)
        row[f"coalignment_{name}"] = (
            cell_alignment(v[moving]).alignment if moving.any() else float("nan")
        )
    c = counters
    row["exit_events_total"] = float(c.events)
    row["exit_cells_total"] = float(c.cells)
    row["cancer_cell_min_total"] = c.cancer_cell_min
    row["door_exposure_min_total"] = c.exposure_min
    row["exit_events_lymph_total"] = float(c.events_lymph)
    row["exit_cells_lymph_total"] = float(c.cells_lymph)
    row["door_exposure_lymph_min_total"] = c.exposure_lymph_min
    row["msc_recruited_total"] = float(c.recruited)
    if ecm is None:
        return row
    dim = scenario.dim
    ct = scenario.cell_types.cancer
    edge = tumour_edge(
        cells.live("pos_um")[cancer],
        ecm.lower_um,
        ecm.element_um,
        tuple(int(x) for x in ecm.shape),
        scenario.ecm.band_um,
        ct.radius_um if ct is not None else 8.41,
    )
    row["edge_radius_um"] = edge.radius_um
    band = edge.band.ravel()
    inside = edge.inside.ravel()
    q_xx, q_xy = (q.ravel() for q in ecm.nematic_2d())
    rho, an, fib = ecm.rho, ecm.aniso, ecm.fibre
    local = local_coherency(ecm)
    row["coherency_band"] = _weighted_mean(local[band], rho[band])
    row["coherency_inside"] = _weighted_mean(local[inside], rho[inside])
    row["coherency_band_global"] = _coherency(q_xx[band], q_xy[band], rho[band])
    row["anisotropy_band"] = _mean_or_nan(an[band])
    row["anisotropy_inside"] = _mean_or_nan(an[inside])
    row["anisotropy_mean"] = float(an.mean())
    row["density_band"] = _mean_or_nan(rho[band])
    row["density_mean"] = float(rho.mean())
    normal = edge.normal.reshape(-1, dim)[band]
    fn = np.abs(np.einsum("ij,ij->i", fib[band], normal))
    beta = np.degrees(np.arcsin(np.clip(fn, 0.0, 1.0)))
    w = rho[band] * (an[band] > 0)
    row["radial_order_band"] = _mean_or_nan(2.0 * fn**2 - 1.0)
    sw = float(w.sum())
    mt = scenario.measure
    row["tacs2_fraction"] = (
        float(w[beta < mt.tacs2_max_angle_deg].sum() / sw) if sw > 0 else float("nan")
    )
    row["tacs3_fraction"] = (
        float(w[beta > mt.tacs3_min_angle_deg].sum() / sw) if sw > 0 else float("nan")
    )
    hist, _ = np.histogram(beta, bins=BETA_EDGES_DEG, weights=w)
    for lo, hi, h in zip(BETA_EDGES_DEG[:-1], BETA_EDGES_DEG[1:], hist, strict=True):
        row[f"beta_{lo:02d}_{hi:02d}"] = float(h / sw) if sw > 0 else float("nan")
    # density within 30 µm of an MSC (E6): elements whose centre is that close to one
    el_m = backend.elements_of_cells(
        cells["pos_um"], n, ecm.lower_um, ecm.element_um, ecm.shape
    )
    near = np.zeros(ecm.n_elements, dtype=np.bool_)
    if msc.any():  # element centres within 30 µm of an MSC's element centre
        from scipy import ndimage as ndi

        grid = np.ones(tuple(int(x) for x in ecm.shape), dtype=np.bool_)
        grid.ravel()[el_m[msc]] = False
        dist = ndi.distance_transform_edt(grid, sampling=ecm.element_um)
        near = np.asarray(dist).ravel() <= 30.0
    row["density_near_msc"] = _mean_or_nan(rho[near])
    # cell–fibre agreement under moving cells
    for name, mask in (("cancer", cancer), ("msc", msc)):
        v = mot[mask]
        sp = np.linalg.norm(v, axis=1)
        ok = sp > 0
        f_c = fib[el_m[mask][ok]]
        cosang = np.einsum("ij,ij->i", v[ok], f_c) / sp[ok]
        row[f"cell_fibre_agreement_{name}"] = _mean_or_nan(2.0 * cosang**2 - 1.0)
    dist = distance_at(edge, cells.live("pos_um")[cancer], ecm.lower_um, ecm.element_um)
    inv = invasion_stats(dist, scenario.measure.invasion_threshold_um)
    row.update({k: float(v) for k, v in inv.items()})
    return row
