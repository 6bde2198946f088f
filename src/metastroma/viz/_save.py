"""Writing a matplotlib figure atomically (rendered in memory, then renamed into place)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from metastroma.store.atomic import write_bytes_atomic


def save_figure(fig: Any, path: Path, dpi: int = 130) -> Path:
    """Render ``fig`` in memory, close it and write it atomically; returns ``path``.

    The format follows the suffix (``.png``, ``.pdf``, ``.svg``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return path
