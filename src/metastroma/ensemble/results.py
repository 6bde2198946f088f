"""The tidy tables of an ensemble: one row per member, and per-point summary statistics.

``results.parquet`` has one row per member: ``member_id``, ``point``, ``replicate``,
``seed``, ``status``, then one column per parameter (named by its path), then one column
per outcome (NaN for a failed member). Timings are not in it (they are in the catalog): the
table of a given ensemble file is the same whatever the workers, their number or the
order in which members finished. Read it with pandas (``pd.read_parquet``) or DuckDB
(``SELECT * FROM 'results.parquet'``).

``summary.parquet`` (and ``summary.csv``) has one row per design point and outcome:
``point``, the parameters, ``outcome``, ``n`` (finished replicates), ``mean``, ``sd``
(n − 1), ``ci_low``, ``ci_high`` and ``interval``: a Student-t interval of the mean, or
a percentile bootstrap of the mean (resamples drawn from a generator seeded by
``(seed, point)``), at the ensemble's confidence level. Fewer than two finished replicates
give NaN bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["mean_ci", "results_table", "summary_table"]

_ID_COLUMNS = ["member_id", "point", "replicate", "seed", "status"]


def results_table(
    rows: list[dict[str, Any]], parameters: list[str], outcomes: list[str] | None = None
) -> pd.DataFrame:
    """One row per member from the catalog's rows (see the module docstring).

    Parameters
    ----------
    rows : list of dict
        :meth:`Catalog.rows`.
    parameters : list of str
        Parameter columns, in order (fixed and varied).
    outcomes : list of str, optional
        Outcome columns, in order; default: every outcome of a finished member, sorted.
    """
    if outcomes is None or not outcomes:
        names: set[str] = set()
        for r in rows:
            names.update((r["outcomes"] or {}).keys())
        outcomes = sorted(names)
    data: dict[str, list[Any]] = {c: [r[c] for r in rows] for c in _ID_COLUMNS}
    for p in parameters:
        data[p] = [r["params"].get(p) for r in rows]
    for o in outcomes:
        col = []
        for r in rows:
            v = (r["outcomes"] or {}).get(o) if r["status"] == "done" else None
            col.append(np.nan if v is None else float(v))
        data[o] = col
    df = pd.DataFrame(data)
    for c in ("member_id", "point", "replicate", "seed"):
        df[c] = df[c].astype("int64")
    return df


def mean_ci(
    x: np.ndarray,
    level: float = 0.95,
    interval: str = "t",
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
) -> tuple[float, float, float, float]:
    """Mean, sd and a confidence interval of the mean of the finite values of ``x``.

    Returns
    -------
    (mean, sd, ci_low, ci_high)
        NaN where undefined (no value; bounds and sd with fewer than two).
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan)
    mean = float(x.mean())
    if n < 2:
        return (mean, np.nan, np.nan, np.nan)
    sd = float(x.std(ddof=1))
    alpha = 1.0 - level
    if interval == "t":
        from scipy.stats import t

        half = float(t.ppf(1 - alpha / 2, n - 1)) * sd / np.sqrt(n)
        return (mean, sd, mean - half, mean + half)
    if rng is None:
        rng = np.random.default_rng(0)
    means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (mean, sd, float(lo), float(hi))


def summary_table(
    table: pd.DataFrame,
    parameters: list[str],
    outcomes: list[str],
    *,
    level: float = 0.95,
    interval: str = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per design point and outcome: n, mean, sd and the confidence interval."""
    out: list[dict[str, Any]] = []
    for point, grp in table.groupby("point", sort=True):  # design points, not cells
        first = grp.iloc[0]
        for o in outcomes:
            rng = np.random.default_rng([seed, int(point)])
            vals = grp[o].to_numpy(dtype=float)
            mean, sd, lo, hi = mean_ci(vals, level, interval, n_boot, rng)
            out.append(
                {
                    "point": int(point),
                    **{p: first[p] for p in parameters},
                    "outcome": o,
                    "n": int(np.isfinite(vals).sum()),
                    "mean": mean,
                    "sd": sd,
                    "ci_low": lo,
                    "ci_high": hi,
                    "interval": f"{interval} {level:g}",
                }
            )
    return pd.DataFrame(out)
