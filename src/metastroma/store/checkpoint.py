"""Checkpoints: all a bitwise-identical continuation needs (STYLE.md §6).

``checkpoints/step=NNNNNNNNN/`` holds ``state.npz`` (every cell column, the oxygen field,
step, next id, metrics rows so far) and ``meta.json`` (step, seed, scenario hash, number of
complete field frames), built under a temporary name and renamed. The newest complete
checkpoint is used; older ones are deleted once a newer one exists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from metastroma.errors import CheckpointError
from metastroma.store.atomic import build_dir_atomic

CHECKPOINTS = "checkpoints"


def write_checkpoint(
    run_dir: Path, step: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> Path:
    """Write ``checkpoints/step=…`` atomically and delete older checkpoints."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(exist_ok=True)
    path = root / f"step={step:09d}"

    def fill(tmp: Path) -> None:
        with open(tmp / "state.npz", "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as bool
        (tmp / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=2))

    build_dir_atomic(path, fill)
    for old in root.iterdir():
        if old.name.startswith("step=") and old != path:
            shutil.rmtree(old)
    return path


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint directory, or None."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return None
    done = [
        p
        for p in root.iterdir()
        if p.name.startswith("step=")
        and (p / "meta.json").is_file()
        and (p / "state.npz").is_file()
    ]
    return max(done, key=lambda p: p.name) if done else None


def read_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and metadata of one checkpoint.

    Raises
    ------
    CheckpointError
        If the files cannot be read.
    """
    try:
        meta = json.loads((path / "meta.json").read_text())
        with np.load(path / "state.npz") as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{path}: unreadable checkpoint: {err}") from err
    return arrays, meta
