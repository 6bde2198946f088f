"""Calibration: approximate Bayesian computation (ABC-SMC) of model parameters with pyABC.

The Python API behind ``metastroma calibrate``::

    from pathlib import Path
    from metastroma.ensemble.calibration import run_calibration
    out = run_calibration(Path("scenarios/calibrate_logistic.yaml"), Path("runs/cal"))
    out.summary      # per parameter: weighted mean, median, 95 % credible interval
    out.posterior    # the last population: one column per parameter + weight

A calibration file (:class:`~metastroma.config.calibration.CalibrationSpec`) names a base
model, a prior for each parameter to calibrate, and a targets file of observed outcomes.
ABC-SMC (Toni et al. 2009; Beaumont et al. 2009) draws particles (parameter points) from
the prior, runs the model at each, and keeps those whose outcomes lie within a distance
ε of the targets; each next population perturbs the last one's particles (a Gaussian
kernel fitted to them), lowers ε to the median distance of the last population, and
reweights the accepted particles by prior / proposal density. The last population is a
weighted sample of the approximate posterior. pyABC (Klinger et al. 2018; Schälte et al.
2022) does the sampling; this module turns a calibration file into its inputs and its
history into our outputs.

Priors and parameters
    Uniform and normal priors are sampled in the parameter's units, loguniform and
    lognormal ones as ln x (uniform or normal there), so that the perturbation kernel
    moves log-scale parameters by factors. pyABC sees the parameters as ``theta_0``,
    ``theta_1``, … in the order of ``priors`` (in ln x for log priors), which is what
    ``abc.db`` stores; every file we write uses the parameter paths and their units.
Particles
    A particle runs the base model with ``fixed`` and its parameter values set
    (:func:`~metastroma.ensemble.model.evaluate`), ``replicates`` times, with seeds that
    depend on the calibration's seed, the particle's values and the replicate only
    (:func:`particle_seed`): the same particle gives the same outcomes on any worker.
    Its summary statistics are the means of the target outcomes over its replicates.
Distance
    Euclidean over the target outcomes, each divided by a scale: its median absolute
    deviation over the last population (``distance: adaptive``, pyABC
    ``AdaptivePNormDistance``, Prangle 2017), or its ``scale`` from the targets file
    (``distance: scaled``, pyABC ``PNormDistance`` with weights 1/scale, i.e.
    d = √Σ (x − y)²/scale²).
Before anything runs
    :func:`load_calibration` checks the file, its base model, the prior paths (file, line
    and the valid paths nearby), that every scenario the priors reach is valid, and the
    targets file (file and line of each bad value). :func:`run_calibration` then runs one
    particle at the prior medians, so that a target the model does not produce, or a
    non-finite outcome, is reported by name before the output directory is touched.
Reproducibility
    pyABC draws particles and perturbations from NumPy's global generator. With
    ``workers=0`` this module seeds it from the calibration's seed for the run (and
    restores its state afterwards), so the same file gives the same posterior, bitwise.
    With Dask workers, pyABC reseeds each worker's generator from the operating system
    for every particle and keeps the first ``population_size`` accepted in submission
    order: the posterior is then a random sample that differs between runs (each
    particle's simulation is still reproducible from its values).

Output directory ``OUT/``:

``calibration.json``  manifest: what ran, how it stopped, ε and acceptance per population,
                      simulations, wall time, sampler; written first (``status:
                      running``) and last (``complete``, ``failed``, ``interrupted``)
``spec.yaml``         the calibration file, as given
``abc.db``            pyABC's SQLite history (every population; ``pyabc.History``)
``posterior.parquet`` the last population: one column per parameter path, ``weight``
``posterior_summary.csv``  per parameter: weighted mean, sd, median, 95 % credible
                      interval, prior range, truth (if given)
``populations.csv``   per population: t, epsilon, particles, samples, acceptance rate
``figures/posterior_pairs.png``  weighted histograms and pairwise scatter of the posterior

pyABC has no per-population callback; :func:`run_calibration` drives pyABC's own steps
(``initialize_components_before_run``, ``run_generation``, ``check_terminate``) as
``ABCSMC.run`` does, so that ``progress`` is called after each population.

References
----------
Toni, T. et al. (2009). Approximate Bayesian computation scheme for parameter inference and
model selection in dynamical systems. J. R. Soc. Interface 6:187–202.
doi:10.1098/rsif.2008.0172

Beaumont, M. A. et al. (2009). Adaptive approximate Bayesian computation. Biometrika
96:983–990. doi:10.1093/biomet/asp052

Prangle, D. (2017). Adapting the ABC distance function. Bayesian Anal. 12:289–309.
doi:10.1214/16-BA1002

Klinger, E., Rickert, D. & Hasenauer, J. (2018). pyABC: distributed, likelihood-free
inference. Bioinformatics 34:3591–3593. doi:10.1093/bioinformatics/bty361

Schälte, Y. et al. (2022). pyABC: Efficient and robust easy-to-use approximate Bayesian
computation. J. Open Source Softw. 7:4304. doi:10.21105/joss.04304
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metastroma._typing import F64Array
from metastroma.config.calibration import CalibrationSpec
from metastroma.config.loader import _line_of, model_from_dict, read_yaml
from metastroma.ensemble._particles import (
    ParticleModel,
    _describe,
    _pyabc_rv,
    _support_points,
    particle_seed,
    prior_median,
    prior_range,
)
from metastroma.ensemble._targets import Target, Targets, read_targets
from metastroma.ensemble.executor import dask_client
from metastroma.ensemble.model import (
    ModelRef,
    check_parameter_paths,
    load_model_ref,
    member_data,
    validate_member,
)
from metastroma.errors import ConfigError, RunDirectoryError
from metastroma.store.atomic import (
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)

__all__ = [
    "MANIFEST",
    "CalibrationPlan",
    "CalibrationProgress",
    "CalibrationRun",
    "ParticleModel",
    "Target",
    "Targets",
    "check_targets",
    "load_calibration",
    "particle_seed",
    "prior_median",
    "prior_range",
    "read_targets",
    "run_calibration",
    "weighted_quantile",
]

#: The manifest of a calibration directory.
MANIFEST = "calibration.json"

#: Format of calibration.json; bump when a key changes meaning.
MANIFEST_VERSION = 1

#: ``progress(generation, epsilon, acceptance_rate)``, called after each population.
CalibrationProgress = Callable[[int, float, float], None]

_PYABC_MISSING = (
    "metastroma calibrate needs the optional extra: pip install 'metastroma[calibrate]'"
)

#: Stream of the global NumPy seed set for pyABC (``SeedSequence([seed, stream])``).
_PYABC_STREAM = 11


# ---------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class CalibrationPlan:
    """A checked calibration: its spec, base model and targets (nothing has run).

    Attributes
    ----------
    path : Path
        The calibration file.
    spec : CalibrationSpec
    text : str
        The file's text (copied to ``spec.yaml``).
    ref : ModelRef
        The base model.
    targets : Targets
    prior_lines : dict
        Parameter path → its line in the calibration file (messages).
    """

    path: Path
    spec: CalibrationSpec
    text: str
    ref: ModelRef
    targets: Targets
    prior_lines: dict[str, int | None] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Calibration file name, for messages."""
        return self.path.name

    @property
    def parameters(self) -> list[str]:
        """Calibrated parameter paths, in the order of ``priors``."""
        return list(self.spec.priors)

    def particle_model(self, threads: int | None = None) -> ParticleModel:
        """The model pyABC calls (see :class:`ParticleModel`)."""
        spec = self.spec
        return ParticleModel(
            ref=self.ref,
            fixed=dict(spec.fixed),
            paths=tuple(spec.priors),
            names=tuple(f"theta_{i}" for i in range(len(spec.priors))),
            log_scale=tuple(p.log_scale for p in spec.priors.values()),
            integer=tuple(p.integer for p in spec.priors.values()),
            outcomes=tuple(self.targets.outcomes),
            seed=spec.seed,
            replicates=spec.replicates,
            threads=threads,
        )

    def median_point(self) -> dict[str, float | int]:
        """Parameter path → prior median (rounded for integer priors)."""
        return {
            k: round(prior_median(p)) if p.integer else prior_median(p)
            for k, p in self.spec.priors.items()
        }


