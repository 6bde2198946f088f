"""The trial run directory: every arm's tables, the comparison tables, figures, manifest.

``metastroma trial`` (or :func:`write_trial`) writes one directory per trial; every item
and column is described in docs/trials.md and docs/run-directory.md ("Trial run
directory")::

    DIR/
      trial.yaml                 the trial file, resolved (cohort path absolute)
      config.yaml                the resolved cohort scenario (every default written out)
      manifest.json              kind 'trial', version, hashes, seed, patients per arm,
                                 arms with their activity factor and IC50 basis, the CRN
                                 note, times; written last
      arms/<arm>/patients.parquet, metastases.parquet
      summary.csv, summary.md    one row per arm (shares, medians, HRs, log-rank p, …)
      shares.csv                 distant-metastasis share per arm and horizon
      sites.csv                  share of patients with each distant site, per arm
      survival.csv               tidy Kaplan–Meier curves (arm, endpoint mfs/os)
      comparisons.csv            log-rank and Cox HR of each arm vs the reference
      paired.csv                 discordant patients of each arm vs the reference
      figures/km_mfs.png, km_os.png, sites.png, shares.png

Atomicity as the cohort directory (:mod:`metastroma.store.cohort`): everything is written
into a hidden sibling ``.DIR.tmp`` and renamed to ``DIR`` at the end; a non-empty ``DIR``
is refused unless ``force``, and a non-empty directory that is not a run directory is never
replaced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from metastroma.store.atomic import (
    _fsync_dir,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from metastroma.store.cohort import (
    _arrow_table,
    _curves_record,
    check_cohort_out,
    config_sha256,
    write_run_dir,
)
from metastroma.store.manifest import MANIFEST, environment, utc_now

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from metastroma.body.trial import TrialAnalysis, TrialResult

__all__ = [
    "TRIAL_FIGURES",
    "TRIAL_TABLES",
    "TrialOutputs",
    "check_trial_out",
    "write_trial",
]

#: Tables at the top of a trial directory.
TRIAL_TABLES = (
    "summary.csv",
    "summary.md",
    "shares.csv",
    "sites.csv",
    "survival.csv",
    "comparisons.csv",
    "paired.csv",
)
#: Figures, in ``figures/``.
TRIAL_FIGURES = ("km_mfs.png", "km_os.png", "sites.png", "shares.png")

#: The trial directory is checked like a cohort directory.
check_trial_out = check_cohort_out


@dataclass(frozen=True)
class TrialOutputs:
    """What :func:`write_trial` wrote.

    Attributes
    ----------
    out_dir : Path
    files : tuple of str
        Every file written, relative to ``out_dir``, sorted.
    analysis : TrialAnalysis
    manifest : dict
    """

    out_dir: Path
    files: tuple[str, ...]
    analysis: TrialAnalysis
    manifest: dict[str, Any]


def _text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _num(v: Any, digits: int = 3) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{float(v):.{digits}g}"


def _ci(row: pd.Series, key: str, scale: float = 1.0, digits: int = 3) -> str:
    v, lo, hi = (
        float(row[k]) * scale for k in (key, f"{key}_ci_low", f"{key}_ci_high")
    )
    if not math.isfinite(v):
        return "not reached" if "median" in key else "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{v:.{digits}g}" + (
            f" ({lo:.{digits}g}–NR)" if math.isfinite(lo) else ""
        )
    return f"{v:.{digits}g} ({lo:.{digits}g}–{hi:.{digits}g})"


def _p(v: Any) -> str:
    v = float(v)
    if not math.isfinite(v):
        return "–"
    return "< 1e-300" if v == 0.0 else f"{v:.2g}"


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(analysis: TrialAnalysis, manifest: dict[str, Any]) -> str:
    """The trial's summary as Markdown: one row per arm, then comparisons and pairs."""
    m = manifest
    s = analysis.summary
    years = m["horizons_years"]
    head = [
        f"# Virtual trial `{m['trial_name']}`: summary",
        "",
        f"- {m['n_patients_per_arm']} patients per arm (ids {m['first_patient_id']}–"
        f"{m['first_patient_id'] + m['n_patients_per_arm'] - 1}), seed {m['seed']}, "
        f"follow-up {m['follow_up_years']:g} years after diagnosis; death model "
        f"`{m['death_model']}` (SCIENCE.md §9.6)",
        f"- reference arm: `{m['reference_arm']}`; cohort scenario "
        f"`{m['cohort_file']}`; response curves: "
        f"{m['ddr2_curves']['path'] if m['ddr2_curves'] else 'SCIENCE.md §10.2 formulas'}",
        f"- metastroma {m['version']}",
        "",
        f"**Common random numbers.** {m['crn_note']}",
        "",
    ]
    for note in analysis.notes[1:]:  # the inhibitor arms' basis
        head.append(f"- {note}")
    head.append("")
    cols = ["arm", "what", "n"]
    cols += [f"metastatic by {y:g} y, % (95 % CI)" for y in years]
    cols += [
        "median MFS, months",
        "median OS, months",
        "HR MFS (95 % CI)",
        "log-rank p MFS",
        "HR OS (95 % CI)",
        "log-rank p OS",
        "metastases per metastatic patient",
        "median metastasis diameter, mm",
        "ã high / low",
        "activity factor",
        "IC50 basis",
        "treated",
    ]
    rows = []
    for _, r in s.iterrows():  # a few arms
        row = [str(r["arm"]), str(r["label"]), str(int(r["n_patients"]))]
        row += [_ci(r, f"distant_metastasis_{y:g}y", 100.0) for y in years]
        row += [_ci(r, "median_mfs_months"), _ci(r, "median_os_months")]
        ref = r["arm"] == m["reference_arm"]
        for ep in ("mfs", "os"):
            row += (
                ["reference", "–"]
                if ref
                else [_ci(r, f"hr_{ep}"), _p(r[f"logrank_p_{ep}"])]
            )
        row += [
            _num(r["mean_metastases_per_metastatic_patient"]),
            _num(r["median_metastasis_diameter_mm"]),
            f"{r['relative_activity_high']:g} / {r['relative_activity_low']:g}",
            _num(r["activity_factor"], 4),
            str(r["ic50_basis"]) or "–",
            str(int(r["n_treated"])),
        ]
        rows.append(row)
    parts = ["\n".join(head), "## Arms", "", _md_table(cols, rows), ""]
    c = analysis.comparisons
    if len(c):
        parts += ["## Comparisons with the reference (independent-sample tests)", ""]
        parts.append(
            _md_table(
                [
                    "arm",
                    "endpoint",
                    "HR (95 % CI)",
                    "Cox p",
                    "log-rank χ²",
                    "log-rank p",
                    "events arm / reference",
                    "note",
                ],
                [
                    [
                        str(r["arm"]),
                        str(r["endpoint"]).upper(),
                        f"{r['hazard_ratio']:.3g} ({r['hr_ci_low']:.3g}–{r['hr_ci_high']:.3g})",
                        _p(r["cox_p"]),
                        _num(r["logrank_statistic"]),
                        _p(r["logrank_p"]),
                        f"{int(r['n_events_arm'])} / {int(r['n_events_reference'])}",
                        str(r["note"]) or "",
                    ]
                    for _, r in c.iterrows()  # arms × endpoints
                ],
            )
        )
        parts.append("")
    pr = analysis.paired
    if len(pr):
        parts += ["## Paired view (same patients in both arms)", ""]
        parts.append(
            _md_table(
                [
                    "arm",
                    "outcome",
                    "both",
                    "reference only",
                    "arm only",
                    "neither",
                    "exact McNemar p",
                ],
                [
                    [
                        str(r["arm"]),
                        str(r["outcome"]),
                        str(int(r["n_both"])),
                        str(int(r["n_reference_only"])),
                        str(int(r["n_arm_only"])),
                        str(int(r["n_neither"])),
                        _p(r["mcnemar_p"]),
                    ]
                    for _, r in pr.iterrows()  # arms × outcomes
                ],
            )
        )
        parts.append("")
    return "\n".join(parts) + "\n"


