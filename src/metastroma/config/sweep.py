"""Pydantic models of ensemble files: sweeps (``metastroma sweep``) and their parameter paths.

A sweep file names a base model (a tissue scenario, a cohort scenario, or a Python function
``package.module:name``), the parameters to vary, how to sample them (a full grid, a list of
points, a Latin hypercube or a scrambled Sobol' sequence), how many seeded replicates each
point gets, and which outcomes to collect::

    name: induction_sweep
    base: ddr2_wt_msc_2d.yaml            # relative to this file
    fixed: {time.duration_min: 600}      # changed in every member
    design: grid
    parameters:
      ddr2.induction_rate_per_min: {values: [0.0, 0.001, 0.004]}
      msc_rules.deposition_rate_per_min: {values: [0.0, 0.0005]}
    replicates: 3
    seed: 1

A parameter is named by its dotted path in the base scenario, with ``[i]`` for list items
(``anatomy.organs[2].soil``). Paths are checked against the scenario's schema when the file
is read: an unknown path is an error that names it, its line, and the valid paths nearby.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from metastroma.config._base import _Model

#: One part of a parameter path: a key or a list index ``[i]``.
_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")

Scalar = float | int | bool | str


def split_path(path: str) -> tuple[str | int, ...]:
    """``'anatomy.organs[2].soil'`` → ``('anatomy', 'organs', 2, 'soil')``.

    Raises
    ------
    ValueError
        Not a dotted path of identifiers and ``[i]`` indices.
    """
    if not _PATH.match(path):
        raise ValueError(
            f"{path!r} is not a parameter path (keys joined by '.', list items as [i], "
            "e.g. 'ddr2.induction_rate_per_min' or 'anatomy.organs[2].soil')"
        )
    return tuple(
        key if key else int(idx) for key, idx in _PART.findall(path.replace(".", " "))
    )


def _unwrap(ann: Any) -> list[Any]:
    """The concrete types an annotation allows (Optional, Union, Annotated removed)."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(ann):
            if a is not type(None):
                out.extend(_unwrap(a))
        return out
    return [ann]


def _step(ann: Any, part: str | int) -> Any | None:
    """Annotation reached from ``ann`` by one path part, or None if there is no such part."""
    for t in _unwrap(ann):
        origin = typing.get_origin(t)
        if isinstance(part, int):
            if origin in (list, tuple):
                args = typing.get_args(t)
                return args[0] if args else Any
            continue
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(part)
            if field is not None:
                return field.annotation
        elif origin is dict:
            args = typing.get_args(t)
            return args[1] if len(args) == 2 else Any
        elif t is Any:
            return Any
    return None


def leaf_paths(model: type[BaseModel], prefix: str = "", depth: int = 0) -> list[str]:
    """Every settable path of ``model`` (list items shown as ``[0]``), for suggestions."""
    out: list[str] = []
    if depth > 8:
        return out
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        sub = list(_unwrap(field.annotation))
        nested = False
        for t in sub:
            origin = typing.get_origin(t)
            if isinstance(t, type) and issubclass(t, BaseModel):
                out.extend(leaf_paths(t, path, depth + 1))
                nested = True
                break
            if origin in (list, tuple):
                args = [
                    a
                    for a in typing.get_args(t)
                    if isinstance(a, type) and issubclass(a, BaseModel)
                ]
                if args:
                    out.extend(leaf_paths(args[0], f"{path}[0]", depth + 1))
                    nested = True
                    break
        if not nested:
            out.append(path)
    return out


def check_path(model: type[BaseModel], path: str) -> None:
    """Check that ``path`` names a field of ``model``.

    Raises
    ------
    ValueError
        Not a path, or no such field; the message lists the valid paths nearby.
    """
    parts = split_path(path)
    ann: Any = model
    for i, part in enumerate(parts):
        nxt = _step(ann, part)
        if nxt is None:
            done = _join(parts[:i])
            valid = leaf_paths(model)
            near = difflib.get_close_matches(path, valid, n=4, cutoff=0.6)
            under = [p for p in valid if done and p.startswith(done + ".")]
            if not near:
                near = under[:8]
            where = f" under '{done}'" if done else ""
            hint = f"; valid paths nearby: {', '.join(near)}" if near else ""
            raise ValueError(
                f"unknown parameter path (no {_join((part,))!r}{where}){hint}"
            )
        ann = nxt
    if any(
        isinstance(t, type) and issubclass(t, BaseModel) for t in _unwrap(ann)
    ) and not any(t in (dict, Any) for t in _unwrap(ann)):
        raise ValueError(
            "names a section, not a value; choose one of its keys: "
            + ", ".join(p for p in leaf_paths(model) if p.startswith(path + "."))
        )


def _join(parts: tuple[str | int, ...]) -> str:
    text = ".".join(f"[{p}]" if isinstance(p, int) else p for p in parts)
    return text.replace(".[", "[")


