"""Pydantic models of the body-scale organ graph (SCIENCE.md §7): organs, edges, validation.

The body is a directed graph. Nodes are organs of four kinds: the ``primary`` (cells start
there), ``lymph_node`` basins and capillary beds (``capillary_bed``; both *filters*: a cell arriving may
arrest there), and pools (``pool``: mixing nodes such as the venous return, the heart chambers, the
arterial tree and the portal vein, which never arrest a cell). Each edge carries blood or
lymph and a ``flow_fraction``: the share of its source's outflow, so the outflow fractions of
every organ sum to 1.

:func:`default_anatomy` builds the reference adult female body of SCIENCE.md §7.1–§7.4:
breast primary → lymph (axillary and internal-mammary nodes, efferent lymph → venous blood)
and blood (venous → right heart → lungs → arterial tree → organs by ICRP 89 cardiac-output
fractions; gut/spleen/pancreas → portal vein → liver; systemic venous outflow → venous pool).

Validation (:class:`AnatomyConfig`) refuses: duplicate organ names; an edge naming an organ
that does not exist (with close matches); duplicate or self edges; edges into the primary;
not exactly one primary; an organ without outflow; outflow fractions not summing to 1
(tolerance 1e-9); a pool or primary with a non-zero arrest probability; an organ not
reachable from the primary; a cycle through pools only (a cell on it could never arrest).
Errors name the organ or edge. :func:`validate_anatomy` turns pydantic's error into
:class:`~metastroma.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from metastroma.config.models import _Model
from metastroma.errors import ConfigError

#: Tolerance on the sum of an organ's outflow fractions.
FLOW_SUM_TOL = 1e-9

#: Cells per mm³ used to turn detection diameters into cell counts (SCIENCE.md §9.2, 10⁹/cm³).
CELLS_PER_MM3 = 1.0e6

OrganKind = Literal["primary", "lymph_node", "capillary_bed", "pool"]
EdgeKind = Literal["blood", "lymph"]

#: Kinds that may arrest a cell ("filters"); pools and the primary never do.
FILTER_KINDS = ("lymph_node", "capillary_bed")


def _cells_in_sphere(diameter_mm: float) -> float:
    """Cells in a sphere of ``diameter_mm`` at :data:`CELLS_PER_MM3` (SCIENCE.md §9.2) [D]."""
    return math.pi / 6.0 * diameter_mm**3 * CELLS_PER_MM3


class OrganConfig(_Model):
    """One node of the organ graph and its per-organ cascade and growth parameters.

    Defaults are those of a generic systemic capillary bed (SCIENCE.md Tables 7.4, 7.5, 9.2,
    9.3). Pools and the primary never arrest a cell: their arrest probabilities are 0 and
    setting them to anything else is an error.
    """

    name: str = Field(
        ...,
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Organ name, snake_case; edges refer to it. [A] naming convention",
    )
    kind: OrganKind = Field(
        ...,
        description="'primary' (cells start here), 'lymph_node', 'capillary_bed' (filters that "
        "may arrest a cell) or 'pool' (mixing node: venous, heart, arterial, portal; never "
        "arrests). SCIENCE.md §7.2 routing rules.",
    )
    arrest_probability_single: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="First-pass arrest probability of a single cell arriving at this organ; "
        "systemic default p_sys 0.9 (range 0.7–0.99); lung 0.99, liver 0.95, bone marrow 0.5, "
        "node basin 0.9. [A] SCIENCE.md Table 7.4 (Chambers 2002 [V] concept). Must be 0 for "
        "pools and the primary.",
    )
    arrest_probability_cluster: float = Field(
        0.99,
        ge=0.0,
        le=1.0,
        description="First-pass arrest probability of a cluster (2–50 cells); systemic default "
        "0.99; lung 0.999, bone marrow 0.9. [A] SCIENCE.md Table 7.4. Pools and the primary "
        "default to 0 and must stay 0.",
    )
    extravasation_probability: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="P_ext, share of arrested cells that extravasate; 0.8 (range 0.8–0.83). [A] "
        "SCIENCE.md Table 7.5 (Koop 1995 [V], Luzzi 1998 [M]).",
    )
    dormant_survival_probability: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="P_dorm, share of extravasated cells that survive as solitary (dormant) "
        "cells; 0.4 (range 0.3–0.5). [A] SCIENCE.md Table 7.5 (Luzzi 1998 [M]: 36 %).",
    )
    colonisation_probability: float = Field(
        0.024,
        ge=0.0,
        le=1.0,
        description="'Soil': share of surviving solitary cells that start growing "
        "(solitary → micrometastasis, P_micro); 0.024 (range 0.02–0.03). [A] SCIENCE.md "
        "Table 7.5 (Luzzi 1998 [M]: 1/40).",
    )
    growth_rate_multiplier: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="m_org, multiplies the metastasis growth rate in this organ; bone 0.75 "
        "(0.5–1.0), lung 1.0, liver 1.25 (1.0–1.5), brain 1.0 (0.7–1.2), others 1.0. [A] "
        "SCIENCE.md Table 9.2 (no organ-specific breast data).",
    )
    death_hazard_ratio: float = Field(
        1.0,
        gt=0.0,
        le=100.0,
        description="Multiplies the death hazard once a metastasis in this organ is detected "
        "(hazard death model, SCIENCE.md §9.6); relative to bone-only disease: lung 1.378, "
        "liver 2.085, brain 1.903 [V] (BMC Cancer 2020, bone-metastatic stage IV); 1 for bone, "
        "nodes and other organs [A] (range 1–2).",
    )
    detection_threshold_cells: float = Field(
        _cells_in_sphere(10.0),
        gt=0.0,
        le=1.0e13,
        description="Smallest detectable deposit in cells; default a 10-mm sphere at 10⁶ "
        "cells/mm³ = 5.2e8 cells [D] from SCIENCE.md Table 9.3 (liver/brain/bone 10 mm [M], "
        "lung CT 5 mm [M] = 6.5e7, node deposit > 0.2 mm [M] = 4.2e3) and §9.2 (10⁹ cells/cm³ "
        "[A]).",
    )

    @property
    def is_filter(self) -> bool:
        """True for lymph nodes and capillary beds (organs that may arrest a cell)."""
        return self.kind in FILTER_KINDS

    @model_validator(mode="before")
    @classmethod
    def _pools_default_to_no_arrest(cls, data: Any) -> Any:
        """Pools and the primary get arrest probability 0 unless the user sets one."""
        if isinstance(data, Mapping) and data.get("kind") not in FILTER_KINDS:
            data = dict(data)
            data.setdefault("arrest_probability_single", 0.0)
            data.setdefault("arrest_probability_cluster", 0.0)
        return data

    @model_validator(mode="after")
    def _pools_never_arrest(self) -> Self:
        if not self.is_filter:
            for key in ("arrest_probability_single", "arrest_probability_cluster"):
                value = getattr(self, key)
                if value != 0.0:
                    raise ValueError(
                        f"organ {self.name!r} ({self.kind}): {key} = {value:g} must be 0; "
                        f"pools and the primary never arrest a cell"
                    )
        return self

    def arrest_probability(self, *, cluster: bool) -> float:
        """Arrest probability used by the cascade: 0 for pools and the primary."""
        if not self.is_filter:
            return 0.0
        return (
            self.arrest_probability_cluster
            if cluster
            else self.arrest_probability_single
        )


class EdgeConfig(_Model):
    """A directed edge of the organ graph carrying a share of its source's outflow."""

    source: str = Field(
        ..., min_length=1, description="Upstream organ name. [A] graph data"
    )
    target: str = Field(
        ..., min_length=1, description="Downstream organ name. [A] graph data"
    )
    kind: EdgeKind = Field(
        "blood",
        description="'blood' or 'lymph' (SCIENCE.md §7.2, §7.3). Both count toward the "
        "source's outflow.",
    )
    flow_fraction: float = Field(
        ...,
        ge=0.0,
        le=1.0,
        description="Share of the source's outflow (all kinds together) carried by this edge; "
        "the shares of one source sum to 1. Defaults from ICRP 89 Table 2.40 [V] and SCIENCE.md "
        "Table 7.2 [A]/[V]; see default_anatomy.",
    )

    @property
    def label(self) -> str:
        """``'source -> target (kind)'``, used in error messages."""
        return f"{self.source} -> {self.target} ({self.kind})"