def load_calibration(path: Path) -> CalibrationPlan:
    """Read a calibration file and check it, its base model, priors and targets.

    Nothing is run and nothing is written.

    Parameters
    ----------
    path : Path
        The calibration file (YAML).

    Returns
    -------
    CalibrationPlan

    Raises
    ------
    ConfigError
        Invalid file (file, line, key, allowed values), missing or invalid base model,
        an unknown parameter path (file, line and the valid paths nearby), a prior that
        reaches values where the base scenario is invalid, or a missing or invalid
        targets file (file and line), or a ``scaled`` distance with a target that has no
        scale.
    """
    path = Path(path)
    data, node, source = read_yaml(path, "calibration file")
    spec = model_from_dict(data, CalibrationSpec, source, node)
    ref = load_model_ref(spec, path)
    keys: dict[str, tuple[str, ...]] = {k: ("fixed", k) for k in spec.fixed}
    keys.update({k: ("priors", k) for k in spec.priors})
    check_parameter_paths(ref, keys, source, node)
    lines = {k: _line_of(node, ("priors", k)) for k in spec.priors}
    if ref.kind != "function":
        _check_support(spec, ref, source, lines)
    targets_path = (
        spec.targets if spec.targets.is_absolute() else path.parent / spec.targets
    )
    if not targets_path.is_file():
        line = _line_of(node, ("targets",))
        where = f"{source}:{line}" if line else source
        raise ConfigError(
            f"{where}: targets = {str(spec.targets)!r}: file not found (looked for "
            f"{targets_path.resolve()})"
        )
    targets = read_targets(targets_path)
    if spec.distance == "scaled":
        unscaled = [t for t in targets.items if t.scale is None]
        if unscaled:
            raise ConfigError(
                "\n".join(
                    f"{targets.where(t.outcome)}: {t.outcome}: no scale; distance "
                    "'scaled' divides each mismatch by its scale (give one per outcome, "
                    "or use distance 'adaptive')"
                    for t in unscaled
                )
            )
    text = path.read_text(encoding="utf-8")
    return CalibrationPlan(path, spec, text, ref, targets, lines)


