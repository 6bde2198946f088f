"""``manifest.json``: what ran, with what, when, and whether it finished.

``status`` is ``running`` while a run is in progress (or was killed), ``complete`` when every
output is written, ``interrupted`` after Ctrl-C and ``failed`` after an error (with the
message). The manifest is written last at every stage, so ``complete`` means complete.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metastroma.store.atomic import write_json_atomic

MANIFEST = "manifest.json"


def utc_now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of ``run_dir``, or None if it has none."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    write_json_atomic(Path(run_dir) / MANIFEST, manifest)


def environment() -> dict[str, str]:
    """Python and platform, for the manifest."""
    return {"python": platform.python_version(), "platform": platform.platform()}