class AnatomyConfig(_Model):
    """The organ graph plus the blood-transit parameters of the cascade (SCIENCE.md §7)."""

    organs: list[OrganConfig] = Field(
        ..., min_length=2, description="Organs (nodes). SCIENCE.md §7.1–§7.4."
    )
    edges: list[EdgeConfig] = Field(
        ..., min_length=1, description="Directed flow edges. SCIENCE.md §7.1–§7.3."
    )
    ctc_half_life_h: float = Field(
        1.7,
        gt=0.0,
        le=1.0e6,
        description="t½ of circulating tumour cells in blood, 1.7 h (range 1–2.4 h). [V] Meng "
        "2004 (after removal of the primary); SCIENCE.md Table 7.5.",
    )
    transit_time_per_pass_min: float = Field(
        0.66,
        gt=0.0,
        le=1.0e3,
        description="Time in transit between two filters (one 'pass'); default the female "
        "circulation time 3.9 L / 5.9 L/min = 0.66 min [D] SCIENCE.md §7.1. Lymph transit "
        "(5–30 min [M]) is approximated by the same value [A].",
    )

    @property
    def survival_per_pass(self) -> float:
        """Probability of surviving one transit: 2^(−t_transit / t½) [D]."""
        return 2.0 ** (-(self.transit_time_per_pass_min / 60.0) / self.ctc_half_life_h)

    @property
    def primary(self) -> str:
        """Name of the primary organ."""
        return next(o.name for o in self.organs if o.kind == "primary")

    @model_validator(mode="after")
    def _graph(self) -> Self:
        names = [o.name for o in self.organs]
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise ValueError(f"organs: organ name {n!r} appears more than once")
            seen.add(n)
        primaries = [o.name for o in self.organs if o.kind == "primary"]
        if len(primaries) != 1:
            raise ValueError(
                f"organs: exactly one organ of kind 'primary' is needed, got {primaries}"
            )
        kind_of = {o.name: o.kind for o in self.organs}

        pairs: set[tuple[str, str, str]] = set()
        out_sum = dict.fromkeys(names, 0.0)
        for i, e in enumerate(self.edges):
            for end in (e.source, e.target):
                if end not in kind_of:
                    near = difflib.get_close_matches(end, names, n=3)
                    hint = f"; did you mean {', '.join(near)}?" if near else ""
                    side = "source" if end == e.source else "target"
                    raise ValueError(
                        f"edges[{i}].{side}: unknown organ {end!r} (edge {e.label}){hint}"
                    )
            if e.source == e.target:
                raise ValueError(
                    f"edges[{i}].target: an edge may not loop to itself (edge {e.label})"
                )
            if kind_of[e.target] == "primary":
                raise ValueError(
                    f"edges[{i}].target: no edge may enter the primary (edge {e.label}) "
                    f"(re-seeding of the primary is not modelled)"
                )
            key = (e.source, e.target, e.kind)
            if key in pairs:
                raise ValueError(f"edges[{i}]: duplicate edge {e.label}")
            pairs.add(key)
            out_sum[e.source] += e.flow_fraction

        for n in names:
            total = out_sum[n]
            if abs(total - 1.0) > FLOW_SUM_TOL:
                what = (
                    "has no outflow"
                    if total == 0.0
                    else f"outflow sums to {total:.12g}"
                )
                raise ValueError(
                    f"organ {n!r}: {what}; the flow_fraction of its outgoing edges must "
                    f"sum to 1 (tolerance {FLOW_SUM_TOL:g})"
                )

        succ: dict[str, list[str]] = {n: [] for n in names}
        for e in self.edges:
            if e.flow_fraction > 0.0:
                succ[e.source].append(e.target)

        reached = {primaries[0]}
        stack = [primaries[0]]
        while stack:  # loop over organs
            for t in succ[stack.pop()]:
                if t not in reached:
                    reached.add(t)
                    stack.append(t)
        unreachable = [n for n in names if n not in reached]
        if unreachable:
            raise ValueError(
                f"organs {unreachable} are not reachable from the primary "
                f"{primaries[0]!r} along edges with flow_fraction > 0"
            )

        # Kahn's algorithm on the non-filter subgraph: what is left lies on a pool-only cycle.
        passive = [n for n in names if kind_of[n] not in FILTER_KINDS]
        indeg = dict.fromkeys(passive, 0)
        for n in passive:
            for t in succ[n]:
                if t in indeg:
                    indeg[t] += 1
        queue = [n for n in passive if indeg[n] == 0]
        while queue:
            n = queue.pop()
            for t in succ[n]:
                if t in indeg:
                    indeg[t] -= 1
                    if indeg[t] == 0:
                        queue.append(t)
        cyclic = [n for n in passive if indeg[n] > 0]
        if cyclic:
            raise ValueError(
                f"organs {cyclic}: a cycle passes through pools only; every cycle must "
                f"cross a capillary bed or lymph node so that a cell can arrest"
            )
        return self


