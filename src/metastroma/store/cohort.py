"""The cohort run directory: tables, summaries, figures and manifest of a virtual cohort.

``metastroma cohort`` (or :func:`write_cohort`) writes one directory per cohort; every item
and every column is described in docs/run-directory.md ("Cohort run directory")::

    DIR/
      config.yaml               the fully resolved cohort scenario (every default written out)
      manifest.json             version, scenario hash, seed, patients, times, death model,
                                cells_per_mm3, the DDR2 response-curve file and its
                                provenance (``ddr2_curves``); written last
      patients.parquet          one row per patient
      metastases.parquet        one row per metastasis (colony)
      ledger.parquet            one row per patient × organ: end states of the shed cells
      summary.md, summary.csv   body.analysis.summary_table (SCIENCE.md §9.7 figures)
      site_involvement.csv      distant sites, ever and at first detection
      node_positivity.csv       node positivity by tumour diameter at diagnosis
      metastasis_sizes.csv      metastases per organ and their sizes at the end
      cox_hazard_ratios.csv     hazard ratios of death after metastasis, by site
      figures/km.png, sites.png, sizes.png, organ_graph.png

Atomicity (STYLE.md §6): everything is written into a hidden sibling ``.DIR.tmp``, fsynced,
and renamed to ``DIR`` at the end, so ``DIR`` either holds a complete cohort or is left as
it was; a crash leaves at most the hidden temporary, which the next write replaces. A
non-empty ``DIR`` is refused unless ``force``, and a non-empty directory that is not a run
directory (no ``manifest.json``) is never replaced, even with ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from metastroma.errors import RunDirectoryError
from metastroma.store.atomic import (
    _fsync_dir,
    replace_dir,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from metastroma.store.manifest import MANIFEST, environment, read_manifest, utc_now

T = TypeVar("T")

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pydantic import BaseModel

    from metastroma.body.cohort import CohortResult

#: The three tables of a cohort run directory.
TABLES = ("patients", "metastases", "ledger")
#: Figures, in ``figures/``.
FIGURES = ("km.png", "sites.png", "sizes.png", "organ_graph.png")
#: Horizons (years) of the distant-metastasis shares in the summary table.
SUMMARY_YEARS = (5.0, 10.0, 15.0)


@dataclass(frozen=True)
class CohortOutputs:
    """What :func:`write_cohort` wrote.

    Attributes
    ----------
    out_dir : Path
        The cohort run directory.
    files : tuple of str
        Every file written, relative to ``out_dir``, sorted.
    summary : DataFrame
        :func:`metastroma.body.analysis.summary_table` of the cohort (as in summary.csv).
    manifest : dict
        The content of manifest.json.
    """

    out_dir: Path
    files: tuple[str, ...]
    summary: pd.DataFrame
    manifest: dict[str, Any]


def check_cohort_out(out_dir: Path, force: bool = False) -> None:
    """Check that ``out_dir`` may receive a cohort; call it before simulating.

    ``out_dir`` may be absent (it is created, with its parents) or an empty directory; a
    directory holding a run (``manifest.json``) is replaced only with ``force``.

    Raises
    ------
    RunDirectoryError
        ``out_dir`` is a file; or it is a non-empty directory and ``force`` is False, or it
        holds no ``manifest.json`` (never deleted, even with ``force``); or the nearest
        existing parent is not a writable directory.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if read_manifest(out_dir) is None:
            raise RunDirectoryError(
                f"{out_dir}: not empty and not a run directory (no {MANIFEST}); "
                "choose another --out (it is never overwritten, even with --force)"
            )
        if not force:
            raise RunDirectoryError(
                f"{out_dir}: not empty (holds an earlier run); use --force to "
                "overwrite it or choose another --out"
            )
    parent = out_dir.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunDirectoryError(f"{out_dir}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirectoryError(f"{out_dir}: cannot write in {parent}")


def config_sha256(scenario: BaseModel) -> str:
    """SHA-256 of the resolved scenario's canonical JSON (sorted keys)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _arrow_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table, columns as they are; missing values become nulls.

    NaN in a float column (e.g. ``time_to_death_days`` of a censored patient) is written
    as null, "empty" to any Parquet reader (pandas reads it back as NaN). A text column
    that pyarrow infers as ``null`` (an empty table) is typed ``string``, so that empty
    and non-empty cohorts have the same schema.
    """
    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, f in enumerate(table.schema):  # columns, not rows
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def _write_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _summary_markdown(
    summary: pd.DataFrame, manifest: dict[str, Any], digits: int = 4
) -> str:
    from metastroma.body.analysis import to_markdown

    m = manifest
    head = [
        "# Virtual cohort: summary",
        "",
        f"- patients: {m['n_patients']} (ids {m['first_patient_id']}–"
        f"{m['first_patient_id'] + m['n_patients'] - 1}), seed {m['seed']}, "
        f"follow-up {m['follow_up_years']:g} years after diagnosis",
        f"- death model: `{m['death_model']}` (SCIENCE.md §9.6)",
        f"- cells per mm³: {m['cells_per_mm3']:,.0f} (SCIENCE.md §9.2)",
        f"- scenario: `{m['scenario_file']}` (resolved in `config.yaml`, SHA-256 "
        f"{m['config_sha256'][:12]}…); metastroma {m['version']}",
        "",
        "Shares in percent with 95 % confidence intervals; `reference` names the "
        "calibration figure of SCIENCE.md §9.7 compared, if any.",
        "",
        "",
    ]
    return "\n".join(head) + to_markdown(summary, digits)


def _site_table(patients: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from metastroma.body.analysis import K4_SITE_INVOLVEMENT_SHARES, site_involvement

    organs = list(K4_SITE_INVOLVEMENT_SHARES)
    ever = site_involvement(patients, "ever", organs=organs)
    first = site_involvement(patients, "first", organs=organs)
    de_novo = site_involvement(
        patients[patients["metastatic_at_diagnosis"].to_numpy(dtype=bool)],
        "first",
        organs=organs,
    )
    parts = [
        t.assign(which=w)
        for w, t in (("ever", ever), ("first", first), ("at_diagnosis", de_novo))
    ]
    table = pd.concat(parts, ignore_index=True)
    return table[["which", *[c for c in table.columns if c != "which"]]]


def _fill(tmp: Path, result: CohortResult, manifest: dict[str, Any]) -> pd.DataFrame:
    """Write every item of the cohort directory into ``tmp``; the manifest last."""
    from metastroma.body.analysis import (
        K3_BONE_SHARE_AT_DIAGNOSIS,
        K4_SITE_INVOLVEMENT_SHARES,
        cox_site_hazard_ratios,
        metastasis_sizes,
        node_positivity_by_size,
        summary_table,
        survival_curves,
    )
    from metastroma.viz.body import (
        km_figure,
        organ_graph_figure,
        site_bar_chart,
        size_distribution_figure,
        write_table,
    )

    sc = result.scenario
    patients, metastases = result.patients, result.metastases
    cells_per_mm3 = float(sc.growth.cells_per_mm3)
    config = yaml.safe_dump(
        sc.model_dump(mode="json"), sort_keys=False, allow_unicode=True
    )
    _write_text(tmp / "config.yaml", config)
    tables = {
        "patients": patients,
        "metastases": metastases,
        "ledger": result.ledger_table(),
    }
    for name in TABLES:  # three tables
        write_parquet_atomic(tmp / f"{name}.parquet", _arrow_table(tables[name]))

    summary = summary_table(patients, metastases, years=SUMMARY_YEARS)
    _write_text(tmp / "summary.md", _summary_markdown(summary, manifest))
    write_table(summary, tmp / "summary.csv")
    write_table(_site_table(patients), tmp / "site_involvement.csv")
    write_table(node_positivity_by_size(patients), tmp / "node_positivity.csv")
    write_table(
        metastasis_sizes(metastases, cells_per_mm3), tmp / "metastasis_sizes.csv"
    )
    write_table(cox_site_hazard_ratios(patients), tmp / "cox_hazard_ratios.csv")

    fig = tmp / "figures"
    fig.mkdir()
    km_figure(
        survival_curves(patients),
        fig / "km.png",
        which=("overall", "metastasis_free", "after_first_metastasis"),
        title=f"{len(patients)} virtual patients, death model '{sc.death.model}' "
        "(bands: 95 % CI)",
    )
    site_bar_chart(
        patients,
        fig / "sites.png",
        literature_patient_shares={"bone_marrow": K3_BONE_SHARE_AT_DIAGNOSIS},
        literature_involvement_shares=K4_SITE_INVOLVEMENT_SHARES,
        literature_label="literature at diagnosis (K3, K4)",
        first_at_diagnosis=True,
        organs=list(K4_SITE_INVOLVEMENT_SHARES),
    )
    size_distribution_figure(
        metastases, fig / "sizes.png", sc.anatomy, cells_per_mm3=cells_per_mm3
    )
    organ_graph_figure(sc.anatomy, fig / "organ_graph.png")
    _fsync_dir(fig)

    files = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()]
    manifest["files"] = sorted([*files, MANIFEST])
    manifest["ended_utc"] = utc_now()
    write_json_atomic(tmp / MANIFEST, manifest)
    return summary


def write_cohort(
    result: CohortResult,
    out_dir: Path,
    *,
    force: bool = False,
    scenario_file: Path | str | None = None,
    started_utc: str | None = None,
    wall_s: float | None = None,
) -> CohortOutputs:
    """Write a simulated cohort as a run directory, atomically.

    Parameters
    ----------
    result : CohortResult
        From :func:`metastroma.body.cohort.simulate_cohort`.
    out_dir : Path
        Directory to create; an existing empty one is used, a non-empty one holding a
        run is replaced only with ``force`` (see :func:`check_cohort_out`).
    force : bool
        Replace an earlier run in ``out_dir``.
    scenario_file : Path or str, optional
        The scenario file the cohort came from, recorded (absolute) in the manifest.
    started_utc : str, optional
        ISO 8601 time the simulation started (default: now); recorded in the manifest.
    wall_s : float, optional
        Wall-clock seconds of the simulation, recorded in the manifest.

    Returns
    -------
    CohortOutputs

    Raises
    ------
    RunDirectoryError
        ``out_dir`` may not be written (see :func:`check_cohort_out`); nothing is written.
    """
    from metastroma import __version__

    out_dir = Path(out_dir)
    check_cohort_out(out_dir, force)
    sc = result.scenario
    patients = result.patients
    ids = patients["patient_id"].to_numpy()
    manifest: dict[str, Any] = {
        "package": "metastroma",
        "kind": "cohort",
        "version": __version__,
        "status": "complete",
        "scenario_file": (
            str(Path(scenario_file).absolute()) if scenario_file is not None else None
        ),
        "config_sha256": config_sha256(sc),
        "seed": sc.seed,
        "n_patients": len(patients),
        "first_patient_id": int(ids.min()) if ids.size else 0,
        "n_metastases": len(result.metastases),
        "follow_up_years": sc.follow_up_years,
        "death_model": sc.death.model,
        "death": sc.death.model_dump(mode="json"),
        "ddr2_curves": _curves_record(result),
        "cells_per_mm3": sc.growth.cells_per_mm3,
        "started_utc": started_utc or utc_now(),
        "ended_utc": None,
        "wall_s": wall_s,
        **environment(),
    }
    summary = write_run_dir(out_dir, lambda tmp: _fill(tmp, result, manifest))
    return CohortOutputs(
        out_dir=out_dir,
        files=tuple(manifest["files"]),
        summary=summary,
        manifest=manifest,
    )


def _curves_record(result: CohortResult) -> dict[str, Any] | None:
    """The link's curve file a cohort used: path, content hash, provenance (or None)."""
    curves = result.curves
    if curves is None:  # the SCIENCE.md §10.2 formulas
        return None
    path = result.scenario.ddr2.curves
    return {
        "path": str(path) if path is not None else None,
        "content_sha256": curves.content_sha256(),
        "provenance": curves.provenance,
    }


def write_run_dir(out_dir: Path, fill: Callable[[Path], T]) -> T:
    """Write a run directory atomically: ``fill`` a sibling temporary, then move it in.

    The temporary ``.<name>.tmp`` beside ``out_dir`` (left by a killed write, it is ours by
    its name and removed first) is filled, fsynced and moved into place; on any error it is
    removed and ``out_dir`` is as it was.

    Returns
    -------
    What ``fill`` returned.
    """
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        value = fill(tmp)
        _fsync_dir(tmp)
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return value


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the finished ``tmp`` to ``out_dir``.

    An empty ``out_dir`` is simply replaced; a run there (checked by
    :func:`check_cohort_out` with force) is swapped out.
    """
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    replace_dir(tmp, out_dir)


def read_cohort(out_dir: Path) -> dict[str, pd.DataFrame]:
    """The tables of a cohort run directory.

    Returns
    -------
    dict
        ``'patients'``, ``'metastases'``, ``'ledger'`` → DataFrame (columns in
        docs/run-directory.md).

    Raises
    ------
    RunDirectoryError
        ``out_dir`` holds no complete cohort (no manifest of kind ``cohort``).
    """
    out_dir = Path(out_dir)
    m = read_manifest(out_dir)
    if m is None or m.get("kind") != "cohort" or m.get("status") != "complete":
        raise RunDirectoryError(f"{out_dir}: no complete cohort run directory")
    return {
        name: pq.read_table(out_dir / f"{name}.parquet").to_pandas() for name in TABLES
    }


__all__ = [
    "FIGURES",
    "TABLES",
    "CohortOutputs",
    "check_cohort_out",
    "config_sha256",
    "read_cohort",
    "write_cohort",
]
