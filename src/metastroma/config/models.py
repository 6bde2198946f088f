"""Pydantic models of a tissue scenario: every field has a unit in its name, bounds and a source.

A scenario is a YAML file validated by :class:`Scenario`. Unknown keys are refused
(``extra="forbid"``), numbers carry bounds, and cross-field validators refuse impossible
combinations (a necrosis threshold above the far-field oxygen, a phenotype step that is not
a whole number of mechanics steps, cells placed outside the domain). Sources follow
SCIENCE.md's evidence marks: [C] read in PhysiCell's code (PC 1.14.2), [D] derived,
[M] literature not checked, [A] assumption with a range. The docs' parameter table
(docs/parameters.md) is generated from these descriptions.

Defaults are SCIENCE.md §1–§3 (Tables 1.1, 2.1, 3.1). Cell-type defaults differ by kind:
:class:`CancerCellConfig` and :class:`MscCellConfig`.
"""

from __future__ import annotations

import math
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import Field, field_validator, model_validator

from metastroma.config._base import _Model
from metastroma.config.stroma import (
    Ddr2Config,
    EcmConfig,
    IntravasationConfig,
    MeasureConfig,
    MscRulesConfig,
)

#: The largest number of voxels or cells a scenario may ask for (about 10 GB of state).
MAX_VOXELS = 50_000_000
MAX_CELLS = 20_000_000


class CellKind(IntEnum):
    """Cell types, stored as ``int8`` in the ``kind`` column; append, never renumber."""

    CANCER = 0
    MSC = 1
    BENIGN = 2


KIND_NAMES: dict[str, CellKind] = {
    "cancer": CellKind.CANCER,
    "msc": CellKind.MSC,
    "benign": CellKind.BENIGN,
}

#: The names a scenario may give a cell type (keys of ``KIND_NAMES``).
KindName = Literal["cancer", "msc", "benign"]


# --------------------------------------------------------------------------- domain, time


class DomainConfig(_Model):
    """The simulated box; oxygen voxels tile it exactly."""

    lower_um: list[float] = Field(
        default_factory=lambda: [-500.0, -500.0],
        description="Lower corner of the domain, one value per axis (x, y[, z]). [A] scenario geometry",
    )
    upper_um: list[float] = Field(
        default_factory=lambda: [500.0, 500.0],
        description="Upper corner of the domain. [A] scenario geometry",
    )
    voxel_um: float = Field(
        20.0,
        ge=1.0,
        le=500.0,
        description="Oxygen voxel edge Δx_O2; default 20 µm [C] PC template, M24; range 10–30.",
    )
    wall: bool = Field(
        True,
        description="Virtual wall at the domain edge repels cells [C] PC template (on).",
    )
    wall_repulsion_um_per_min: float = Field(
        100.0,
        ge=0.0,
        le=1.0e4,
        description="Cell–wall (basement membrane) repulsion, as PC cell_BM_repulsion [C] PC default 100 (template config).",
    )

    @field_validator("lower_um", "upper_um")
    @classmethod
    def _finite_corner(cls, v: list[float]) -> list[float]:
        if len(v) not in (2, 3):
            raise ValueError(f"needs 2 or 3 coordinates (x, y[, z]), got {len(v)}")
        if not all(math.isfinite(x) and abs(x) <= 1.0e6 for x in v):
            raise ValueError("coordinates must be finite and within ±1e6 µm")
        return v

    @model_validator(mode="after")
    def _box(self) -> Self:
        if len(self.lower_um) != len(self.upper_um):
            raise ValueError("upper_um: needs as many coordinates as lower_um")
        for ax, (lo, hi) in enumerate(zip(self.lower_um, self.upper_um, strict=True)):
            extent = hi - lo
            if extent <= 0:
                raise ValueError(f"upper_um[{ax}]: must exceed lower_um[{ax}]")
            n = extent / self.voxel_um
            if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 3:
                raise ValueError(
                    f"voxel_um: the extent of axis {ax}, {extent:g} µm, must be a whole "
                    f"number (>= 3) of voxel_um = {self.voxel_um:g} µm"
                )
        return self

    @property
    def dim(self) -> int:
        """Number of space dimensions (2 or 3)."""
        return len(self.lower_um)

    @property
    def shape(self) -> tuple[int, ...]:
        """Voxel grid shape (nx, ny[, nz])."""
        return tuple(
            round((hi - lo) / self.voxel_um)
            for lo, hi in zip(self.lower_um, self.upper_um, strict=True)
        )


