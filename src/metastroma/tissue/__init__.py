"""Tissue scale: cells (struct of arrays) and the oxygen field, one module per process.

The order the processes run in is given in ``tissue/simulation.py``.
"""

from metastroma.tissue.simulation import BlockReport, TissueSimulation
from metastroma.tissue.state import COLUMNS, Cells, Column, register_column

__all__ = [
    "COLUMNS",
    "BlockReport",
    "Cells",
    "Column",
    "TissueSimulation",
    "register_column",
]