def _check_support(
    spec: CalibrationSpec, ref: ModelRef, source: str, lines: dict[str, int | None]
) -> None:
    """ConfigError if a prior reaches values where the base scenario is invalid."""
    median = {
        k: round(prior_median(p)) if p.integer else prior_median(p)
        for k, p in spec.priors.items()
    }
    points: list[tuple[str | None, dict[str, Any]]] = [(None, median)]
    for name, prior in spec.priors.items():
        for v in _support_points(prior):
            points.append((name, {**median, name: round(v) if prior.integer else v}))
    for key, point in points:
        line = lines.get(key) if key is not None else None
        where = f"{source}:{line}" if line else source
        what = (
            f"priors.{key}: the prior reaches {point[key]:g}"
            if key is not None
            else "at the prior medians"
        )
        label = f"{ref.source} with {_describe(point)}"
        try:
            data = member_data(ref, {**spec.fixed, **point}, spec.seed)
            validate_member(ref, data, label)
        except KeyError as err:
            raise ConfigError(f"{where}: {what}: {err.args[0]}") from err
        except ConfigError as err:
            hint = (
                " (use a prior inside the valid range: uniform or loguniform bounds, "
                "or a lognormal prior for a positive parameter)"
                if key is not None
                else ""
            )
            raise ConfigError(
                f"{where}: {what}, where the base scenario is invalid{hint}:\n{err}"
            ) from err


