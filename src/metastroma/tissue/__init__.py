"""Tissue scale: cells (struct of arrays) and the oxygen field, one module per process.

The order the processes run in is given in ``tissue/simulation.py``.
"""

from metastroma.tissue.ecm import EcmField, make_ecm_field
from metastroma.tissue.edge import TumourEdge, distance_at, invasion_stats, tumour_edge
from metastroma.tissue.simulation import BlockReport, ExitCounters, TissueSimulation
from metastroma.tissue.state import COLUMNS, Cells, Column, register_column

__all__ = [
    "COLUMNS",
    "BlockReport",
    "Cells",
    "Column",
    "EcmField",
    "ExitCounters",
    "TissueSimulation",
    "TumourEdge",
    "distance_at",
    "invasion_stats",
    "make_ecm_field",
    "register_column",
    "tumour_edge",
]
