"""The first-pass circulation cascade on the organ graph (SCIENCE.md §7.2, §7.4, §7.5).

A shed cell leaves its source organ along the flow. Pools (venous return, heart, arterial
tree, portal vein) only mix: a cell crosses them without stopping. At each *filter* (capillary
bed or lymph-node basin) it arrives at, it arrests with that organ's first-pass arrest
probability p (single cell or cluster, Table 7.4), otherwise it passes on along the flow to
the next filter. Each move between two filters is one *pass*: the cell survives it with

    s = 2^(−t_transit / t½)

(t_transit the transit time per pass, default the female circulation time 0.66 min [D];
t½ the CTC half-life in blood, 1.7 h [V] Meng 2004), else it dies in transit. A cell that has
visited ``max_passes`` filters without arresting is *still circulating*.

This is an absorbing Markov chain on the filters. Leaving organ i, the first filter reached
has distribution ``L[i]`` (rows of :class:`Routing`): with T the flow matrix, P the pools and
the primary, B the filters, ``L = T[:, B] + T[:, P] (I − T_PP)⁻¹ T_PB`` (I − T_PP is invertible
because no cycle runs through pools only, which the config validates). With a = arrivals at
the filters on one pass, arrests are a ∘ p and the next pass's arrivals s (a ∘ (1 − p)) L_B;
:func:`arrest_distribution` sums this exactly (a linear solve for ``max_passes=None``).
:func:`simulate_arrests` draws the same chain cell by cell, vectorised over cells.

An arrested cell then extravasates (P_ext), survives as a solitary cell (P_dorm) and starts
growing with the organ's colonisation ('soil') probability, else stays dormant; failing either
of the first two it dies (:func:`settle_fates`). Every shed cell ends in exactly one
:class:`EndState`; the :class:`Ledger` counts them per patient and organ and checks the sum.
The survival in circulation P_circ of Table 7.5 and the viable share f_viable are not applied
here: they act on shedding (callers thin the shed cells first).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from metastroma._typing import BoolArray, F64Array, I8Array, I64Array
from metastroma.body.anatomy import Anatomy

#: Default cap on filters visited per cell: 1000 passes ≈ 11 h at 0.66 min per pass,
#: 6.5 CTC half-lives [D]; at the default lung arrest nothing is left long before.
DEFAULT_MAX_PASSES = 1000

#: Extra word of the RNG key for the fate draws (arrest draws use the bare key).
FATES_SUBSTREAM = 1


class Outcome(IntEnum):
    """How a cell left the circulation cascade; stored as ``int8``."""

    ARRESTED = 0
    DIED_IN_TRANSIT = 1
    STILL_CIRCULATING = 2


class EndState(IntEnum):
    """Where every shed cell ends, exactly one per cell; append, never renumber."""

    DIED_IN_TRANSIT = 0
    ARRESTED_DIED = 1
    DORMANT = 2
    GROWING = 3
    STILL_CIRCULATING = 4


N_END_STATES = len(EndState)
_ARRESTED_STATES = (EndState.ARRESTED_DIED, EndState.DORMANT, EndState.GROWING)


class LedgerError(ValueError):
    """The ledger does not balance; the message names the patient row, organ and counts."""


class Routing(NamedTuple):
    """Where a cell leaving an organ first meets a filter.

    Attributes
    ----------
    filters : (n_filters,) int64
        Organ indices of the filters (lymph nodes and capillary beds), ascending.
    next_filter : (n_organs, n_filters) float64
        Row i: distribution of the first filter reached on leaving organ i (rows sum to 1).
    """

    filters: I64Array
    next_filter: F64Array


class ArrestDistribution(NamedTuple):
    """Expected fates of one shed cell (or fractions of many).

    Attributes
    ----------
    arrived : (n_organs,) float64
        Expected number of arrivals at each organ (0 for pools and the primary); a filter
        visited on several passes counts each time.
    arrested : (n_organs,) float64
        Probability that the cell arrests in each organ.
    died_in_transit : float
    still_circulating : float
        ``arrested.sum() + died_in_transit + still_circulating == 1``.
    """

    arrived: F64Array
    arrested: F64Array
    died_in_transit: float
    still_circulating: float


class CascadeDraws(NamedTuple):
    """Per-cell result of :func:`simulate_arrests`.

    Attributes
    ----------
    outcome : (n_cells,) int8
        :class:`Outcome` codes.
    site : (n_cells,) int64
        Arrest organ if arrested; else the last organ the cell left or visited (the source
        for a cell that died before reaching its first filter).
    n_passes : (n_cells,) int64
        Filters visited (including the one it arrested in).
    """

    outcome: I8Array
    site: I64Array
    n_passes: I64Array

    @property
    def arrest_site(self) -> I64Array:
        """(n_cells,) int64: arrest organ, −1 for cells not arrested."""
        return np.where(self.outcome == Outcome.ARRESTED, self.site, -1)


def routing(anatomy: Anatomy) -> Routing:
    """First filter reached on leaving each organ, pools crossed analytically.

    Parameters
    ----------
    anatomy : Anatomy

    Returns
    -------
    Routing
    """
    is_f = anatomy.is_filter
    fi = np.flatnonzero(is_f).astype(np.int64)
    pi = np.flatnonzero(~is_f)
    t = anatomy.flow
    t_pp = t[np.ix_(pi, pi)]
    t_pb = t[np.ix_(pi, fi)]
    h = np.linalg.solve(np.eye(pi.size) - t_pp, t_pb)  # (n_pools, n_filters)
    nxt = t[:, fi] + t[:, pi] @ h
    return Routing(filters=fi, next_filter=nxt)


def _source_index(anatomy: Anatomy, source: str | int | None) -> int:
    if source is None:
        return anatomy.primary
    if isinstance(source, str):
        return anatomy.organ(source)
    if not 0 <= source < anatomy.n_organs:
        raise IndexError(f"source organ index {source} not in [0, {anatomy.n_organs})")
    return int(source)


def _survival(anatomy: Anatomy, survival_per_pass: float | None) -> float:
    s = anatomy.survival_per_pass if survival_per_pass is None else survival_per_pass
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"survival_per_pass = {s:g} must be in [0, 1]")
    return float(s)


def arrest_distribution(
    anatomy: Anatomy,
    source: str | int | None = None,
    *,
    cluster: bool = False,
    max_passes: int | None = DEFAULT_MAX_PASSES,
    survival_per_pass: float | None = None,
) -> ArrestDistribution:
    """Exact expected fates of a cell shed from ``source`` (no sampling).

    Parameters
    ----------
    anatomy : Anatomy
    source : str, int or None
        Organ the cell leaves; None is the primary.
    cluster : bool
        Use cluster arrest probabilities instead of single-cell ones.
    max_passes : int or None
        Filters a cell may visit; None sums the chain to infinity with one linear solve
        (raises if a closed set of filters never arrests and nothing dies in transit).
    survival_per_pass : float or None
        Override of ``anatomy.survival_per_pass`` (1 = no death in transit).

    Returns
    -------
    ArrestDistribution

    Raises
    ------
    ValueError
        ``max_passes`` < 1, or an infinite chain that never ends (singular system).
    """
    src = _source_index(anatomy, source)
    s = _survival(anatomy, survival_per_pass)
    rt = routing(anatomy)
    p = anatomy.arrest(cluster=cluster)[rt.filters]
    lb = rt.next_filter[rt.filters]  # (n_filters, n_filters)
    first = s * rt.next_filter[src]
    n = anatomy.n_organs
    arrived = np.zeros(n)
    arrested = np.zeros(n)
    if max_passes is None:
        a_mat = np.eye(p.size) - s * (1.0 - p)[:, None] * lb
        if np.linalg.cond(a_mat) > 1e12:
            raise ValueError(
                "the cascade never ends: a set of filters with arrest probability 0 "
                "traps cells and survival_per_pass = 1; give max_passes"
            )
        visits = np.linalg.solve(a_mat.T, first)
        arrived[rt.filters] = visits
        arrested[rt.filters] = visits * p
        return ArrestDistribution(arrived, arrested, 1.0 - float(arrested.sum()), 0.0)
    if max_passes < 1:
        raise ValueError(f"max_passes = {max_passes} must be >= 1")
    died = 1.0 - s
    a = first
    passed = a
    for k in range(max_passes):  # loop over passes, not cells
        arrived[rt.filters] += a
        arrested[rt.filters] += a * p
        passed = a * (1.0 - p)
        if k < max_passes - 1:
            died += (1.0 - s) * float(passed.sum())
            a = s * (passed @ lb)
    return ArrestDistribution(arrived, arrested, died, float(passed.sum()))


def simulate_arrests(
    anatomy: Anatomy,
    n_cells: int,
    seed: int,
    stream_id: int,
    patient_id: int = 0,
    source: str | int | None = None,
    *,
    cluster: bool = False,
    max_passes: int = DEFAULT_MAX_PASSES,
    survival_per_pass: float | None = None,
) -> CascadeDraws:
    """Monte Carlo of the cascade for ``n_cells`` cells of one patient, vectorised over cells.

    Draws come from ``np.random.default_rng([seed, stream_id, patient_id])`` in a fixed order
    (per pass: transit survival, next filter, arrest, each over the cells still moving in
    their original order), so a patient's cells do not depend on other patients.

    Parameters
    ----------
    anatomy : Anatomy
    n_cells : int
        Cells shed (>= 0).
    seed, stream_id, patient_id : int
        RNG key (all >= 0).
    source : str, int or None
        Organ the cells leave; None is the primary.
    cluster : bool
        Use cluster arrest probabilities.
    max_passes : int
        Filters a cell may visit before it counts as still circulating (>= 1).
    survival_per_pass : float or None
        Override of ``anatomy.survival_per_pass``.

    Returns
    -------
    CascadeDraws
    """
    if n_cells < 0:
        raise ValueError(f"n_cells = {n_cells} must be >= 0")
    if max_passes < 1:
        raise ValueError(f"max_passes = {max_passes} must be >= 1")
    src = _source_index(anatomy, source)
    s = _survival(anatomy, survival_per_pass)
    rt = routing(anatomy)
    cum = np.cumsum(rt.next_filter, axis=1)
    nf = rt.filters.size
    p = anatomy.arrest(cluster=cluster)
    rng = np.random.default_rng([seed, stream_id, patient_id])

    outcome = np.full(n_cells, Outcome.STILL_CIRCULATING, dtype=np.int8)
    site = np.full(n_cells, src, dtype=np.int64)
    n_passes = np.zeros(n_cells, dtype=np.int64)
    active = np.arange(n_cells, dtype=np.int64)
    for _ in range(max_passes):  # loop over passes; cells are array rows
        if active.size == 0:
            break
        alive = rng.random(active.size) < s
        outcome[active[~alive]] = Outcome.DIED_IN_TRANSIT
        active = active[alive]
        u = rng.random(active.size)
        j = np.minimum((u[:, None] >= cum[site[active]]).sum(axis=1), nf - 1)
        org = rt.filters[j]
        site[active] = org
        n_passes[active] += 1
        stop = rng.random(active.size) < p[org]
        outcome[active[stop]] = Outcome.ARRESTED
        active = active[~stop]
    return CascadeDraws(outcome=outcome, site=site, n_passes=n_passes)


def settle_fates(
    anatomy: Anatomy,
    draws: CascadeDraws,
    seed: int,
    stream_id: int,
    patient_id: int = 0,
) -> I8Array:
    """End state of every cell: arrested cells extravasate, survive dormant, or grow.

    An arrested cell in organ j grows with probability P_ext·P_dorm·soil, stays dormant with
    P_ext·P_dorm·(1 − soil), else dies (one uniform per cell from
    ``default_rng([seed, stream_id, patient_id, FATES_SUBSTREAM])``).

    Parameters
    ----------
    anatomy : Anatomy
    draws : CascadeDraws
    seed, stream_id, patient_id : int

    Returns
    -------
    (n_cells,) int8
        :class:`EndState` codes.
    """
    rng = np.random.default_rng([seed, stream_id, patient_id, FATES_SUBSTREAM])
    u = rng.random(draws.outcome.size)
    j = draws.site
    live = anatomy.extravasation[j] * anatomy.dormant_survival[j]
    grow = live * anatomy.colonisation[j]
    arrested_state = np.where(
        u < grow,
        EndState.GROWING,
        np.where(u < live, EndState.DORMANT, EndState.ARRESTED_DIED),
    )
    end = np.where(
        draws.outcome == Outcome.ARRESTED,
        arrested_state,
        np.where(
            draws.outcome == Outcome.DIED_IN_TRANSIT,
            EndState.DIED_IN_TRANSIT,
            EndState.STILL_CIRCULATING,
        ),
    )
    return end.astype(np.int8)


@dataclass(eq=False)
class Ledger:
    """Counts of shed cells and their end states, per patient and organ.

    Attributes
    ----------
    organ_names : tuple of str
    is_filter : (n_organs,) bool
        Organs where a cell may be arrested.
    shed : (n_patients, n_organs) int64
        Cells shed, by source organ.
    by_source : (n_patients, n_organs, N_END_STATES) int64
        End states of those cells, by source organ.
    by_site : (n_patients, n_organs, N_END_STATES) int64
        End states by the organ where the cell ended (``CascadeDraws.site``).
    """

    organ_names: tuple[str, ...]
    is_filter: BoolArray
    shed: I64Array
    by_source: I64Array
    by_site: I64Array

    @classmethod
    def zeros(cls, anatomy: Anatomy, n_patients: int) -> Ledger:
        """An empty ledger for ``n_patients`` patients (rows) of ``anatomy``."""
        if n_patients < 1:
            raise ValueError(f"n_patients = {n_patients} must be >= 1")
        n = anatomy.n_organs
        return cls(
            organ_names=anatomy.names,
            is_filter=anatomy.is_filter.copy(),
            shed=np.zeros((n_patients, n), dtype=np.int64),
            by_source=np.zeros((n_patients, n, N_END_STATES), dtype=np.int64),
            by_site=np.zeros((n_patients, n, N_END_STATES), dtype=np.int64),
        )

    def record(
        self,
        patient_row: int | I64Array,
        source: int | I64Array,
        site: I64Array,
        end_state: I8Array,
    ) -> None:
        """Add cells: one entry per cell (``patient_row`` and ``source`` broadcast).

        Parameters
        ----------
        patient_row : int or (n_cells,) int64
        source : int or (n_cells,) int64
            Organ each cell was shed from.
        site : (n_cells,) int64
            Organ where each cell ended.
        end_state : (n_cells,) int8
            :class:`EndState` codes.
        """
        site = np.asarray(site, dtype=np.int64)
        state = np.asarray(end_state, dtype=np.int64)
        row = np.broadcast_to(np.asarray(patient_row, dtype=np.int64), site.shape)
        src = np.broadcast_to(np.asarray(source, dtype=np.int64), site.shape)
        np.add.at(self.shed, (row, src), 1)
        np.add.at(self.by_source, (row, src, state), 1)
        np.add.at(self.by_site, (row, site, state), 1)

    def check(self) -> None:
        """Verify that every shed cell ends in exactly one state.

        Raises
        ------
        LedgerError
            Naming the patient row, organ and counts of the first imbalance: shed ≠ Σ end
            states of a source organ; totals by source ≠ totals by site for a state; an
            arrested state at an organ that cannot arrest; a negative count.
        """
        for name, arr in (
            ("shed", self.shed),
            ("by_source", self.by_source),
            ("by_site", self.by_site),
        ):
            if (arr < 0).any():
                r, o = np.argwhere(arr < 0)[0][:2]
                raise LedgerError(
                    f"ledger.{name}: negative count at patient row {r}, "
                    f"organ {self.organ_names[o]!r}"
                )
        ends = self.by_source.sum(axis=2)
        bad = np.argwhere(ends != self.shed)
        if bad.size:
            r, o = bad[0]
            raise LedgerError(
                f"ledger: patient row {r}, organ {self.organ_names[o]!r}: shed "
                f"{self.shed[r, o]} != sum of end states {ends[r, o]}"
            )
        a = self.by_source.sum(axis=1)
        b = self.by_site.sum(axis=1)
        bad = np.argwhere(a != b)
        if bad.size:
            r, k = bad[0]
            raise LedgerError(
                f"ledger: patient row {r}, state {EndState(k).name}: {a[r, k]} cells by "
                f"source organ != {b[r, k]} by site"
            )
        arrested = self.by_site[:, :, list(_ARRESTED_STATES)].sum(axis=2)
        bad = np.argwhere((arrested > 0) & ~self.is_filter[None, :])
        if bad.size:
            r, o = bad[0]
            raise LedgerError(
                f"ledger: patient row {r}: {arrested[r, o]} cells arrested in organ "
                f"{self.organ_names[o]!r}, which cannot arrest (pool or primary)"
            )


__all__ = [
    "DEFAULT_MAX_PASSES",
    "FATES_SUBSTREAM",
    "N_END_STATES",
    "ArrestDistribution",
    "CascadeDraws",
    "EndState",
    "Ledger",
    "LedgerError",
    "Outcome",
    "Routing",
    "arrest_distribution",
    "routing",
    "settle_fates",
    "simulate_arrests",
]