def check_targets(plan: CalibrationPlan) -> dict[str, Any]:
    """Run one particle at the prior medians and check that it gives every target.

    Parameters
    ----------
    plan : CalibrationPlan

    Returns
    -------
    dict
        ``{'params', 'seed', 'outcomes', 'wall_s'}`` of the pilot particle (its target
        outcomes, in the model's units).

    Raises
    ------
    ConfigError
        A target outcome the model does not produce (file and line of the target, and
        the outcomes the model does produce), a non-finite target outcome, or a function
        model that refuses its parameters (ValueError).
    RuntimeError
        The model failed otherwise.
    """
    model = plan.particle_model()
    params = plan.median_point()
    t0 = time.perf_counter()
    try:
        got = model.run(params)
    except RuntimeError as err:
        cause = err.__cause__
        if isinstance(cause, ConfigError):  # the member's scenario is invalid
            raise cause from None
        if isinstance(cause, ValueError) and plan.ref.kind == "function":
            raise ConfigError(
                f"{plan.source}: {plan.ref.source} refused the parameters at the prior "
                f"medians ({_describe({**plan.spec.fixed, **params})}): {cause}"
            ) from err
        raise
    wall = time.perf_counter() - t0
    targets = plan.targets
    missing = [o for o in targets.outcomes if o not in got]
    if missing:
        produced = ", ".join(sorted(got)) or "(nothing)"
        raise ConfigError(
            "\n".join(
                f"{targets.where(o)}: outcome {o!r}: not produced by the model "
                f"({plan.ref.source}); it produces: {produced}"
                for o in missing
            )
        )
    bad = [o for o in targets.outcomes if not math.isfinite(got[o])]
    if bad:
        raise ConfigError(
            "\n".join(
                f"{targets.where(o)}: outcome {o!r} = {got[o]} at the prior medians "
                f"({_describe(params)}): ABC needs finite outcomes"
                for o in bad
            )
        )
    return {
        "params": dict(params),
        "seed": particle_seed(plan.spec.seed, [float(v) for v in params.values()]),
        "outcomes": {o: got[o] for o in targets.outcomes},
        "wall_s": round(wall, 6),
    }


# ----------------------------------------------------------------------- statistics