class TimeConfig(_Model):
    """Duration and the three time steps (SCIENCE.md Table 1.1)."""

    duration_min: float = Field(
        1440.0, gt=0.0, le=1.0e6, description="Simulated time. [A] scenario choice"
    )
    dt_mechanics_min: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="Mechanics and motility step Δt_mech [C] PC, M24 (0.1; range 0.05–0.1).",
    )
    dt_phenotype_min: float = Field(
        6.0,
        gt=0.0,
        le=60.0,
        description="Phenotype step Δt_ph: cycle, death, oxygen solve [C] PC, M24 (6; range 1–6).",
    )

    @model_validator(mode="after")
    def _steps_nest(self) -> Self:
        ratio = self.dt_phenotype_min / self.dt_mechanics_min
        if abs(ratio - round(ratio)) > 1e-9 * ratio or round(ratio) < 1:
            raise ValueError(
                f"dt_phenotype_min: {self.dt_phenotype_min:g} must be a whole multiple of "
                f"dt_mechanics_min = {self.dt_mechanics_min:g} (min)"
            )
        if self.duration_min / self.dt_mechanics_min > 1.0e9:
            raise ValueError("duration_min: more than 1e9 mechanics steps")
        return self

    @property
    def mechanics_per_phenotype(self) -> int:
        """Mechanics steps in one phenotype step."""
        return round(self.dt_phenotype_min / self.dt_mechanics_min)

    @property
    def n_steps(self) -> int:
        """Mechanics steps in the run (rounded up to whole phenotype steps)."""
        k = self.mechanics_per_phenotype
        n_ph = math.ceil(self.duration_min / self.dt_phenotype_min - 1e-9)
        return n_ph * k


# --------------------------------------------------------------------------- oxygen


class VesselConfig(_Model):
    """Vessel voxels that supply oxygen (SCIENCE.md §2.1, Table 2.1)."""

    positions_um: list[list[float]] = Field(
        default_factory=list,
        description="Vessel centres; each is marked in the voxel that holds it. [A] geometry",
    )
    density_per_mm2: float = Field(
        0.0,
        ge=0.0,
        le=1.0e4,
        description="Random vessels per mm² of the x–y section, placed by the seeded generator "
        "(in 3D each is a straight vessel along z through the domain, so every z-section has this "
        "density); human breast carcinoma hot spots 100 (50–150) per mm² [M] Weidner-type counts.",
    )
    mode: Literal["dirichlet", "supply"] = Field(
        "dirichlet",
        description="'dirichlet': vessel voxels held at target_mmhg (the S_v → ∞ limit); "
        "'supply': finite rate supply_per_min toward target_mmhg [A].",
    )
    target_mmhg: float = Field(
        38.0, gt=0.0, le=160.0, description="Vessel oxygen c* [C] PC physioxic 38 mmHg."
    )
    supply_per_min: float = Field(
        10.0,
        ge=0.0,
        le=1.0e6,
        description="Supply rate S_v in 'supply' mode [A] range 1–100.",
    )

    @field_validator("positions_um")
    @classmethod
    def _finite(cls, v: list[list[float]]) -> list[list[float]]:
        for p in v:
            if len(p) not in (2, 3) or not all(math.isfinite(x) for x in p):
                raise ValueError("each vessel position needs 2 or 3 finite coordinates")
        return v


