"""Read and write scenario YAML; turn every validation error into one clear line.

An error names the file, the line, the key path, the value and what is allowed, with the
unit read from the key's suffix::

    spheroid_2d.yaml:14: oxygen.decay_per_min = -0.1: must be >= 0 (1/min)

``yaml.compose`` keeps line marks, so a pydantic ``loc`` maps back to a line of the file.
File access stays in the thin functions :func:`load_scenario` and :func:`save_scenario`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from metastroma.config.models import Placement, Scenario
from metastroma.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

#: Unit of a key, from its name's suffix (the longest matching suffix wins); used in
#: error messages and in the generated parameter tables.
UNIT_SUFFIXES = {
    "_um": "µm",
    "_um3": "µm³",
    "_min": "min",
    "_per_min": "1/min",
    "_um_per_min": "µm/min",
    "_um2_per_min": "µm²/min",
    "_mmhg": "mmHg",
    "_per_mm2": "1/mm²",
    "_steps": "mechanics steps",
    "_day": "days",
    "_days": "days",
    "_per_day": "1/day",
    "_mm": "mm",
    "_cells": "cells",
    "_years": "years",
    "_h": "h",
    "_per_mm3": "1/mm³",
    "_per_um": "1/µm",
    "_deg": "degrees",
}


def _unit(key: str) -> str:
    matches = [s for s in UNIT_SUFFIXES if key.endswith(s)]
    return UNIT_SUFFIXES[max(matches, key=len)] if matches else ""


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node on ``loc`` that exists in the composed YAML."""
    line = None
    cur = node
    for part in loc:
        if cur is None:
            break
        line = cur.start_mark.line + 1
        nxt = None
        if isinstance(cur, yaml.MappingNode) and isinstance(part, str):
            for k, v in cur.value:
                if k.value == part:
                    line = k.start_mark.line + 1
                    nxt = v
                    break
        elif (
            isinstance(cur, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(cur.value)
        ):
            nxt = cur.value[part]
        cur = nxt
    if cur is not None and (line is None or isinstance(cur, yaml.ScalarNode)):
        line = cur.start_mark.line + 1
    return line


_PATH_PREFIX = re.compile(
    r"^((?:[a-z_][a-z0-9_]*|\[\d+\])(?:\.?(?:[a-z_][a-z0-9_]*|\[\d+\]))*): "
)


def _split_path(text: str) -> tuple[int | str, ...]:
    """``'initial_cells[0].kind'`` → ``('initial_cells', 0, 'kind')``."""
    out: list[int | str] = []
    for part in re.findall(r"[a-z_][a-z0-9_]*|\[\d+\]", text):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def _path_text(loc: tuple[int | str, ...]) -> str:
    text = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
    return text.replace(".[", "[")


def _model_at(
    loc: tuple[int | str, ...], root: type[BaseModel] = Scenario
) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of ``loc`` (for 'allowed keys')."""
    model: Any = root
    skip_key = False  # the next part is a key of a dict-valued field, not a field
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return None
        ann = field.annotation
        skip_key = getattr(ann, "__origin__", None) is dict
        candidates = getattr(ann, "__args__", (ann,))
        nxt = None
        for c in candidates:
            inner = getattr(c, "__args__", (c,))
            for cc in (c, *inner):
                if isinstance(cc, type) and issubclass(cc, BaseModel):
                    nxt = cc
                    break
            if nxt is not None:
                break
        if nxt is None:
            return None
        # subclasses with other defaults (cancer, msc) share their parent's keys
        model = nxt
    return model


def _explain(err: Any, root: type[BaseModel] = Scenario) -> str:
    """Rewrite one pydantic error as 'value: what is allowed (unit)'."""
    loc = tuple(err["loc"])
    key = str(loc[-1]) if loc else ""
    unit = _unit(key)
    unit_s = f" ({unit})" if unit else ""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc, root)
        allowed = sorted(model.model_fields) if model is not None else []
        near = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key{hint}; allowed keys here: {', '.join(allowed)}"
    bounds = {
        "greater_than": "> {gt}",
        "greater_than_equal": ">= {ge}",
        "less_than": "< {lt}",
        "less_than_equal": "<= {le}",
    }
    if kind in bounds:
        limits = {k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()}
        return "must be " + bounds[kind].format(**limits) + unit_s
    if kind == "finite_number":
        return "must be a finite number" + unit_s
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    return msg + unit_s


def _format_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def format_validation_error(
    err: ValidationError,
    source: str,
    node: yaml.Node | None,
    root: type[BaseModel] = Scenario,
) -> str:
    """One line per problem: ``file:line: key.path = value: what is allowed``."""
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        explanation = _explain(e, root)
        value = "" if e["type"] == "missing" else f" = {_format_value(e.get('input'))}"
        # A cross-field check names the key it refers to: "key.path: message".
        m = _PATH_PREFIX.match(explanation) if e["type"] == "value_error" else None
        if m is not None:
            loc = (*loc, *_split_path(m.group(1)))
            explanation = explanation[m.end() :]
            value = ""
        line = _line_of(node, loc) if node is not None else None
        where = f"{source}:{line}" if line else source
        lines.append(
            f"{where}: {_path_text(loc) or '(top level)'}{value}: {explanation}"
        )
    return "\n".join(lines)


def _reject_non_finite(
    obj: Any, path: tuple[int | str, ...], problems: list[tuple]
) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        problems.append(path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _reject_non_finite(v, (*path, k), problems)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _reject_non_finite(v, (*path, i), problems)


def _refuse_non_finite(data: Any, source: str, node: yaml.Node | None) -> None:
    """ConfigError naming file, line and key of every NaN or infinity in ``data``."""
    problems: list[tuple] = []
    _reject_non_finite(data, (), problems)
    if problems:
        msgs = []
        for loc in problems:
            line = _line_of(node, loc) if node is not None else None
            where = f"{source}:{line}" if line else source
            msgs.append(
                f"{where}: {_path_text(loc)}: must be a finite number (NaN and infinity "
                "are refused)"
            )
        raise ConfigError("\n".join(msgs))


def scenario_from_dict(
    data: Any,
    source: str = "<scenario>",
    node: yaml.Node | None = None,
    base_dir: Path | None = None,
) -> Scenario:
    """Validate a mapping as a :class:`Scenario`.

    Parameters
    ----------
    data : Any
        The parsed YAML (a mapping).
    source : str
        File name used in error messages.
    node : yaml.Node, optional
        The composed YAML, to report line numbers.
    base_dir : Path, optional
        Directory that relative paths in the scenario (CSV placements) are resolved against;
        files are checked to exist.

    Raises
    ------
    ConfigError
        With one line per problem, naming file, line, key path, value and what is allowed.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a scenario must be a YAML mapping of keys, got {type(data).__name__}"
        )
    _refuse_non_finite(data, source, node)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, node)) from err
    if base_dir is not None:
        scenario = _resolve_paths(scenario, base_dir, source, node)
    return scenario


