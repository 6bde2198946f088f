"""Collagen fibres: density and nematic order on their own grid (SCIENCE.md §5).

Each ECM element e (edge Δx_ECM, 20 µm by default) holds the fibrillar collagen density
ρ_e ∈ [0, 1], the anisotropy a_e ∈ [0, 1] and a unit director f_e (sign-free: f ≡ −f).
The nematic tensor is re-formed from (a, f) whenever it is needed (§5.1):

    2D: Q = a (f fᵀ − ½ I),  q_xx = (a/2) cos 2θ,  q_xy = (a/2) sin 2θ;
    3D: Q = (3/2) a (f fᵀ − ⅓ I).

Averages over elements or time are taken of Q, never of angles. The rules:

- **Remodelling** by moving cells (Metzcar et al. 2024, M24 [C]) with the rates per µm
  travelled and scaled by DDR2 (cancer cells by A, MSCs by the genotype δ; §5.4):
  density toward the writer's target, director toward its motion, anisotropy up.
- **MSC deposition** toward ρ*_MSC at r_ρ δ (G4 [V]: DDR2-null MSCs deposit nothing).
- **Boundary emphasis** of MSC anisotropy writes × (1 + β) in the boundary band (Bayer 2019).
- **Compression wrapping** toward the edge tangent in the band at the edge speed u_n
  (PMC6868165), so that a tumour without remodellers still gets TACS-2 fibres.
- **Relaxation** of a to a₀ (and of ρ to ρ₀ where no cell wrote) at k_relax, applied
  exactly once per phenotype step (the rate is 10⁻⁴/min, so splitting it from the
  mechanics-step writes costs nothing measurable).

Writes are gathered per element and summed in cell-id order (``kernels._cpu_stroma``), so
the field is the same for any thread count. Parameter values and sources:
``config.EcmConfig`` and docs/ddr2-model.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from metastroma._typing import BoolArray, F64Array, I64Array
from metastroma.config.models import CellKind, Scenario
from metastroma.kernels import Backend, rng
from metastroma.tissue.mechanics import N_KINDS
from metastroma.tissue.state import Cells


@dataclass
class EcmField:
    """The collagen state on its grid (C order, x the first axis).

    Attributes
    ----------
    lower_um : (dim,) float64, µm
        Lower corner of the grid (the domain's).
    element_um : float, µm
    shape : (dim,) int64
    rho : (n_el,) float64
        Density ρ ∈ [0, 1].
    aniso : (n_el,) float64
        Anisotropy a ∈ [0, 1].
    fibre : (n_el, dim) float64
        Unit director f (sign arbitrary).
    written : (n_el,) bool
        Elements some cell wrote since the last relaxation.
    """

    lower_um: F64Array
    element_um: float
    shape: I64Array
    rho: F64Array
    aniso: F64Array
    fibre: F64Array
    written: BoolArray

    @property
    def dim(self) -> int:
        """2 or 3."""
        return int(self.shape.shape[0])

    @property
    def n_elements(self) -> int:
        """Number of elements."""
        return int(self.rho.shape[0])

    def grid(self, name: str) -> F64Array:
        """``rho`` or ``aniso`` reshaped to the grid shape (a view)."""
        return getattr(self, name).reshape(tuple(int(s) for s in self.shape))

    def centres_um(self, axis: int) -> F64Array:
        """Element centres along ``axis`` (µm)."""
        return (
            self.lower_um[axis] + (0.5 + np.arange(self.shape[axis])) * self.element_um
        )

    def nematic_2d(self) -> tuple[F64Array, F64Array]:
        """(q_xx, q_xy) on the grid; in 3D the in-plane projection weighted by |f_xy|².

        The 3D case follows SCIENCE.md §6.2: each director is projected on the x–y plane
        and weighted by a |f_xy|², so a fibre along z contributes nothing to the section.
        """
        shp = tuple(int(s) for s in self.shape)
        fx = self.fibre[:, 0]
        fy = self.fibre[:, 1]
        # a (f fᵀ − ½|f_xy|² I) in-plane: q_xx = a (fx² − fy²)/2, q_xy = a fx fy
        q_xx = 0.5 * self.aniso * (fx * fx - fy * fy)
        q_xy = self.aniso * fx * fy
        return q_xx.reshape(shp), q_xy.reshape(shp)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything a bitwise continuation needs."""
        return {
            "ecm/rho": self.rho.copy(),
            "ecm/aniso": self.aniso.copy(),
            "ecm/fibre": self.fibre.copy(),
            "ecm/written": self.written.copy(),
        }

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Fill from :meth:`state_arrays`."""
        self.rho[:] = arrays["ecm/rho"]
        self.aniso[:] = arrays["ecm/aniso"]
        self.fibre[:] = arrays["ecm/fibre"]
        self.written[:] = arrays["ecm/written"]


def make_ecm_field(scenario: Scenario) -> EcmField:
    """The initial collagen field of a scenario (SCIENCE.md Table 5.1).

    'random' draws each element's director from the counter-based generator keyed by the
    element index (stream ``ECM_INIT``): uniform angle in 2D, uniform on the sphere in 3D.
    'circular' and 'radial' are about the domain centre in the x–y plane.
    """
    cfg = scenario.ecm
    dim = scenario.dim
    lower = np.asarray(scenario.domain.lower_um, dtype=np.float64)
    upper = np.asarray(scenario.domain.upper_um, dtype=np.float64)
    dx = float(cfg.element_um)
    shape = np.asarray(np.rint((upper - lower) / dx), dtype=np.int64)
    n_el = int(np.prod(shape))
    ids = np.arange(n_el, dtype=np.int64)
    fibre = np.zeros((n_el, dim))
    mode = cfg.initial_orientation
    if mode == "random":
        u = rng.uniform01_many(scenario.seed, 0, ids, rng.ECM_INIT)
        phi = 2.0 * np.pi * u
        if dim == 2:
            fibre[:, 0] = np.cos(phi)
            fibre[:, 1] = np.sin(phi)
        else:
            z = 2.0 * rng.uniform01_many(scenario.seed, 1, ids, rng.ECM_INIT) - 1.0
            s = np.sqrt(np.maximum(0.0, 1.0 - z * z))
            fibre[:, 0] = s * np.cos(phi)
            fibre[:, 1] = s * np.sin(phi)
            fibre[:, 2] = z
    elif mode == "angle":
        t = math.radians(cfg.orientation_angle_deg)
        fibre[:, 0] = math.cos(t)
        fibre[:, 1] = math.sin(t)
    else:
        centres = np.meshgrid(
            *[lower[a] + (0.5 + np.arange(shape[a])) * dx for a in range(dim)],
            indexing="ij",
        )
        mid = 0.5 * (lower + upper)
        rx = centres[0].ravel() - mid[0]
        ry = centres[1].ravel() - mid[1]
        r = np.hypot(rx, ry)
        r[r == 0] = 1.0
        if mode == "radial":
            fibre[:, 0], fibre[:, 1] = rx / r, ry / r
        else:
            fibre[:, 0], fibre[:, 1] = -ry / r, rx / r
    return EcmField(
        lower_um=lower,
        element_um=dx,
        shape=shape,
        rho=np.full(n_el, cfg.initial_density),
        aniso=np.full(n_el, cfg.initial_anisotropy),
        fibre=fibre,
        written=np.zeros(n_el, dtype=np.bool_),
    )


class EcmTables(NamedTuple):
    """Per-kind write rates handed to the remodelling kernel (index = ``CellKind``).

    Rates are at full drive (A = 1 or δ = 1); the kernel multiplies them by the cell's
    drive x. ``drive_is_genotype`` is True for MSCs (x = δ), False for epithelial cells.
    """

    drive_is_genotype: BoolArray
    realign_per_um: F64Array
    aniso_per_um: F64Array
    deposit_per_min: F64Array
    deposit_null_fraction: F64Array
    target_density: F64Array
    band_boost: F64Array


def ecm_tables(scenario: Scenario, msc_occupancy: float = 0.0) -> EcmTables:
    """Write rates of each kind (SCIENCE.md Tables 4.5, 5.1, 5.2).

    Cancer cells realign and anisotropise at r_f A, r_a A and do not deposit; MSCs at
    r_f δ, r_a δ (1 + β in the band) and deposit at r_ρ (δ + (1 − δ) f_null); benign
    cells do not write (A = 0 in them). An inhibitor occupancy θ_I scales every MSC rate
    by 1 − θ_I (stromal DDR2 blocked too, SCIENCE.md Table 4.3 [A]).
    """
    c = scenario.ecm
    k = N_KINDS
    t = EcmTables(
        drive_is_genotype=np.zeros(k, np.bool_),
        realign_per_um=np.zeros(k),
        aniso_per_um=np.zeros(k),
        deposit_per_min=np.zeros(k),
        deposit_null_fraction=np.zeros(k),
        target_density=np.full(k, c.initial_density),
        band_boost=np.zeros(k),
    )
    t.drive_is_genotype[CellKind.MSC] = True
    if c.remodelling == "off":
        return t
    t.realign_per_um[CellKind.CANCER] = c.cancer_realignment_per_um
    t.aniso_per_um[CellKind.CANCER] = c.cancer_anisotropy_per_um
    free = 1.0 - msc_occupancy
    t.realign_per_um[CellKind.MSC] = c.msc_realignment_per_um * free
    t.aniso_per_um[CellKind.MSC] = c.msc_anisotropy_per_um * free
    t.deposit_per_min[CellKind.MSC] = c.msc_deposition_per_min * free
    t.deposit_null_fraction[CellKind.MSC] = c.msc_null_deposition_fraction
    t.target_density[CellKind.MSC] = c.msc_target_density
    t.band_boost[CellKind.MSC] = c.boundary_emphasis
    return t


def remodel_step(
    cells: Cells,
    field: EcmField,
    tables: EcmTables,
    scenario: Scenario,
    band: BoolArray,
    normal: F64Array,
    edge_speed_um_per_min: float,
    backend: Backend,
    elements: I64Array | None = None,
    cells_write: bool = True,
) -> None:
    """One mechanics step of collagen writes by the live cells (in place).

    Cells are binned by element with the stable counting sort; each element gathers its
    writers (``kernels._cpu_stroma.ecm_remodel``).

    Parameters
    ----------
    elements : (≥ n_live,) int64, optional
        ECM element of each live cell (the motility kernel fills it); computed if absent.
    cells_write : bool
        False if no cell can write this step (only wrapping acts): cells are not binned.
    band : (n_el,) bool
        Boundary-band elements (``tissue.edge``).
    normal : (n_el, dim) float64
        Outward edge normal per element.
    edge_speed_um_per_min : float, µm/min
        u_n ≥ 0, the outward speed of the tumour edge (0 switches wrapping off).
    """
    cfg = scenario.ecm
    if cfg.remodelling == "off":
        return
    n = cells.n_live
    if not cells_write:
        start = np.zeros(field.n_elements + 1, dtype=np.int64)
        order = np.zeros(0, dtype=np.int64)
    elif elements is None:
        el = backend.elements_of_cells(
            cells["pos_um"], n, field.lower_um, field.element_um, field.shape
        )
        start, order = backend.counting_sort(el, field.n_elements)
    else:
        start, order = backend.counting_sort(elements[:n], field.n_elements)
    backend.ecm_remodel(
        scenario.time.dt_mechanics_min,
        cells["cell_id"],
        cells["kind"],
        cells["state"],
        cells["motility_um_per_min"],
        cells["ddr2_activity"],
        cells["msc_genotype"],
        start,
        order,
        tables.drive_is_genotype,
        tables.realign_per_um,
        tables.aniso_per_um,
        tables.deposit_per_min,
        tables.deposit_null_fraction,
        tables.target_density,
        tables.band_boost,
        cfg.remodelling == "instant",
        band,
        normal,
        float(edge_speed_um_per_min) if cfg.wrapping else 0.0,
        cfg.wrapping_per_um,
        field.rho,
        field.aniso,
        field.fibre,
        field.written,
    )


def relax(field: EcmField, scenario: Scenario, dt_min: float, backend: Backend) -> None:
    """Relaxation of anisotropy (and of unwritten density) over ``dt_min`` (§5.4)."""
    cfg = scenario.ecm
    if cfg.remodelling == "off" or cfg.relaxation_per_min == 0.0:
        field.written[:] = False
        return
    backend.ecm_relax(
        field.rho,
        field.aniso,
        field.written,
        cfg.baseline_anisotropy,
        cfg.initial_density,
        math.exp(-cfg.relaxation_per_min * dt_min),
    )


def values_at_cells(
    cells: Cells, field: EcmField, backend: Backend
) -> tuple[I64Array, F64Array]:
    """Element index and density ρ under each live cell."""
    el = backend.elements_of_cells(
        cells["pos_um"], cells.n_live, field.lower_um, field.element_um, field.shape
    )
    return el, field.rho[el]


def fibre_angle_deg(field: EcmField) -> F64Array:
    """Axial fibre angle of each element in [0°, 180°) in the x–y plane (0° = +x)."""
    return np.degrees(np.arctan2(field.fibre[:, 1], field.fibre[:, 0])) % 180.0
