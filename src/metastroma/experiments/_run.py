"""Running arms × replicates: in process, or on a pool of single-threaded worker processes.

A :class:`Job` is one replicate of one arm: a scenario (as a plain mapping), the seed, the
times at which to measure and a :class:`Probe` that measures. :func:`run_jobs` runs a list
of jobs serially in this process (``workers=0``) or on a
:class:`concurrent.futures.ProcessPoolExecutor` of ``workers`` processes (spawned, so no
numba threads are forked) that each set ``OMP_WAIT_POLICY=PASSIVE`` before importing
numba and then run numba with one thread. A job's result is a function of the job alone
(every draw is keyed by the seed, SCIENCE.md/STYLE.md §5), so the tables do not depend on
the number of workers; the results are returned in job order.

A replicate returns a small table: one row of measurements per requested time, never the
state. A replicate that raises is returned as a failure with its traceback (STYLE.md §4:
the ensemble runner records the failed run and finishes the others); the experiment
reports it.

This module imports the tissue model (and numba) only inside the functions that run a
simulation, so that a worker process can configure numba before it is imported.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metastroma.tissue.simulation import BlockReport, TissueSimulation

__all__ = ["Job", "JobResult", "Probe", "run_job", "run_jobs"]


class Probe:
    """What a replicate measures; subclasses are plain picklable objects.

    The runner calls :meth:`start` once on the initial state, :meth:`after_block` after
    every phenotype block (6 simulated minutes by default), and :meth:`measure` at each
    requested time (after the block that reaches it). A probe may keep running sums
    between calls (tracks, doorway exposure); a fresh copy is used for every job.
    """

    def start(self, sim: TissueSimulation) -> None:
        """Called once before the first block."""

    def after_block(self, sim: TissueSimulation, report: BlockReport) -> None:
        """Called after each phenotype block."""

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """Measurements at the current time (``sim.t_min``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Job:
    """One replicate of one arm.

    Attributes
    ----------
    arm : str
    replicate : int
        Replicate index r (the seed is ``base_seed + r`` unless an arm offsets it).
    seed : int
        The scenario's seed for this replicate.
    scenario : dict
        The scenario mapping (validated in the worker with ``scenario_from_dict``).
    times_min : tuple of float, min
        Simulated times at which ``probe.measure`` runs; each is rounded up to a whole
        phenotype block; the run ends at the last.
    probe : Probe
    """

    arm: str
    replicate: int
    seed: int
    scenario: dict[str, Any]
    times_min: tuple[float, ...]
    probe: Probe


@dataclass
class JobResult:
    """What one job returned.

    Attributes
    ----------
    arm, replicate, seed
        As in the job.
    rows : list of dict
        One row per measured time: ``t_min`` and the probe's values.
    error : str or None
        The traceback if the replicate raised (then ``rows`` is empty).
    wall_s : float, s
    """

    arm: str
    replicate: int
    seed: int
    rows: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """The replicate finished."""
        return self.error is None


def run_job(job: Job) -> JobResult:
    """Run one replicate and measure it at its times; a raised error becomes ``error``."""
    t0 = time.perf_counter()
    try:
        rows = _simulate(job)
    except Exception:  # the ensemble runner records every failure (STYLE.md §4)
        return JobResult(
            job.arm,
            job.replicate,
            job.seed,
            [],
            traceback.format_exc(),
            time.perf_counter() - t0,
        )
    return JobResult(
        job.arm, job.replicate, job.seed, rows, None, time.perf_counter() - t0
    )


def _simulate(job: Job) -> list[dict[str, float]]:
    import copy

    from metastroma.config import scenario_from_dict
    from metastroma.tissue.simulation import TissueSimulation

    data = copy.deepcopy(job.scenario)
    data["seed"] = job.seed
    if not job.times_min:
        raise ValueError(f"{job.arm}: no measurement times")
    t_end = max(job.times_min)
    data.setdefault("time", {})
    data["time"] = {**data["time"], "duration_min": max(float(t_end), 1e-6)}
    sc = scenario_from_dict(data, source=f"{job.arm} (replicate {job.replicate})")
    sim = TissueSimulation.from_scenario(sc)
    probe = copy.deepcopy(job.probe)
    probe.start(sim)
    dt_ph = sc.time.dt_phenotype_min
    pending = sorted({float(t) for t in job.times_min})
    rows: list[dict[str, float]] = []
    if pending and pending[0] <= 0.0:
        rows.append({"t_min": 0.0, **probe.measure(sim)})
        pending = [t for t in pending if t > 0.0]
    while pending:
        rep = sim.advance_block()
        probe.after_block(sim, rep)
        while pending and sim.t_min >= pending[0] - 1e-6 * dt_ph:
            rows.append({"t_min": float(pending.pop(0)), **probe.measure(sim)})
    return rows


def _init_worker() -> None:
    """Worker set-up: passive OpenMP waits and one numba thread (before numba loads)."""
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["NUMBA_NUM_THREADS"] = "1"
    import numba

    numba.set_num_threads(1)


def run_jobs(
    jobs: Sequence[Job],
    workers: int = 0,
    progress: Callable[[JobResult, int, int], None] | None = None,
) -> list[JobResult]:
    """Run jobs serially (``workers=0``) or on ``workers`` processes; results in job order.

    Parameters
    ----------
    jobs : sequence of Job
    workers : int
        0: in this process, one job after the other. N >= 1: a pool of N spawned
        processes, each running numba on one thread.
    progress : callable, optional
        ``progress(result, n_done, n_total)`` after each job (in completion order).

    Returns
    -------
    list of JobResult
        One per job, in the order of ``jobs``; failed replicates carry their traceback.
        If a worker process dies, the jobs it did not finish are failures too.
    """
    if workers < 0:
        raise ValueError(f"workers = {workers}: must be >= 0")
    n = len(jobs)
    results: list[JobResult | None] = [None] * n
    done = 0
    if workers == 0 or n == 0:
        for i, job in enumerate(jobs):
            res = run_job(job)
            results[i] = res
            done += 1
            if progress is not None:
                progress(res, done, n)
    else:
        from concurrent.futures import as_completed

        ctx = get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(workers, n), mp_context=ctx, initializer=_init_worker
        ) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    res = fut.result()
                except Exception as err:  # a worker died (BrokenProcessPool): report
                    job = jobs[i]
                    # the pool raises one exception object for every pending job: format
                    # it without its (shared, growing) traceback
                    msg = "".join(traceback.format_exception_only(type(err), err))
                    res = JobResult(
                        job.arm,
                        job.replicate,
                        job.seed,
                        [],
                        f"the worker process running this replicate died: {msg}",
                    )
                results[i] = res
                done += 1
                if progress is not None:
                    progress(res, done, n)
    out = [r for r in results if r is not None]
    assert len(out) == n
    return out