class OxygenConfig(_Model):
    """Oxygen diffusion–decay–uptake on the voxel grid (SCIENCE.md §2, Table 2.1)."""

    enabled: bool = Field(
        True,
        description="Solve oxygen; if off, every cell sees initial_mmhg and nothing is solved.",
    )
    diffusivity_um2_per_min: float = Field(
        1.0e5,
        gt=0.0,
        le=1.0e8,
        description="Diffusivity D [C] PC template and samples; M24.",
    )
    decay_per_min: float = Field(
        0.1,
        ge=0.0,
        le=1.0e4,
        description="Background decay λ [C] PC samples; √(D/λ) = 1000 µm.",
    )
    far_field_mmhg: float = Field(
        38.0,
        ge=0.0,
        le=160.0,
        description="Dirichlet value on the domain edge c_far [C] PC physioxic default; range 38–65 "
        "(normal breast 52–65 mmHg, Vaupel 1991 [V]).",
    )
    initial_mmhg: float = Field(
        38.0,
        ge=0.0,
        le=160.0,
        description="Initial value c_0 [C] PC samples (M24: 0); range 0–38.",
    )
    dirichlet_edges: bool = Field(
        True,
        description="Hold the outermost voxel layer at far_field_mmhg [C] PC samples.",
    )
    solver_rtol: float = Field(
        1.0e-10,
        gt=0.0,
        le=1.0e-3,
        description="Relative residual of the implicit solve (conjugate gradient). Numerical choice.",
    )
    vessels: VesselConfig = Field(default_factory=VesselConfig)


# --------------------------------------------------------------------------- cell types


class MechanicsConfig(_Model):
    """PhysiCell potentials (SCIENCE.md §1.2, Table 1.1); drag folded in, so forces are velocities."""

    repulsion_um_per_min: float = Field(
        10.0,
        ge=0.0,
        le=1.0e4,
        description="Cell–cell repulsion c_r [C] PC default 10; range 6.25–25 (M24).",
    )
    adhesion_um_per_min: float = Field(
        0.4,
        ge=0.0,
        le=1.0e4,
        description="Cell–cell adhesion c_a [C] PC default 0.4; range 0.4–10 (M24).",
    )
    relative_max_adhesion_distance: float = Field(
        1.25,
        ge=1.0,
        le=3.0,
        description="ℓ, adhesion reach as a multiple of the radius [C] PC, all M24 configs (cancer 1.25).",
    )
    adhesion_affinity: dict[KindName, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="α(τ): affinity to each other cell type, 1 if not given [C] PC default 1.",
    )


class MotilityConfig(_Model):
    """Persistent random walk with optional bias up the oxygen gradient (SCIENCE.md §1.3)."""

    enabled: bool = Field(True, description="Cells of this type move actively. [A]")
    speed_um_per_min: float = Field(
        0.3,
        ge=0.0,
        le=100.0,
        description="Speed v in 3D collagen [M] range 0.1–0.5; [A] default 0.3.",
    )
    persistence_min: float = Field(
        15.0,
        gt=0.0,
        le=1.0e5,
        description="Persistence time T_p [M]/[A] 15 min; range 5–60 (M24 10 [C]).",
    )
    bias: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Chemotactic bias b toward bias_direction [A] 0; range 0–0.95 (M24 leaders 0.95 [C]).",
    )
    bias_direction: Literal["none", "up_oxygen"] = Field(
        "none", description="Direction ĝ the bias points to. [A]"
    )

    @model_validator(mode="after")
    def _bias_has_direction(self) -> Self:
        if self.bias > 0 and self.bias_direction == "none":
            raise ValueError("bias_direction: bias > 0 needs a direction ('up_oxygen')")
        return self


CyclePreset = Literal["live", "flow_cytometry_separated", "none"]

