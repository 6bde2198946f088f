"""Synthetic images and paths shared by the analysis tests (plain helpers, no fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHG_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "shg"
SHG_TIFS = [
    "1B-a1.tif",
    "1B-a5.tif",
    "2B_D9_ROI1.tif",
    "2B_D9_ROI2.tif",
    "2B_H9_SHG1.tif",
]


def shg_path(name: str) -> Path:
    """Path of a shared SHG image, or skip the test with a clear message."""
    path = SHG_DIR / name
    if not path.is_file():
        pytest.skip(f"SHG reference data not found at {path} (../shared/data/shg)")
    return path


def stripes(
    theta_deg: float,
    shape: tuple[int, int] = (128, 128),
    wavelength_px: float = 10.0,
    noise: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """Sinusoidal stripes running along ``theta_deg`` (y up: x = column, y = −row)."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    x, y = cols.astype(float), -rows.astype(float)
    th = np.radians(theta_deg)
    image = np.cos(2 * np.pi * (-np.sin(th) * x + np.cos(th) * y) / wavelength_px)
    return image + np.random.default_rng(seed).normal(0.0, noise, shape)


def angle_diff(a: float, b: float) -> float:
    """Smallest difference between two axial angles, degrees in [0, 90]."""
    d = (a - b) % 180.0
    return min(d, 180.0 - d)