def _fill(
    tmp: Path, result: TrialResult, analysis: TrialAnalysis, manifest: dict[str, Any]
) -> None:
    from metastroma.viz.body import write_table
    from metastroma.viz.trial import (
        trial_km_figure,
        trial_shares_figure,
        trial_sites_figure,
    )

    trial = result.trial
    _text(
        tmp / "trial.yaml",
        yaml.safe_dump(
            trial.model_dump(mode="json"), sort_keys=False, allow_unicode=True
        ),
    )
    _text(
        tmp / "config.yaml",
        yaml.safe_dump(
            result.scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True
        ),
    )
    for name, run in result.arms.items():  # a few arms
        d = tmp / "arms" / name
        d.mkdir(parents=True)
        write_parquet_atomic(d / "patients.parquet", _arrow_table(run.result.patients))
        write_parquet_atomic(
            d / "metastases.parquet", _arrow_table(run.result.metastases)
        )
        _fsync_dir(d)
    _fsync_dir(tmp / "arms")
    write_table(analysis.summary, tmp / "summary.csv")
    _text(tmp / "summary.md", summary_markdown(analysis, manifest))
    write_table(analysis.shares, tmp / "shares.csv")
    write_table(analysis.sites, tmp / "sites.csv")
    write_table(analysis.survival, tmp / "survival.csv")
    write_table(analysis.comparisons, tmp / "comparisons.csv")
    write_table(analysis.paired, tmp / "paired.csv")
    fig = tmp / "figures"
    fig.mkdir()
    n = manifest["n_patients_per_arm"]
    for ep, what in (("mfs", "distant-metastasis-free"), ("os", "overall")):
        trial_km_figure(
            analysis.survival,
            analysis.summary,
            ep,
            fig / f"km_{ep}.png",
            title=f"{trial.name}: Kaplan–Meier {what} survival, {n} patients per arm "
            "(same patients; bands 95 % CI)",
        )
    trial_sites_figure(
        analysis.sites,
        fig / "sites.png",
        title=f"{trial.name}: distant sites ever involved, % of {n} patients per arm "
        "(95 % CI)",
    )
    trial_shares_figure(
        analysis.shares,
        fig / "shares.png",
        title=f"{trial.name}: detected distant metastasis by horizon, {n} patients per "
        "arm (95 % CI)",
    )
    _fsync_dir(fig)
    files = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
    manifest["files"] = sorted([*files, MANIFEST])
    manifest["ended_utc"] = utc_now()
    write_json_atomic(tmp / MANIFEST, manifest)


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def write_trial(
    result: TrialResult,
    analysis: TrialAnalysis,
    out_dir: Path,
    *,
    force: bool = False,
    trial_file: Path | str | None = None,
    started_utc: str | None = None,
    wall_s: float | None = None,
) -> TrialOutputs:
    """Write a simulated, analysed trial as a run directory, atomically.

    Parameters
    ----------
    result : TrialResult
        From :func:`metastroma.body.trial.run_trial`.
    analysis : TrialAnalysis
        From :func:`metastroma.body.trial.analyse_trial`.
    out_dir : Path
        Directory to create; rules of :func:`metastroma.store.cohort.check_cohort_out`.
    force : bool
        Replace an earlier run in ``out_dir``.
    trial_file : Path or str, optional
        The trial file, recorded (absolute) in the manifest.
    started_utc : str, optional
        ISO 8601 start time (default: now).
    wall_s : float, optional
        Wall-clock seconds of the simulation and analysis.

    Returns
    -------
    TrialOutputs

    Raises
    ------
    RunDirectoryError
        ``out_dir`` may not be written; nothing is written.
    """
    from metastroma import __version__
    from metastroma.body.trial import CRN_NOTE

    out_dir = Path(out_dir)
    check_cohort_out(out_dir, force)
    trial, sc = result.trial, result.scenario
    control = result.arms[trial.reference_arm].result
    ids = control.patients["patient_id"].to_numpy()
    arms = []
    for name, run in result.arms.items():  # a few arms
        arms.append(
            {
                "name": name,
                "kind": run.config.kind,
                "label": run.label,
                "relative_activity_high": float(run.relative_activity[0]),
                "relative_activity_low": float(run.relative_activity[1]),
                "activity_factor": _finite_or_none(run.activity_factor),
                "ic50_basis": run.ic50_basis or None,
                "mean_occupancy": _finite_or_none(run.mean_occupancy),
                "config_sha256": config_sha256(run.result.scenario),
                "n_metastases": len(run.result.metastases),
            }
        )
    manifest: dict[str, Any] = {
        "package": "metastroma",
        "kind": "trial",
        "version": __version__,
        "status": "complete",
        "trial_name": trial.name,
        "trial_file": str(Path(trial_file).absolute()) if trial_file else None,
        "trial_sha256": config_sha256(trial),
        "cohort_file": str(trial.cohort),
        "config_sha256": config_sha256(sc),
        "seed": sc.seed,
        "n_patients_per_arm": len(ids),
        "first_patient_id": int(ids.min()) if ids.size else 0,
        "common_random_numbers": True,
        "crn_note": CRN_NOTE,
        "reference_arm": trial.reference_arm,
        "horizons_years": list(trial.horizons_years),
        "arms": arms,
        "follow_up_years": sc.follow_up_years,
        "death_model": sc.death.model,
        "ddr2_curves": _curves_record(control),
        "started_utc": started_utc or utc_now(),
        "ended_utc": None,
        "wall_s": wall_s,
        **environment(),
    }
    write_run_dir(out_dir, lambda tmp: _fill(tmp, result, analysis, manifest))
    return TrialOutputs(
        out_dir=out_dir,
        files=tuple(manifest["files"]),
        analysis=analysis,
        manifest=manifest,
    )
