"""The organ graph as plain arrays, built once from a validated :class:`AnatomyConfig`.

Organs are rows ``0 .. n_organs-1`` in the order the configuration lists them. Per-organ
parameters are ``(n_organs,)`` arrays; flows are ``(n_organs, n_organs)`` matrices whose row
``i`` holds the shares of organ ``i``'s outflow going to each target, one matrix per edge kind
(blood, lymph). Their sum :attr:`Anatomy.flow` is row-stochastic (validated in ``config``).
Values and sources of every parameter are in :mod:`metastroma.config.body`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from metastroma.config.body import AnatomyConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

    from metastroma._typing import BoolArray, F64Array, I8Array


class OrganKind(IntEnum):
    """Organ kinds, stored as ``int8``; append, never renumber."""

    PRIMARY = 0
    LYMPH_NODE = 1
    CAPILLARY_BED = 2
    POOL = 3


_KIND_CODES = {
    "primary": OrganKind.PRIMARY,
    "lymph_node": OrganKind.LYMPH_NODE,
    "capillary_bed": OrganKind.CAPILLARY_BED,
    "pool": OrganKind.POOL,
}


@dataclass(frozen=True, eq=False)
class Anatomy:
    """The organ graph as arrays (read-only).

    Attributes
    ----------
    names : tuple of str
        Organ names; position = organ index.
    index : mapping str -> int
        Organ index by name.
    kind : (n_organs,) int8
        :class:`OrganKind` codes.
    primary : int
        Index of the primary.
    arrest_single, arrest_cluster : (n_organs,) float64, in [0, 1]
        First-pass arrest probabilities; 0 for pools and the primary.
    extravasation, dormant_survival, colonisation : (n_organs,) float64, in [0, 1]
        Fates of an arrested cell (SCIENCE.md Table 7.5).
    growth_rate_multiplier : (n_organs,) float64, >= 0
    death_hazard_ratio : (n_organs,) float64, > 0
    detection_threshold_cells : (n_organs,) float64, cells
    flow_blood, flow_lymph : (n_organs, n_organs) float64
        ``flow_*[i, j]``: share of organ i's outflow sent to j along edges of that kind.
    survival_per_pass : float
        Probability that a cell survives one transit between filters, 2^(−t_transit/t½).
    """

    names: tuple[str, ...]
    index: Mapping[str, int]
    kind: I8Array
    primary: int
    arrest_single: F64Array
    arrest_cluster: F64Array
    extravasation: F64Array
    dormant_survival: F64Array
    colonisation: F64Array
    growth_rate_multiplier: F64Array
    death_hazard_ratio: F64Array
    detection_threshold_cells: F64Array
    flow_blood: F64Array
    flow_lymph: F64Array
    survival_per_pass: float

    @property
    def n_organs(self) -> int:
        """Number of organs."""
        return len(self.names)

    @property
    def flow(self) -> F64Array:
        """(n_organs, n_organs) float64: all outflow shares, blood + lymph (rows sum to 1)."""
        return self.flow_blood + self.flow_lymph

    @property
    def is_filter(self) -> BoolArray:
        """(n_organs,) bool: lymph nodes and capillary beds, the organs that may arrest."""
        return (self.kind == OrganKind.LYMPH_NODE) | (
            self.kind == OrganKind.CAPILLARY_BED
        )

    def arrest(self, *, cluster: bool) -> F64Array:
        """(n_organs,) float64: arrest probabilities for clusters or single cells."""
        return self.arrest_cluster if cluster else self.arrest_single

    def organ(self, name: str) -> int:
        """Index of organ ``name``.

        Raises
        ------
        KeyError
            Naming the organ and the known names.
        """
        try:
            return self.index[name]
        except KeyError:
            raise KeyError(
                f"unknown organ {name!r}; organs are {', '.join(self.names)}"
            ) from None


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def build_anatomy(cfg: AnatomyConfig) -> Anatomy:
    """Turn a validated organ graph into arrays.

    Parameters
    ----------
    cfg : AnatomyConfig
        Already validated (flows sum to 1, names unique, graph reachable).

    Returns
    -------
    Anatomy
        Arrays are read-only.

    Examples
    --------
    >>> from metastroma.config.body import default_anatomy
    >>> a = build_anatomy(default_anatomy())
    >>> a.names[a.primary], float(a.flow[a.organ("arterial")].sum())
    ('breast', 1.0)
    """
    names = tuple(o.name for o in cfg.organs)
    index = {n: i for i, n in enumerate(names)}
    n = len(names)
    flows = {"blood": np.zeros((n, n)), "lymph": np.zeros((n, n))}
    for e in cfg.edges:
        flows[e.kind][index[e.source], index[e.target]] += e.flow_fraction

    def col(attr: str) -> F64Array:
        return _frozen(np.array([float(getattr(o, attr)) for o in cfg.organs]))

    return Anatomy(
        names=names,
        index=MappingProxyType(index),
        kind=_frozen(
            np.array([_KIND_CODES[o.kind] for o in cfg.organs], dtype=np.int8)
        ),
        primary=index[cfg.primary],
        arrest_single=_frozen(
            np.array([o.arrest_probability(cluster=False) for o in cfg.organs])
        ),
        arrest_cluster=_frozen(
            np.array([o.arrest_probability(cluster=True) for o in cfg.organs])
        ),
        extravasation=col("extravasation_probability"),
        dormant_survival=col("dormant_survival_probability"),
        colonisation=col("colonisation_probability"),
        growth_rate_multiplier=col("growth_rate_multiplier"),
        death_hazard_ratio=col("death_hazard_ratio"),
        detection_threshold_cells=col("detection_threshold_cells"),
        flow_blood=_frozen(flows["blood"]),
        flow_lymph=_frozen(flows["lymph"]),
        survival_per_pass=cfg.survival_per_pass,
    )


__all__ = ["Anatomy", "OrganKind", "build_anatomy"]