def validate_anatomy(data: Mapping[str, Any] | AnatomyConfig) -> AnatomyConfig:
    """Validate an organ graph given as a mapping (as read from YAML).

    Parameters
    ----------
    data : mapping or AnatomyConfig
        Keys of :class:`AnatomyConfig`; an ``AnatomyConfig`` is re-validated.

    Returns
    -------
    AnatomyConfig

    Raises
    ------
    ConfigError
        With the key path and message of the first error (the node or edge is named).
    """
    raw = data.model_dump() if isinstance(data, AnatomyConfig) else dict(data)
    try:
        return AnatomyConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "anatomy"
        raise ConfigError(f"anatomy.{loc}: {first['msg']}") from err


# --------------------------------------------------------------------------- default body

#: Share of disseminating cells entering lymph rather than blood, f_lymph [A] Table 7.2.
F_LYMPH = 0.5
#: Share of breast venous outflow through the vertebral (Batson) plexus to the bone marrow,
#: bypassing the lungs: SCIENCE.md §7.2 rule 5 allows 0–5 % [A]; 5 % is the calibrated
#: default (docs/body-scale.md, "Calibration").
F_BATSON = 0.05
#: Share of breast lymph to axillary nodes, f_ax [V](secondary) Table 7.2; IMN gets 1 − f_ax.
F_AXILLARY = 0.75

