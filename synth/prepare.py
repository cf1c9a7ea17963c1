"""From a data config to split, schema-checked tables ready for a generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.config.model import DataConfig
from synth.data.coerce import coerce_to_schema, infinite_values, validate_for_run
from synth.data.datasets import dataset_info
from synth.data.infer import facts_from_rows, infer_schema, looks_like_id
from synth.data.load import load_table
from synth.data.split import split_train_holdout
from synth.errors import DataError
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class PreparedData:
    """The real table split for a run.

    ``schema`` covers every column; ``modelled`` only those a generator sees. Kinds and
    roles come from the whole table, facts (nullable, bounds, categories) from the
    training rows only, so the schema holds nothing of a holdout record. ``train`` and
    ``holdout`` hold the modelled columns, keep the loaded table's row index (0..n-1) and
    never share a row. With a group column (``data.group``), ``train_groups`` and
    ``holdout_groups`` hold each row's group label (aligned with ``train`` / ``holdout``)
    and no group has rows on both sides; without one they are None. ``declared_bounds``
    maps a column to the (min, max) the config declares for it (None = open): the
    synthetic data is kept inside them.
    """

    schema: Schema
    modelled: Schema
    train: pd.DataFrame
    holdout: pd.DataFrame
    dropped: list[dict[str, str]]
    source: str
    train_groups: pd.Series | None = None
    holdout_groups: pd.Series | None = None
    declared_bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


def resolve_source(source: str, base_dir: Path | None) -> str | Path:
    """A ``builtin:`` name as is; a relative path against the config file's folder."""
    if source.startswith(BUILTIN_PREFIX):
        return source
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def load_real(
    data: DataConfig | None, frame: pd.DataFrame | None, base_dir: Path | None, source_label: str,
    data_label: str | None = None,
) -> tuple[pd.DataFrame, Schema]:
    """Load the real table and infer its schema with the config's overrides and roles.

    Built-in datasets bring their own default roles; the config's roles replace them.
    ``source_label`` names the config in messages about it, ``data_label`` the table in
    messages about its values (default: the data source, or ``source_label`` for a frame).
    """
    defaults: dict[str, Any] = {}
    if frame is not None:
        table = load_table(frame)
        where = data_label or source_label
    else:
        assert data is not None
        src = resolve_source(data.source, base_dir)
        table = load_table(src, format=data.format)
        where = data_label or f"'{src}'"
        if isinstance(src, str) and src.startswith(BUILTIN_PREFIX):
            # Roles only: the table itself was loaded above.
            defaults = dataset_info(src[len(BUILTIN_PREFIX):]).role_arguments()
    table = infinite_values(table, policy=data.infinite if data is not None else "error", source=where)

    single = ("target", "group")  # roles naming one column; the others name a list

    def pick(key: str) -> Any:
        given = getattr(data, key) if data is not None else None
        if data is not None and key in data.model_fields_set:
            return given if given is not None else (None if key in single else [])
        return defaults.get(key, None if key in single else [])

    overrides = {name: o.model_dump(exclude_none=True) for name, o in (data.columns.items() if data else [])}
    schema = infer_schema(
        table,
        overrides,
        target=pick("target"),
        sensitive=pick("sensitive") or (),
        quasi_identifiers=pick("quasi_identifiers") or (),
        identifiers=pick("identifiers") or (),
        group=pick("group"),
        source=source_label,
    )
    try:
        table = coerce_to_schema(table, schema)
    except DataError as exc:
        raise DataError(f"Table from {where}: {exc}") from None
    validate_for_run(table, schema, source=where)
    return table, schema


def prepare(
    data: DataConfig | None,
    *,
    seed: int,
    base_dir: Path | None = None,
    frame: pd.DataFrame | None = None,
    source_label: str = "config",
) -> PreparedData:
    """Load, type, validate and split the real data of a run."""
    table, schema = load_real(data, frame, base_dir, source_label)
    dropped = dropped_columns(schema)
    split = data.split if data is not None else None
    train, holdout = split_train_holdout(
        table,
        schema,
        holdout_fraction=split.holdout_fraction if split else 0.25,
        seed=split.seed if split and split.seed is not None else seed,
        stratify=split.stratify if split else True,
    )
    overrides = {name: o.model_dump(exclude_none=True) for name, o in (data.columns.items() if data else [])}
    schema = facts_from_rows(schema, train, overrides, source=source_label)
    modelled = schema.modelled()
    source = data.source if data is not None else "<DataFrame>"
    group = schema.group
    bounds = {name: (o.min, o.max) for name, o in (data.columns.items() if data else [])
              if (o.min is not None or o.max is not None) and name in modelled}
    return PreparedData(
        schema, modelled, train[modelled.names], holdout[modelled.names], dropped, source,
        train_groups=train[group] if group else None, holdout_groups=holdout[group] if group else None,
        declared_bounds=bounds,
    )


def dropped_columns(schema: Schema) -> list[dict[str, str]]:
    """``[{"name", "reason"}]`` of every column of ``schema`` a generator never sees."""
    return [{"name": c.name, "reason": _drop_reason(c)} for c in schema.columns if not c.is_modelled]


def _drop_reason(spec: ColumnSpec) -> str:
    if Role.GROUP in spec.roles:
        return "group (which person a row belongs to): never modelled; the split and privacy audits use it"
    if spec.kind == ColumnKind.TEXT:
        return "free text: not modelled by tabular generators"
    if spec.kind == ColumnKind.ID and Role.IDENTIFIER in spec.roles and not looks_like_id(spec.name):
        return (
            "near-unique values (most records have their own): treated as an identifier, never modelled, so no "
            f"value is copied; to model it set data.columns.{spec.name}.kind: categorical"
        )
    return "identifier: never modelled"
