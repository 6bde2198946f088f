"""The definition of one experiment (what the registry lists)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metastroma.experiments._common import Batch, RunContext
    from metastroma.experiments._result import Effect, ExperimentResult

__all__ = ["ExperimentDef", "definition"]


@dataclass(frozen=True)
class ExperimentDef:
    """One in-silico experiment of SCIENCE.md §11.

    Attributes
    ----------
    name : str
        ``'E1'`` ... ``'E9'``.
    title : str
        One line.
    description : str
        Protocol as run, a paragraph.
    criteria : tuple of str
        Names of the effect rows that carry a pass criterion.
    sizes : dict
        ``'small'`` / ``'full'`` → parameters, each with ``replicates``.
    analyse : callable
        ``analyse(ctx) -> (Batch, list[Effect], dict)``: runs the arms and computes the
        effects (and extra parameters for the manifest, e.g. E4's fitted h₀).
    figure : callable
        ``figure(result) -> Figure``.
    """

    name: str
    title: str
    description: str
    criteria: tuple[str, ...]
    sizes: Mapping[str, Mapping[str, Any]]
    analyse: Callable[[RunContext], tuple[Batch, list[Effect], dict[str, Any]]]
    figure: Callable[[ExperimentResult], Figure]


def definition(**fields: Any) -> ExperimentDef:
    """An :class:`ExperimentDef` from keyword fields."""
    return ExperimentDef(**fields)