#: Death hazard ratios of an added visceral site in bone-metastatic disease [V] (BMC Cancer
#: 2020, s12885-020-07593-8; SCIENCE.md Table 9.4, K10).
HR_LUNG, HR_LIVER, HR_BRAIN = 1.378, 2.085, 1.903

#: Colonisation ('soil') probabilities of the default body, calibrated on SCIENCE.md §9.7
#: (docs/body-scale.md, "Calibration"): the share of surviving solitary cells that found a
#: micrometastasis (P_micro; Luzzi 1998's mouse liver 1/40 [M] is the generic default of
#: OrganConfig). With first-pass arrest putting > 50 % of shed cells in the lungs, the lung
#: soil must be ≈ 10³ × poorer than bone's for bone to lead the site ranking (Wu 2017 [V]).
SOIL = {
    "axillary_nodes": 2.5e-3,
    "internal_mammary_nodes": 2.5e-3,
    "lungs": 5.7e-6,
    "bone_marrow": 4.1e-3,
    "liver": 1.35e-2,
    "brain": 5.6e-3,
}
#: Soil of the other beds (kidneys, adrenals, gut/spleen/pancreas, rest of body): a tenth of
#: the lungs' [A]; no series reports them as common first sites.
SOIL_OTHER = 5.7e-7

