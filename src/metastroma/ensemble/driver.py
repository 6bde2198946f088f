"""The ensemble driver: an output directory, its catalog, and the members still to run.

:func:`run_members` is shared by sweeps and sensitivity analyses. It

1. prepares the directory: a new one is created; one holding the same ensemble (same plan
   digest: the ensemble file, its base file and the members) is continued; one holding
   another ensemble is refused unless ``force``; a non-empty directory that is not an
   ensemble is never touched;
2. records every member in ``catalog.sqlite`` (:class:`~metastroma.store.catalog.
   Catalog`) and runs those that are not ``done`` (pending, failed or left queued by an
   interruption) through :func:`~metastroma.ensemble.executor.execute`;
3. updates the catalog as each result comes back (the progress callback sees completed
   members), and on Ctrl-C puts unfinished members back to ``pending`` before re-raising;
4. writes ``ensemble.json`` (the manifest) at start and at the end.

The ensemble directory::

    ensemble.json      name, kind, plan digest, package version, status, counts, times
    spec.yaml          the ensemble file as given
    catalog.sqlite     one row per member (status, seed, parameters, timings, outcomes)
    members/mNNNNNN/   one directory per member (member.json, member.log, run/)
    results.parquet    one row per member: parameters × outcomes (written by the caller)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metastroma import __version__
from metastroma.config.sweep import EnsembleBase
from metastroma.ensemble.executor import MemberResult, MemberTask, execute
from metastroma.ensemble.model import ModelRef
from metastroma.ensemble.plan import Member
from metastroma.errors import RunDirectoryError
from metastroma.store.atomic import write_json_atomic
from metastroma.store.catalog import Catalog

__all__ = ["MANIFEST", "EnsembleProgress", "MembersRun", "check_out", "run_members"]

MANIFEST = "ensemble.json"

#: Called after each completed member with (result, n_finished, n_total).
EnsembleProgress = Callable[[MemberResult, int, int], None]


@dataclass(frozen=True)
class MembersRun:
    """How a call of :func:`run_members` went.

    Attributes
    ----------
    out_dir : Path
    n_members : int
    n_run : int
        Members handed to the executor in this call.
    n_skipped : int
        Members already done before this call.
    n_failed : int
        Members whose status is ``failed`` at the end.
    rows : list of dict
        The catalog's rows (every member), by id.
    manifest : dict
    """

    out_dir: Path
    n_members: int
    n_run: int
    n_skipped: int
    n_failed: int
    rows: list[dict[str, Any]]
    manifest: dict[str, Any]


def _read_manifest(out_dir: Path) -> dict[str, Any] | None:
    import json

    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise RunDirectoryError(
            f"{path}: unreadable ensemble manifest ({err})"
        ) from err


def check_out(out_dir: Path, digest: str, force: bool) -> bool:
    """Check that ``out_dir`` may hold this ensemble; True if it continues one.

    The same ensemble (same plan digest) is continued; with ``force`` any ensemble there
    is replaced (the caller removes it), never a directory that is not an ensemble.

    Raises
    ------
    RunDirectoryError
        A file; a non-empty directory that is not an ensemble; another ensemble without
        ``force``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return False
    manifest = _read_manifest(out_dir)
    if manifest is None:
        raise RunDirectoryError(
            f"{out_dir}: not empty and not an ensemble directory (no {MANIFEST}); "
            "choose another --out (it is never overwritten, even with --force)"
        )
    if force:
        return False  # replaced by the caller
    if manifest.get("plan_sha256") == digest:
        return True
    if not force:
        raise RunDirectoryError(
            f"{out_dir}: holds another ensemble ({manifest.get('kind')} "
            f"{manifest.get('name')!r}; its file, base scenario or members differ from "
            "this one's); use --force to replace it or choose another --out"
        )
    return False


def run_members(
    out_dir: Path,
    *,
    kind: str,
    spec: EnsembleBase,
    spec_text: str,
    ref: ModelRef,
    members: Sequence[Member],
    digest: str,
    workers: int = 0,
    scheduler: str | None = None,
    force: bool = False,
    progress: EnsembleProgress | None = None,
    extra_manifest: dict[str, Any] | None = None,
) -> MembersRun:
    """Run the members of an ensemble that are not done yet (see the module docstring).

    Raises
    ------
    RunDirectoryError
        ``out_dir`` cannot be used (see :func:`check_out`).
    KeyboardInterrupt
        After the catalog and manifest record the interruption.
    """
    from metastroma.store.manifest import environment, utc_now

    out_dir = Path(out_dir)
    resuming = check_out(out_dir, digest, force)
    if not resuming and out_dir.exists() and any(out_dir.iterdir()):
        shutil.rmtree(out_dir)  # force: another ensemble (checked by check_out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "members").mkdir(exist_ok=True)
    prev = _read_manifest(out_dir) if resuming else None
    manifest: dict[str, Any] = {
        "package": "metastroma",
        "version": __version__,
        "kind": kind,
        "name": spec.name,
        "model": ref.kind,
        "base": ref.source,
        "plan_sha256": digest,
        "n_members": len(members),
        "workers": workers,
        "scheduler": scheduler,
        "started_utc": prev["started_utc"] if prev else utc_now(),
        "sessions": [*(prev or {}).get("sessions", []), utc_now()],
        "ended_utc": None,
        "status": "running",
        **environment(),
        **(extra_manifest or {}),
    }
    if not resuming:
        from metastroma.store.atomic import write_bytes_atomic

        write_bytes_atomic(out_dir / "spec.yaml", spec_text.encode())
    write_json_atomic(out_dir / MANIFEST, manifest)
    key_prefix = f"member-{digest[:12]}"
    catalog = Catalog(out_dir / Catalog.FILE)
    try:
        catalog.set_meta({"plan_sha256": digest, "kind": kind, "name": spec.name})
        catalog.add(members, key_prefix)
        status = catalog.statuses()
        todo = [m for m in members if status.get(m.member_id) != "done"]
        n_skipped = len(members) - len(todo)
        tasks = [
            MemberTask(
                m.member_id,
                f"{key_prefix}-{m.member_id:06d}",
                ref,
                m.params,
                m.seed,
                str((out_dir / "members" / m.dirname).resolve()),
                tuple(spec.outcomes),
                None if (workers == 0 and scheduler is None) else 1,
            )
            for m in todo
        ]
        catalog.mark_queued([t.member_id for t in tasks], utc_now())
        finished = n_skipped
        total = len(members)

        def record(res: MemberResult) -> None:
            nonlocal finished
            when = utc_now()
            if res.ok:
                catalog.mark_done(
                    res.member_id, res.outcomes, res.wall_s, res.worker, when
                )
            else:
                catalog.mark_failed(
                    res.member_id, res.error or "", res.wall_s, res.worker, when
                )
            finished += 1
            if progress is not None:
                progress(res, finished, total)

        try:
            execute(tasks, record, workers=workers, scheduler=scheduler)
        except BaseException:
            catalog.requeue_unfinished()
            counts = catalog.counts()
            manifest.update(status="interrupted", ended_utc=utc_now(), counts=counts)
            write_json_atomic(out_dir / MANIFEST, manifest)
            raise
        counts = catalog.counts()
        rows = catalog.rows()
    finally:
        catalog.close()
    n_failed = counts.get("failed", 0)
    manifest.update(
        status="complete" if n_failed == 0 else "complete_with_failures",
        ended_utc=utc_now(),
        counts=counts,
    )
    write_json_atomic(out_dir / MANIFEST, manifest)
    return MembersRun(
        out_dir, len(members), len(tasks), n_skipped, n_failed, rows, manifest
    )