class ParameterSpec(_Model):
    """How one parameter varies: listed values (grid, list) or a range (lhs, sobol)."""

    values: list[Scalar] | None = Field(
        None, min_length=1, description="Values for the grid and list designs."
    )
    low: float | None = Field(None, description="Lower end for lhs and sobol designs.")
    high: float | None = Field(None, description="Upper end for lhs and sobol designs.")
    scale: Literal["linear", "log"] = Field(
        "linear", description="Sample the range evenly ('linear') or in log10 ('log')."
    )
    integer: bool = Field(False, description="Round sampled values to integers.")

    @model_validator(mode="after")
    def _values_or_range(self) -> Self:
        has_range = self.low is not None or self.high is not None
        if self.values is not None and has_range:
            raise ValueError("give either values or low/high, not both")
        if self.values is None and not has_range:
            raise ValueError("give values (grid, list) or low and high (lhs, sobol)")
        if has_range:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if not self.low < self.high:
                raise ValueError(
                    f"high: must be above low ({self.high:g} <= {self.low:g})"
                )
            if self.scale == "log" and self.low <= 0:
                raise ValueError("low: must be > 0 on a log scale")
        return self


class SummarySpec(_Model):
    """Confidence intervals of the per-point summary statistics."""

    interval: Literal["t", "bootstrap"] = Field(
        "t", description="Student-t interval of the mean, or percentile bootstrap."
    )
    level: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level.")
    n_boot: int = Field(
        2000, ge=100, le=100_000, description="Bootstrap resamples (bootstrap only)."
    )


class EnsembleBase(_Model):
    """What every ensemble file shares: the base model, fixed changes, seeds, outcomes."""

    name: str = Field(
        ...,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Name of the ensemble (letters, digits, _ . -).",
    )
    description: str = Field("", max_length=10_000, description="Free text.")
    base: Path | None = Field(
        None,
        description="Base scenario file (tissue or cohort), relative to this file.",
    )
    function: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
        description="Instead of base: a Python function 'package.module:name' called as "
        "f(params: dict, seed: int) -> dict of outcomes.",
    )
    model: Literal["auto", "tissue", "cohort"] = Field(
        "auto",
        description="What base is: 'auto' reads it (a cohort file has 'patients').",
    )
    fixed: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="Parameter path → value, set in every member before the varied ones.",
    )
    replicates: int = Field(
        1, ge=1, le=10_000, description="Seeded replicates of each point."
    )
    seed: int = Field(1, ge=0, le=2**62, description="Base seed of the ensemble.")
    seeds: Literal["common", "independent"] = Field(
        "common",
        description="'common': replicate r of every point uses seed + r (common random "
        "numbers across points); 'independent': a seed drawn from (seed, point, r).",
    )
    outcomes: list[str] = Field(
        default_factory=list,
        description="Outcomes to keep (metric names); empty: every numeric outcome.",
    )

    @model_validator(mode="after")
    def _base_or_function(self) -> Self:
        if (self.base is None) == (self.function is None):
            raise ValueError("give exactly one of base (a scenario file) and function")
        return self

    @field_validator("fixed")
    @classmethod
    def _fixed_paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            split_path(key)
        return v


class SweepSpec(EnsembleBase):
    """A sweep file: the base model, the parameters to vary and how, replicates, outcomes."""

    design: Literal["grid", "list", "lhs", "sobol"] = Field(
        "grid",
        description="grid: every combination of the listed values; list: the i-th values "
        "of all parameters together; lhs: Latin hypercube; sobol: scrambled Sobol' points.",
    )
    samples: int | None = Field(
        None, ge=1, le=1_000_000, description="Points of an lhs or sobol design."
    )
    parameters: dict[str, ParameterSpec] = Field(
        ..., min_length=1, description="Parameter path → how it varies."
    )
    summary: SummarySpec = Field(default_factory=SummarySpec)

    @model_validator(mode="after")
    def _design_matches(self) -> Self:
        for key, p in self.parameters.items():
            split_path(key)
            if self.design in ("grid", "list") and p.values is None:
                raise ValueError(
                    f"parameters.{key}: design '{self.design}' needs values, not low/high"
                )
            if self.design in ("lhs", "sobol") and p.values is not None:
                raise ValueError(
                    f"parameters.{key}: design '{self.design}' needs low and high, "
                    "not values"
                )
        if self.design == "list":
            lengths = {len(p.values or []) for p in self.parameters.values()}
            if len(lengths) > 1:
                raise ValueError(
                    "parameters: design 'list' needs the same number of values for "
                    f"every parameter (got {sorted(lengths)})"
                )
        if self.design in ("lhs", "sobol") and self.samples is None:
            raise ValueError(f"samples: required by design '{self.design}'")
        if (
            self.design == "sobol"
            and self.samples is not None
            and self.samples & (self.samples - 1)
        ):
            raise ValueError(
                f"samples: design 'sobol' needs a power of two (got {self.samples}; "
                "a Sobol' sequence is balanced only at 2^k points)"
            )
        if self.design in ("grid", "list") and self.samples is not None:
            raise ValueError(f"samples: not used by design '{self.design}'")
        clash = set(self.fixed) & set(self.parameters)
        if clash:
            raise ValueError(
                f"fixed: {sorted(clash)[0]} is also a varied parameter; keep one"
            )
        return self


__all__ = [
    "EnsembleBase",
    "ParameterSpec",
    "SummarySpec",
    "SweepSpec",
    "check_path",
    "leaf_paths",
    "split_path",
]