#: Arterial (left-heart) outflow, % of cardiac output, adult female, ICRP 89 Table 2.40 [V]
#: (SCIENCE.md Table 7.1). With the hepatic artery (6.5) and the portal beds (21) listed
#: separately the female entries sum to exactly 100.0; the 99.5 % of SCIENCE.md §7.1 comes from
#: the liver total (27) ≠ 6.5 + 21. Renormalised anyway (÷ sum), as SCIENCE.md §7.1 allows.
ARTERIAL_PERCENT_CO: dict[str, float] = {
    "lungs": 2.5,  # bronchial circulation, arterial → lung tissue
    "brain": 12.0,
    "kidneys": 17.0,
    "liver": 6.5,  # hepatic artery
    "gut_spleen_pancreas": 21.0,  # stomach+oesophagus 1, small int. 11, large int. 5, spleen 3, pancreas 1
    "bone_marrow": 3.0,  # red marrow
    "adrenals": 0.3,
    # rest of body: other skeleton 2.0 (trabecular 0.9, cortical 0.6, other 0.5), muscle 12,
    # adipose 8.5, skin 5, coronary 5, thyroid 1.5, gonads 0.02, bladder 0.06,
    # lymph-node blood 1.7, other tissues 1.92 → 37.7
    "rest_of_body": 2.0 + 12.0 + 8.5 + 5.0 + 5.0 + 1.5 + 0.02 + 0.06 + 1.7 + 1.92,
}


