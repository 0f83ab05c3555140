"""The base of every pydantic model that reads a workflow file: as strict as the format."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """Unknown fields are errors (typos must not pass silently), and booleans are not numbers."""

    model_config = ConfigDict(extra="forbid", strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML's true/false would otherwise pass as 1/0 in number fields
        if isinstance(value, bool) and info.field_name is not None:
            ann = cls.model_fields[info.field_name].annotation
            if ann is not bool and ann is not Any and bool not in get_args(ann):
                raise ValueError(f"expected a number or text, not the boolean {value}")
        return value
