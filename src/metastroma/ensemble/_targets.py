"""The targets file of a calibration: observed outcomes, read with clear errors.

A YAML mapping ``outcome: value`` or ``outcome: {value: v, scale: s}``, or a CSV with
the columns ``outcome,value[,scale]``; relative to the calibration file. Every value must
be a finite number; a name given twice, a missing value or a non-numeric one is an error
naming the file and its line (or row).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metastroma.config.loader import _line_of, read_yaml
from metastroma.errors import ConfigError

__all__ = ["Target", "Targets", "read_targets"]


@dataclass(frozen=True)
class Target:
    """One observed outcome.

    Attributes
    ----------
    outcome : str
        Outcome name, as the model returns it.
    value : float
        Observed value, in the outcome's units.
    scale : float or None
        Expected size of a mismatch, in the outcome's units (> 0); used by the
        ``scaled`` distance.
    line : int or None
        Line of the targets file it was read from (1-based).
    """

    outcome: str
    value: float
    scale: float | None
    line: int | None


@dataclass(frozen=True)
class Targets:
    """The observed outcomes of a calibration, as read from its targets file."""

    path: Path
    items: tuple[Target, ...]

    @property
    def source(self) -> str:
        """File name, for messages."""
        return self.path.name

    @property
    def outcomes(self) -> list[str]:
        """Outcome names, in file order."""
        return [t.outcome for t in self.items]

    def observed(self) -> dict[str, float]:
        """Outcome → observed value."""
        return {t.outcome: t.value for t in self.items}

    def where(self, outcome: str) -> str:
        """``file:line`` of ``outcome`` (the file name if the line is unknown)."""
        for t in self.items:
            if t.outcome == outcome and t.line is not None:
                return f"{self.source}:{t.line}"
        return self.source


def _number(raw: Any, what: str) -> float:
    """A finite float from a YAML scalar or a CSV cell; ValueError says why not."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"{what} = {raw!r}: must be a number")
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"{what} = {raw!r}: must be a number") from None
    elif isinstance(raw, int | float):
        value = float(raw)
    else:
        raise ValueError(f"{what} = {raw!r}: must be a number")
    if not math.isfinite(value):
        raise ValueError(f"{what} = {raw!r}: must be a finite number")
    return value


def read_targets(path: Path) -> Targets:
    """Read a targets file: outcome → observed value and optional scale.

    YAML: a mapping of outcome to a number or to ``{value: number, scale: number}``.
    CSV: a header with ``outcome`` and ``value`` and, optionally, ``scale`` (an empty cell
    means none), then one row per outcome. Format and an example in
    :mod:`metastroma.config.calibration`.

    Parameters
    ----------
    path : Path
        A ``.yaml``, ``.yml`` or ``.csv`` file.

    Returns
    -------
    Targets

    Raises
    ------
    ConfigError
        Missing or unreadable file, no targets, a duplicate outcome, or a value or scale
        that is not a finite number (scale: > 0); one line per problem, naming file and
        line.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _read_targets_csv(path)
    return _read_targets_yaml(path)


def _read_targets_yaml(path: Path) -> Targets:
    data, node, source = read_yaml(path, "targets file")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a targets file is a mapping of outcome → value, got "
            f"{type(data).__name__}"
        )
    items: list[Target] = []
    problems: list[str] = []
    for key, raw in data.items():
        line = _line_of(node, (key,)) if node is not None else None
        where = f"{source}:{line}" if line else source
        if not isinstance(key, str):
            problems.append(f"{where}: outcome {key!r}: names must be text")
            continue
        scale_raw: Any = None
        if isinstance(raw, dict):
            extra = sorted(set(map(str, raw)) - {"value", "scale"})
            if extra or "value" not in raw:
                what = f"unknown key {extra[0]!r}" if extra else "value is missing"
                problems.append(
                    f"{where}: {key}: {what}; give a number or {{value: number, "
                    "scale: number}"
                )
                continue
            value_raw, scale_raw = raw["value"], raw.get("scale")
            value_line = _line_of(node, (key, "value")) if node is not None else line
            where = f"{source}:{value_line}" if value_line else source
        else:
            value_raw = raw
        try:
            value = _number(value_raw, key)
            scale = None
            if scale_raw is not None:
                scale = _number(scale_raw, f"{key}.scale")
                if scale <= 0:
                    raise ValueError(f"{key}.scale = {scale:g}: must be > 0")
        except ValueError as err:
            problems.append(f"{where}: {err}")
            continue
        items.append(Target(key, value, scale, line))
    if problems:
        raise ConfigError("\n".join(problems))
    if not items:
        raise ConfigError(f"{source}: no targets (a mapping of outcome → value)")
    return Targets(path, tuple(items))


def _read_targets_csv(path: Path) -> Targets:
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: targets file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read targets file: {err}") from err
    reader = csv.reader(text.splitlines())
    header: list[str] | None = None
    items: list[Target] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip() for c in row]
                unknown = sorted(set(header) - {"outcome", "value", "scale"})
                missing = [c for c in ("outcome", "value") if c not in header]
                if unknown or missing or len(set(header)) != len(header):
                    raise ConfigError(
                        f"{source}:{line}: header {','.join(header)!r}: the columns are "
                        "outcome, value and, optionally, scale"
                    )
                continue
            if len(row) != len(header):
                problems.append(
                    f"{source}:{line}: {len(row)} cells, the header has {len(header)}"
                )
                continue
            cells = dict(zip(header, (c.strip() for c in row), strict=True))
            name = cells["outcome"]
            if not name:
                problems.append(f"{source}:{line}: outcome is empty")
                continue
            if name in seen:
                problems.append(
                    f"{source}:{line}: outcome {name!r} given twice (lines "
                    f"{seen[name]} and {line})"
                )
                continue
            seen[name] = line
            try:
                value = _number(cells["value"], f"{name}: value")
                scale = None
                if cells.get("scale"):
                    scale = _number(cells["scale"], f"{name}: scale")
                    if scale <= 0:
                        raise ValueError(f"{name}: scale = {scale:g}: must be > 0")
            except ValueError as err:
                problems.append(f"{source}:{line}: {err}")
                continue
            items.append(Target(name, value, scale, line))
    except csv.Error as err:
        raise ConfigError(f"{source}:{reader.line_num}: not valid CSV: {err}") from err
    if problems:
        raise ConfigError("\n".join(problems))
    if header is None or not items:
        raise ConfigError(
            f"{source}: no targets (a header 'outcome,value[,scale]' and one row per "
            "outcome)"
        )
    return Targets(path, tuple(items))