def default_anatomy() -> AnatomyConfig:
    """The reference adult female organ graph of SCIENCE.md §7.

    Returns
    -------
    AnatomyConfig
        15 organs: ``breast`` (primary); ``axillary_nodes``, ``internal_mammary_nodes``
        (lymph nodes); ``venous``, ``right_heart``, ``arterial``, ``portal`` (pools);
        ``lungs``, ``brain``, ``kidneys``, ``liver``, ``gut_spleen_pancreas``,
        ``bone_marrow``, ``adrenals``, ``rest_of_body`` (capillary beds).

    Notes
    -----
    - Breast outflow: lymph f_lymph = 0.5 [A], split axillary 0.75 / internal mammary 0.25
      [V](secondary) (edges 0.375 and 0.125); blood 0.5 to the venous pool (SCIENCE.md §7.2
      rule 1), of which F_BATSON (5 %, the top of the 0–5 % range [A], chosen in the
      calibration of docs/body-scale.md) goes through the valveless vertebral (Batson)
      plexus straight to the bone marrow, bypassing the lungs (rule 5; Batson 1940 [M]).
    - Efferent lymph of both node basins → venous pool (rule 4).
    - Venous → right heart → lungs (100 % of cardiac output) → arterial pool.
    - Arterial pool → beds by :data:`ARTERIAL_PERCENT_CO` ÷ its sum (ICRP 89 female [V]). The
      breast bed (0.5 % gap, §7.1) gets no arterial inflow: re-seeding of the primary is not
      modelled [A].
    - Gut/spleen/pancreas → portal pool → liver (rule 3); every systemic bed → venous pool.
    - Arrest: lungs 0.99/0.999, liver 0.95/0.99, bone marrow 0.5/0.9, other beds and nodes
      0.9/0.99 (single/cluster) [A] Table 7.4. Growth multipliers [A] Table 9.2. Detection:
      lungs 5 mm, nodes 0.2 mm, primary 12.4 mm, others 10 mm (Table 9.3) as cells (§9.2).
    """
    total = sum(ARTERIAL_PERCENT_CO.values())

    def bed(
        name: str, single: float = 0.9, cluster: float = 0.99, **kw: Any
    ) -> OrganConfig:
        return OrganConfig(
            name=name,
            kind="capillary_bed",
            arrest_probability_single=single,
            arrest_probability_cluster=cluster,
            colonisation_probability=SOIL.get(name, SOIL_OTHER),
            **kw,
        )

    organs = [
        OrganConfig(
            name="breast",
            kind="primary",
            detection_threshold_cells=_cells_in_sphere(12.4),
        ),
        OrganConfig(
            name="axillary_nodes",
            kind="lymph_node",
            colonisation_probability=SOIL["axillary_nodes"],
            detection_threshold_cells=_cells_in_sphere(0.2),
        ),
        OrganConfig(
            name="internal_mammary_nodes",
            kind="lymph_node",
            colonisation_probability=SOIL["internal_mammary_nodes"],
            detection_threshold_cells=_cells_in_sphere(0.2),
        ),
        OrganConfig(name="venous", kind="pool"),
        OrganConfig(name="right_heart", kind="pool"),
        bed(
            "lungs",
            0.99,
            0.999,
            detection_threshold_cells=_cells_in_sphere(5.0),
            death_hazard_ratio=HR_LUNG,
        ),
        OrganConfig(name="arterial", kind="pool"),
        bed("brain", death_hazard_ratio=HR_BRAIN),
        bed("kidneys"),
        bed(
            "liver",
            0.95,
            0.99,
            growth_rate_multiplier=1.25,
            death_hazard_ratio=HR_LIVER,
        ),
        bed("gut_spleen_pancreas"),
        OrganConfig(name="portal", kind="pool"),
        bed("bone_marrow", 0.5, 0.9, growth_rate_multiplier=0.75),
        bed("adrenals"),
        bed("rest_of_body"),
    ]
    edges = [
        EdgeConfig(
            source="breast",
            target="axillary_nodes",
            kind="lymph",
            flow_fraction=F_LYMPH * F_AXILLARY,
        ),
        EdgeConfig(
            source="breast",
            target="internal_mammary_nodes",
            kind="lymph",
            flow_fraction=F_LYMPH * (1.0 - F_AXILLARY),
        ),
        EdgeConfig(
            source="breast",
            target="venous",
            flow_fraction=(1.0 - F_LYMPH) * (1.0 - F_BATSON),
        ),
        EdgeConfig(
            source="breast",
            target="bone_marrow",
            flow_fraction=(1.0 - F_LYMPH) * F_BATSON,
        ),
        EdgeConfig(
            source="axillary_nodes", target="venous", kind="lymph", flow_fraction=1.0
        ),
        EdgeConfig(
            source="internal_mammary_nodes",
            target="venous",
            kind="lymph",
            flow_fraction=1.0,
        ),
        EdgeConfig(source="venous", target="right_heart", flow_fraction=1.0),
        EdgeConfig(source="right_heart", target="lungs", flow_fraction=1.0),
        EdgeConfig(source="lungs", target="arterial", flow_fraction=1.0),
        *(
            EdgeConfig(source="arterial", target=t, flow_fraction=pct / total)
            for t, pct in ARTERIAL_PERCENT_CO.items()
        ),
        EdgeConfig(source="gut_spleen_pancreas", target="portal", flow_fraction=1.0),
        EdgeConfig(source="portal", target="liver", flow_fraction=1.0),
        *(
            EdgeConfig(source=s, target="venous", flow_fraction=1.0)
            for s in (
                "brain",
                "kidneys",
                "liver",
                "bone_marrow",
                "adrenals",
                "rest_of_body",
            )
        ),
    ]
    return AnatomyConfig(organs=organs, edges=edges)


__all__ = [
    "ARTERIAL_PERCENT_CO",
    "CELLS_PER_MM3",
    "FILTER_KINDS",
    "FLOW_SUM_TOL",
    "AnatomyConfig",
    "EdgeConfig",
    "OrganConfig",
    "default_anatomy",
    "validate_anatomy",
]
