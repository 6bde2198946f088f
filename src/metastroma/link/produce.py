"""The producer of the tissue → body response curves (``metastroma link``, SCIENCE.md §10).

A link scan (:class:`~metastroma.config.link.LinkScan`) names the WT reference primary
tumour and the points to run: cancer-cell knockdown fractions f_KD (1 = WT, 0 = knockout),
constant receptor blockades θ_I at f_KD = 1, and categorical arms (Table 8.1). Each point
is the primary with its perturbation written in (:func:`metastroma.therapy.
apply_to_tissue`; a blockade sets ``ddr2.inhibitor`` to one phase of occupancy θ_I), and,
for the growth multiplier, E8's lung-like colony with the same perturbation. Points whose
scenarios are identical (f_KD = 0 and ``cancer_ko``; f_KD = 1 and ``host_het``, WT-like
by Table 8.1 [A]; ``msc_null`` and ``host_null`` in a tumour without benign epithelium)
share their members.

:func:`run_link` then

1. runs every point × replicate through the ensemble driver (:func:`metastroma.ensemble.
   run_members`): ``DIR/primary/`` and ``DIR/colony/`` are ensemble directories with a
   catalog, so rerunning the same command continues where it stopped; replicate r of
   every point has seed ``seed + r`` (common random numbers);
2. measures each member from its run directory (:mod:`metastroma.link._measure`);
3. aggregates per point (:mod:`metastroma.link._aggregate`): mean, 95 % percentile
   bootstrap band, n; ã, r_intra and m_grow relative to the WT point with a paired
   bootstrap (the WT point is exactly ã = 1, r = 1);
4. sorts the grid points (f_KD and θ_I) by achieved ã into a strictly increasing grid,
   merging points whose ã coincide and dropping those that coincide with WT;
5. writes ``curves.json`` (:func:`~metastroma.link.write_curves`, atomic), ``points.csv``
   (per point and quantity), ``members.csv`` (per member) and ``figures/curves.png``.

The output directory::

    link.json        scan name, plan digest, status, wall time of each session
    scan.yaml        the scan file as given
    primary/         ensemble directory of the primary members (docs/ensembles.md)
    colony/          ensemble directory of the colony members
    members.csv      one row per member: point, replicate, seed, measured values
    points.csv       one row per point and quantity: x (ã), mean, ci_low, ci_high, n
    curves.json      the response curves (docs/link.md)
    figures/curves.png
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metastroma.config.link import LinkScan
from metastroma.config.loader import _line_of, load_model, read_yaml, scenario_from_dict
from metastroma.config.sweep import EnsembleBase, check_path
from metastroma.errors import ConfigError, RunDirectoryError
from metastroma.link._aggregate import (
    PointSummary,
    merge_by_activity,
    summarise_points,
)
from metastroma.link._measure import measure_colony, measure_primary
from metastroma.link.curves import (
    ArmPoint,
    ArmValue,
    Axis,
    CurveData,
    ResponseCurves,
    write_curves,
)

__all__ = ["LinkPlan", "LinkRun", "ScanPoint", "load_link_scan", "run_link"]

MANIFEST = "link.json"
#: Quantities written to the curve file, with the member summary they come from.
_CURVE_QUANTITIES = (
    "intravasation_multiplier",
    "cluster_event_fraction",
    "growth_multiplier",
    "intravasation_rate_per_day",
    "coherency_band",
    "invasion_depth_um",
    "tacs3_fraction",
)
_ARM_PERTURBATION = {
    "cancer_ko": "cancer_knockout",
    "msc_null": "msc_knockout",
    "host_null": "host_knockout",
    "host_het": "heterozygote",
    "no_msc": "msc_depletion",
}


@dataclass(frozen=True)
class ScanPoint:
    """One point of the scan.

    Attributes
    ----------
    label : str
        ``fkd=0.5``, ``theta=0.9`` or an arm name.
    kind : {'knockdown', 'blockade', 'arm'}
    value : float or None
        f_KD or θ_I (None for an arm).
    run_point : int
        Index of the unique scenario (ensemble point) that runs it.
    """

    label: str
    kind: str
    value: float | None
    run_point: int


@dataclass(frozen=True)
class LinkPlan:
    """A checked link scan: the points, the two ensembles' members and refs."""

    path: Path
    scan: LinkScan
    text: str
    points: list[ScanPoint]
    run_labels: list[str]
    primary: Any  # (EnsembleBase, ModelRef, members, digest)
    colony: Any | None
    h0_per_min: float
    scenario_sha256: dict[str, str]
    digest: str

    @property
    def n_members(self) -> int:
        """Members of both ensembles."""
        n = len(self.primary[2])
        return n + (len(self.colony[2]) if self.colony else 0)