def weighted_quantile(
    values: Sequence[float] | F64Array,
    weights: Sequence[float] | F64Array,
    q: float | Sequence[float] | F64Array,
) -> float | F64Array:
    """Quantile(s) of a weighted sample, interpolating its midpoint CDF.

    The sorted values x_i get cumulative probabilities c_i = (W_i − w_i/2) / W, with W_i
    the running sum of the weights; the q-quantile interpolates x linearly in c (and is
    x_1 below c_1, x_n above c_n). With equal weights it is Hazen's definition, the
    midpoint of the two middle values for the median of an even sample.

    Parameters
    ----------
    values : (n,) float64
    weights : (n,) float64
        Non-negative, with a positive sum; need not be normalised.
    q : float or (k,) float64
        Probabilities in [0, 1].

    Returns
    -------
    float or (k,) float64
        In the units of ``values``.

    Raises
    ------
    ValueError
        Shapes differ, no values, a negative or non-finite weight, or a zero sum.

    Examples
    --------
    >>> weighted_quantile([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], 0.5)
    2.5
    >>> weighted_quantile([1.0, 2.0, 3.0], [1.0, 0.0, 3.0], 0.5)
    2.5
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.ndim != 1 or x.shape != w.shape or x.size == 0:
        raise ValueError(
            f"values {x.shape} and weights {w.shape} must be one non-empty (n,) array each"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative, with a positive sum")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    keep = w > 0
    x, w = x[keep], w[keep]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    out = np.interp(np.asarray(q, dtype=np.float64), c, x)
    return float(out) if out.ndim == 0 else out


def _summary(posterior: pd.DataFrame, spec: CalibrationSpec) -> pd.DataFrame:
    """One row per parameter: weighted statistics, 95 % interval, prior range, truth."""
    w = posterior["weight"].to_numpy(dtype=np.float64)
    w = w / w.sum()
    rows = []
    for path, prior in spec.priors.items():
        x = posterior[path].to_numpy(dtype=np.float64)
        mean = float(np.sum(w * x))
        sd = float(math.sqrt(max(float(np.sum(w * (x - mean) ** 2)), 0.0)))
        median, lo, hi = (
            float(v)
            for v in np.atleast_1d(weighted_quantile(x, w, [0.5, 0.025, 0.975]))
        )
        p_lo, p_hi = prior_range(prior)
        truth = spec.truth.get(path)
        rows.append(
            {
                "parameter": path,
                "prior": prior.distribution,
                "prior_low": p_lo,
                "prior_high": p_hi,
                "mean": mean,
                "sd": sd,
                "median": median,
                "ci95_low": lo,
                "ci95_high": hi,
                "truth": math.nan if truth is None else float(truth),
                "truth_in_ci95": None if truth is None else bool(lo <= truth <= hi),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ run


@dataclass(frozen=True)
class CalibrationRun:
    """What :func:`run_calibration` produced.

    Attributes
    ----------
    out_dir : Path
    posterior : DataFrame
        The last population: one column per parameter path (its units) and ``weight``
        (normalised to sum 1); ``posterior.parquet``.
    summary : DataFrame
        One row per parameter (``posterior_summary.csv``): ``prior``, ``prior_low``,
        ``prior_high`` (see :func:`prior_range`), weighted ``mean``, ``sd``, ``median``,
        ``ci95_low``/``ci95_high`` (weighted 2.5 % and 97.5 % quantiles), ``truth``,
        ``truth_in_ci95``.
    populations : DataFrame
        One row per population (``populations.csv``): ``t``, ``epsilon``, ``particles``,
        ``samples`` (simulations), ``acceptance_rate``, ``wall_s``.
    manifest : dict
        ``calibration.json``.
    figures : list of Path
    """

    out_dir: Path
    posterior: pd.DataFrame
    summary: pd.DataFrame
    populations: pd.DataFrame
    manifest: dict[str, Any]
    figures: list[Path]


def _import_pyabc() -> Any:
    """pyABC, imported without its side effect on ``OMP_NUM_THREADS``.

    pyABC's ``__init__`` sets ``OMP_NUM_THREADS=1`` for the whole process when it is
    unset (and gives its ``ABC`` logger a handler at level INFO); the variable is removed
    again so that later numba or BLAS thread pools keep their defaults.

    Raises
    ------
    ConfigError
        pyABC is not installed.
    """
    first = "pyabc" not in sys.modules
    had_omp = "OMP_NUM_THREADS" in os.environ
    try:
        import pyabc
    except ImportError as err:
        raise ConfigError(_PYABC_MISSING) from err
    finally:
        if first and not had_omp:
            os.environ.pop("OMP_NUM_THREADS", None)
    return pyabc


@contextlib.contextmanager
def _quiet_pyabc() -> Iterator[None]:
    """Set pyABC's loggers (``ABC`` and its children) to WARNING; restore them after."""
    names = ["ABC"] + [
        n for n in logging.root.manager.loggerDict if n.startswith("ABC.")
    ]
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


@contextlib.contextmanager
def _seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (pyABC draws from it); restore its state after."""
    state = np.random.get_state()  # noqa: NPY002  (pyABC uses the global generator: save it to restore it)
    entropy = np.random.SeedSequence([int(seed), _PYABC_STREAM]).generate_state(4)
    np.random.seed(entropy)  # noqa: NPY002  (the only way to make pyABC's draws reproducible)
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002  (give the caller its generator back)


def _check_out(out_dir: Path, force: bool) -> None:
    """RunDirectoryError if ``out_dir`` may not receive this calibration."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        raise RunDirectoryError(
            f"{out_dir}: not empty and not a calibration directory (no {MANIFEST}); "
            "choose another output directory (it is never overwritten, even with "
            "--force)"
        )
    if not force:
        import json

        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            what = f" {old.get('name')!r}, status {old.get('status')}"
        except (OSError, ValueError, AttributeError):
            what = ""
        raise RunDirectoryError(
            f"{out_dir}: holds a calibration{what}; use --force (force=True) to "
            "replace it, or choose another output directory"
        )