#: Phase durations (min) and whether each is fixed, per PhysiCell preset [C] PC 1.14.2.
CYCLE_PRESETS: dict[str, tuple[list[float], list[bool]]] = {
    # PC code 5, one Poisson phase; default rate r_ref = ln 2 / 1800 min (30 h doubling) [D]
    "live": ([1800.0 / math.log(2.0)], [False]),
    # PC code 6 (template): G0/G1 300 stochastic, S 480, G2 240, M 60 fixed [C]
    "flow_cytometry_separated": (
        [300.0, 480.0, 240.0, 60.0],
        [False, True, True, True],
    ),
    "none": ([], []),
}


class CycleConfig(_Model):
    """Cell cycle as phases; division at the exit of the last phase (SCIENCE.md §3.1)."""

    model: CyclePreset = Field(
        "live",
        description="'live' (PC code 5, one Poisson phase), 'flow_cytometry_separated' (PC code 6, "
        "the template's), or 'none' (no division). [C] PC",
    )
    phase_durations_min: list[Annotated[float, Field(gt=0.0, le=1.0e7)]] | None = Field(
        None,
        description="Mean (stochastic) or exact (fixed) duration of each phase; the model's "
        "preset if not given. live: 2597 min = 1800/ln 2 (r_ref = 3.85e-4 /min, MDA-MB-231 30 h "
        "doubling) [D]; range 1300–3640 (15–42 h).",
    )
    phase_fixed: list[bool] | None = Field(
        None,
        description="Whether each phase has a fixed duration (else exponential). [C] PC",
    )
    oxygen_dependent: bool = Field(
        True,
        description="Scale the first phase's exit rate by clamp((c − c_P)/(c_S − c_P), 0, 1) "
        "[C] PC update_cell_and_death_parameters_O2_based.",
    )
    proliferation_threshold_mmhg: float = Field(
        5.0, ge=0.0, le=160.0, description="c_P, no cycling below [C] PC."
    )
    proliferation_saturation_mmhg: float = Field(
        38.0,
        gt=0.0,
        le=160.0,
        description="c_S, full rate above [C] PC samples 38 (core default 160, see SCIENCE.md §3.1).",
    )

    @model_validator(mode="after")
    def _resolve_phases(self) -> Self:
        durations, fixed = CYCLE_PRESETS[self.model]
        if self.phase_durations_min is None:
            object.__setattr__(self, "phase_durations_min", list(durations))
        if self.phase_fixed is None:
            object.__setattr__(
                self,
                "phase_fixed",
                list(fixed)
                if len(fixed) == len(self.durations)
                else [False] * len(self.durations),
            )
        if len(self.fixed) != len(self.durations):
            raise ValueError("phase_fixed: needs one entry per phase_durations_min")
        if self.model == "none" and self.durations:
            raise ValueError("phase_durations_min: model 'none' takes no phases")
        if self.model != "none" and not self.durations:
            raise ValueError(f"phase_durations_min: model '{self.model}' needs a phase")
        if len(self.durations) > 8:
            raise ValueError("phase_durations_min: at most 8 phases")
        if self.oxygen_dependent and self.durations and self.fixed[0]:
            raise ValueError(
                "phase_fixed: oxygen_dependent scales the first phase's exit rate, so "
                "phase 0 must not be fixed"
            )
        if self.proliferation_threshold_mmhg >= self.proliferation_saturation_mmhg:
            raise ValueError(
                "proliferation_threshold_mmhg: must be below "
                "proliferation_saturation_mmhg"
            )
        return self

    @property
    def durations(self) -> list[float]:
        """Resolved phase durations (min)."""
        return list(self.phase_durations_min or [])

    @property
    def fixed(self) -> list[bool]:
        """Resolved fixed-duration flags."""
        return list(self.phase_fixed or [])


