"""From a data config to split, schema-checked tables ready for a generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.config.model import DataConfig
from synth.data.coerce import coerce_to_schema, infinite_values, validate_for_run
from synth.data.datasets import DatasetInfo, dataset_info
from synth.data.images.io import resolve_paths
from synth.data.infer import facts_from_rows, infer_schema, looks_like_id
from synth.data.load import load_table
from synth.data.split import split_train_holdout
from synth.errors import ConfigError, DataError
from synth.schema import ColumnKind, ColumnSpec, DataKind, Role, Schema

BUILTIN_PREFIX = "builtin:"
# built-in image sources: read from (or, for the phantom, written into) data.root
IMAGE_SOURCES = ("mimic-cxr-jpg", "cxr-phantom")


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


def declared_kind(data: DataConfig | None) -> DataKind | None:
    """The kind of data a config's source names before anything is read (None: known after inference)."""
    if data is None or not data.source.startswith(BUILTIN_PREFIX):
        return None
    return DataKind.IMAGE if data.source[len(BUILTIN_PREFIX):] in IMAGE_SOURCES else DataKind.TABLE


def load_real(
    data: DataConfig | None, frame: pd.DataFrame | None, base_dir: Path | None, source_label: str,
    data_label: str | None = None, *, seed: int = 0,
) -> tuple[pd.DataFrame, Schema]:
    """Load the real table and infer its schema with the config's overrides and roles.

    Built-in datasets bring their own default roles; the config's roles replace them.
    ``source_label`` names the config in messages about it, ``data_label`` the table in
    messages about its values (default: the data source, or ``source_label`` for a frame).
    Image paths of an image table become absolute (against ``data.root``, by default the
    manifest's folder), so generators and audits read the files wherever they run.
    """
    defaults: dict[str, Any] = {}
    kinds: dict[str, dict[str, Any]] = {}
    root: Path | None = resolve_root(data, base_dir)
    left_out: list[str] = []  # columns of a built-in image source that hold no value: not modelled
    if frame is not None:
        table = load_table(frame)
        where = data_label or source_label
    else:
        assert data is not None
        src = resolve_source(data.source, base_dir)
        name = src[len(BUILTIN_PREFIX):] if isinstance(src, str) and src.startswith(BUILTIN_PREFIX) else None
        where = data_label or f"'{src}'"
        if name in IMAGE_SOURCES:
            from synth.data.images.mimic_cxr import LABEL_COLUMNS
            table, info, kinds = _load_image_source(name, data, root, seed, source_label)
            defaults = info.role_arguments()
            # The loader's finding columns are fixed (all 14 CheXpert labels); one that no selected study mentions
            # carries nothing to learn, so it is left out of the model and listed as dropped, not an error.
            left_out = [c for c in LABEL_COLUMNS if c in table.columns and table[c].isna().all()]
            # the loader's paths are relative to data.root (or absolute, for cached copies): resolved below
        else:
            table = load_table(src, format=data.format)
            if name is not None:
                # Roles only: the table itself was loaded above.
                defaults = dataset_info(name).role_arguments()
            elif root is None and isinstance(src, Path):
                root = src.parent
    table = infinite_values(table, policy=data.infinite if data is not None else "error", source=where)

    single = ("target", "group", "prompt")  # roles naming one column; the others name a list

    def pick(key: str) -> Any:
        given = getattr(data, key) if data is not None else None
        if data is not None and key in data.model_fields_set:
            return given if given is not None else (None if key in single else [])
        return defaults.get(key, None if key in single else [])

    overrides = {name: dict(kind) for name, kind in kinds.items()}
    for name, o in (data.columns.items() if data else []):
        overrides.setdefault(name, {}).update(o.model_dump(exclude_none=True))
    schema = infer_schema(
        table,
        overrides,
        target=pick("target"),
        sensitive=pick("sensitive") or (),
        quasi_identifiers=pick("quasi_identifiers") or (),
        identifiers=[*(pick("identifiers") or ()), *left_out],
        group=pick("group"),
        prompt=pick("prompt"),
        source=source_label,
    )
    try:
        table = coerce_to_schema(table, schema)
    except DataError as exc:
        raise DataError(f"Table from {where}: {exc}") from None
    for column in schema.images:
        table[column] = [str(p) for p in resolve_paths(table[column].tolist(), root)]
    validate_for_run(table, schema, source=where)
    return table, schema


def resolve_root(data: DataConfig | None, base_dir: Path | None) -> Path | None:
    """``data.root`` (the image folder), relative to the config file's folder; None when not set."""
    if data is None or data.root is None:
        return None
    root = Path(data.root).expanduser()
    return base_dir / root if not root.is_absolute() and base_dir is not None else root


def _load_image_source(
    name: str, data: DataConfig, root: Path | None, seed: int, source_label: str
) -> tuple[pd.DataFrame, DatasetInfo, dict[str, dict[str, Any]]]:
    """The image table of a built-in image source, its info and the kinds of its columns."""
    from synth.data.images.mimic_cxr import COLUMN_KINDS, MIMIC_CXR_INFO, load_mimic_cxr
    from synth.data.images.phantom import make_cxr_phantom

    if root is None:
        raise ConfigError(
            f"{source_label}: data.source 'builtin:{name}' needs data.root: "
            + ("the MIMIC-CXR-JPG folder." if name == "mimic-cxr-jpg"
               else "the folder the phantom set is written into (and reused from by later runs).")
        )
    if name == "cxr-phantom":
        ph = data.phantom
        make_cxr_phantom(root, ph.n, seed=seed if ph.seed is None else ph.seed, size=ph.size, marker=ph.marker,
                         ap_share=ph.ap_share)
    img = data.images
    table = load_mimic_cxr(root, views=img.views, splits=img.splits, labeler=img.labeler, max_images=img.max_images,
                           size=img.size, cache_dir=img.cache_dir)
    return table, MIMIC_CXR_INFO, {c: {"kind": k.value} for c, k in COLUMN_KINDS.items()}


def prepare(
    data: DataConfig | None,
    *,
    seed: int,
    base_dir: Path | None = None,
    frame: pd.DataFrame | None = None,
    source_label: str = "config",
) -> PreparedData:
    """Load, type, validate and split the real data of a run."""
    table, schema = load_real(data, frame, base_dir, source_label, seed=seed)
    dropped = dropped_columns(schema, table)
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


def dropped_columns(schema: Schema, table: pd.DataFrame) -> list[dict[str, str]]:
    """``[{"name", "reason"}]`` of every column of ``schema`` a generator never sees (``table``: its values)."""
    return [{"name": c.name, "reason": _drop_reason(c, table[c.name])} for c in schema.columns if not c.is_modelled]


def _drop_reason(spec: ColumnSpec, values: pd.Series) -> str:
    if values.isna().all():
        return "no values (every row is missing): nothing to model"
    if Role.GROUP in spec.roles:
        return "group (which person a row belongs to): never modelled; the split and privacy audits use it"
    if spec.kind == ColumnKind.TEXT:
        return "free text: not modelled (a prompt column would be, by image generators)"
    if spec.kind == ColumnKind.ID and Role.IDENTIFIER in spec.roles and not looks_like_id(spec.name):
        return (
            "near-unique values (most records have their own): treated as an identifier, never modelled, so no "
            f"value is copied; to model it set data.columns.{spec.name}.kind: categorical"
        )
    return "identifier: never modelled"
