"""The base of every scenario model (tissue, body, cohort)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class _Model(BaseModel):
    """Base of every scenario model: frozen, unknown keys refused, values re-validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """Refuse ``true`` or ``'3'`` where a number is expected (pydantic would coerce)."""
        name = info.field_name
        ann = cls.model_fields[name].annotation if name else None
        numeric = ann in (float, int)
        if ann == list[float] and isinstance(v, list):
            bad = [x for x in v if isinstance(x, bool | str)]
            if bad:
                raise ValueError(f"must be numbers, got {bad[0]!r}")
        if numeric and isinstance(v, bool | str):
            raise ValueError(f"must be a number, got {type(v).__name__} {v!r}")
        return v
