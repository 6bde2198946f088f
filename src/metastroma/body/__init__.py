"""Body scale: organ graph, circulation cascade, growth and emission (SCIENCE.md §7, §9).

``anatomy`` turns a validated :class:`~metastroma.config.body.AnatomyConfig` into arrays;
``cascade`` routes shed cells through the graph (first-pass arrest per filter, transit death)
and keeps the per-patient, per-organ ledger of end states; ``growth`` has the tumour growth
laws (Gompertz, exponential, power) with per-patient variability and size conversions;
``emission`` the Iwata/Benzekry emission rate μV^γ and its Poisson draws. The cohort
simulation that composes them (issue 4) is not built yet.
"""

from metastroma.body import emission, growth
from metastroma.body.anatomy import Anatomy, OrganKind, build_anatomy
from metastroma.body.cascade import (
    ArrestDistribution,
    CascadeDraws,
    EndState,
    Ledger,
    LedgerError,
    Outcome,
    Routing,
    arrest_distribution,
    routing,
    settle_fates,
    simulate_arrests,
)

__all__ = [
    "Anatomy",
    "ArrestDistribution",
    "CascadeDraws",
    "EndState",
    "Ledger",
    "LedgerError",
    "OrganKind",
    "Outcome",
    "Routing",
    "arrest_distribution",
    "build_anatomy",
    "emission",
    "growth",
    "routing",
    "settle_fates",
    "simulate_arrests",
]
