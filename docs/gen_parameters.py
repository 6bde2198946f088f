"""Generate docs/parameters.md from the scenario schema (metastroma.config.models).

Every scenario key is a field of a pydantic v2 model; its default, bounds and description
(which carries the source and evidence mark) live there, and nowhere else. This script
walks ``Scenario.model_fields`` recursively and writes one Markdown table per config
section. Cell types are walked through their own classes, because ``CancerCellConfig``
and ``MscCellConfig`` have different defaults; ``cell_types.msc`` is absent unless a
scenario defines it, and its table shows the values it gets when it is defined.

It also refreshes the symbol tables of docs/tissue-model.md, between the markers
``<!-- BEGIN GENERATED PARAMETERS -->`` and ``<!-- END GENERATED PARAMETERS -->``: the
model's symbols with their keys, defaults, units and sources, from the same schema.

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

from metastroma.config.loader import UNIT_SUFFIXES
from metastroma.config.models import (
    CancerCellConfig,
    CellTypesConfig,
    MscCellConfig,
    Placement,
    Scenario,
)

OUT = Path(__file__).resolve().parent / "parameters.md"
MODEL_DOC = Path(__file__).resolve().parent / "tissue-model.md"
BEGIN = "<!-- BEGIN GENERATED PARAMETERS -->"
END = "<!-- END GENERATED PARAMETERS -->"

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

#: Unit of a key, from its name's suffix (shared with the error messages).
UNITS = UNIT_SUFFIXES

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
    "initial_cells[]": (
        "A list of placements, one per block of initial cells. The default list is "
        "one placement with the defaults below (100 cancer cells in a 100 µm disc or "
        "ball at the domain centre)."
    ),
    "output": (
        "What a run writes and when, in simulated minutes; each interval is rounded "
        "to a whole number of phenotype steps (at least one)."
    ),
    "numerics": "Numerical choices that do not change the model.",
}


def unit_of(name: str) -> str:
    """Unit read from the key's suffix, or '–' for a dimensionless or non-numeric key."""
    best = ""
    for suffix in UNITS:
        if name.endswith(suffix) and len(suffix) > len(best):
            best = suffix
    return UNITS[best] if best else "–"


def fmt_number(x: Any) -> str:
    """Numbers as a reader writes them: 6 significant digits, no trailing zeros."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int) and x != 2**63 - 1:
        return f"{x:,}".replace(",", " ") if abs(x) >= 100_000 else str(x)
    if x == 0:
        return "0"
    if x == 2**63 - 1:
        return "2⁶³ − 1"
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
            if lo is not None:
                out.append(f"length ≥ {lo}")
            if hi is not None:
                out.append(f"length ≤ {hi}")
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
        rows.append(
            (
                f"`{path}`",
                escape(fmt_value(value)),
                unit_of(name),
                escape(bounds_text(name, info)),
                escape(description),
            )
        )


def sections() -> list[tuple[str, list[Row]]]:
    """(section title, rows) in document order."""
    default = Scenario()
    out: list[tuple[str, list[Row]]] = []
    top: list[Row] = []
    for name, info in Scenario.model_fields.items():
        value = getattr(default, name)
        if isinstance(value, BaseModel) or name == "initial_cells":
            continue
        top.append(
            (
                f"`{name}`",
                escape(fmt_value(value)),
                unit_of(name),
                escape(bounds_text(name, info)),
                escape(info.description or ""),
            )
        )
    out.append(("scenario", top))
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
    return out


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
        "<!-- Generated by docs/gen_parameters.py from metastroma.config.models; do not "
        "edit by hand. -->",
        "",
        "**Generated file.** Every table below is written by `docs/gen_parameters.py` "
        "from the scenario schema (`src/metastroma/config/models.py`): the default, the "
        "bounds and the description with its source are those of the pydantic field. "
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
        "1/mm²); '–' is dimensionless or not a number.",
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
        "[tissue-model.md](tissue-model.md).",
        "",
        "MSC defaults that differ from the cancer defaults: "
        + "; ".join(differences())
        + ".",
        "",
    ]
    for title, rows in sections():
        lines += [f"## `{title}`", "", INTROS.get(title, ""), ""]
        lines.append("| key path | default | unit | bounds | description / source |")
        lines.append("|---|---|---|---|---|")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
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
