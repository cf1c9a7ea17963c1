"""Infer a :class:`~synth.schema.Schema` from a table, then apply the config's overrides.

Rules, applied to each column's non-missing values in this order:

1. **boolean**: a bool dtype (numpy ``bool`` or pandas ``boolean``), or an object column
   whose values are all Python/numpy bools (what pandas makes of a True/False column with
   missing entries). Strings ``yes``/``no`` and integer codes 0/1 are *not* booleans: they
   stay categorical, so the synthetic table keeps the user's own labels.
2. **datetime**: a datetime dtype, or strings of which at least 95 % look like a date
   (``2021-03-04``, ``04/03/2021``, optionally with a time) and parse as one. The few
   that do not parse (``"unknown"``) make the column ``nullable``;
   :func:`~synth.data.coerce.coerce_to_schema` names them, so the user blanks or fixes them.
3. **id**: the name looks like an identifier (``id``, ``*_id``, ``*Id``, ``ID``,
   ``subject_id``, ``hadm_id``, ``stay_id``, ``patient id``, ``patientid``, ``mrn``,
   ``uuid``, ``pidnum``; a word glued to ``id`` counts only for record words such as
   patient/subject/stay/visit, so ``lipid`` or ``fluid`` never match) *and* the values are
   integers or strings of which at least half are distinct (a patient id repeats across
   that patient's stays; a ``site_id`` with a handful of levels stays categorical).
4. **integer / categorical** for whole numbers: an integer dtype with at most 20 distinct
   values is **categorical** (codes such as 0/1 outcomes, sex codes, Likert scores), with
   more it is **integer**. A float column whose values are all whole numbers with at most
   20 distinct values is also categorical (pandas reads an integer column with missing
   entries as float); with more distinct values a float column stays numeric, because a
   count cannot be told from a rounded measurement.
5. **numeric**: any other float column.
6. **text**: strings of which at least half are distinct, with more than 20 distinct
   values and a median length of at least 20 characters (free-text notes). Text is kept
   but never modelled by tabular generators.
7. **id (near-unique)**: other strings or mixed values of which at least half are
   distinct, with more than 20 distinct values, whatever the column's name (names,
   addresses, free-form codes): a generator would copy such values verbatim, so they
   are treated as identifiers and never modelled. Override the kind (``categorical``)
   to model such a column on purpose. A column with the ``prompt`` role is text
   instead: report text that conditions an image generator is near-unique by nature.
8. **categorical**: any other strings or mixed values.

Before rule 2, a string column whose every value ends in an image file extension
(:data:`IMAGE_SUFFIXES`: ``.png``, ``.jpg``, ...) is an **image** column: paths of image
files, one image per row (see "Images in the core" in DESIGN.md).

An all-missing column keeps the kind its dtype implies (float -> numeric without bounds,
object -> categorical with no categories, datetime -> datetime) and is ``nullable``: it
carries no information, and generators reproduce it as always missing.

Facts recorded per column: ``nullable`` (any missing value), ``minimum``/``maximum`` for
numeric, integer and datetime columns (datetimes as nanoseconds since the epoch, float),
and ``categories`` for categorical and boolean columns: the observed non-missing values as
plain Python scalars (``int`` stays ``int``), sorted naturally when they are all numbers
or all strings, else by their string form.

Overrides (per column, from the config) may set ``kind``, ``nullable``, ``min``, ``max``,
``categories`` and ``roles``; facts for an overridden kind are recomputed from the data
under that kind, and explicit values win. Roles from ``target``/``sensitive``/
``quasi_identifiers``/``identifiers`` and override ``roles`` are combined; a column of kind
``id`` always carries :attr:`Role.IDENTIFIER`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from synth.data.coerce import coerce_column, parse_datetimes
from synth.errors import ConfigError, DataError, did_you_mean
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

MAX_CODE_LEVELS = 20  # whole-number columns with at most this many levels are categorical
DATETIME_SHARE = 0.95  # share of values that must parse as dates
ID_DISTINCT_SHARE = 0.5  # an id-named column is an id when at least this share is distinct
TEXT_DISTINCT_SHARE = 0.5
TEXT_MIN_MEDIAN_LENGTH = 20
NEAR_UNIQUE_SHARE = 0.5  # a label column with at least this share distinct (and > 20 levels) is an identifier

# file names with these endings are image paths (rule 0 of string columns)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

OVERRIDE_KEYS = ("kind", "nullable", "min", "max", "categories", "roles")

_ID_WORDS = frozenset({"id", "ids", "uuid", "guid", "mrn", "pidnum", "identifier"})
# words that, glued to "id" ("patientid", "hadmid"), name a record identifier
_ID_GLUED = frozenset(
    {"patient", "pat", "pt", "p", "subject", "subj", "sub", "person", "record", "encounter", "visit",
     "stay", "hadm", "adm", "admission", "episode", "study", "sample", "case", "member", "user", "row"}
)
_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$")


def infer_schema(
    df: pd.DataFrame,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    target: str | None = None,
    sensitive: Sequence[str] = (),
    quasi_identifiers: Sequence[str] = (),
    identifiers: Sequence[str] = (),
    group: str | None = None,
    prompt: str | None = None,
    source: str = "data",
) -> Schema:
    """Infer the schema of ``df`` (one :class:`ColumnSpec` per column, in column order).

    ``overrides`` maps column name -> {kind, nullable, min, max, categories, roles}.
    ``group`` names the column that says which person a row belongs to (role ``group``);
    ``prompt`` the text column that conditions an image generator (role ``prompt``).
    ``source`` names where the column names came from (e.g. the config file) in errors.
    Raises :class:`ConfigError` for an unknown override key, kind or role, and
    :class:`DataError` for a named column that is not in ``df``.
    """
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise DataError(f"The data from {source} has duplicate column names: {', '.join(dupes)}; rename them.")
    overrides = dict(overrides or {})
    named: list[tuple[str, str]] = [(c, "schema overrides") for c in overrides]
    named += [(target, "target")] if target is not None else []
    named += [(group, "group")] if group is not None else []
    named += [(prompt, "prompt")] if prompt is not None else []
    named += [(c, "sensitive") for c in _as_names(sensitive, "sensitive", source)]
    named += [(c, "quasi_identifiers") for c in _as_names(quasi_identifiers, "quasi_identifiers", source)]
    named += [(c, "identifiers") for c in _as_names(identifiers, "identifiers", source)]
    for name, where in named:
        if name not in columns:
            raise DataError(
                f"Column '{name}' named in '{where}' of {source} is not in the data "
                f"(columns: {', '.join(columns)}); fix the name." + did_you_mean(str(name), columns)
            )
    role_of: dict[str, set[Role]] = {c: set() for c in columns}
    if target is not None:
        role_of[target].add(Role.TARGET)
    if group is not None:
        role_of[group].add(Role.GROUP)
    if prompt is not None:
        role_of[prompt].add(Role.PROMPT)
    for names, role in ((sensitive, Role.SENSITIVE), (quasi_identifiers, Role.QUASI_IDENTIFIER), (identifiers, Role.IDENTIFIER)):
        for name in _as_names(names, role.value, source):
            role_of[name].add(role)

    specs = []
    for original, name in zip(df.columns, columns):
        values = df[original]
        override = _check_override(name, overrides.get(name), source)
        kind = override.get("kind") or infer_kind(values, name)
        if (
            kind == ColumnKind.ID and "kind" not in override and not looks_like_id(name)
            and Role.PROMPT in role_of[name] | set(override.get("roles", ()))
        ):
            # a prompt is near-unique report text by nature (rule 7 would make short reports
            # an identifier); its role says what it is, so it stays text
            kind = ColumnKind.TEXT
        spec = describe_column(values, name, kind, source=source, strict="kind" in override)
        spec = _apply_override(spec, override, source)
        roles = role_of[name] | set(override.get("roles", ()))
        if spec.kind == ColumnKind.ID:
            roles.add(Role.IDENTIFIER)
        specs.append(replace(spec, roles=frozenset(roles)))
    schema = Schema(tuple(specs))
    _check_roles(schema, source)
    return schema


def facts_from_rows(
    schema: Schema,
    rows: pd.DataFrame,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    source: str = "data",
) -> Schema:
    """``schema`` with its facts (nullable, bounds, categories) recomputed from ``rows`` only.

    Kinds and roles stay as they are; explicit ``overrides`` win again. The pipeline infers
    kinds on the whole table (the split needs them) and then the facts on the training rows,
    so nothing in the schema comes from a holdout record. ``rows`` must hold every column
    of ``schema`` in its canonical dtype (:func:`~synth.data.coerce.coerce_to_schema`).
    """
    overrides = dict(overrides or {})
    specs = []
    for spec in schema.columns:
        fresh = describe_column(rows[spec.name], spec.name, spec.kind, source=source)
        fresh = _apply_override(fresh, _check_override(spec.name, overrides.get(spec.name), source), source)
        specs.append(replace(fresh, roles=spec.roles))
    return Schema(tuple(specs))


def infer_kind(values: pd.Series, name: str) -> ColumnKind:
    """The kind of one column by the module's rules (no overrides)."""
    dtype = values.dtype
    present = values.dropna()
    if ptypes.is_bool_dtype(dtype):
        return ColumnKind.BOOLEAN
    if ptypes.is_datetime64_any_dtype(dtype):
        return ColumnKind.DATETIME
    if isinstance(dtype, pd.CategoricalDtype):
        return infer_kind(values.astype(object), name)
    if ptypes.is_numeric_dtype(dtype):
        return _numeric_kind(values, name)
    if present.empty:
        return ColumnKind.CATEGORICAL
    sample = present.to_numpy()
    if all(isinstance(v, (bool, np.bool_)) for v in sample):
        return ColumnKind.BOOLEAN
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in sample):
        return _numeric_kind(pd.to_numeric(present), name)
    if all(isinstance(v, str) for v in sample):
        return _string_kind(present.astype(str), name)
    if all(isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat") for v in sample):
        return ColumnKind.DATETIME
    return ColumnKind.ID if is_near_unique(present.astype(str)) else ColumnKind.CATEGORICAL


def is_near_unique(present: pd.Series) -> bool:
    """Rule 7: more than 20 distinct labels, at least half of the non-missing values distinct."""
    n_distinct = present.nunique()
    return n_distinct > MAX_CODE_LEVELS and n_distinct >= NEAR_UNIQUE_SHARE * len(present)


def looks_like_id(name: str) -> bool:
    """Does the column name read as a record identifier (see rule 3)?"""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", snake) if t]
    if not tokens:
        return False
    if tokens[-1] in _ID_WORDS or tokens[0] == "id":
        return True
    last = tokens[-1]
    return last.endswith("id") and last[:-2] in _ID_GLUED


def describe_column(
    values: pd.Series, name: str, kind: ColumnKind, *, source: str = "data", strict: bool = True
) -> ColumnSpec:
    """The :class:`ColumnSpec` of ``values`` read as ``kind``: nullable, bounds, categories.

    Raises :class:`DataError` when the values cannot be read as ``kind`` (e.g. an override
    ``kind: numeric`` on a column of words). With ``strict=False`` (an inferred datetime
    column, where up to 5 % may not parse) unparsable dates count as missing here;
    :func:`~synth.data.coerce.coerce_to_schema` still reports them.
    """
    spec = ColumnSpec(name=name, kind=kind, nullable=bool(values.isna().any()))
    if kind == ColumnKind.DATETIME and not strict:
        converted = parse_datetimes(values)
        spec = replace(spec, nullable=bool(converted.isna().any()))
    else:
        try:
            converted = coerce_column(values, spec)
        except DataError as exc:
            raise DataError(f"{exc} (data: {source})") from None
    present = converted.dropna()
    if kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
        finite = present.astype("float64")
        finite = finite[np.isfinite(finite)]
        if not finite.empty:
            spec = replace(spec, minimum=float(finite.min()), maximum=float(finite.max()))
    elif kind == ColumnKind.DATETIME:
        if not present.empty:
            ns = present.astype("int64")
            spec = replace(spec, minimum=float(ns.min()), maximum=float(ns.max()))
    elif kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
        spec = replace(spec, categories=sorted_levels(present.unique()))
    return spec


def sorted_levels(levels: Sequence[Any] | np.ndarray) -> tuple[Any, ...]:
    """Distinct levels as plain Python scalars, sorted naturally if homogeneous, else by str."""
    plain = [v.item() if isinstance(v, np.generic) else v for v in levels]
    floats = [v for v in plain if isinstance(v, float)]
    if floats and all(v.is_integer() for v in floats):
        # 0.0/1.0 from a float column are the codes 0/1
        plain = [int(v) if isinstance(v, float) else v for v in plain]
    plain = list(dict.fromkeys(plain))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in plain)
    bools = all(isinstance(v, bool) for v in plain)
    strings = all(isinstance(v, str) for v in plain)
    if numbers or bools or strings:
        return tuple(sorted(plain))
    return tuple(sorted(plain, key=str))


