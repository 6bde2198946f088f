"""Atomic writes: a reader sees the old file or the new one, never half of one.

Files are written as ``.name.tmp`` in the same directory, flushed, fsynced and renamed over
the target (``os.replace``); directories (Parquet snapshots, checkpoints) are built under a
temporary name and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    write_bytes_atomic(
        path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
    )


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write a Parquet table atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def build_dir_atomic(path: Path, fill: Callable[[Path], None]) -> None:
    """Create directory ``path`` by filling a temporary sibling and renaming it into place.

    An existing ``path`` is replaced (renamed aside, then removed) so that a resumed run can
    rewrite an identical snapshot.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    for f in tmp.iterdir():
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
    replace_dir(tmp, path)


def replace_dir(tmp: Path, path: Path) -> None:
    """Rename the finished directory ``tmp`` to ``path``.

    An existing ``path`` is renamed aside first and removed only once the new one is in
    place.
    """
    old = path.with_name(f".{path.name}.old")
    if path.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if old.exists():
        shutil.rmtree(old)
