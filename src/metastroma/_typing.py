"""Array type aliases used in signatures across the package (shapes and units go in docstrings)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64Array = npt.NDArray[np.float64]
I64Array = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]
I8Array = npt.NDArray[np.int8]
U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

__all__ = ["BoolArray", "F64Array", "I8Array", "I32Array", "I64Array", "U64Array"]
