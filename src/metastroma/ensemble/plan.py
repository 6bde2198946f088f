"""From an ensemble file to its members: design points × replicates, each with its seed.

Points are the rows of a design over the varied parameters:

- ``grid``: every combination of the listed values, the last parameter varying fastest;
- ``list``: the i-th value of every parameter together;
- ``lhs``: a Latin hypercube (McKay, Beckman & Conover 1979) of ``samples`` points;
- ``sobol``: ``samples`` points of a scrambled Sobol' sequence (Sobol' 1967; Owen
  scrambling), both from :mod:`scipy.stats.qmc` seeded by the ensemble's seed;
- explicit points (sensitivity analyses hand their SALib sample over).

Ranges are sampled on [0, 1) and mapped linearly or in log10 (``scale: log``); ``integer``
rounds to the nearest integer. Member ``m = point × replicates + replicate``; its seed is
``seed + replicate`` with common random numbers (the default: every point sees the same
replicate seeds, so differences between points are not seed noise), or a 62-bit integer
drawn from ``SeedSequence([seed, point, replicate])`` with independent seeds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from metastroma.config.sweep import EnsembleBase, SweepSpec

__all__ = ["Member", "design_points", "member_seed", "members", "plan_digest"]


@dataclass(frozen=True)
class Member:
    """One member of an ensemble.

    Attributes
    ----------
    member_id : int
        ``point × replicates + replicate``; names its directory ``members/m{id:06d}``.
    point : int
        Index of its design point.
    replicate : int
    seed : int
    params : dict
        Parameter path → value (fixed ones first, then the varied ones).
    """

    member_id: int
    point: int
    replicate: int
    seed: int
    params: dict[str, Any]

    @property
    def dirname(self) -> str:
        """Directory name under ``members/``."""
        return f"m{self.member_id:06d}"


def _scaled(u: np.ndarray, spec: SweepSpec) -> list[list[Any]]:
    cols: list[list[Any]] = []
    for j, p in enumerate(spec.parameters.values()):
        assert p.low is not None and p.high is not None  # the spec's validator
        if p.scale == "log":
            lo, hi = np.log10(p.low), np.log10(p.high)
            x = 10.0 ** (lo + u[:, j] * (hi - lo))
        else:
            x = p.low + u[:, j] * (p.high - p.low)
        if p.integer:
            cols.append([int(v) for v in np.rint(x)])
        else:
            cols.append([float(v) for v in x])
    return [list(row) for row in zip(*cols, strict=True)]


def design_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The design's points, each a mapping parameter path → value, in a fixed order."""
    names = list(spec.parameters)
    if spec.design == "grid":
        rows = itertools.product(*(p.values or [] for p in spec.parameters.values()))
        return [dict(zip(names, r, strict=True)) for r in rows]
    if spec.design == "list":
        cols = [p.values or [] for p in spec.parameters.values()]
        return [dict(zip(names, r, strict=True)) for r in zip(*cols, strict=True)]
    from scipy.stats import qmc

    assert spec.samples is not None  # the spec's validator
    d = len(names)
    engine: qmc.QMCEngine
    if spec.design == "lhs":
        engine = qmc.LatinHypercube(d=d, rng=np.random.default_rng([spec.seed, 101]))
    else:
        engine = qmc.Sobol(
            d=d, scramble=True, rng=np.random.default_rng([spec.seed, 102])
        )
    u = engine.random(spec.samples)
    return [dict(zip(names, r, strict=True)) for r in _scaled(u, spec)]


def member_seed(spec: EnsembleBase, point: int, replicate: int) -> int:
    """Seed of replicate ``replicate`` of point ``point`` (see the module docstring)."""
    if spec.seeds == "common":
        return int(spec.seed + replicate)
    state = np.random.SeedSequence([spec.seed, point, replicate]).generate_state(
        1, np.uint64
    )
    return int(state[0] >> np.uint64(2))


def members(spec: EnsembleBase, points: list[dict[str, Any]]) -> list[Member]:
    """Every member: points × replicates, with the fixed parameters set first."""
    out = []
    for i, point in enumerate(points):
        for r in range(spec.replicates):
            out.append(
                Member(
                    i * spec.replicates + r,
                    i,
                    r,
                    member_seed(spec, i, r),
                    {**spec.fixed, **point},
                )
            )
    return out


def plan_digest(spec: EnsembleBase, base_digest: str, extra: Any = None) -> str:
    """SHA-256 of what decides the members' results: the spec, the base file, extras.

    A resumed ensemble refuses an output directory made with another digest.
    """
    payload = {
        "spec": spec.model_dump(mode="json", exclude={"description"}),
        "base_sha256": base_digest,
        "extra": extra,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
