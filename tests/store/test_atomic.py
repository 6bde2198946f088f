"""Atomic writes and checkpoint discovery (STYLE.md §6): old or new content, never half."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metastroma.errors import CheckpointError
from metastroma.store import (
    build_dir_atomic,
    latest_checkpoint,
    read_checkpoint,
    write_checkpoint,
    write_json_atomic,
    write_parquet_atomic,
)


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_write_json_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(
        '{"status": "running", "old": true, "padding": "' + "x" * 500 + '"}'
    )
    write_json_atomic(path, {"status": "complete", "n": 3, "t": [0.5, 1.5]})
    assert json.loads(path.read_text()) == {
        "status": "complete",
        "n": 3,
        "t": [0.5, 1.5],
    }
    assert _names(tmp_path) == ["manifest.json"]


def test_write_json_atomic_creates_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    write_json_atomic(path, [1, 2])
    assert json.loads(path.read_text()) == [1, 2]
    assert _names(tmp_path) == ["new.json"]


def test_write_json_atomic_keeps_the_old_file_when_the_object_cannot_be_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.json"
    write_json_atomic(path, {"status": "running"})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"status": "running"}
    assert _names(tmp_path) == ["m.json"]


def test_write_parquet_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "metrics.parquet"
    write_parquet_atomic(path, pa.table({"step": [0, 60, 120], "n": [1.0, 2.0, 3.0]}))
    new = pa.table({"step": np.arange(5, dtype=np.int64), "n": np.linspace(0, 1, 5)})
    write_parquet_atomic(path, new)
    assert pq.read_table(path).equals(new)
    assert _names(tmp_path) == ["metrics.parquet"]


def test_build_dir_atomic_replaces_an_existing_directory(tmp_path: Path) -> None:
    path = tmp_path / "step=000000060"

    def fill_old(d: Path) -> None:
        (d / "part-0.parquet").write_bytes(b"old")
        (d / "stale.txt").write_text("only in the old one")

    def fill_new(d: Path) -> None:
        (d / "part-0.parquet").write_bytes(b"new")

    build_dir_atomic(path, fill_old)
    assert _names(path) == ["part-0.parquet", "stale.txt"]
    build_dir_atomic(path, fill_new)
    assert _names(path) == ["part-0.parquet"]
    assert (path / "part-0.parquet").read_bytes() == b"new"
    assert _names(tmp_path) == ["step=000000060"]  # no .tmp or .old left


def test_build_dir_atomic_cleans_a_leftover_temporary(tmp_path: Path) -> None:
    path = tmp_path / "ckpt"
    left = tmp_path / ".ckpt.tmp"  # from a run killed while it built the directory
    left.mkdir()
    (left / "half-written").write_bytes(b"\0")
    build_dir_atomic(path, lambda d: (d / "meta.json").write_text("{}"))
    assert _names(path) == ["meta.json"]
    assert _names(tmp_path) == ["ckpt"]


def test_build_dir_atomic_keeps_the_old_directory_if_fill_fails(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    build_dir_atomic(path, lambda d: (d / "a").write_bytes(b"old"))

    def failing(d: Path) -> None:
        (d / "a").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_dir_atomic(path, failing)
    assert (path / "a").read_bytes() == b"old"


# --------------------------------------------------------------------------- checkpoints


def _arrays(step: int) -> dict[str, np.ndarray]:
    return {
        "cells/pos_um": np.full((3, 2), float(step)),
        "scalars": np.array([step, 7]),
    }


def test_write_checkpoint_round_trips_and_keeps_only_the_newest(tmp_path: Path) -> None:
    write_checkpoint(tmp_path, 60, _arrays(60), {"seed": 1})
    newest = write_checkpoint(tmp_path, 120, _arrays(120), {"seed": 1})
    assert _names(tmp_path / "checkpoints") == ["step=000000120"]
    assert latest_checkpoint(tmp_path) == newest
    arrays, meta = read_checkpoint(newest)
    assert meta == {"seed": 1, "step": 120}
    assert set(arrays) == set(_arrays(120))
    for k, v in _arrays(120).items():
        assert np.array_equal(arrays[k], v)


def test_latest_checkpoint_ignores_incomplete_and_temporary_directories(
    tmp_path: Path,
) -> None:
    good = write_checkpoint(tmp_path, 120, _arrays(120), {"seed": 1})
    root = tmp_path / "checkpoints"
    # a newer checkpoint killed before its meta.json was written (not renamed atomically)
    no_meta = root / "step=000000240"
    no_meta.mkdir()
    np.savez(no_meta / "state.npz", **_arrays(240))
    # a newer one killed while it was being built under its temporary name
    tmp = root / ".step=000000360.tmp"
    tmp.mkdir()
    np.savez(tmp / "state.npz", **_arrays(360))
    (tmp / "meta.json").write_text(json.dumps({"seed": 1, "step": 360}))
    # and one with meta but no state
    no_state = root / "step=000000480"
    no_state.mkdir()
    (no_state / "meta.json").write_text(json.dumps({"seed": 1, "step": 480}))
    assert latest_checkpoint(tmp_path) == good


def test_latest_checkpoint_orders_by_step(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    for step in (9, 10, 100):  # zero-padded names sort as numbers
        d = root / f"step={step:09d}"
        d.mkdir(parents=True)
        np.savez(d / "state.npz", **_arrays(step))
        (d / "meta.json").write_text(json.dumps({"step": step}))
    found = latest_checkpoint(tmp_path)
    assert found is not None
    assert found.name == "step=000000100"


def test_no_checkpoint(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    assert latest_checkpoint(tmp_path) is None


def test_unreadable_checkpoint_raises_checkpoint_error(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path, 60, _arrays(60), {"seed": 1})
    (path / "state.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        read_checkpoint(path)
