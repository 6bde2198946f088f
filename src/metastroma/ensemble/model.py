"""What an ensemble member runs: a tissue scenario, a cohort scenario or a Python function.

A :class:`ModelRef` is the base model of an ensemble, read once in the driver and shipped
to workers as plain data (the base scenario as a mapping). A member is the base with some
parameters set (:func:`member_data`) and a seed; :func:`evaluate` runs it and returns its
outcomes as a flat ``{name: float}``:

- tissue: the last row of ``metrics.parquet`` (every numeric column, docs/run-directory.md);
- cohort: the ``value`` of every row of the cohort's summary table
  (``metastatic_at_diagnosis``, ``distant_metastasis_10y``, …; docs/body-scale.md);
- function: what ``f(params, seed)`` returns (a mapping of names to numbers).

Parameters are set on the base file's own mapping, so that defaults which depend on other
keys stay derived; a path through a list item the file does not spell out (``anatomy.
organs[2].soil`` in a file without ``anatomy``) copies that list from the resolved base
first.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from metastroma.config.loader import (
    _line_of,
    model_from_dict,
    read_yaml,
    scenario_from_dict,
)
from metastroma.config.sweep import EnsembleBase, check_path, split_path
from metastroma.errors import ConfigError

ModelKind = Literal["tissue", "cohort", "function"]

__all__ = [
    "ModelKind",
    "ModelRef",
    "check_parameter_paths",
    "evaluate",
    "load_model_ref",
    "member_data",
    "validate_member",
]


@dataclass(frozen=True)
class ModelRef:
    """The base model of an ensemble, as plain picklable data.

    Attributes
    ----------
    kind : {'tissue', 'cohort', 'function'}
    data : dict
        The base scenario file's mapping (empty for a function).
    resolved : dict
        The validated base with every default written out (JSON types).
    function : str or None
        ``'package.module:name'`` for a function model.
    source : str
        Base file name (or the function's name), for messages.
    base_dir : str
        Directory of the base file (relative CSV paths of tissue placements).
    digest : str
        SHA-256 of the base file's bytes (or of the function name): a resumed ensemble
        checks that its base did not change.
    """

    kind: ModelKind
    data: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)
    function: str | None = None
    source: str = ""
    base_dir: str = "."
    digest: str = ""

    def schema(self) -> type[BaseModel] | None:
        """The pydantic model of the base (None for a function)."""
        if self.kind == "tissue":
            from metastroma.config.models import Scenario

            return Scenario
        if self.kind == "cohort":
            from metastroma.config.cohort import CohortScenario

            return CohortScenario
        return None


def _kind_of(data: dict[str, Any], declared: str) -> ModelKind:
    if declared in ("tissue", "cohort"):
        return declared  # type: ignore[return-value]  # one of the two literals
    from metastroma.config.cohort import CohortScenario
    from metastroma.config.models import Scenario

    only_cohort = set(CohortScenario.model_fields) - set(Scenario.model_fields)
    return "cohort" if only_cohort & set(data) else "tissue"


def load_model_ref(spec: EnsembleBase, spec_path: Path) -> ModelRef:
    """Read and validate the base model named by an ensemble file.

    Raises
    ------
    ConfigError
        The base file is missing or invalid (named with its own file and line), or the
        function cannot be imported.
    """
    spec_path = Path(spec_path)
    if spec.function is not None:
        resolve_function(spec.function, where=f"{spec_path.name}: function")
        digest = hashlib.sha256(spec.function.encode()).hexdigest()
        return ModelRef(
            "function", function=spec.function, source=spec.function, digest=digest
        )
    assert spec.base is not None  # the spec's validator: base or function
    path = spec.base if spec.base.is_absolute() else spec_path.parent / spec.base
    if not path.is_file():
        raise ConfigError(
            f"{spec_path.name}: base = {str(spec.base)!r}: file not found (looked for "
            f"{path.resolve()})"
        )
    data, node, source = read_yaml(path, "base scenario")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a scenario must be a YAML mapping of keys")
    kind = _kind_of(data, spec.model)
    if kind == "tissue":
        resolved_model: BaseModel = scenario_from_dict(
            data, source=source, node=node, base_dir=path.parent
        )
    else:
        from metastroma.config.cohort import CohortScenario
        from metastroma.link import load_for_cohort

        cohort = model_from_dict(data, CohortScenario, source, node)
        resolved_model, _ = load_for_cohort(cohort, path.parent, source, node)
    return ModelRef(
        kind,
        data=data,
        resolved=resolved_model.model_dump(mode="json"),
        source=source,
        base_dir=str(path.parent.resolve()),
        digest=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def resolve_function(ref: str, where: str = "function") -> Any:
    """Import ``'package.module:name'`` and return the callable.

    Raises
    ------
    ConfigError
        The module or the name cannot be found, or it is not callable.
    """
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            f"{where} = {ref!r}: cannot import module {module_name!r} ({err})"
        ) from err
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ConfigError(f"{where} = {ref!r}: {module_name} has no function {attr!r}")
    return fn


def check_parameter_paths(
    ref: ModelRef, keys: dict[str, tuple[str, ...]], source: str, node: Any
) -> None:
    """Check parameter paths against the base model's schema.

    Parameters
    ----------
    keys : dict
        Path → its location in the ensemble file (``('parameters', path)``).

    Raises
    ------
    ConfigError
        One line per unknown path: file, line, where it is, and the valid paths nearby.
    """
    schema = ref.schema()
    problems = []
    for path, loc in keys.items():
        try:
            if schema is None:
                split_path(path)
            else:
                check_path(schema, path)
        except ValueError as err:
            line = _line_of(node, loc) if node is not None else None
            where = f"{source}:{line}" if line else source
            what = ".".join(str(x) for x in loc)
            problems.append(f"{where}: {what}: {err} (base: {ref.source}, {ref.kind})")
    if problems:
        raise ConfigError("\n".join(problems))


def _set_path(
    data: dict[str, Any], resolved: dict[str, Any], path: str, value: Any
) -> None:
    """Set ``path`` in ``data``; lists the file leaves out are copied from ``resolved``."""
    parts = split_path(path)
    cur: Any = data
    ref: Any = resolved
    for i, part in enumerate(parts[:-1]):
        nxt_ref = _get(ref, part)
        nxt = _get(cur, part)
        if nxt is None:
            if isinstance(parts[i + 1], int) or isinstance(nxt_ref, list):
                nxt = copy.deepcopy(nxt_ref)
            else:
                nxt = {}
            if nxt is None:
                raise KeyError(f"{path}: no item {_show(parts[: i + 1])} in the base")
            _put(cur, part, nxt, path)
        cur, ref = nxt, nxt_ref
    _put(cur, parts[-1], value, path)


def _show(parts: tuple[str | int, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in parts).replace(
        ".[", "["
    )


def _get(container: Any, part: str | int) -> Any:
    if isinstance(part, int):
        if isinstance(container, list) and 0 <= part < len(container):
            return container[part]
        return None
    if isinstance(container, dict):
        return container.get(part)
    return None


def _put(container: Any, part: str | int, value: Any, path: str) -> None:
    if isinstance(part, int):
        if not isinstance(container, list) or not 0 <= part < len(container):
            n = len(container) if isinstance(container, list) else 0
            raise KeyError(
                f"{path}: list index [{part}] out of range (the list has {n})"
            )
        container[part] = value
    elif isinstance(container, dict):
        container[part] = value
    else:
        raise KeyError(f"{path}: {part!r} is inside a value, not a section")


def member_data(ref: ModelRef, params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The base mapping with ``params`` set (in order) and the seed.

    Raises
    ------
    KeyError
        A path through a list item that the base does not have.
    """
    if ref.kind == "function":
        return {**params}
    data = copy.deepcopy(ref.data)
    for path, value in params.items():
        _set_path(data, ref.resolved, path, value)
    data["seed"] = int(seed)
    return data


def validate_member(
    ref: ModelRef, data: dict[str, Any], label: str
) -> BaseModel | None:
    """Validate a member's scenario; errors name the member (``label``).

    Raises
    ------
    ConfigError
        ``label: key.path = value: what is allowed``.
    """
    if ref.kind == "tissue":
        return scenario_from_dict(data, source=label, base_dir=Path(ref.base_dir))
    if ref.kind == "cohort":
        from metastroma.config.cohort import CohortScenario
        from metastroma.link import load_for_cohort

        cohort = model_from_dict(data, CohortScenario, label)
        return load_for_cohort(cohort, Path(ref.base_dir), label)[0]  # curves resolved
    return None


def _numeric(values: dict[str, Any], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in values.items():
        if isinstance(v, int | float) or getattr(v, "shape", None) == ():
            out[str(k)] = float(v)  # bool, int, float, NumPy scalars
        else:
            raise TypeError(
                f"{what}: outcome {k!r} = {v!r} is not a number ({type(v).__name__})"
            )
    return out


def evaluate(
    ref: ModelRef,
    params: dict[str, Any],
    seed: int,
    run_dir: Path | None = None,
    *,
    threads: int | None = None,
) -> dict[str, float]:
    """Run one member and return its outcomes.

    Parameters
    ----------
    ref : ModelRef
    params : dict
        Parameter path → value.
    seed : int
    run_dir : Path, optional
        Where a tissue or cohort member writes its run directory; without one it runs in
        a temporary directory that is removed afterwards (calibration particles). A tissue
        run directory holding an unfinished run with a checkpoint is resumed (bitwise the
        same as an uninterrupted run); a finished one is read, not rerun.
    threads : int, optional
        numba threads of a tissue run (results do not depend on it).

    Returns
    -------
    dict
        Outcome name → value (float; NaN allowed).
    """
    if ref.kind == "function":
        assert ref.function is not None
        fn = resolve_function(ref.function)
        got = fn(dict(params), int(seed))
        if not isinstance(got, dict):
            raise TypeError(
                f"{ref.function} returned {type(got).__name__}, not a dict of outcomes"
            )
        return _numeric(got, ref.function)
    if run_dir is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="metastroma-member-") as tmp:
            return evaluate(ref, params, seed, Path(tmp) / "run", threads=threads)
    data = member_data(ref, params, seed)
    sc = validate_member(ref, data, f"{ref.source} (member)")
    if ref.kind == "tissue":
        return _run_tissue(sc, Path(run_dir), threads)
    return _run_cohort(sc, Path(run_dir))


def _run_tissue(sc: Any, run_dir: Path, threads: int | None) -> dict[str, float]:
    from metastroma.runner import resume, run
    from metastroma.store.checkpoint import latest_checkpoint
    from metastroma.store.manifest import read_manifest

    manifest = read_manifest(run_dir)
    if manifest is not None and manifest.get("status") == "complete":
        return _last_metrics(run_dir)
    if manifest is not None and latest_checkpoint(run_dir) is not None:
        try:
            result = resume(run_dir, threads=threads)
        except ValueError:  # another configuration's checkpoint: start again
            result = run(sc, run_dir, threads=threads, force=True)
    else:
        result = run(sc, run_dir, threads=threads, force=True)
    return {
        k: float(v[-1])
        for k, v in result.metrics.items()
        if v and isinstance(v[-1], int | float)
    }


def _last_metrics(run_dir: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    table = pq.read_table(run_dir / "metrics.parquet")
    last = table.slice(table.num_rows - 1, 1).to_pylist()[0]
    return {k: float(v) for k, v in last.items() if isinstance(v, int | float)}


def _run_cohort(sc: Any, run_dir: Path) -> dict[str, float]:
    import time

    from metastroma.body.cohort import simulate_cohort
    from metastroma.link import load_for_cohort
    from metastroma.store.cohort import write_cohort
    from metastroma.store.manifest import read_manifest, utc_now

    manifest = read_manifest(run_dir)
    if manifest is None or manifest.get("status") != "complete":
        started, t0 = utc_now(), time.perf_counter()
        sc, curves = load_for_cohort(sc)  # paths already absolute
        result = simulate_cohort(sc, curves=curves)
        outputs = write_cohort(
            result,
            run_dir,
            force=True,
            started_utc=started,
            wall_s=round(time.perf_counter() - t0, 3),
        )
        summary = outputs.summary
    else:
        import pandas as pd

        summary = pd.read_csv(run_dir / "summary.csv")
    return {
        str(m): (float(v) if v is not None and not _is_nan(v) else math.nan)
        for m, v in zip(summary["metric"], summary["value"], strict=True)
    }


def _is_nan(v: Any) -> bool:
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return True


def params_json(params: dict[str, Any]) -> str:
    """Canonical JSON of a parameter point (catalog, hashes)."""
    return json.dumps(params, sort_keys=False, default=float)