def _sampler_text(workers: int, scheduler: str | None) -> str:
    if scheduler is not None:
        return f"dask (scheduler {scheduler})"
    if workers == 0:
        return "single-core (this process)"
    return f"dask (local cluster of {workers} worker processes)"


def _stop_reason(
    abc: Any, spec: CalibrationSpec, t: int, eps: float, rate: float
) -> str:
    """Which stopping rule ended the run (as pyABC's ``termination_criteria_fulfilled``)."""
    if eps <= spec.min_epsilon:
        return "min_epsilon"
    if rate < spec.min_acceptance_rate:
        return "min_acceptance_rate"
    if spec.max_walltime_min is not None and datetime.now() - abc.init_walltime > (
        timedelta(minutes=spec.max_walltime_min)
    ):
        return "max_walltime"
    if t >= abc.max_t:
        return "generations"
    return "other"


def _run_abc(
    pyabc: Any,
    plan: CalibrationPlan,
    sampler: Any,
    db_path: Path,
    threads: int | None,
    progress: CalibrationProgress | None,
) -> tuple[Any, str]:
    """Run ABC-SMC as ``ABCSMC.run`` does, calling ``progress`` after each population.

    Returns
    -------
    tuple
        ``(history, stop_reason)``.
    """
    spec = plan.spec
    model = plan.particle_model(threads)
    prior = pyabc.Distribution(
        **{
            name: _pyabc_rv(pyabc, p)
            for name, p in zip(model.names, spec.priors.values(), strict=True)
        }
    )
    if spec.distance == "adaptive":
        distance = pyabc.AdaptivePNormDistance(p=2)
    else:
        distance = pyabc.PNormDistance(
            p=2,
            fixed_weights={
                t.outcome: 1.0 / t.scale
                for t in plan.targets.items
                if t.scale is not None
            },
        )
    abc = pyabc.ABCSMC(
        pyabc.model.FunctionModel(model, name=spec.name),
        prior,
        distance,
        population_size=spec.population_size,
        sampler=sampler,
    )
    abc.new(f"sqlite:///{db_path.resolve()}", plan.targets.observed())
    walltime = (
        None
        if spec.max_walltime_min is None
        else timedelta(minutes=spec.max_walltime_min)
    )
    try:
        t = abc.initialize_components_before_run(
            minimum_epsilon=spec.min_epsilon,
            max_nr_populations=spec.generations,
            min_acceptance_rate=spec.min_acceptance_rate,
            max_total_nr_simulations=np.inf,
            max_walltime=walltime,
            min_eps_diff=0.0,
        )
        while True:
            ret = abc.run_generation(t=t)
            if not ret["successful"]:  # hit population_size / min_acceptance_rate
                return abc.history, "min_acceptance_rate"
            eps, rate = float(abc.eps(t)), float(ret["acceptance_rate"])
            if progress is not None:
                progress(t, eps, rate)
            if abc.check_terminate(t=t, acceptance_rate=rate):
                return abc.history, _stop_reason(abc, spec, t, eps, rate)
            t += 1
    finally:  # as pyABC's run_cleanup
        abc.history.done(end_time=datetime.now())
        abc.sampler.stop()


def _populations(history: Any) -> pd.DataFrame:
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].sort_values("t").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "t": pops["t"].astype(np.int64),
            "epsilon": pops["epsilon"].astype(np.float64),
            "particles": pops["particles"].astype(np.int64),
            "samples": pops["samples"].astype(np.int64),
        }
    )
    out["acceptance_rate"] = out["particles"] / out["samples"]
    if "wall_time" in pops:
        out["wall_s"] = pops["wall_time"].astype(np.float64).round(6)
    return out