# -- kind rules -------------------------------------------------------------


def _numeric_kind(values: pd.Series, name: str) -> ColumnKind:
    present = values.dropna()
    whole = ptypes.is_integer_dtype(values.dtype) or (
        not present.empty and bool(np.all(np.isfinite(present))) and bool(np.all(np.mod(present, 1) == 0))
    )
    if not whole:
        return ColumnKind.NUMERIC
    if looks_like_id(name) and _distinct_share(present) >= ID_DISTINCT_SHARE:
        return ColumnKind.ID
    if present.nunique() <= MAX_CODE_LEVELS:
        return ColumnKind.CATEGORICAL
    return ColumnKind.INTEGER if ptypes.is_integer_dtype(values.dtype) else ColumnKind.NUMERIC


def _string_kind(present: pd.Series, name: str) -> ColumnKind:
    distinct = present.unique()
    if present.str.lower().str.endswith(IMAGE_SUFFIXES).all():
        return ColumnKind.IMAGE
    if _looks_like_dates(present, distinct):
        return ColumnKind.DATETIME
    share = len(distinct) / len(present)
    if looks_like_id(name) and share >= ID_DISTINCT_SHARE:
        return ColumnKind.ID
    if (
        share >= TEXT_DISTINCT_SHARE
        and len(distinct) > MAX_CODE_LEVELS
        and present.str.len().median() >= TEXT_MIN_MEDIAN_LENGTH
    ):
        return ColumnKind.TEXT
    return ColumnKind.ID if is_near_unique(present) else ColumnKind.CATEGORICAL


