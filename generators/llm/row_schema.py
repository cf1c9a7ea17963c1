"""One synthetic row as JSON: the JSON Schema a decoder is constrained to, and its validator.

Built from a :class:`~synth.schema.Schema` (modelled columns only):

===========  ==========================================================================
kind         JSON Schema of the value
===========  ==========================================================================
numeric      ``{"type": "number", "minimum": lo, "maximum": hi}``
integer      ``{"type": "integer", "minimum": lo, "maximum": hi}``
categorical  ``{"enum": [levels...]}`` (numbers stay numbers, strings stay strings)
boolean      ``{"type": "boolean"}``
datetime     ``{"type": "string", "pattern": ISO 8601 date or date-time}``
===========  ==========================================================================

A nullable column's value is ``anyOf [value, null]``. The row is an object with every
column required, in schema order, and no other key. Grammar libraries enforce what they
can of this (types, enums, integer bounds, key order); :class:`RowValidator` (pydantic)
then checks all of it, float and datetime bounds included, so every row the generator
keeps is valid whatever the backend did.
"""

from __future__ import annotations

import math
import numbers
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from synth.schema import ColumnKind, ColumnSpec, Schema

DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$"


def _native(value: Any) -> Any:
    """NumPy scalars -> Python scalars (JSON and pydantic Literal need them)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _bound(value: float | None, kind: ColumnKind) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    if kind == ColumnKind.INTEGER:
        return int(value)
    return float(value)


def value_schema(spec: ColumnSpec) -> dict[str, Any]:
    """JSON Schema of one column's value (without nullability)."""
    if spec.kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
        out: dict[str, Any] = {"type": "number" if spec.kind == ColumnKind.NUMERIC else "integer"}
        lo, hi = _bound(spec.minimum, spec.kind), _bound(spec.maximum, spec.kind)
        if lo is not None:
            out["minimum"] = lo
        if hi is not None:
            out["maximum"] = hi
        return out
    if spec.kind == ColumnKind.BOOLEAN:
        return {"type": "boolean"}
    if spec.kind == ColumnKind.CATEGORICAL:
        if not spec.categories:
            return {"type": "string"}
        return {"enum": [_native(c) for c in spec.categories]}
    if spec.kind == ColumnKind.DATETIME:
        return {"type": "string", "pattern": DATETIME_PATTERN}
    raise ValueError(f"column '{spec.name}' of kind '{spec.kind.value}' is not modelled")


def column_schema(spec: ColumnSpec) -> dict[str, Any]:
    """JSON Schema of one column's value, ``anyOf`` with null when the column is nullable."""
    schema = value_schema(spec)
    return {"anyOf": [schema, {"type": "null"}]} if spec.nullable else schema


def row_json_schema(schema: Schema) -> dict[str, Any]:
    """JSON Schema of one row: an object with every modelled column, in order, required."""
    return {
        "type": "object",
        "properties": {spec.name: column_schema(spec) for spec in schema.columns},
        "required": list(schema.names),
        "additionalProperties": False,
    }


def batch_json_schema(schema: Schema, rows: int) -> dict[str, Any]:
    """JSON Schema of one model answer: ``{"rows": [row, ...]}`` with exactly ``rows`` rows."""
    return {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": row_json_schema(schema), "minItems": rows, "maxItems": rows}
        },
        "required": ["rows"],
        "additionalProperties": False,
    }


# -- validation --------------------------------------------------------------------------


def _datetime_check(spec: ColumnSpec) -> Any:
    def check(value: str) -> str:
        stamp = pd.Timestamp(datetime.fromisoformat(value))
        ns = float(stamp.value)
        if spec.minimum is not None and ns < spec.minimum:
            raise ValueError("before the column's minimum")
        if spec.maximum is not None and ns > spec.maximum:
            raise ValueError("after the column's maximum")
        return value

    return check


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _field_type(spec: ColumnSpec) -> Any:
    lo, hi = _bound(spec.minimum, spec.kind), _bound(spec.maximum, spec.kind)
    if spec.kind == ColumnKind.NUMERIC:
        base: Any = Annotated[float, Field(ge=lo, le=hi, strict=False), AfterValidator(_finite)]
    elif spec.kind == ColumnKind.INTEGER:
        base = Annotated[int, Field(ge=lo, le=hi, strict=True)]
    elif spec.kind == ColumnKind.BOOLEAN:
        base = Annotated[bool, Field(strict=True)]
    elif spec.kind == ColumnKind.CATEGORICAL:
        base = Literal[tuple(_native(c) for c in spec.categories)] if spec.categories else Annotated[str, Field(strict=True)]
    elif spec.kind == ColumnKind.DATETIME:
        base = Annotated[str, Field(pattern=DATETIME_PATTERN), AfterValidator(_datetime_check(spec))]
    else:
        raise ValueError(f"column '{spec.name}' of kind '{spec.kind.value}' is not modelled")
    return base | None if spec.nullable else base


class RowValidator:
    """Validates decoded rows against the schema with a pydantic model built from it.

    Column names become field aliases, so any name works (spaces, dots, keywords).
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        fields = {f"c{i}": (_field_type(spec), Field(alias=spec.name)) for i, spec in enumerate(schema.columns)}
        self.model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            "SyntheticRow", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
        )

    def validate(self, row: Any) -> dict[str, Any] | None:
        """The row as ``{column: value}`` when valid, else ``None``.

        ``row`` is a decoded JSON object (a dict); nothing is parsed from text here.
        """
        if not isinstance(row, dict):
            return None
        try:
            parsed = self.model.model_validate(row)
        except ValidationError:
            return None
        return parsed.model_dump(by_alias=True)

    def errors(self, row: Any) -> list[str]:
        """Why ``row`` is invalid (for logs and tests): ``["column: message", ...]``."""
        if not isinstance(row, dict):
            return [f"not an object: {type(row).__name__}"]
        try:
            self.model.model_validate(row)
        except ValidationError as exc:
            return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return []


def json_value(value: Any, spec: ColumnSpec) -> Any:
    """A real or synthetic cell as the JSON value the row schema expects (for prompts)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    value = _native(value)
    if spec.kind == ColumnKind.INTEGER:
        return int(value)
    if spec.kind == ColumnKind.NUMERIC:
        return float(value)
    if spec.kind == ColumnKind.BOOLEAN:
        return bool(value)
    if spec.kind == ColumnKind.DATETIME:
        return pd.Timestamp(value).isoformat(sep=" ")
    if isinstance(value, numbers.Number) or isinstance(value, str):
        return value
    return str(value)