def _resolve_paths(
    scenario: Scenario, base_dir: Path, source: str, node: yaml.Node | None
) -> Scenario:
    placements: list[Placement] = []
    for i, p in enumerate(scenario.initial_cells):
        if p.csv_path is not None:
            line = _line_of(node, ("initial_cells", i, "csv_path")) if node else None
            where = f"{source}:{line}" if line else source
            key = f"{where}: initial_cells[{i}].csv_path = {str(p.csv_path)!r}"
            try:
                path = p.csv_path if p.csv_path.is_absolute() else base_dir / p.csv_path
                path = path.resolve()
                found = path.is_file()
            except (OSError, ValueError) as err:
                raise ConfigError(f"{key}: not a usable path ({err})") from err
            if not found:
                raise ConfigError(f"{key}: file not found (looked for {path})")
            p = p.model_copy(update={"csv_path": path})
        placements.append(p)
    return scenario.model_copy(update={"initial_cells": placements})


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (it would be ignored)."""

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} given twice (lines {seen[key]} and {line})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 1e5 and 1.0e-10 as strings; YAML 1.2 reads them as floats.
_YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789.")
)


def read_input_text(path: Path | str, what: str = "file") -> str:
    """The text of an input file (UTF-8), or a ConfigError naming it and what it is.

    ``what`` names the file in messages ("scenario file", "response-curve file", …).
    """
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: {what} not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read {what}: {err}") from err


def read_yaml(path: Path, what: str = "file") -> tuple[Any, yaml.Node | None, str]:
    """Parse a YAML file; returns (data, composed node for line numbers, file name).

    ``what`` names the file in messages ("scenario file", "cohort scenario", …).

    Raises
    ------
    ConfigError
        Missing, unreadable, empty or syntactically invalid file (with the line).
    """
    path = Path(path)
    source = path.name
    text = read_input_text(path, what)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from err
    if data is None:
        raise ConfigError(f"{source}: the {what} is empty")
    return data, node, source


def model_from_dict(
    data: Any, model: type[M], source: str, node: yaml.Node | None = None
) -> M:
    """Validate a mapping as ``model`` with the scenario loader's error messages.

    Raises
    ------
    ConfigError
        One line per problem: ``file:line: key.path = value: what is allowed (unit)``.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a YAML mapping of keys, got {type(data).__name__}"
        )
    _refuse_non_finite(data, source, node)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, node, model)) from err


def load_model(
    path: Path, model: type[M], overrides: dict[str, Any] | None = None
) -> M:
    """Read and validate a YAML file as ``model`` (cohort scenarios, sweep files, …).

    Raises
    ------
    ConfigError
        Unreadable file, YAML syntax error or invalid content, naming file, line and key.
    """
    data, node, source = read_yaml(path)
    if overrides and isinstance(data, dict):
        data = {**data, **overrides}
    return model_from_dict(data, model, source, node)


def load_scenario(path: Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, parse and validate a scenario YAML file.

    Parameters
    ----------
    path : Path
        The scenario file.
    overrides : dict, optional
        Top-level keys replacing the file's (the CLI's ``--seed``).

    Raises
    ------
    ConfigError
        Missing or unreadable file, YAML syntax error (with its line), or invalid content.
    """
    path = Path(path)
    data, node, source = read_yaml(path, "scenario file")
    if overrides and isinstance(data, dict):
        data = {**data, **overrides}
    return scenario_from_dict(data, source=source, node=node, base_dir=path.parent)


def scenario_to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario (every default written out) as YAML text."""
    data = scenario.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's canonical JSON (checkpoints refuse another config)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def save_scenario(scenario: Scenario, path: Path) -> None:
    """Write the resolved scenario atomically (temporary file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(scenario_to_yaml(scenario))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def scenario_json_schema() -> dict[str, Any]:
    """JSON schema of a scenario file (what ``metastroma schema`` prints)."""
    return Scenario.model_json_schema()