def _looks_like_dates(present: pd.Series, distinct: np.ndarray) -> bool:
    # a cheap shape test on a few distinct values before parsing the whole column
    head = distinct[:200]
    if sum(bool(_DATE_LIKE.match(v)) for v in head) < DATETIME_SHARE * len(head):
        return False
    shaped = present.str.match(_DATE_LIKE)
    parsed = parse_datetimes(present[shaped]).notna()
    return parsed.sum() >= DATETIME_SHARE * len(present)


def _distinct_share(present: pd.Series) -> float:
    return present.nunique() / len(present) if len(present) else 0.0


# -- overrides and roles ----------------------------------------------------


def _as_names(names: Sequence[str] | str, what: str, source: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    if not isinstance(names, Sequence):
        raise ConfigError(f"'{what}' in {source} must be a list of column names, got {type(names).__name__}.")
    return [str(n) for n in names]


def _check_override(name: str, override: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
    if override is None:
        return {}
    if not isinstance(override, Mapping):
        raise ConfigError(
            f"Schema override for column '{name}' in {source} must be a mapping of "
            f"{', '.join(OVERRIDE_KEYS)}; got {type(override).__name__}."
        )
    out: dict[str, Any] = {}
    for key, value in override.items():
        if key not in OVERRIDE_KEYS:
            raise ConfigError(
                f"Unknown schema override key '{key}' for column '{name}' in {source}: "
                f"valid keys are {', '.join(OVERRIDE_KEYS)}." + did_you_mean(str(key), OVERRIDE_KEYS)
            )
        out[key] = value
    if "kind" in out:
        out["kind"] = _parse_enum(ColumnKind, out["kind"], f"kind of column '{name}'", source)
    if "roles" in out:
        roles = [out["roles"]] if isinstance(out["roles"], str) else out["roles"]
        if not isinstance(roles, Sequence):
            raise ConfigError(f"'roles' of column '{name}' in {source} must be a list of role names.")
        out["roles"] = {_parse_enum(Role, r, f"role of column '{name}'", source) for r in roles}
    if "nullable" in out and not isinstance(out["nullable"], bool):
        raise ConfigError(f"'nullable' of column '{name}' in {source} must be true or false, got {out['nullable']!r}.")
    if "categories" in out:
        cats = out["categories"]
        if isinstance(cats, str) or not isinstance(cats, Sequence):
            raise ConfigError(f"'categories' of column '{name}' in {source} must be a list of values, got {cats!r}.")
    return out


def _parse_enum(enum: type, value: Any, what: str, source: str) -> Any:
    valid = [m.value for m in enum]
    if value not in valid:
        raise ConfigError(
            f"Unknown {what} in {source}: {value!r}. Valid values: {', '.join(valid)}." + did_you_mean(str(value), valid)
        )
    return enum(value)


def _apply_override(spec: ColumnSpec, override: Mapping[str, Any], source: str) -> ColumnSpec:
    changes: dict[str, Any] = {}
    if "nullable" in override:
        changes["nullable"] = override["nullable"]
    for key, field in (("min", "minimum"), ("max", "maximum")):
        if key in override:
            changes[field] = _bound(spec, key, override[key], source)
    if "categories" in override:
        changes["categories"] = tuple(override["categories"])
    # every fact set here is the config's word, not the rows' (see ColumnSpec.declared)
    changes["declared"] = spec.declared | (changes.keys() & {"nullable", "minimum", "maximum", "categories"})
    return replace(spec, **changes)


def _bound(spec: ColumnSpec, key: str, value: Any, source: str) -> float | None:
    if value is None:
        return None
    if spec.kind == ColumnKind.DATETIME and not isinstance(value, (int, float)):
        stamp = parse_datetimes(pd.Series([value], dtype=object)).iloc[0]
        if pd.isna(stamp):
            raise ConfigError(f"'{key}' of datetime column '{spec.name}' in {source} is not a date: {value!r}.")
        return float(stamp.value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"'{key}' of column '{spec.name}' in {source} must be a number, got {value!r}.")
    return float(value)


def _check_roles(schema: Schema, source: str) -> None:
    targets = schema.with_role(Role.TARGET)
    if len(targets) > 1:
        raise ConfigError(f"More than one target column in {source}: {', '.join(targets)}; keep exactly one.")
    for role, what in ((Role.PROMPT, "prompt"), (Role.GROUP, "group")):
        if len(schema.with_role(role)) > 1:
            raise ConfigError(
                f"More than one {what} column in {source}: {', '.join(schema.with_role(role))}; keep exactly one."
            )
    for name in schema.with_role(Role.PROMPT):
        if schema.column(name).kind not in (ColumnKind.TEXT, ColumnKind.CATEGORICAL):
            raise ConfigError(
                f"Column '{name}' in {source} is the prompt but is of kind {schema.column(name).kind.value}: a prompt "
                "is the text that conditions an image generator; pick a text column or override its kind to text."
            )
    groups = schema.with_role(Role.GROUP)
    if len(groups) > 1:
        raise ConfigError(
            f"More than one group column in {source}: {', '.join(groups)}; data.group names the one column that "
            "says which person a row belongs to."
        )
    for spec in schema.columns:
        unmodelled = not spec.is_modelled
        for role in (Role.TARGET, Role.SENSITIVE, Role.QUASI_IDENTIFIER):
            if role in spec.roles and unmodelled:
                why = "the group column" if Role.GROUP in spec.roles else f"{spec.kind.value} kind / an identifier"
                raise ConfigError(
                    f"Column '{spec.name}' in {source} is a {role.value} but is {why}, "
                    "which is never modelled. Pick another column, or override its kind (e.g. categorical) if it "
                    "is not an identifier."
                )
        if Role.TARGET in spec.roles and Role.SENSITIVE in spec.roles:
            raise ConfigError(
                f"Column '{spec.name}' in {source} is both the target and a sensitive attribute; a fairness audit "
                "needs them to differ."
            )
