"""What the experiments share: the WT reference scenario, the arms, batches, effect rows.

**Arms** are documented overrides of the WT reference (``scenarios/ddr2_wt_msc_2d.yaml``,
embedded here as :data:`WT_REFERENCE` so that an installed package does not need the
repository; a test keeps the two identical):

=================  ===========================================================  ========
arm                override                                                     §8.1
=================  ===========================================================  ========
``wt``             none: inducible cancer cells (χ = 1, D₀ = 0.25), DDR2+ MSCs  WT
``cancer_ko``      ``ddr2.cancer.perturbation: knockout`` (D₀ = D_max = 0)       KO
``slie``           ``msc_rules.genotype: 0`` (DDR2-null host MSCs)              slie/slie
``no_msc``         the MSC placement dropped                                    control
``transwell``      ``ddr2.contact: transwell`` (n_i ≡ 0, shared medium and O₂)  E5 (b)
``benign``         benign epithelium (D₀ = 0, χ = 0), intravasation off          E5 (d)
``inhibitor θ``    ``ddr2.inhibitor: [{start_min: 0, occupancy: θ}]``           E9 (i)
``hypoxic``        ``ddr2.hypoxic_induction_per_min: 6.95e-4`` (0.5 k_ind)      E9 (ii)
=================  ===========================================================  ========

Replicate r of every arm runs with seed ``base_seed + r`` (common random numbers: the same
initial cells, collagen directors and doorways in every arm), so two arms are compared
replicate by replicate (paired bootstrap) unless an arm offsets its seeds on purpose (E8's
slie/+ arm, a different group of mice).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from metastroma.experiments._result import Effect, ReplicateFailure
from metastroma.experiments._run import Job, JobResult, Probe, run_jobs
from metastroma.experiments._stats import (
    CI,
    bootstrap_contrast_ci,
    bootstrap_mean_ci,
)

if TYPE_CHECKING:
    import pandas as pd

    from metastroma._typing import F64Array
    from metastroma.tissue.simulation import TissueSimulation

#: The WT reference arm, as in scenarios/ddr2_wt_msc_2d.yaml (without its output section).
WT_REFERENCE: dict[str, Any] = {
    "name": "ddr2_wt_msc_2d",
    "description": "DDR2 wild type with DDR2+ MSCs, 2D spheroid in random collagen.",
    "seed": 1,
    "domain": {"lower_um": [-600, -600], "upper_um": [600, 600], "voxel_um": 20},
    "time": {"duration_min": 2880},
    "cell_types": {"cancer": {}, "msc": {}},
    "initial_cells": [
        {
            "kind": "cancer",
            "shape": "ball",
            "n_cells": 390,
            "radius_um": 175,
            "relax_overlaps": True,
        },
        {
            "kind": "msc",
            "shape": "ring",
            "n_cells": 39,
            "inner_radius_um": 150,
            "radius_um": 260,
        },
    ],
    "ddr2": {"enabled": True},
    "ecm": {"enabled": True},
    "msc_rules": {"genotype": 1.0},
    "intravasation": {"enabled": True, "doorway_density_per_mm2": 20},
}

#: Tumour radius R₀ of the reference (µm).
R0_UM = 175.0
#: Basal cancer-cell DDR2 expression D₀ (SCIENCE.md Table 4.5).
D0 = 0.25
#: Target tumour-average exit rate h̄ (1/cell/min; SCIENCE.md §5.6, Table 5.4).
SHEDDING_TARGET_PER_MIN = 2.2e-6
#: k_hyp for the hypoxic-induction option, 0.5 k_ind (SCIENCE.md Table 4.5).
HYPOXIC_INDUCTION_PER_MIN = 6.95e-4


def merge(base: Mapping[str, Any], *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep copy of ``base`` with each override merged in (mappings recursively).

    Examples
    --------
    >>> merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
    {'a': {'b': 1, 'c': 3}}
    """
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for ov in overrides:
        for k, v in ov.items():
            if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
                out[k] = merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
    return out


