"""Python-function members for the ensemble tests (imported by Dask workers too).

Each call appends one line ``<member seed> <params>`` to ``calls.txt`` in the directory
named by ``params['log_dir']``, so a test can count how often each member ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def _record(params: dict[str, Any], seed: int, what: str) -> None:
    with open(Path(params["log_dir"]) / "calls.txt", "a", encoding="utf-8") as fh:
        fh.write(f"{what} {params['x']} {seed}\n")
        fh.flush()
        os.fsync(fh.fileno())


def noisy_square(params: dict[str, Any], seed: int) -> dict[str, float]:
    """y = x² + N(0, 0.1²) with the member's seed; z = x + seed."""
    rng = np.random.default_rng(seed)
    _record(params, seed, "start")
    time.sleep(float(params.get("sleep_s", 0.0)))
    out = {"y": float(params["x"]) ** 2 + 0.1 * rng.normal(), "z": params["x"] + seed}
    _record(params, seed, "end")
    return out


def crash_once(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Kill the whole process (os._exit) the first time x == crash_x, then behave."""
    marker = Path(params["log_dir"]) / "crashed"
    if float(params["x"]) == float(params["crash_x"]) and not marker.exists():
        marker.write_text("x")
        _record(params, seed, "crash")
        os._exit(3)
    return noisy_square(params, seed)


def fails_at(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Raise for x == bad_x, else noisy_square."""
    if float(params["x"]) == float(params["bad_x"]):
        raise RuntimeError(f"member with x = {params['x']} fails on purpose")
    return noisy_square(params, seed)


def crash_always(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Kill the process every time x == crash_x (a member no worker survives)."""
    if float(params["x"]) == float(params["crash_x"]):
        _record(params, seed, "crash")
        os._exit(3)
    return noisy_square(params, seed)