@dataclass(frozen=True)
class LinkRun:
    """What :func:`run_link` produced."""

    out_dir: Path
    curves: ResponseCurves
    points: pd.DataFrame
    members: pd.DataFrame
    figure: Path | None
    n_failed: int
    n_run: int
    n_skipped: int
    wall_s: float


# ----------------------------------------------------------------------- scenarios


def _perturbed(data: dict[str, Any], kind: str, value: float | None) -> dict[str, Any]:
    from metastroma.config.therapy import PerturbationConfig
    from metastroma.therapy import apply_to_tissue

    if kind == "knockdown":
        assert value is not None
        if value >= 1.0:
            return copy.deepcopy(data)
        if value <= 0.0:
            return apply_to_tissue(data, "cancer_knockout")
        return apply_to_tissue(
            data, PerturbationConfig(kind="cancer_knockdown", knockdown_fraction=value)
        )
    if kind == "blockade":
        out = copy.deepcopy(data)
        ddr2 = out.setdefault("ddr2", {})
        ddr2["inhibitor"] = [{"start_min": 0.0, "occupancy": float(value or 0.0)}]
        return out
    return apply_to_tissue(data, _ARM_PERTURBATION[kind])  # type: ignore[arg-type]  # one of the PerturbationKind literals


def _sections(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Top-level sections of ``new`` that differ from ``base`` (removed ones as {})."""
    out = {}
    for k in sorted(set(base) | set(new)):
        if base.get(k) != new.get(k):
            out[k] = copy.deepcopy(new.get(k, {}))
    return out


def _ensemble(
    scan: LinkScan,
    name: str,
    base_data: dict[str, Any],
    source: str,
    base_dir: Path,
    digest: str,
    fixed: dict[str, Any],
    point_data: list[dict[str, Any]],
    where: str,
) -> tuple[EnsembleBase, Any, list[Any], list[dict[str, Any]]]:
    """Ensemble spec, model ref and members of unique scenarios ``point_data``."""
    from metastroma.ensemble.model import ModelRef, member_data, validate_member
    from metastroma.ensemble.plan import Member

    resolved = scenario_from_dict(
        copy.deepcopy(base_data), source=source, base_dir=base_dir
    )
    ref = ModelRef(
        "tissue",
        data=base_data,
        resolved=resolved.model_dump(mode="json"),
        source=source,
        base_dir=str(base_dir.resolve()),
        digest=digest,
    )
    spec = EnsembleBase(
        name=f"{scan.name}-{name}",
        base=Path(source),
        fixed=fixed,
        replicates=scan.replicates,
        seed=scan.seed,
        outcomes=["n_cancer", "ddr2_activity_cancer"],
    )
    members = []
    params_list = []
    for i, data in enumerate(point_data):  # points of a scan
        params = {**_sections(base_data, data), **fixed}
        params_list.append(params)
        # the section form must give the same scenario as the perturbed mapping
        want = scenario_from_dict(
            _with_fixed(data, fixed, ref), source=source, base_dir=base_dir
        )
        got = validate_member(
            ref, member_data(ref, params, scan.seed), f"{where}: point {i}"
        )
        assert got is not None
        if want.model_dump(exclude={"seed"}) != got.model_dump(exclude={"seed"}):
            raise AssertionError(f"{where}: point {i}: section overrides differ")
        for r in range(scan.replicates):
            members.append(Member(i * scan.replicates + r, i, r, scan.seed + r, params))
    return spec, ref, members, params_list


def _with_fixed(
    data: dict[str, Any], fixed: dict[str, Any], ref: Any
) -> dict[str, Any]:
    from metastroma.ensemble.model import ModelRef, member_data

    tmp = ModelRef("tissue", data=data, resolved=ref.resolved, source=ref.source)
    return member_data(tmp, fixed, 0)


def _colony_base(scan: LinkScan) -> dict[str, Any]:
    from metastroma.experiments._e8 import colony

    data = colony()
    dur = float(scan.colony.duration_min)
    data["time"] = {"duration_min": dur}
    data["output"] = {
        "metrics_every_min": 60.0,
        "snapshot_every_min": dur,
        "fields_every_min": dur,
        "checkpoint_every_min": max(60.0, dur / 4.0),
    }
    return data


def _check_paths(fixed: dict[str, Any], loc: str, source: str, node: Any) -> None:
    from metastroma.config.models import Scenario

    problems = []
    for path in fixed:
        try:
            check_path(Scenario, path)
        except ValueError as err:
            line = _line_of(node, (*loc.split("."), path)) if node is not None else None
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {loc}.{path}: {err}")
    if problems:
        raise ConfigError("\n".join(problems))


def load_link_scan(path: Path) -> LinkPlan:
    """Read a link scan file and check it, its primary scenario and every point.

    Parameters
    ----------
    path : Path
        The scan file (:class:`~metastroma.config.link.LinkScan`).

    Returns
    -------
    LinkPlan
        Nothing is run or written.

    Raises
    ------
    ConfigError
        Naming file, line and key of every problem (the scan file, its primary scenario,
        or a point whose scenario is invalid).
    """
    from metastroma.ensemble.plan import plan_digest

    path = Path(path)
    scan = load_model(path, LinkScan)
    _, node, source = read_yaml(path, "link scan file")
    text = path.read_text(encoding="utf-8")
    prim_path = (
        scan.primary if scan.primary.is_absolute() else path.parent / scan.primary
    )
    line = _line_of(node, ("primary",)) if node is not None else None
    where = f"{source}:{line}" if line else source
    if not prim_path.is_file():
        raise ConfigError(
            f"{where}: primary = {str(scan.primary)!r}: file not found (looked for "
            f"{prim_path.resolve()})"
        )
    base, _pnode, psource = read_yaml(prim_path, "primary scenario")
    if not isinstance(base, dict):
        raise ConfigError(f"{psource}: a scenario must be a YAML mapping of keys")
    _check_paths(scan.fixed, "fixed", source, node)
    _check_paths(scan.colony.fixed, "colony.fixed", source, node)
    from metastroma.ensemble.model import ModelRef, member_data

    resolved0 = scenario_from_dict(
        copy.deepcopy(base), source=psource, node=_pnode, base_dir=prim_path.parent
    )
    tmp = ModelRef("tissue", data=base, resolved=resolved0.model_dump(mode="json"))
    wt = scenario_from_dict(
        member_data(tmp, dict(scan.fixed), scan.seed),
        source=f"{psource} with {source}: fixed",
        base_dir=prim_path.parent,
    )
    if not (wt.ddr2.enabled and wt.intravasation.enabled):
        raise ConfigError(
            f"{where}: primary = {str(scan.primary)!r}: the WT reference must enable "
            "ddr2 and intravasation (the link measures DDR2 activity and exits)"
        )
    lo, hi = scan.window_min
    if hi > wt.time.duration_min + 1e-9:
        wline = _line_of(node, ("window_min",)) if node is not None else None
        raise ConfigError(
            f"{source}:{wline or ''}: window_min = [{lo:g}, {hi:g}]: must end by the "
            f"primary's time.duration_min = {wt.time.duration_min:g} (min)"
        )

    # points: the grid (f_KD, then θ_I), then the arms; identical scenarios run once
    specs: list[tuple[str, str, float | None]] = [
        (f"fkd={f:g}", "knockdown", f) for f in sorted(scan.knockdown_fractions)
    ]
    specs += [(f"theta={b:g}", "blockade", b) for b in sorted(scan.blockades)]
    specs += [(a, a, None) for a in scan.arms]
    run_data: list[dict[str, Any]] = []
    run_labels: list[str] = []
    keys: dict[str, int] = {}
    points = []
    for label, kind, value in specs:  # points of a scan
        try:
            data = _perturbed(base, kind, value)
        except ValueError as err:
            raise ConfigError(f"{psource}: point {label}: {err}") from err
        key = json.dumps(data, sort_keys=True, default=str)
        if key not in keys:
            keys[key] = len(run_data)
            run_data.append(data)
            run_labels.append(label)
        points.append(ScanPoint(label, kind, value, keys[key]))
    prim_digest = hashlib.sha256(prim_path.read_bytes()).hexdigest()
    primary = _ensemble(
        scan,
        "primary",
        base,
        psource,
        prim_path.parent,
        prim_digest,
        dict(scan.fixed),
        run_data,
        f"{source} (primary)",
    )
    sha = {psource: prim_digest, source: hashlib.sha256(text.encode()).hexdigest()}
    colony = None
    if scan.colony.enabled:
        cbase = _colony_base(scan)
        cdata = [
            _perturbed(cbase, *_kind_value(points, i)) for i in range(len(run_data))
        ]
        cdigest = hashlib.sha256(json.dumps(cbase, sort_keys=True).encode()).hexdigest()
        colony = _ensemble(
            scan,
            "colony",
            cbase,
            "e8_lung_colony",
            path.parent,
            cdigest,
            dict(scan.colony.fixed),
            cdata,
            f"{source} (colony)",
        )
        sha["e8_lung_colony (experiments/_e8.py colony)"] = cdigest
    h0 = float(wt.intravasation.base_hazard_per_min)
    digest = plan_digest(
        primary[0],
        prim_digest,
        {
            "scan": scan.model_dump(mode="json", exclude={"description"}),
            "primary": primary[3],
            "colony": colony[3] if colony else None,
        },
    )
    return LinkPlan(
        path, scan, text, points, run_labels, primary, colony, h0, sha, digest
    )


def _kind_value(points: list[ScanPoint], run_point: int) -> tuple[str, float | None]:
    p = next(p for p in points if p.run_point == run_point)
    return p.kind, p.value


# ----------------------------------------------------------------------- running


def _check_out(out_dir: Path, digest: str, force: bool) -> bool:
    """True if ``out_dir`` continues this scan; refuse anything else (see run_link)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return False
    path = out_dir / MANIFEST
    if not path.is_file():
        raise RunDirectoryError(
            f"{out_dir}: not empty and not a link directory (no {MANIFEST}); choose "
            "another --out (it is never overwritten, even with --force)"
        )
    try:
        prev = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunDirectoryError(f"{path}: unreadable link manifest ({err})") from err
    if prev.get("plan_sha256") == digest:
        return True
    if force:
        shutil.rmtree(out_dir)
        return False
    raise RunDirectoryError(
        f"{out_dir}: holds another link scan ({prev.get('name')!r}; its scan file, "
        "primary scenario or points differ); use --force to replace it or choose "
        "another --out"
    )


def check_out(out_dir: Path, plan: LinkPlan, force: bool) -> None:
    """Refuse an ``out_dir`` that holds something else (before anything runs).

    Raises
    ------
    RunDirectoryError
        A file; a non-empty directory that is not a link directory; another scan without
        ``force``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / MANIFEST).is_file():
            raise RunDirectoryError(
                f"{out_dir}: not empty and not a link directory (no {MANIFEST}); "
                "choose another --out (it is never overwritten, even with --force)"
            )
        try:
            prev = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise RunDirectoryError(
                f"{out_dir / MANIFEST}: unreadable link manifest ({err})"
            ) from err
        if prev.get("plan_sha256") != plan.digest and not force:
            raise RunDirectoryError(
                f"{out_dir}: holds another link scan ({prev.get('name')!r}); use "
                "--force to replace it or choose another --out"
            )


def _measure_all(
    plan: LinkPlan,
    out_dir: Path,
    rows_p: list[dict[str, Any]],
    rows_c: list[dict[str, Any]],
) -> pd.DataFrame:
    """One row per primary member (colony columns joined by point and replicate)."""
    members = plan.primary[2]
    by_id = {r["member_id"]: r for r in rows_p}
    records = []
    for m in members:  # members of a scan, each a run directory
        if by_id.get(m.member_id, {}).get("status") != "done":
            continue
        run_dir = out_dir / "primary" / "members" / m.dirname / "run"
        rec: dict[str, Any] = {
            "point": m.point,
            "label": plan.run_labels[m.point],
            "replicate": m.replicate,
            "seed": m.seed,
            **measure_primary(run_dir, plan.scan.window_min, plan.h0_per_min),
        }
        records.append(rec)
    table = pd.DataFrame.from_records(records)
    col_cols = ["colony_rate_per_day", "colony_activity"]
    if plan.colony is not None and not table.empty:
        cby = {r["member_id"]: r for r in rows_c}
        crec = []
        for m in plan.colony[2]:
            if cby.get(m.member_id, {}).get("status") != "done":
                continue
            run_dir = out_dir / "colony" / "members" / m.dirname / "run"
            crec.append(
                {"point": m.point, "replicate": m.replicate, **measure_colony(run_dir)}
            )
        ctab = pd.DataFrame.from_records(
            crec, columns=["point", "replicate", *col_cols]
        )
        table = table.merge(ctab, on=["point", "replicate"], how="left")
    else:
        for c in col_cols:
            table[c] = np.nan
    return table


def _band(b: Any) -> ArmValue:
    return ArmValue(float(b.mean), float(b.ci_low), float(b.ci_high), int(b.n))


def _curves(
    plan: LinkPlan,
    table: pd.DataFrame,
    producer: str,
    wall_s: float,
    extra: dict[str, Any],
) -> tuple[ResponseCurves, list[PointSummary], list[PointSummary], dict[str, Any]]:
    """The curve file's contents: grid summaries, arm summaries, provenance."""
    from datetime import UTC, datetime

    from metastroma import __version__

    scan = plan.scan
    wt_run = next(
        p.run_point for p in plan.points if p.kind == "knockdown" and p.value == 1.0
    )
    grid_pts = [p for p in plan.points if p.kind in ("knockdown", "blockade")]
    # grid: unique runs in scan order
    grid_runs: list[int] = []
    grid_labels: list[str] = []
    for p in grid_pts:
        if p.run_point not in grid_runs:
            grid_runs.append(p.run_point)
            grid_labels.append(p.label)
    single = summarise_points(
        table,
        [(lab, (r,)) for lab, r in zip(grid_labels, grid_runs, strict=True)],
        wt_run,
        scan.bootstrap_resamples,
        scan.seed,
    )
    act = np.array([s.values["relative_activity"].mean for s in single])
    groups_idx, merged, dropped = merge_by_activity(
        grid_labels, act, grid_runs.index(wt_run), scan.merge_tolerance
    )
    groups = [(lab, tuple(grid_runs[i] for i in idx)) for lab, idx in groups_idx]
    grid = summarise_points(table, groups, wt_run, scan.bootstrap_resamples, scan.seed)
    x = np.array([g.values["relative_activity"].mean for g in grid])
    keep = np.ones(x.size, bool)
    for i in range(1, x.size):  # the pooled ã of merged groups stays ordered
        if x[i] <= x[:i][keep[:i]].max():
            keep[i] = False
            dropped.append(
                f"{grid[i].label}: pooled ã {x[i]:.4f} out of order; dropped"
            )
    grid = [g for g, k in zip(grid, keep, strict=True) if k]
    x = x[keep]
    wt_i = next(i for i, g in enumerate(grid) if g.points == (wt_run,))
    assert x[wt_i] == 1.0  # the WT point over itself, resample by resample

    def curve(name: str) -> CurveData:
        bands = [g.values[name] for g in grid]
        return CurveData(
            np.array([b.mean for b in bands]),
            np.array([b.ci_low for b in bands]),
            np.array([b.ci_high for b in bands]),
            np.array([b.n for b in bands], np.int64),
        )

    quantities = {}
    for q in _CURVE_QUANTITIES:
        if q == "growth_multiplier" and plan.colony is None:
            ones = np.ones(x.size)
            quantities[q] = CurveData(ones, ones, ones, np.zeros(x.size, np.int64))
            continue
        quantities[q] = curve(q)
    arm_pts = [p for p in plan.points if p.kind not in ("knockdown", "blockade")]
    arm_sum = summarise_points(
        table,
        [(p.label, (p.run_point,)) for p in arm_pts],
        wt_run,
        scan.bootstrap_resamples,
        scan.seed,
    )
    arms = {}
    for s in arm_sum:
        qs = {
            q: _band(s.values[q])
            for q in _CURVE_QUANTITIES
            if not (q == "growth_multiplier" and plan.colony is None)
            and np.isfinite(s.values[q].mean)
        }
        arms[s.label] = ArmPoint(float(s.values["relative_activity"].mean), qs)
    shared = {
        p.label: plan.run_labels[p.run_point]
        for p in plan.points
        if plan.run_labels[p.run_point] != p.label
    }
    fk = ", ".join(f"{v:g}" for v in sorted(scan.knockdown_fractions))
    th = ", ".join(f"{v:g}" for v in sorted(scan.blockades)) or "none"
    provenance: dict[str, Any] = {
        "package_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "producer": producer,
        "scenario_sha256": dict(plan.scenario_sha256),
        "seeds": list(range(scan.seed, scan.seed + scan.replicates)),
        "replicates_per_point": scan.replicates,
        "grid": f"relative_activity: achieved ã = A/A_WT of cancer-cell knockdown "
        f"f_KD in [{fk}] and constant blockade θ_I in [{th}] at f_KD = 1; "
        f"{x.size} points from {float(x[0]):.4g} to {float(x[-1]):.4g}, sorted by ã",
        "ci_method": "95 % percentile bootstrap over replicates "
        f"({scan.bootstrap_resamples} resamples); ratios to WT (ã, r_intra, m_grow) "
        "with a paired bootstrap (common seeds); f_cl: events pooled over replicates, "
        "Wilson score interval; bands widened to contain the mean",
        "wall_s": round(wall_s, 1),
        "window_min": list(scan.window_min),
        "h0_per_min": plan.h0_per_min,
        "intravasation_measure": "h̄ = h₀ × Δ door exposure / Δ cancer cell-minutes "
        "over the window (expected exits per cancer cell per min, SCIENCE.md §5.6)",
        "growth_measure": (
            f"colony rate ln(N_end/N_0)/T over {scan.colony.duration_min:g} min in "
            "E8's lung-like tissue (30 cancer cells, MSCs 3x, g_p 0.3), relative to WT"
            if plan.colony is not None
            else "not measured: m_grow = 1 (n = 0)"
        ),
        "grid_points": [g.label for g in grid],
        "merged": merged,
        "dropped": dropped,
        "shared_members": shared,
        **extra,
    }
    curves = ResponseCurves(
        axis=Axis("relative_activity", "1"),
        x=x,
        quantities=quantities,
        provenance=provenance,
        arms=arms,
    )
    return curves, grid, arm_sum, provenance


def _points_table(grid: list[PointSummary], arms: list[PointSummary]) -> pd.DataFrame:
    rows = []
    for kind, items in (("grid", grid), ("arm", arms)):
        for s in items:  # points of a scan
            x = s.values["relative_activity"].mean
            for q, b in s.values.items():
                rows.append(
                    {
                        "kind": kind,
                        "point": s.label,
                        "x_relative_activity": x,
                        "quantity": q,
                        "mean": b.mean,
                        "ci_low": b.ci_low,
                        "ci_high": b.ci_high,
                        "n": b.n,
                        "n_events": s.n_events,
                    }
                )
    return pd.DataFrame.from_records(rows)


def run_link(
    plan: LinkPlan | Path,
    out_dir: Path,
    *,
    workers: int = 0,
    scheduler: str | None = None,
    force: bool = False,
    progress: Any = None,
    producer: str | None = None,
    figure: bool = True,
) -> LinkRun:
    """Run a link scan into ``out_dir`` and write its response curves.

    Parameters
    ----------
    plan : LinkPlan or Path
        A plan from :func:`load_link_scan`, or the scan file.
    out_dir : Path
        Created, or continued if it holds the same scan (finished members are kept).
    workers : int
        0: serially in this process; N: a local Dask cluster of N processes.
    scheduler : str, optional
        Address of an existing Dask scheduler instead of a local cluster.
    force : bool
        Replace another link scan in ``out_dir``.
    progress : callable, optional
        ``progress(result, n_finished, n_total)`` after each member (per ensemble).
    producer : str, optional
        The command line to record (default: a description of this call).
    figure : bool
        Draw ``figures/curves.png``.

    Returns
    -------
    LinkRun

    Raises
    ------
    RunDirectoryError
        ``out_dir`` holds something else.
    ValueError
        The WT reference point has no finished member.
    """
    from metastroma.ensemble.driver import run_members
    from metastroma.store.atomic import write_bytes_atomic, write_json_atomic
    from metastroma.store.manifest import utc_now

    t0 = time.perf_counter()
    plan = plan if isinstance(plan, LinkPlan) else load_link_scan(Path(plan))
    out_dir = Path(out_dir)
    resuming = _check_out(out_dir, plan.digest, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    prev = (
        json.loads((out_dir / MANIFEST).read_text(encoding="utf-8")) if resuming else {}
    )
    manifest: dict[str, Any] = {
        "kind": "link",
        "name": plan.scan.name,
        "plan_sha256": plan.digest,
        "status": "running",
        "sessions": [*prev.get("sessions", []), {"started_utc": utc_now()}],
    }
    write_bytes_atomic(out_dir / "scan.yaml", plan.text.encode())
    write_json_atomic(out_dir / MANIFEST, manifest)
    runs = []
    for name, ens in (("primary", plan.primary), ("colony", plan.colony)):
        if ens is None:
            continue
        spec, ref, members, _ = ens
        runs.append(
            run_members(
                out_dir / name,
                kind="link",
                spec=spec,
                spec_text=plan.text,
                ref=ref,
                members=members,
                digest=hashlib.sha256(f"{plan.digest}:{name}".encode()).hexdigest(),
                workers=workers,
                scheduler=scheduler,
                force=False,  # a changed scan was removed as a whole above
                progress=progress,
            )
        )
    rows_c = runs[1].rows if len(runs) > 1 else []
    table = _measure_all(plan, out_dir, runs[0].rows, rows_c)
    if table.empty:
        raise ValueError("no primary member finished; nothing to aggregate")
    wall = time.perf_counter() - t0
    curves, grid, arms, _ = _curves(
        plan,
        table,
        producer or f"metastroma.link.run_link({plan.path.name!r})",
        wall,
        {"workers": workers, "scheduler": scheduler},
    )
    write_curves(curves, out_dir / "curves.json")
    points = _points_table(grid, arms)
    write_bytes_atomic(out_dir / "points.csv", points.to_csv(index=False).encode())
    write_bytes_atomic(out_dir / "members.csv", table.to_csv(index=False).encode())
    fig_path = None
    if figure:
        from metastroma.viz.link import plot_curves

        fig_path = out_dir / "figures" / "curves.png"
        fig_path.parent.mkdir(exist_ok=True)
        plot_curves(curves, fig_path, title=plan.scan.name)
    n_failed = sum(r.n_failed for r in runs)
    wall = time.perf_counter() - t0
    manifest["sessions"][-1].update(ended_utc=utc_now(), wall_s=round(wall, 1))
    manifest["status"] = "complete" if n_failed == 0 else "complete_with_failures"
    write_json_atomic(out_dir / MANIFEST, manifest)
    return LinkRun(
        out_dir,
        curves,
        points,
        table,
        fig_path,
        n_failed,
        sum(r.n_run for r in runs),
        sum(r.n_skipped for r in runs),
        wall,
    )
