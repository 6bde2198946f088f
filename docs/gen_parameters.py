"""Generate docs/parameters.md from the scenario schemas (tissue and cohort).

Every scenario key is a field of a pydantic v2 model; its default, bounds and description
(which carries the source and evidence mark) live there, and nowhere else. This script
walks ``Scenario.model_fields`` (metastroma.config.models) recursively and writes one
Markdown table per config section. Cell types are walked through their own classes,
because ``CancerCellConfig`` and ``MscCellConfig`` have different defaults;
``cell_types.msc`` is absent unless a scenario defines it, and its table shows the values
it gets when it is defined.

The virtual-cohort scenario (``CohortScenario``, metastroma.config.cohort) follows under
its own top-level heading, walked the same way, except its ``anatomy``: the organ graph
is a list of organs and a list of edges, so it gets a table of the organ and edge fields
(defaults that depend on the organ's kind are shown per kind), its scalar fields, and the
organs and edges of ``default_anatomy()`` as two tables of values.

It also refreshes the symbol tables of docs/tissue-model.md, between the markers
``<!-- BEGIN GENERATED PARAMETERS -->`` and ``<!-- END GENERATED PARAMETERS -->``: the
model's symbols with their keys, defaults, units and sources, from the same schema; and
those of docs/ddr2-model.md (the DDR2 tissue model: sections ``ddr2``, ``ecm``,
``msc_rules``, ``intravasation``, ``measure``), one table per block between the markers
``<!-- BEGIN GENERATED TABLE name -->`` and ``<!-- END GENERATED TABLE name -->``.

Usage (from the repository root)::

    .venv/bin/python docs/gen_parameters.py          # rewrite both
    .venv/bin/python docs/gen_parameters.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from metastroma.config.body import (
    CELLS_PER_MM3,
    AnatomyConfig,
    EdgeConfig,
    OrganConfig,
    default_anatomy,
)
from metastroma.config.cohort import CohortScenario
from metastroma.config.loader import UNIT_SUFFIXES
from metastroma.config.models import (
    CancerCellConfig,
    CellTypesConfig,
    MscCellConfig,
    Placement,
    Scenario,
)
from metastroma.config.stroma import InhibitorPhase

OUT = Path(__file__).resolve().parent / "parameters.md"
MODEL_DOC = Path(__file__).resolve().parent / "tissue-model.md"
DDR2_DOC = Path(__file__).resolve().parent / "ddr2-model.md"
BEGIN = "<!-- BEGIN GENERATED PARAMETERS -->"
END = "<!-- END GENERATED PARAMETERS -->"
BLOCK_BEGIN = "<!-- BEGIN GENERATED TABLE {} -->"
BLOCK_END = "<!-- END GENERATED TABLE {} -->"

#: The symbol tables of docs/ddr2-model.md: block name -> (key path, symbol), in order.
DDR2_TABLES: dict[str, list[tuple[str, str]]] = {
    "ddr2": [
        ("ddr2.enabled", "—"),
        ("ddr2.contact", "—"),
        ("ddr2.contact_range_factor", "f_c"),
        ("ddr2.induction_per_min", "k_ind"),
        ("ddr2.contact_saturation", "K_c"),
        ("ddr2.decay_per_min", "k_deg"),
        ("ddr2.hypoxic_induction_per_min", "k_hyp"),
        ("ddr2.hypoxic_threshold_mmhg", "c_h"),
        ("ddr2.hypoxic_saturation_mmhg", "c_hs"),
        ("ddr2.activation_per_min", "k_on"),
        ("ddr2.deactivation_per_min", "k_off"),
        ("ddr2.collagen_half_activation", "K_ρ"),
        ("ddr2.inhibitor", "θ_I(t)"),
        ("ddr2.cancer.basal_expression", "D₀ (cancer)"),
        ("ddr2.cancer.max_expression", "D_max (cancer)"),
        ("ddr2.cancer.competence", "χ (cancer)"),
        ("ddr2.cancer.perturbation", "—"),
        ("ddr2.cancer.knockdown_fraction", "f_KD"),
        ("ddr2.benign.basal_expression", "D₀ (benign)"),
        ("ddr2.benign.max_expression", "D_max (benign)"),
        ("ddr2.benign.competence", "χ (benign)"),
    ],
    "effects": [
        ("ddr2.effects.guidance_sensitivity_off", "s₀"),
        ("ddr2.effects.guidance_sensitivity_on", "s₁"),
        ("ddr2.effects.speed_gain", "g_v"),
        ("ddr2.effects.persistence_gain", "g_T"),
        ("ddr2.effects.alignment_persistence_gain", "g_γ"),
        ("ddr2.effects.adhesion_loss", "g_adh"),
        ("ddr2.effects.proliferation_gain", "g_p"),
        ("ddr2.effects.intravasation_gain", "g_i"),
    ],
    "msc": [
        ("msc_rules.genotype", "δ"),
        ("msc_rules.recruitment_per_min", "k_rec"),
    ],
    "ecm_state": [
        ("ecm.enabled", "—"),
        ("ecm.element_um", "Δx_ECM"),
        ("ecm.initial_density", "ρ₀"),
        ("ecm.initial_anisotropy", "a_init"),
        ("ecm.initial_orientation", "—"),
        ("ecm.orientation_angle_deg", "θ_init"),
        ("ecm.baseline_anisotropy", "a₀"),
        ("ecm.relaxation_per_min", "k_relax"),
    ],
    "ecm_writes": [
        ("ecm.remodelling", "—"),
        ("ecm.cancer_realignment_per_um", "r_f (cancer)"),
        ("ecm.cancer_anisotropy_per_um", "r_a (cancer)"),
        ("ecm.msc_realignment_per_um", "r_f (MSC)"),
        ("ecm.msc_anisotropy_per_um", "r_a (MSC)"),
        ("ecm.msc_deposition_per_min", "r_ρ"),
        ("ecm.msc_null_deposition_fraction", "f_null"),
        ("ecm.msc_target_density", "ρ*_MSC"),
        ("ecm.boundary_emphasis", "β"),
        ("ecm.band_um", "w_band"),
        ("ecm.wrapping", "—"),
        ("ecm.wrapping_per_um", "r_c"),
        ("ecm.edge_speed_window_min", "τ_u"),
    ],
    "guidance": [
        ("ecm.guidance", "—"),
        ("ecm.normalised_speed", "—"),
        ("ecm.density_speed_window", "—"),
        ("ecm.motility_density_low", "ρ_L"),
        ("ecm.motility_density_ideal", "ρ_I"),
        ("ecm.motility_density_high", "ρ_H"),
        ("ecm.microtrack_speed_gain", "g_mt"),
        ("ecm.microtrack_max_density", "ρ_mt"),
    ],
    "intravasation": [
        ("intravasation.enabled", "—"),
        ("intravasation.doorway_density_per_mm2", "n_door"),
        ("intravasation.doorway_positions_um", "—"),
        ("intravasation.doorways_on_oxygen_vessels", "—"),
        ("intravasation.exclusion_radius_um", "r_excl"),
        ("intravasation.base_hazard_per_min", "h₀"),
        ("intravasation.capture_radii", "capture distance / R"),
        ("intravasation.fibre_gain", "g_f"),
        ("intravasation.cluster_probability", "p_cl"),
        ("intravasation.lymphatic_doorway_density_per_mm2", "n_lymph"),
        ("intravasation.lymphatic_doorway_positions_um", "—"),
    ],
    "measure": [
        ("measure.invasion_threshold_um", "d_inv"),
        ("measure.tacs2_max_angle_deg", "β₂"),
        ("measure.tacs3_min_angle_deg", "β₃"),
    ],
}

#: Symbols of docs/tissue-model.md (SCIENCE.md notation) for the keys outside cell types.
GLOBAL_SYMBOLS = {
    "domain.voxel_um": "Δx",
    "domain.wall_repulsion_um_per_min": "c_BM",
    "time.dt_mechanics_min": "Δt_mech",
    "time.dt_phenotype_min": "Δt_ph",
    "oxygen.diffusivity_um2_per_min": "D",
    "oxygen.decay_per_min": "λ",
    "oxygen.far_field_mmhg": "c_far",
    "oxygen.initial_mmhg": "c_0",
    "oxygen.solver_rtol": "rtol",
    "oxygen.vessels.target_mmhg": "c*",
    "oxygen.vessels.supply_per_min": "S_v",
    "oxygen.vessels.density_per_mm2": "n_ves",
}

#: Symbols of the per-cell-type keys (relative to ``cell_types.<type>``).
CELL_SYMBOLS = {
    "radius_um": "R",
    "oxygen_uptake_per_min": "U",
    "mechanics.repulsion_um_per_min": "c_r",
    "mechanics.adhesion_um_per_min": "c_a",
    "mechanics.relative_max_adhesion_distance": "ℓ",
    "mechanics.adhesion_affinity": "α(τ)",
    "motility.speed_um_per_min": "v",
    "motility.persistence_min": "T_p",
    "motility.bias": "b",
    "cycle.phase_durations_min": "T_phase (live: 1/r_ref)",
    "cycle.proliferation_threshold_mmhg": "c_P",
    "cycle.proliferation_saturation_mmhg": "c_S",
    "death.apoptosis_per_min": "r_A",
    "death.apoptosis_duration_min": "T_A",
    "death.necrosis_threshold_mmhg": "c_N",
    "death.necrosis_max_mmhg": "c_N,max",
    "death.necrosis_max_per_min": "r_N,max",
    "death.necrotic_removal_min": "T_N",
}

#: Unit of a key, from its name's suffix (shared with the error messages), plus the
#: suffixes of the collagen write rates (per µm travelled) and of angles, which the
#: loader's table does not list (without them ``_per_um`` would read as ``_um``, µm).
UNITS = {**UNIT_SUFFIXES, "_per_um": "1/µm", "_deg": "°"}

#: Keys whose name ends like a unit suffix but that are dimensionless (``_min`` here is
#: "minimum", not minutes).
NO_UNIT: set[str] = set()

#: Sections in the order they appear, with a one-line introduction each.
INTROS = {
    "scenario": "Top-level keys of a scenario file.",
    "domain": "The simulated box (2D or 3D); oxygen voxels tile it exactly.",
    "time": "Duration and the nested time steps (SCIENCE.md Table 1.1).",
    "oxygen": "Oxygen diffusion, decay, uptake and supply (SCIENCE.md §2, Table 2.1).",
    "cell_types.cancer": (
        "Cancer cells, MDA-MB-231-like (SCIENCE.md Tables 1.1 and 3.1). Present by "
        "default; set `cell_types: {cancer: null}` to remove the type."
    ),
    "cell_types.msc": (
        "Mesenchymal stem cells (SCIENCE.md Table 1.1). **Absent by default** "
        "(`cell_types.msc: null`); the values below are what the type gets when a "
        "scenario defines it (e.g. `cell_types: {msc: {}}`). They differ from the "
        "cancer defaults in radius, uptake, adhesion reach, motility and cycle. "
        "Careful: giving any key of `mechanics`, `motility` or `cycle` replaces that "
        "whole sub-section, and the keys left out take the generic (cancer) defaults, "
        "not these (see scenarios.md)."
    ),
    "cell_types.benign": (
        "Benign (non-tumorigenic, MCF10A-like) epithelial cells, the G10 control of E5. "
        "**Absent by default**; `cell_types: {benign: {}}` defines them with the cancer "
        "defaults below [A]. What sets them apart is their DDR2 (`ddr2.benign`: basal 0, "
        "induction competence 0); see [ddr2-model.md](ddr2-model.md)."
    ),
    "initial_cells[]": (
        "A list of placements, one per block of initial cells. The default list is "
        "one placement with the defaults below (100 cancer cells in a 100 µm disc or "
        "ball at the domain centre)."
    ),
    "ddr2": (
        "DDR2 of the epithelial cells (SCIENCE.md §4.6–4.9, Tables 4.4, 4.5): expression D "
        "induced by MSC contact, activity A by collagen, inhibitor occupancy θ_I, and what "
        "A does (`ddr2.effects`). Off by default; the model is described in "
        "[ddr2-model.md](ddr2-model.md). The items of `ddr2.inhibitor` are in the next "
        "table."
    ),
    "ddr2.inhibitor[]": (
        "Each item of `ddr2.inhibitor` is one phase of the receptor occupancy θ_I(t), "
        "piecewise constant: from `start_min` on (until the next phase) θ_I = "
        "`occupancy`; 0 before the first phase. Phases must have increasing `start_min`."
    ),
    "ecm": (
        "Collagen fibres on their own grid (SCIENCE.md §5, Tables 5.1, 5.2): density, "
        "anisotropy and director per element; remodelling by cells, MSC deposition, "
        "relaxation, boundary emphasis, compression wrapping, contact guidance and the "
        "density speed window. Off by default ([ddr2-model.md](ddr2-model.md))."
    ),
    "msc_rules": "MSC DDR2 genotype and recruitment (SCIENCE.md §4.10).",
    "intravasation": (
        "Exits of cancer cells at vessel doorways (SCIENCE.md §5.6, Table 5.4): doorways, "
        "hazard, clusters; lymphatic doorways (none by default) follow the same rule. Off "
        "by default; each exit is a row of `events.parquet`."
    ),
    "measure": (
        "Definitions used by the DDR2 and collagen columns of `metrics.parquet` "
        "(SCIENCE.md §6.3, §6.4)."
    ),
    "output": (
        "What a run writes and when, in simulated minutes; each interval is rounded "
        "to a whole number of phenotype steps (at least one)."
    ),
    "numerics": "Numerical choices that do not change the model.",
}

#: Cohort sections (docs/body-scale.md, SCIENCE.md §7, §9, §10), one line each.
COHORT_INTROS = {
    "cohort": "Top-level keys of a cohort scenario file.",
    "anatomy": (
        "The organ graph (SCIENCE.md §7): organs (nodes) and directed blood or lymph "
        "edges, plus the blood-transit parameters of the cascade. A scenario that gives "
        "`anatomy` replaces the whole graph; its organs and edges are described by the "
        "two field tables below, and the default graph (the reference adult female, "
        "`default_anatomy()`) is listed after them."
    ),
    "growth": (
        "Growth law of the primary and, times the organ and DDR2 multipliers, of the "
        "metastases (SCIENCE.md §9.1, Table 9.2). Rates vary across patients as "
        "log-normals (median, σ_log)."
    ),
    "shedding": (
        "Shedding by the tumour and the survival chain of a shed cell (SCIENCE.md "
        "Tables 7.5, 7.6); the per-organ links of the chain are organ fields."
    ),
    "ddr2": (
        "DDR2 response curves of intravasation, cluster share and metastatic growth "
        "(SCIENCE.md §10.2 defaults)."
    ),
    "detection": (
        "Clinical detection of the primary and the lethal burden (SCIENCE.md Table 9.3); "
        "the detection thresholds of metastases and nodes are organ fields."
    ),
    "surgery": "Surgery at diagnosis and adjuvant therapy.",
    "death": "Death from metastatic disease (SCIENCE.md §9.6).",
}


def unit_of(name: str) -> str:
    """Unit read from the key's suffix, or '–' for a dimensionless or non-numeric key."""
    if name in NO_UNIT:
        return "–"
    best = ""
    for suffix in UNITS:
        if name.endswith(suffix) and len(suffix) > len(best):
            best = suffix
    return UNITS[best] if best else "–"


