"""Collagen-alignment analysis: one set of definitions for SHG images and simulated fields.

A number from an SHG image and a number from a simulation mean the same thing here
(SCIENCE.md §6):

- :mod:`~metastroma.analysis.alignment` — doubled-angle alignment C and mean direction θ̄
  (§6.1), the 2D nematic tensor ↔ (angle, anisotropy) (§5.1), cell co-alignment and
  cell–fibre agreement K (§6.3), angle histograms.
- :mod:`~metastroma.analysis.images` — reading TIFF/PNG/JPEG and the structure-tensor angle
  map, coherency (energy-weighted C) and CurveAlign's coefficient of alignment (§6.2).
- :mod:`~metastroma.analysis.tacs` — tumour boundaries and the TACS-2/TACS-3 score in a band
  outside them (§6.4; Provenzano 2006, 2008; Conklin 2011).
- :mod:`~metastroma.analysis.render` — a simulated field drawn as a fibre image, to check the
  image pipeline against the field.

**Angles.** Degrees; 0° = +x (image columns, to the right), counter-clockwise positive with
y *up* (y = −row in images); fibre angles in [0°, 180°). Flipping an image's rows negates its
angles (mod 180°).
"""

from metastroma.analysis.alignment import (
    AlignmentStats,
    angle_histogram,
    angles_from_nematic,
    cell_alignment,
    cell_fibre_agreement,
    doubled_angle_stats,
    field_alignment,
    nematic_from_angles,
)
from metastroma.analysis.images import (
    ImageAlignment,
    ImageError,
    analyse_image,
    analyse_image_file,
    read_image,
    structure_tensor_rc,
)
from metastroma.analysis.render import render_field_image
from metastroma.analysis.tacs import (
    Boundary,
    BoundaryError,
    TacsResult,
    boundary_from_mask,
    boundary_from_points,
    read_boundary_csv,
    score_tacs_field,
    score_tacs_image,
)

__all__ = [
    "AlignmentStats",
    "Boundary",
    "BoundaryError",
    "ImageAlignment",
    "ImageError",
    "TacsResult",
    "analyse_image",
    "analyse_image_file",
    "angle_histogram",
    "angles_from_nematic",
    "boundary_from_mask",
    "boundary_from_points",
    "cell_alignment",
    "cell_fibre_agreement",
    "doubled_angle_stats",
    "field_alignment",
    "nematic_from_angles",
    "read_boundary_csv",
    "read_image",
    "render_field_image",
    "score_tacs_field",
    "score_tacs_image",
    "structure_tensor_rc",
]
