"""Genetic perturbations and inhibitor schedules written into a tissue scenario.

SCIENCE.md §8.1, Table 8.1. A tissue scenario is a mapping (the parsed YAML); each
function returns a modified deep copy and leaves its input alone. The keys are those of
:mod:`metastroma.config.stroma` and :mod:`metastroma.config.models`, and the arms are
written the way the shipped scenarios write them (``scenarios/ddr2_*_2d.yaml``):

=================== ========================================================================
kind                what changes in the scenario
=================== ========================================================================
none, heterozygote  nothing (slie/+ is WT-like, δ = 1 and D₀ unchanged [A])
cancer_knockout     ``ddr2.cancer.perturbation: knockout`` (D₀ = D_max = 0, so A = 0)
cancer_knockdown    ``ddr2.cancer.perturbation: knockdown`` and ``knockdown_fraction`` f_KD
                    (D₀ and D_max × f_KD)
msc_knockout        ``msc_rules.genotype: 0`` (δ = 0 for every MSC/CAF; cancer unchanged)
host_knockout       ``msc_rules.genotype: 0``, and, where the scenario has benign (host)
                    epithelium, ``ddr2.benign.perturbation: knockout``; the implanted cancer
                    cells keep their DDR2 [A]
msc_depletion       no MSC placements, no ``cell_types.msc``, no ``msc_rules``
=================== ========================================================================

In the tissue model the host knockout and the MSC knockout differ only for benign cells:
the one stromal type, MSC/CAF, is host-derived (SCIENCE.md §4.6).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from metastroma.config.models import TimeConfig
from metastroma.config.therapy import (
    InhibitorConfig,
    PerturbationConfig,
    PerturbationKind,
)
from metastroma.therapy.pd import tissue_inhibitor_phases

__all__ = ["apply_inhibitor_to_tissue", "apply_to_tissue"]


def _section(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The nested mapping ``data[k1][k2]...``, created empty where absent."""
    cur = data
    path = ""
    for k in keys:
        path = f"{path}.{k}" if path else k
        nxt = cur.get(k)
        if nxt is None:
            nxt = cur[k] = {}
        if not isinstance(nxt, dict):
            raise ValueError(f"{path}: must be a mapping, got {type(nxt).__name__}")
        cur = nxt
    return cur


def _set_expression(
    data: dict[str, Any], cell: str, perturbation: str, fraction: float | None
) -> None:
    """Set ``ddr2.<cell>.perturbation`` (and its knockdown fraction); refuse a clash."""
    sec = _section(data, "ddr2", cell)
    old = sec.get("perturbation", "none")
    old_fraction = sec.get("knockdown_fraction")
    clash = old not in ("none", perturbation) or (
        fraction is not None
        and old == "knockdown"
        and old_fraction not in (None, fraction)
    )
    if clash:
        raise ValueError(
            f"ddr2.{cell}.perturbation: the scenario already sets {old!r}"
            + (f" (knockdown_fraction {old_fraction})" if old == "knockdown" else "")
            + f"; cannot also apply {perturbation!r}"
        )
    sec["perturbation"] = perturbation
    if fraction is not None:
        sec["knockdown_fraction"] = fraction


def apply_to_tissue(
    data: Mapping[str, Any], perturbation: PerturbationConfig | PerturbationKind
) -> dict[str, Any]:
    """Write a genetic perturbation of Table 8.1 into a tissue scenario mapping.

    Parameters
    ----------
    data : mapping
        A tissue scenario as parsed from YAML (not yet validated); left unchanged.
    perturbation : PerturbationConfig or str
        The perturbation, or just its kind (with the default knockdown fraction 0.2).

    Returns
    -------
    dict
        A deep copy with the perturbation written in (see the module's table); validate it
        with ``metastroma.config.scenario_from_dict``.

    Raises
    ------
    ValueError
        If the scenario already carries a different DDR2 perturbation of the same cells,
        or a section that should be a mapping is not.
    """
    p = (
        perturbation
        if isinstance(perturbation, PerturbationConfig)
        else PerturbationConfig(kind=perturbation)
    )
    out: dict[str, Any] = copy.deepcopy(dict(data))
    if p.kind in ("none", "heterozygote"):
        return out
    if p.kind == "cancer_knockout":
        _set_expression(out, "cancer", "knockout", None)
    elif p.kind == "cancer_knockdown":
        _set_expression(out, "cancer", "knockdown", p.knockdown_fraction)
    elif p.kind in ("msc_knockout", "host_knockout"):
        _section(out, "msc_rules")["genotype"] = 0.0
        if (
            p.kind == "host_knockout"
            and (out.get("cell_types") or {}).get("benign") is not None
        ):
            _set_expression(out, "benign", "knockout", None)
    elif p.kind == "msc_depletion":
        if "initial_cells" in out:
            out["initial_cells"] = [
                c
                for c in out["initial_cells"]
                if not (isinstance(c, Mapping) and c.get("kind", "cancer") == "msc")
            ]
        if isinstance(out.get("cell_types"), dict):
            out["cell_types"].pop("msc", None)
        out.pop("msc_rules", None)
    else:  # pragma: no cover - the Literal lists every kind
        raise AssertionError(p.kind)
    return out


def apply_inhibitor_to_tissue(
    data: Mapping[str, Any],
    inhibitor: InhibitorConfig,
    t_end_min: float | None = None,
    step_min: float = 60.0,
    *,
    pk_offset_h: float = 0.0,
) -> dict[str, Any]:
    """Drive a tissue scenario's receptor occupancy θ_I by a dosing schedule (PK/PD).

    Parameters
    ----------
    data : mapping
        A tissue scenario as parsed from YAML, with ``ddr2.enabled: true``; left unchanged.
    inhibitor : InhibitorConfig
    t_end_min : float, min, optional
        End of the phases; default the scenario's ``time.duration_min``.
    step_min : float, min
        Phase length (:func:`metastroma.therapy.tissue_inhibitor_phases`).
    pk_offset_h : float, h
        PK time at the tissue run's t = 0.

    Returns
    -------
    dict
        A deep copy whose ``ddr2.inhibitor`` (replaced, if present) holds the phases.

    Raises
    ------
    ValueError
        If the scenario does not enable the DDR2 model (θ_I would do nothing).
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    ddr2 = _section(out, "ddr2")
    if ddr2.get("enabled") is not True:
        raise ValueError(
            "ddr2.enabled: the scenario does not simulate DDR2, so an inhibitor would "
            "change nothing; set ddr2.enabled: true"
        )
    if t_end_min is None:
        t_end_min = float(
            (out.get("time") or {}).get(
                "duration_min", TimeConfig.model_fields["duration_min"].default
            )
        )
    ddr2["inhibitor"] = tissue_inhibitor_phases(
        inhibitor, t_end_min, step_min, pk_offset_h=pk_offset_h
    )
    return out
