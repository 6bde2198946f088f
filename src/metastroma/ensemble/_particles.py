"""Priors and particles of a calibration: prior summaries, pyABC random variables, the model.

- :func:`prior_median`, :func:`prior_range`: where a prior sits (pilot particle, plots);
  log priors (loguniform, lognormal) are sampled as ln x, so pyABC's perturbation moves
  them by factors;
- :func:`particle_seed`: each particle's seed from the calibration seed and its values,
  so a particle's simulation is reproducible;
- :class:`ParticleModel`: the picklable model pyABC calls (on Dask workers too): it runs
  the member at the particle's values with :func:`metastroma.ensemble.evaluate` and
  returns the target outcomes (the mean over ``replicates`` seeded runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metastroma.config.calibration import PriorSpec
from metastroma.ensemble.model import ModelRef, evaluate

#: z of the central 95 % interval of a normal distribution.
_Z975 = 1.959963984540054


def prior_median(prior: PriorSpec) -> float:
    """The prior's median, in the parameter's units.

    Examples
    --------
    >>> from metastroma.config.calibration import PriorSpec
    >>> prior_median(PriorSpec(distribution="loguniform", low=0.01, high=1.0))
    0.1
    """
    if prior.distribution == "uniform":
        assert prior.low is not None and prior.high is not None  # PriorSpec checks
        return 0.5 * (prior.low + prior.high)
    if prior.distribution == "loguniform":
        assert prior.low is not None and prior.high is not None
        return float(round(math.sqrt(prior.low * prior.high), 15))
    if prior.distribution == "normal":
        assert prior.mean is not None
        return prior.mean
    assert prior.median is not None
    return prior.median


def prior_range(prior: PriorSpec) -> tuple[float, float]:
    """The prior's bounds (uniform, loguniform) or central 95 % interval (normal, lognormal).

    Returns
    -------
    tuple of float
        ``(low, high)`` in the parameter's units.

    Examples
    --------
    >>> from metastroma.config.calibration import PriorSpec
    >>> prior_range(PriorSpec(distribution="uniform", low=0.05, high=1.0))
    (0.05, 1.0)
    """
    if prior.distribution in ("uniform", "loguniform"):
        assert prior.low is not None and prior.high is not None
        return prior.low, prior.high
    if prior.distribution == "normal":
        assert prior.mean is not None and prior.sd is not None
        return prior.mean - _Z975 * prior.sd, prior.mean + _Z975 * prior.sd
    assert prior.median is not None and prior.sigma_log is not None
    return (
        prior.median * math.exp(-_Z975 * prior.sigma_log),
        prior.median * math.exp(_Z975 * prior.sigma_log),
    )


def _support_points(prior: PriorSpec) -> list[float]:
    """Values a particle can reach: the bounds, or the median ± 4 standard deviations."""
    if prior.distribution in ("uniform", "loguniform"):
        assert prior.low is not None and prior.high is not None
        return [prior.low, prior.high]
    if prior.distribution == "normal":
        assert prior.mean is not None and prior.sd is not None
        return [prior.mean - 4 * prior.sd, prior.mean + 4 * prior.sd]
    assert prior.median is not None and prior.sigma_log is not None
    return [
        prior.median * math.exp(-4 * prior.sigma_log),
        prior.median * math.exp(4 * prior.sigma_log),
    ]


def _pyabc_rv(pyabc: Any, prior: PriorSpec) -> Any:
    """The pyABC random variable of a prior (in ln x for log priors)."""
    if prior.distribution == "uniform":
        assert prior.low is not None and prior.high is not None
        return pyabc.RV("uniform", prior.low, prior.high - prior.low)
    if prior.distribution == "loguniform":
        assert prior.low is not None and prior.high is not None
        lo, hi = math.log(prior.low), math.log(prior.high)
        return pyabc.RV("uniform", lo, hi - lo)
    if prior.distribution == "normal":
        return pyabc.RV("norm", prior.mean, prior.sd)
    assert prior.median is not None
    return pyabc.RV("norm", math.log(prior.median), prior.sigma_log)


# ------------------------------------------------------------------------- particles


def particle_seed(seed: int, values: Sequence[float], replicate: int = 0) -> int:
    """Seed of one run of a particle: a function of (seed, its values, replicate) only.

    Parameters
    ----------
    seed : int
        The calibration's seed.
    values : sequence of float
        The particle's parameter values, in the order of ``priors``, in their units.
    replicate : int

    Returns
    -------
    int
        In [0, 2**62), from ``SeedSequence([seed, replicate, *bits of the values])``.

    Examples
    --------
    >>> particle_seed(1, [0.3]) == particle_seed(1, [0.3])
    True
    >>> particle_seed(1, [0.3]) == particle_seed(1, [0.30000000000000004])
    False
    """
    words = np.frombuffer(np.asarray(values, dtype=np.float64).tobytes(), np.uint32)
    state = np.random.SeedSequence(
        [int(seed), int(replicate), *map(int, words)]
    ).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(2))


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}"
        for k, v in params.items()
    )


@dataclass(frozen=True)
class ParticleModel:
    """The model pyABC calls: pyABC parameters in, target outcomes out.

    A module-level class of plain data, so that Dask ships it to workers by reference.

    Attributes
    ----------
    ref : ModelRef
    fixed : dict
        Parameter path → value, set before the calibrated ones.
    paths : tuple of str
        Calibrated parameter paths, in the order of ``priors``.
    names : tuple of str
        pyABC's names of the same parameters (``theta_0``, …).
    log_scale : tuple of bool
        pyABC samples ln x for these.
    integer : tuple of bool
        Rounded to integers before the model runs.
    outcomes : tuple of str
        Target outcomes returned.
    seed : int
        The calibration's seed.
    replicates : int
        Runs per particle; outcomes are their means.
    threads : int or None
        numba threads of a tissue run (1 on Dask workers).
    """

    ref: ModelRef
    fixed: dict[str, Any]
    paths: tuple[str, ...]
    names: tuple[str, ...]
    log_scale: tuple[bool, ...]
    integer: tuple[bool, ...]
    outcomes: tuple[str, ...]
    seed: int
    replicates: int = 1
    threads: int | None = None

    def parameters(self, theta: Mapping[str, float]) -> dict[str, float | int]:
        """Parameter path → value in its units, from pyABC's ``theta_i``."""
        out: dict[str, float | int] = {}
        for path, name, log, integer in zip(
            self.paths, self.names, self.log_scale, self.integer, strict=True
        ):
            value = float(theta[name])
            value = math.exp(value) if log else value
            out[path] = round(value) if integer else value
        return out

    def run(self, params: Mapping[str, float | int]) -> dict[str, float]:
        """All outcomes of a particle (means over replicates), in the model's units.

        Raises
        ------
        RuntimeError
            The model failed (the particle's values and seed, chained to the error).
        """
        values = [float(v) for v in params.values()]
        total: dict[str, float] = {}
        for r in range(self.replicates):
            seed = particle_seed(self.seed, values, r)
            try:
                got = evaluate(
                    self.ref, {**self.fixed, **params}, seed, threads=self.threads
                )
            except Exception as err:
                raise RuntimeError(
                    f"particle {_describe(params)} (seed {seed}): the model "
                    f"({self.ref.source}) failed: {type(err).__name__}: {err}"
                ) from err
            if r == 0:
                total = dict(got)
            else:
                for k in total:
                    total[k] += got.get(k, math.nan)
        return {k: v / self.replicates for k, v in total.items()}

    def __call__(self, theta: Mapping[str, float]) -> dict[str, float]:
        """The target outcomes of the particle ``theta`` (pyABC's model interface).

        Raises
        ------
        RuntimeError
            The model failed, or a target outcome is missing or not finite (pyABC has
            no way to reject a particle whose outcome is NaN: it would stall a
            population).
        """
        params = self.parameters(theta)
        got = self.run(params)
        missing = [o for o in self.outcomes if o not in got]
        bad = [o for o in self.outcomes if o in got and not math.isfinite(got[o])]
        if missing or bad:
            what = "missing" if missing else "not finite"
            raise RuntimeError(
                f"particle {_describe(params)}: target outcome(s) "
                f"{', '.join(missing or bad)} {what} (got {_describe(got)})"
            )
        return {o: got[o] for o in self.outcomes}
