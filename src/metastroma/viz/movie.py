"""Movie of a tissue run: one frame per cell snapshot, encoded as H.264 MP4.

Each frame is the figure of :func:`metastroma.viz.plot_tissue_snapshot` at that
snapshot, with the window and the colour scales fixed for the whole run, rendered with
matplotlib's Agg canvas at :data:`MOVIE_DPI` and piped to the ``ffmpeg`` binary that the
``imageio-ffmpeg`` wheel ships (``libx264``, ``yuv420p``, so that common players read
it; frames are cropped to even width and height, as ``yuv420p`` needs). The file is
written under a temporary name in the target directory and renamed when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from metastroma.errors import ConfigError
from metastroma.viz._tissue_draw import (
    _load_tissue_run,
    _tissue_figure,
    check_tissue_run,
)

#: Resolution of the movie frames (dots per inch of the snapshot figure).
MOVIE_DPI = 100


def _frame_rgb(run: object, step: int) -> np.ndarray:
    """(h, w, 3) uint8 RGB of the snapshot figure at ``step``, even h and w."""
    from metastroma.viz._tissue_draw import _TissueRun

    assert isinstance(run, _TissueRun)
    fig, _ = _tissue_figure(run, step, dpi=MOVIE_DPI)
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # _tissue_figure attaches one
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    h, w = rgba.shape[0] // 2 * 2, rgba.shape[1] // 2 * 2
    return np.ascontiguousarray(rgba[:h, :w, :3])


def write_movie(run_dir: Path, out_mp4: Path, fps: int = 6) -> Path:
    """Write a movie of a tissue run, one frame per cell snapshot.

    Parameters
    ----------
    run_dir : Path
        A tissue run directory with at least one snapshot.
    out_mp4 : Path
        MP4 file to write; its directory is created. Written as ``.NAME.tmp.mp4`` beside
        it and renamed when complete, so a reader never sees half a movie.
    fps : int
        Frames (snapshots) per second; 1 to 60.

    Returns
    -------
    Path
        ``out_mp4``.

    Raises
    ------
    ConfigError
        If ``fps`` is not an integer in [1, 60].
    RunDirectoryError
        If ``run_dir`` is missing, not a run directory, or has no snapshot.
    OSError
        If ffmpeg fails (raised by ``imageio_ffmpeg`` with ffmpeg's message); the
        temporary file is removed.
    """
    import imageio_ffmpeg

    if (
        isinstance(fps, bool)
        or not isinstance(fps, int | np.integer)
        or not 1 <= fps <= 60
    ):
        raise ConfigError(f"--fps {fps}: must be an integer from 1 to 60 (frames/s)")
    run_dir, out_mp4 = Path(run_dir), Path(out_mp4)
    check_tissue_run(run_dir)
    run = _load_tissue_run(run_dir)
    out_mp4.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_mp4.with_name(f".{out_mp4.stem}.tmp.mp4")
    first = _frame_rgb(run, run.steps[0])
    h, w = first.shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (w, h),
        fps=float(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        quality=8,
        output_params=["-movflags", "+faststart"],
    )
    try:
        writer.send(None)  # start ffmpeg
        writer.send(first.tobytes())
        for step in run.steps[1:]:  # one frame per snapshot
            frame = _frame_rgb(run, step)
            if frame.shape[:2] != (h, w):  # fixed layout: never expected
                raise RuntimeError(
                    f"frame of step {step} is {frame.shape[1]}×{frame.shape[0]} px, "
                    f"the first was {w}×{h}"
                )
            writer.send(frame.tobytes())
        writer.close()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out_mp4)
    return out_mp4