class DeathConfig(_Model):
    """Apoptosis and hypoxic necrosis (SCIENCE.md §3.1, Table 3.1)."""

    apoptosis_per_min: float = Field(
        5.31667e-5,
        ge=0.0,
        le=1.0,
        description="Apoptosis rate r_A [C] PC (mean 313 h).",
    )
    apoptosis_duration_min: float = Field(
        516.0,
        ge=0.0,
        le=1.0e5,
        description="Time from apoptosis to removal [C] PC 516 min.",
    )
    necrosis: Literal["off", "ramp", "deterministic"] = Field(
        "ramp",
        description="'ramp': r_N(c) = r_N,max clamp((c_N − c)/(c_N − c_N,max), 0, 1) (SCIENCE.md §3.1); "
        "'deterministic': necrosis as soon as c < c_N (PC default); 'off'. [C] PC",
    )
    necrosis_threshold_mmhg: float = Field(
        5.0, ge=0.0, le=160.0, description="c_N [C] PC."
    )
    necrosis_max_mmhg: float = Field(
        2.5, ge=0.0, le=160.0, description="c_N,max, full rate below [C] PC."
    )
    necrosis_max_per_min: float = Field(
        1.0 / 360.0,
        ge=0.0,
        le=1.0,
        description="r_N,max ('cells survive 6 h in very low O2') [C] PC.",
    )
    necrotic_removal_min: float = Field(
        360.0,
        ge=0.0,
        le=86400.0,
        description="Time from necrosis to removal (lysis) [A] 360; range 60–86400 (PC removes lysed "
        "cells by 86400 min; volume-tracking lysis is not modelled).",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> Self:
        if (
            self.necrosis == "ramp"
            and self.necrosis_max_mmhg >= self.necrosis_threshold_mmhg
        ):
            raise ValueError("necrosis_max_mmhg: must be below necrosis_threshold_mmhg")
        return self


class CellTypeConfig(_Model):
    """One cell type: geometry, mechanics, motility, oxygen uptake, cycle and death."""

    radius_um: float = Field(
        8.412710547954228,
        gt=1.0,
        le=100.0,
        description="Radius; cancer 8.41 µm = volume 2494 µm³ [C] PC template, M24; range 6–9 µm "
        "(MDA-MB-231 suspended diameter 12–18 µm [M]).",
    )
    oxygen_uptake_per_min: float = Field(
        10.0, ge=0.0, le=1.0e4, description="Uptake U [C] PC samples, M24 (cancer 10)."
    )
    mechanics: MechanicsConfig = Field(default_factory=MechanicsConfig)
    motility: MotilityConfig = Field(default_factory=MotilityConfig)
    cycle: CycleConfig = Field(default_factory=CycleConfig)
    death: DeathConfig = Field(default_factory=DeathConfig)

    @property
    def volume_um3(self) -> float:
        """Cell volume 4/3 π R³ (also in 2D: cells are spheres in a one-voxel-thick slab)."""
        return 4.0 / 3.0 * math.pi * self.radius_um**3


class CancerCellConfig(CellTypeConfig):
    """Cancer cells (MDA-MB-231-like defaults, SCIENCE.md Tables 1.1, 3.1)."""


#: MSC defaults that differ from a cancer cell's, per sub-section; a partial sub-section in a
#: scenario is merged over these (so ``msc: {cycle: {oxygen_dependent: false}}`` keeps
#: ``model: none``).
MSC_SUB_DEFAULTS: dict[str, dict[str, Any]] = {
    # ℓ_m = 1.5 [A] (range 1.25–2): a sphere underestimates an elongated MSC's reach
    "mechanics": {"relative_max_adhesion_distance": 1.5},
    # v_m 0.3 µm/min [M]/[A] (0.1–1.0), T_p,m 30 min [A] (10–60)
    "motility": {"speed_um_per_min": 0.3, "persistence_min": 30.0},
    # MSCs do not divide by default (in-vitro cycle 24–72 h [M])
    "cycle": {"model": "none"},
    # MSCs die by necrosis only (SCIENCE.md §4.10 [A]): no apoptosis
    "death": {"apoptosis_per_min": 0.0},
}


class MscCellConfig(CellTypeConfig):
    """Mesenchymal stem cells (SCIENCE.md Table 1.1): larger, longer reach, no division."""

    radius_um: float = Field(
        10.0, gt=1.0, le=100.0, description="MSC radius R_m [A] 10; range 8–12 µm."
    )
    oxygen_uptake_per_min: float = Field(
        1.0,
        ge=0.0,
        le=1.0e4,
        description="MSC uptake U_m [C] M24 fibroblasts 1; [A] range 1–3.",
    )
    mechanics: MechanicsConfig = Field(
        default_factory=lambda: MechanicsConfig(**MSC_SUB_DEFAULTS["mechanics"]),
        description="ℓ_m = 1.5 [A] (range 1.25–2): a sphere underestimates an elongated MSC's reach.",
    )
    motility: MotilityConfig = Field(
        default_factory=lambda: MotilityConfig(**MSC_SUB_DEFAULTS["motility"]),
        description="v_m 0.3 µm/min [M]/[A] (0.1–1.0), T_p,m 30 min [A] (10–60).",
    )
    cycle: CycleConfig = Field(
        default_factory=lambda: CycleConfig(**MSC_SUB_DEFAULTS["cycle"]),
        description="MSCs do not divide by default (in-vitro cycle 24–72 h [M]).",
    )
    death: DeathConfig = Field(
        default_factory=lambda: DeathConfig(**MSC_SUB_DEFAULTS["death"]),
        description="MSCs die by necrosis only (SCIENCE.md §4.10 [A]): apoptosis rate 0.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_msc_defaults(cls, data: Any) -> Any:
        """Fill the keys a partial sub-section leaves out with the MSC defaults."""
        if isinstance(data, dict):
            data = dict(data)
            for key, defaults in MSC_SUB_DEFAULTS.items():
                sub = data.get(key)
                if isinstance(sub, dict):
                    data[key] = {**defaults, **sub}
        return data


class BenignCellConfig(CellTypeConfig):
    """Benign (non-tumorigenic, MCF10A-like) epithelial cells: the G10 control of E5.

    They share the cancer defaults for geometry, mechanics, motility and cycle [A] (MCF10A
    parameters are not in SCIENCE.md); what sets them apart is DDR2 (``ddr2.benign``:
    basal 0, induction competence 0, Toy 2015 [V qualitative], G10 [V]).
    """


class CellTypesConfig(_Model):
    """Cell types present in the scenario; a type not listed cannot be placed."""

    cancer: CancerCellConfig | None = Field(default_factory=CancerCellConfig)
    msc: MscCellConfig | None = None
    benign: BenignCellConfig | None = None

    def items(self) -> list[tuple[CellKind, CellTypeConfig]]:
        """The defined types in kind order."""
        out: list[tuple[CellKind, CellTypeConfig]] = []
        for name, kind in KIND_NAMES.items():
            cfg = getattr(self, name)
            if cfg is not None:
                out.append((kind, cfg))
        return out


# --------------------------------------------------------------------------- initial cells


class Placement(_Model):
    """Initial cells of one type: a disc/ball, a box, or positions from a CSV file."""

    kind: KindName = Field("cancer", description="Cell type placed.")
    shape: Literal["ball", "ring", "box", "csv"] = Field(
        "ball",
        description="'ball': uniform in a disc (2D) or ball (3D) of radius_um around center_um; "
        "'ring': uniform in the annulus (shell) inner_radius_um < r < radius_um (stroma around "
        "a tumour); 'box': uniform in the whole domain (PC template setup_tissue); 'csv': x,y[,z] "
        "columns.",
    )
    n_cells: int = Field(
        100, ge=0, le=MAX_CELLS, description="Number of cells ('ball', 'box')."
    )
    center_um: list[float] | None = Field(
        None, description="Ball centre; domain centre if absent."
    )
    radius_um: float = Field(
        100.0, gt=0.0, le=1.0e6, description="Ball radius (outer radius of a ring)."
    )
    inner_radius_um: float = Field(
        0.0, ge=0.0, le=1.0e6, description="Inner radius of a 'ring'."
    )
    csv_path: Path | None = Field(
        None,
        description="CSV with a header x,y[,z] (µm); relative to the scenario file.",
    )
    relax_overlaps: bool = Field(
        False,
        description="Place ball cells on a packed lattice instead of at random (no initial overlap).",
    )

    @model_validator(mode="after")
    def _shape_fields(self) -> Self:
        if self.shape == "ring" and self.relax_overlaps:
            raise ValueError("relax_overlaps: only for shape 'ball'")
        if self.shape == "ring" and self.inner_radius_um >= self.radius_um:
            raise ValueError("inner_radius_um: must be below radius_um")
        if self.shape == "csv" and self.csv_path is None:
            raise ValueError("csv_path: shape 'csv' needs a file")
        if self.shape != "csv" and self.csv_path is not None:
            raise ValueError("csv_path: only read with shape 'csv'")
        if self.center_um is not None and not all(
            math.isfinite(x) for x in self.center_um
        ):
            raise ValueError("center_um: must be finite")
        return self


# --------------------------------------------------------------------------- output, numerics


class OutputConfig(_Model):
    """What the run writes and when (simulated minutes)."""

    metrics_every_min: float = Field(
        60.0, gt=0.0, le=1.0e6, description="Rows of metrics.parquet."
    )
    snapshot_every_min: float = Field(
        360.0, gt=0.0, le=1.0e6, description="cells/step=…/part-0.parquet snapshots."
    )
    fields_every_min: float = Field(
        360.0, gt=0.0, le=1.0e6, description="Frames appended to fields.zarr."
    )
    checkpoint_every_min: float = Field(
        360.0, gt=0.0, le=1.0e6, description="Checkpoints for --resume."
    )


class NumericsConfig(_Model):
    """Numerical choices that do not change the model (SCIENCE.md §1.2)."""

    integrator: Literal["ab2", "euler"] = Field(
        "ab2",
        description="Adams–Bashforth 2 [C] PC Cell::update_position; Euler for tests.",
    )
    sort_every_steps: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="Reorder cell rows by grid bin every k mechanics steps (memory locality).",
    )
    initial_capacity_factor: float = Field(
        2.0,
        ge=1.0,
        le=100.0,
        description="Initial array capacity as a multiple of the cells.",
    )


# --------------------------------------------------------------------------- scenario


class Scenario(_Model):
    """A whole tissue scenario: what is simulated, for how long, and what is written."""

    name: str = Field(
        "scenario", min_length=1, max_length=200, description="Short label."
    )
    description: str = Field("", max_length=10_000, description="Free text.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of every random draw.")
    domain: DomainConfig = Field(default_factory=DomainConfig)
    time: TimeConfig = Field(default_factory=TimeConfig)
    oxygen: OxygenConfig = Field(default_factory=OxygenConfig)
    cell_types: CellTypesConfig = Field(default_factory=CellTypesConfig)
    initial_cells: list[Placement] = Field(default_factory=lambda: [Placement()])
    ddr2: Ddr2Config = Field(default_factory=Ddr2Config)
    ecm: EcmConfig = Field(default_factory=EcmConfig)
    msc_rules: MscRulesConfig = Field(default_factory=MscRulesConfig)
    intravasation: IntravasationConfig = Field(default_factory=IntravasationConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    numerics: NumericsConfig = Field(default_factory=NumericsConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        dim = self.domain.dim
        n_vox = math.prod(self.domain.shape)
        if n_vox > MAX_VOXELS:
            raise ValueError(
                f"domain.voxel_um: the domain has {n_vox:,} voxels; at most "
                f"{MAX_VOXELS:,} (raise voxel_um or shrink the domain)"
            )
        total = 0
        for i, p in enumerate(self.initial_cells):
            if getattr(self.cell_types, p.kind) is None:
                raise ValueError(
                    f"initial_cells[{i}].kind: places '{p.kind}' cells but "
                    f"cell_types.{p.kind} is not defined"
                )
            if p.center_um is not None:
                if len(p.center_um) != dim:
                    raise ValueError(
                        f"initial_cells[{i}].center_um: needs {dim} coordinates"
                    )
                inside = all(
                    lo <= c <= hi
                    for c, lo, hi in zip(
                        p.center_um,
                        self.domain.lower_um,
                        self.domain.upper_um,
                        strict=True,
                    )
                )
                if not inside:
                    raise ValueError(
                        f"initial_cells[{i}].center_um: lies outside the domain"
                    )
            if p.shape in ("ball", "ring") and not p.relax_overlaps:
                lo = np.asarray(self.domain.lower_um)
                hi = np.asarray(self.domain.upper_um)
                c = (
                    np.asarray(p.center_um)
                    if p.center_um is not None
                    else (lo + hi) / 2
                )
                if (
                    len(c) == dim
                    and ((c - p.radius_um < lo) | (c + p.radius_um > hi)).any()
                ):
                    raise ValueError(
                        f"initial_cells[{i}].radius_um: the ball of {p.radius_um:g} µm "
                        "around center_um reaches outside the domain"
                    )
            if p.shape != "csv":
                total += p.n_cells
        if total > MAX_CELLS:
            raise ValueError(f"initial_cells: {total:,} cells; at most {MAX_CELLS:,}")
        for v in self.oxygen.vessels.positions_um:
            if len(v) != dim:
                raise ValueError(
                    f"oxygen.vessels.positions_um: each entry needs {dim} coordinates"
                )
        if self.ecm.enabled:
            for ax, (lo_ax, hi_ax) in enumerate(
                zip(self.domain.lower_um, self.domain.upper_um, strict=True)
            ):
                n_ax = (hi_ax - lo_ax) / self.ecm.element_um
                if abs(n_ax - round(n_ax)) > 1e-9 * max(1.0, n_ax) or round(n_ax) < 3:
                    raise ValueError(
                        f"ecm.element_um: the extent of axis {ax}, {hi_ax - lo_ax:g} µm, must be "
                        f"a whole number (>= 3) of element_um = {self.ecm.element_um:g} µm"
                    )
            n_el = math.prod(
                round((hi_ax - lo_ax) / self.ecm.element_um)
                for lo_ax, hi_ax in zip(
                    self.domain.lower_um, self.domain.upper_um, strict=True
                )
            )
            if n_el > MAX_VOXELS:
                raise ValueError(
                    f"ecm.element_um: {n_el:,} ECM elements; at most {MAX_VOXELS:,}"
                )
        if self.intravasation.enabled and self.cell_types.cancer is None:
            raise ValueError("intravasation.enabled: needs cell_types.cancer")
        if self.msc_rules.recruitment_per_min > 0 and self.cell_types.msc is None:
            raise ValueError("msc_rules.recruitment_per_min: needs cell_types.msc")
        for kind, ct in self.cell_types.items():
            name = kind.name.lower()
            if ct.death.necrosis != "off" and (
                ct.death.necrosis_threshold_mmhg
                >= max(self.oxygen.far_field_mmhg, self.oxygen.initial_mmhg)
                and self.oxygen.far_field_mmhg > 0
            ):
                raise ValueError(
                    f"cell_types.{name}.death.necrosis_threshold_mmhg: must be below "
                    "oxygen.far_field_mmhg, or every cell is necrotic"
                )
        return self

    @property
    def dim(self) -> int:
        """Space dimensions, from the domain."""
        return self.domain.dim
