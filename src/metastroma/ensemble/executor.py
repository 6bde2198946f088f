"""Running members: in this process, on a Dask ``LocalCluster``, or on an existing cluster.

A :class:`MemberTask` is everything a worker needs (the base model as data, the member's
parameters and seed, its directory); :func:`run_member` runs it and returns a
:class:`MemberResult`. The worker writes only the member's own directory:

``members/mNNNNNN/``
    ``member.json``  the member's parameters, seed, status and outcomes (written last,
                     atomically: its presence with ``status: done`` means finished)
    ``member.log``   one block per attempt: start (host, pid), parameters, what the run
                     printed, the end (seconds, or the traceback)
    ``run/``         the tissue or cohort run directory (none for a function member)

A member that finds its ``member.json`` done returns it without running again, and a
tissue member that finds an unfinished run with a checkpoint resumes it; so a member that
was running when its worker died, or when the ensemble was interrupted, is never run twice
from the start, and its result is the same (bitwise, for tissue runs).

:func:`execute` hands tasks to the scheduler and reports results as they complete. With
``workers=0`` the tasks run one after the other in this process (for debugging). With
``workers=N`` a ``LocalCluster`` of N worker processes, one thread each, numba on one
thread (``NUMBA_NUM_THREADS=1``), no dashboard, listening on 127.0.0.1 only. With a
scheduler address it connects to that cluster instead. Dask retries a task whose worker
died on another worker (up to ``distributed.scheduler.allowed-failures`` times, 3 by
default); a task that keeps killing workers comes back as a failed member.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metastroma.ensemble.model import ModelRef, evaluate
from metastroma.errors import ConfigError

__all__ = [
    "WORKER_ENV",
    "MemberResult",
    "MemberTask",
    "dask_client",
    "execute",
    "run_member",
]

#: Environment of LocalCluster workers: one numba/OpenMP/BLAS thread each, passive waits.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}

#: Dask settings of a LocalCluster (the nanny hands them to the workers). The statistical
#: profiler samples every worker thread's stack every 10 ms, holding the GIL, for a
#: dashboard that is off; the worker checks its memory every 100 ms, 1 s is enough here.
#: A worker-saturation of 1 gives each one-thread worker one member at a time: with the
#: default 1.1 a second member waits on the worker, and if the running one kills the
#: process the waiting one is blamed too (counted against allowed-failures).
WORKER_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.worker-saturation": 1.0,
}


@dataclass(frozen=True)
class MemberTask:
    """One member, as shipped to a worker.

    Attributes
    ----------
    member_id : int
    key : str
        Deterministic task key (``member-<plan digest>-<id>``).
    ref : ModelRef
    params : dict
    seed : int
    member_dir : str
        Absolute path of ``members/mNNNNNN``.
    outcomes : tuple of str
        Outcomes to keep (empty: all); a missing one fails the member.
    threads : int or None
        numba threads of a tissue run (1 on Dask workers).
    """

    member_id: int
    key: str
    ref: ModelRef
    params: dict[str, Any]
    seed: int
    member_dir: str
    outcomes: tuple[str, ...] = ()
    threads: int | None = 1


@dataclass
class MemberResult:
    """What a member returned.

    Attributes
    ----------
    member_id : int
    ok : bool
    outcomes : dict
        Outcome → value (empty if failed).
    error : str or None
        Traceback or the scheduler's message.
    wall_s : float
    worker : str
        ``host:pid``.
    reused : bool
        Its directory already held the finished result (nothing was run).
    """

    member_id: int
    ok: bool
    outcomes: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    worker: str = ""
    reused: bool = False


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _log(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _select(outcomes: dict[str, float], wanted: Sequence[str]) -> dict[str, float]:
    if not wanted:
        return outcomes
    missing = [w for w in wanted if w not in outcomes]
    if missing:
        raise KeyError(
            f"outcome(s) {', '.join(map(repr, missing))} not produced by this member; "
            f"it produces: {', '.join(sorted(outcomes))}"
        )
    return {w: outcomes[w] for w in wanted}


def read_member_json(member_dir: Path) -> dict[str, Any] | None:
    """The ``member.json`` of a member directory, or None."""
    import json

    path = Path(member_dir) / "member.json"
    if not path.is_file():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))


def run_member(task: MemberTask) -> MemberResult:
    """Run one member in its directory (see the module docstring); never raises."""
    from metastroma.store.atomic import write_json_atomic
    from metastroma.store.manifest import utc_now

    mdir = Path(task.member_dir)
    mdir.mkdir(parents=True, exist_ok=True)
    log = mdir / "member.log"
    worker = _worker_name()
    prev = read_member_json(mdir)
    if prev is not None and prev.get("status") == "done":
        _log(log, f"[{utc_now()}] found finished on {worker}; not run again")
        return MemberResult(
            task.member_id,
            True,
            {k: float("nan") if v is None else v for k, v in prev["outcomes"].items()},
            None,
            float(prev.get("wall_s", 0.0)),
            worker,
            reused=True,
        )
    _log(
        log,
        f"[{utc_now()}] start member {task.member_id} on {worker}; seed {task.seed}; "
        f"params {task.params}",
    )
    t0 = time.perf_counter()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            run_dir = None if task.ref.kind == "function" else mdir / "run"
            outcomes = evaluate(
                task.ref, task.params, task.seed, run_dir, threads=task.threads
            )
            outcomes = _select(outcomes, task.outcomes)
    except Exception:  # the ensemble records every failure and goes on (STYLE.md §4)
        wall = time.perf_counter() - t0
        tb = traceback.format_exc()
        _log(log, captured.getvalue())
        _log(log, f"[{utc_now()}] FAILED after {wall:.3f} s\n{tb}")
        return MemberResult(task.member_id, False, {}, tb, wall, worker)
    wall = time.perf_counter() - t0
    if captured.getvalue():
        _log(log, captured.getvalue())
    write_json_atomic(
        mdir / "member.json",
        {
            "member_id": task.member_id,
            "seed": task.seed,
            "params": task.params,
            "status": "done",
            "outcomes": {
                k: (None if v != v else v) for k, v in outcomes.items()
            },  # NaN → null
            "wall_s": round(wall, 6),
            "worker": worker,
        },
    )
    _log(log, f"[{utc_now()}] done in {wall:.3f} s")
    return MemberResult(task.member_id, True, outcomes, None, wall, worker)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: on a new ``LocalCluster`` of ``workers`` processes, or ``scheduler``.

    Raises
    ------
    ConfigError
        The scheduler cannot be reached, or ``workers`` is below 1 without a scheduler.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise ConfigError(
                f"--scheduler {scheduler}: cannot connect ({err})"
            ) from err
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise ConfigError(f"--workers {workers}: a local cluster needs at least 1")
    import dask

    with dask.config.set(WORKER_DASK_CONFIG):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
            worker_dashboard_address=None,
            # no dashboard; the scheduler's small HTTP server (health routes) on a free
            # loopback port, not 8787, which another cluster may hold
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            env=WORKER_ENV,
            silence_logs=logging.ERROR,
        )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def execute(
    tasks: Sequence[MemberTask],
    on_result: Callable[[MemberResult], None],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    client: Any = None,
) -> None:
    """Run ``tasks`` and call ``on_result`` for each, in completion order.

    Parameters
    ----------
    tasks : sequence of MemberTask
    on_result : callable
        Called in this process with each :class:`MemberResult`.
    workers : int
        0: serially in this process; N: a LocalCluster of N processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    client : distributed.Client, optional
        Use this client (the caller owns it).

    Raises
    ------
    KeyboardInterrupt
        Pending tasks are cancelled first; results already reported stay reported.
    """
    if not tasks:
        return
    if client is None and scheduler is None and workers == 0:
        for task in tasks:
            on_result(run_member(task))
        return
    if client is None:
        with dask_client(workers, scheduler) as own:
            _submit_all(own, tasks, on_result)
        return
    _submit_all(client, tasks, on_result)


def _submit_all(
    client: Any, tasks: Sequence[MemberTask], on_result: Callable[[MemberResult], None]
) -> None:
    from distributed import as_completed

    by_key = {}
    futures = []
    for task in tasks:
        fut = client.submit(run_member, task, key=task.key, pure=False, retries=0)
        by_key[fut.key] = task
        futures.append(fut)
    try:
        for fut in as_completed(futures):
            task = by_key[fut.key]
            try:
                res = fut.result()
            except Exception as err:  # KilledWorker, CancelledError: the member failed
                msg = "".join(traceback.format_exception_only(type(err), err)).strip()
                res = MemberResult(
                    task.member_id,
                    False,
                    error=f"the scheduler gave up on this member: {msg} (its worker "
                    "process died on every attempt; see member.log)",
                )
            fut.release()
            on_result(res)
    except BaseException:
        client.cancel([f for f in futures if not f.done()])
        raise