def _superscript(n: int) -> str:
    """``62`` → ``'⁶²'``."""
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def fmt_number(x: Any) -> str:
    """Numbers as a reader writes them: 6 significant digits, no trailing zeros."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if x == 2**63 - 1:
        return "2⁶³ − 1"
    if isinstance(x, int) and x >= 2**32 and x & (x - 1) == 0:
        return "2" + _superscript(x.bit_length() - 1)  # 2**62 → 2⁶²
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ") if abs(x) >= 100_000 else str(x)
    if x == 0:
        return "0"
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e5:
        return str(int(x))
    text = f"{x:.6g}"
    if "e" not in text:
        return text
    # YAML 1.1 (PyYAML) reads a float in exponent form only with a dot and a signed
    # exponent ("1e5" is a string), so print it that way: defaults can be copied.
    mantissa, exponent = text.split("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent[0]}{int(exponent[1:])}"


def fmt_value(v: Any) -> str:
    """A default as it would appear in YAML (lists and dicts inline)."""
    if v is None:
        return "null"
    if isinstance(v, bool | int | float):
        return fmt_number(v)
    if isinstance(v, str):
        return f'"{v}"' if v == "" else v
    if isinstance(v, list):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, Path):
        return str(v)
    return str(v)


def _bounds_of(metadata: list[Any]) -> list[str]:
    out = []
    for m in metadata:
        if isinstance(m, Ge):
            out.append(f"≥ {fmt_number(m.ge)}")
        elif isinstance(m, Gt):
            out.append(f"> {fmt_number(m.gt)}")
        elif isinstance(m, Le):
            out.append(f"≤ {fmt_number(m.le)}")
        elif isinstance(m, Lt):
            out.append(f"< {fmt_number(m.lt)}")
        else:
            lo = getattr(m, "min_length", None)
            hi = getattr(m, "max_length", None)
            pattern = getattr(m, "pattern", None)
            if lo is not None:
                out.append(f"length ≥ {lo}")
            if hi is not None:
                out.append(f"length ≤ {hi}")
            if pattern is not None:
                out.append(f"matches `{pattern}`")
    return out


def _inner_bounds(annotation: Any) -> list[str]:
    """Bounds on the items of a list or the values of a dict (``Annotated[float, Field]``)."""
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            meta: list[Any] = []
            for extra in typing.get_args(arg)[1:]:
                if isinstance(extra, FieldInfo):
                    meta.extend(extra.metadata)
                else:
                    meta.append(extra)
            return _bounds_of(meta)
        found = _inner_bounds(arg)
        if found:
            return found
    return []


def _literals(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _literals(arg)
            if found:
                return found
    return []


def bounds_text(name: str, info: FieldInfo) -> str:
    """Allowed values: numeric bounds, choices, or item bounds of a list or dict."""
    parts = _bounds_of(info.metadata)
    ann = info.annotation
    choices = _literals(ann)
    if choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in choices))
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in typing.get_args(ann) if a is not type(None)]
        origin = typing.get_origin(non_none[0]) if len(non_none) == 1 else None
        ann_inner: Any = non_none[0] if len(non_none) == 1 else ann
    else:
        ann_inner = ann
    if origin is list:
        inner = _inner_bounds(ann_inner)
        parts.append("list" + (", each " + " and ".join(inner) if inner else ""))
    elif origin is dict:
        keys = _literals(typing.get_args(ann_inner)[0])
        inner = _inner_bounds(ann_inner)
        text = "map"
        if keys:
            text += " of " + " / ".join(f"`{k}`" for k in keys)
        if inner:
            text += " to " + " and ".join(inner)
        parts.append(text)
    if ann is bool:
        parts.append("true / false")
    return "; ".join(parts) if parts else "–"


def escape(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(text.replace("|", "\\|").split())


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class in ``annotation`` (``X``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


Row = tuple[str, str, str, str, str]


def field_row(
    path: str, name: str, info: FieldInfo, default: str, description: str = ""
) -> Row:
    """One table row: key path, default (already formatted), unit, bounds, description."""
    return (
        f"`{path}`",
        escape(default),
        unit_of(name),
        escape(bounds_text(name, info)),
        escape(description or info.description or ""),
    )


def top_rows(model: BaseModel, skip: tuple[str, ...] = ()) -> list[Row]:
    """Rows for the top-level keys of ``model`` that are not sections (nested models)."""
    rows = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel) or name in skip:
            continue
        rows.append(field_row(name, name, info, fmt_value(value)))
    return rows


def walk(
    model: BaseModel, prefix: str, rows: list[Row], note: str | None = None
) -> None:
    """Rows for every leaf field of ``model``, recursing into nested models.

    ``model`` is a default instance, so the values shown are the resolved defaults of its
    own class (a subclass's overrides included), and the metadata is its class's. Where
    a containing field overrides a nested default (``MscCellConfig.mechanics`` sets
    ℓ = 1.5), ``note`` is that field's description and is added to the rows it changes.
    """
    cls = type(model)
    plain = cls()  # the nested class's own defaults, to spot overridden values
    for name, info in cls.model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, BaseModel):
            walk(value, path, rows, info.description)
            continue
        description = info.description or ""
        if note and value != getattr(plain, name):
            description += f" **Default for this type:** {note}"
        rows.append(field_row(path, name, info, fmt_value(value), description))


def sections() -> list[tuple[str, list[Row]]]:
    """(section title, rows) in document order."""
    default = Scenario()
    out: list[tuple[str, list[Row]]] = []
    out.append(("scenario", top_rows(default, skip=("initial_cells",))))
    for name in Scenario.model_fields:
        value = getattr(default, name)
        if name == "cell_types":
            for ct_name, ct_info in CellTypesConfig.model_fields.items():
                cls = _model_class(ct_info.annotation)
                assert cls is not None
                instance = getattr(value, ct_name)
                if instance is None:  # absent by default: show what defining it gives
                    instance = cls()
                rows: list[Row] = []
                walk(instance, f"cell_types.{ct_name}", rows)
                out.append((f"cell_types.{ct_name}", rows))
        elif name == "initial_cells":
            rows = []
            walk(Placement(), "initial_cells[]", rows)
            out.append(("initial_cells[]", rows))
        elif isinstance(value, BaseModel):
            rows = []
            walk(value, name, rows)
            out.append((name, rows))
            if name == "ddr2":
                items: list[Row] = []
                walk(InhibitorPhase(), "ddr2.inhibitor[]", items)
                out.append(("ddr2.inhibitor[]", items))
    return out


def cohort_sections() -> list[tuple[str, list[Row]]]:
    """(section title, rows) of the cohort scenario, ``anatomy`` as its scalar keys only.

    The ``organs`` and ``edges`` lists of ``anatomy`` are rendered by
    :func:`render_anatomy`, not walked.
    """
    default = CohortScenario()
    out = [("cohort", top_rows(default))]
    for name in CohortScenario.model_fields:
        value = getattr(default, name)
        if not isinstance(value, BaseModel):
            continue
        rows: list[Row] = []
        if isinstance(value, AnatomyConfig):
            for key, info in AnatomyConfig.model_fields.items():
                text = (
                    "the default graph below"
                    if key in ("organs", "edges")
                    else fmt_value(getattr(value, key))
                )
                rows.append(field_row(f"{name}.{key}", key, info, text))
        else:
            walk(value, name, rows)
        out.append((name, rows))
    return out


def _list_field_rows(cls: type[BaseModel], prefix: str) -> list[Row]:
    """Rows for the fields of an item class of a list (``OrganConfig``, ``EdgeConfig``).

    A default that depends on the organ's kind (pools and the primary never arrest a
    cell) is shown per kind, as the schema resolves it.
    """
    kinds = _literals(OrganConfig.model_fields["kind"].annotation)
    rows = []
    for name, info in cls.model_fields.items():
        if info.is_required():
            text = "required"
        elif cls is OrganConfig:
            by_value: dict[str, list[str]] = {}
            for kind in kinds:
                value = getattr(OrganConfig(name="x", kind=kind), name)
                by_value.setdefault(fmt_value(value), []).append(kind)
            if len(by_value) == 1:
                text = next(iter(by_value))
            else:
                text = "; ".join(f"{v} ({', '.join(k)})" for v, k in by_value.items())
        else:
            text = fmt_value(info.get_default(call_default_factory=True))
        rows.append(field_row(f"{prefix}.{name}", name, info, text))
    return rows


def _density_text(cells_per_mm3: float) -> str:
    """``1e6`` → ``'10⁶'`` (a power of ten as a reader writes it), else the number."""
    exponent = math.log10(cells_per_mm3)
    if exponent.is_integer():
        return "10" + _superscript(int(exponent))
    return fmt_number(cells_per_mm3)


def _diameter_mm(cells: float) -> float:
    """Diameter of a sphere of ``cells`` cells at :data:`CELLS_PER_MM3`, mm."""
    return (6.0 * cells / (math.pi * CELLS_PER_MM3)) ** (1.0 / 3.0)


def render_anatomy() -> list[str]:
    """Lines of the organ and edge field tables and of the default graph's tables."""
    anatomy = default_anatomy()
    density = _density_text(CELLS_PER_MM3)
    lines = [
        "### `anatomy.organs[]`",
        "",
        "Each item of `anatomy.organs` is one organ. Defaults are those of a generic "
        "systemic capillary bed; where the schema gives pools and the primary other "
        "defaults, the default is shown per kind.",
        "",
        *table(_list_field_rows(OrganConfig, "anatomy.organs[]")),
        "### `anatomy.edges[]`",
        "",
        "Each item of `anatomy.edges` is one directed edge; the `flow_fraction` of the "
        "edges leaving an organ sum to 1.",
        "",
        *table(_list_field_rows(EdgeConfig, "anatomy.edges[]")),
        "### Default organs",
        "",
        "The organs of `default_anatomy()`, the reference adult female body (SCIENCE.md "
        "§7.1–§7.4; the sources of each value are in the organ field descriptions above "
        "and in [body-scale.md](body-scale.md)). Pools and the primary never arrest a "
        f"cell. The diameter is that of a sphere at {density} cells/mm³ (SCIENCE.md "
        "§9.2).",
        "",
        "| organ | kind | arrest single / cluster | extravasation | dormant survival "
        "| colonisation | growth multiplier | death hazard ratio "
        "| detection threshold (cells) | detection diameter (mm) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in anatomy.organs:
        cells = [
            f"`{o.name}`",
            o.kind,
            f"{fmt_number(o.arrest_probability_single)} / "
            f"{fmt_number(o.arrest_probability_cluster)}",
            fmt_number(o.extravasation_probability),
            fmt_number(o.dormant_survival_probability),
            fmt_number(o.colonisation_probability),
            fmt_number(o.growth_rate_multiplier),
            fmt_number(o.death_hazard_ratio),
            fmt_number(o.detection_threshold_cells),
            fmt_number(round(_diameter_mm(o.detection_threshold_cells), 3)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Default edges",
        "",
        "The edges of `default_anatomy()`; each `flow_fraction` is the share of the "
        "source's outflow (blood and lymph together).",
        "",
        "| source → target | kind | flow fraction |",
        "|---|---|---|",
    ]
    for e in anatomy.edges:
        lines.append(
            f"| `{e.source}` → `{e.target}` | {e.kind} | {fmt_number(e.flow_fraction)} |"
        )
    lines.append("")
    return lines


def table(rows: list[Row]) -> list[str]:
    """A Markdown table of rows (key path, default, unit, bounds, description)."""
    return [
        "| key path | default | unit | bounds | description / source |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]


def render_cohort() -> list[str]:
    """Lines of the cohort part of docs/parameters.md."""
    lines = [
        "# Cohort scenario parameters",
        "",
        "The keys of a virtual-cohort scenario file (`metastroma cohort`; "
        "`CohortScenario` in `src/metastroma/config/cohort.py`, with "
        "`config/body.py` for the organ graph and `config/body_growth.py` for growth "
        "and detection). Every section has defaults, so an empty file `{}` is the "
        "reference adult female cohort with the calibrated defaults. The model, the "
        "default organ graph and the calibration that chose the values marked "
        "'calibrated' (SCIENCE.md §9.7) are described in [body-scale.md](body-scale.md). "
        "The tables read as those above; body-scale units come from the suffixes "
        "`_day`/`_days` days, `_per_day` 1/day, `_years` years, `_h` h, `_min` min, "
        "`_mm` mm and `_cells` cells.",
        "",
    ]
    for title, rows in cohort_sections():
        lines += [f"## `{title}`", "", COHORT_INTROS.get(title, ""), ""]
        lines += table(rows)
        if title == "anatomy":
            lines += render_anatomy()
    return lines


def differences() -> list[str]:
    """Keys whose MSC default differs from the cancer default (a short list for the header)."""
    cancer: list[Row] = []
    msc: list[Row] = []
    walk(CancerCellConfig(), "", cancer)
    walk(MscCellConfig(), "", msc)
    c = {r[0]: r[1] for r in cancer}
    return [
        f"{r[0]} ({c[r[0]]} → {r[1]})" for r in msc if r[0] in c and c[r[0]] != r[1]
    ]


def render() -> str:
    """The whole of docs/parameters.md."""
    lines = [
        "# Scenario parameters",
        "",
        "<!-- Generated by docs/gen_parameters.py from metastroma.config.models and "
        "metastroma.config.cohort; do not edit by hand. -->",
        "",
        "**Generated file.** Every table below is written by `docs/gen_parameters.py` "
        "from the scenario schemas (`src/metastroma/config/models.py` for tissue "
        "scenarios; `config/cohort.py`, `config/body.py` and `config/body_growth.py` for "
        "[cohort scenarios](#cohort-scenario-parameters)): the default, the bounds and "
        "the description with its source are those of the pydantic field. "
        "Do not edit it by hand; after changing a field, regenerate it from the "
        "repository root with",
        "",
        "```bash",
        ".venv/bin/python docs/gen_parameters.py",
        "```",
        "",
        "and `.venv/bin/python docs/gen_parameters.py --check` exits with 1 if this file "
        "is out of date.",
        "",
        "How to read the tables:",
        "",
        "- **key path** is where the key sits in a scenario YAML file (`a.b.c` is "
        "`a: {b: {c: …}}`; `initial_cells[]` is each item of that list).",
        "- **default** is the value a scenario gets when it does not name the key, as "
        "written in a run's `config.yaml`. Derived defaults are shown resolved (the "
        "`live` cycle's phase duration is 1800/ln 2 min). Numbers are rounded to 6 "
        "significant digits (the cancer radius is 8.412710547954228 µm, a volume of "
        "2494 µm³) and exponents are written as YAML reads them as numbers, with a "
        "dot and a signed exponent (`1.0e-10`; YAML takes `1e-10` for a string).",
        "- **unit** is read from the key's suffix (`_um` µm, `_min` min, `_per_min` "
        "1/min, `_um_per_min` µm/min, `_um2_per_min` µm²/min, `_mmhg` mmHg, `_per_mm2` "
        "1/mm², `_per_um` 1/µm: per µm travelled, `_deg` degrees); '–' is dimensionless "
        "or not a number.",
        "- **bounds** are checked when the scenario is loaded; cross-field rules (a "
        "phenotype step that is a whole number of mechanics steps, a necrosis threshold "
        "below the far field, …) are listed in [scenarios.md](scenarios.md).",
        "- **description / source** carries the evidence mark of SCIENCE.md §0: **[V]** "
        "verified in the published source, **[C]** read in the code of the named "
        "project (PC = PhysiCell 1.14.2, M24 = Metzcar et al. 2024), **[D]** derived, "
        "**[M]** literature not yet checked, **[A]** modelling assumption with a range, "
        "to be calibrated. Unmarked keys are scenario choices or numerical settings.",
        "",
        "The model these parameters belong to is described in "
        "[tissue-model.md](tissue-model.md) (cells and oxygen) and "
        "[ddr2-model.md](ddr2-model.md) (DDR2, MSCs, collagen, intravasation: the "
        "sections `ddr2`, `ecm`, `msc_rules`, `intravasation` and `measure`).",
        "",
        "MSC defaults that differ from the cancer defaults: "
        + "; ".join(differences())
        + ".",
        "",
    ]
    for title, rows in sections():
        lines += [f"## `{title}`", "", INTROS.get(title, ""), ""]
        lines += table(rows)
    lines += render_cohort()
    return "\n".join(lines)


def _rows_by_path() -> dict[str, Row]:
    return {r[0].strip("`"): r for _, rows in sections() for r in rows}


def render_model_tables() -> str:
    """The symbol tables that go between the markers of docs/tissue-model.md."""
    rows = _rows_by_path()
    lines = [
        BEGIN,
        "<!-- Written by docs/gen_parameters.py from the scenario schema; do not edit "
        "between these markers. -->",
        "",
        "Domain, time and oxygen:",
        "",
        "| symbol | key | default | unit | source (from the schema) |",
        "|---|---|---|---|---|",
    ]
    for path, sym in GLOBAL_SYMBOLS.items():
        r = rows[path]
        lines.append(f"| {sym} | {r[0]} | {r[1]} | {r[2]} | {r[4]} |")
    lines += [
        "",
        "Cell types (keys under `cell_types.cancer` and `cell_types.msc`):",
        "",
        "| symbol | key | cancer | MSC | unit | source (cancer; MSC where it differs) |",
        "|---|---|---|---|---|---|",
    ]
    for rel, sym in CELL_SYMBOLS.items():
        c = rows[f"cell_types.cancer.{rel}"]
        m = rows[f"cell_types.msc.{rel}"]
        source = c[4]
        if m[4] != c[4]:
            source += " MSC: " + m[4].split("**Default for this type:**")[-1].strip()
        lines.append(f"| {sym} | `{rel}` | {c[1]} | {m[1]} | {c[2]} | {source} |")
    lines += ["", END]
    return "\n".join(lines)


def render_ddr2_block(name: str) -> str:
    """One generated symbol table of docs/ddr2-model.md, markers included."""
    rows = _rows_by_path()
    lines = [
        BLOCK_BEGIN.format(name),
        "<!-- Written by docs/gen_parameters.py from the scenario schema; do not edit "
        "between these markers. -->",
        "",
        "| symbol | key | default | unit | bounds | source (from the schema) |",
        "|---|---|---|---|---|---|",
    ]
    for path, sym in DDR2_TABLES[name]:
        r = rows[path]
        lines.append(f"| {sym} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")
    lines += ["", BLOCK_END.format(name)]
    return "\n".join(lines)


def _ddr2_doc_text(current: str) -> str:
    """``current`` with every generated block of docs/ddr2-model.md rewritten."""
    for name in DDR2_TABLES:
        begin, end = BLOCK_BEGIN.format(name), BLOCK_END.format(name)
        if begin not in current or end not in current:
            continue
        head, rest = current.split(begin, 1)
        _, tail = rest.split(end, 1)
        current = head + render_ddr2_block(name) + tail
    return current


def _model_doc_text(current: str) -> str:
    """``current`` with the generated block replaced (unchanged if it has no markers)."""
    if BEGIN not in current or END not in current:
        return current
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + render_model_tables() + tail


def main(argv: list[str] | None = None) -> int:
    """Write the generated docs, or with ``--check`` compare them with the schema."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/parameters.md is stale"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where the parameter tables go"
    )
    args = parser.parse_args(argv)
    wanted = {args.out: render()}
    if MODEL_DOC.is_file():
        doc = MODEL_DOC.read_text(encoding="utf-8")
        wanted[MODEL_DOC] = _model_doc_text(doc)
    if DDR2_DOC.is_file():
        doc = DDR2_DOC.read_text(encoding="utf-8")
        wanted[DDR2_DOC] = _ddr2_doc_text(doc)
    stale = []
    for path, text in wanted.items():
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        for path in stale:
            print(f"{path} is out of date", file=sys.stderr)
        print(
            "regenerate with: .venv/bin/python docs/gen_parameters.py", file=sys.stderr
        )
        return 1
    if args.check:
        print("generated parameter docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
