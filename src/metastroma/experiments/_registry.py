"""The experiment registry and :func:`run_experiment`."""

from __future__ import annotations

import time
from collections.abc import Callable

from metastroma.errors import ConfigError
from metastroma.experiments._common import RunContext
from metastroma.experiments._definition import ExperimentDef
from metastroma.experiments._result import ExperimentResult

__all__ = ["EXPERIMENTS", "SIZES", "ExperimentDef", "run_experiment"]

#: Sizes every experiment has.
SIZES = ("small", "full")


#: The experiment modules, one per experiment (E3, oxygen, is a test of tissue/oxygen).
MODULES = ("_e1", "_e2", "_e4", "_e5", "_e6", "_e7", "_e8", "_e9")


def _registry() -> dict[str, ExperimentDef]:
    import importlib

    defs = [
        importlib.import_module(f"metastroma.experiments.{m}").DEFINITION
        for m in MODULES
    ]
    return {d.name: d for d in defs}


EXPERIMENTS: dict[str, ExperimentDef] = _registry()


def run_experiment(
    name: str,
    replicates: int | None = None,
    size: str = "small",
    workers: int = 0,
    seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExperimentResult:
    """Run one experiment: its arms × replicates, then its effects and pass criteria.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS` (``'E1'`` ... ``'E9'``, case-insensitive).
    replicates : int, optional
        Replicates per arm; the size's default if None (small: 2–3, full: 10).
    size : {'small', 'full'}
        'small': the fewest cells, hours and replicates that still test the criteria
        (validation tests); 'full': the SCIENCE.md §11 protocol.
    workers : int
        0: in this process; N: N single-threaded worker processes. The results do not
        depend on it.
    seed : int
        Base seed: replicate r of an arm uses seed + r.
    progress : callable, optional
        ``progress(label, n_done, n_total)`` after each replicate.

    Returns
    -------
    ExperimentResult
        Failed replicates are listed in ``failures`` (their tracebacks kept); the
        effects use the replicates that finished.

    Raises
    ------
    ConfigError
        Unknown experiment or size, replicates < 1, workers < 0, seed < 0.
    """
    key = name.upper()
    if key not in EXPERIMENTS:
        known = ", ".join(EXPERIMENTS)
        raise ConfigError(f"experiment {name!r}: unknown; known: {known}")
    if size not in SIZES:
        raise ConfigError(f"size {size!r}: must be one of {', '.join(SIZES)}")
    if replicates is not None and not 1 <= replicates <= 10_000:
        raise ConfigError(f"replicates = {replicates}: must be in 1..10000")
    if workers < 0 or workers > 1024:
        raise ConfigError(f"workers = {workers}: must be in 0..1024")
    if not 0 <= seed <= 2**62:
        raise ConfigError(f"seed = {seed}: must be in 0..2^62")
    d = EXPERIMENTS[key]
    params = dict(d.sizes[size])
    n_rep = int(replicates if replicates is not None else params["replicates"])
    params["replicates"] = n_rep
    ctx = RunContext(key, size, n_rep, seed, workers, params, progress)
    t0 = time.perf_counter()
    batch, effects, extra = d.analyse(ctx)
    wall = time.perf_counter() - t0
    table = batch.table.sort_values(
        ["arm", "replicate", "t_min"], kind="stable", ignore_index=True
    )
    return ExperimentResult(
        name=key,
        title=d.title,
        size=size,
        replicates=n_rep,
        base_seed=seed,
        workers=workers,
        effects=effects,
        table=table,
        failures=batch.failures,
        scenario_hashes=batch.hashes,
        seeds=batch.seeds,
        params={**params, **extra},
        wall_s=wall,
        figure=d.figure,
    )