def without_msc(data: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario with its MSC placement(s) dropped."""
    out = merge(data)
    out["initial_cells"] = [p for p in out["initial_cells"] if p.get("kind") != "msc"]
    return out


def cancer_ko(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cancer-cell DDR2 knockout (D₀ = D_max = 0, SCIENCE.md §8.1)."""
    return merge(data, {"ddr2": {"cancer": {"perturbation": "knockout"}}})


def slie_host(data: Mapping[str, Any]) -> dict[str, Any]:
    """DDR2-null host MSCs, δ = 0 (slie/slie, SCIENCE.md §8.1)."""
    return merge(data, {"msc_rules": {"genotype": 0.0}})


def inhibitor(data: Mapping[str, Any], theta: float, start_min: float = 0.0) -> dict:
    """A DDR2 inhibitor blocking a fraction θ_I of receptors from ``start_min`` on."""
    return merge(
        data, {"ddr2": {"inhibitor": [{"start_min": start_min, "occupancy": theta}]}}
    )


def transwell(data: Mapping[str, Any]) -> dict[str, Any]:
    """Contact disabled (n_i ≡ 0) while MSCs share medium and oxygen (E5 (b))."""
    return merge(data, {"ddr2": {"contact": "transwell"}})


def benign(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cancer placements become benign epithelium (D₀ = 0, χ = 0), no intravasation."""
    out = merge(data)
    for p in out["initial_cells"]:
        if p.get("kind", "cancer") == "cancer":
            p["kind"] = "benign"
    ct = out.setdefault("cell_types", {})
    ct["benign"] = ct.get("cancer") or {}
    out["intravasation"] = {**out.get("intravasation", {}), "enabled": False}
    return out


def hypoxic_induction(data: Mapping[str, Any]) -> dict[str, Any]:
    """Hypoxic DDR2 induction on, k_hyp = 0.5 k_ind (Ren 2014; SCIENCE.md Table 4.5)."""
    return merge(
        data, {"ddr2": {"hypoxic_induction_per_min": HYPOXIC_INDUCTION_PER_MIN}}
    )


def spheroid(r0_um: float = R0_UM) -> dict[str, Any]:
    """The WT reference scaled to tumour radius ``r0_um`` (the 'small' sizes' tumour).

    Cancer cells ∝ R₀² (390 at 175 µm), MSCs 1 : 10, the MSC ring at 150/175–260/175 R₀,
    the domain half-width 600/175 R₀ (to whole 20-µm elements); everything else as the
    reference. ``spheroid(175)`` is :data:`WT_REFERENCE`.
    """
    if abs(r0_um - R0_UM) < 1e-9:
        return merge(WT_REFERENCE)
    f = r0_um / R0_UM
    n_cancer = max(1, round(390 * f * f))
    half = 20.0 * math.ceil(600.0 * f / 20.0)
    out = merge(
        WT_REFERENCE,
        {"domain": {"lower_um": [-half, -half], "upper_um": [half, half]}},
    )
    out["initial_cells"][0].update(n_cells=n_cancer, radius_um=r0_um)
    out["initial_cells"][1].update(
        n_cells=max(1, round(n_cancer / 10)),
        inner_radius_um=150.0 * f,
        radius_um=260.0 * f,
    )
    return out


def nanmean(x: npt.ArrayLike, axis: int | None = None) -> Any:
    """``np.nanmean`` that returns NaN for an all-NaN slice without a RuntimeWarning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(x, dtype=np.float64), axis=axis)


def hours(*h: float) -> tuple[float, ...]:
    """Times in hours as minutes."""
    return tuple(60.0 * x for x in h)


# --------------------------------------------------------------------------- probes


class StromaProbe(Probe):
    """The metrics row of the DDR2 model: ``measure_stroma`` plus cell counts and radius.

    Keys: every column of :func:`metastroma.tissue.metrics.measure_stroma`, and
    ``n_cancer`` (live cancer cells), ``n_msc``, ``tumour_radius_um`` (from the radius of
    gyration, :func:`metastroma.tissue.metrics.tumour_radius_um`), ``expected_exits``
    (h₀ × doorway exposure: the expected number of exits given the run, SCIENCE.md §5.6)
    and ``exit_rate_per_min`` (exits per cancer cell-minute).
    """

    def measure(self, sim: TissueSimulation) -> dict[str, float]:
        """The metrics row at ``sim.t_min``."""
        return stroma_row(sim)


def stroma_row(sim: TissueSimulation) -> dict[str, float]:
    """:class:`StromaProbe`'s measurements of a simulation now."""
    from metastroma.config import CellKind
    from metastroma.kernels import LIVE
    from metastroma.tissue.metrics import measure_stroma, tumour_radius_um

    cells = sim.cells
    row = measure_stroma(cells, sim.scenario, sim.ecm, sim.counters, sim.backend)
    kind = cells.live("kind")
    live = cells.live("state") == LIVE
    cancer = live & (kind == CellKind.CANCER)
    row["n_cancer"] = float(np.count_nonzero(cancer))
    row["n_msc"] = float(np.count_nonzero(live & (kind == CellKind.MSC)))
    row["tumour_radius_um"], _ = tumour_radius_um(
        cells.live("pos_um")[cancer], sim.scenario.dim
    )
    h0 = sim.scenario.intravasation.base_hazard_per_min
    c = sim.counters
    row["expected_exits"] = h0 * c.exposure_min
    row["cancer_cell_min"] = c.cancer_cell_min
    row["exit_rate_per_min"] = (
        c.cells / c.cancer_cell_min if c.cancer_cell_min > 0 else math.nan
    )
    row["expected_rate_per_min"] = (
        row["expected_exits"] / c.cancer_cell_min if c.cancer_cell_min > 0 else math.nan
    )
    return row


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class RunContext:
    """How an experiment is run: size, replicates, seeds, workers, progress.

    Attributes
    ----------
    name : str
        Experiment name (``'E7'``).
    size : str
        ``'small'`` or ``'full'``.
    replicates : int
        Replicates per arm.
    base_seed : int
    workers : int
    params : dict
        The size's parameters (durations, cell numbers, ...).
    progress : callable, optional
        ``progress(label, n_done, n_total)`` after each replicate.
    """

    name: str
    size: str
    replicates: int
    base_seed: int
    workers: int
    params: Mapping[str, Any]
    progress: Callable[[str, int, int], None] | None = None

    def run(
        self,
        arms: Mapping[str, Mapping[str, Any]],
        probe: Probe,
        times_min: Sequence[float],
        *,
        replicates: int | None = None,
        seed_offsets: Mapping[str, int] | None = None,
        label: str = "",
    ) -> Batch:
        """Run every arm × replicate; replicate r of arm a gets seed base + offset_a + r."""
        from metastroma.config import scenario_from_dict, scenario_hash

        n_rep = self.replicates if replicates is None else replicates
        offsets = dict(seed_offsets or {})
        jobs: list[Job] = []
        hashes: dict[str, str] = {}
        seeds: dict[str, list[int]] = {}
        times = tuple(float(t) for t in times_min)
        for arm, data in arms.items():
            first = self.base_seed + offsets.get(arm, 0)
            seeds[arm] = [first + r for r in range(n_rep)]
            resolved = merge(
                data,
                {"seed": first, "time": {"duration_min": max(times)}},
            )
            # validated here too: a bad arm is a bug, reported before any run starts
            hashes[arm] = scenario_hash(scenario_from_dict(resolved, source=arm))
            jobs += [
                Job(arm, r, first + r, dict(data), times, probe) for r in range(n_rep)
            ]

        def report(res: JobResult, done: int, total: int) -> None:
            if self.progress is not None:
                self.progress(label or self.name, done, total)

        results = run_jobs(jobs, self.workers, report)
        return Batch.from_results(results, hashes, seeds)


@dataclass
class Batch:
    """The replicate table, failures, scenario hashes and seeds of one set of runs."""

    table: pd.DataFrame
    failures: list[ReplicateFailure] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, list[int]] = field(default_factory=dict)
    wall_s: float = 0.0

    @classmethod
    def from_results(
        cls,
        results: Sequence[JobResult],
        hashes: dict[str, str],
        seeds: dict[str, list[int]],
    ) -> Batch:
        """Tidy table (arm, replicate, seed, t_min, measurements) from job results."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        fails: list[ReplicateFailure] = []
        for res in results:
            if res.error is not None:
                fails.append(
                    ReplicateFailure(res.arm, res.replicate, res.seed, res.error)
                )
                continue
            for r in res.rows:
                rows.append(
                    {
                        "arm": res.arm,
                        "replicate": res.replicate,
                        "seed": res.seed,
                        **r,
                    }
                )
        table = pd.DataFrame(rows)
        if table.empty:
            table = pd.DataFrame(columns=["arm", "replicate", "seed", "t_min"])
        return cls(table, fails, hashes, seeds, sum(r.wall_s for r in results))

    def extend(self, other: Batch) -> Batch:
        """The two batches as one (tables concatenated)."""
        import pandas as pd

        return Batch(
            pd.concat([self.table, other.table], ignore_index=True, sort=False),
            self.failures + other.failures,
            {**self.hashes, **other.hashes},
            {**self.seeds, **other.seeds},
            self.wall_s + other.wall_s,
        )


def values(
    table: pd.DataFrame,
    arm: str,
    column: str,
    t_min: float | None = None,
    replicates: int | None = None,
) -> F64Array:
    """(n_rep,) values of ``column`` for ``arm`` at ``t_min`` (the last time if None).

    Ordered by replicate index; with ``replicates`` given, a missing (failed) replicate
    is NaN, so two arms stay aligned for a paired comparison.
    """
    sub = table[table["arm"] == arm]
    if sub.empty or column not in sub.columns:
        n = replicates or 0
        return np.full(n, math.nan)
    t = float(sub["t_min"].max()) if t_min is None else float(t_min)
    sub = sub[np.isclose(sub["t_min"].to_numpy(dtype=float), t)]
    by_rep = dict(
        zip(sub["replicate"].astype(int), sub[column].astype(float), strict=True)
    )
    n = replicates if replicates is not None else (max(by_rep) + 1 if by_rep else 0)
    return np.array([by_rep.get(r, math.nan) for r in range(n)], dtype=np.float64)


def time_mean(
    table: pd.DataFrame,
    arm: str,
    column: str,
    t_from_min: float,
    t_to_min: float,
    replicates: int,
) -> F64Array:
    """(n_rep,) mean of ``column`` over the measured times in [t_from, t_to] per replicate."""
    sub = table[
        (table["arm"] == arm)
        & (table["t_min"] >= t_from_min - 1e-9)
        & (table["t_min"] <= t_to_min + 1e-9)
    ]
    out = np.full(replicates, math.nan)
    if sub.empty or column not in sub.columns:
        return out
    g = sub.groupby("replicate")[column].mean()
    for r, v in g.items():
        if 0 <= int(r) < replicates:  # type: ignore[call-overload]
            out[int(r)] = float(v)  # type: ignore[call-overload]
    return out


def paired(a: F64Array, b: F64Array) -> bool:
    """Whether two replicate vectors can be compared pair by pair (same length)."""
    return a.size == b.size and a.size > 0


def diff_effect(
    name: str,
    a_name: str,
    a: F64Array,
    b_name: str,
    b: F64Array,
    criterion: str,
    test: Callable[[CI], bool] | None,
    note: str = "",
    use_pairs: bool = True,
) -> Effect:
    """Effect row of mean(a) − mean(b) (paired when the arms share seeds)."""
    ci = bootstrap_contrast_ci(a, b, paired=use_pairs and paired(a, b))
    return Effect.from_ci(
        name,
        f"{a_name} − {b_name}",
        ci,
        criterion,
        None if test is None else bool(test(ci)),
        note,
    )


def ratio_effect(
    name: str,
    a_name: str,
    a: F64Array,
    b_name: str,
    b: F64Array,
    criterion: str,
    test: Callable[[CI], bool] | None,
    note: str = "",
    use_pairs: bool = True,
) -> Effect:
    """Effect row of mean(a) / mean(b) (paired when the arms share seeds)."""
    ci = bootstrap_contrast_ci(a, b, kind="ratio", paired=use_pairs and paired(a, b))
    return Effect.from_ci(
        name,
        f"{a_name} / {b_name}",
        ci,
        criterion,
        None if test is None else bool(test(ci)),
        note,
    )


def mean_effect(
    name: str,
    arm: str,
    x: F64Array,
    criterion: str,
    test: Callable[[CI], bool] | None,
    note: str = "",
) -> Effect:
    """Effect row of the mean of one arm."""
    ci = bootstrap_mean_ci(x)
    return Effect.from_ci(
        name, arm, ci, criterion, None if test is None else bool(test(ci)), note
    )


def within(lo: float, hi: float) -> Callable[[CI], bool]:
    """Test: the point estimate lies in [lo, hi]."""
    return lambda ci: math.isfinite(ci.estimate) and lo <= ci.estimate <= hi


def above_zero(ci: CI) -> bool:
    """Test: the interval lies wholly above 0."""
    return math.isfinite(ci.low) and ci.low > 0


def below_zero(ci: CI) -> bool:
    """Test: the interval lies wholly below 0."""
    return math.isfinite(ci.high) and ci.high < 0
