"""The run catalog of an ensemble: one SQLite database (WAL), one row per member.

Only the driver writes it (workers write their member directories and return), one short
transaction per change, so a Ctrl-C or a crash of the driver leaves it consistent: every
row is in the state of its last committed change. Columns of ``members``:

==============  =========================================================================
member_id       integer, primary key (``point × replicates + replicate``)
task_key        the Dask key of the member (``member-<plan digest 12>-<id>``)
point           design point index
replicate       replicate index
seed            the member's seed
params          JSON object parameter path → value
status          ``pending`` (never run or to be rerun), ``queued`` (handed to the
                scheduler), ``done``, ``failed``; an interrupted ensemble puts queued
                members back to ``pending``
attempts        how many times the driver queued it
queued_utc      when it was last queued
ended_utc       when its result came back
wall_s          seconds the member's evaluation took on its worker
worker          host:pid of the process that ran it
run_dir         its directory, relative to the ensemble directory
outcomes        JSON object outcome → value (done members)
error           the traceback or the scheduler's message (failed members)
==============  =========================================================================

A ``meta`` table holds key/value pairs (the plan digest, the ensemble's name and kind).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Catalog", "CatalogMember"]


class CatalogMember(Protocol):
    """What the catalog records of a member (``metastroma.ensemble.Member``)."""

    @property
    def member_id(self) -> int:
        """Member id."""

    @property
    def point(self) -> int:
        """Design point."""

    @property
    def replicate(self) -> int:
        """Replicate index."""

    @property
    def seed(self) -> int:
        """Seed."""

    @property
    def params(self) -> dict[str, Any]:
        """Parameter path → value."""

    @property
    def dirname(self) -> str:
        """Directory name under ``members/``."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    member_id INTEGER PRIMARY KEY,
    task_key TEXT NOT NULL,
    point INTEGER NOT NULL,
    replicate INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_utc TEXT,
    ended_utc TEXT,
    wall_s REAL,
    worker TEXT,
    run_dir TEXT NOT NULL,
    outcomes TEXT,
    error TEXT
);
"""


def _dumps(obj: Any) -> str:
    """JSON with NaN as null (SQLite and other readers stay standard)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None if math.isnan(v) else v
        return v

    if isinstance(obj, dict):
        obj = {k: clean(v) for k, v in obj.items()}
    return json.dumps(obj)


class Catalog:
    """The member table of one ensemble directory (``catalog.sqlite``)."""

    FILE = "catalog.sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (checkpoints the WAL into the database file)."""
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A meta value, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, items: dict[str, str]) -> None:
        """Set meta values in one transaction."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                list(items.items()),
            )

    # -- members ----------------------------------------------------------------------
    def add(self, members: Iterable[CatalogMember], key_prefix: str) -> None:
        """Insert members not yet in the catalog as ``pending`` (one transaction)."""
        rows = [
            (
                m.member_id,
                f"{key_prefix}-{m.member_id:06d}",
                m.point,
                m.replicate,
                m.seed,
                json.dumps(m.params),
                f"members/{m.dirname}",
            )
            for m in members
        ]
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO members (member_id, task_key, point, replicate, "
                "seed, params, run_dir) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def statuses(self) -> dict[int, str]:
        """member_id → status."""
        return dict(self.db.execute("SELECT member_id, status FROM members").fetchall())

    def counts(self) -> dict[str, int]:
        """Status → number of members."""
        return dict(
            self.db.execute(
                "SELECT status, COUNT(*) FROM members GROUP BY status"
            ).fetchall()
        )

    def mark_queued(self, ids: list[int], when: str) -> None:
        """Members handed to the scheduler (one transaction)."""
        with self.db:
            self.db.executemany(
                "UPDATE members SET status = 'queued', attempts = attempts + 1, "
                "queued_utc = ?, error = NULL WHERE member_id = ?",
                [(when, i) for i in ids],
            )

    def mark_done(
        self,
        member_id: int,
        outcomes: dict[str, float],
        wall_s: float,
        worker: str,
        when: str,
    ) -> None:
        """A member finished; its outcomes are recorded."""
        with self.db:
            self.db.execute(
                "UPDATE members SET status = 'done', outcomes = ?, wall_s = ?, "
                "worker = ?, ended_utc = ?, error = NULL WHERE member_id = ?",
                (_dumps(outcomes), wall_s, worker, when, member_id),
            )

    def mark_failed(
        self, member_id: int, error: str, wall_s: float | None, worker: str, when: str
    ) -> None:
        """A member raised, or its worker died too often; the traceback is kept."""
        with self.db:
            self.db.execute(
                "UPDATE members SET status = 'failed', error = ?, wall_s = ?, "
                "worker = ?, ended_utc = ? WHERE member_id = ?",
                (error, wall_s, worker, when, member_id),
            )

    def requeue_unfinished(self) -> int:
        """Queued members back to ``pending`` (after an interruption); returns how many."""
        with self.db:
            cur = self.db.execute(
                "UPDATE members SET status = 'pending' WHERE status = 'queued'"
            )
        return int(cur.rowcount)

    def rows(self) -> list[dict[str, Any]]:
        """Every member as a mapping of its columns (params/outcomes parsed), by id."""
        cur = self.db.execute("SELECT * FROM members ORDER BY member_id")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            row["params"] = json.loads(row["params"])
            row["outcomes"] = json.loads(row["outcomes"]) if row["outcomes"] else None
            out.append(row)
        return out