def _posterior(history: Any, model: ParticleModel) -> pd.DataFrame:
    frame, w = history.get_distribution(m=0, t=history.max_t)
    cols: dict[str, Any] = {}
    for path, name, log, integer in zip(
        model.paths, model.names, model.log_scale, model.integer, strict=True
    ):
        x = frame[name].to_numpy(dtype=np.float64)
        x = np.exp(x) if log else x
        cols[path] = np.round(x).astype(np.int64) if integer else x
    w = np.asarray(w, dtype=np.float64)
    cols["weight"] = w / w.sum()
    return pd.DataFrame(cols)


def run_calibration(
    path_or_plan: Path | CalibrationPlan,
    out_dir: Path,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    force: bool = False,
    progress: CalibrationProgress | None = None,
) -> CalibrationRun:
    """Calibrate the parameters of a calibration file by ABC-SMC into ``out_dir``.

    Parameters
    ----------
    path_or_plan : Path or CalibrationPlan
        The calibration file, or a plan from :func:`load_calibration`.
    out_dir : Path
        Output directory (module docstring); created, or replaced with ``force`` if it
        holds a calibration.
    workers : int
        0: particles run one after the other in this process (pyABC
        ``SingleCoreSampler``), and the posterior is reproducible from the seed;
        N: a local Dask cluster of N one-thread processes (pyABC
        ``DaskDistributedSampler``), whose posterior differs between runs.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of a local
        cluster; its workers must import metastroma.
    force : bool
        Replace a calibration that ``out_dir`` holds (never another kind of directory).
    progress : callable, optional
        ``progress(t, epsilon, acceptance_rate)`` after each population ``t`` (0-based).

    Returns
    -------
    CalibrationRun

    Raises
    ------
    ConfigError
        pyABC is missing, the file is invalid (see :func:`load_calibration`), ``workers``
        is negative, or the pilot particle at the prior medians misses a target (see
        :func:`check_targets`); nothing has been written.
    RunDirectoryError
        ``out_dir`` is a file, a non-empty directory without ``calibration.json``, or
        holds a calibration and ``force`` is false; nothing has been written.
    RuntimeError
        A particle's model failed, or no population was accepted; ``calibration.json``
        records ``status: failed`` and the error.
    """
    from metastroma import __version__
    from metastroma.store.manifest import environment, utc_now

    pyabc = _import_pyabc()
    plan = (
        path_or_plan
        if isinstance(path_or_plan, CalibrationPlan)
        else load_calibration(Path(path_or_plan))
    )
    if workers < 0:
        raise ConfigError(f"--workers {workers}: must be >= 0 (0: in this process)")
    spec = plan.spec
    out_dir = Path(out_dir)
    _check_out(out_dir, force)
    pilot = check_targets(plan)
    if out_dir.exists() and any(out_dir.iterdir()):
        shutil.rmtree(out_dir)  # a calibration, and force: checked by _check_out
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_dir / "spec.yaml", plan.text.encode("utf-8"))
    model = plan.particle_model()
    serial = workers == 0 and scheduler is None
    manifest: dict[str, Any] = {
        "package": "metastroma",
        "version": __version__,
        "manifest_version": MANIFEST_VERSION,
        "kind": "calibration",
        "name": spec.name,
        "status": "running",
        "started_utc": utc_now(),
        "ended_utc": None,
        "model": plan.ref.kind,
        "base": plan.ref.source,
        "base_sha256": plan.ref.digest,
        "calibration_file": plan.source,
        "targets_file": plan.targets.source,
        "targets": {
            t.outcome: {"value": t.value, "scale": t.scale} for t in plan.targets.items
        },
        "fixed": dict(spec.fixed),
        "priors": {
            k: {
                **p.model_dump(exclude_none=True),
                "pyabc_name": n,
                "sampled_as": "ln x" if p.log_scale else "x",
            }
            for (k, p), n in zip(spec.priors.items(), model.names, strict=True)
        },
        "truth": dict(spec.truth),
        "seed": spec.seed,
        "replicates": spec.replicates,
        "population_size": spec.population_size,
        "max_generations": spec.generations,
        "min_epsilon": spec.min_epsilon,
        "min_acceptance_rate": spec.min_acceptance_rate,
        "max_walltime_min": spec.max_walltime_min,
        "distance": spec.distance,
        "sampler": _sampler_text(workers, scheduler),
        "workers": workers,
        "scheduler": scheduler,
        "reproducible": serial,
        "pyabc_version": str(getattr(pyabc, "__version__", "unknown")),
        "pilot": pilot,
        **environment(),
    }
    write_json_atomic(out_dir / MANIFEST, manifest)
    t0 = time.perf_counter()
    try:
        with _quiet_pyabc(), _seeded_global_numpy(spec.seed):
            if serial:
                sampler = pyabc.sampler.SingleCoreSampler(check_max_eval=True)
                history, reason = _run_abc(
                    pyabc, plan, sampler, out_dir / "abc.db", None, progress
                )
            else:
                with dask_client(workers, scheduler) as client:
                    sampler = pyabc.sampler.DaskDistributedSampler(dask_client=client)
                    history, reason = _run_abc(
                        pyabc, plan, sampler, out_dir / "abc.db", 1, progress
                    )
        populations = _populations(history)
        if populations.empty:
            raise RuntimeError(
                "no population was accepted: the first one stopped after "
                f"population_size / min_acceptance_rate = "
                f"{spec.population_size / spec.min_acceptance_rate:g} simulations; "
                "lower min_acceptance_rate"
            )
    except BaseException as err:  # record how the run ended, then re-raise
        manifest.update(
            status="interrupted" if isinstance(err, KeyboardInterrupt) else "failed",
            ended_utc=utc_now(),
            wall_s=round(time.perf_counter() - t0, 3),
            error="".join(traceback.format_exception(err)),
        )
        write_json_atomic(out_dir / MANIFEST, manifest)
        raise
    posterior = _posterior(history, model)
    summary = _summary(posterior, spec)
    import pyarrow as pa

    write_parquet_atomic(
        out_dir / "posterior.parquet",
        pa.Table.from_pandas(posterior, preserve_index=False),
    )
    write_bytes_atomic(
        out_dir / "posterior_summary.csv", summary.to_csv(index=False).encode()
    )
    write_bytes_atomic(
        out_dir / "populations.csv", populations.to_csv(index=False).encode()
    )
    from metastroma.viz.calibration import plot_posterior_pairs

    figure = plot_posterior_pairs(
        posterior[plan.parameters],
        posterior["weight"].to_numpy(),
        out_dir / "figures" / "posterior_pairs.png",
        ranges={k: prior_range(p) for k, p in spec.priors.items()},
        log_parameters=[k for k, p in spec.priors.items() if p.log_scale],
        truth=spec.truth,
        intervals={
            r.parameter: (r.ci95_low, r.ci95_high) for r in summary.itertuples()
        },
        title=f"{spec.name}: posterior (population {int(populations['t'].iloc[-1])})",
    )
    w = posterior["weight"].to_numpy()
    manifest.update(
        status="complete",
        ended_utc=utc_now(),
        wall_s=round(time.perf_counter() - t0, 3),
        stop_reason=reason,
        generations=len(populations),
        final_epsilon=float(populations["epsilon"].iloc[-1]),
        epsilons=[float(v) for v in populations["epsilon"]],
        acceptance_rates=[float(v) for v in populations["acceptance_rate"]],
        n_simulations=int(history.total_nr_simulations),
        n_simulations_note="includes the population_size prior draws pyABC uses to "
        "calibrate the first epsilon and distance; with Dask, also particles cancelled "
        "once a population was full",
        effective_sample_size=float(1.0 / np.sum(w**2)),
    )
    write_json_atomic(out_dir / MANIFEST, manifest)
    return CalibrationRun(out_dir, posterior, summary, populations, manifest, [figure])
